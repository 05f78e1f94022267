// Paging and batching that every DynamoDB adapter needs: all pages of a Query or Scan (the SDK's
// paginators), conditional writes that report whether their condition held, and BatchGetItem / BatchWriteItem in chunks with the unprocessed part sent again
// (one policy: ../retry.ts).
import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  type PutItemCommandInput,
  paginateQuery,
  paginateScan,
  type QueryCommandInput,
  type ScanCommandInput,
  UpdateItemCommand,
  type UpdateItemCommandInput,
  type WriteRequest,
} from "@aws-sdk/client-dynamodb";
import { chunksOf, sendUntilProcessed } from "../retry.ts";
import { type Item, isConditionalFailure, S } from "./attributes.ts";

export async function queryAll(client: DynamoDBClient, input: QueryCommandInput): Promise<Item[]> {
  const items: Item[] = [];
  for await (const page of paginateQuery({ client }, input)) items.push(...(page.Items ?? []));
  return items;
}

/** A query of an index sharded over `partitions` (see keys.ts): every partition, all pages, in parallel. */
export async function queryPartitions(
  client: DynamoDBClient,
  partitions: readonly string[],
  inputFor: (partition: string) => QueryCommandInput,
): Promise<Item[]> {
  return (await Promise.all(partitions.map((partition) => queryAll(client, inputFor(partition))))).flat();
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

/** A write's condition, and the names and values its expressions use. */
interface ConditionalParts {
  condition?: string;
  names?: Record<string, string>;
  values?: Record<string, AttributeValue>;
}

/**
 * An UpdateItem, applied only when `condition` (if any) holds. Returns whether it applied; a false
 * condition is an answer, not an error (every other error is thrown).
 */
export function updateItem(
  client: DynamoDBClient,
  tableName: string,
  key: { pk: string; sk: string },
  update: ConditionalParts & { expression: string },
): Promise<boolean> {
  return appliedUnlessConditionFails(
    client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { pk: S(key.pk), sk: S(key.sk) },
        UpdateExpression: update.expression,
        ...conditionInput(update),
      } satisfies UpdateItemCommandInput),
    ),
  );
}

/** A PutItem, applied only when `condition` (if any) holds; returns whether it applied. */
export function putItem(client: DynamoDBClient, tableName: string, item: Item, put: ConditionalParts): Promise<boolean> {
  return appliedUnlessConditionFails(
    client.send(new PutItemCommand({ TableName: tableName, Item: item, ...conditionInput(put) } satisfies PutItemCommandInput)),
  );
}

function conditionInput(parts: ConditionalParts) {
  return {
    ConditionExpression: parts.condition,
    ExpressionAttributeNames: parts.names,
    ExpressionAttributeValues: parts.values,
  };
}

async function appliedUnlessConditionFails(request: Promise<unknown>): Promise<boolean> {
  try {
    await request;
    return true;
  } catch (error) {
    if (isConditionalFailure(error)) return false;
    throw error;
  }
}
