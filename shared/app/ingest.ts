// Applies one shard batch exactly once: dead letters, then fenced state writes (bounded concurrency) —
// fixed-window panes and session sets — then the per-pipeline checkpoints covering only what was fully
// applied. Returns where the shard must resume when some writes failed, so the caller can answer with
// batchItemFailures. Every decision comes from ingest/plan.ts, ingest/deltas.ts and windows/fates.ts.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import pLimit, { type LimitFunction } from "p-limit";
import { readWatermarks, writeCheckpoint, writeShardProgress } from "../aws/dynamodb/checkpoints.ts";
import { putDeadLetters } from "../aws/dynamodb/dead-letters.ts";
import { claimEventIds } from "../aws/dynamodb/dedupe.ts";
import {
  approximateItemBytes,
  MAX_PANE_ITEM_BYTES,
  paneItemOf,
  readPane,
  readSessions,
  sessionsItemOf,
  writePane,
  writeSessions,
} from "../aws/dynamodb/panes.ts";
import { retryOnConflict } from "../aws/retry.ts";
import { type Contribution, type PaneDelta, type SessionDelta, updatePane, updateSessions } from "../core/ingest/deltas.ts";
import { type BatchPlan, deadLetterOf, lateReason, planBatch, positionOf, recordFloorOf } from "../core/ingest/plan.ts";
import type { Pipeline } from "../core/pipelines/schema.ts";
import type { DeadLetter, StreamRecord } from "../core/types.ts";
import { closesWindows, type TimeWindow, windowsOfPane } from "../core/windows/assigners.ts";
import { firstEndOfPane, isWindowDue } from "../core/windows/fates.ts";
import { sessionsDueOf, sessionWindowOf } from "../core/windows/sessions.ts";

export interface IngestDependencies {
  dynamodb: DynamoDBClient;
  stateTable: string;
  deadLetterTable: string;
  pipelines: readonly Pipeline[];
  /** concurrent state writes per batch */
  writeConcurrency: number;
  /** how long dead letters are kept (TTL), seconds; undefined keeps them */
  deadLetterRetentionSeconds?: number;
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
    panesWritten: number;
    alreadyApplied: number;
    failedPanes: number;
    conflicts: number;
    duplicates: number;
    closingRequested: number;
  };
  errors: unknown[];
}

const MAX_ATTEMPTS = 6;
const DONE = { done: true } as const;

export class StateWriteConflictError extends Error {
  override name = "StateWriteConflictError";
}

/** What one batch is doing; the steps below share it. */
interface BatchContext {
  deps: IngestDependencies;
  shardId: string;
  now: number;
  watermarks: ReadonlyMap<string, number>;
  bySequence: Map<bigint, StreamRecord>;
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
    const record = ctx.bySequence.get(c.sequenceNumber);
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

/**
 * One pane's share of the batch, exactly once. Late letters for contributions some windows refused are
 * written before the pane, and only for contributions the pane does not hold yet, so a redelivery never
 * changes a decision already applied.
 */
async function applyPaneDelta(ctx: BatchContext, delta: PaneDelta, partial: ReadonlyMap<bigint, DeadLetter>): Promise<void> {
  const outcome = await retryOnConflict(MAX_ATTEMPTS, () => paneAttempt(ctx, delta, partial));
  if (outcome === undefined)
    throw new StateWriteConflictError(
      `pane ${delta.pipeline}/${delta.key}/${delta.paneStart} kept changing under ${MAX_ATTEMPTS} attempts`,
    );
}

/** Read the pane, decide what the batch adds, write it under the version read. */
async function paneAttempt(
  ctx: BatchContext,
  delta: PaneDelta,
  partial: ReadonlyMap<bigint, DeadLetter>,
): Promise<{ done: true } | "conflict"> {
  const { dynamodb, stateTable } = ctx.deps;
  const known = await readPane(dynamodb, stateTable, delta.pipeline, delta.key, delta.paneStart);
  const update = updatePane(known, delta, ctx.shardId);
  ctx.counts.alreadyApplied += update.alreadyApplied;
  if (update.kind === "applied-before") return DONE;
  if (update.kind === "purged") {
    ctx.counts.late += update.pending.length;
    const windows = windowsOfPane(delta.window, delta.paneStart);
    const reason = "its windows' state was already purged (the watermark passed their end + allowed lateness)";
    await putLetters(
      ctx,
      lettersFor(
        ctx,
        update.pending,
        delta.pipeline,
        "late",
        () => reason,
        () => windows,
      ),
    );
    return DONE;
  }
  const item = paneItemOf(delta, update.next, firstEndOfPane(delta.window, delta.paneStart));
  // A state that cannot be stored is refused with a reason (dead letters), never retried forever.
  if (approximateItemBytes(item) > MAX_PANE_ITEM_BYTES) {
    ctx.counts.invalid += update.pending.length;
    await putLetters(
      ctx,
      lettersFor(ctx, update.pending, delta.pipeline, "invalid", () => OVERSIZED(`pane ${delta.paneStart} of key "${delta.key}"`)),
    );
    return DONE;
  }
  const refused = update.pending.flatMap((c) => partial.get(c.sequenceNumber) ?? []);
  ctx.counts.partlyLate += refused.length;
  await putLetters(ctx, refused);
  if (await writePane(dynamodb, stateTable, item, known?.version, update.next)) {
    ctx.counts.panesWritten++;
    return DONE;
  }
  ctx.counts.partlyLate -= refused.length;
  ctx.counts.conflicts++;
  return "conflict";
}

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
  const known = await readSessions(dynamodb, stateTable, delta.pipeline, delta.key);
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
    ctx.counts.panesWritten++;
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

/** Checkpoints cover only Kinesis records before the first failure: the watermark must not run ahead of state. */
async function writeCheckpoints(
  ctx: BatchContext,
  records: readonly StreamRecord[],
  progress: ReadonlyMap<string, readonly { sequenceNumber: bigint; ts: number }[]>,
  lowestFailed: bigint | undefined,
): Promise<Map<string, number>> {
  const { deps } = ctx;
  const failedFloor = lowestFailed === undefined ? undefined : recordFloorOf(lowestFailed);
  const applied = records.filter((r) => failedFloor === undefined || positionOf(r) < failedFloor);
  const lastApplied = applied[applied.length - 1];
  const maxEventTimes = new Map<string, number>();
  if (lastApplied === undefined) return maxEventTimes;
  for (const pipeline of deps.pipelines) {
    for (const e of progress.get(pipeline.name) ?? []) {
      if (failedFloor !== undefined && e.sequenceNumber >= failedFloor) continue;
      maxEventTimes.set(pipeline.name, Math.max(e.ts, maxEventTimes.get(pipeline.name) ?? Number.NEGATIVE_INFINITY));
    }
  }
  await Promise.all(
    [...maxEventTimes].map(([pipeline, maxEventTime]) =>
      writeCheckpoint(deps.dynamodb, deps.stateTable, {
        pipeline,
        shardId: ctx.shardId,
        sequenceNumber: lastApplied.sequenceNumber,
        maxEventTime,
        updatedAt: ctx.now,
      }),
    ),
  );
  await writeShardProgress(deps.dynamodb, deps.stateTable, ctx.shardId, lastApplied.sequenceNumber, ctx.now);
  return maxEventTimes;
}

/** Too late for every window, unless a fence shows the record is a redelivery of something already applied. */
async function refuseTooLate(ctx: BatchContext, tooLate: BatchPlan["tooLate"], limit: LimitFunction): Promise<void> {
  const { dynamodb, stateTable } = ctx.deps;
  await Promise.all(
    tooLate.map(({ delta, letters }) =>
      limit(async () => {
        const known = await readPane(dynamodb, stateTable, delta.pipeline, delta.key, delta.paneStart);
        const fence = known?.fences.get(ctx.shardId);
        const unapplied = fence === undefined ? delta.contributions : delta.contributions.filter((c) => c.sequenceNumber > fence);
        ctx.counts.alreadyApplied += delta.contributions.length - unapplied.length;
        ctx.counts.late += unapplied.length;
        await putLetters(
          ctx,
          unapplied.flatMap((c) => letters.get(c.sequenceNumber) ?? []),
        );
      }),
    ),
  );
}

/**
 * Every pane and session delta, with bounded concurrency. A write that fails is kept with its error;
 * returns the lowest position among the failed deltas' records (the shard resumes from there).
 */
async function applyDeltas(ctx: BatchContext, plan: BatchPlan, limit: LimitFunction, errors: unknown[]): Promise<bigint | undefined> {
  let lowestFailed: bigint | undefined;
  const attempt = (first: bigint | undefined, write: () => Promise<void>) =>
    limit(async () => {
      try {
        await write();
      } catch (error) {
        errors.push(error);
        ctx.counts.failedPanes++;
        if (first !== undefined && (lowestFailed === undefined || first < lowestFailed)) lowestFailed = first;
      }
    });
  await Promise.all([
    ...plan.panes
      .filter(({ delta }) => delta.contributions.length > 0)
      .map(({ delta, letters }) => attempt(delta.contributions[0]?.sequenceNumber, () => applyPaneDelta(ctx, delta, letters))),
    ...plan.sessions
      .filter((delta) => delta.contributions.length > 0)
      .map((delta) => attempt(delta.contributions[0]?.sequenceNumber, () => applySessionDelta(ctx, delta))),
  ]);
  return lowestFailed;
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

const emptyCounts = (records: number): BatchOutcome["counts"] => ({
  records,
  events: 0,
  invalid: 0,
  late: 0,
  partlyLate: 0,
  lateAccepted: 0,
  panesWritten: 0,
  alreadyApplied: 0,
  failedPanes: 0,
  conflicts: 0,
  duplicates: 0,
  closingRequested: 0,
});

export async function applyShardBatch(deps: IngestDependencies, records: readonly StreamRecord[]): Promise<BatchOutcome> {
  const now = deps.now?.() ?? Date.now();
  const shardId = records[0]?.shardId;
  const counts = emptyCounts(records.length);
  if (shardId === undefined) return { counts, errors: [] };

  const watermarks = await readWatermarks(
    deps.dynamodb,
    deps.stateTable,
    deps.pipelines.map((p) => p.name),
  );
  const plan = planBatch(deps.pipelines, records, watermarks, now, deps.maxRecordBytes);
  Object.assign(counts, plan.counts);
  const bySequence = new Map(records.map((r) => [positionOf(r), r]));
  const ctx: BatchContext = { deps, shardId, now, watermarks, bySequence, acceptedBy: plan.acceptedBy, counts };
  await putLetters(ctx, plan.deadLetters);
  counts.late += plan.deadLetters.filter((l) => l.kind === "late").length;
  await dropDuplicates(ctx, [...plan.panes.map((p) => p.delta), ...plan.sessions]);

  const limit = pLimit(deps.writeConcurrency);
  await refuseTooLate(ctx, plan.tooLate, limit);
  const errors: unknown[] = [];
  const lowestFailed = await applyDeltas(ctx, plan, limit, errors);
  // Checkpoints cover only what was fully applied; then a closing run, when one may be due.
  const maxEventTimes = await writeCheckpoints(ctx, records, plan.progress, lowestFailed);
  await requestClosingIfDue(ctx, maxEventTimes);
  const resumeFrom = lowestFailed === undefined ? undefined : bySequence.get(lowestFailed)?.sequenceNumber;
  return { resumeFrom, counts, errors };
}
