// What a shard batch changes in a stored item, computed purely: a fixed-window pane (its state in
// lateness layers, folded from the shard logs by the closing logic) or a key's session set (written by
// the ingest function). Fencing lives here: what is at or below the item's fence for the shard was
// applied before (a redelivery, a repeated fold) and is skipped. The adapters only read and write what
// these functions decide.
import { type AggregateSpec, type AggregateState, addEvent, emptyState, mergeInto } from "../aggregates/state.ts";
import type { TimeWindow, WindowSpec } from "../windows/assigners.ts";
import { layerInWindow } from "../windows/fates.ts";
import { applySessionElements, type SessionEntry } from "../windows/sessions.ts";

export interface Contribution {
  /** position in the shard (sequence number and sub-sequence number), see positionOf */
  sequenceNumber: bigint;
  ts: number;
  values: Record<string, number>;
  /** the producer's event id, for pipelines that dedupe */
  id?: string;
  /** values of distinctly counted fields, as text */
  keys?: Record<string, string>;
  /** fixed windows: the smallest end among the windows that take it (see fixedFateOf) */
  from?: number;
}

export interface PaneDelta {
  pipeline: string;
  window: WindowSpec;
  aggregates: readonly AggregateSpec[];
  key: string;
  paneStart: number;
  /** in sequence order */
  contributions: Contribution[];
}

export interface SessionDelta {
  pipeline: string;
  gap: number;
  allowedLateness: number;
  aggregates: readonly AggregateSpec[];
  key: string;
  /** in sequence order */
  contributions: Contribution[];
}

/** A pane's state, in layers: a layer holds the events the windows ending at or after `from` took. */
export interface PaneLayer {
  from: number;
  state: AggregateState;
}

export interface StoredPane {
  version: number;
  /** ordered by `from` */
  layers: PaneLayer[];
  fences: Map<string, bigint>;
  /** purged: its windows are past their allowed lateness; fences (and state) stay for redeliveries */
  tombstone: boolean;
}

export interface StoredSessions {
  version: number;
  /** ordered by start */
  entries: SessionEntry[];
  fences: Map<string, bigint>;
  /** the highest watermark a writer applied to these sessions: lateness is never judged against less */
  watermark?: number;
}

function pendingOf(contributions: readonly Contribution[], fence: bigint | undefined): Contribution[] {
  return fence === undefined ? [...contributions] : contributions.filter((c) => c.sequenceNumber > fence);
}

function advancedFences(fences: ReadonlyMap<string, bigint> | undefined, shardId: string, pending: readonly Contribution[]) {
  const next = new Map(fences ?? []);
  const last = pending[pending.length - 1];
  if (last !== undefined) next.set(shardId, last.sequenceNumber);
  return next;
}

/** Pre-aggregates a pane delta's contributions: one state per lateness layer (`from`), ordered by `from`. */
export function layersOf(delta: Pick<PaneDelta, "aggregates" | "contributions">): PaneLayer[] {
  const layers = new Map<number, AggregateState>();
  for (const c of delta.contributions) {
    const from = c.from ?? 0;
    let state = layers.get(from);
    if (state === undefined) {
      state = emptyState();
      layers.set(from, state);
    }
    addEvent(state, c.ts, c.values, delta.aggregates, c.keys);
  }
  return [...layers].sort(([a], [b]) => a - b).map(([from, state]) => ({ from, state }));
}

/** What one shard's log entries hold for a pane: their layers, and the last record position they cover. */
export interface PanePortion {
  shardId: string;
  /** the last position of the shard the entry covers: the pane's fence for the shard once folded */
  through: bigint;
  layers: readonly PaneLayer[];
}

export type PaneFold =
  | { kind: "applied-before" }
  /** `resurrected`: the pane had been purged; its windows fire again with what the portions add */
  | { kind: "write"; next: StoredPane; folded: number; resurrected: boolean };

/**
 * Folds logged portions into a stored pane, exactly once: a portion at or below the pane's fence for
 * its shard was folded before and is skipped. A purged pane (tombstone) takes them too: its events were
 * accepted when they were logged, at a watermark that had not passed their windows' lateness, so — as
 * in Flink, where an element that reached its window before the cleanup timer is fired with it — the
 * windows fire again with them and the pane is purged again afterwards.
 */
export function foldIntoPane(known: StoredPane | null, portions: readonly PanePortion[], parked: readonly PanePortion[] = []): PaneFold {
  const unfolded = (p: PanePortion) => {
    const fence = known?.fences.get(p.shardId);
    return fence === undefined || p.through > fence;
  };
  const pending = portions.filter(unfolded);
  const dropped = parked.filter(unfolded);
  if (pending.length === 0 && dropped.length === 0) return { kind: "applied-before" };
  const layers = new Map((known?.layers ?? []).map((l) => [l.from, mergeInto(emptyState(), l.state)]));
  const fences = new Map(known?.fences ?? []);
  // Parked portions (reported elsewhere, never added) only move the fences: they are not looked at again.
  for (const portion of [...pending, ...dropped]) {
    const fence = fences.get(portion.shardId);
    if (fence === undefined || portion.through > fence) fences.set(portion.shardId, portion.through);
  }
  for (const portion of pending) {
    for (const layer of portion.layers) {
      const state = layers.get(layer.from);
      if (state === undefined) layers.set(layer.from, mergeInto(emptyState(), layer.state));
      else mergeInto(state, layer.state);
    }
  }
  const next: StoredPane = {
    version: (known?.version ?? 0) + 1,
    layers: [...layers].sort(([a], [b]) => a - b).map(([from, state]) => ({ from, state })),
    fences,
    tombstone: false,
  };
  return { kind: "write", next, folded: pending.length, resurrected: known?.tombstone === true };
}

export type SessionUpdate =
  | { kind: "applied-before"; alreadyApplied: number }
  | { kind: "write"; next: StoredSessions; accepted: Contribution[]; late: Contribution[]; alreadyApplied: number }
  /** nothing taken: every pending contribution is late; nothing to write */
  | { kind: "late"; late: Contribution[]; alreadyApplied: number };

/**
 * Applies a key's session elements of one batch at watermark W — or at the watermark a writer already
 * applied to these sessions, when that is higher — in sequence order, as Flink's merging window set does.
 */
export function updateSessions(
  known: StoredSessions | null,
  delta: SessionDelta,
  shardId: string,
  watermark: number | undefined,
): SessionUpdate {
  const pending = pendingOf(delta.contributions, known?.fences.get(shardId));
  const alreadyApplied = delta.contributions.length - pending.length;
  if (pending.length === 0) return { kind: "applied-before", alreadyApplied };
  const applied = [watermark, known?.watermark].filter((w): w is number => w !== undefined);
  const effective = applied.length === 0 ? undefined : Math.max(...applied);
  const { entries, accepted, late } = applySessionElements(known?.entries ?? [], pending, {
    gap: delta.gap,
    allowedLateness: delta.allowedLateness,
    watermark: effective,
    aggregates: delta.aggregates,
  });
  if (accepted.length === 0) return { kind: "late", late, alreadyApplied };
  const next: StoredSessions = {
    version: (known?.version ?? 0) + 1,
    entries,
    fences: advancedFences(known?.fences, shardId, pending),
    ...(effective === undefined ? {} : { watermark: effective }),
  };
  return { kind: "write", next, accepted, late, alreadyApplied };
}

/** A fixed window's contents: the layers of its panes that belong to it, merged; undefined when empty. */
export function windowStateOf(window: TimeWindow, panes: readonly { paneStart: number; layers: readonly PaneLayer[] }[]) {
  const state = emptyState();
  for (const pane of panes) {
    if (pane.paneStart < window.start || pane.paneStart >= window.end) continue;
    for (const layer of pane.layers) if (layerInWindow(layer.from, window)) mergeInto(state, layer.state);
  }
  return state.n === 0 ? undefined : state;
}
