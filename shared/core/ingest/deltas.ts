// What one shard batch changes in one stored item, computed purely: a fixed-window pane (its state
// in lateness layers) or a key's session set. Fencing lives here: contributions at or below the item's
// fence for the shard were applied before (a redelivery) and are skipped. The adapters only read and
// write what these functions decide.
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

export type PaneUpdate =
  | { kind: "applied-before"; alreadyApplied: number }
  /** the pane was purged: the pending contributions are too late for every window */
  | { kind: "purged"; pending: Contribution[]; alreadyApplied: number }
  | { kind: "write"; next: StoredPane; pending: Contribution[]; alreadyApplied: number };

export function updatePane(known: StoredPane | null, delta: PaneDelta, shardId: string): PaneUpdate {
  const pending = pendingOf(delta.contributions, known?.fences.get(shardId));
  const alreadyApplied = delta.contributions.length - pending.length;
  if (pending.length === 0) return { kind: "applied-before", alreadyApplied };
  if (known?.tombstone) return { kind: "purged", pending, alreadyApplied };
  const layers = new Map((known?.layers ?? []).map((l) => [l.from, mergeInto(emptyState(), l.state)]));
  for (const c of pending) {
    const from = c.from ?? 0;
    let state = layers.get(from);
    if (state === undefined) {
      state = emptyState();
      layers.set(from, state);
    }
    addEvent(state, c.ts, c.values, delta.aggregates, c.keys);
  }
  const next: StoredPane = {
    version: (known?.version ?? 0) + 1,
    layers: [...layers].sort(([a], [b]) => a - b).map(([from, state]) => ({ from, state })),
    fences: advancedFences(known?.fences, shardId, pending),
    tombstone: false,
  };
  return { kind: "write", next, pending, alreadyApplied };
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
