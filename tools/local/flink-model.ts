// A reference model of Flink's event-time window semantics: a small single-threaded simulator of
// WindowOperator (assigners, EventTimeTrigger, MergingWindowSet, cleanup timers, allowed lateness,
// the late side output), written from Flink's source and documentation, independent of Panes' code
// (it imports nothing from shared/). Tests and the chaos report hold Panes against it.
//
// Conventions are Flink's, literally: a window [start, end) has maxTimestamp end − 1; a watermark w
// means "no more elements with timestamp ≤ w"; a window fires when w ≥ maxTimestamp and its state is
// cleaned up when w ≥ maxTimestamp + allowedLateness. (Panes' watermark is Flink's + 1.)
// Early results (Panes' `early`, SQL's early-fire) are a processing-time trigger: `earlyFire(now, every)`
// emits an open window whose contents changed, if it never emitted or last emitted `every` ago or more.

export type ModelWindowSpec =
  | { type: "tumbling"; size: number; offset?: number }
  | { type: "sliding"; size: number; slide: number; offset?: number }
  | { type: "session"; gap: number }
  | { type: "cumulate"; size: number; step: number; offset?: number };

export interface ModelElement {
  key: string;
  ts: number;
  /** anything the caller wants back in firings (the fields aggregates read, an id) */
  data?: unknown;
}

export interface ModelWindow {
  start: number;
  end: number;
}

export interface ModelFiring {
  key: string;
  window: ModelWindow;
  /** the window's contents at the firing, in arrival order */
  elements: ModelElement[];
  /** false for an early (processing-time) firing of a window the watermark has not passed */
  final: boolean;
  /** 1 for a window's first emission, +1 for each later one (early, on time, late) */
  version: number;
  /** for sessions: earlier windows of this key whose contents this firing now holds (merged or extended) */
  supersedes: ModelWindow[];
}

export interface ModelLate {
  element: ModelElement;
  /** windows that refused the element because they were past their cleanup time */
  windows: ModelWindow[];
  /** Flink's late side output: the element was refused by every window it belongs to and is late */
  sideOutput: boolean;
}

interface WindowState {
  window: ModelWindow;
  elements: ModelElement[];
  /** the trigger's timer at maxTimestamp is registered and has not fired */
  timer: boolean;
  /** contents size at the last emission, to see whether an early firing has anything new */
  emitted: number;
  /** processing time of the last emission */
  emittedAt?: number;
}

const id = (w: ModelWindow) => `${w.start}/${w.end}`;
const maxTimestamp = (w: ModelWindow) => w.end - 1;

/**
 * Flink's assigners (TumblingEventTimeWindows, SlidingEventTimeWindows, CumulativeWindowAssigner), with
 * their offset as TimeWindow.getWindowStartWithOffset applies it: `timestamp - (timestamp - offset +
 * windowSize) % windowSize`, Java's remainder (JavaScript's is the same), for the non-negative
 * timestamps and offsets shorter than the window the scripts use.
 */
export function assignModelWindows(spec: ModelWindowSpec, ts: number): ModelWindow[] {
  const offset = spec.type === "session" ? 0 : (spec.offset ?? 0);
  const startOf = (t: number, size: number) => t - ((t - offset + size) % size);
  switch (spec.type) {
    case "tumbling": {
      const start = startOf(ts, spec.size);
      return [{ start, end: start + spec.size }];
    }
    case "sliding": {
      const windows: ModelWindow[] = [];
      const last = startOf(ts, spec.slide);
      for (let start = last; start > ts - spec.size; start -= spec.slide) windows.push({ start, end: start + spec.size });
      return windows;
    }
    case "cumulate": {
      const start = startOf(ts, spec.size);
      const windows: ModelWindow[] = [];
      for (let end = start + spec.step; end <= start + spec.size; end += spec.step) if (ts < end) windows.push({ start, end });
      return windows;
    }
    case "session":
      return [{ start: ts, end: ts + spec.gap }];
  }
}

export class WindowOperatorModel {
  readonly firings: ModelFiring[] = [];
  readonly late: ModelLate[] = [];
  /** Flink's currentWatermark */
  watermark = Number.MIN_SAFE_INTEGER;
  private readonly keys = new Map<string, Map<string, WindowState>>();
  /** per key and window identity, how many times it was emitted */
  private readonly versions = new Map<string, number>();
  /** sessions: per key and live session, the identities it was emitted under */
  private readonly lineage = new Map<string, ModelWindow[]>();

  constructor(
    readonly spec: ModelWindowSpec,
    readonly allowedLateness: number,
  ) {}

  private cleanupTime(w: ModelWindow): number {
    return maxTimestamp(w) + this.allowedLateness;
  }

  private isWindowLate(w: ModelWindow): boolean {
    return this.cleanupTime(w) <= this.watermark;
  }

  private windowsOf(key: string): Map<string, WindowState> {
    let windows = this.keys.get(key);
    if (windows === undefined) {
      windows = new Map();
      this.keys.set(key, windows);
    }
    return windows;
  }

  private emit(key: string, state: WindowState, final: boolean, now?: number): void {
    if (state.elements.length === 0) return; // Flink emits only non-empty contents
    const versionKey = `${key}\u0000${id(state.window)}`;
    const version = (this.versions.get(versionKey) ?? 0) + 1;
    this.versions.set(versionKey, version);
    const lineageKey = `${key}\u0000${id(state.window)}`;
    const supersedes = (this.lineage.get(lineageKey) ?? []).filter((w) => id(w) !== id(state.window));
    this.lineage.set(lineageKey, [state.window]);
    this.firings.push({ key, window: { ...state.window }, elements: [...state.elements], final, version, supersedes });
    state.emitted = state.elements.length;
    state.emittedAt = now;
  }

  processElement(element: ModelElement): void {
    if (this.spec.type === "session") {
      this.processSessionElement(element, this.spec.gap);
      return;
    }
    const windows = this.windowsOf(element.key);
    const refused: ModelWindow[] = [];
    let skipped = true;
    for (const window of assignModelWindows(this.spec, element.ts)) {
      if (this.isWindowLate(window)) {
        refused.push(window);
        continue;
      }
      skipped = false;
      let state = windows.get(id(window));
      if (state === undefined) {
        state = { window, elements: [], timer: false, emitted: 0 };
        windows.set(id(window), state);
      }
      state.elements.push(element);
      // EventTimeTrigger.onElement: FIRE when the watermark is past maxTimestamp, else register a timer.
      if (maxTimestamp(window) <= this.watermark) this.emit(element.key, state, true);
      else state.timer = true;
    }
    this.recordLate(element, refused, skipped);
  }

  private recordLate(element: ModelElement, refused: ModelWindow[], skipped: boolean): void {
    // WindowOperator: side output only when no window took the element and the element itself is late.
    const sideOutput = skipped && element.ts + this.allowedLateness <= this.watermark;
    if (refused.length > 0 || sideOutput) this.late.push({ element, windows: refused, sideOutput });
  }

  private processSessionElement(element: ModelElement, gap: number): void {
    const windows = this.windowsOf(element.key);
    const own: ModelWindow = { start: element.ts, end: element.ts + gap };
    // TimeWindow.mergeWindows: windows that intersect (touching counts) merge into their cover.
    const touching = [...windows.values()].filter((s) => s.window.start <= own.end && s.window.end >= own.start);
    let actual: WindowState;
    if (touching.length === 0) {
      if (this.isWindowLate(own)) {
        this.recordLate(element, [own], true);
        return;
      }
      actual = { window: own, elements: [], timer: false, emitted: 0 };
      windows.set(id(own), actual);
    } else {
      const cover: ModelWindow = {
        start: Math.min(own.start, ...touching.map((s) => s.window.start)),
        end: Math.max(own.end, ...touching.map((s) => s.window.end)),
      };
      const only = touching[0] as WindowState;
      if (touching.length === 1 && id(only.window) === id(cover)) {
        actual = only; // contained in one session without extending it: no merge
      } else {
        // A merge: the cover takes every merged session's contents and lineage; their timers go.
        actual = { window: cover, elements: touching.flatMap((s) => s.elements), timer: false, emitted: 0 };
        const lineage = touching.flatMap((s) => this.lineage.get(`${element.key}\u0000${id(s.window)}`) ?? []);
        for (const s of touching) {
          windows.delete(id(s.window));
          this.lineage.delete(`${element.key}\u0000${id(s.window)}`);
        }
        windows.set(id(cover), actual);
        if (lineage.length > 0) this.lineage.set(`${element.key}\u0000${id(cover)}`, lineage);
        // EventTimeTrigger.onMerge: a timer only if the watermark is not yet past the merged end.
        if (maxTimestamp(cover) > this.watermark) actual.timer = true;
      }
    }
    actual.elements.push(element);
    if (maxTimestamp(actual.window) <= this.watermark) this.emit(element.key, actual, true);
    else actual.timer = true;
  }

  /** Advances the watermark (Flink's value) and runs the due timers in timestamp order. */
  processWatermark(watermark: number): void {
    if (watermark <= this.watermark) return;
    this.watermark = watermark; // InternalTimerService: the watermark moves first, then due timers fire
    for (;;) {
      // The next timer at or before the new watermark: a trigger timer at maxTimestamp or a cleanup timer.
      let next: { key: string; state: WindowState; time: number } | undefined;
      for (const [key, windows] of this.keys) {
        for (const state of windows.values()) {
          const times = [this.cleanupTime(state.window), ...(state.timer ? [maxTimestamp(state.window)] : [])];
          for (const time of times) if (time <= watermark && (next === undefined || time < next.time)) next = { key, state, time };
        }
      }
      if (next === undefined) break;
      const { key, state, time } = next;
      if (state.timer && time === maxTimestamp(state.window)) {
        state.timer = false;
        this.emit(key, state, true);
      }
      if (time === this.cleanupTime(state.window)) {
        this.windowsOf(key).delete(id(state.window));
        this.lineage.delete(`${key}\u0000${id(state.window)}`);
      }
    }
  }

  /** Early firing at processing time `now`: open windows that changed, at most once every `every` ms each. */
  earlyFire(now: number, every: number): void {
    for (const [key, windows] of this.keys) {
      for (const state of windows.values()) {
        if (maxTimestamp(state.window) <= this.watermark || state.elements.length <= state.emitted) continue;
        if (state.emittedAt !== undefined && now - state.emittedAt < every) continue;
        this.emit(key, state, false, now);
      }
    }
  }

  /** Emitted session windows whose contents now belong to a larger live session (as `key\u0000start/end`). */
  absorbed(): Set<string> {
    const out = new Set<string>();
    for (const [current, lineage] of this.lineage) {
      const key = current.slice(0, current.indexOf("\u0000"));
      for (const w of lineage) if (`${key}\u0000${id(w)}` !== current) out.add(`${key}\u0000${id(w)}`);
    }
    return out;
  }

  /** The last emission of every window that no later firing superseded. */
  finalFirings(): ModelFiring[] {
    const superseded = new Set<string>();
    for (const f of this.firings) for (const w of f.supersedes) superseded.add(`${f.key}\u0000${id(w)}`);
    const last = new Map<string, ModelFiring>();
    for (const f of this.firings) last.set(`${f.key}\u0000${id(f.window)}`, f);
    return [...last.entries()].filter(([k]) => !superseded.has(k)).map(([, f]) => f);
  }
}
