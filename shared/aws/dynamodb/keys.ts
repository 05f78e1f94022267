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

/** Index partitions per pipeline for the due index of session sets (avoids hot partitions). */
export const INDEX_PARTITIONS = 8;

export function indexPartitionOf(pipeline: string, key: string): string {
  return `${pipeline}#${hash32(key) % INDEX_PARTITIONS}`;
}

export function indexPartitionsOf(pipeline: string): string[] {
  return Array.from({ length: INDEX_PARTITIONS }, (_, i) => `${pipeline}#${i}`);
}

/** State table: the session set of a (pipeline, key). */
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

/** State table: the pipeline's watermark. */
export function watermarkItemKey(pipeline: string): { pk: string; sk: string } {
  return { pk: `W#${pipeline}`, sk: "watermark" };
}

/** State table: a key group of a fixed-window pipeline — its panes (by start) and its mark — in one partition. */
export function groupPartition(pipeline: string, group: number): string {
  return `G#${pipeline}#${group}`;
}

/** State table: a key group's pane. */
export function groupPaneItemKey(pipeline: string, group: number, paneStart: number): { pk: string; sk: string } {
  return { pk: groupPartition(pipeline, group), sk: padTime(paneStart) };
}

/** State table: a key group's mark (its epoch and how far its windows are fired); sorts after its panes. */
export function groupMarkItemKey(pipeline: string, group: number): { pk: string; sk: string } {
  return { pk: groupPartition(pipeline, group), sk: "~mark" };
}

/** State table: an epoch of the closing runs (a cut of the shard logs), numbered, newest last. */
export function epochItemKey(epoch: number): { pk: string; sk: string } {
  return { pk: "E", sk: String(epoch).padStart(12, "0") };
}

/** State table: which closing units of a pipeline's epoch have finished (one small item per dispatch). */
export function unitsItemKey(pipeline: string, epoch: number): { pk: string; sk: string } {
  return { pk: `U#${pipeline}`, sk: String(epoch).padStart(12, "0") };
}

/** Results table: a key group's results for the windows ending at `end`, every key of the group in one item. */
export function groupResultsItemKey(pipeline: string, group: number, end: number): { pk: string; sk: string } {
  return { pk: `R#${pipeline}#${group}`, sk: padTime(end) };
}

/** Results table: a pipeline's layout (its number of key groups), written once by the first closing run. */
export function layoutItemKey(pipeline: string): { pk: string; sk: string } {
  return { pk: `R#${pipeline}`, sk: "~layout" };
}
