// Plans one shard batch, purely: decode each record, let each pipeline read it, assign it to a pane,
// and pre-aggregate per (pipeline, key, pane). Bad records become dead letters with the reason, too-late
// events become late letters; nothing is dropped silently. No I/O here.

import { readPipelineEvent } from "../pipelines/events.ts";
import type { Pipeline } from "../pipelines/schema.ts";
import type { DeadLetter } from "../state/dead-letters.ts";
import type { Contribution, PaneDelta } from "../state/panes.ts";
import { lastWindowEndOf, paneOf } from "../windows/assigners.ts";

export interface StreamRecord {
  shardId: string;
  sequenceNumber: string;
  /** position inside a KPL-aggregated record */
  subSequenceNumber?: number;
  partitionKey: string;
  data: Uint8Array;
  /** approximate arrival, epoch ms */
  arrivedAt: number;
}

export interface BatchPlan {
  panes: PaneDelta[];
  /**
   * Events behind the watermark by more than the allowed lateness, by pane. They go to the late
   * output unless the pane's fence shows a redelivery of what was already applied.
   */
  tooLate: { delta: PaneDelta; letters: Map<bigint, DeadLetter> }[];
  deadLetters: DeadLetter[];
  /** per pipeline, the (sequence number, event time) of every event it accepted, in sequence order */
  progress: Map<string, { sequenceNumber: bigint; ts: number }[]>;
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

export function decodeRecord(data: Uint8Array): { ok: true; value: object } | { ok: false; reason: string } {
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    return { ok: false, reason: "record data is not valid UTF-8" };
  }
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

/** Records larger than this are dead-lettered unread (Kinesis accepts up to 10 MiB; windows need small events). */
export const DEFAULT_MAX_RECORD_BYTES = 256 * 1024;

export function planBatch(
  pipelines: readonly Pipeline[],
  records: readonly StreamRecord[],
  watermarks: ReadonlyMap<string, number>,
  now: number,
  maxRecordBytes = DEFAULT_MAX_RECORD_BYTES,
): BatchPlan {
  const panes = new Map<string, PaneDelta>();
  const deadLetters: DeadLetter[] = [];
  const progress = new Map<string, { sequenceNumber: bigint; ts: number }[]>(pipelines.map((p) => [p.name, []]));
  const counts = { records: records.length, events: 0, invalid: 0, lateAccepted: 0 };
  const tooLate = new Map<string, { delta: PaneDelta; letters: Map<bigint, DeadLetter> }>();
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
    const acceptedBy: string[] = [];
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
      const lastEnd = lastWindowEndOf(pipeline.window, event.ts);
      if (lastEnd === undefined) continue; // falls between sliding windows (slide > size): in no window
      const paneStart = paneOf(pipeline.window, event.ts);
      const id = `${pipeline.name}\u0000${event.key}\u0000${paneStart}`;
      const contribution: Contribution = { sequenceNumber, ts: event.ts, values: event.values, keys: event.keys, id: event.id };
      const watermark = watermarks.get(pipeline.name);
      if (watermark !== undefined && lastEnd + pipeline.allowedLateness <= watermark) {
        let late = tooLate.get(id);
        if (late === undefined) {
          late = { delta: deltaOf(pipeline, event.key, paneStart), letters: new Map() };
          tooLate.set(id, late);
        }
        late.delta.contributions.push(contribution);
        const lateLetter = letter(
          record,
          "late",
          pipeline.name,
          `event time ${new Date(event.ts).toISOString()} is behind the watermark ${new Date(watermark).toISOString()} by more than the allowed lateness`,
        );
        late.letters.set(sequenceNumber, lateLetter);
        lettersOfRecord.push(lateLetter);
        continue;
      }
      if (watermark !== undefined && lastEnd <= watermark) counts.lateAccepted++;
      let pane = panes.get(id);
      if (pane === undefined) {
        pane = deltaOf(pipeline, event.key, paneStart);
        panes.set(id, pane);
      }
      pane.contributions.push(contribution);
      acceptedBy.push(pipeline.name);
    }
    // A redrive must know whether other pipelines already counted this record.
    for (const l of lettersOfRecord) l.acceptedBy = acceptedBy;
  }
  return { panes: [...panes.values()], tooLate: [...tooLate.values()], deadLetters, progress, counts };
}
