// How Panes names things in DynamoDB: item keys, fixed-width numbers that sort as strings, and the
// spread of index partitions. Changing any of these is a storage format change.
import { createHash } from "node:crypto";

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

/** DynamoDB sort keys hold at most 1,024 bytes: a longer key is named in a session set's sort key by its hash. */
const MAX_KEY_IN_SORT_KEY_BYTES = 1000;

/**
 * State table: the session set of a key, in its key group's partition (sorts between the group's panes
 * and its mark; a session pipeline has neither). A key too long for a sort key is named by its SHA-256
 * (the item holds the key itself).
 */
export function sessionsItemKey(pipeline: string, group: number, key: string): { pk: string; sk: string } {
  const sk = Buffer.byteLength(key) <= MAX_KEY_IN_SORT_KEY_BYTES ? `s#${key}` : `h#${createHash("sha256").update(key).digest("hex")}`;
  return { pk: groupPartition(pipeline, group), sk };
}

/** The key a session set's item key names, when its sort key holds it (undefined: named by its hash). */
export function keyOfSessionsItem(item: { pk: string; sk: string }): string | undefined {
  return item.sk.startsWith("s#") ? item.sk.slice(2) : undefined;
}

/** The due index's partition for a key group's session sets: a closing unit queries its groups' own. */
export function duePartitionOf(pipeline: string, group: number): string {
  return `${pipeline}#${group}`;
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

/** State table: a key group's state — its panes (by start) and its mark, or its keys' session sets — in one partition. */
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
