// Epochs of the closing runs: each a cut of the shard logs (per shard, the last entry it covers), with
// each pipeline's watermark and safe watermark at that cut. A key group folded to epoch e holds exactly
// the log entries at or below cut(e) (docs/design/key-groups.md). Epochs are numbered, written once
// (attribute_not_exists), and a later epoch's cut never falls behind an earlier one's.
import { type DynamoDBClient, QueryCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import type { Cut } from "../../core/windows/key-group.ts";
import { type Item, N, num, S, str } from "./attributes.ts";
import { epochItemKey, unitsItemKey } from "./keys.ts";
import { batchGetAll, putItem } from "./requests.ts";

export interface Epoch {
  epoch: number;
  cut: Cut;
  /** each pipeline's watermark at this epoch */
  watermarks: ReadonlyMap<string, number>;
  /** each pipeline's safe watermark: every log entry after the cut was planned at least at it */
  safe: ReadonlyMap<string, number>;
  /** wall clock, ms */
  at: number;
}

/** Epoch 0: before any run; its cut covers nothing. */
export const EPOCH_ZERO: Epoch = { epoch: 0, cut: new Map(), watermarks: new Map(), safe: new Map(), at: 0 };

function decodeEpoch(item: Item): Epoch {
  const json = (name: string) => JSON.parse(str(item, name) ?? "[]") as [string, number][];
  return {
    epoch: Number(str(item, "sk")),
    cut: new Map(json("cut")),
    watermarks: new Map(json("w")),
    safe: new Map(json("sw")),
    at: num(item, "at") ?? 0,
  };
}

/** The newest epoch (strongly consistent), or epoch 0. */
export async function readNewestEpoch(client: DynamoDBClient, tableName: string): Promise<Epoch> {
  const { Items } = await client.send(
    new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": S(epochItemKey(0).pk) },
      ScanIndexForward: false,
      Limit: 1,
      ConsistentRead: true,
    }),
  );
  const item = Items?.[0];
  return item === undefined ? EPOCH_ZERO : decodeEpoch(item);
}

/** Epochs by number (strongly consistent); epoch 0 needs no read. A number that was never written is left out. */
export async function readEpochs(client: DynamoDBClient, tableName: string, epochs: Iterable<number>): Promise<Map<number, Epoch>> {
  const wanted = [...new Set(epochs)];
  const found = new Map<number, Epoch>(wanted.includes(0) ? [[0, EPOCH_ZERO]] : []);
  const items = await batchGetAll(client, tableName, wanted.filter((e) => e !== 0).map(epochItemKey));
  for (const item of items) {
    const epoch = decodeEpoch(item);
    found.set(epoch.epoch, epoch);
  }
  return found;
}

/** Writes an epoch if its number is free; false when another run took it. */
export function createEpoch(client: DynamoDBClient, tableName: string, epoch: Epoch, ttlSeconds?: number): Promise<boolean> {
  const { pk, sk } = epochItemKey(epoch.epoch);
  return putItem(
    client,
    tableName,
    {
      pk: S(pk),
      sk: S(sk),
      cut: S(JSON.stringify([...epoch.cut])),
      w: S(JSON.stringify([...epoch.watermarks])),
      sw: S(JSON.stringify([...epoch.safe])),
      at: N(epoch.at),
      ...(ttlSeconds === undefined ? {} : { ttl: N(Math.floor(epoch.at / 1000) + ttlSeconds) }),
    },
    { condition: "attribute_not_exists(pk)" },
  );
}

/** The cut after `previous` that covers `heads` too: shard by shard the later ordinal (a cut never goes back). */
export function cutAfter(previous: Cut, heads: ReadonlyMap<string, number>): Map<string, number> {
  const cut = new Map(previous);
  for (const [shardId, ordinal] of heads) cut.set(shardId, Math.max(ordinal, cut.get(shardId) ?? 0));
  return cut;
}

/**
 * Records that unit `unit` of the `units` a pipeline's key groups were sent to at `epoch` finished;
 * true once all of them have (a redelivered unit adds nothing: the finished units are a set).
 */
export async function noteUnitFinished(
  client: DynamoDBClient,
  tableName: string,
  finished: { pipeline: string; epoch: number; unit: number; units: number; at: number; ends?: readonly number[] },
  ttlSeconds?: number,
): Promise<{ all: boolean; ends: number[] }> {
  const { pk, sk } = unitsItemKey(finished.pipeline, finished.epoch);
  const ends = finished.ends ?? [];
  const { Attributes } = await client.send(
    new UpdateItemCommand({
      TableName: tableName,
      Key: { pk: S(pk), sk: S(sk) },
      // the window ends ranked pipelines' units wrote candidates for, gathered for the ranking
      UpdateExpression: `ADD done :u${ends.length > 0 ? ", ends :e" : ""} SET n = :n${ttlSeconds === undefined ? "" : ", #ttl = :ttl"}`,
      ExpressionAttributeValues: {
        ":u": { NS: [String(finished.unit)] },
        ":n": N(finished.units),
        ...(ends.length > 0 ? { ":e": { NS: ends.map(String) } } : {}),
        ...(ttlSeconds === undefined ? {} : { ":ttl": N(Math.floor(finished.at / 1000) + ttlSeconds) }),
      },
      ...(ttlSeconds === undefined ? {} : { ExpressionAttributeNames: { "#ttl": "ttl" } }),
      ReturnValues: "ALL_NEW",
    }),
  );
  return { all: (Attributes?.done?.NS?.length ?? 0) >= finished.units, ends: (Attributes?.ends?.NS ?? []).map(Number) };
}
