// The pure window core driven in memory, for property tests with thousands of runs: the same planner,
// state updates and fate rules the ingest and watermark functions use, with Maps where they have
// DynamoDB. The storage glue here is deliberately minimal; the real glue is held to the same cases end
// to end on the emulators (test/integration/conformance.test.ts).
//
// Fixed windows go the key-group way (docs/design/key-groups.md): batches become log entries of their
// shard (batches alternate over `shards`), a closing run takes a cut of the logs (an epoch), and each key
// group folds the portions since its own epoch (core/windows/key-group.ts), fires, clears the panes it
// may, and moves its mark. `stopAfterFirstPane` makes a group's unit stop after its first pane write,
// before its mark, and the next run (a later epoch) take the group on — what a crashed or timed-out unit
// leaves behind must change nothing.

import type { AggregateState } from "../../shared/core/aggregates/state.ts";
import { type Contribution, layersOf, type StoredSessions, updateSessions } from "../../shared/core/ingest/deltas.ts";
import { planBatch } from "../../shared/core/ingest/plan.ts";
import { keyGroupOf } from "../../shared/core/keygroups.ts";
import { windowValues } from "../../shared/core/pipelines/project.ts";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import type { DeadLetter, StreamRecord } from "../../shared/core/types.ts";
import type { TimeWindow } from "../../shared/core/windows/assigners.ts";
import { earlyDueOf, ledgerDecisionOf } from "../../shared/core/windows/fates.ts";
import {
  type Cut,
  firedThroughAfter,
  foldGroup,
  type GroupPane,
  type GroupPortion,
  isInCut,
  keyWindowState,
  panesAfter,
  panesToClear,
  panesToRead,
  windowsToFire,
} from "../../shared/core/windows/key-group.ts";
import { recordEmitting, type SessionEntry, sessionsDueOf, sessionsToFire, settleSessions } from "../../shared/core/windows/sessions.ts";

export interface EngineResult {
  key: string;
  start: number;
  end: number;
  count: number;
  values: Record<string, unknown>;
  version: number;
  final: boolean;
  supersedes: { start: number; end: number }[];
  supersededBy?: { start: number; end: number };
  firedAt: number;
}

const SHARD = "shardId-000000000000";

export interface MemoryEngineOptions {
  /** key groups of the fixed-window pipeline (default 4) */
  keyGroups?: number;
  /** shard logs the batches alternate over (default 1) */
  shards?: number;
  /** a group's unit stops after its first pane write (before its mark) at this epoch, and runs again */
  stopAfterFirstPane?: (epoch: number, group: number) => boolean;
}

interface LogEntryInMemory {
  shardId: string;
  ordinal: number;
  /** the watermark the batch was planned at */
  watermark: number | undefined;
  portions: GroupPortion[];
}

interface GroupInMemory {
  mark: { epoch: number; firedThrough?: number };
  panes: Map<number, GroupPane>;
}

export class MemoryEngine {
  /** Panes' watermark (Flink's + 1) */
  watermark: number | undefined;
  /** processing time, for early results */
  now = 0;
  readonly emitted: EngineResult[] = [];
  readonly letters: DeadLetter[] = [];
  /** fixed windows: the shard logs, the epochs' cuts (epoch 0: nothing) and the key groups */
  private readonly logs = new Map<string, LogEntryInMemory[]>();
  private readonly cuts: Cut[] = [new Map()];
  private readonly groups = new Map<number, GroupInMemory>();
  private batches = 0;
  private readonly keyGroups: number;
  private readonly shards: number;
  private readonly sessions = new Map<string, { sessions: StoredSessions; due?: number }>();
  private readonly ledger = new Map<string, EngineResult>();
  private sequence = 0n;

  constructor(
    readonly pipeline: Pipeline,
    private readonly options: MemoryEngineOptions = {},
  ) {
    this.keyGroups = options.keyGroups ?? 4;
    this.shards = options.shards ?? 1;
  }

  /** One shard batch: the records' JSON in arrival order. */
  ingest(events: readonly object[]): void {
    const records: StreamRecord[] = events.map((event) => {
      this.sequence += 1n;
      return {
        shardId: SHARD,
        sequenceNumber: (49_000_000_000_000_000_000n + this.sequence).toString(),
        partitionKey: "k",
        data: new TextEncoder().encode(JSON.stringify(event)),
        arrivedAt: 0,
      };
    });
    const watermarks = new Map(this.watermark === undefined ? [] : [[this.pipeline.name, this.watermark]]);
    const plan = planBatch([this.pipeline], records, watermarks, this.now);
    this.letters.push(...plan.deadLetters);
    const record = new Map(records.map((r, i) => [(BigInt(r.sequenceNumber) << 32n) + 0n, { r, i }]));
    const letter = (c: Contribution, kind: DeadLetter["kind"], reason: string): DeadLetter => {
      const r = record.get(c.sequenceNumber)?.r as StreamRecord;
      return {
        kind,
        pipeline: this.pipeline.name,
        reason,
        shardId: SHARD,
        sequenceNumber: r.sequenceNumber,
        partitionKey: "k",
        data: r.data,
        arrivedAt: 0,
        recordedAt: 0,
      };
    };
    // As the ingest function does: letters for what some or all windows refused, the rest logged and
    // (here at once) folded into the pane.
    for (const { letters } of plan.tooLate) this.letters.push(...letters.values());
    // The batch's panes become the next entry of its shard's log.
    const shardId = `shardId-${String(this.batches++ % this.shards).padStart(12, "0")}`;
    const log = this.logs.get(shardId) ?? [];
    this.logs.set(shardId, log);
    const portions: GroupPortion[] = [];
    for (const { delta, letters } of plan.panes) {
      this.letters.push(...letters.values());
      portions.push({ shardId, ordinal: log.length + 1, key: delta.key, paneStart: delta.paneStart, layers: layersOf(delta) });
    }
    if (portions.length > 0) log.push({ shardId, ordinal: log.length + 1, watermark: this.watermark, portions });
    for (const delta of plan.sessions) {
      const known = this.sessions.get(delta.key)?.sessions ?? null;
      const update = updateSessions(known, delta, SHARD, this.watermark);
      if (update.kind === "applied-before") continue;
      this.letters.push(
        ...update.late.map((c) => ({ ...letter(c, "late", "late session"), windows: [{ start: c.ts, end: c.ts + delta.gap }] })),
      );
      if (update.kind === "write")
        this.sessions.set(delta.key, { sessions: update.next, due: sessionsDueOf(update.next.entries, delta.gap, delta.allowedLateness) });
    }
  }

  advanceWatermark(to: number): void {
    if (this.watermark === undefined || to > this.watermark) this.watermark = to;
  }

  /** One closing run at the current watermark. */
  close(): void {
    const watermark = this.watermark;
    if (watermark === undefined) return;
    const upTo = this.pipeline.early !== undefined ? Number.POSITIVE_INFINITY : watermark;
    if (this.pipeline.window.type === "session") {
      for (const [key, item] of [...this.sessions]) if (item.due !== undefined && item.due <= upTo) this.closeSessions(key, watermark);
      return;
    }
    this.closeGroups(watermark);
  }

  /** A closing run of fixed windows: a new epoch (the logs' heads), then every group's unit. */
  private closeGroups(watermark: number): void {
    const epoch = this.cuts.length;
    const cut: Cut = new Map([...this.logs].map(([shardId, log]) => [shardId, log.length]));
    this.cuts.push(cut);
    // The lowest watermark the heads were planned at: every later batch is planned at least at it.
    const heads = [...this.logs.values()].map((log) => log[log.length - 1]?.watermark);
    const safeWatermark = heads.some((w) => w === undefined) ? undefined : Math.min(...(heads as number[]));
    const groups = new Set([...this.groups.keys()]);
    for (const log of this.logs.values())
      for (const entry of log) for (const p of entry.portions) groups.add(keyGroupOf(p.key, this.keyGroups));
    for (const group of [...groups].sort((a, b) => a - b)) {
      if (!this.options.stopAfterFirstPane?.(epoch, group)) {
        this.runUnit(group, epoch, watermark, safeWatermark, false);
        continue;
      }
      // The unit stops part-way; the next run (a later epoch, here with the same cut) takes the group on.
      this.runUnit(group, epoch, watermark, safeWatermark, true);
      this.cuts.push(cut);
      this.runUnit(group, this.cuts.length - 1, watermark, safeWatermark, false);
    }
  }

  /** One group's closing unit: fold → fire → clear → mark. With `stop`, it stops after its first pane write. */
  private runUnit(group: number, epoch: number, watermark: number, safeWatermark: number | undefined, stop: boolean): void {
    const spec = this.pipeline.window;
    const state: GroupInMemory = this.groups.get(group) ?? { mark: { epoch: 0 }, panes: new Map() };
    this.groups.set(group, state);
    const { mark } = state;
    const from = this.cuts[mark.epoch] as Cut;
    const to = this.cuts[epoch] as Cut;
    const portions: GroupPortion[] = [];
    for (const log of this.logs.values())
      for (const entry of log) {
        if (isInCut(entry, from) || !isInCut(entry, to)) continue;
        for (const p of entry.portions) if (keyGroupOf(p.key, this.keyGroups) === group) portions.push(p);
      }
    const fold = foldGroup(state.panes, portions, {
      epoch,
      cutOf: (e) => this.cuts[e] as Cut,
      firedThrough: mark.firedThrough,
    });
    for (const pane of fold.changed) {
      state.panes.set(pane.paneStart, pane);
      if (stop) return;
    }
    const withOpen = this.pipeline.early !== undefined;
    const refires = [...fold.refire.values()];
    const range = panesToRead(spec, {
      firedThrough: mark.firedThrough,
      watermark,
      withOpen,
      ...(refires.length > 0 ? { lowestRefire: Math.min(...refires) } : {}),
    });
    // What a unit reads: the panes of the windows it may fire (a wrong range loses windows).
    const read = new Map([...panesAfter(state.panes, fold)].filter(([start]) => start >= range.from && start < range.to));
    for (const { key, window, final } of windowsToFire(spec, read, {
      firedThrough: mark.firedThrough,
      watermark,
      refire: fold.refire,
      withOpen,
    })) {
      const contents = keyWindowState(key, window, read);
      if (contents === undefined) continue;
      if (final) this.write(key, window, contents, true);
      else if (earlyDueOf(this.ledger.get(`${key}\u0000${window.start}/${window.end}`), contents.n, this.now, this.pipeline.early ?? 0))
        this.write(key, window, contents, false);
    }
    const firedThrough = firedThroughAfter(mark.firedThrough, watermark);
    // Cleared panes are deleted here (DynamoDB keeps them a while): one needed later would be missed.
    for (const paneStart of panesToClear(spec, this.pipeline.allowedLateness, state.panes, { safeWatermark, firedThrough }))
      state.panes.delete(paneStart);
    state.mark = { epoch, firedThrough };
  }

  private write(
    key: string,
    window: TimeWindow,
    state: AggregateState,
    final: boolean,
    supersedes: EngineResult["supersedes"] = [],
  ): "settled" | "stale" {
    const id = `${key}\u0000${window.start}/${window.end}`;
    const stored = this.ledger.get(id);
    const decision = ledgerDecisionOf({ count: state.n, final }, stored);
    if ("settled" in decision) return "settled";
    if ("stale" in decision) return "stale";
    const result: EngineResult = {
      key,
      start: window.start,
      end: window.end,
      count: state.n,
      values: windowValues(this.pipeline, key, window, state),
      version: decision.write,
      final,
      supersedes,
      firedAt: this.now,
    };
    this.ledger.set(id, result);
    this.emitted.push(result);
    for (const old of supersedes) {
      const superseded = this.ledger.get(`${key}\u0000${old.start}/${old.end}`);
      if (superseded) superseded.supersededBy = { start: window.start, end: window.end };
    }
    return "settled";
  }

  private closeSessions(key: string, watermark: number): void {
    const spec = this.pipeline.window;
    const item = this.sessions.get(key);
    if (spec.type !== "session" || item === undefined) return;
    const chosen = sessionsToFire(item.sessions.entries, spec.gap, watermark, this.pipeline.early !== undefined).filter(
      (f) =>
        f.final ||
        earlyDueOf(this.ledger.get(`${key}\u0000${f.window.start}/${f.window.end}`), f.entry.state.n, this.now, this.pipeline.early ?? 0),
    );
    const { entries, emitting } = recordEmitting(item.sessions.entries, chosen);
    const written = new Set<SessionEntry>();
    for (const f of chosen) {
      if (this.write(key, f.window, f.entry.state, f.final, f.supersedes) === "settled") written.add(emitting.get(f) as SessionEntry);
    }
    const settled = settleSessions(entries, written, { gap: spec.gap, allowedLateness: this.pipeline.allowedLateness, watermark });
    const sessions = { ...item.sessions, entries: settled, watermark: Math.max(item.sessions.watermark ?? watermark, watermark) };
    this.sessions.set(key, { sessions, due: sessionsDueOf(settled, spec.gap, this.pipeline.allowedLateness) });
  }

  /** The current result of every window: the latest version, superseded sessions left out. */
  finalResults(): EngineResult[] {
    return [...this.ledger.values()].filter((r) => r.supersededBy === undefined);
  }
}
