// The window-fate rules, in one place, as Flink's WindowOperator has them: for an element and the
// watermark it is applied at, which windows take it and which refuse it as late; when a window fires
// (again); when its state may go. Ingest and closing both ask here; neither decides on its own.
// Pure. Panes' watermark W is Flink's + 1: a window [start, end) fires at W ≥ end, is late (takes
// nothing more, its state may go) at W ≥ end + allowedLateness.
import { firstWindowEndOfPane, paneOf, type TimeWindow, type WindowSpec, windowsOfPane } from "./assigners.ts";

/** Flink's isWindowLate: past its cleanup time, the window takes nothing and its state may be purged. */
export function isWindowLate(end: number, watermark: number | undefined, allowedLateness: number): boolean {
  return watermark !== undefined && end + allowedLateness <= watermark;
}

/** The watermark has passed the window's end: it fires (or, with new contents, fires again). */
export function isWindowDue(end: number, watermark: number | undefined): boolean {
  return watermark !== undefined && end <= watermark;
}

/** Flink's isElementLate (for an element in no window, or refused by all of its windows). */
export function isElementLate(ts: number, watermark: number | undefined, allowedLateness: number): boolean {
  return watermark !== undefined && ts + allowedLateness < watermark;
}

/**
 * Where an element of a fixed-window pipeline (tumbling, sliding, cumulate) goes at watermark W: its
 * pane, and `from`, the smallest end among its windows that still take it. The windows of a pane,
 * ordered by end, are refused from the oldest, so the ones that take it are exactly those ending at or
 * after `from`: the pane keeps the element in a layer tagged `from`, and a window reads only the layers
 * with `from ≤ its end`. Windows that can never see it are listed in `refused`.
 */
export type FixedFate =
  | { kind: "taken"; pane: number; from: number; refused: TimeWindow[] }
  /** every window of the element refused it */
  | { kind: "late"; pane: number; refused: TimeWindow[] }
  /** the element lies in no window (sliding windows whose slide exceeds their size leave gaps) */
  | { kind: "none"; late: boolean };

export function fixedFateOf(spec: WindowSpec, allowedLateness: number, ts: number, watermark: number | undefined): FixedFate {
  const pane = paneOf(spec, ts);
  // Most events are on time for every window of their pane: the oldest window's end says so, no list needed.
  const first = firstWindowEndOfPane(spec, pane);
  if (first !== undefined && !isWindowLate(first, watermark, allowedLateness)) return { kind: "taken", pane, from: first, refused: [] };
  const windows = windowsOfPane(spec, pane);
  if (windows.length === 0) return { kind: "none", late: isElementLate(ts, watermark, allowedLateness) };
  const refused = windows.filter((w) => isWindowLate(w.end, watermark, allowedLateness));
  const taking = windows[refused.length];
  if (taking === undefined) return { kind: "late", pane, refused };
  return { kind: "taken", pane, from: taking.end, refused };
}

/** A layer of a pane's state belongs to a window when the window ends at or after the layer's `from`. */
export function layerInWindow(from: number, window: TimeWindow): boolean {
  return from <= window.end;
}

/**
 * When a result needs writing: never written → version 1; contents grew (window contents only ever
 * grow) → a new version; an early result followed by the final one with the same contents → a new
 * version marked final. Same contents already final → settled. Fewer contents than stored: this run
 * read older state than a concurrent run that already wrote more → stale (look again later).
 */
export type LedgerDecision = { write: number } | { settled: true } | { stale: true };

export function ledgerDecisionOf(
  computed: { count: number; final: boolean },
  stored: { version: number; count: number; final: boolean } | undefined,
): LedgerDecision {
  if (stored === undefined) return { write: 1 };
  if (computed.count < stored.count) return { stale: true };
  if (computed.count > stored.count) return { write: stored.version + 1 };
  if (computed.final && !stored.final) return { write: stored.version + 1 };
  return { settled: true };
}

/** Early results: at most every `every` ms of processing time per window, and only when the contents grew. */
export function earlyDueOf(
  stored: { count: number; final: boolean; firedAt: number } | undefined,
  count: number,
  now: number,
  every: number,
): boolean {
  if (stored === undefined) return true;
  if (stored.final || stored.count >= count) return false;
  return now - stored.firedAt >= every;
}
