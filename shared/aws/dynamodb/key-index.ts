// The key index of a fixed-window pipeline in DynamoDB: KEY_BUCKETS items under one partition key, read
// together by one Query (billed by the bytes read, not by the items), each written whole under a
// condition on the version read. What goes in an entry is decided in core/windows/key-index.ts.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { KeyEntry } from "../../core/windows/key-index.ts";
import { type Item, N, num, S, str } from "./attributes.ts";
import { keyBucketItemKey } from "./keys.ts";
import { approximateItemBytes } from "./panes.ts";
import { putItem, queryAll } from "./requests.ts";

export interface KeyBucket {
  bucket: number;
  /** absent: never written */
  version?: number;
  entries: Map<string, KeyEntry>;
}

/** DynamoDB items are at most 400 KB. */
const MAX_BUCKET_BYTES = 390_000;

export class KeyIndexFullError extends Error {
  override name = "KeyIndexFullError";
}

function decodeBucket(item: Item): KeyBucket {
  const rows = JSON.parse(str(item, "e") ?? "[]") as [string, number, number?][];
  return {
    bucket: Number(str(item, "sk")),
    version: num(item, "v") ?? 0,
    entries: new Map(rows.map(([key, last, refireFrom]) => [key, { key, last, ...(refireFrom === undefined ? {} : { refireFrom }) }])),
  };
}

/** Every bucket of the pipeline's key index that was ever written, strongly consistent. */
export async function readKeyIndex(client: DynamoDBClient, tableName: string, pipeline: string): Promise<Map<number, KeyBucket>> {
  const items = await queryAll(client, {
    TableName: tableName,
    KeyConditionExpression: "pk = :pk",
    ExpressionAttributeValues: { ":pk": S(keyBucketItemKey(pipeline, 0).pk) },
    ConsistentRead: true,
  });
  return new Map(items.map(decodeBucket).map((b) => [b.bucket, b]));
}

/** Writes a bucket whole if it is still at the version read; false when another run wrote it first. */
export async function writeKeyBucket(client: DynamoDBClient, tableName: string, pipeline: string, bucket: KeyBucket): Promise<boolean> {
  const { pk, sk } = keyBucketItemKey(pipeline, bucket.bucket);
  const rows = [...bucket.entries.values()].map((e) => (e.refireFrom === undefined ? [e.key, e.last] : [e.key, e.last, e.refireFrom]));
  const item: Item = { pk: S(pk), sk: S(sk), e: S(JSON.stringify(rows)), v: N((bucket.version ?? 0) + 1) };
  if (approximateItemBytes(item) > MAX_BUCKET_BYTES)
    throw new KeyIndexFullError(
      `pipeline ${pipeline} has more keys with windows still open than its key index holds (${bucket.entries.size} in one of its buckets)`,
    );
  return putItem(
    client,
    tableName,
    item,
    bucket.version === undefined ? { condition: "attribute_not_exists(pk)" } : { condition: "v = :v", values: { ":v": N(bucket.version) } },
  );
}
