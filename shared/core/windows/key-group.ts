// The closing of one key group of a fixed-window pipeline (tumbling, sliding, cumulating), in the
// phases of Flink's WindowProcessor: fold the log's portions into the group's panes (processElement),
// take the epoch's watermark (advanceProgress), say which windows fire (fireWindow) and which panes
// may go (clearWindow / expiredSlices). Pure; the closing unit reads and writes what these decide.
//
// Exactly once without per-shard fences: a pane at epoch e holds exactly the portions of every log
// entry at or below cut(e) (docs/design/key-groups.md). A fold to epoch E adds to each pane only the
// portions above the cut of the pane's own epoch, so a pane that a stopped or concurrent unit already
// took further takes only what it lacks, and folding twice adds nothing twice.
import { type AggregateState, emptyState, mergeInto } from "../aggregates/state.ts";
import type { PaneLayer } from "../ingest/deltas.ts";
import { paneSizeOf, type TimeWindow, type WindowSpec, windowsEndingIn, windowsOfPane } from "./assigners.ts";
import { isWindowDue, isWindowLate, layerInWindow } from "./fates.ts";

/** One pane of a key group: every key of the group with events in the pane, each in lateness layers. */
export interface GroupPane {
  paneStart: number;
  /** the pane holds every portion of the log entries at or below this epoch's cut */
  epoch: number;
  keys: Map<string, PaneLayer[]>;
  /** its windows have fired and their lateness has passed at a safe watermark: it may expire */
  cleared: boolean;
}

/** One key's layers of one pane, in a shard's log entry. */
export interface GroupPortion {
  shardId: string;
  /** the entry's number in its shard's log */
  ordinal: number;
  key: string;
  paneStart: number;
  layers: readonly PaneLayer[];
}

/** An epoch's cut: per shard, the number of the last log entry it covers (a shard not named: none). */
export type Cut = ReadonlyMap<string, number>;

/** A portion is in a pane at `cut` when its entry is at or below the cut of its shard. */
export function isInCut(portion: Pick<GroupPortion, "shardId" | "ordinal">, cut: Cut): boolean {
  return portion.ordinal <= (cut.get(portion.shardId) ?? 0);
}

export interface GroupFold {
  /** panes the fold changed, at the target epoch (new objects; the inputs are left as they were) */
  changed: GroupPane[];
  /**
   * Per key, the smallest layer `from` at or below `firedThrough` among this epoch's portions: windows
   * of the key ending at or after it already fired and took events since; they fire again now.
   */
  refire: Map<string, number>;
}

/**
 * Folds an epoch's portions (the log entries above the group's epoch, up to the target's cut) into the
 * group's panes. `cutOf` gives the cut of a pane's epoch; a pane at or beyond `epoch` has them all.
 * Re-fires are taken from every portion, whether or not a pane had already taken it: a unit that
 * stopped after writing a pane but before its mark finds them again.
 */
export function foldGroup(
  panes: ReadonlyMap<number, GroupPane>,
  portions: readonly GroupPortion[],
  target: { epoch: number; cutOf: (epoch: number) => Cut; firedThrough: number | undefined },
): GroupFold {
  const changed = new Map<number, GroupPane>();
  const refire = new Map<string, number>();
  for (const portion of portions) {
    if (target.firedThrough !== undefined)
      for (const layer of portion.layers)
        if (layer.from <= target.firedThrough) refire.set(portion.key, Math.min(layer.from, refire.get(portion.key) ?? layer.from));
    const known = panes.get(portion.paneStart);
    if (known !== undefined && (known.epoch >= target.epoch || isInCut(portion, target.cutOf(known.epoch)))) continue;
    let pane = changed.get(portion.paneStart);
    if (pane === undefined) {
      pane = { paneStart: portion.paneStart, epoch: target.epoch, keys: copyKeys(known?.keys), cleared: false };
      changed.set(portion.paneStart, pane);
    }
    pane.keys.set(portion.key, mergeLayers(pane.keys.get(portion.key) ?? [], portion.layers));
  }
  // A pane the fold touched only with portions it had is not rewritten; one it changed moves to the epoch.
  return { changed: [...changed.values()].sort((a, b) => a.paneStart - b.paneStart), refire };
}

function copyKeys(keys: ReadonlyMap<string, PaneLayer[]> | undefined): Map<string, PaneLayer[]> {
  return new Map(
    [...(keys ?? [])].map(([key, layers]) => [key, layers.map((l) => ({ from: l.from, state: mergeInto(emptyState(), l.state) }))]),
  );
}

/** Adds `more` to `layers` (both ordered by `from`), layer by layer; returns a new list. */
function mergeLayers(layers: readonly PaneLayer[], more: readonly PaneLayer[]): PaneLayer[] {
  const byFrom = new Map(layers.map((l) => [l.from, l.state]));
  for (const layer of more) {
    const state = byFrom.get(layer.from);
    if (state === undefined) byFrom.set(layer.from, mergeInto(emptyState(), layer.state));
    else mergeInto(state, layer.state);
  }
  return [...byFrom].sort(([a], [b]) => a - b).map(([from, state]) => ({ from, state }));
}

/** The group's panes after a fold: the changed ones in place of what was read. */
export function panesAfter(panes: ReadonlyMap<number, GroupPane>, fold: GroupFold): Map<number, GroupPane> {
  const next = new Map(panes);
  for (const pane of fold.changed) next.set(pane.paneStart, pane);
  return next;
}

export interface FiringBounds {
  /** the group's windows are fired up to here (undefined: none yet) */
  firedThrough: number | undefined;
  /** the epoch's watermark */
  watermark: number;
  /** from the fold: per key, the windows ending at or after this fire again */
  refire: ReadonlyMap<string, number>;
  /** early results: open windows are looked at too */
  withOpen: boolean;
}

/**
 * The pane starts a unit must read to fire: every pane of a window ending after `firedThrough` (or
 * after the lowest re-fire) up to the watermark — or, with early results, every later pane too.
 */
export function panesToRead(
  spec: WindowSpec,
  bounds: Omit<FiringBounds, "refire"> & { lowestRefire?: number },
): { from: number; to: number } {
  if (spec.type === "session") throw new TypeError("sessions are not kept in panes");
  const lowest = Math.min(bounds.lowestRefire ?? Number.POSITIVE_INFINITY, (bounds.firedThrough ?? Number.NEGATIVE_INFINITY) + 1);
  const size = spec.type === "sliding" || spec.type === "tumbling" || spec.type === "cumulate" ? spec.size : 0;
  const from = Number.isFinite(lowest) ? Math.max(0, lowest - size) : 0;
  return { from, to: bounds.withOpen ? Number.POSITIVE_INFINITY : bounds.watermark + paneSizeOf(spec) };
}

/** A window of a key to evaluate: `final` when the watermark passed its end, else an early result. */
export interface WindowToFire {
  key: string;
  window: TimeWindow;
  final: boolean;
}

/**
 * The windows of every key of the group to evaluate at the watermark (Flink's fireWindow): those the
 * watermark passed since `firedThrough`, those re-fired by late events (from the fold), and — with
 * early results — the open ones; a key's window only where it has a pane inside. Ordered by key, then
 * start, then end. The windows are listed by end once for the group, not per pane of every key: a
 * 60-minute window sliding every minute has 60 windows a pane, and a key 60 panes.
 */
export function windowsToFire(spec: WindowSpec, panes: ReadonlyMap<number, GroupPane>, bounds: FiringBounds): WindowToFire[] {
  const startsByKey = new Map<string, number[]>();
  let lowestPane = Number.POSITIVE_INFINITY;
  let highestPane = Number.NEGATIVE_INFINITY;
  for (const pane of panes.values()) {
    if (pane.keys.size === 0) continue;
    lowestPane = Math.min(lowestPane, pane.paneStart);
    highestPane = Math.max(highestPane, pane.paneStart);
    for (const key of pane.keys.keys()) {
      let starts = startsByKey.get(key);
      if (starts === undefined) {
        starts = [];
        startsByKey.set(key, starts);
      }
      starts.push(pane.paneStart);
    }
  }
  const out: WindowToFire[] = [];
  if (startsByKey.size === 0 || spec.type === "session") return out;
  const fired = bounds.firedThrough ?? Number.NEGATIVE_INFINITY;
  const fromOf = (key: string) => Math.min(bounds.refire.get(key) ?? Number.POSITIVE_INFINITY, fired + 1);
  let lowestFrom = Number.POSITIVE_INFINITY;
  for (const key of startsByKey.keys()) lowestFrom = Math.min(lowestFrom, fromOf(key));
  // No window before the first pane holds anything; none ends after the last pane's last window.
  const size = spec.size;
  const dueFrom = Math.max(lowestFrom, lowestPane) - 1;
  const lastEnd = highestPane + size; // no window holding the last pane ends later
  const due = isWindowDue(dueFrom + 1, bounds.watermark) ? windowsEndingIn(spec, dueFrom, Math.min(bounds.watermark, lastEnd)) : [];
  const open = bounds.withOpen ? windowsEndingIn(spec, Math.max(bounds.watermark, lowestPane), lastEnd) : [];
  const hasPaneIn = (starts: readonly number[], w: TimeWindow) => {
    // the first pane start ≥ w.start (starts sorted), inside the window?
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((starts[mid] as number) < w.start) lo = mid + 1;
      else hi = mid;
    }
    return lo < starts.length && (starts[lo] as number) < w.end;
  };
  const order = (a: WindowToFire, b: WindowToFire) => a.window.start - b.window.start || a.window.end - b.window.end;
  for (const key of [...startsByKey.keys()].sort()) {
    const starts = (startsByKey.get(key) as number[]).sort((a, b) => a - b);
    const from = fromOf(key);
    const windows: WindowToFire[] = [];
    for (const window of due) if (window.end >= from && hasPaneIn(starts, window)) windows.push({ key, window, final: true });
    for (const window of open)
      if (!isWindowDue(window.end, bounds.watermark) && hasPaneIn(starts, window)) windows.push({ key, window, final: false });
    windows.sort(order);
    // not push(...windows): a key with very many windows would overflow the call stack
    for (const w of windows) out.push(w);
  }
  return out;
}

/** A key's window contents from the group's panes: the layers that belong to the window, merged; undefined when empty. */
export function keyWindowState(key: string, window: TimeWindow, panes: ReadonlyMap<number, GroupPane>): AggregateState | undefined {
  const state = emptyState();
  for (const pane of panes.values()) {
    if (pane.paneStart < window.start || pane.paneStart >= window.end) continue;
    for (const layer of pane.keys.get(key) ?? []) if (layerInWindow(layer.from, window)) mergeInto(state, layer.state);
  }
  return state.n === 0 ? undefined : state;
}

/** The end of the last window a pane belongs to: after it fires (and its lateness passes) the pane is done. */
export function lastWindowEndOfPane(spec: WindowSpec, paneStart: number): number {
  const windows = windowsOfPane(spec, paneStart);
  return windows[windows.length - 1]?.end ?? paneStart;
}

/**
 * Panes that may go (Flink's clearWindow at cleanupTime, expiredSlices): every window of the pane has
 * fired and its lateness has passed at `safeWatermark`, the lowest watermark any later log entry can
 * have been planned at — so no event accepted after this can reach the pane. Already cleared panes are
 * left out.
 */
export function panesToClear(
  spec: WindowSpec,
  allowedLateness: number,
  panes: ReadonlyMap<number, GroupPane>,
  bounds: { safeWatermark: number | undefined; firedThrough: number },
): number[] {
  const safe = bounds.safeWatermark === undefined ? undefined : Math.min(bounds.safeWatermark, bounds.firedThrough);
  return [...panes.values()]
    .filter((p) => !p.cleared && isWindowLate(lastWindowEndOfPane(spec, p.paneStart), safe, allowedLateness))
    .map((p) => p.paneStart)
    .sort((a, b) => a - b);
}

/** How far a group's windows are fired after a unit fired everything up to the watermark. */
export function firedThroughAfter(firedThrough: number | undefined, watermark: number): number {
  return firedThrough === undefined ? watermark : Math.max(firedThrough, watermark);
}
