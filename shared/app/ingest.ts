// Applies one shard batch exactly once, with one write in the common case: the batch's fixed-window
// events, pre-aggregated per (pipeline, key, pane), go to the shard's log as one entry numbered after
// the log's head (aws/dynamodb/log.ts); the closing logic folds entries into pane state. Records at or
// below the head's last position were applied before (a redelivery) and are skipped; a taken number
// means the head moved (another writer, or a watermark notice): read it and plan again. Dead letters
// go first, session sets (merging needs the stored sessions) are written here, fenced. Returns where
// the shard must resume when some session writes failed. Every decision comes from ingest/plan.ts,
// ingest/deltas.ts and windows/fates.ts.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import pLimit, { type LimitFunction } from "p-limit";
import { lastPositionOf, readPipelineMarks, readShardProgress } from "../aws/dynamodb/checkpoints.ts";
import { putDeadLetters } from "../aws/dynamodb/dead-letters.ts";
import { claimEventIds } from "../aws/dynamodb/dedupe.ts";
import {
  appendLogItem,
  type EntryNotices,
  type LogEntry,
  type LoggedPane,
  logItemOf,
  MAX_LOG_ITEM_BYTES,
  readLogHead,
  registerLogShard,
} from "../aws/dynamodb/log.ts";
import { approximateItemBytes, MAX_PANE_ITEM_BYTES, readSessions, sessionsItemOf, writeSessions } from "../aws/dynamodb/panes.ts";
import { retryOnConflict } from "../aws/retry.ts";
import { type Contribution, layersOf, type PaneDelta, type SessionDelta, updateSessions } from "../core/ingest/deltas.ts";
import { type BatchPlan, deadLetterOf, lateReason, planBatch, positionOf, recordFloorOf } from "../core/ingest/plan.ts";
import type { Pipeline } from "../core/pipelines/schema.ts";
import type { DeadLetter, StreamRecord } from "../core/types.ts";
import { closesWindows, type TimeWindow } from "../core/windows/assigners.ts";
import { isWindowDue } from "../core/windows/fates.ts";
import { sessionsDueOf, sessionWindowOf } from "../core/windows/sessions.ts";
import { mergeWatermarks } from "../core/windows/watermark.ts";

export interface IngestDependencies {
  dynamodb: DynamoDBClient;
  stateTable: string;
  deadLetterTable: string;
  pipelines: readonly Pipeline[];
  /** concurrent session-set writes and dedupe claims per batch */
  writeConcurrency: number;
  /** how long dead letters are kept (TTL), seconds; undefined keeps them */
  deadLetterRetentionSeconds?: number;
  /** how long shard log entries are kept (TTL), seconds, long after they are folded; undefined keeps them */
  logRetentionSeconds?: number;
  /**
   * How often a container reads the watermarks itself (ms). Between reads it knows them from the log:
   * the closing logic appends a notice to every shard's log when a watermark moves. Default 60 s.
   */
  watermarkRefreshMs?: number;
  /** records larger than this are dead-lettered unread */
  maxRecordBytes?: number;
  /**
   * Asks for the closing logic to run now (the watermark function, invoked asynchronously) when this
   * batch may have moved a watermark past a window's end; the schedule stays the backstop.
   */
  requestClosing?: () => Promise<void>;
  now?: () => number;
}

export interface BatchOutcome {
  /** sequence number from which the shard must be delivered again; undefined when all was applied */
  resumeFrom?: string;
  counts: {
    records: number;
    events: number;
    invalid: number;
    /** events every window refused (Flink's late side output) */
    late: number;
    /** events some (not all) of their windows refused */
    partlyLate: number;
    lateAccepted: number;
    /** records no pipeline's filter took */
    unmatched: number;
    /** events whose time reads like epoch seconds given as milliseconds */
    secondsLike: number;
    /** log entries and session sets written */
    stateWrites: number;
    alreadyApplied: number;
    failedWrites: number;
    conflicts: number;
    duplicates: number;
    closingRequested: number;
  };
  errors: unknown[];
}

const MAX_ATTEMPTS = 6;
const DONE = { done: true } as const;
const DEFAULT_WATERMARK_REFRESH_MS = 60_000;

export class StateWriteConflictError extends Error {
  override name = "StateWriteConflictError";
}

/** What a container knows of a shard's log: its newest entry, and the watermarks known with it. */
interface LogHead {
  ordinal: number;
  /** the last record position applied (undefined: none yet) */
  last?: bigint;
  watermarks: ReadonlyMap<string, number>;
  /** the reset generation of each watermark (absent: 0) */
  generations: ReadonlyMap<string, number>;
  /** when this container last read the watermarks themselves */
  watermarksReadAt: number;
}

/** Per container, by table and shard. A stale head costs one taken number and a read, never correctness. */
const heads = new Map<string, LogHead>();

const headId = (deps: IngestDependencies, shardId: string) => `${deps.stateTable}/${shardId}`;

/** The head as the table has it: the newest entry, or — with no log (a new shard, or entries expired after folding) — the shard's progress. */
async function readHead(deps: IngestDependencies, shardId: string): Promise<LogHead> {
  const entry = await readLogHead(deps.dynamodb, deps.stateTable, shardId);
  if (entry !== undefined)
    return {
      ordinal: entry.ordinal,
      last: entry.last,
      watermarks: new Map(Object.entries(entry.watermarks)),
      generations: new Map(Object.entries(entry.generations ?? {})),
      watermarksReadAt: 0,
    };
  const progress = (await readShardProgress(deps.dynamodb, deps.stateTable, [shardId])).get(shardId);
  return {
    ordinal: progress?.ordinal ?? 0,
    last: lastPositionOf(progress),
    watermarks: new Map(),
    generations: new Map(),
    watermarksReadAt: 0,
  };
}

/** The head with the watermarks read now, when they are due for a read (or sessions need them exact). */
async function withWatermarks(deps: IngestDependencies, head: LogHead, now: number): Promise<LogHead> {
  const sessions = deps.pipelines.some((p) => p.window.type === "session");
  const refresh = deps.watermarkRefreshMs ?? DEFAULT_WATERMARK_REFRESH_MS;
  if (!sessions && head.watermarksReadAt > 0 && now - head.watermarksReadAt < refresh) return head;
  const marks = await readPipelineMarks(
    deps.dynamodb,
    deps.stateTable,
    deps.pipelines.map((p) => p.name),
  );
  const table = {
    watermarks: new Map([...marks].flatMap(([p, m]) => (m.watermark === undefined ? [] : [[p, m.watermark] as const]))),
    generations: new Map([...marks].map(([p, m]) => [p, m.resetGeneration ?? 0] as const)),
  };
  return { ...head, ...mergeWatermarks(head, table), watermarksReadAt: now };
}

/** Finds records by position; the index is built on the first question (most batches never ask). */
function recordsByPosition(records: readonly StreamRecord[]): (position: bigint) => StreamRecord | undefined {
  let index: Map<bigint, StreamRecord> | undefined;
  return (position) => {
    index ??= new Map(records.map((r) => [positionOf(r), r]));
    return index.get(position);
  };
}

/** What one batch is doing; the steps below share it. */
interface BatchContext {
  deps: IngestDependencies;
  shardId: string;
  now: number;
  watermarks: ReadonlyMap<string, number>;
  generations: ReadonlyMap<string, number>;
  /** the batch's record at a position */
  recordAt: (position: bigint) => StreamRecord | undefined;
  acceptedBy: ReadonlyMap<bigint, string[]>;
  counts: BatchOutcome["counts"];
}

function lettersFor(
  ctx: BatchContext,
  contributions: readonly Contribution[],
  pipeline: string,
  kind: DeadLetter["kind"],
  reason: (c: Contribution) => string,
  windows?: (c: Contribution) => TimeWindow[],
) {
  const letters: DeadLetter[] = [];
  for (const c of contributions) {
    const record = ctx.recordAt(c.sequenceNumber);
    if (record === undefined) continue;
    // The pipelines that did take the record: a redrive must not count it there again.
    const others = (ctx.acceptedBy.get(c.sequenceNumber) ?? []).filter((p) => p !== pipeline);
    letters.push({
      ...deadLetterOf(record, kind, pipeline, reason(c), ctx.now),
      acceptedBy: others,
      ...(windows === undefined ? {} : { windows: windows(c) }),
    });
  }
  return letters;
}

const putLetters = (ctx: BatchContext, letters: readonly DeadLetter[]) =>
  putDeadLetters(ctx.deps.dynamodb, ctx.deps.deadLetterTable, letters, ctx.deps.deadLetterRetentionSeconds);

const OVERSIZED = (what: string) =>
  `the state of ${what} would exceed DynamoDB's item size limit (${MAX_PANE_ITEM_BYTES} bytes kept for state); lower a sketch's precision or accuracy, or shorten the window`;

/** One key's session elements of the batch, merged into its stored sessions exactly once. */
async function applySessionDelta(ctx: BatchContext, delta: SessionDelta): Promise<void> {
  const outcome = await retryOnConflict(MAX_ATTEMPTS, () => sessionsAttempt(ctx, delta));
  if (outcome === undefined)
    throw new StateWriteConflictError(`sessions ${delta.pipeline}/${delta.key} kept changing under ${MAX_ATTEMPTS} attempts`);
}

/** Read the key's sessions, merge the batch's elements, write them under the version read. */
async function sessionsAttempt(ctx: BatchContext, delta: SessionDelta): Promise<{ done: true } | "conflict"> {
  const { dynamodb, stateTable } = ctx.deps;
  const watermark = ctx.watermarks.get(delta.pipeline);
  const known = await readSessions(dynamodb, stateTable, delta);
  const update = updateSessions(known, delta, ctx.shardId, watermark);
  ctx.counts.alreadyApplied += update.alreadyApplied;
  if (update.kind === "applied-before") return DONE;
  const effective = update.kind === "write" ? update.next.watermark : Math.max(watermark ?? 0, known?.watermark ?? 0);
  const own = (c: Contribution) => [{ start: c.ts, end: c.ts + delta.gap }];
  const late = lettersFor(
    ctx,
    update.late,
    delta.pipeline,
    "late",
    (c) => lateReason(c.ts, effective ?? 0, delta.allowedLateness, own(c), true),
    own,
  );
  if (update.kind === "late") {
    ctx.counts.late += late.length;
    await putLetters(ctx, late);
    return DONE;
  }
  const due = sessionsDueOf(update.next.entries, delta.gap, delta.allowedLateness);
  const item = sessionsItemOf(delta, update.next, due);
  if (approximateItemBytes(item) > MAX_PANE_ITEM_BYTES) {
    ctx.counts.invalid += update.accepted.length;
    await putLetters(ctx, [
      ...late,
      ...lettersFor(ctx, update.accepted, delta.pipeline, "invalid", () => OVERSIZED(`the sessions of key "${delta.key}"`)),
    ]);
    ctx.counts.late += late.length;
    return DONE;
  }
  await putLetters(ctx, late);
  if (await writeSessions(dynamodb, stateTable, item, known?.version, update.next)) {
    ctx.counts.late += late.length;
    ctx.counts.stateWrites++;
    // Accepted into a session the watermark already passed: it fires again at the next closing run.
    const fired = update.next.entries.map((e) => sessionWindowOf(e, delta.gap)).filter((w) => isWindowDue(w.end, effective));
    ctx.counts.lateAccepted += update.accepted.filter((c) => fired.some((w) => c.ts >= w.start && c.ts < w.end)).length;
    return DONE;
  }
  ctx.counts.conflicts++;
  return "conflict";
}

/** Producer duplicates (same event id, another record) are dropped before any state write. */
async function dropDuplicates(ctx: BatchContext, deltas: readonly (PaneDelta | SessionDelta)[]): Promise<void> {
  const { deps } = ctx;
  for (const pipeline of deps.pipelines) {
    if (!pipeline.dedupe) continue;
    const mine = deltas.filter((d) => d.pipeline === pipeline.name);
    const claims = mine.flatMap((d) => d.contributions.map((c) => ({ id: c.id ?? "", sequenceNumber: c.sequenceNumber })));
    if (claims.length === 0) continue;
    const duplicates = await claimEventIds(deps.dynamodb, deps.stateTable, claims, {
      pipeline: pipeline.name,
      shardId: ctx.shardId,
      within: pipeline.dedupe.within,
      now: ctx.now,
      concurrency: deps.writeConcurrency,
    });
    ctx.counts.duplicates += duplicates.size;
    for (const delta of mine) delta.contributions = delta.contributions.filter((c) => !duplicates.has(c.sequenceNumber));
  }
}

/** Starts a closing run now when this batch may have moved a watermark past a window's end (or changed a fired or open window). */
async function requestClosingIfDue(ctx: BatchContext, maxEventTimes: ReadonlyMap<string, number>): Promise<void> {
  const { deps } = ctx;
  const mayClose = deps.pipelines.some((pipeline) => {
    const maxEventTime = maxEventTimes.get(pipeline.name);
    if (maxEventTime === undefined) return false;
    // Pipelines with early results, and batches with late events, want a run whenever windows changed.
    return (
      pipeline.early !== undefined ||
      ctx.counts.lateAccepted > 0 ||
      closesWindows(pipeline.window, ctx.watermarks.get(pipeline.name), maxEventTime - pipeline.outOfOrderness)
    );
  });
  if (mayClose && deps.requestClosing) {
    ctx.counts.closingRequested = 1;
    await deps.requestClosing();
  }
}

/**
 * Every session delta, with bounded concurrency. A write that fails is kept with its error; returns the
 * lowest position among the failed deltas' records (the shard resumes from there).
 */
async function applySessionDeltas(
  ctx: BatchContext,
  plan: BatchPlan,
  limit: LimitFunction,
  errors: unknown[],
): Promise<bigint | undefined> {
  let lowestFailed: bigint | undefined;
  await Promise.all(
    plan.sessions
      .filter((delta) => delta.contributions.length > 0)
      .map((delta) =>
        limit(async () => {
          try {
            await applySessionDelta(ctx, delta);
          } catch (error) {
            errors.push(error);
            ctx.counts.failedWrites++;
            const first = delta.contributions[0]?.sequenceNumber;
            if (first !== undefined && (lowestFailed === undefined || first < lowestFailed)) lowestFailed = first;
          }
        }),
      ),
  );
  return lowestFailed;
}

/**
 * The log entries for `records` (one, unless the batch's state would not fit in an item: then split by
 * records). `endsRecord`: the last of `records` ends its Kinesis record (false when the user records
 * of a KPL-aggregated record go on in the next entry).
 */
function entriesOf(
  ctx: BatchContext,
  plan: BatchPlan,
  records: readonly StreamRecord[],
  ordinal: number,
  shardId: string,
  endsRecord = true,
): { entry: LogEntry; records: readonly StreamRecord[] }[] {
  const first = records[0];
  const last = records[records.length - 1];
  if (first === undefined || last === undefined) return [];
  const from = positionOf(first);
  const to = positionOf(last);
  const panes: LoggedPane[] = [];
  const all = records.length === plan.counts.records;
  for (const { delta } of plan.panes) {
    const contributions = all ? delta.contributions : delta.contributions.filter((c) => c.sequenceNumber >= from && c.sequenceNumber <= to);
    if (contributions.length === 0) continue;
    panes.push({
      pipeline: delta.pipeline,
      key: delta.key,
      paneStart: delta.paneStart,
      layers: layersOf({ aggregates: delta.aggregates, contributions }),
    });
  }
  const maxEventTimes: Record<string, number> = {};
  for (const [pipeline, events] of plan.progress)
    for (const e of events)
      if (all || (e.sequenceNumber >= from && e.sequenceNumber <= to))
        maxEventTimes[pipeline] = Math.max(e.ts, maxEventTimes[pipeline] ?? Number.NEGATIVE_INFINITY);
  const inEntry = (position: bigint) => all || (position >= from && position <= to);
  const unmatched = plan.notices.unmatched.filter(inEntry).length;
  const secondsLike = Object.fromEntries(
    [...plan.notices.secondsLike]
      .map(([pipeline, { positions, sample }]) => [pipeline, { count: positions.filter(inEntry).length, sample }] as const)
      .filter(([, n]) => n.count > 0),
  );
  const notices: EntryNotices = {
    ...(unmatched > 0
      ? { unmatched, ...(plan.notices.unmatchedSample === undefined ? {} : { unmatchedSample: plan.notices.unmatchedSample }) }
      : {}),
    ...(Object.keys(secondsLike).length > 0 ? { secondsLike } : {}),
  };
  const entry: LogEntry = {
    ordinal,
    kind: "batch",
    first: from,
    // The whole Kinesis record, or — split inside an aggregated record — its user records up to this one.
    last: endsRecord ? (BigInt(last.sequenceNumber) << 32n) + 0xffffffffn : to,
    at: ctx.now,
    watermarks: Object.fromEntries(ctx.watermarks),
    ...(ctx.generations.size > 0 ? { generations: Object.fromEntries(ctx.generations) } : {}),
    maxEventTimes,
    panes,
    ...(Object.keys(notices).length > 0 ? { notices } : {}),
  };
  if (approximateItemBytes(logItemOf(shardId, entry)) <= MAX_LOG_ITEM_BYTES) return [{ entry, records }];
  // Split on a Kinesis record boundary, past the middle if there is one; else inside a KPL-aggregated
  // record, between two of its user records (positions tell them apart: a redelivery drops exactly
  // the user records an entry holds).
  const boundary = (i: number) => i > 0 && records[i]?.sequenceNumber !== records[i - 1]?.sequenceNumber;
  let cut = records.findIndex((_, i) => i >= records.length / 2 && boundary(i));
  if (cut <= 0) cut = records.findIndex((_, i) => boundary(i));
  if (cut <= 0) cut = Math.floor(records.length / 2);
  if (cut <= 0) throw new RangeError(`the state of one user record of shard ${shardId} does not fit in a log entry`);
  const head = entriesOf(ctx, plan, records.slice(0, cut), ordinal, shardId, boundary(cut));
  return [...head, ...entriesOf(ctx, plan, records.slice(cut), ordinal + head.length, shardId, endsRecord)];
}

const emptyCounts = (records: number): BatchOutcome["counts"] => ({
  records,
  events: 0,
  invalid: 0,
  late: 0,
  partlyLate: 0,
  lateAccepted: 0,
  unmatched: 0,
  secondsLike: 0,
  stateWrites: 0,
  alreadyApplied: 0,
  failedWrites: 0,
  conflicts: 0,
  duplicates: 0,
  closingRequested: 0,
});

/**
 * Plans the records after the head and applies them: dead letters, dedupe, session sets, then the log
 * entries. "conflict" when an entry's number was taken (the head moved): nothing of this attempt is
 * lost, and the next one plans again from the new head.
 */
async function applyAfterHead(
  deps: IngestDependencies,
  shardId: string,
  head: LogHead,
  pending: readonly StreamRecord[],
  now: number,
  counts: BatchOutcome["counts"],
): Promise<BatchOutcome | "conflict"> {
  const plan = planBatch(deps.pipelines, pending, head.watermarks, now, deps.maxRecordBytes);
  Object.assign(counts, plan.counts);
  const ctx: BatchContext = {
    deps,
    shardId,
    now,
    watermarks: head.watermarks,
    generations: head.generations,
    recordAt: recordsByPosition(pending),
    acceptedBy: plan.acceptedBy,
    counts,
  };
  await putLetters(ctx, [...plan.deadLetters, ...plan.tooLate.flatMap(({ letters }) => [...letters.values()])]);
  counts.late += plan.deadLetters.filter((l) => l.kind === "late").length;
  counts.late += plan.tooLate.reduce((n, { letters }) => n + letters.size, 0);
  await dropDuplicates(ctx, [...plan.panes.map((p) => p.delta), ...plan.sessions]);

  const errors: unknown[] = [];
  const lowestFailed = await applySessionDeltas(ctx, plan, pLimit(deps.writeConcurrency), errors);
  // The log covers only whole Kinesis records before the first failed session write.
  const floor = lowestFailed === undefined ? undefined : recordFloorOf(lowestFailed);
  const covered = floor === undefined ? pending : pending.filter((r) => positionOf(r) < floor);
  const partly = plan.panes.flatMap(({ delta, letters }) =>
    delta.contributions.flatMap((c) => (floor !== undefined && c.sequenceNumber >= floor ? [] : (letters.get(c.sequenceNumber) ?? []))),
  );
  counts.partlyLate += partly.length;
  await putLetters(ctx, partly);

  if (covered.length > 0) {
    if (head.ordinal === 0) await registerLogShard(deps.dynamodb, deps.stateTable, shardId);
    const entries = entriesOf(ctx, plan, covered, head.ordinal + 1, shardId);
    for (const { entry } of entries) {
      if (!(await appendLogItem(deps.dynamodb, deps.stateTable, logItemOf(shardId, entry, deps.logRetentionSeconds)))) {
        counts.conflicts++;
        heads.delete(headId(deps, shardId));
        return "conflict";
      }
      counts.stateWrites++;
      heads.set(headId(deps, shardId), { ...head, ordinal: entry.ordinal, last: entry.last });
    }
  }
  const maxEventTimes = new Map<string, number>();
  for (const [pipeline, events] of plan.progress)
    for (const e of events)
      if (floor === undefined || e.sequenceNumber < floor)
        maxEventTimes.set(pipeline, Math.max(e.ts, maxEventTimes.get(pipeline) ?? Number.NEGATIVE_INFINITY));
  await requestClosingIfDue(ctx, maxEventTimes);
  const resumeFrom = lowestFailed === undefined ? undefined : ctx.recordAt(lowestFailed)?.sequenceNumber;
  return { resumeFrom, counts, errors };
}

/**
 * The records after `last`. A shard's records arrive in sequence order, so when the first is after it
 * (the common case) they all are, and no other position needs computing.
 */
function recordsAfter(records: readonly StreamRecord[], last: bigint | undefined): readonly StreamRecord[] {
  const first = records[0];
  if (last === undefined || first === undefined || positionOf(first) > last) return records;
  return records.filter((r) => positionOf(r) > last);
}

/** The pipelines that read the stream (a cascade reads another pipeline's rows: closing gives them). */
const streamPipelines = new WeakMap<readonly Pipeline[], readonly Pipeline[]>();

function readingTheStream(deps: IngestDependencies): IngestDependencies {
  if (!deps.pipelines.some((p) => p.from !== undefined)) return deps;
  let pipelines = streamPipelines.get(deps.pipelines);
  if (pipelines === undefined) {
    pipelines = deps.pipelines.filter((p) => p.from === undefined);
    streamPipelines.set(deps.pipelines, pipelines);
  }
  return { ...deps, pipelines };
}

export async function applyShardBatch(all: IngestDependencies, records: readonly StreamRecord[]): Promise<BatchOutcome> {
  const deps = readingTheStream(all);
  const now = deps.now?.() ?? Date.now();
  const shardId = records[0]?.shardId;
  if (shardId === undefined) return { counts: emptyCounts(0), errors: [] };
  let head = heads.get(headId(deps, shardId)) ?? (await readHead(deps, shardId));
  let conflicts = 0;
  try {
    for (let attempt = 1; ; attempt++) {
      const pending = recordsAfter(records, head.last);
      const counts = { ...emptyCounts(records.length), alreadyApplied: records.length - pending.length, conflicts };
      if (pending.length === 0) {
        heads.set(headId(deps, shardId), head);
        return { counts, errors: [] };
      }
      head = await withWatermarks(deps, head, now);
      const outcome = await applyAfterHead(deps, shardId, head, pending, now, counts);
      if (outcome !== "conflict") return outcome;
      conflicts = counts.conflicts;
      if (attempt >= MAX_ATTEMPTS)
        throw new StateWriteConflictError(`the log of shard ${shardId} kept moving under ${MAX_ATTEMPTS} attempts`);
      // The head's watermarks are the ones to plan at (a notice's, or those the batch before was planned
      // at), merged into what this container knew: a pipeline the head does not name keeps its watermark.
      const read = await readHead(deps, shardId);
      head = { ...read, ...mergeWatermarks(head, read), watermarksReadAt: head.watermarksReadAt };
    }
  } catch (error) {
    // Whatever this container thought of the head, the retry reads it again.
    heads.delete(headId(deps, shardId));
    throw error;
  }
}
