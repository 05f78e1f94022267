// The shard logs as the coordinator of closing reads them: each shard's entries after its progress
// (what they add to the pipelines' checkpoints and watermarks), the checkpoints and progress moved over
// them, and watermark notices appended to every log when a watermark moves (ingest containers plan the
// next batch at the new watermark). Folding entries into state is the closing units' (closing-unit.ts).
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import pLimit from "p-limit";
import {
  lastPositionOf,
  readShardProgress,
  type ShardProgressRecord,
  sumNotices,
  writeCheckpoint,
  writeShardProgress,
} from "../aws/dynamodb/checkpoints.ts";
import { appendLogItem, forgetLogShard, type LogEntry, logItemOf, readLogAfter, readLogHead, readLogShards } from "../aws/dynamodb/log.ts";
import type { Pipeline } from "../core/pipelines/schema.ts";

export interface LogDependencies {
  dynamodb: DynamoDBClient;
  stateTable: string;
  pipelines: readonly Pipeline[];
  concurrency: number;
}

/** The shard logs as this run found them: per shard, its progress and the entries not folded yet. */
export interface UnfoldedLogs {
  shards: Map<string, { progress?: ShardProgressRecord; entries: LogEntry[] }>;
}

/** The record position an entry covers up to, as a Kinesis sequence number. */
const sequenceOf = (position: bigint) => (position >> 32n).toString();

/** Every shard's entries after its progress (reads only). A shard closed, read and folded to its end is forgotten. */
export async function readUnfolded(deps: LogDependencies): Promise<UnfoldedLogs> {
  const logs: UnfoldedLogs = { shards: new Map() };
  const shardIds = await readLogShards(deps.dynamodb, deps.stateTable);
  if (shardIds.length === 0) return logs;
  const progress = await readShardProgress(deps.dynamodb, deps.stateTable, shardIds);
  const limit = pLimit(deps.concurrency);
  await Promise.all(
    shardIds.map((shardId) =>
      limit(async () => {
        const from = progress.get(shardId);
        const entries = await readLogAfter(deps.dynamodb, deps.stateTable, shardId, from?.ordinal ?? 0);
        if (from?.finished && entries.length === 0) return forgetLogShard(deps.dynamodb, deps.stateTable, shardId);
        logs.shards.set(shardId, { ...(from === undefined ? {} : { progress: from }), entries });
      }),
    ),
  );
  return logs;
}

/** Per shard, what its unfolded entries add to a pipeline's checkpoint: max event time, the time of the last batch with its events, the last sequence number. */
export function unfoldedProgress(logs: UnfoldedLogs, pipeline: string): Map<string, { maxEventTime: number; updatedAt: number }> {
  const added = new Map<string, { maxEventTime: number; updatedAt: number }>();
  for (const [shardId, { entries }] of logs.shards)
    for (const entry of entries) {
      const maxEventTime = entry.maxEventTimes[pipeline];
      if (entry.kind !== "batch" || maxEventTime === undefined) continue;
      const known = added.get(shardId);
      added.set(shardId, { maxEventTime: Math.max(maxEventTime, known?.maxEventTime ?? maxEventTime), updatedAt: entry.at });
    }
  return added;
}

/** The last sequence number a shard's consumer has applied, folded or not (undefined: none). */
export function appliedSequenceOf(logs: UnfoldedLogs, shardId: string): string | undefined {
  const log = logs.shards.get(shardId);
  const batches = (log?.entries ?? []).filter((e) => e.kind === "batch" && e.last !== undefined);
  const last = batches[batches.length - 1]?.last;
  return last === undefined ? log?.progress?.sequenceNumber : sequenceOf(last);
}

/** Whether the unfolded entries hold events of `pipeline` that windows already fired (at `watermark`) took: they fire again. */
export function holdsLateEvents(logs: UnfoldedLogs, pipeline: string, watermark: number | undefined): boolean {
  if (watermark === undefined) return false;
  for (const { entries } of logs.shards.values())
    for (const entry of entries)
      for (const pane of entry.panes) if (pane.pipeline === pipeline && pane.layers.some((l) => l.from <= watermark)) return true;
  return false;
}

/** Whether the unfolded entries hold events of `pipeline` at all. */
export function holdsEvents(logs: UnfoldedLogs, pipeline: string): boolean {
  for (const { entries } of logs.shards.values()) for (const entry of entries) if (entry.maxEventTimes[pipeline] !== undefined) return true;
  return false;
}

/** Per shard, the newest entry: where a notice goes. */
export function headsOf(logs: UnfoldedLogs): Map<string, { ordinal: number; last?: bigint; finished: boolean }> {
  return new Map([...logs.shards].map(([shardId, { progress, entries }]) => [shardId, headAfter(progress, entries[entries.length - 1])]));
}

function headAfter(progress: ShardProgressRecord | undefined, newest: LogEntry | undefined) {
  if (newest !== undefined) return { ordinal: newest.ordinal, last: newest.last, finished: progress?.finished ?? false };
  const last = lastPositionOf(progress);
  return { ordinal: progress?.ordinal ?? 0, ...(last === undefined ? {} : { last }), finished: progress?.finished ?? false };
}

/** Moves every shard's checkpoints (per pipeline) and progress over the entries read. */
export async function advanceShards(deps: LogDependencies, logs: UnfoldedLogs): Promise<number> {
  const limit = pLimit(deps.concurrency);
  let entries = 0;
  await Promise.all(
    [...logs.shards].map(([shardId, log]) =>
      limit(async () => {
        if (log.entries.length === 0) return;
        await advanceShard(deps, shardId, log.entries, log.progress?.ordinal ?? 0);
        entries += log.entries.length;
      }),
    ),
  );
  return entries;
}

/** A shard's pipelines' checkpoints, then its progress (read at `after`). */
async function advanceShard(deps: LogDependencies, shardId: string, entries: readonly LogEntry[], after: number): Promise<void> {
  const batches = entries.filter((e) => e.kind === "batch" && e.last !== undefined);
  const lastBatch = batches[batches.length - 1];
  if (lastBatch?.last !== undefined) {
    const sequenceNumber = sequenceOf(lastBatch.last);
    const maxEventTimes = new Map<string, { maxEventTime: number; at: number }>();
    for (const entry of batches)
      for (const [pipeline, maxEventTime] of Object.entries(entry.maxEventTimes)) {
        const known = maxEventTimes.get(pipeline);
        maxEventTimes.set(pipeline, { maxEventTime: Math.max(maxEventTime, known?.maxEventTime ?? maxEventTime), at: entry.at });
      }
    await Promise.all(
      [...maxEventTimes].map(([pipeline, { maxEventTime, at }]) =>
        writeCheckpoint(deps.dynamodb, deps.stateTable, { pipeline, shardId, sequenceNumber, maxEventTime, updatedAt: at }),
      ),
    );
  }
  const newest = entries[entries.length - 1] as LogEntry;
  const progress = {
    ordinal: newest.ordinal,
    ...(lastBatch?.last === undefined ? {} : { sequenceNumber: sequenceOf(lastBatch.last), position: lastBatch.last }),
  };
  if (sumNotices(entries) === undefined) {
    await writeShardProgress(deps.dynamodb, deps.stateTable, shardId, progress, newest.at);
    return;
  }
  // The entries' notices are added once: the progress moves only from where this run read it; when
  // another run moved it meanwhile, what that run covered is left out and the rest added from there.
  let from = after;
  for (let attempt = 1; attempt <= 6; attempt++) {
    const notices = sumNotices(entries.filter((e) => e.ordinal > from));
    if (notices === undefined) {
      await writeShardProgress(deps.dynamodb, deps.stateTable, shardId, progress, newest.at);
      return;
    }
    if (await writeShardProgress(deps.dynamodb, deps.stateTable, shardId, progress, newest.at, { after: from, notices })) return;
    const now = (await readShardProgress(deps.dynamodb, deps.stateTable, [shardId])).get(shardId)?.ordinal ?? 0;
    if (now >= newest.ordinal) return;
    from = now;
  }
  throw new Error(`the progress of shard ${shardId} kept moving under 6 attempts`);
}

/**
 * Tells every shard's log of watermarks set by hand (an operator's reset), reading where each log
 * ends; the watermarks of pipelines not named stay as the log's head has them.
 */
export async function announceWatermarksEverywhere(
  deps: LogDependencies,
  watermarks: ReadonlyMap<string, number>,
  generations: ReadonlyMap<string, number>,
  now: number,
  logRetentionSeconds?: number,
): Promise<void> {
  const shardIds = await readLogShards(deps.dynamodb, deps.stateTable);
  const progress = await readShardProgress(deps.dynamodb, deps.stateTable, shardIds);
  await Promise.all(
    shardIds.map(async (shardId) => {
      const head = await readLogHead(deps.dynamodb, deps.stateTable, shardId);
      const all = new Map([...Object.entries(head?.watermarks ?? {}), ...watermarks]);
      const allGenerations = new Map([...Object.entries(head?.generations ?? {}), ...generations]);
      await announceWatermarks(
        deps,
        new Map([[shardId, headAfter(progress.get(shardId), head)]]),
        all,
        now,
        logRetentionSeconds,
        allGenerations,
      );
    }),
  );
}

/**
 * Tells every shard's log the watermarks now in force: a notice entry after the head. An ingest
 * container that plans at older watermarks finds the number taken, reads the head, and plans again.
 */
export async function announceWatermarks(
  deps: LogDependencies,
  heads: ReadonlyMap<string, { ordinal: number; last?: bigint; finished: boolean }>,
  watermarks: ReadonlyMap<string, number>,
  now: number,
  logRetentionSeconds?: number,
  generations: ReadonlyMap<string, number> = new Map(),
): Promise<void> {
  const limit = pLimit(deps.concurrency);
  await Promise.all(
    [...heads].map(([shardId, head]) =>
      limit(async () => {
        if (head.finished) return;
        let at = head;
        for (let attempt = 0; attempt < 3; attempt++) {
          const notice: LogEntry = {
            ordinal: at.ordinal + 1,
            kind: "notice",
            ...(at.last === undefined ? {} : { last: at.last }),
            at: now,
            watermarks: Object.fromEntries(watermarks),
            ...(generations.size > 0 ? { generations: Object.fromEntries(generations) } : {}),
            maxEventTimes: {},
            panes: [],
          };
          if (await appendLogItem(deps.dynamodb, deps.stateTable, logItemOf(shardId, notice, logRetentionSeconds))) return;
          // A batch took the number: it was planned at the older watermarks, as it may be. Go after it.
          const read = await readLogHead(deps.dynamodb, deps.stateTable, shardId);
          if (read === undefined) return;
          at = { ordinal: read.ordinal, ...(read.last === undefined ? {} : { last: read.last }), finished: false };
        }
      }),
    ),
  );
}
