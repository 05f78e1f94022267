// Plans one shard batch, purely: decode each record, let each pipeline read it, decide at the batch's
// watermark which windows take it (fates.ts), and pre-aggregate per (pipeline, key, pane) — or, for
// sessions, collect per (pipeline, key) in sequence order (merging needs the stored sessions). Bad
// records become dead letters with the reason, refused events late letters; nothing is dropped silently.

import { readPipelineEvent } from "../pipelines/events.ts";
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

export function planBatch(
  pipelines: readonly Pipeline[],
  records: readonly StreamRecord[],
  watermarks: ReadonlyMap<string, number>,
  now: number,
  maxRecordBytes = DEFAULT_MAX_RECORD_BYTES,
): BatchPlan {
  const panes = new Map<string, { delta: PaneDelta; letters: Map<bigint, DeadLetter> }>();
  const sessions = new Map<string, SessionDelta>();
  const tooLate = new Map<string, { delta: PaneDelta; letters: Map<bigint, DeadLetter> }>();
  const deadLetters: DeadLetter[] = [];
  const progress = new Map<string, { sequenceNumber: bigint; ts: number }[]>(pipelines.map((p) => [p.name, []]));
  const acceptedBy = new Map<bigint, string[]>();
  const counts = { records: records.length, events: 0, invalid: 0, lateAccepted: 0 };
  const letter = (record: StreamRecord, kind: DeadLetter["kind"], pipeline: string, reason: string) =>
    deadLetterOf(record, kind, pipeline, reason, now);

  for (const record of records) {
    if (record.data.byteLength > maxRecordBytes) {
      deadLetters.push(
        letter(record, "invalid", "*", `record is ${record.data.byteLength} bytes, more than the ${maxRecordBytes} bytes allowed`),
      );
      counts.invalid++;
      continue;
    }
    const decoded = decodeRecord(record.data);
    if (!decoded.ok) {
      deadLetters.push(letter(record, "invalid", "*", decoded.reason));
      counts.invalid++;
      continue;
    }
    const sequenceNumber = positionOf(record);
    const lettersOfRecord: DeadLetter[] = [];
    const takenBy: string[] = [];
    for (const pipeline of pipelines) {
      const event = readPipelineEvent(pipeline, decoded.value, now);
      if (event.kind === "skipped") continue;
      if (event.kind === "invalid") {
        const invalid = letter(record, "invalid", pipeline.name, event.reason);
        deadLetters.push(invalid);
        lettersOfRecord.push(invalid);
        counts.invalid++;
        continue;
      }
      counts.events++;
      progress.get(pipeline.name)?.push({ sequenceNumber, ts: event.ts });
      const contribution: Contribution = { sequenceNumber, ts: event.ts, values: event.values, keys: event.keys, id: event.id };
      const watermark = watermarks.get(pipeline.name);
      const spec = pipeline.window;
      if (spec.type === "session") {
        const id = `${pipeline.name}\u0000${event.key}`;
        let delta = sessions.get(id);
        if (delta === undefined) {
          delta = {
            pipeline: pipeline.name,
            gap: spec.gap,
            allowedLateness: pipeline.allowedLateness,
            aggregates: pipeline.aggregates,
            key: event.key,
            contributions: [],
          };
          sessions.set(id, delta);
        }
        delta.contributions.push(contribution);
        takenBy.push(pipeline.name);
        continue;
      }
      const fate = fixedFateOf(spec, pipeline.allowedLateness, event.ts, watermark);
      if (fate.kind === "none") {
        // In no window (a gap between sliding windows): late only as Flink's side output counts it.
        if (fate.late && watermark !== undefined) {
          const late = letter(record, "late", pipeline.name, lateReason(event.ts, watermark, pipeline.allowedLateness, [], true));
          deadLetters.push(late);
          lettersOfRecord.push(late);
        }
        continue;
      }
      const id = `${pipeline.name}\u0000${event.key}\u0000${fate.pane}`;
      if (fate.kind === "late") {
        let late = tooLate.get(id);
        if (late === undefined) {
          late = { delta: deltaOf(pipeline, event.key, fate.pane), letters: new Map() };
          tooLate.set(id, late);
        }
        late.delta.contributions.push(contribution);
        const lateLetter = {
          ...letter(record, "late", pipeline.name, lateReason(event.ts, watermark ?? 0, pipeline.allowedLateness, fate.refused, true)),
          windows: fate.refused,
        };
        late.letters.set(sequenceNumber, lateLetter);
        lettersOfRecord.push(lateLetter);
        continue;
      }
      contribution.from = fate.from;
      if (isWindowDue(fate.from, watermark)) counts.lateAccepted++;
      let pane = panes.get(id);
      if (pane === undefined) {
        pane = { delta: deltaOf(pipeline, event.key, fate.pane), letters: new Map() };
        panes.set(id, pane);
      }
      pane.delta.contributions.push(contribution);
      if (fate.refused.length > 0 && watermark !== undefined) {
        const partial = {
          ...letter(record, "late", pipeline.name, lateReason(event.ts, watermark, pipeline.allowedLateness, fate.refused, false)),
          windows: fate.refused,
        };
        pane.letters.set(sequenceNumber, partial);
        lettersOfRecord.push(partial);
      }
      takenBy.push(pipeline.name);
    }
    // A redrive must know whether pipelines already counted this record.
    for (const l of lettersOfRecord) l.acceptedBy = takenBy;
    if (takenBy.length > 0) acceptedBy.set(sequenceNumber, takenBy);
  }
  return {
    panes: [...panes.values()],
    sessions: [...sessions.values()],
    tooLate: [...tooLate.values()],
    deadLetters,
    progress,
    acceptedBy,
    counts,
  };
}
