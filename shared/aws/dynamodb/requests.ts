// Paging and batching that every DynamoDB adapter needs: all pages of a Query or Scan, and BatchGetItem
// in chunks of 100 with the unprocessed keys retried.
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  type DynamoDBClient,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  type ScanCommandInput,
  type WriteRequest,
} from "@aws-sdk/client-dynamodb";
import { type Item, S } from "./attributes.ts";

export async function queryAll(client: DynamoDBClient, input: QueryCommandInput): Promise<Item[]> {
  const items: Item[] = [];
  let startKey: Item | undefined;
  do {
    const page = await client.send(new QueryCommand({ ...input, ExclusiveStartKey: startKey }));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

export async function scanAll(client: DynamoDBClient, input: ScanCommandInput): Promise<Item[]> {
  const items: Item[] = [];
  let startKey: Item | undefined;
  do {
    const page = await client.send(new ScanCommand({ ...input, ExclusiveStartKey: startKey }));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** Strongly consistent reads of items by (pk, sk); absent items are simply not returned. */
export async function batchGetAll(client: DynamoDBClient, tableName: string, keys: readonly { pk: string; sk: string }[]): Promise<Item[]> {
  const unique = [...new Map(keys.map((k) => [`${k.pk}\u0000${k.sk}`, k])).values()];
  const items: Item[] = [];
  for (let i = 0; i < unique.length; i += 100) {
    let pending: Item[] = unique.slice(i, i + 100).map((k) => ({ pk: S(k.pk), sk: S(k.sk) }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 20 * 2 ** attempt)));
      const answer = await client.send(new BatchGetItemCommand({ RequestItems: { [tableName]: { Keys: pending, ConsistentRead: true } } }));
      items.push(...(answer.Responses?.[tableName] ?? []));
      pending = (answer.UnprocessedKeys?.[tableName]?.Keys ?? []) as Item[];
    }
  }
  return items;
}

/** BatchWriteItem in chunks of 25, retrying unprocessed items with backoff. */
export async function batchWriteAll(client: DynamoDBClient, tableName: string, requests: readonly WriteRequest[]): Promise<void> {
  for (let i = 0; i < requests.length; i += 25) {
    let pending = requests.slice(i, i + 25);
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 8) throw new Error(`${tableName} kept refusing ${pending.length} writes`);
      if (attempt > 0) await new Promise((r) => setTimeout(r, 25 * 2 ** attempt));
      const answer = await client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }));
      pending = answer.UnprocessedItems?.[tableName] ?? [];
    }
  }
}
