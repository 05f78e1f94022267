// Session windows as Flink's MergingWindowSet keeps them: per key, the live sessions; an element opens
// [ts, ts + gap) and merges with every live session it overlaps or touches; the merged session is late
// only if nothing live took the element and its own window is late. A session is gone once the
// watermark passes its end + allowed lateness: a later element opens a new session. Pure.
// What the ledger holds for a session (its identity, start and end, and how much of it was emitted)
// is kept with it, so a grown or merged session supersedes the results it replaces.
import { type AggregateSpec, type AggregateState, addEvent, emptyState, mergeStates } from "../aggregates/state.ts";
import type { TopRow } from "../aggregates/top.ts";
import type { TimeWindow } from "./assigners.ts";
import { isWindowDue, isWindowLate } from "./fates.ts";

/** How the ledger names a session: its start and end (two sessions of a key never share both). */
export interface SessionIdentity {
  start: number;
  end: number;
}

export interface SessionEntry {
  state: AggregateState;
  /**
   * The latest result of this session: its identity, event count and whether it was final. It is
   * recorded here before the result is written (`confirmed: false`), so that a batch that grows the
   * session meanwhile moves it to `absorbed` and the next result supersedes it; `confirmed` once the
   * ledger holds it.
   */
  emitted?: SessionIdentity & { count: number; final: boolean; confirmed?: boolean };
  /** results (maybe) written under identities this session no longer has (it grew, or merged with others) */
  absorbed: SessionIdentity[];
}

export interface SessionElement {
  ts: number;
  values: Readonly<Record<string, number | null>>;
  keys?: Readonly<Record<string, string | null>>;
  rows?: Readonly<Record<string, TopRow>>;
}

export function sessionWindowOf(entry: { state: AggregateState }, gap: number): TimeWindow {
  return { start: entry.state.tmin, end: entry.state.tmax + gap };
}

const same = (a: SessionIdentity, b: SessionIdentity) => a.start === b.start && a.end === b.end;

/** Live: the watermark has not passed the session's end + allowed lateness (Flink has not cleaned it up). */
export function isSessionLive(entry: SessionEntry, gap: number, watermark: number | undefined, allowedLateness: number): boolean {
  return !isWindowLate(sessionWindowOf(entry, gap).end, watermark, allowedLateness);
}

/**
 * Applies elements, in arrival order, at watermark W (Flink's WindowOperator.processElement with a
 * MergingWindowSet). Returns the new entries and, per element, whether a session took it.
 */
export function applySessionElements<E extends SessionElement>(
  entries: readonly SessionEntry[],
  elements: readonly E[],
  options: { gap: number; allowedLateness: number; watermark: number | undefined; aggregates: readonly AggregateSpec[] },
): { entries: SessionEntry[]; accepted: E[]; late: E[] } {
  const { gap, allowedLateness, watermark } = options;
  let current = entries.map((e) => ({ ...e, absorbed: [...e.absorbed] }));
  const accepted: E[] = [];
  const late: E[] = [];
  for (const element of elements) {
    const own: TimeWindow = { start: element.ts, end: element.ts + gap };
    // TimeWindow.intersects: [a, b) and [c, d) merge when a ≤ d and b ≥ c (touching counts).
    const touching = current.filter((e) => {
      if (!isSessionLive(e, gap, watermark, allowedLateness)) return false;
      const w = sessionWindowOf(e, gap);
      return w.start <= own.end && w.end >= own.start;
    });
    if (touching.length === 0) {
      if (isWindowLate(own.end, watermark, allowedLateness)) {
        late.push(element);
        continue;
      }
      const state = emptyState();
      addEvent(state, element.ts, element.values, options.aggregates, element.keys, element.rows);
      current.push({ state, absorbed: [] });
      accepted.push(element);
      continue;
    }
    const state = mergeStates(touching.map((e) => e.state));
    addEvent(state, element.ts, element.values, options.aggregates, element.keys, element.rows);
    const identity = sessionWindowOf({ state }, gap);
    const merged: SessionEntry = { state, absorbed: [] };
    for (const e of touching) {
      merged.absorbed.push(...e.absorbed);
      if (e.emitted === undefined) continue;
      if (touching.length === 1 && same(e.emitted, identity)) merged.emitted = e.emitted;
      else merged.absorbed.push({ start: e.emitted.start, end: e.emitted.end });
    }
    current = current.filter((e) => !touching.includes(e));
    current.push(merged);
    accepted.push(element);
  }
  current.sort((a, b) => a.state.tmin - b.state.tmin);
  return { entries: current, accepted, late };
}

/** A session whose result must be written now: final (the watermark passed its end) or early. */
export interface SessionFiring {
  entry: SessionEntry;
  window: TimeWindow;
  final: boolean;
  /** identities of results this one replaces */
  supersedes: SessionIdentity[];
}

/** Whether the ledger is known to hold the entry's current contents, as final as they are. */
function upToDate(entry: SessionEntry, window: TimeWindow, final: boolean): boolean {
  const emitted = entry.emitted;
  return (
    emitted !== undefined &&
    emitted.confirmed !== false &&
    same(emitted, window) &&
    emitted.count === entry.state.n &&
    (emitted.final || !final)
  );
}

/**
 * The sessions to emit at watermark W: those the watermark passed whose result is not up to date
 * (first firing, grew, merged, or only an early result so far), and with `early` the open ones whose
 * contents changed (the caller throttles them by processing time).
 */
export function sessionsToFire(entries: readonly SessionEntry[], gap: number, watermark: number, early: boolean): SessionFiring[] {
  const firings: SessionFiring[] = [];
  for (const entry of entries) {
    const window = sessionWindowOf(entry, gap);
    const final = isWindowDue(window.end, watermark);
    if (!final && !early) continue;
    if (upToDate(entry, window, final)) continue;
    const supersedes = [...entry.absorbed];
    if (entry.emitted !== undefined && !same(entry.emitted, window))
      supersedes.push({ start: entry.emitted.start, end: entry.emitted.end });
    firings.push({ entry, window, final, supersedes });
  }
  return firings;
}

/**
 * Records the results about to be written on their entries (unconfirmed), before they are written:
 * returns the new entries and, for each firing, its entry among them. An identity the entry had
 * before moves to `absorbed`, so it is superseded whatever happens next.
 */
export function recordEmitting(
  entries: readonly SessionEntry[],
  firings: readonly SessionFiring[],
): { entries: SessionEntry[]; emitting: Map<SessionFiring, SessionEntry> } {
  const emitting = new Map<SessionFiring, SessionEntry>();
  const next = entries.map((entry) => {
    const firing = firings.find((f) => f.entry === entry);
    if (firing === undefined) return entry;
    const recorded: SessionEntry = {
      ...entry,
      emitted: { ...firing.window, count: entry.state.n, final: firing.final, confirmed: false },
      absorbed: firing.supersedes,
    };
    emitting.set(firing, recorded);
    return recorded;
  });
  return { entries: next, emitting };
}

/**
 * After results were written: confirms them on their entries (recorded by recordEmitting) and forgets
 * what they superseded, then drops the sessions that are late and whose final result is written
 * (Flink's cleanup). Entries keep their order; the input is not changed.
 */
export function settleSessions(
  entries: readonly SessionEntry[],
  written: ReadonlySet<SessionEntry>,
  options: { gap: number; allowedLateness: number; watermark: number },
): SessionEntry[] {
  const next: SessionEntry[] = [];
  for (const entry of entries) {
    const window = sessionWindowOf(entry, options.gap);
    const settled: SessionEntry =
      written.has(entry) && entry.emitted !== undefined
        ? { ...entry, emitted: { ...entry.emitted, confirmed: true }, absorbed: [] }
        : entry;
    const done = upToDate(settled, window, true);
    if (done && isWindowLate(window.end, options.watermark, options.allowedLateness)) continue;
    next.push(settled);
  }
  return next;
}

/**
 * When the closing logic must next look at a key's sessions: at a session's end while its final result
 * is not written, then at its end + allowed lateness to drop it. Undefined when there are none.
 */
export function sessionsDueOf(entries: readonly SessionEntry[], gap: number, allowedLateness: number): number | undefined {
  let due: number | undefined;
  for (const entry of entries) {
    const window = sessionWindowOf(entry, gap);
    const at = upToDate(entry, window, true) ? window.end + allowedLateness : window.end;
    if (due === undefined || at < due) due = at;
  }
  return due;
}
