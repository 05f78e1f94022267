// Fenced pane updates: the exactly-once write path of the ingest function (DESIGN.md §Exactly-once).
// A pane item remembers, per shard, the highest sequence number it contains; a write merges only the
// records above that fence and is conditional on the item version it read. Never a blind ADD.

import { type AttributeValue, type DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import {
  type AggregateSpec,
  type AggregateState,
  addEvent,
  cloneState,
  decodeState,
  emptyState,
  encodeState,
} from "../aggregates/state.ts";
import { dueOfWrittenPane, type WindowSpec } from "../windows/assigners.ts";
import { type Item, isConditionalFailure, N, num, S, str } from "./attributes.ts";
import { indexPartitionOf, indexPartitionsOf, padTime, paneItemKey, parsePanePartition } from "./keys.ts";
import { queryAll } from "./requests.ts";

export interface Contribution {
  sequenceNumber: bigint;
  ts: number;
  values: Record<string, number>;
  /** the producer's event id, for pipelines that dedupe */
  id?: string;
  /** values of distinctly counted fields, as text */
  keys?: Record<string, string>;
}

export interface PaneDelta {
  pipeline: string;
  window: WindowSpec;
  /** the pipeline's aggregates (quantile sketches need their accuracy) */
  aggregates: readonly AggregateSpec[];
  key: string;
  paneStart: number;
  /** in sequence order */
  contributions: Contribution[];
}

export interface StoredPane {
  version: number;
  state: AggregateState;
  fences: Map<string, bigint>;
  tombstone: boolean;
}

export class PaneWriteConflictError extends Error {
  override name = "PaneWriteConflictError";
}

/** Outcome of one fenced write: contributions applied now, found already applied, or refused as too late. */
export interface PaneWriteOutcome {
  applied: number;
  alreadyApplied: number;
  purged: Contribution[];
  /** contributions refused because the pane's item would outgrow DynamoDB's item size limit */
  oversized: Contribution[];
  /** conditional writes that failed and were retried after a read */
  conflicts: number;
}

const MAX_ATTEMPTS = 6;
/** DynamoDB items are at most 400 KB; a pane stays well below, leaving room for names and fences. */
export const MAX_PANE_ITEM_BYTES = 350_000;
const CACHE_LIMIT = 50_000;

/**
 * What this container last wrote or read, by item. A hit saves the read before a write; a stale entry
 * only costs a failed condition and a read, never correctness.
 */
const knownPanes = new Map<string, StoredPane | null>();

function remember(id: string, pane: StoredPane | null): void {
  knownPanes.delete(id);
  knownPanes.set(id, pane);
  if (knownPanes.size > CACHE_LIMIT) {
    const oldest = knownPanes.keys().next().value;
    if (oldest !== undefined) knownPanes.delete(oldest);
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

export function forgetKnownPanes(): void {
  knownPanes.clear();
}

export function decodePane(item: Item | undefined): StoredPane | null {
  if (item === undefined) return null;
  const fences = new Map<string, bigint>();
  for (const [shard, value] of Object.entries(item.f?.M ?? {})) {
    if (value.S !== undefined) fences.set(shard, BigInt(value.S));
  }
  const text = str(item, "st");
  return {
    version: num(item, "v") ?? 0,
    state: text === undefined ? emptyState() : decodeState(text),
    fences,
    tombstone: item.tomb?.BOOL === true,
  };
}

export async function readPane(client: DynamoDBClient, tableName: string, pk: string, sk: string): Promise<StoredPane | null> {
  const { Item } = await client.send(new GetItemCommand({ TableName: tableName, Key: { pk: S(pk), sk: S(sk) }, ConsistentRead: true }));
  return decodePane(Item);
}

/**
 * Applies the contributions of one shard's batch to one pane, exactly once: records at or below the
 * pane's fence for `shardId` are skipped, the rest are merged and written under a version condition.
 * A purged pane (its windows are past allowed lateness) refuses the records; the caller routes them
 * to the late output.
 */
export async function writeFencedPane(
  client: DynamoDBClient,
  tableName: string,
  shardId: string,
  delta: PaneDelta,
): Promise<PaneWriteOutcome> {
  const { pk, sk } = paneItemKey(delta.pipeline, delta.key, delta.paneStart);
  const id = `${tableName}/${pk}/${sk}`;
  let known = knownPanes.has(id) ? knownPanes.get(id) : undefined;
  let conflicts = 0;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (known === undefined) known = await readPane(client, tableName, pk, sk);
    const fence = known?.fences.get(shardId);
    const pending = fence === undefined ? delta.contributions : delta.contributions.filter((c) => c.sequenceNumber > fence);
    const alreadyApplied = delta.contributions.length - pending.length;
    if (pending.length === 0) return { applied: 0, alreadyApplied, purged: [], oversized: [], conflicts };
    if (known?.tombstone) return { applied: 0, alreadyApplied, purged: pending, oversized: [], conflicts };

    const state = known ? cloneState(known.state) : emptyState();
    for (const c of pending) addEvent(state, c.ts, c.values, delta.aggregates, c.keys);
    const fences = new Map(known?.fences ?? []);
    fences.set(shardId, pending[pending.length - 1]?.sequenceNumber ?? 0n);
    const version = (known?.version ?? 0) + 1;
    const item: Item = {
      pk: S(pk),
      sk: S(sk),
      gpk: S(indexPartitionOf(delta.pipeline, delta.key)),
      due: N(dueOfWrittenPane(delta.window, delta.paneStart)),
      st: S(encodeState(state)),
      f: { M: Object.fromEntries([...fences].map(([shard, seq]) => [shard, S(seq.toString())])) },
      v: N(version),
    };
    // A state that cannot be stored is refused with a reason (dead letters), never retried forever.
    if (approximateItemBytes(item) > MAX_PANE_ITEM_BYTES) return { applied: 0, alreadyApplied, purged: [], oversized: pending, conflicts };
    try {
      await client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: item,
          ConditionExpression: known ? "v = :v" : "attribute_not_exists(pk)",
          ExpressionAttributeValues: known ? { ":v": N(known.version) } : undefined,
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      remember(id, { version, state, fences, tombstone: false });
      return { applied: pending.length, alreadyApplied, purged: [], oversized: [], conflicts };
    } catch (error) {
      if (!isConditionalFailure(error)) throw error;
      conflicts++;
      // Someone else wrote the pane (a redelivery, a concurrent run, the closing logic): re-read and
      // merge only what is still above the fence. AWS returns the item with the failure; dynalite does not.
      known = error.Item ? decodePane(error.Item) : undefined;
      knownPanes.delete(id);
    }
  }
  throw new PaneWriteConflictError(`pane ${pk}/${sk} kept changing under ${MAX_ATTEMPTS} attempts`);
}

/** The contributions a pane does not contain yet (above its fence for the shard); a read at most. */
export async function notYetApplied(client: DynamoDBClient, tableName: string, shardId: string, delta: PaneDelta): Promise<Contribution[]> {
  const { pk, sk } = paneItemKey(delta.pipeline, delta.key, delta.paneStart);
  const id = `${tableName}/${pk}/${sk}`;
  const known = knownPanes.has(id) ? knownPanes.get(id) : await readPane(client, tableName, pk, sk);
  const fence = known?.fences.get(shardId);
  return fence === undefined ? delta.contributions : delta.contributions.filter((c) => c.sequenceNumber > fence);
}

export interface DuePane {
  key: string;
  paneStart: number;
  due: number;
}

/** Live panes of a pipeline whose `due` is at or before `upTo`, read from the sparse due index (no scan). */
export async function queryDuePanes(client: DynamoDBClient, tableName: string, pipeline: string, upTo: number): Promise<DuePane[]> {
  const pages = await Promise.all(
    indexPartitionsOf(pipeline).map((partition) =>
      queryAll(client, {
        TableName: tableName,
        IndexName: "due",
        KeyConditionExpression: "gpk = :p AND due <= :upTo",
        ExpressionAttributeValues: { ":p": S(partition), ":upTo": N(upTo) },
      }),
    ),
  );
  const due = pages.flat().map((item): DuePane => {
    const { key } = parsePanePartition(str(item, "pk") ?? "");
    return { key, paneStart: Number(str(item, "sk")), due: num(item, "due") ?? 0 };
  });
  return due;
}

export interface PaneAt extends StoredPane {
  paneStart: number;
  /** the closing logic's current `due` for this pane (undefined for tombstones) */
  due?: number;
}

/** Panes (live and purged) of one key whose start is in [from, to), in start order; strongly consistent. */
export async function queryPanes(
  client: DynamoDBClient,
  tableName: string,
  pipeline: string,
  key: string,
  from: number,
  to: number,
): Promise<PaneAt[]> {
  const { pk } = paneItemKey(pipeline, key, 0);
  if (to <= from) return [];
  const items = await queryAll(client, {
    TableName: tableName,
    KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
    ExpressionAttributeValues: { ":pk": S(pk), ":from": S(padTime(Math.max(0, from))), ":to": S(padTime(Math.max(0, to - 1))) },
    ConsistentRead: true,
  });
  const panes: PaneAt[] = [];
  for (const item of items) {
    const pane = decodePane(item);
    if (pane) panes.push({ ...pane, paneStart: Number(str(item, "sk")), due: num(item, "due") });
  }
  return panes;
}

/** An update of a pane the closing logic read, applied only if the pane is still at that version. */
async function updateIfUnchanged(
  client: DynamoDBClient,
  tableName: string,
  where: { pipeline: string; key: string; pane: PaneAt },
  update: { expression: string; names?: Record<string, string>; values: Record<string, AttributeValue> },
): Promise<boolean> {
  const { pk, sk } = paneItemKey(where.pipeline, where.key, where.pane.paneStart);
  try {
    await client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { pk: S(pk), sk: S(sk) },
        UpdateExpression: update.expression,
        ConditionExpression: "v = :v",
        ExpressionAttributeNames: update.names,
        ExpressionAttributeValues: { ...update.values, ":v": N(where.pane.version) },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionalFailure(error)) return false;
    throw error;
  }
}

/**
 * Moves a pane's `due` after its windows were handled, unless the pane changed since it was read (then
 * the ingest function reset `due` and the pane is looked at again). Returns whether it was moved.
 */
export function moveDue(
  client: DynamoDBClient,
  tableName: string,
  pipeline: string,
  key: string,
  pane: PaneAt,
  due: number,
): Promise<boolean> {
  return updateIfUnchanged(client, tableName, { pipeline, key, pane }, { expression: "SET due = :due", values: { ":due": N(due) } });
}

/**
 * Purges a pane whose windows are all past end + allowed lateness: it leaves the due index and becomes
 * a tombstone that keeps its fences (so a redelivered record is recognised and a too-late one refused)
 * and its state (so a closing run overlapping the purge still sees whole windows and sessions); TTL
 * removes it later. Conditional on the version read.
 */
export function purgePane(
  client: DynamoDBClient,
  tableName: string,
  pipeline: string,
  key: string,
  pane: PaneAt,
  expiresAt: number,
): Promise<boolean> {
  return updateIfUnchanged(
    client,
    tableName,
    { pipeline, key, pane },
    {
      expression: "SET tomb = :true, v = :next, #ttl = :ttl REMOVE gpk, due",
      names: { "#ttl": "ttl" },
      values: { ":true": { BOOL: true }, ":next": N(pane.version + 1), ":ttl": N(Math.floor(expiresAt / 1000)) },
    },
  );
}
