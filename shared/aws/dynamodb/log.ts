// The shard logs: what the ingest function writes, one item per shard batch, and the closing logic
// folds into pane state. An entry holds the batch's pre-aggregated pane layers (all pipelines, all
// keys; deflated JSON), the record positions it covers, the watermarks it was planned at and each
// pipeline's max event time. Entries of a shard are numbered 1, 2, 3…; an entry is written only if its
// number is free, so two writers can never both extend a shard's log from the same point: the loser
// reads the head and goes on from there. Watermark notices (written by the closing logic) are entries
// too, without records: a writer whose view of the watermarks is older meets them as a taken number.
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { DeleteItemCommand, type DynamoDBClient, QueryCommand } from "@aws-sdk/client-dynamodb";
import { type StoredState, stateFromJson, stateToJson } from "../../core/aggregates/state.ts";
import type { PaneLayer } from "../../core/ingest/deltas.ts";
import { type Item, N, num, S, str } from "./attributes.ts";
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
  /** batches: per pipeline, the max event time among the events it read */
  maxEventTimes: Record<string, number>;
  panes: LoggedPane[];
}

/** DynamoDB items are at most 400 KB; an entry stays well below (the ingest function splits a batch that would not). */
export const MAX_LOG_ITEM_BYTES = 350_000;

function encodePanes(panes: readonly LoggedPane[]): Uint8Array {
  const pipelines: string[] = [];
  const keys: string[] = [];
  const index = (list: string[], lookup: Map<string, number>, value: string) => {
    let i = lookup.get(value);
    if (i === undefined) {
      i = list.length;
      list.push(value);
      lookup.set(value, i);
    }
    return i;
  };
  const pipelineIndex = new Map<string, number>();
  const keyIndex = new Map<string, number>();
  const rows = panes.map((p) => [
    index(pipelines, pipelineIndex, p.pipeline),
    index(keys, keyIndex, p.key),
    p.paneStart,
    p.layers.map((l) => [l.from, stateToJson(l.state)]),
  ]);
  return deflateRawSync(JSON.stringify({ p: pipelines, k: keys, d: rows }));
}

function decodePanes(data: Uint8Array | undefined): LoggedPane[] {
  if (data === undefined || data.byteLength === 0) return [];
  const { p, k, d } = JSON.parse(inflateRawSync(data).toString("utf8")) as {
    p: string[];
    k: string[];
    d: [number, number, number, [number, StoredState][]][];
  };
  return d.map(([pi, ki, paneStart, layers]) => ({
    pipeline: p[pi] as string,
    key: k[ki] as string,
    paneStart,
    layers: layers.map(([from, state]) => ({ from, state: stateFromJson(state) })),
  }));
}

export function logItemOf(shardId: string, entry: LogEntry, ttlSeconds?: number): Item {
  const { pk, sk } = logItemKey(shardId, entry.ordinal);
  return {
    pk: S(pk),
    sk: S(sk),
    kind: S(entry.kind),
    ...(entry.first === undefined ? {} : { first: S(entry.first.toString()) }),
    ...(entry.last === undefined ? {} : { last: S(entry.last.toString()) }),
    at: N(entry.at),
    wm: S(JSON.stringify(entry.watermarks)),
    mx: S(JSON.stringify(entry.maxEventTimes)),
    ...(entry.panes.length === 0 ? {} : { d: { B: encodePanes(entry.panes) } }),
    ...(ttlSeconds === undefined ? {} : { ttl: N(Math.floor(entry.at / 1000) + ttlSeconds) }),
  };
}

export function decodeLogItem(item: Item): LogEntry {
  const first = str(item, "first");
  const last = str(item, "last");
  return {
    ordinal: Number(str(item, "sk")),
    kind: str(item, "kind") === "notice" ? "notice" : "batch",
    ...(first === undefined ? {} : { first: BigInt(first) }),
    ...(last === undefined ? {} : { last: BigInt(last) }),
    at: num(item, "at") ?? 0,
    watermarks: JSON.parse(str(item, "wm") ?? "{}"),
    maxEventTimes: JSON.parse(str(item, "mx") ?? "{}"),
    panes: decodePanes(item.d?.B),
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
