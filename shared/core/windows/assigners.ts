// Window assignment with Flink's semantics, on panes: a window of a tumbling or sliding pipeline is a
// run of panes of length gcd(size, slide), a cumulating window (Flink SQL CUMULATE) a run of panes of
// length `step` from the start of its period. Sessions are kept per key (sessions.ts), not in panes.
// Pure: times are epoch milliseconds, windows are half-open [start, end).
import { alignDown, alignUp, gcd } from "./arithmetic.ts";

export type WindowSpec =
  | { type: "tumbling"; size: number }
  | { type: "sliding"; size: number; slide: number }
  | { type: "session"; gap: number }
  | { type: "cumulate"; size: number; step: number };

export interface TimeWindow {
  start: number;
  end: number;
}

/** Tumbling windows are sliding windows whose slide is their size. */
function sizeAndSlide(spec: WindowSpec): { size: number; slide: number } {
  switch (spec.type) {
    case "tumbling":
      return { size: spec.size, slide: spec.size };
    case "sliding":
      return { size: spec.size, slide: spec.slide };
    case "session":
    case "cumulate":
      throw new TypeError(`${spec.type} windows are not sliding windows`);
  }
}

/** Cumulating windows of the period holding `ts` that contain it: [period start, k·step) for each end after ts. */
function cumulatingWindows(spec: { size: number; step: number }, ts: number): TimeWindow[] {
  const start = alignDown(ts, spec.size);
  const windows: TimeWindow[] = [];
  for (let end = alignDown(ts, spec.step) + spec.step; end <= start + spec.size; end += spec.step) windows.push({ start, end });
  return windows;
}

export function paneSizeOf(spec: WindowSpec): number {
  if (spec.type === "session") return spec.gap;
  if (spec.type === "cumulate") return spec.step;
  const { size, slide } = sizeAndSlide(spec);
  return gcd(size, slide);
}

/** Start of the pane that holds an event at `ts`. */
export function paneOf(spec: WindowSpec, ts: number): number {
  return alignDown(ts, paneSizeOf(spec));
}

/** Every fixed window (tumbling, sliding or cumulating) that contains `ts`, earliest end first — Flink's assignment. */
export function windowsOf(spec: WindowSpec, ts: number): TimeWindow[] {
  if (spec.type === "cumulate") return cumulatingWindows(spec, ts);
  const { size, slide } = sizeAndSlide(spec);
  const windows: TimeWindow[] = [];
  for (let start = alignUp(ts - size + 1, slide); start <= ts; start += slide) {
    windows.push({ start, end: start + size });
  }
  return windows;
}

/** Every fixed window that contains the whole pane starting at `paneStart`, oldest first. */
export function windowsOfPane(spec: WindowSpec, paneStart: number): TimeWindow[] {
  if (spec.type === "cumulate") return cumulatingWindows(spec, paneStart);
  const { size, slide } = sizeAndSlide(spec);
  const pane = gcd(size, slide);
  const windows: TimeWindow[] = [];
  for (let start = alignUp(paneStart + pane - size, slide); start <= paneStart; start += slide) {
    windows.push({ start, end: start + size });
  }
  return windows;
}

/** The end of the oldest window that contains the pane starting at `paneStart` (undefined: none does) — windowsOfPane(…)[0], without the list. */
export function firstWindowEndOfPane(spec: WindowSpec, paneStart: number): number | undefined {
  if (spec.type === "session") return undefined;
  if (spec.type === "cumulate") return alignDown(paneStart, spec.step) + spec.step;
  const { size, slide } = sizeAndSlide(spec);
  const start = alignUp(paneStart + gcd(size, slide) - size, slide);
  return start <= paneStart ? start + size : undefined;
}

/** Pane starts that make up a fixed window. */
export function panesOfWindow(spec: WindowSpec, window: TimeWindow): number[] {
  const pane = paneSizeOf(spec);
  const starts: number[] = [];
  for (let start = window.start; start < window.end; start += pane) starts.push(start);
  return starts;
}

/**
 * The latest end among the windows an event at `ts` can belong to, or undefined when it belongs to
 * none (sliding windows with slide > size leave gaps). An event is too late once this end plus the
 * allowed lateness is at or behind the watermark.
 */
export function lastWindowEndOf(spec: WindowSpec, ts: number): number | undefined {
  if (spec.type === "session") return ts + spec.gap;
  if (spec.type === "cumulate") return alignDown(ts, spec.size) + spec.size;
  const { size, slide } = sizeAndSlide(spec);
  const start = alignDown(ts, slide);
  return ts < start + size ? start + size : undefined;
}

/**
 * Whether a watermark moving from `from` to `to` closes any window: for fixed windows, an end lies in
 * (from, to]; for sessions, any advance may close one. With no watermark yet, any first one may.
 */
export function closesWindows(spec: WindowSpec, from: number | undefined, to: number): boolean {
  if (from === undefined) return true;
  if (to <= from) return false;
  if (spec.type === "session") return true;
  if (spec.type === "cumulate") return alignDown(from, spec.step) + spec.step <= to;
  const { size, slide } = sizeAndSlide(spec);
  const nextEnd = alignUp(from - size + 1, slide) + size;
  return nextEnd <= to;
}

/** Every fixed window whose end is in (from, to], by end (then start): the windows a watermark moving from `from` to `to` passes. */
export function windowsEndingIn(spec: WindowSpec, from: number, to: number): TimeWindow[] {
  const windows: TimeWindow[] = [];
  if (spec.type === "session" || !(to > from)) return windows;
  if (spec.type === "cumulate") {
    for (let end = alignUp(from + 1, spec.step); end <= to; end += spec.step)
      windows.push({ start: alignDown(end - spec.step, spec.size), end });
    return windows;
  }
  const { size, slide } = sizeAndSlide(spec);
  for (let start = alignUp(from + 1 - size, slide); start + size <= to; start += slide) windows.push({ start, end: start + size });
  return windows;
}
