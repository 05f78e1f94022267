// Applies one shard batch exactly once: dead letters, then fenced pane writes (bounded concurrency),
// then the per-pipeline checkpoints covering only what was fully applied. Returns where the shard
// must resume when some pane writes failed, so the caller can answer with batchItemFailures.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import pLimit from "p-limit";
import type { Pipeline } from "../pipelines/schema.ts";
import { readWatermarks, writeCheckpoint, writeShardProgress } from "../state/checkpoints.ts";
import { type DeadLetter, putDeadLetters } from "../state/dead-letters.ts";
import { claimEventIds } from "../state/dedupe.ts";
import { type Contribution, MAX_PANE_ITEM_BYTES, notYetApplied, writeFencedPane } from "../state/panes.ts";
import { closesWindows } from "../windows/assigners.ts";
import { deadLetterOf, planBatch, positionOf, recordFloorOf, type StreamRecord } from "./plan.ts";

export interface IngestDependencies {
  dynamodb: DynamoDBClient;
  stateTable: string;
  deadLetterTable: string;
  pipelines: readonly Pipeline[];
  /** concurrent pane writes per batch */
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
    late: number;
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

export async function applyShardBatch(deps: IngestDependencies, records: readonly StreamRecord[]): Promise<BatchOutcome> {
  const now = deps.now?.() ?? Date.now();
  const shardId = records[0]?.shardId;
  const counts = {
    records: records.length,
    events: 0,
    invalid: 0,
    late: 0,
    lateAccepted: 0,
    panesWritten: 0,
    alreadyApplied: 0,
    failedPanes: 0,
    conflicts: 0,
    duplicates: 0,
    closingRequested: 0,
  };
  if (shardId === undefined) return { counts, errors: [] };

  const watermarks = await readWatermarks(
    deps.dynamodb,
    deps.stateTable,
    deps.pipelines.map((p) => p.name),
  );
  const plan = planBatch(deps.pipelines, records, watermarks, now, deps.maxRecordBytes);
  Object.assign(counts, plan.counts);
  await putDeadLetters(deps.dynamodb, deps.deadLetterTable, plan.deadLetters, deps.deadLetterRetentionSeconds);

  // Producer duplicates (same event id, another record) are dropped before any pane write.
  for (const pipeline of deps.pipelines) {
    if (!pipeline.dedupe) continue;
    const deltas = plan.panes.filter((d) => d.pipeline === pipeline.name);
    const claims = deltas.flatMap((d) => d.contributions.map((c) => ({ id: c.id ?? "", sequenceNumber: c.sequenceNumber })));
    if (claims.length === 0) continue;
    const duplicates = await claimEventIds(
      deps.dynamodb,
      deps.stateTable,
      pipeline.name,
      shardId,
      claims,
      pipeline.dedupe.within,
      now,
      deps.writeConcurrency,
    );
    counts.duplicates += duplicates.size;
    for (const delta of deltas) delta.contributions = delta.contributions.filter((c) => !duplicates.has(c.sequenceNumber));
  }
  plan.panes = plan.panes.filter((d) => d.contributions.length > 0);

  const limit = pLimit(deps.writeConcurrency);
  const errors: unknown[] = [];
  const purged: DeadLetter[] = [];
  const oversized: DeadLetter[] = [];
  // Too late, unless a fence shows the record is a redelivery of something already applied.
  await Promise.all(
    plan.tooLate.map(({ delta, letters }) =>
      limit(async () => {
        const unapplied = await notYetApplied(deps.dynamodb, deps.stateTable, shardId, delta);
        counts.alreadyApplied += delta.contributions.length - unapplied.length;
        for (const c of unapplied) {
          const late = letters.get(c.sequenceNumber);
          if (late) purged.push(late);
        }
      }),
    ),
  );
  let lowestFailed: bigint | undefined;
  const bySequence = new Map(records.map((r) => [positionOf(r), r]));
  await Promise.all(
    plan.panes.map((delta) =>
      limit(async () => {
        try {
          const outcome = await writeFencedPane(deps.dynamodb, deps.stateTable, shardId, delta);
          if (outcome.applied > 0) counts.panesWritten++;
          counts.alreadyApplied += outcome.alreadyApplied;
          counts.conflicts += outcome.conflicts;
          const refuse = (contributions: Contribution[], into: DeadLetter[], kind: DeadLetter["kind"], reason: string) => {
            for (const c of contributions) {
              const record = bySequence.get(c.sequenceNumber);
              if (record) into.push(deadLetterOf(record, kind, delta.pipeline, reason, now));
            }
          };
          refuse(
            outcome.oversized,
            oversized,
            "invalid",
            `the state of pane ${delta.paneStart} of key "${delta.key}" would exceed DynamoDB's item size limit (${MAX_PANE_ITEM_BYTES} bytes kept for state); lower a sketch's precision or accuracy, or shorten the window`,
          );
          refuse(outcome.purged, purged, "late", "its window's state was already purged (past the allowed lateness)");
        } catch (error) {
          errors.push(error);
          counts.failedPanes++;
          const first = delta.contributions[0]?.sequenceNumber;
          if (first !== undefined && (lowestFailed === undefined || first < lowestFailed)) lowestFailed = first;
        }
      }),
    ),
  );
  counts.late = purged.length;
  counts.invalid += oversized.length;
  await putDeadLetters(deps.dynamodb, deps.deadLetterTable, [...purged, ...oversized], deps.deadLetterRetentionSeconds);

  // Checkpoints cover only Kinesis records before the first failure: the watermark must not run ahead of state.
  const failedFloor = lowestFailed === undefined ? undefined : recordFloorOf(lowestFailed);
  const applied = records.filter((r) => failedFloor === undefined || positionOf(r) < failedFloor);
  const lastApplied = applied[applied.length - 1];
  if (lastApplied !== undefined) {
    // Per pipeline, the greatest event time among the applied records (none: no checkpoint to write).
    const maxEventTimes = new Map<string, number>();
    for (const pipeline of deps.pipelines) {
      for (const e of plan.progress.get(pipeline.name) ?? []) {
        if (failedFloor !== undefined && e.sequenceNumber >= failedFloor) continue;
        maxEventTimes.set(pipeline.name, Math.max(e.ts, maxEventTimes.get(pipeline.name) ?? Number.NEGATIVE_INFINITY));
      }
    }
    await Promise.all(
      [...maxEventTimes].map(([pipeline, maxEventTime]) =>
        writeCheckpoint(deps.dynamodb, deps.stateTable, {
          pipeline,
          shardId,
          sequenceNumber: lastApplied.sequenceNumber,
          maxEventTime,
          updatedAt: now,
        }),
      ),
    );
    await writeShardProgress(deps.dynamodb, deps.stateTable, shardId, lastApplied.sequenceNumber, now);
    const mayClose = deps.pipelines.some((pipeline) => {
      const maxEventTime = maxEventTimes.get(pipeline.name);
      if (maxEventTime === undefined) return false;
      // Pipelines with early results want a run whenever their open windows changed.
      return (
        pipeline.early !== undefined ||
        closesWindows(pipeline.window, watermarks.get(pipeline.name), maxEventTime - pipeline.outOfOrderness)
      );
    });
    if (mayClose && deps.requestClosing) {
      counts.closingRequested = 1;
      await deps.requestClosing();
    }
  }
  const resumeFrom = lowestFailed === undefined ? undefined : bySequence.get(lowestFailed)?.sequenceNumber;
  return { resumeFrom, counts, errors };
}
