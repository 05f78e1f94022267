// Watermark math (docs/DESIGN.md §Semantics), pure: the watermark of a pipeline is the minimum, over the
// shards that are not idle, of (max event time − outOfOrderness). When every shard is idle, the most
// advanced shard sets it (as Flink's watermark valve does once all its inputs are idle).

/** A stand-in for +∞: a watermark here fires every window (used to drain a bounded input). */
export const END_OF_TIME = 8_640_000_000_000_000;

export interface ShardProgress {
  /** greatest event time applied from the shard; undefined until the shard has delivered an event */
  maxEventTime?: number;
  /** wall-clock ms of the shard's last applied event (or of when it was first seen) */
  updatedAt: number;
  /** the shard holds records its consumer has not applied yet: a slow or failing consumer is not idle */
  pending?: boolean;
}

/** Idle: no new event for the idle timeout, and nothing waiting to be applied. */
export function isIdle(shard: ShardProgress, idleTimeout: number, now: number): boolean {
  return shard.pending !== true && now - shard.updatedAt >= idleTimeout;
}

/** The watermark the shards allow, or undefined while an active shard has not delivered anything yet. */
export function watermarkOf(
  shards: readonly ShardProgress[],
  outOfOrderness: number,
  idleTimeout: number,
  now: number,
): number | undefined {
  const active = shards.filter((s) => !isIdle(s, idleTimeout, now));
  if (active.length > 0) {
    let min = Number.POSITIVE_INFINITY;
    for (const shard of active) {
      if (shard.maxEventTime === undefined) return undefined;
      min = Math.min(min, shard.maxEventTime);
    }
    return min - outOfOrderness;
  }
  const progressed = shards.filter((s) => s.maxEventTime !== undefined).map((s) => s.maxEventTime as number);
  return progressed.length === 0 ? undefined : Math.max(...progressed) - outOfOrderness;
}

/** What an ingest container knows of the watermarks: each pipeline's, and the reset generation it belongs to (absent: 0). */
export interface KnownWatermarks {
  watermarks: ReadonlyMap<string, number>;
  generations: ReadonlyMap<string, number>;
}

/**
 * What a container knows after hearing `incoming` (a log entry's watermarks, or the table's): per
 * pipeline, a watermark only moves forward — unless it comes from a newer reset generation (an
 * operator set it back). A pipeline `incoming` does not name keeps the watermark it had: a notice
 * that could not compute one pipeline's watermark never makes its late events look on time.
 */
export function mergeWatermarks(known: KnownWatermarks, incoming: KnownWatermarks): KnownWatermarks {
  const watermarks = new Map(known.watermarks);
  const generations = new Map(known.generations);
  for (const [pipeline, value] of incoming.watermarks) {
    const had = known.watermarks.get(pipeline);
    const hadGeneration = known.generations.get(pipeline) ?? 0;
    const generation = incoming.generations.get(pipeline) ?? 0;
    if (generation < hadGeneration) continue;
    if (had === undefined || generation > hadGeneration || value > had) {
      watermarks.set(pipeline, value);
      generations.set(pipeline, generation);
    }
  }
  return { watermarks, generations };
}

/**
 * A pipeline's watermark history: samples of (watermark, wall-clock ms), oldest first, at most one per
 * `sampleEveryMs` from the coordinator, and one at every operator reset (of the watermark it replaced).
 * Between two samples the watermark only moved forward. It bounds how far back a reset may reach: a
 * pane is cleared (and expires `retention.tombstones` later, wall clock) only once the watermark passed
 * its windows, so the windows after T are intact while the watermark passed T less than the retention
 * ago.
 */
export interface WatermarkHistory {
  samples: readonly (readonly [watermark: number, at: number])[];
  /**
   * The highest watermark among the samples dropped as older than the retention needs (or, for a
   * pipeline that closed windows before its history began, the watermark it began at); absent while the
   * history is whole. No reset reaches below it.
   */
  dropped?: number;
}

/** Samples are kept this much longer than the tombstone retention, and taken at least this far apart. */
export const HISTORY_SAMPLE_MS = 3_600_000;
const MAX_SAMPLES = 256;

/** How far apart the coordinator takes samples for a retention: an hour, or more for retentions over ~10 days. */
export function historySampleMs(tombstoneRetentionMs: number): number {
  return Math.max(HISTORY_SAMPLE_MS, Math.ceil(tombstoneRetentionMs / (MAX_SAMPLES - 8)));
}

/** The history with (watermark, at) appended, and the samples no reset can need any more dropped. */
export function withSample(history: WatermarkHistory, watermark: number, at: number, tombstoneRetentionMs: number): WatermarkHistory {
  const samples = [...history.samples, [watermark, at] as const];
  // A sample is needed while its successor might be the first past a reset's target and its own time
  // is within the retention: keep everything from the last sample older than the horizon on.
  const horizon = at - tombstoneRetentionMs - historySampleMs(tombstoneRetentionMs);
  let first = 0;
  let dropped = history.dropped;
  while (first + 1 < samples.length && (samples[first + 1] as readonly [number, number])[1] < horizon) {
    dropped = Math.max(dropped ?? Number.NEGATIVE_INFINITY, (samples[first] as readonly [number, number])[0]);
    first++;
  }
  return { samples: samples.slice(first), ...(dropped === undefined ? {} : { dropped }) };
}

/**
 * The earliest time a watermark may be reset to at `now` without reaching windows whose panes may have
 * expired (−∞: any), given the watermark now (`current`), `marginMs` short of the retention for the closing units still running. For a
 * target T, the panes of windows after T were cleared no earlier than the last sample before the first
 * sample past T; without such a sample (T is below every sample), no earlier than the first sample if
 * the history is whole, and at an unknown time if it was trimmed (nor below what was dropped).
 */
export function earliestReset(
  history: WatermarkHistory,
  current: number | undefined,
  tombstoneRetentionMs: number,
  now: number,
  marginMs = HISTORY_SAMPLE_MS,
): number {
  let floor = history.dropped ?? Number.NEGATIVE_INFINITY;
  // The watermark now is the last sample: it may have passed windows since the last one taken.
  const samples = current === undefined ? history.samples : [...history.samples, [current, now] as const];
  for (const [k, [watermark, at]] of samples.entries()) {
    const before = samples[k - 1];
    const clearedFrom = before?.[1] ?? (history.dropped === undefined ? at : Number.NEGATIVE_INFINITY);
    if (clearedFrom + tombstoneRetentionMs - marginMs <= now) floor = Math.max(floor, watermark);
  }
  return floor;
}
