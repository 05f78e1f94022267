// Watermark math (DESIGN.md §Semantics), pure: the watermark of a pipeline is the minimum, over the
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
