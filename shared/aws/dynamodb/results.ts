// The results ledger: one item per fired window, written once per version under a condition, so a
// repeated, concurrent or retried closing run writes nothing new. Items carry a sparse `outbox`
// attribute until they are published downstream.
import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import type { AggregateValue } from "../../core/aggregates/state.ts";
import type { WindowIdentity, WindowResult } from "../../core/types.ts";
import { type Item, N, S, str } from "./attributes.ts";
import { indexPartitionOf, indexPartitionsOf, resultItemKey, uniqueTimeKey, uniqueTimeRange } from "./keys.ts";
import { batchGetAll, batchWriteAll, putItem, queryAll, queryPartitions, scanAll, updateItem } from "./requests.ts";

function keyOf(w: WindowIdentity): { pk: string; sk: string } {
  return resultItemKey(w.pipeline, w.key, w.start, w.endInKey ? w.end : undefined);
}

/** The idempotency key consumers use to drop repeats: pipeline/key/start/version (start-end for cumulating windows and sessions). */
export function idempotencyKeyOf(result: WindowIdentity & Pick<WindowResult, "version">): string {
  return `${result.pipeline}/${result.key}/${result.start}${result.endInKey ? `-${result.end}` : ""}/${result.version}`;
}

/** A result as its item holds it (values as JSON text: see encodeResult). */
interface StoredResult {
  pk: string;
  sk: string;
  pipeline: string;
  key: string;
  start: number;
  end: number;
  values: string;
  n: number;
  version: number;
  firedAt: number;
  final: boolean;
  supersedes?: { start: number; end: number }[];
  supersededBy?: { start: number; end: number };
}

export function decodeResult(item: Item): WindowResult {
  const stored = unmarshall(item) as StoredResult;
  return {
    pipeline: stored.pipeline,
    key: stored.key,
    start: stored.start,
    end: stored.end,
    values: JSON.parse(stored.values) as Record<string, AggregateValue>,
    count: stored.n,
    version: stored.version,
    firedAt: stored.firedAt,
    final: stored.final,
    ...(stored.sk.includes("#") ? { endInKey: true } : {}),
    ...(stored.supersedes === undefined ? {} : { supersedes: stored.supersedes }),
    ...(stored.supersededBy === undefined ? {} : { supersededBy: stored.supersededBy }),
  };
}

/**
 * The ledger item of a result. Values are stored as JSON text: any finite double fits (DynamoDB numbers
 * stop at 1e126, which a sum of storable values can pass), and `null` marks a value that cannot be given.
 */
function encodeResult(result: WindowResult, { outbox, ttlSeconds }: ResultWriteOptions): Item {
  const { pk, sk } = keyOf(result);
  const partition = indexPartitionOf(result.pipeline, result.key);
  return marshall(
    {
      pk,
      sk,
      gpk: partition,
      pipeline: result.pipeline,
      key: result.key,
      start: result.start,
      end: result.end,
      ek: uniqueTimeKey(result.end, { pk, sk }),
      values: JSON.stringify(result.values),
      n: result.count,
      version: result.version,
      firedAt: result.firedAt,
      final: result.final,
      supersedes: result.supersedes && result.supersedes.length > 0 ? result.supersedes : undefined,
      // sparse outbox index: results not yet published
      outbox: outbox ? partition : undefined,
      ob: outbox ? `${pk}#${sk}` : undefined,
      ttl: ttlSeconds === undefined ? undefined : Math.floor(result.firedAt / 1000) + ttlSeconds,
    },
    { removeUndefinedValues: true },
  );
}

/** Latest stored versions of the given windows, by resultId. */
export async function readResults(
  client: DynamoDBClient,
  tableName: string,
  windows: readonly WindowIdentity[],
): Promise<Map<string, WindowResult>> {
  const items = await batchGetAll(client, tableName, windows.map(keyOf));
  return new Map(items.map((item) => [`${str(item, "pk")}/${str(item, "sk")}`, decodeResult(item)]));
}

export function resultId(result: WindowIdentity): string {
  const { pk, sk } = keyOf(result);
  return `${pk}/${sk}`;
}

export interface ResultWriteOptions {
  /** mark the result for the outbox: something downstream must receive it */
  outbox: boolean;
  /** how long results are kept (TTL), seconds; undefined keeps them */
  ttlSeconds?: number;
}

/**
 * Writes a version of a window's result if the ledger still holds the version before it (or nothing,
 * for version 1), marked for the outbox when something downstream must receive it. Returns false when
 * another run got there first: nothing is written twice.
 */
export async function writeResultOnce(
  client: DynamoDBClient,
  tableName: string,
  result: WindowResult,
  options: ResultWriteOptions,
): Promise<boolean> {
  const previous = result.version - 1;
  return putItem(
    client,
    tableName,
    encodeResult(result, options),
    previous === 0 ? { condition: "attribute_not_exists(pk)" } : { condition: "version = :previous", values: { ":previous": N(previous) } },
  );
}

/**
 * Marks a session's earlier result as superseded by a later one that holds its events (idempotent; a
 * result that is not there is left alone).
 */
export function markSuperseded(client: DynamoDBClient, tableName: string, old: WindowIdentity, by: { start: number; end: number }) {
  return updateItem(client, tableName, keyOf(old), {
    expression: "SET supersededBy = :by",
    condition: "attribute_exists(pk)",
    values: marshall({ ":by": by }),
  });
}

/** Clears the outbox mark once a version is published; a newer version keeps its own mark. */
export function markPublished(client: DynamoDBClient, tableName: string, result: WindowResult) {
  return updateItem(client, tableName, keyOf(result), {
    expression: "REMOVE outbox, ob",
    condition: "version = :v",
    values: { ":v": N(result.version) },
  });
}

/**
 * A closing run's outbox: before a run writes a pipeline's results to the ledger it records them here
 * (one item, a few for very many), and deletes the record once they are published. A run that stops in
 * between leaves it for the next run, which publishes those of them the ledger holds. Two writes a run
 * instead of marking, and unmarking, every result.
 */
export const RUN_OUTBOX_PREFIX = "~outbox#"; // "~" is not allowed in pipeline names: no result item has this key
const MAX_OUTBOX_ITEM_BYTES = 350_000;

export interface RunOutbox {
  run: string;
  results: WindowResult[];
}

export async function writeRunOutbox(client: DynamoDBClient, tableName: string, pipeline: string, outbox: RunOutbox): Promise<string[]> {
  const parts: WindowResult[][] = [];
  let part: WindowResult[] = [];
  let bytes = 0;
  for (const result of outbox.results) {
    const size = Buffer.byteLength(JSON.stringify(result));
    if (part.length > 0 && bytes + size > MAX_OUTBOX_ITEM_BYTES) {
      parts.push(part);
      part = [];
      bytes = 0;
    }
    part.push(result);
    bytes += size;
  }
  if (part.length > 0) parts.push(part);
  const sks = parts.map((_, i) => `${outbox.run}#${String(i).padStart(4, "0")}`);
  await batchWriteAll(
    client,
    tableName,
    parts.map((results, i) => ({
      PutRequest: {
        Item: { pk: S(`${RUN_OUTBOX_PREFIX}${pipeline}`), sk: S(sks[i] as string), d: { B: deflateRawSync(JSON.stringify(results)) } },
      },
    })),
  );
  return sks;
}

/** The outboxes runs left behind (stopped before publishing), oldest first. */
export async function readRunOutboxes(
  client: DynamoDBClient,
  tableName: string,
  pipeline: string,
): Promise<(RunOutbox & { parts: string[] })[]> {
  const items = await queryAll(client, {
    TableName: tableName,
    KeyConditionExpression: "pk = :pk",
    ExpressionAttributeValues: { ":pk": S(`${RUN_OUTBOX_PREFIX}${pipeline}`) },
    ConsistentRead: true,
  });
  const runs = new Map<string, RunOutbox & { parts: string[] }>();
  for (const item of items) {
    const sk = str(item, "sk") ?? "";
    const run = sk.slice(0, sk.lastIndexOf("#"));
    const entry = runs.get(run) ?? { run, results: [], parts: [] };
    entry.results.push(...(JSON.parse(inflateRawSync(item.d?.B ?? new Uint8Array()).toString("utf8")) as WindowResult[]));
    entry.parts.push(sk);
    runs.set(run, entry);
  }
  return [...runs.values()];
}

export async function deleteRunOutbox(
  client: DynamoDBClient,
  tableName: string,
  pipeline: string,
  parts: readonly string[],
): Promise<void> {
  await batchWriteAll(
    client,
    tableName,
    parts.map((sk) => ({ DeleteRequest: { Key: { pk: S(`${RUN_OUTBOX_PREFIX}${pipeline}`), sk: S(sk) } } })),
  );
}

/** Results written to the ledger but not yet published (found through the sparse outbox index). */
export async function readOutbox(client: DynamoDBClient, tableName: string, pipeline: string): Promise<WindowResult[]> {
  const items = await queryPartitions(client, indexPartitionsOf(pipeline), (partition) => ({
    TableName: tableName,
    IndexName: "outbox",
    KeyConditionExpression: "outbox = :p",
    ExpressionAttributeValues: { ":p": S(partition) },
  }));
  const keys = items.map((item) => ({ pk: str(item, "pk") ?? "", sk: str(item, "sk") ?? "" }));
  return (await batchGetAll(client, tableName, keys)).filter((item) => item.outbox !== undefined).map(decodeResult);
}

/**
 * Current (not superseded) results per pipeline, counted by a Scan of the table rather than the byEnd
 * index: an independent count to reconcile a query's answer with (replay does). It scans: tools only.
 */
export async function countCurrentResults(client: DynamoDBClient, tableName: string): Promise<Map<string, number>> {
  const items = await scanAll(client, { TableName: tableName, ProjectionExpression: "pk, pipeline, supersededBy", ConsistentRead: true });
  const counts = new Map<string, number>();
  for (const item of items) {
    if (item.supersededBy !== undefined || (str(item, "pk") ?? "").startsWith(RUN_OUTBOX_PREFIX)) continue;
    const pipeline = str(item, "pipeline") ?? "";
    counts.set(pipeline, (counts.get(pipeline) ?? 0) + 1);
  }
  return counts;
}

export interface ResultQuery {
  pipeline: string;
  key?: string;
  /** window end ≥ from (epoch ms) */
  from?: number;
  /** window end ≤ to (epoch ms) */
  to?: number;
  /** include session results a later result superseded (default: only the current ones) */
  superseded?: boolean;
}

/** Results of a pipeline, ordered by window end then key. */
export async function queryResults(client: DynamoDBClient, tableName: string, query: ResultQuery): Promise<WindowResult[]> {
  const from = query.from ?? 0;
  const to = query.to ?? Number.MAX_SAFE_INTEGER;
  const partitions = query.key === undefined ? indexPartitionsOf(query.pipeline) : [indexPartitionOf(query.pipeline, query.key)];
  const items = await queryPartitions(client, partitions, (partition) => ({
    TableName: tableName,
    IndexName: "byEnd",
    KeyConditionExpression: "gpk = :p AND ek BETWEEN :from AND :to",
    FilterExpression: query.key === undefined ? undefined : "#key = :key",
    ExpressionAttributeNames: query.key === undefined ? undefined : { "#key": "key" },
    ExpressionAttributeValues: {
      ":p": S(partition),
      ":from": S(uniqueTimeRange(from, to).from),
      ":to": S(uniqueTimeRange(from, to).to),
      ...(query.key === undefined ? {} : { ":key": S(query.key) }),
    },
  }));
  const results = items.map(decodeResult).filter((r) => query.superseded || r.supersededBy === undefined);
  return results.sort((a, b) => a.end - b.end || a.key.localeCompare(b.key) || a.start - b.start);
}
