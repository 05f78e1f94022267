// DDSketch as stored and merged. Two faults of @datadog/sketches-js 2.x are worked around here:
// - its protobuf round trip (DDSketch.fromProto) gives a store whose key range does not match its bins,
//   and merging such a sketch misplaces counts (a decoded sketch of 0.001 merged with one of 0.0773
//   reported a maximum of 0.0125);
// - DDSketch.merge does not merge the negative values' store (0.001 merged with -0.001 gave a median
//   of +0.001).
// So a sketch is kept in an exact form of our own — its relative accuracy, its zero count, and each
// store's counts from its first non-empty key — and sketches are decoded and merged by adding counts
// key by key to a fresh sketch's stores, the same path as accepting values.
import { DDSketch } from "@datadog/sketches-js";

type Store = DDSketch["store"];

/** A store's counts: [first key, counts of consecutive keys from it]. */
export type StoreCounts = [number, number[]];

export interface SketchCounts {
  /** relative accuracy (it fixes the key mapping) */
  a: number;
  /** values too small to index (and zeros) */
  z: number;
  p?: StoreCounts;
  n?: StoreCounts;
}

function storeCounts(store: Store): StoreCounts | undefined {
  // Every bin, by its own offset: independent of the store's minKey/maxKey bookkeeping.
  const first = store.bins.findIndex((c) => c > 0);
  if (first < 0) return undefined;
  let last = store.bins.length - 1;
  while ((store.bins[last] ?? 0) === 0) last--;
  return [store.offset + first, store.bins.slice(first, last + 1)];
}

export function encodeSketch(sketch: DDSketch, relativeAccuracy: number): SketchCounts {
  const p = storeCounts(sketch.store);
  const n = storeCounts(sketch.negativeStore);
  return { a: relativeAccuracy, z: sketch.zeroCount, ...(p ? { p } : {}), ...(n ? { n } : {}) };
}

function fill(store: Store, counts: StoreCounts | undefined): number {
  if (!counts) return 0;
  let total = 0;
  counts[1].forEach((c, i) => {
    if (c > 0) store.add(counts[0] + i, c);
    total += c;
  });
  return total;
}

export function decodeSketch(counts: SketchCounts): DDSketch {
  const sketch = new DDSketch({ relativeAccuracy: counts.a });
  sketch.zeroCount = counts.z;
  sketch.count = counts.z + fill(sketch.store, counts.p) + fill(sketch.negativeStore, counts.n);
  return sketch;
}

export function copySketch(sketch: DDSketch, relativeAccuracy: number): DDSketch {
  return decodeSketch(encodeSketch(sketch, relativeAccuracy));
}

/** Adds `from`'s counts to `into` (both of the same relative accuracy). */
export function mergeSketch(into: DDSketch, from: DDSketch): void {
  into.zeroCount += from.zeroCount;
  into.count += from.zeroCount + fill(into.store, storeCounts(from.store)) + fill(into.negativeStore, storeCounts(from.negativeStore));
}
