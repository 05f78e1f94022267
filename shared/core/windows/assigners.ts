// Window assignment with Flink's semantics, on panes: a window of a tumbling or sliding pipeline is a
// run of panes of length gcd(size, slide), a cumulating window (Flink SQL CUMULATE) a run of panes of
// length `step` from the start of its period. Sessions are kept per key (sessions.ts), not in panes.
// A fixed window's offset (Flink's window TVF offset) shifts where its windows and panes start: every
// alignment below is to the multiples of a step plus the offset.
// Pure: times are epoch milliseconds, windows are half-open [start, end).
import { alignDown, alignUp, gcd } from "./arithmetic.ts";

export type WindowSpec =
  | { type: "tumbling"; size: number; offset?: number }
  | { type: "sliding"; size: number; slide: number; offset?: number }
  | { type: "session"; gap: number }
  | { type: "cumulate"; size: number; step: number; offset?: number };

/**
 * Where a fixed window's starts are aligned: its offset modulo the period its windows repeat with (the
 * slide; a tumbling or cumulating window's size), in [0, period). Flink's TimeWindow.getWindowStartWithOffset
 * gives the same starts for every offset congruent to it, negative ones included.
 */
export function alignmentOf(spec: WindowSpec): number {
  if (spec.type === "session" || !spec.offset) return 0;
  const period = spec.type === "sliding" ? spec.slide : spec.size;
  return ((spec.offset % period) + period) % period;
}

/** The largest `shift` + k·step that is ≤ t. */
function down(t: number, step: number, shift: number): number {
  return alignDown(t - shift, step) + shift;
}

/** The smallest `shift` + k·step that is ≥ t. */
function up(t: number, step: number, shift: number): number {
  return alignUp(t - shift, step) + shift;
}

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
function cumulatingWindows(spec: WindowSpec & { type: "cumulate" }, ts: number): TimeWindow[] {
  const shift = alignmentOf(spec);
  const start = down(ts, spec.size, shift);
  const windows: TimeWindow[] = [];
  for (let end = down(ts, spec.step, shift) + spec.step; end <= start + spec.size; end += spec.step) windows.push({ start, end });
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
  return down(ts, paneSizeOf(spec), alignmentOf(spec));
}

/** Every fixed window (tumbling, sliding or cumulating) that contains `ts`, earliest end first — Flink's assignment. */
export function windowsOf(spec: WindowSpec, ts: number): TimeWindow[] {
  if (spec.type === "cumulate") return cumulatingWindows(spec, ts);
  const { size, slide } = sizeAndSlide(spec);
  const windows: TimeWindow[] = [];
  for (let start = up(ts - size + 1, slide, alignmentOf(spec)); start <= ts; start += slide) {
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
  for (let start = up(paneStart + pane - size, slide, alignmentOf(spec)); start <= paneStart; start += slide) {
    windows.push({ start, end: start + size });
  }
  return windows;
}

/** The end of the oldest window that contains the pane starting at `paneStart` (undefined: none does) — windowsOfPane(…)[0], without the list. */
export function firstWindowEndOfPane(spec: WindowSpec, paneStart: number): number | undefined {
  if (spec.type === "session") return undefined;
  if (spec.type === "cumulate") return down(paneStart, spec.step, alignmentOf(spec)) + spec.step;
  const { size, slide } = sizeAndSlide(spec);
  const start = up(paneStart + gcd(size, slide) - size, slide, alignmentOf(spec));
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
  if (spec.type === "cumulate") return down(ts, spec.size, alignmentOf(spec)) + spec.size;
  const { size, slide } = sizeAndSlide(spec);
  const start = down(ts, slide, alignmentOf(spec));
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
  if (spec.type === "cumulate") return down(from, spec.step, alignmentOf(spec)) + spec.step <= to;
  const { size, slide } = sizeAndSlide(spec);
  const nextEnd = up(from - size + 1, slide, alignmentOf(spec)) + size;
  return nextEnd <= to;
}

/** Every fixed window whose end is in (from, to], by end (then start): the windows a watermark moving from `from` to `to` passes. */
export function windowsEndingIn(spec: WindowSpec, from: number, to: number): TimeWindow[] {
  const windows: TimeWindow[] = [];
  if (spec.type === "session" || !(to > from)) return windows;
  const shift = alignmentOf(spec);
  if (spec.type === "cumulate") {
    for (let end = up(from + 1, spec.step, shift); end <= to; end += spec.step)
      windows.push({ start: down(end - spec.step, spec.size, shift), end });
    return windows;
  }
  const { size, slide } = sizeAndSlide(spec);
  for (let start = up(from + 1 - size, slide, shift); start + size <= to; start += slide) windows.push({ start, end: start + size });
  return windows;
}
