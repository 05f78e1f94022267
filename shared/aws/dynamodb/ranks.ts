// The candidates of Window Top-N after a window aggregation (core/pipelines/rank.ts), in the results
// table: one item per (pipeline, window end, key group), holding the group's best rows of the windows
// ending there. It is written under the version of the group's results item it was computed from, so a
// unit that computed it from older results never overwrites a newer one. The ranking stage reads a
// window end's items with one query.
import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { RankCandidates } from "../../core/pipelines/rank.ts";
import { type Item, N, num, S } from "./attributes.ts";
import { padTime } from "./keys.ts";
import { batchGetAll, putItem, queryAll, updateItem } from "./requests.ts";

/** The most a candidates item's body may take: DynamoDB's 400 KB item, less room for its keys. */
const MAX_CANDIDATE_BYTES = 380 * 1024;

const partitionOf = (pipeline: string, end: number) => `T#${pipeline}#${padTime(end)}`;

/** Writes a key group's candidates for the windows ending at `end`, unless a newer version is there; false when one is. */
export async function writeRankCandidates(
  client: DynamoDBClient,
  tableName: string,
  at: { pipeline: string; end: number; group: number; version: number },
  candidates: readonly RankCandidates[],
  options: { ttlSeconds?: number; now: number },
): Promise<boolean> {
  const body = deflateRawSync(JSON.stringify(candidates));
  if (body.byteLength > MAX_CANDIDATE_BYTES)
    throw new Error(
      `the ranking candidates of key group ${at.group} for windows ending ${new Date(at.end).toISOString()} are ${body.byteLength} bytes deflated; at most ${MAX_CANDIDATE_BYTES} fit an item: rank fewer rows (N) or partition by fewer values`,
    );
  const item: Item = {
    pk: S(partitionOf(at.pipeline, at.end)),
    sk: S(String(at.group).padStart(5, "0")),
    v: N(at.version),
    d: { B: body },
    ...(options.ttlSeconds === undefined ? {} : { ttl: N(Math.floor(options.now / 1000) + options.ttlSeconds) }),
  };
  return putItem(client, tableName, item, { condition: "attribute_not_exists(pk) OR v <= :v", values: { ":v": N(at.version) } });
}

/** Every key group's candidates for the windows ending at `end`. */
export async function readRankCandidates(
  client: DynamoDBClient,
  tableName: string,
  pipeline: string,
  end: number,
): Promise<RankCandidates[][]> {
  const items = await queryAll(client, {
    TableName: tableName,
    KeyConditionExpression: "pk = :pk",
    ExpressionAttributeValues: { ":pk": S(partitionOf(pipeline, end)) },
    ConsistentRead: true,
  });
  return items
    .filter((item) => num(item, "v") !== undefined)
    .map((item) => JSON.parse(inflateRawSync(item.d?.B ?? new Uint8Array()).toString("utf8")) as RankCandidates[]);
}

/**
 * The window ends whose candidates changed and are not ranked yet, one small item per pipeline: a unit
 * adds the ends it wrote candidates for before its groups' marks move, the ranking removes those it
 * ranked. A unit that stopped after moving a mark, before reporting its ends, leaves them here: the
 * next ranking (a later epoch's, whose units find nothing to fire in those groups) still ranks them.
 */
const pendingKey = (pipeline: string) => ({ pk: `T#${pipeline}#pending`, sk: "ends" });

/** Adds ends to, or deletes them from, a pipeline's pending ends. */
async function changePendingRankEnds(
  client: DynamoDBClient,
  tableName: string,
  pipeline: string,
  change: "ADD" | "DELETE",
  ends: readonly number[],
): Promise<void> {
  if (ends.length === 0) return;
  await updateItem(client, tableName, pendingKey(pipeline), { expression: `${change} e :e`, values: { ":e": { NS: ends.map(String) } } });
}

export const notePendingRankEnds = (client: DynamoDBClient, tableName: string, pipeline: string, ends: readonly number[]) =>
  changePendingRankEnds(client, tableName, pipeline, "ADD", ends);

export const clearPendingRankEnds = (client: DynamoDBClient, tableName: string, pipeline: string, ends: readonly number[]) =>
  changePendingRankEnds(client, tableName, pipeline, "DELETE", ends);

export async function readPendingRankEnds(client: DynamoDBClient, tableName: string, pipeline: string): Promise<number[]> {
  const [item] = await batchGetAll(client, tableName, [pendingKey(pipeline)]);
  return (item?.e?.NS ?? []).map(Number);
}
