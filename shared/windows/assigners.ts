// Window assignment with Flink's semantics, on panes: a window of a tumbling or sliding pipeline is a
// run of panes of length gcd(size, slide), a cumulating window (Flink SQL CUMULATE) a run of panes of
// length `step` from the start of its period, and a session a run of adjacent panes of length `gap`.
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
 * When the closing logic must first look at a pane that has just been written. Fixed windows: the end
 * of the first window containing the pane. Sessions: the latest end the pane's session can have if
 * this is its last pane (`start + 2·gap`); the closing logic queries `due ≤ watermark + lookahead`,
 * so with a lookahead of one gap it looks as soon as the pane is wholly behind the watermark.
 */
export function dueOfWrittenPane(spec: WindowSpec, paneStart: number): number {
  if (spec.type === "session") return paneStart + 2 * spec.gap;
  const first = windowsOfPane(spec, paneStart)[0];
  if (first === undefined) throw new RangeError(`pane ${paneStart} belongs to no window`);
  return first.end;
}

export function dueLookaheadOf(spec: WindowSpec): number {
  return spec.type === "session" ? spec.gap : 0;
}

export interface SessionPane {
  start: number;
  /** earliest and latest event time in the pane */
  tmin: number;
  tmax: number;
}

/**
 * Groups panes of one key (each `gap` long) into sessions. Two events share a session when they are
 * at most `gap` apart, so events in one pane always do, and only adjacent panes can join: a pane joins
 * the previous one when its first event is at most `gap` after the previous pane's last event.
 * A session is [first event, last event + gap).
 */
export function sessionsOfPanes<P>(
  panes: readonly P[],
  gap: number,
  bounds: (pane: P) => SessionPane,
): { window: TimeWindow; panes: P[] }[] {
  const sorted = panes.map((pane) => ({ pane, b: bounds(pane) })).sort((x, y) => x.b.start - y.b.start);
  const sessions: { window: TimeWindow; panes: P[] }[] = [];
  let current: { window: TimeWindow; panes: P[]; tmax: number } | undefined;
  for (const { pane, b } of sorted) {
    if (current && b.tmin - current.tmax <= gap) {
      current.panes.push(pane);
      current.tmax = Math.max(current.tmax, b.tmax);
      current.window.end = current.tmax + gap;
      continue;
    }
    if (current) sessions.push({ window: current.window, panes: current.panes });
    current = { window: { start: b.tmin, end: b.tmax + gap }, panes: [pane], tmax: b.tmax };
  }
  if (current) sessions.push({ window: current.window, panes: current.panes });
  return sessions;
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
