// Session sets in DynamoDB: one item per key, in its key group's partition (fixed windows keep a whole
// group's panes per item, groups.ts), found by a closing unit through its groups' partitions of the due
// index. Reads, and writes conditional on the version
// read — what to write is decided in ingest/deltas.ts and the closing logic; never a blind ADD.
import { type AttributeValue, type DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { type StoredState, stateFromJson, stateToJson } from "../../core/aggregates/state.ts";
import type { StoredSessions } from "../../core/ingest/deltas.ts";
import type { SessionEntry } from "../../core/windows/sessions.ts";
import { type Item, N, num, S, str } from "./attributes.ts";
import { duePartitionOf, keyOfSessionsItem, sessionsItemKey, timeOfUniqueKey, uniqueTimeKey, uniqueTimeRange } from "./keys.ts";
import { putItem, queryAll } from "./requests.ts";

/** DynamoDB items are at most 400 KB; state stays well below, leaving room for names and fences. */
export const MAX_PANE_ITEM_BYTES = 350_000;
const CACHE_LIMIT = 50_000;

/**
 * What this container last wrote or read, by item. A hit saves the read before a write; a stale entry
 * only costs a failed condition and a read, never correctness.
 */
const known = new Map<string, { version: number; value: unknown } | null>();

function remember(id: string, value: { version: number; value: unknown } | null): void {
  known.delete(id);
  known.set(id, value);
  if (known.size > CACHE_LIMIT) {
    const oldest = known.keys().next().value;
    if (oldest !== undefined) known.delete(oldest);
  }
}

/** DynamoDB's item size: attribute names plus values (strings and numbers by their text). */
export function approximateItemBytes(item: Item): number {
  let bytes = 0;
  const size = (value: AttributeValue): number => {
    if (value.S !== undefined) return Buffer.byteLength(value.S);
    if (value.N !== undefined) return value.N.length;
    if (value.B !== undefined) return value.B.byteLength;
    if (value.M !== undefined) return Object.entries(value.M).reduce((n, [k, v]) => n + Buffer.byteLength(k) + size(v) + 1, 3);
    if (value.L !== undefined) return value.L.reduce((n, v) => n + size(v) + 1, 3);
    return 1;
  };
  for (const [name, value] of Object.entries(item)) bytes += Buffer.byteLength(name) + size(value);
  return bytes;
}

function decodeFences(item: Item): Map<string, bigint> {
  const fences = new Map<string, bigint>();
  for (const [shard, value] of Object.entries(item.f?.M ?? {})) if (value.S !== undefined) fences.set(shard, BigInt(value.S));
  return fences;
}

const encodeFences = (fences: ReadonlyMap<string, bigint>): AttributeValue => ({
  M: Object.fromEntries([...fences].map(([shard, seq]) => [shard, S(seq.toString())])),
});

function decodeSessions(item: Item | undefined): StoredSessions | null {
  if (item === undefined) return null;
  const entries = JSON.parse(str(item, "ss") ?? "[]") as {
    st: StoredState;
    emitted?: SessionEntry["emitted"];
    absorbed?: SessionEntry["absorbed"];
  }[];
  return {
    version: num(item, "v") ?? 0,
    entries: entries.map((e) => ({
      state: stateFromJson(e.st),
      ...(e.emitted === undefined ? {} : { emitted: e.emitted }),
      absorbed: e.absorbed ?? [],
    })),
    fences: decodeFences(item),
    watermark: num(item, "wm"),
  };
}

function encodeSessions(entries: readonly SessionEntry[]): string {
  return JSON.stringify(
    entries.map((e) => ({
      st: stateToJson(e.state),
      ...(e.emitted === undefined ? {} : { emitted: e.emitted }),
      ...(e.absorbed.length === 0 ? {} : { absorbed: e.absorbed }),
    })),
  );
}

async function getItem(client: DynamoDBClient, tableName: string, key: { pk: string; sk: string }): Promise<Item | undefined> {
  const { Item } = await client.send(
    new GetItemCommand({ TableName: tableName, Key: { pk: S(key.pk), sk: S(key.sk) }, ConsistentRead: true }),
  );
  return Item;
}

/** The item as this container last saw it, or read (strongly consistent). */
async function readCached<T>(
  client: DynamoDBClient,
  tableName: string,
  key: { pk: string; sk: string },
  decode: (item: Item | undefined) => (T & { version: number }) | null,
): Promise<T | null> {
  const id = `${tableName}/${key.pk}/${key.sk}`;
  const hit = known.get(id);
  if (hit !== undefined) return hit === null ? null : (hit.value as T);
  const value = decode(await getItem(client, tableName, key));
  remember(id, value === null ? null : { version: value.version, value });
  return value;
}

/** Writes an item if it is still at `version` (absent for undefined). False when someone else wrote it first. */
async function putIfVersion(
  client: DynamoDBClient,
  tableName: string,
  item: Item,
  version: number | undefined,
  remembered: { version: number; value: unknown },
): Promise<boolean> {
  const id = `${tableName}/${item.pk?.S}/${item.sk?.S}`;
  const written = await putItem(
    client,
    tableName,
    item,
    version === undefined ? { condition: "attribute_not_exists(pk)" } : { condition: "v = :v", values: { ":v": N(version) } },
  );
  if (written) remember(id, remembered);
  else known.delete(id);
  return written;
}

/** Where a key's session set lives: its pipeline, its key group, the key. */
export interface SessionsAddress {
  pipeline: string;
  group: number;
  key: string;
}

const itemKeyOf = (at: SessionsAddress) => sessionsItemKey(at.pipeline, at.group, at.key);

/** A key's session set as this container last wrote it, or read (ingest). */
export function readSessions(client: DynamoDBClient, tableName: string, at: SessionsAddress) {
  return readCached(client, tableName, itemKeyOf(at), decodeSessions);
}

/** The session-set item; in its group's due index partition while it holds sessions, kept (fences) until TTL when it holds none. */
export function sessionsItemOf(at: SessionsAddress, sessions: StoredSessions, due: number | undefined, expiresAt?: number): Item {
  const { pk, sk } = itemKeyOf(at);
  return {
    pk: S(pk),
    sk: S(sk),
    k: S(at.key),
    ...(due === undefined ? {} : { gpk: S(duePartitionOf(at.pipeline, at.group)), due: N(due), dk: S(uniqueTimeKey(due, { pk, sk })) }),
    ss: S(encodeSessions(sessions.entries)),
    f: encodeFences(sessions.fences),
    v: N(sessions.version),
    ...(sessions.watermark === undefined ? {} : { wm: N(sessions.watermark) }),
    ...(due === undefined && expiresAt !== undefined ? { ttl: N(Math.floor(expiresAt / 1000)) } : {}),
  };
}

export function writeSessions(
  client: DynamoDBClient,
  tableName: string,
  item: Item,
  previous: number | undefined,
  sessions: StoredSessions,
) {
  return putIfVersion(client, tableName, item, previous, { version: sessions.version, value: sessions });
}

export interface DueItem {
  key: string;
  due: number;
}

/**
 * A key group's session sets whose `due` is at or before `upTo`, from its partition of the sparse due
 * index (no scan). The index holds keys only: a key is read from its item's sort key, or — for a key
 * too long for one, named by its hash — from the item itself.
 */
export async function queryDue(
  client: DynamoDBClient,
  tableName: string,
  at: { pipeline: string; group: number },
  upTo: number,
): Promise<DueItem[]> {
  const items = await queryAll(client, {
    TableName: tableName,
    IndexName: "due",
    KeyConditionExpression: "gpk = :p AND dk <= :upTo",
    ExpressionAttributeValues: { ":p": S(duePartitionOf(at.pipeline, at.group)), ":upTo": S(uniqueTimeRange(0, upTo).to) },
  });
  const due: DueItem[] = [];
  for (const item of items) {
    const itemKey = { pk: str(item, "pk") ?? "", sk: str(item, "sk") ?? "" };
    const key = keyOfSessionsItem(itemKey) ?? str(await getItem(client, tableName, itemKey), "k");
    if (key !== undefined) due.push({ key, due: timeOfUniqueKey(str(item, "dk") ?? "") });
  }
  return due;
}

/** A session set read by the closing logic, as it is now (strongly consistent). */
export async function readSessionsNow(client: DynamoDBClient, tableName: string, at: SessionsAddress): Promise<StoredSessions | null> {
  return decodeSessions(await getItem(client, tableName, itemKeyOf(at)));
}
