// Key groups (and, for sessions, keys) whose closing failed, parked in the dead-letter table with the
// reason: closing goes on with every other group and pipeline, takes a parked one up again at every run
// (from where its mark stands), and clears the record once it closes. Never a silent stop.
import { createHash } from "node:crypto";
import { DeleteItemCommand, type DynamoDBClient, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { N, num, S, str } from "./attributes.ts";
import { queryAll } from "./requests.ts";

export interface ParkedKey {
  pipeline: string;
  key: string;
  reason: string;
  /** wall-clock ms of the first and the latest failure */
  firstAt: number;
  lastAt: number;
  attempts: number;
}

/** Items of parked keys and key groups share the dead-letter table: `parked#<pipeline>`, sorted by a hash (keys can outgrow sort keys). */
export const PARKED_PREFIX = "parked#";

const itemKey = (pipeline: string, key: string) => ({
  pk: S(`${PARKED_PREFIX}${pipeline}`),
  sk: S(createHash("sha256").update(key).digest("hex")),
});

export async function readParkedKeys(client: DynamoDBClient, tableName: string, pipeline: string): Promise<Map<string, ParkedKey>> {
  const items = await queryAll(client, {
    TableName: tableName,
    KeyConditionExpression: "pk = :pk",
    ExpressionAttributeValues: { ":pk": S(`${PARKED_PREFIX}${pipeline}`) },
    ConsistentRead: true,
  });
  return new Map(
    items.map((item) => {
      const parked: ParkedKey = {
        pipeline,
        key: str(item, "key") ?? "",
        reason: str(item, "reason") ?? "",
        firstAt: num(item, "firstAt") ?? 0,
        lastAt: num(item, "lastAt") ?? 0,
        attempts: num(item, "attempts") ?? 0,
      };
      return [parked.key, parked];
    }),
  );
}

/** Records (or counts again) a failure to close a key group (`key group N`) or a session key. */
export async function parkKey(client: DynamoDBClient, tableName: string, pipeline: string, key: string, reason: string, now: number) {
  await client.send(
    new UpdateItemCommand({
      TableName: tableName,
      Key: itemKey(pipeline, key),
      UpdateExpression:
        "SET kind = :kind, pipeline = :pipeline, #key = :key, reason = :reason, lastAt = :now, firstAt = if_not_exists(firstAt, :now) ADD attempts :one",
      ExpressionAttributeNames: { "#key": "key" },
      ExpressionAttributeValues: {
        ":kind": S("parked"),
        ":pipeline": S(pipeline),
        ":key": S(key),
        ":reason": S(reason.slice(0, 2000)),
        ":now": N(now),
        ":one": N(1),
      },
    }),
  );
}

export async function unparkKey(client: DynamoDBClient, tableName: string, pipeline: string, key: string): Promise<void> {
  await client.send(new DeleteItemCommand({ TableName: tableName, Key: itemKey(pipeline, key) }));
}
