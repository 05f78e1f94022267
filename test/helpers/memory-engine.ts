// The pure window core driven in memory, for property tests with thousands of runs: the same planner,
// state updates and fate rules the ingest and watermark functions use, with Maps where they have
// DynamoDB. The storage glue here is deliberately minimal; the real glue is held to the same cases end
// to end on the emulators (test/integration/conformance.test.ts).

import { finalValues } from "../../shared/core/aggregates/state.ts";
import {
  type Contribution,
  foldIntoPane,
  layersOf,
  type StoredPane,
  type StoredSessions,
  updateSessions,
  windowStateOf,
} from "../../shared/core/ingest/deltas.ts";
import { planBatch } from "../../shared/core/ingest/plan.ts";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import type { DeadLetter, StreamRecord } from "../../shared/core/types.ts";
import type { TimeWindow } from "../../shared/core/windows/assigners.ts";
import { earlyDueOf, ledgerDecisionOf } from "../../shared/core/windows/fates.ts";
import { addFolded, type KeyEntry, needsClosing, settleEntries, windowsToClose } from "../../shared/core/windows/key-index.ts";
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

export class MemoryEngine {
  /** Panes' watermark (Flink's + 1) */
  watermark: number | undefined;
  /** processing time, for early results */
  now = 0;
  readonly emitted: EngineResult[] = [];
  readonly letters: DeadLetter[] = [];
  private readonly panes = new Map<string, { key: string; paneStart: number; pane: StoredPane }>();
  /** the key index of a fixed-window pipeline, and how far its windows are fired */
  private readonly index = new Map<string, KeyEntry>();
  private firedThrough: number | undefined;
  private readonly sessions = new Map<string, { sessions: StoredSessions; due?: number }>();
  private readonly ledger = new Map<string, EngineResult>();
  private sequence = 0n;

  constructor(readonly pipeline: Pipeline) {}

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
    const through = (BigInt(records[records.length - 1]?.sequenceNumber ?? "0") << 32n) + 0xffffffffn;
    for (const { delta, letters } of plan.panes) {
      const id = `${delta.key}\u0000${delta.paneStart}`;
      this.letters.push(...letters.values());
      const layers = layersOf(delta);
      const fired = this.firedThrough;
      const late = fired === undefined ? [] : layers.filter((l) => l.from <= fired).map((l) => l.from);
      addFolded(this.index, [{ key: delta.key, newest: delta.paneStart, ...(late.length > 0 ? { lateFrom: Math.min(...late) } : {}) }]);
      const update = foldIntoPane(this.panes.get(id)?.pane ?? null, [{ shardId: SHARD, through, layers }]);
      if (update.kind !== "write") continue;
      this.panes.set(id, { key: delta.key, paneStart: delta.paneStart, pane: update.next });
    }
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
    const withOpen = this.pipeline.early !== undefined;
    const closing = new Map(
      [...this.index].filter(([, e]) => needsClosing(this.pipeline.window, e, this.firedThrough, watermark, withOpen)),
    );
    for (const entry of closing.values()) this.closePanes(entry, watermark);
    if (this.firedThrough === undefined || watermark > this.firedThrough) this.firedThrough = watermark;
    settleEntries(this.pipeline.window, this.index, closing, watermark);
  }

  private write(
    key: string,
    window: TimeWindow,
    state: Parameters<typeof finalValues>[1] & { n: number },
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
      values: finalValues(this.pipeline.aggregates, state),
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

  private closePanes(entry: KeyEntry, watermark: number): void {
    const { key } = entry;
    const panes = [...this.panes.values()].filter((p) => p.key === key).map((p) => ({ paneStart: p.paneStart, layers: p.pane.layers }));
    const { due, open } = windowsToClose(
      this.pipeline.window,
      panes.map((p) => p.paneStart),
      {
        ...(this.firedThrough === undefined ? {} : { firedThrough: this.firedThrough }),
        ...(entry.refireFrom === undefined ? {} : { refireFrom: entry.refireFrom }),
        watermark,
        withOpen: this.pipeline.early !== undefined,
      },
    );
    for (const window of due) {
      const state = windowStateOf(window, panes);
      if (state) this.write(key, window, state, true);
    }
    for (const window of open) {
      const state = windowStateOf(window, panes);
      const stored = this.ledger.get(`${key}\u0000${window.start}/${window.end}`);
      if (state && earlyDueOf(stored, state.n, this.now, this.pipeline.early ?? 0)) this.write(key, window, state, false);
    }
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
