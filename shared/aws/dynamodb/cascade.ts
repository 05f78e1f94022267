// The partials of a cascade (core/pipelines/cascade.ts), in the state table: one item per (reader,
// reader key group) partition and (bucket, source key group, source window end) sort key, holding that
// source results item's contribution to the reader group's keys — in as many parts as its state needs
// (DynamoDB's 400 KB item), the keys in order, so that the parts are a function of the item. Each part
// is written under the version of the source results item it was computed from, so an older
// computation never overwrites a newer one, and the reader, which reads a range of buckets of its group
// with one query, takes only the parts of the newest version of each source item.
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
/** A part's sort key: its source item's, then `#` and the part's number (PART_DIGITS digits). */
const PART_DIGITS = 4;
const partSortKeyOf = (at: PartialAt, part: number) =>
  `${sortKeyOf(at.bucket, at.source.group, at.source.end)}#${String(part).padStart(PART_DIGITS, "0")}`;

export interface PartialAt {
  reader: string;
  group: number;
  bucket: number;
  /** the source results item it was computed from */
  source: { group: number; end: number; version: number };
}

/** The parts of a partial: its keys in order, in the fewest equal runs (1, 2, 4, …) whose deflated bodies each fit an item. */
function partsOf(at: PartialAt, keys: ReadonlyMap<string, AggregateState>): Buffer[] {
  const entries = [...keys].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, state]) => [key, stateToJson(state)] as const);
  for (let count = 1; ; count *= 2) {
    const size = Math.max(1, Math.ceil(entries.length / count));
    const bodies: Buffer[] = [];
    for (let from = 0; from < entries.length || bodies.length === 0; from += size)
      bodies.push(deflateRawSync(JSON.stringify(entries.slice(from, from + size))));
    const over = bodies.findIndex((b) => b.byteLength > MAX_PARTIAL_BYTES);
    if (over < 0) return bodies;
    if (size === 1)
      throw new Error(
        `the rows of key group ${at.source.group} ending ${new Date(at.source.end).toISOString()} give key ${JSON.stringify(entries[over]?.[0])} of pipeline ${at.reader} ${bodies[over]?.byteLength} bytes of state deflated; at most ${MAX_PARTIAL_BYTES} fit an item`,
      );
  }
}

/** Writes a reader group's partial from one source results item (its parts), unless one from a newer version is there; false when one is. */
export async function writeCascadePartial(
  client: DynamoDBClient,
  tableName: string,
  at: PartialAt,
  keys: ReadonlyMap<string, AggregateState>,
  options: { ttlSeconds?: number },
): Promise<boolean> {
  const parts = partsOf(at, keys);
  const written = await Promise.all(
    parts.map((body, part) => {
      const item: Item = {
        pk: S(partitionOf(at.reader, at.group)),
        sk: S(partSortKeyOf(at, part)),
        v: N(at.source.version),
        d: { B: body },
        ...(options.ttlSeconds === undefined ? {} : { ttl: N(options.ttlSeconds) }),
      };
      return putItem(client, tableName, item, { condition: "attribute_not_exists(pk) OR v <= :v", values: { ":v": N(at.source.version) } });
    }),
  );
  return written.every(Boolean);
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
  // each source item's parts of its newest version (an older version's parts beyond the newer's count stay behind)
  const newest = new Map<string, number>();
  const sourceOf = (item: Item) => (str(item, "sk") ?? "").slice(0, -(PART_DIGITS + 1));
  for (const item of items) newest.set(sourceOf(item), Math.max(newest.get(sourceOf(item)) ?? 0, Number(item.v?.N ?? 0)));
  return items
    .filter((item) => Number(item.v?.N ?? 0) === newest.get(sourceOf(item)))
    .map((item) => {
      const entries = JSON.parse(inflateRawSync(item.d?.B ?? new Uint8Array()).toString("utf8")) as [string, StoredState][];
      return {
        bucket: Number((str(item, "sk") ?? "").slice(0, 16)),
        keys: new Map(entries.map(([key, stored]) => [key, stateFromJson(stored)])),
      };
    });
}
