// Paging and batching that every DynamoDB adapter needs: all pages of a Query or Scan (the SDK's
// paginators), and BatchGetItem / BatchWriteItem in chunks with the unprocessed part sent again
// (one policy: ../retry.ts).
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  type DynamoDBClient,
  paginateQuery,
  paginateScan,
  type QueryCommandInput,
  type ScanCommandInput,
  type WriteRequest,
} from "@aws-sdk/client-dynamodb";
import { chunksOf, sendUntilProcessed } from "../retry.ts";
import { type Item, S } from "./attributes.ts";

export async function queryAll(client: DynamoDBClient, input: QueryCommandInput): Promise<Item[]> {
  const items: Item[] = [];
  for await (const page of paginateQuery({ client }, input)) items.push(...(page.Items ?? []));
  return items;
}

export async function scanAll(client: DynamoDBClient, input: ScanCommandInput): Promise<Item[]> {
  const items: Item[] = [];
  for await (const page of paginateScan({ client }, input)) items.push(...(page.Items ?? []));
  return items;
}

/** Strongly consistent reads of items by (pk, sk); absent items are simply not returned. */
export async function batchGetAll(client: DynamoDBClient, tableName: string, keys: readonly { pk: string; sk: string }[]): Promise<Item[]> {
  const unique = [...new Map(keys.map((k) => [`${k.pk}\u0000${k.sk}`, k])).values()];
  const items: Item[] = [];
  for (const chunk of chunksOf(unique, 100)) {
    await sendUntilProcessed(
      chunk.map((k): Item => ({ pk: S(k.pk), sk: S(k.sk) })),
      async (pending) => {
        const answer = await client.send(
          new BatchGetItemCommand({ RequestItems: { [tableName]: { Keys: pending, ConsistentRead: true } } }),
        );
        items.push(...(answer.Responses?.[tableName] ?? []));
        return (answer.UnprocessedKeys?.[tableName]?.Keys ?? []) as Item[];
      },
      `keys of ${tableName}`,
    );
  }
  return items;
}

/** BatchWriteItem in chunks of 25, the unprocessed items sent again. */
export async function batchWriteAll(client: DynamoDBClient, tableName: string, requests: readonly WriteRequest[]): Promise<void> {
  for (const chunk of chunksOf(requests, 25)) {
    await sendUntilProcessed(
      chunk,
      async (pending) =>
        (await client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }))).UnprocessedItems?.[tableName] ?? [],
      `writes to ${tableName}`,
    );
  }
}
