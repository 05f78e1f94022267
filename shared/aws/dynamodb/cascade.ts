// The partials of a cascade (core/pipelines/cascade.ts), in the state table: one item per (reader,
// reader key group) partition and (bucket, source key group, source window end) sort key, holding that
// source results item's contribution to the reader group's keys. It is written under the version of
// the source results item it was computed from, so an older computation never overwrites a newer one;
// the reader's unit reads a range of buckets of its group with one query.
import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type AggregateState, type StoredState, stateFromJson, stateToJson } from "../../core/aggregates/state.ts";
import { type Item, N, S, str } from "./attributes.ts";
import { padTime } from "./keys.ts";
import { putItem, queryAll } from "./requests.ts";

/** The most a partial's body may take: DynamoDB's 400 KB item, less room for its keys. */
const MAX_PARTIAL_BYTES = 380 * 1024;

const partitionOf = (reader: string, group: number) => `F#${reader}#${String(group).padStart(5, "0")}`;
const sortKeyOf = (bucket: number, sourceGroup: number, sourceEnd: number) =>
  `${padTime(bucket)}#${String(sourceGroup).padStart(5, "0")}#${padTime(sourceEnd)}`;

export interface PartialAt {
  reader: string;
  group: number;
  bucket: number;
  /** the source results item it was computed from */
  source: { group: number; end: number; version: number };
}

/** Writes a reader group's partial from one source results item, unless one from a newer version is there; false when one is. */
export async function writeCascadePartial(
  client: DynamoDBClient,
  tableName: string,
  at: PartialAt,
  keys: ReadonlyMap<string, AggregateState>,
  options: { ttlSeconds?: number },
): Promise<boolean> {
  const body = deflateRawSync(JSON.stringify([...keys].map(([key, state]) => [key, stateToJson(state)])));
  if (body.byteLength > MAX_PARTIAL_BYTES)
    throw new Error(
      `the rows of key group ${at.source.group} ending ${new Date(at.source.end).toISOString()} give pipeline ${at.reader}'s key group ${at.group} ${body.byteLength} bytes of state deflated; at most ${MAX_PARTIAL_BYTES} fit an item: raise ${at.reader}'s keyGroups`,
    );
  const item: Item = {
    pk: S(partitionOf(at.reader, at.group)),
    sk: S(sortKeyOf(at.bucket, at.source.group, at.source.end)),
    v: N(at.source.version),
    d: { B: body },
    ...(options.ttlSeconds === undefined ? {} : { ttl: N(options.ttlSeconds) }),
  };
  return putItem(client, tableName, item, { condition: "attribute_not_exists(pk) OR v <= :v", values: { ":v": N(at.source.version) } });
}

/** A reader group's partials of the buckets from `from` to `to` (both included), each source item's once. */
export async function readCascadePartials(
  client: DynamoDBClient,
  tableName: string,
  reader: string,
  group: number,
  range: { from: number; to: number },
): Promise<{ bucket: number; keys: Map<string, AggregateState> }[]> {
  if (range.to < range.from) return [];
  const items = await queryAll(client, {
    TableName: tableName,
    KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
    ExpressionAttributeValues: {
      ":pk": S(partitionOf(reader, group)),
      ":from": S(padTime(Math.max(0, range.from))),
      ":to": S(`${padTime(Math.min(Number.MAX_SAFE_INTEGER, range.to))}#~`),
    },
    ConsistentRead: true,
  });
  return items.map((item) => {
    const entries = JSON.parse(inflateRawSync(item.d?.B ?? new Uint8Array()).toString("utf8")) as [string, StoredState][];
    return {
      bucket: Number((str(item, "sk") ?? "").slice(0, 16)),
      keys: new Map(entries.map(([key, stored]) => [key, stateFromJson(stored)])),
    };
  });
}
