// Window-semantics conformance cases ported from Apache Flink's own tests, kept as data
// (test/conformance/flink/*.json). Each case replays a Flink test harness script — elements in
// arrival order, explicit watermarks — and states what Flink's test asserts. The runners feed the
// same script to the pure window-fate rules and, end to end, to the real ingest and watermark
// handlers on the emulators.
//
// Conventions (so a case reads like the Flink test it came from):
// - Times are epoch milliseconds, exactly as in the Flink test.
// - `watermark` is Flink's watermark value as written in the test (`new Watermark(2999)`). Flink fires
//   a window when watermark ≥ end − 1 (its maxTimestamp); Panes' watermark is Flink's + 1 and fires
//   at watermark ≥ end. The runners add the 1; cases never do.
// - A firing names its window by start and end (Flink's outputs carry maxTimestamp = end − 1, or
//   start/end fields for sessions); `values` holds one number per aggregate of the case.

import type { WindowSpec } from "../../shared/core/windows/assigners.ts";

/** Window parameters in milliseconds, as Panes' pipelines have them after parsing. */
export type ConformanceWindow = WindowSpec;

/** An input element: a key, an event time, and the fields the aggregates read. */
export interface ConformanceElement {
  key: string;
  ts: number;
  [field: string]: string | number;
}

export interface ConformanceFiring {
  key: string;
  start: number;
  end: number;
  /** aggregate name → value, for every aggregate of the case */
  values: Record<string, number>;
}

export type ConformanceStep =
  | { element: ConformanceElement }
  | { watermark: number }
  /** the firings emitted since the previous `expect` step (or the start), in any order; [] asserts none */
  | { expect: ConformanceFiring[] };

export interface ConformanceCase {
  /** unique in the file; usually the Flink test method, with a suffix when one method yields several cases */
  name: string;
  source: { repo: "apache/flink"; commit: string; path: string; method: string };
  /** what was adapted from the original and why (aggregates mapped, rows left out, watermarks derived) */
  notes?: string;
  window: ConformanceWindow;
  /** ms; 0 when the test sets none */
  allowedLateness: number;
  /** aggregates in the pipelines-file syntax over element fields, e.g. { "sum": { "sum": "value" } } */
  aggregates: Record<string, unknown>;
  steps: ConformanceStep[];
  expected?: {
    /**
     * The last firing of every window once the input ends (a final watermark of +∞ is applied
     * after the steps), for tests that assert final results only (SQL ITCases).
     */
    final?: ConformanceFiring[];
    /** elements dropped as late (Flink's late side output), in any order */
    late?: ConformanceElement[];
    /** how many elements were dropped as late (Flink's numLateRecordsDropped), when the test counts them */
    lateDropped?: number;
  };
}

export interface ConformanceFile {
  /** the Flink test class these cases come from */
  source: { repo: "apache/flink"; commit: string; path: string };
  cases: ConformanceCase[];
  /** test methods not ported, each with the reason (processing time, count triggers, evictors, offsets, ...) */
  skipped: { method: string; reason: string }[];
}
