// How Panes names things in DynamoDB: item keys, fixed-width numbers that sort as strings, and the
// spread of index partitions. Changing any of these is a storage format change.
import { hash32 } from "../../core/hash.ts";

/** Sort keys hold times as 16-digit zero-padded strings (times are ≥ 0 and < 10^16 ms). */
export function padTime(ms: number): string {
  return String(ms).padStart(16, "0");
}

/** The largest time a padded sort key holds (16 digits, and exact as a double). */
const MAX_PADDED_TIME = Number.MAX_SAFE_INTEGER;

/**
 * An index sort key that is unique per item: a time (clamped to the 16-digit range, so it sorts as
 * text), then the item's own key. Equal times still give distinct sort keys: dynalite loses an item at
 * a page boundary when an index holds many equal sort keys, and ties need no order anyway.
 */
export function uniqueTimeKey(ms: number, item: { pk: string; sk: string }): string {
  return `${padTime(Math.min(MAX_PADDED_TIME, Math.max(0, Math.floor(ms))))}#${item.pk}#${item.sk}`;
}

/** The bounds of a BETWEEN over uniqueTimeKey values for times in [from, to]. */
export function uniqueTimeRange(from: number, to: number): { from: string; to: string } {
  const clamp = (ms: number) => padTime(Math.min(MAX_PADDED_TIME, Math.max(0, Math.floor(ms))));
  return { from: `${clamp(from)}#`, to: `${clamp(to)}~` };
}

/** The time of a uniqueTimeKey value. */
export const timeOfUniqueKey = (value: string) => Number(value.slice(0, 16));

/** Kinesis sequence numbers are decimal strings of up to 129 digits; padded they compare as strings. */
export function padSequence(sequenceNumber: string | bigint): string {
  return String(sequenceNumber).padStart(130, "0");
}

/** Index partitions per pipeline for the due-pane index and the results-by-time index (avoids hot partitions). */
export const INDEX_PARTITIONS = 8;

export function indexPartitionOf(pipeline: string, key: string): string {
  return `${pipeline}#${hash32(key) % INDEX_PARTITIONS}`;
}

export function indexPartitionsOf(pipeline: string): string[] {
  return Array.from({ length: INDEX_PARTITIONS }, (_, i) => `${pipeline}#${i}`);
}

/** State table: panes of a (pipeline, key) live in one partition, sorted by pane start. */
export function paneItemKey(pipeline: string, key: string, paneStart: number): { pk: string; sk: string } {
  return { pk: `P#${pipeline}#${key}`, sk: padTime(paneStart) };
}

/** State table: the session set of a (pipeline, key); sorts after the key's panes. */
export function sessionsItemKey(pipeline: string, key: string): { pk: string; sk: string } {
  return { pk: `P#${pipeline}#${key}`, sk: "sessions" };
}

export function parsePanePartition(pk: string): { pipeline: string; key: string } {
  const rest = pk.slice(2);
  const at = rest.indexOf("#");
  return { pipeline: rest.slice(0, at), key: rest.slice(at + 1) };
}

/** State table: per (pipeline, shard) checkpoint. */
export function checkpointItemKey(pipeline: string, shardId: string): { pk: string; sk: string } {
  return { pk: `C#${pipeline}`, sk: shardId };
}

/** State table: how far the consumer of a shard has read, whatever the pipelines. */
export function shardProgressItemKey(shardId: string): { pk: string; sk: string } {
  return { pk: `S#${shardId}`, sk: "progress" };
}

/** State table: a shard's log, one item per entry, in order (ordinals are 12-digit, zero-padded). */
export function logItemKey(shardId: string, ordinal: number): { pk: string; sk: string } {
  return { pk: `L#${shardId}`, sk: String(ordinal).padStart(12, "0") };
}

/** State table: the shards that have a log (the closing logic folds each of them). */
export function logShardItemKey(shardId: string): { pk: string; sk: string } {
  return { pk: "LOGS", sk: shardId };
}

/** State table: one bucket of a fixed-window pipeline's key index (core/windows/key-index.ts). */
export function keyBucketItemKey(pipeline: string, bucket: number): { pk: string; sk: string } {
  return { pk: `K#${pipeline}`, sk: String(bucket).padStart(3, "0") };
}

/** State table: the pipeline's watermark. */
export function watermarkItemKey(pipeline: string): { pk: string; sk: string } {
  return { pk: `W#${pipeline}`, sk: "watermark" };
}

/**
 * Results table: one item per (pipeline, key, window start) — and end, for cumulating windows (they
 * share their start) and sessions (a session that grows or merges is a new result); the latest version wins.
 */
export function resultItemKey(pipeline: string, key: string, start: number, end?: number): { pk: string; sk: string } {
  return { pk: `${pipeline}#${key}`, sk: end === undefined ? padTime(start) : `${padTime(start)}#${padTime(end)}` };
}
