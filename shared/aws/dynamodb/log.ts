// The shard logs: what the ingest function writes, one item per shard batch, and the closing logic
// folds into pane state. An entry holds the batch's pre-aggregated pane layers (all pipelines, all
// keys; deflated JSON), the record positions it covers, the watermarks it was planned at and each
// pipeline's max event time. Entries of a shard are numbered 1, 2, 3…; an entry is written only if its
// number is free, so two writers can never both extend a shard's log from the same point: the loser
// reads the head and goes on from there. Watermark notices (written by the closing logic) are entries
// too, without records: a writer whose view of the watermarks is older meets them as a taken number.
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { DeleteItemCommand, type DynamoDBClient, QueryCommand } from "@aws-sdk/client-dynamodb";
import type { PaneLayer } from "../../core/ingest/deltas.ts";
import type { GroupPortion } from "../../core/windows/key-group.ts";
import { type Item, N, num, S, str } from "./attributes.ts";
import { type LayerRow, layerRow, Names, rowLayer } from "./compact.ts";
import { logItemKey, logShardItemKey } from "./keys.ts";
import { putItem, queryAll } from "./requests.ts";

/** One pipeline's pre-aggregated events of one key and pane, in a log entry. */
export interface LoggedPane {
  pipeline: string;
  key: string;
  paneStart: number;
  layers: PaneLayer[];
}

export interface LogEntry {
  ordinal: number;
  /** a shard batch, or a watermark notice (no records) */
  kind: "batch" | "notice";
  /** the first record position the entry covers (batches) */
  first?: bigint;
  /** the last record position applied when this entry was written (for a notice: of the entry before it) */
  last?: bigint;
  /** when it was written (wall clock, ms) */
  at: number;
  /** batches: the watermarks the batch was planned at; notices: the watermarks they announce */
  watermarks: Record<string, number>;
  /**
   * The reset generation of each watermark (absent: 0): a lower watermark is taken from an entry only
   * with a newer generation (an operator's reset); otherwise watermarks only move forward.
   */
  generations?: Record<string, number>;
  /** batches: per pipeline, the max event time among the events it read */
  maxEventTimes: Record<string, number>;
  panes: LoggedPane[];
  /** batches: input that was read but probably not meant so (plan.ts InputNotices), counted */
  notices?: EntryNotices;
}

/** An entry's input notices: how many records no pipeline took, and per pipeline how many event times read like seconds. */
export interface EntryNotices {
  unmatched?: number;
  unmatchedSample?: string;
  secondsLike?: Record<string, { count: number; sample: number }>;
}

/** DynamoDB items are at most 400 KB; an entry stays well below (the ingest function splits a batch that would not). */
export const MAX_LOG_ITEM_BYTES = 350_000;

/** The panes of an entry, compact (compact.ts), then deflated. An entry is what every batch costs. */
type Row = [pipeline: number, key: number, paneStart: number, layers: LayerRow[]];

function encodeBody(entry: LogEntry): Uint8Array {
  const { panes } = entry;
  const pipelines = new Names();
  const keys = new Names();
  const fields = new Names();
  let base = Number.POSITIVE_INFINITY;
  for (const p of panes) if (p.paneStart < base) base = p.paneStart;
  const rows: Row[] = panes.map((p) => [
    pipelines.of(p.pipeline),
    keys.of(p.key),
    p.paneStart - base,
    p.layers.map((l) => layerRow(l, p.paneStart, fields)),
  ]);
  const w = Object.entries(entry.watermarks).map(([name, ms]) => [pipelines.of(name), ms]);
  const x = Object.entries(entry.maxEventTimes).map(([name, ms]) => [pipelines.of(name), ms]);
  const g = Object.entries(entry.generations ?? {})
    .filter(([, n]) => n > 0)
    .map(([name, n]) => [pipelines.of(name), n]);
  return deflateRawSync(
    JSON.stringify({
      b: Number.isFinite(base) ? base : 0,
      p: pipelines.list,
      k: keys.list,
      f: fields.list,
      d: rows,
      w,
      x,
      ...(g.length > 0 ? { g } : {}),
    }),
  );
}

interface Body {
  b: number;
  p: string[];
  k: string[];
  f: string[];
  d: Row[];
  w: [number, number][];
  x: [number, number][];
  g?: [number, number][];
}

function decodeBody(data: Uint8Array): Pick<LogEntry, "panes" | "watermarks" | "maxEventTimes" | "generations"> {
  const { b, p, k, f, d, w, x, g } = JSON.parse(inflateRawSync(data).toString("utf8")) as Body;
  const byName = (pairs: [number, number][]) => Object.fromEntries(pairs.map(([i, ms]) => [p[i] as string, ms]));
  return { panes: decodeRows(b, p, k, f, d), watermarks: byName(w), maxEventTimes: byName(x), ...(g ? { generations: byName(g) } : {}) };
}

function decodeRows(b: number, p: string[], k: string[], f: string[], d: Row[]): LoggedPane[] {
  return d.map(([pi, ki, offset, layers]) => {
    const paneStart = b + offset;
    return {
      pipeline: p[pi] as string,
      key: k[ki] as string,
      paneStart,
      layers: layers.map((row) => rowLayer(row, paneStart, f)),
    };
  });
}

/** Positions (sequence number << 32 | sub-sequence number) are long: base 36, and the first as its distance back from the last. */
const base36 = (n: bigint) => n.toString(36);
const fromBase36 = (text: string) => [...text].reduce((n, c) => n * 36n + BigInt(Number.parseInt(c, 36)), 0n);

export function logItemOf(shardId: string, entry: LogEntry, ttlSeconds?: number): Item {
  const { pk, sk } = logItemKey(shardId, entry.ordinal);
  const first = entry.kind === "batch" && entry.first !== undefined && entry.last !== undefined ? entry.last - entry.first : undefined;
  return {
    pk: S(pk),
    sk: S(sk),
    ...(entry.last === undefined ? {} : { l: S(base36(entry.last)) }),
    // Batches have a first position; notices (no records) have none.
    ...(first === undefined ? {} : { f: S(base36(first)) }),
    at: N(entry.at),
    d: { B: encodeBody(entry) },
    ...(entry.notices === undefined ? {} : { nt: S(JSON.stringify(entry.notices)) }),
    ...(ttlSeconds === undefined ? {} : { ttl: N(Math.floor(entry.at / 1000) + ttlSeconds) }),
  };
}

export function decodeLogItem(item: Item): LogEntry {
  const last = str(item, "l");
  const first = str(item, "f");
  const lastPosition = last === undefined ? undefined : fromBase36(last);
  return {
    ordinal: Number(str(item, "sk")),
    kind: first === undefined ? "notice" : "batch",
    ...(first === undefined || lastPosition === undefined ? {} : { first: lastPosition - fromBase36(first) }),
    ...(lastPosition === undefined ? {} : { last: lastPosition }),
    at: num(item, "at") ?? 0,
    ...(item.d?.B === undefined ? { panes: [], watermarks: {}, maxEventTimes: {} } : decodeBody(item.d.B)),
    ...(item.nt?.S === undefined ? {} : { notices: JSON.parse(item.nt.S) as EntryNotices }),
  };
}

/** Writes an entry if its number is still free; false when another writer took it. */
export function appendLogItem(client: DynamoDBClient, tableName: string, item: Item): Promise<boolean> {
  return putItem(client, tableName, item, { condition: "attribute_not_exists(pk)" });
}

/** The newest entry of a shard's log, strongly consistent; undefined when the log is empty. */
export async function readLogHead(client: DynamoDBClient, tableName: string, shardId: string): Promise<LogEntry | undefined> {
  // One page of one item (a paginator would walk the whole log a page of one at a time).
  const { Items } = await client.send(
    new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": S(logItemKey(shardId, 0).pk) },
      ScanIndexForward: false,
      Limit: 1,
      ConsistentRead: true,
    }),
  );
  const head = Items?.[0];
  return head === undefined ? undefined : decodeLogItem(head);
}

/** The entries of a shard's log after `ordinal`, in order, strongly consistent. */
export async function readLogAfter(client: DynamoDBClient, tableName: string, shardId: string, ordinal: number): Promise<LogEntry[]> {
  const { pk, sk } = logItemKey(shardId, ordinal);
  const items = await queryAll(client, {
    TableName: tableName,
    KeyConditionExpression: "pk = :pk AND sk > :sk",
    ExpressionAttributeValues: { ":pk": S(pk), ":sk": S(sk) },
    ConsistentRead: true,
  });
  return items.map(decodeLogItem);
}

/** Records that a shard has a log (once per shard; repeating it changes nothing). */
export async function registerLogShard(client: DynamoDBClient, tableName: string, shardId: string): Promise<void> {
  const { pk, sk } = logShardItemKey(shardId);
  await putItem(client, tableName, { pk: S(pk), sk: S(sk) }, { condition: "attribute_not_exists(pk)" });
}

/** Forgets a shard's log (closed, read and folded to its end). */
export async function forgetLogShard(client: DynamoDBClient, tableName: string, shardId: string): Promise<void> {
  const { pk, sk } = logShardItemKey(shardId);
  await client.send(new DeleteItemCommand({ TableName: tableName, Key: { pk: S(pk), sk: S(sk) } }));
}

/** Every shard that has a log. */
export async function readLogShards(client: DynamoDBClient, tableName: string): Promise<string[]> {
  const items = await queryAll(client, {
    TableName: tableName,
    KeyConditionExpression: "pk = :pk",
    ExpressionAttributeValues: { ":pk": S(logShardItemKey("").pk) },
    ConsistentRead: true,
  });
  return items.map((item) => str(item, "sk") ?? "").filter((id) => id !== "");
}

/** The entries of a shard's log after `after`, up to and including `upTo`, in order, strongly consistent. */
export async function readLogBetween(
  client: DynamoDBClient,
  tableName: string,
  shardId: string,
  after: number,
  upTo: number,
): Promise<LogEntry[]> {
  if (upTo <= after) return [];
  const items = await queryAll(client, {
    TableName: tableName,
    KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
    ExpressionAttributeValues: {
      ":pk": S(logItemKey(shardId, 0).pk),
      ":from": S(logItemKey(shardId, after + 1).sk),
      ":to": S(logItemKey(shardId, upTo).sk),
    },
    ConsistentRead: true,
  });
  return items.map(decodeLogItem);
}

/** One entry of a shard's log by its number (strongly consistent); undefined when there is none (or it expired). */
export async function readLogEntry(
  client: DynamoDBClient,
  tableName: string,
  shardId: string,
  ordinal: number,
): Promise<LogEntry | undefined> {
  if (ordinal <= 0) return undefined;
  const entries = await readLogBetween(client, tableName, shardId, ordinal - 1, ordinal);
  return entries[0];
}

/** Portions of log entries as the coordinator ships them to a closing unit (closer.ts): compact, deflated, base64. */
type PortionRow = [shard: number, ordinal: number, key: number, paneStart: number, layers: LayerRow[]];

export function encodePortions(portions: readonly GroupPortion[]): string {
  const shards = new Names();
  const keys = new Names();
  const fields = new Names();
  let base = Number.POSITIVE_INFINITY;
  for (const p of portions) if (p.paneStart < base) base = p.paneStart;
  const rows: PortionRow[] = portions.map((p) => [
    shards.of(p.shardId),
    p.ordinal,
    keys.of(p.key),
    p.paneStart - base,
    p.layers.map((l) => layerRow(l, p.paneStart, fields)),
  ]);
  const body = { b: Number.isFinite(base) ? base : 0, s: shards.list, k: keys.list, f: fields.list, d: rows };
  return deflateRawSync(JSON.stringify(body)).toString("base64");
}

export function decodePortions(text: string): GroupPortion[] {
  const { b, s, k, f, d } = JSON.parse(inflateRawSync(Buffer.from(text, "base64")).toString("utf8")) as {
    b: number;
    s: string[];
    k: string[];
    f: string[];
    d: PortionRow[];
  };
  return d.map(([si, ordinal, ki, offset, layers]) => {
    const paneStart = b + offset;
    return { shardId: s[si] as string, ordinal, key: k[ki] as string, paneStart, layers: layers.map((row) => rowLayer(row, paneStart, f)) };
  });
}
