// Which keys of a fixed-window pipeline have windows still to fire, kept per pipeline in a few bucket
// items instead of one index entry per pane: a key's entry holds the start of its newest pane with
// events, and — when events reached windows that already fired — the smallest end among those windows
// (they fire again). The closing logic fires, for each key whose windows are not all fired, the
// windows that end between what it fired last time and the watermark, and drops a key once its newest
// pane's last window has fired. Pure.
import { hash32 } from "../hash.ts";
import { closesWindows, type TimeWindow, type WindowSpec, windowsOfPane } from "./assigners.ts";
import { isWindowDue } from "./fates.ts";

export interface KeyEntry {
  key: string;
  /** start of the key's newest pane with events */
  last: number;
  /** windows of the key ending at or after this, up to what was fired, took events after they fired: they fire again */
  refireFrom?: number;
}

/** Buckets per pipeline: each a DynamoDB item, so about 16 × 350 KB of entries (well over 100,000 keys). */
export const KEY_BUCKETS = 16;

export const bucketOf = (key: string) => hash32(key) % KEY_BUCKETS;

/** The end of the last window a pane belongs to (the pane is no longer looked at once it fired). */
export function lastEndOfPane(spec: WindowSpec, paneStart: number): number {
  const windows = windowsOfPane(spec, paneStart);
  return windows[windows.length - 1]?.end ?? paneStart;
}

/** What a fold adds for one key: its panes' starts, and the smallest `from` among layers windows already fired took. */
export interface FoldedKey {
  key: string;
  newest: number;
  /** the smallest layer `from` at or below what was fired (undefined: every event is for windows not fired yet) */
  lateFrom?: number;
}

/** Merges what a fold adds into a bucket's entries; returns whether anything changed. */
export function addFolded(entries: Map<string, KeyEntry>, folded: readonly FoldedKey[]): boolean {
  let changed = false;
  for (const f of folded) {
    const known = entries.get(f.key);
    const last = Math.max(f.newest, known?.last ?? f.newest);
    const refireFrom = [known?.refireFrom, f.lateFrom].filter((x): x is number => x !== undefined);
    const next: KeyEntry = { key: f.key, last, ...(refireFrom.length === 0 ? {} : { refireFrom: Math.min(...refireFrom) }) };
    if (known === undefined || known.last !== next.last || known.refireFrom !== next.refireFrom) {
      entries.set(f.key, next);
      changed = true;
    }
  }
  return changed;
}

/**
 * Whether a key has windows to look at, with windows fired up to `firedThrough` and the watermark at
 * `watermark`: a window of it ends after `firedThrough` and at or before both the watermark and the
 * last window of its newest pane (later windows hold none of its events), or some fire again, or
 * (early results) it has open windows.
 */
export function needsClosing(
  spec: WindowSpec,
  entry: KeyEntry,
  firedThrough: number | undefined,
  watermark: number,
  withOpen: boolean,
): boolean {
  if (entry.refireFrom !== undefined) return true;
  const lastEnd = lastEndOfPane(spec, entry.last);
  if (withOpen && lastEnd > watermark) return true;
  return (firedThrough === undefined || lastEnd > firedThrough) && closesWindows(spec, firedThrough, Math.min(watermark, lastEnd));
}

/**
 * The windows of a key to evaluate, given the starts of its panes with events: those the watermark
 * passed since `firedThrough` (they fire), those ending from `refireFrom` up to `firedThrough` (they
 * fire again if their contents grew), and with early results the open ones.
 */
export function windowsToClose(
  spec: WindowSpec,
  paneStarts: readonly number[],
  bounds: { firedThrough?: number; refireFrom?: number; watermark: number; withOpen: boolean },
): { due: TimeWindow[]; open: TimeWindow[] } {
  const due = new Map<string, TimeWindow>();
  const open = new Map<string, TimeWindow>();
  const from = Math.min(bounds.refireFrom ?? Number.POSITIVE_INFINITY, (bounds.firedThrough ?? Number.NEGATIVE_INFINITY) + 1);
  for (const pane of paneStarts) {
    for (const w of windowsOfPane(spec, pane)) {
      if (isWindowDue(w.end, bounds.watermark)) {
        if (w.end >= from) due.set(`${w.start}/${w.end}`, w);
      } else if (bounds.withOpen) open.set(`${w.start}/${w.end}`, w);
    }
  }
  const order = (a: TimeWindow, b: TimeWindow) => a.start - b.start || a.end - b.end;
  return { due: [...due.values()].sort(order), open: [...open.values()].sort(order) };
}

/**
 * After a closing run fired everything up to `watermark` for the keys in `done`: their refires are
 * cleared, and keys whose newest pane's last window has fired leave the index (events for them later
 * bring them back). Returns whether anything changed.
 */
export function settleEntries(
  spec: WindowSpec,
  entries: Map<string, KeyEntry>,
  done: ReadonlyMap<string, KeyEntry>,
  watermark: number,
): boolean {
  let changed = false;
  for (const [key, closed] of done) {
    const entry = entries.get(key);
    if (entry === undefined) continue;
    // A fold since the run read the entry may have moved it on: only what the run saw is settled.
    if (entry.last !== closed.last || entry.refireFrom !== closed.refireFrom) continue;
    if (isWindowDue(lastEndOfPane(spec, entry.last), watermark)) entries.delete(key);
    else if (entry.refireFrom === undefined) continue;
    else entries.set(key, { key, last: entry.last });
    changed = true;
  }
  return changed;
}
