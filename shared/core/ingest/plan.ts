// Plans one shard batch, purely: decode each record, let each pipeline read it, decide at the batch's
// watermark which windows take it (fates.ts), and pre-aggregate per (pipeline, key, pane) — or, for
// sessions, collect per (pipeline, key) in sequence order (merging needs the stored sessions). Bad
// records become dead letters with the reason, refused events late letters; nothing is dropped silently.

import { keyGroupOf } from "../keygroups.ts";
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
  /**
   * Per position of a record a session pipeline took, every pipeline that took it: the session letters
   * the ingest makes need it (a redrive must not count the record there again).
   */
  acceptedBy: Map<bigint, string[]>;
  counts: { records: number; events: number; invalid: number; lateAccepted: number; unmatched: number; secondsLike: number };
  /** what the batch says about its input that is not an error: counted per shard, shown by status */
  notices: InputNotices;
}

/**
 * Input that is read but probably not what the producer meant: records no pipeline's filter took (a
 * misspelt field?), and event times that read like epoch seconds given as milliseconds. By position,
 * so a batch split into several log entries counts each once; with the first of each as a sample.
 */
export interface InputNotices {
  unmatched: bigint[];
  /** the first unmatched record's text (its first 200 characters) */
  unmatchedSample?: string;
  /** per pipeline, the positions of its events whose time reads like seconds, and the first such raw time */
  secondsLike: Map<string, { positions: bigint[]; sample: number }>;
}

/** The longest sample of an unmatched record kept. */
const SAMPLE_CHARS = 200;

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
  // Nesting deeper than the bound takes more opening brackets than a short text has.
  if (text.length > MAX_JSON_DEPTH && nestsDeeperThan(text, MAX_JSON_DEPTH))
    return { ok: false, reason: `record data nests deeper than ${MAX_JSON_DEPTH} levels` };
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

type PaneEntry = { delta: PaneDelta; letters: Map<bigint, DeadLetter> };
/** By pipeline, key and pane start. */
type PaneEntries = Map<string, Map<string, Map<number, PaneEntry>>>;

/** In the order the entries were first made (pipeline, then key, then pane). */
function entriesIn(entries: PaneEntries): PaneEntry[] {
  const list: PaneEntry[] = [];
  for (const byKey of entries.values()) for (const byPane of byKey.values()) for (const entry of byPane.values()) list.push(entry);
  return list;
}

/** Adds to a list made on its first item (most records need none). */
function withItem<T>(list: T[] | undefined, item: T): T[] {
  if (list === undefined) return [item];
  list.push(item);
  return list;
}

const TAKEN = { taken: true } as const;
const NOT_TAKEN = { taken: false } as const;

/** The plan being built: what each step adds to. */
class Planner {
  readonly panes: PaneEntries = new Map();
  readonly sessions = new Map<string, SessionDelta>();
  readonly tooLate: PaneEntries = new Map();
  readonly deadLetters: DeadLetter[] = [];
  readonly progress: Map<string, { sequenceNumber: bigint; ts: number }[]>;
  readonly acceptedBy = new Map<bigint, string[]>();
  readonly counts: BatchPlan["counts"];
  readonly notices: InputNotices = { unmatched: [], secondsLike: new Map() };

  constructor(
    private readonly pipelines: readonly Pipeline[],
    private readonly watermarks: ReadonlyMap<string, number>,
    private readonly now: number,
    private readonly maxRecordBytes: number,
    records: number,
  ) {
    this.progress = new Map(pipelines.map((p) => [p.name, []]));
    this.counts = { records, events: 0, invalid: 0, lateAccepted: 0, unmatched: 0, secondsLike: 0 };
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
    // Computed once per record: a position is a big integer, and every pipeline's contribution shares it.
    const position = positionOf(record);
    let letters: DeadLetter[] | undefined;
    let takenBy: string[] | undefined;
    let bySession = false;
    let read = false;
    for (const pipeline of this.pipelines) {
      const event = readPipelineEvent(pipeline, decoded.value, this.now);
      if (event.kind === "skipped") continue;
      read = true;
      if (event.kind === "invalid") {
        const invalid = this.letter(record, "invalid", pipeline.name, event.reason);
        this.deadLetters.push(invalid);
        letters = withItem(letters, invalid);
        this.counts.invalid++;
        continue;
      }
      if (event.secondsLike) this.noteSecondsLike(pipeline.name, position, event.ts);
      const taken = this.event(pipeline, record, position, event);
      if (taken.letter !== undefined) letters = withItem(letters, taken.letter);
      if (taken.taken) {
        takenBy = withItem(takenBy, pipeline.name);
        if (pipeline.window.type === "session") bySession = true;
      }
    }
    if (!read) {
      this.counts.unmatched++;
      this.notices.unmatched.push(position);
      this.notices.unmatchedSample ??= Buffer.from(record.data).toString("utf8").slice(0, SAMPLE_CHARS);
    }
    // A redrive must know whether pipelines already counted this record.
    if (letters !== undefined) for (const l of letters) l.acceptedBy = takenBy ?? [];
    // Session letters are made when the delta is applied (ingest), and need the same list.
    if (bySession && takenBy !== undefined) this.acceptedBy.set(position, takenBy);
  }

  /**
   * One pipeline's event: to its session delta, or to its pane (with the windows that refuse it).
   * Returns whether any window took it, and the late letter it got, if any.
   */
  private event(
    pipeline: Pipeline,
    record: StreamRecord,
    sequenceNumber: bigint,
    event: PipelineEvent & { kind: "event" },
  ): { taken: boolean; letter?: DeadLetter } {
    this.counts.events++;
    this.progress.get(pipeline.name)?.push({ sequenceNumber, ts: event.ts });
    const contribution: Contribution = {
      sequenceNumber,
      ts: event.ts,
      values: event.values,
      keys: event.keys,
      id: event.id,
      ...(event.rows === undefined ? {} : { rows: event.rows }),
    };
    const spec = pipeline.window;
    if (spec.type === "session") {
      // Merging needs the stored sessions: lateness is decided when the delta is applied.
      this.sessionDelta(pipeline, spec.gap, event.key).contributions.push(contribution);
      return TAKEN;
    }
    const watermark = this.watermarks.get(pipeline.name);
    const fate = fixedFateOf(spec, pipeline.allowedLateness, event.ts, watermark);
    if (fate.kind === "none") {
      // In no window (a gap between sliding windows): late only as Flink's side output counts it.
      if (!fate.late || watermark === undefined) return NOT_TAKEN;
      const letter = this.lateLetter(record, pipeline, event.ts, watermark, [], true);
      this.deadLetters.push(letter);
      return { taken: false, letter };
    }
    if (fate.kind === "late") {
      const target = this.paneEntry(this.tooLate, pipeline, event.key, fate.pane);
      target.delta.contributions.push(contribution);
      const letter = this.lateLetter(record, pipeline, event.ts, watermark, fate.refused, true);
      target.letters.set(sequenceNumber, letter);
      return { taken: false, letter };
    }
    contribution.from = fate.from;
    if (isWindowDue(fate.from, watermark)) this.counts.lateAccepted++;
    const target = this.paneEntry(this.panes, pipeline, event.key, fate.pane);
    target.delta.contributions.push(contribution);
    if (fate.refused.length === 0 || watermark === undefined) return TAKEN;
    const letter = this.lateLetter(record, pipeline, event.ts, watermark, fate.refused, false);
    target.letters.set(sequenceNumber, letter);
    return { taken: true, letter };
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
        group: keyGroupOf(key, pipeline.keyGroups),
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

  /** The pane's entry, found by pipeline, key and pane start (nested maps: no id text built per event). */
  private paneEntry(entries: PaneEntries, pipeline: Pipeline, key: string, paneStart: number): PaneEntry {
    let byKey = entries.get(pipeline.name);
    if (byKey === undefined) {
      byKey = new Map();
      entries.set(pipeline.name, byKey);
    }
    let byPane = byKey.get(key);
    if (byPane === undefined) {
      byPane = new Map();
      byKey.set(key, byPane);
    }
    let entry = byPane.get(paneStart);
    if (entry === undefined) {
      entry = { delta: deltaOf(pipeline, key, paneStart), letters: new Map() };
      byPane.set(paneStart, entry);
    }
    return entry;
  }

  private noteSecondsLike(pipeline: string, position: bigint, ts: number): void {
    this.counts.secondsLike++;
    const known = this.notices.secondsLike.get(pipeline);
    if (known) known.positions.push(position);
    else this.notices.secondsLike.set(pipeline, { positions: [position], sample: ts });
  }

  plan(): BatchPlan {
    return {
      panes: entriesIn(this.panes),
      sessions: [...this.sessions.values()],
      tooLate: entriesIn(this.tooLate),
      deadLetters: this.deadLetters,
      progress: this.progress,
      acceptedBy: this.acceptedBy,
      counts: this.counts,
      notices: this.notices,
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
