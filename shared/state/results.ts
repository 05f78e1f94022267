// The results ledger: one item per fired window, written once per version under a condition, so a
// repeated, concurrent or retried closing run writes nothing new. Items carry a sparse `outbox`
// attribute until they are published downstream.
import { BatchGetItemCommand, type DynamoDBClient, PutItemCommand, QueryCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { type Item, isConditionalFailure, N, num, S, str } from "./attributes.ts";
import { indexPartitionOf, indexPartitionsOf, resultItemKey } from "./keys.ts";

export interface WindowResult {
  pipeline: string;
  key: string;
  start: number;
  end: number;
  values: Record<string, number>;
  /** number of events in the window; a new version is written only when it changes */
  count: number;
  version: number;
  /** wall-clock ms when this version was written */
  firedAt: number;
}

/** The idempotency key consumers use to drop repeats: pipeline/key/start/version. */
export function idempotencyKeyOf(result: Pick<WindowResult, "pipeline" | "key" | "start" | "version">): string {
  return `${result.pipeline}/${result.key}/${result.start}/${result.version}`;
}

export function decodeResult(item: Item): WindowResult {
  const values: Record<string, number> = {};
  for (const [name, value] of Object.entries(item.values?.M ?? {})) values[name] = Number(value.N);
  return {
    pipeline: str(item, "pipeline") ?? "",
    key: str(item, "key") ?? "",
    start: num(item, "start") ?? 0,
    end: num(item, "end") ?? 0,
    values,
    count: num(item, "n") ?? 0,
    version: num(item, "version") ?? 0,
    firedAt: num(item, "firedAt") ?? 0,
  };
}

function encodeResult(result: WindowResult, withOutbox: boolean, ttlSeconds: number | undefined): Item {
  const { pk, sk } = resultItemKey(result.pipeline, result.key, result.start);
  const partition = indexPartitionOf(result.pipeline, result.key);
  const item: Item = {
    pk: S(pk),
    sk: S(sk),
    gpk: S(partition),
    pipeline: S(result.pipeline),
    key: S(result.key),
    start: N(result.start),
    end: N(result.end),
    values: { M: Object.fromEntries(Object.entries(result.values).map(([k, v]) => [k, N(v)])) },
    n: N(result.count),
    version: N(result.version),
    firedAt: N(result.firedAt),
  };
  if (withOutbox) item.outbox = S(partition);
  if (ttlSeconds !== undefined) item.ttl = N(Math.floor(result.firedAt / 1000) + ttlSeconds);
  return item;
}

/** Latest stored versions of the given windows, by `pk/sk`. */
export async function readResults(
  client: DynamoDBClient,
  tableName: string,
  windows: readonly { pipeline: string; key: string; start: number }[],
): Promise<Map<string, WindowResult>> {
  const found = new Map<string, WindowResult>();
  const unique = new Map(
    windows.map((w) => {
      const { pk, sk } = resultItemKey(w.pipeline, w.key, w.start);
      return [`${pk}/${sk}`, { pk: S(pk), sk: S(sk) }];
    }),
  );
  const all = [...unique.values()];
  for (let i = 0; i < all.length; i += 100) {
    let keys = all.slice(i, i + 100);
    while (keys.length > 0) {
      const answer = await client.send(new BatchGetItemCommand({ RequestItems: { [tableName]: { Keys: keys, ConsistentRead: true } } }));
      for (const item of answer.Responses?.[tableName] ?? []) found.set(`${str(item, "pk")}/${str(item, "sk")}`, decodeResult(item));
      keys = (answer.UnprocessedKeys?.[tableName]?.Keys ?? []) as typeof keys;
    }
  }
  return found;
}

export function resultId(result: Pick<WindowResult, "pipeline" | "key" | "start">): string {
  const { pk, sk } = resultItemKey(result.pipeline, result.key, result.start);
  return `${pk}/${sk}`;
}

/**
 * Writes a version of a window's result if the ledger still holds `previousVersion` (or nothing, for
 * version 1), marked for the outbox when something downstream must receive it. Returns false when another run got there first: nothing is written twice.
 */
export async function writeResultOnce(
  client: DynamoDBClient,
  tableName: string,
  result: WindowResult,
  withOutbox: boolean,
  ttlSeconds?: number,
): Promise<boolean> {
  const previous = result.version - 1;
  try {
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: encodeResult(result, withOutbox, ttlSeconds),
        ConditionExpression: previous === 0 ? "attribute_not_exists(pk)" : "version = :previous",
        ExpressionAttributeValues: previous === 0 ? undefined : { ":previous": N(previous) },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionalFailure(error)) return false;
    throw error;
  }
}

/** Clears the outbox mark once a version is published; a newer version keeps its own mark. */
export async function markPublished(client: DynamoDBClient, tableName: string, result: WindowResult): Promise<void> {
  const { pk, sk } = resultItemKey(result.pipeline, result.key, result.start);
  try {
    await client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { pk: S(pk), sk: S(sk) },
        UpdateExpression: "REMOVE outbox",
        ConditionExpression: "version = :v",
        ExpressionAttributeValues: { ":v": N(result.version) },
      }),
    );
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
  }
}

/** Results written to the ledger but not yet published (found through the sparse outbox index). */
export async function readOutbox(client: DynamoDBClient, tableName: string, pipeline: string): Promise<WindowResult[]> {
  const keys: { pk: string; sk: string }[] = [];
  for (const partition of indexPartitionsOf(pipeline)) {
    let startKey: Item | undefined;
    do {
      const page = await client.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: "outbox",
          KeyConditionExpression: "outbox = :p",
          ExpressionAttributeValues: { ":p": S(partition) },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) keys.push({ pk: str(item, "pk") ?? "", sk: str(item, "sk") ?? "" });
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }
  const results: WindowResult[] = [];
  for (let i = 0; i < keys.length; i += 100) {
    let batch = keys.slice(i, i + 100).map((k) => ({ pk: S(k.pk), sk: S(k.sk) }));
    while (batch.length > 0) {
      const answer = await client.send(new BatchGetItemCommand({ RequestItems: { [tableName]: { Keys: batch, ConsistentRead: true } } }));
      for (const item of answer.Responses?.[tableName] ?? []) if (item.outbox) results.push(decodeResult(item));
      batch = (answer.UnprocessedKeys?.[tableName]?.Keys ?? []) as typeof batch;
    }
  }
  return results;
}

export interface ResultQuery {
  pipeline: string;
  key?: string;
  /** window end ≥ from (epoch ms) */
  from?: number;
  /** window end ≤ to (epoch ms) */
  to?: number;
}

/** Results of a pipeline, ordered by window end then key. */
export async function queryResults(client: DynamoDBClient, tableName: string, query: ResultQuery): Promise<WindowResult[]> {
  const from = query.from ?? 0;
  const to = query.to ?? Number.MAX_SAFE_INTEGER;
  const partitions = query.key === undefined ? indexPartitionsOf(query.pipeline) : [indexPartitionOf(query.pipeline, query.key)];
  const results: WindowResult[] = [];
  for (const partition of partitions) {
    let startKey: Item | undefined;
    do {
      const page = await client.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: "byEnd",
          KeyConditionExpression: "gpk = :p AND #end BETWEEN :from AND :to",
          FilterExpression: query.key === undefined ? undefined : "#key = :key",
          ExpressionAttributeNames: { "#end": "end", ...(query.key === undefined ? {} : { "#key": "key" }) },
          ExpressionAttributeValues: {
            ":p": S(partition),
            ":from": N(from),
            ":to": N(to),
            ...(query.key === undefined ? {} : { ":key": S(query.key) }),
          },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) results.push(decodeResult(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }
  return results.sort((a, b) => a.end - b.end || a.key.localeCompare(b.key) || a.start - b.start);
}
