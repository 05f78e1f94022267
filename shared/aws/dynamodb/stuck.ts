// Keys whose closing failed, parked in the dead-letter table with the reason: the closing run goes on
// with every other key and pipeline, retries a parked key at every run (its state stays due), and
// clears the record once the key closes. Never a silent stop.
import { createHash } from "node:crypto";
import { DeleteItemCommand, type DynamoDBClient, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { N, num, S, str } from "./attributes.ts";
import { queryAll } from "./requests.ts";

export interface StuckKey {
  pipeline: string;
  key: string;
  reason: string;
  /** wall-clock ms of the first and the latest failure */
  firstAt: number;
  lastAt: number;
  attempts: number;
  /** fixed windows: the key's windows ending after this were not all fired when it was parked */
  from?: number;
}

/** Items of stuck keys share the dead-letter table: `stuck#<pipeline>`, sorted by a hash (keys can outgrow sort keys). */
export const STUCK_PREFIX = "stuck#";

const itemKey = (pipeline: string, key: string) => ({
  pk: S(`${STUCK_PREFIX}${pipeline}`),
  sk: S(createHash("sha256").update(key).digest("hex")),
});

export async function readStuckKeys(client: DynamoDBClient, tableName: string, pipeline: string): Promise<Map<string, StuckKey>> {
  const items = await queryAll(client, {
    TableName: tableName,
    KeyConditionExpression: "pk = :pk",
    ExpressionAttributeValues: { ":pk": S(`${STUCK_PREFIX}${pipeline}`) },
    ConsistentRead: true,
  });
  return new Map(
    items.map((item) => {
      const stuck: StuckKey = {
        pipeline,
        key: str(item, "key") ?? "",
        reason: str(item, "reason") ?? "",
        firstAt: num(item, "firstAt") ?? 0,
        lastAt: num(item, "lastAt") ?? 0,
        attempts: num(item, "attempts") ?? 0,
        ...(num(item, "from") === undefined ? {} : { from: num(item, "from") }),
      };
      return [stuck.key, stuck];
    }),
  );
}

/**
 * Records (or counts again) a failure to close a key; `from` (fixed windows): the key's windows ending
 * after it are to be taken up again — the first failure's stays.
 */
export async function parkStuckKey(
  client: DynamoDBClient,
  tableName: string,
  pipeline: string,
  key: string,
  reason: string,
  now: number,
  from?: number,
) {
  await client.send(
    new UpdateItemCommand({
      TableName: tableName,
      Key: itemKey(pipeline, key),
      UpdateExpression: `SET kind = :kind, pipeline = :pipeline, #key = :key, reason = :reason, lastAt = :now, firstAt = if_not_exists(firstAt, :now)${from === undefined ? "" : ", #from = if_not_exists(#from, :from)"} ADD attempts :one`,
      ExpressionAttributeNames: { "#key": "key", ...(from === undefined ? {} : { "#from": "from" }) },
      ExpressionAttributeValues: {
        ":kind": S("stuck"),
        ":pipeline": S(pipeline),
        ":key": S(key),
        ":reason": S(reason.slice(0, 2000)),
        ":now": N(now),
        ":one": N(1),
        ...(from === undefined ? {} : { ":from": N(from) }),
      },
    }),
  );
}

export async function clearStuckKey(client: DynamoDBClient, tableName: string, pipeline: string, key: string): Promise<void> {
  await client.send(new DeleteItemCommand({ TableName: tableName, Key: itemKey(pipeline, key) }));
}
