// Plans one shard batch, purely: decode each record, let each pipeline read it, decide at the batch's
// watermark which windows take it (fates.ts), and pre-aggregate per (pipeline, key, pane) — or, for
// sessions, collect per (pipeline, key) in sequence order (merging needs the stored sessions). Bad
// records become dead letters with the reason, refused events late letters; nothing is dropped silently.

import { type PipelineEvent, readPipelineEvent } from "../pipelines/events.ts";
import type { Pipeline } from "../pipelines/schema.ts";
import type { DeadLetter, StreamRecord } from "../types.ts";
import type { TimeWindow } from "../windows/assigners.ts";
import { fixedFateOf, isWindowDue } from "../windows/fates.ts";
import type { Contribution, PaneDelta, SessionDelta } from "./deltas.ts";

export interface BatchPlan {
  /** per (pipeline, key, pane); `letters` are late letters for contributions some windows refused */
  panes: { delta: PaneDelta; letters: Map<bigint, DeadLetter> }[];
  /** per (pipeline, key), for session pipelines; lateness is decided against the stored sessions */
  sessions: SessionDelta[];
  /**
   * Events every window refused, by pane. They go to the late output unless the pane's fence shows a
   * redelivery of what was already applied.
   */
  tooLate: { delta: PaneDelta; letters: Map<bigint, DeadLetter> }[];
  deadLetters: DeadLetter[];
  /** per pipeline, the (sequence number, event time) of every event it read, in sequence order */
  progress: Map<string, { sequenceNumber: bigint; ts: number }[]>;
  /** per record position, the pipelines that took it (a redrive must not count it there again) */
  acceptedBy: Map<bigint, string[]>;
  counts: { records: number; events: number; invalid: number; lateAccepted: number };
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A record's place in its shard: sequence number, then sub-sequence number (KPL). Fences compare
 * positions, so every user record of an aggregated record is applied exactly once.
 */
export function positionOf(record: Pick<StreamRecord, "sequenceNumber" | "subSequenceNumber">): bigint {
  return (BigInt(record.sequenceNumber) << 32n) + BigInt(record.subSequenceNumber ?? 0);
}

/** The first position of the Kinesis record holding `position`. */
export function recordFloorOf(position: bigint): bigint {
  return (position >> 32n) << 32n;
}

/** How deep a record's JSON may nest: pipelines read fields by short dot paths, and deeper input only costs. */
export const MAX_JSON_DEPTH = 64;

/** Whether JSON text nests arrays and objects deeper than `max` (a linear scan, before parsing). */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

export function decodeRecord(data: Uint8Array): { ok: true; value: object } | { ok: false; reason: string } {
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    return { ok: false, reason: "record data is not valid UTF-8" };
  }
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) return { ok: false, reason: `record data nests deeper than ${MAX_JSON_DEPTH} levels` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `record data is not JSON: ${(error as Error).message}` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { ok: false, reason: "record data is JSON but not an object" };
  }
  return { ok: true, value };
}

/** A dead letter for a record: the reason, and the record's own bytes and place in its shard. */
export function deadLetterOf(record: StreamRecord, kind: DeadLetter["kind"], pipeline: string, reason: string, now: number): DeadLetter {
  return {
    kind,
    pipeline,
    reason,
    shardId: record.shardId,
    sequenceNumber: record.sequenceNumber,
    subSequenceNumber: record.subSequenceNumber,
    partitionKey: record.partitionKey,
    data: record.data,
    arrivedAt: record.arrivedAt,
    recordedAt: now,
  };
}

function deltaOf(pipeline: Pipeline, key: string, paneStart: number): PaneDelta {
  return { pipeline: pipeline.name, window: pipeline.window, aggregates: pipeline.aggregates, key, paneStart, contributions: [] };
}

const iso = (ms: number) => new Date(ms).toISOString();
const describeWindows = (windows: readonly TimeWindow[]) =>
  windows.length > 3
    ? `${windows.length} windows from [${iso((windows[0] as TimeWindow).start)}, ${iso((windows[0] as TimeWindow).end)})`
    : windows.map((w) => `[${iso(w.start)}, ${iso(w.end)})`).join(", ");

/** Why a too-late event was refused, in one line. */
export function lateReason(ts: number, watermark: number, allowedLateness: number, refused: readonly TimeWindow[], all: boolean): string {
  const what = all
    ? "too late for every window it belongs to"
    : `too late for ${refused.length === 1 ? "one" : refused.length} of its windows`;
  const which = refused.length > 0 ? ` (${describeWindows(refused)})` : "";
  return `event time ${iso(ts)} is ${what}${which}: the watermark ${iso(watermark)} is past their end + allowed lateness (${allowedLateness} ms)${all ? "" : "; the later windows took it"}`;
}

/** Records larger than this are dead-lettered unread (Kinesis accepts up to 10 MiB; windows need small events). */
export const DEFAULT_MAX_RECORD_BYTES = 256 * 1024;

/** The plan being built: what each step adds to. */
class Planner {
  readonly panes = new Map<string, { delta: PaneDelta; letters: Map<bigint, DeadLetter> }>();
  readonly sessions = new Map<string, SessionDelta>();
  readonly tooLate = new Map<string, { delta: PaneDelta; letters: Map<bigint, DeadLetter> }>();
  readonly deadLetters: DeadLetter[] = [];
  readonly progress: Map<string, { sequenceNumber: bigint; ts: number }[]>;
  readonly acceptedBy = new Map<bigint, string[]>();
  readonly counts: BatchPlan["counts"];

  constructor(
    private readonly pipelines: readonly Pipeline[],
    private readonly watermarks: ReadonlyMap<string, number>,
    private readonly now: number,
    private readonly maxRecordBytes: number,
    records: number,
  ) {
    this.progress = new Map(pipelines.map((p) => [p.name, []]));
    this.counts = { records, events: 0, invalid: 0, lateAccepted: 0 };
  }

  private letter(record: StreamRecord, kind: DeadLetter["kind"], pipeline: string, reason: string): DeadLetter {
    return deadLetterOf(record, kind, pipeline, reason, this.now);
  }

  private refuseUnread(record: StreamRecord, reason: string): void {
    this.deadLetters.push(this.letter(record, "invalid", "*", reason));
    this.counts.invalid++;
  }

  /** One record: decoded once, read by every pipeline; its letters learn which pipelines took it. */
  record(record: StreamRecord): void {
    if (record.data.byteLength > this.maxRecordBytes) {
      this.refuseUnread(record, `record is ${record.data.byteLength} bytes, more than the ${this.maxRecordBytes} bytes allowed`);
      return;
    }
    const decoded = decodeRecord(record.data);
    if (!decoded.ok) {
      this.refuseUnread(record, decoded.reason);
      return;
    }
    const letters: DeadLetter[] = [];
    const takenBy: string[] = [];
    for (const pipeline of this.pipelines) {
      const event = readPipelineEvent(pipeline, decoded.value, this.now);
      if (event.kind === "skipped") continue;
      if (event.kind === "invalid") {
        const invalid = this.letter(record, "invalid", pipeline.name, event.reason);
        this.deadLetters.push(invalid);
        letters.push(invalid);
        this.counts.invalid++;
        continue;
      }
      if (this.event(pipeline, record, event, letters)) takenBy.push(pipeline.name);
    }
    // A redrive must know whether pipelines already counted this record.
    for (const l of letters) l.acceptedBy = takenBy;
    if (takenBy.length > 0) this.acceptedBy.set(positionOf(record), takenBy);
  }

  /** One pipeline's event: to its session delta, or to its pane (with the windows that refuse it). Returns whether any window took it. */
  private event(pipeline: Pipeline, record: StreamRecord, event: PipelineEvent & { kind: "event" }, letters: DeadLetter[]): boolean {
    const sequenceNumber = positionOf(record);
    this.counts.events++;
    this.progress.get(pipeline.name)?.push({ sequenceNumber, ts: event.ts });
    const contribution: Contribution = { sequenceNumber, ts: event.ts, values: event.values, keys: event.keys, id: event.id };
    const spec = pipeline.window;
    if (spec.type === "session") {
      // Merging needs the stored sessions: lateness is decided when the delta is applied.
      this.sessionDelta(pipeline, spec.gap, event.key).contributions.push(contribution);
      return true;
    }
    const watermark = this.watermarks.get(pipeline.name);
    const fate = fixedFateOf(spec, pipeline.allowedLateness, event.ts, watermark);
    const late = (refused: TimeWindow[], all: boolean) => this.lateLetter(record, pipeline, event.ts, watermark, refused, all);
    if (fate.kind === "none") {
      // In no window (a gap between sliding windows): late only as Flink's side output counts it.
      if (fate.late && watermark !== undefined) {
        const letter = late([], true);
        this.deadLetters.push(letter);
        letters.push(letter);
      }
      return false;
    }
    const id = `${pipeline.name}\u0000${event.key}\u0000${fate.pane}`;
    if (fate.kind === "late") {
      const target = this.paneEntry(this.tooLate, id, pipeline, event.key, fate.pane);
      target.delta.contributions.push(contribution);
      const letter = late(fate.refused, true);
      target.letters.set(sequenceNumber, letter);
      letters.push(letter);
      return false;
    }
    contribution.from = fate.from;
    if (isWindowDue(fate.from, watermark)) this.counts.lateAccepted++;
    const target = this.paneEntry(this.panes, id, pipeline, event.key, fate.pane);
    target.delta.contributions.push(contribution);
    if (fate.refused.length > 0 && watermark !== undefined) {
      const letter = late(fate.refused, false);
      target.letters.set(sequenceNumber, letter);
      letters.push(letter);
    }
    return true;
  }

  private lateLetter(
    record: StreamRecord,
    pipeline: Pipeline,
    ts: number,
    watermark: number | undefined,
    refused: TimeWindow[],
    all: boolean,
  ): DeadLetter {
    return {
      ...this.letter(record, "late", pipeline.name, lateReason(ts, watermark ?? 0, pipeline.allowedLateness, refused, all)),
      ...(refused.length > 0 ? { windows: refused } : {}),
    };
  }

  private sessionDelta(pipeline: Pipeline, gap: number, key: string): SessionDelta {
    const id = `${pipeline.name}\u0000${key}`;
    let delta = this.sessions.get(id);
    if (delta === undefined) {
      delta = {
        pipeline: pipeline.name,
        gap,
        allowedLateness: pipeline.allowedLateness,
        aggregates: pipeline.aggregates,
        key,
        contributions: [],
      };
      this.sessions.set(id, delta);
    }
    return delta;
  }

  private paneEntry(
    entries: Map<string, { delta: PaneDelta; letters: Map<bigint, DeadLetter> }>,
    id: string,
    pipeline: Pipeline,
    key: string,
    paneStart: number,
  ) {
    let entry = entries.get(id);
    if (entry === undefined) {
      entry = { delta: deltaOf(pipeline, key, paneStart), letters: new Map() };
      entries.set(id, entry);
    }
    return entry;
  }

  plan(): BatchPlan {
    return {
      panes: [...this.panes.values()],
      sessions: [...this.sessions.values()],
      tooLate: [...this.tooLate.values()],
      deadLetters: this.deadLetters,
      progress: this.progress,
      acceptedBy: this.acceptedBy,
      counts: this.counts,
    };
  }
}

export function planBatch(
  pipelines: readonly Pipeline[],
  records: readonly StreamRecord[],
  watermarks: ReadonlyMap<string, number>,
  now: number,
  maxRecordBytes = DEFAULT_MAX_RECORD_BYTES,
): BatchPlan {
  const planner = new Planner(pipelines, watermarks, now, maxRecordBytes, records.length);
  for (const record of records) planner.record(record);
  return planner.plan();
}
