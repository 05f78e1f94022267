// Folding the shard logs into pane state, the first step of every closing run: each shard's entries
// after its progress ordinal are read, their pane layers merged per (pipeline, key, pane) across
// entries and shards, and each pane written once, fenced per shard (ingest/deltas.ts foldIntoPane), so a
// repeated or concurrent fold adds nothing twice. Then, per shard, the pipelines' checkpoints (last
// sequence number, max event time) and the shard's progress move over what was folded: the watermark
// never runs ahead of pane state. After the run, when a watermark moved, a notice goes to every shard's
// log, so ingest containers plan the next batch at the new watermark.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import pLimit from "p-limit";
import { readShardProgress, type ShardProgressRecord, writeCheckpoint, writeShardProgress } from "../aws/dynamodb/checkpoints.ts";
import { putDeadLetters } from "../aws/dynamodb/dead-letters.ts";
import { appendLogItem, forgetLogShard, type LogEntry, logItemOf, readLogAfter, readLogHead, readLogShards } from "../aws/dynamodb/log.ts";
import { approximateItemBytes, MAX_PANE_ITEM_BYTES, paneItemOf, readPane, writePane } from "../aws/dynamodb/panes.ts";
import { retryOnConflict } from "../aws/retry.ts";
import { foldIntoPane, type PanePortion, type StoredPane } from "../core/ingest/deltas.ts";
import type { Pipeline } from "../core/pipelines/schema.ts";
import type { DeadLetter } from "../core/types.ts";
import { firstEndOfPane } from "../core/windows/fates.ts";

export interface FoldDependencies {
  dynamodb: DynamoDBClient;
  stateTable: string;
  pipelines: readonly Pipeline[];
  concurrency: number;
  /** where panes whose state cannot be stored are reported (the dead-letter table) */
  deadLetterTable?: string;
}

/** The shard logs as this run found them: per shard, its progress and the entries not folded yet. */
export interface UnfoldedLogs {
  shards: Map<string, { progress?: ShardProgressRecord; entries: LogEntry[] }>;
}

export interface FoldReport {
  /** log entries folded (batches and notices) */
  entries: number;
  /** pane writes */
  panes: number;
  /** panes that had been purged and took events accepted before their purge: their windows fire again */
  resurrected: number;
  /** pane portions no pane could store (reported with the reason, per key) */
  unstorable: number;
  /** shards whose entries could not all be folded this run (retried next run) */
  failedShards: string[];
}

const MAX_ATTEMPTS = 6;

/** A pane's portions from this run's entries, with the shards (and their entries) they come from. */
interface PaneWork {
  pipeline: Pipeline;
  key: string;
  paneStart: number;
  portions: PanePortion[];
}

/** The record position an entry covers up to, as a Kinesis sequence number. */
const sequenceOf = (position: bigint) => (position >> 32n).toString();

/** Every shard's entries after its progress (reads only). A shard closed, read and folded to its end is forgotten. */
export async function readUnfolded(deps: FoldDependencies): Promise<UnfoldedLogs> {
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

/** When the oldest unfolded batch was written (undefined: none). */
export function oldestUnfoldedAt(logs: UnfoldedLogs): number | undefined {
  let oldest: number | undefined;
  for (const { entries } of logs.shards.values())
    for (const entry of entries) if (entry.kind === "batch" && (oldest === undefined || entry.at < oldest)) oldest = entry.at;
  return oldest;
}

/** Per shard, the newest entry: where a notice goes. */
export function headsOf(logs: UnfoldedLogs): Map<string, { ordinal: number; last?: bigint; finished: boolean }> {
  return new Map([...logs.shards].map(([shardId, { progress, entries }]) => [shardId, headAfter(progress, entries[entries.length - 1])]));
}

/** Folds the unfolded entries into pane state, then moves each shard's checkpoints and progress over them. */
export async function foldLogs(deps: FoldDependencies, logs: UnfoldedLogs, now: number): Promise<FoldReport> {
  const report: FoldReport = { entries: 0, panes: 0, resurrected: 0, unstorable: 0, failedShards: [] };
  const limit = pLimit(deps.concurrency);
  // One write per pane, whatever the number of entries and shards that reach it.
  const byPipeline = new Map(deps.pipelines.map((p) => [p.name, p]));
  const work = new Map<string, PaneWork>();
  for (const [shardId, { entries }] of logs.shards) {
    for (const entry of entries) {
      if (entry.last === undefined) continue;
      for (const pane of entry.panes) {
        const pipeline = byPipeline.get(pane.pipeline);
        if (pipeline === undefined || pipeline.window.type === "session") continue; // a pipeline since removed
        const id = `${pane.pipeline}\u0000${pane.key}\u0000${pane.paneStart}`;
        let item = work.get(id);
        if (item === undefined) {
          item = { pipeline, key: pane.key, paneStart: pane.paneStart, portions: [] };
          work.set(id, item);
        }
        item.portions.push({ shardId, through: entry.last, layers: pane.layers });
      }
    }
  }
  const failedShards = new Set<string>();
  await Promise.all(
    [...work.values()].map((pane) =>
      limit(async () => {
        try {
          await foldPane(deps, pane, now, report);
        } catch {
          // Retried at the next run: the shards it came from keep their progress until then.
          for (const p of pane.portions) failedShards.add(p.shardId);
        }
      }),
    ),
  );
  report.failedShards = [...failedShards];

  // Checkpoints and progress move over what is folded, shard by shard.
  await Promise.all(
    [...logs.shards].map(([shardId, { entries }]) =>
      limit(async () => {
        const newest = entries[entries.length - 1];
        if (newest === undefined || failedShards.has(shardId)) return;
        await advanceShard(deps, shardId, entries);
        report.entries += entries.length;
      }),
    ),
  );
  return report;
}

function headAfter(progress: ShardProgressRecord | undefined, newest: LogEntry | undefined) {
  if (newest !== undefined) return { ordinal: newest.ordinal, last: newest.last, finished: progress?.finished ?? false };
  const seq = progress?.sequenceNumber;
  return {
    ordinal: progress?.ordinal ?? 0,
    ...(seq === undefined ? {} : { last: (BigInt(seq) << 32n) + 0xffffffffn }),
    finished: progress?.finished ?? false,
  };
}

async function foldPane(deps: FoldDependencies, work: PaneWork, now: number, report: FoldReport): Promise<void> {
  const { dynamodb, stateTable } = deps;
  const name = work.pipeline.name;
  const outcome = await retryOnConflict(MAX_ATTEMPTS, async () => {
    const known = await readPane(dynamodb, stateTable, name, work.key, work.paneStart);
    const itemOf = (next: StoredPane) =>
      paneItemOf({ pipeline: name, key: work.key, paneStart: work.paneStart }, next, firstEndOfPane(work.pipeline.window, work.paneStart));
    let fold = foldIntoPane(known, work.portions);
    if (fold.kind === "applied-before") return { done: true };
    // Every fold looks at the pane's windows again from the first: the closing logic re-fires those that grew.
    let item = itemOf(fold.next);
    if (approximateItemBytes(item) > MAX_PANE_ITEM_BYTES) {
      // The state cannot be stored whole: fold the portions that fit, in order; report the rest, per key.
      let fit = 0;
      while (fit < work.portions.length) {
        const trial = foldIntoPane(known, work.portions.slice(0, fit + 1));
        if (trial.kind === "write" && approximateItemBytes(itemOf(trial.next)) > MAX_PANE_ITEM_BYTES) break;
        fit++;
      }
      const parked = work.portions.slice(fit);
      fold = foldIntoPane(known, work.portions.slice(0, fit), parked);
      if (fold.kind === "applied-before") return { done: true };
      item = itemOf(fold.next);
      report.unstorable++;
      const events = parked.reduce((n, p) => n + p.layers.reduce((m, l) => m + l.state.n, 0), 0);
      if (deps.deadLetterTable) await putDeadLetters(dynamodb, deps.deadLetterTable, [unstoredLetter(work, parked, events, now)]);
    }
    if (!(await writePane(dynamodb, stateTable, item, known?.version, fold.next))) return "conflict";
    report.panes++;
    if (fold.resurrected) report.resurrected++;
    return { done: true };
  });
  if (outcome === undefined) throw new Error(`pane ${name}/${work.key}/${work.paneStart} kept changing under ${MAX_ATTEMPTS} attempts`);
}

/**
 * The dead letter for events a pane could not take: not a record (the log holds them pre-aggregated),
 * a description of them, with the reason. Redriving it adds nothing; it is there to be seen.
 */
function unstoredLetter(work: PaneWork, parked: readonly PanePortion[], events: number, now: number): DeadLetter {
  const last = parked[parked.length - 1] as PanePortion;
  const pane = new Date(work.paneStart).toISOString();
  return {
    kind: "invalid",
    pipeline: work.pipeline.name,
    reason: `the state of pane ${pane} of key ${JSON.stringify(work.key)} would exceed DynamoDB's item size limit (${MAX_PANE_ITEM_BYTES} bytes kept for state); ${events} accepted events were not added to it: lower a distinct count's precision or a sketch's accuracy, or shorten the window`,
    shardId: last.shardId,
    sequenceNumber: sequenceOf(last.through),
    partitionKey: work.key.slice(0, 256),
    data: new TextEncoder().encode(JSON.stringify({ unstoredState: { pipeline: work.pipeline.name, key: work.key, pane, events } })),
    arrivedAt: now,
    recordedAt: now,
    acceptedBy: [],
    origin: "state",
  };
}

/** The pipelines' checkpoints, then the shard's progress, over the folded entries. */
async function advanceShard(deps: FoldDependencies, shardId: string, entries: readonly LogEntry[]): Promise<void> {
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
  await writeShardProgress(
    deps.dynamodb,
    deps.stateTable,
    shardId,
    { ordinal: newest.ordinal, ...(lastBatch?.last === undefined ? {} : { sequenceNumber: sequenceOf(lastBatch.last) }) },
    newest.at,
  );
}

/**
 * Tells every shard's log of watermarks set by hand (an operator's reset), reading where each log
 * ends; the watermarks of pipelines not named stay as the log's head has them.
 */
export async function announceWatermarksEverywhere(
  deps: FoldDependencies,
  watermarks: ReadonlyMap<string, number>,
  now: number,
  logRetentionSeconds?: number,
): Promise<void> {
  const shardIds = await readLogShards(deps.dynamodb, deps.stateTable);
  const progress = await readShardProgress(deps.dynamodb, deps.stateTable, shardIds);
  await Promise.all(
    shardIds.map(async (shardId) => {
      const head = await readLogHead(deps.dynamodb, deps.stateTable, shardId);
      const all = new Map([...Object.entries(head?.watermarks ?? {}), ...watermarks]);
      await announceWatermarks(deps, new Map([[shardId, headAfter(progress.get(shardId), head)]]), all, now, logRetentionSeconds);
    }),
  );
}

/**
 * Tells every shard's log the watermarks now in force: a notice entry after the head. An ingest
 * container that plans at older watermarks finds the number taken, reads the head, and plans again.
 */
export async function announceWatermarks(
  deps: FoldDependencies,
  heads: ReadonlyMap<string, { ordinal: number; last?: bigint; finished: boolean }>,
  watermarks: ReadonlyMap<string, number>,
  now: number,
  logRetentionSeconds?: number,
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
