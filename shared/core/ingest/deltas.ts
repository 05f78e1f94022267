// What a shard batch changes, computed purely: a fixed-window pane's lateness layers (logged per
// batch, folded into key groups by the closing units: windows/key-group.ts) or a key's session set
// (written by the ingest function). Fencing lives here: what is at or below the item's fence for the shard was
// applied before (a redelivery, a repeated fold) and is skipped. The adapters only read and write what
// these functions decide.
import { type AggregateSpec, type AggregateState, addEvent, emptyState } from "../aggregates/state.ts";
import type { TopRow } from "../aggregates/top.ts";
import type { WindowSpec } from "../windows/assigners.ts";
import { applySessionElements, type SessionEntry } from "../windows/sessions.ts";

export interface Contribution {
  /** position in the shard (sequence number and sub-sequence number), see positionOf */
  sequenceNumber: bigint;
  ts: number;
  values: Record<string, number | null>;
  /** the producer's event id, for pipelines that dedupe */
  id?: string;
  /** values of distinctly counted fields, as text */
  keys?: Record<string, string | null>;
  /** the event's rows for top aggregates, by aggregate name */
  rows?: Record<string, TopRow>;
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
  /** the key's key group (its session set lives there) */
  group: number;
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
    addEvent(state, c.ts, c.values, delta.aggregates, c.keys, c.rows);
  }
  return [...layers].sort(([a], [b]) => a - b).map(([from, state]) => ({ from, state }));
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
