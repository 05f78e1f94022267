// Folding the shard logs into pane state, the first step of every closing run: each shard's entries
// after its progress ordinal are read, their pane layers merged per (pipeline, key, pane) across
// entries and shards, and each pane written once, fenced per shard (ingest/deltas.ts foldIntoPane), so a
// repeated or concurrent fold adds nothing twice. Then, per shard, the pipelines' checkpoints (last
// sequence number, max event time) and the shard's progress move over what was folded: the watermark
// never runs ahead of pane state. After the run, when a watermark moved, a notice goes to every shard's
// log, so ingest containers plan the next batch at the new watermark.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import pLimit from "p-limit";
import { noteFold, readShardProgress, type ShardProgressRecord, writeCheckpoint, writeShardProgress } from "../aws/dynamodb/checkpoints.ts";
import { putDeadLetters } from "../aws/dynamodb/dead-letters.ts";
import { readKeyIndex, writeKeyBucket } from "../aws/dynamodb/key-index.ts";
import { appendLogItem, forgetLogShard, type LogEntry, logItemOf, readLogAfter, readLogHead, readLogShards } from "../aws/dynamodb/log.ts";
import {
  approximateItemBytes,
  deferPortions,
  dropDeferred,
  foldedPaneItemOf,
  MAX_PANE_ITEM_BYTES,
  readDeferred,
  readPane,
  writePane,
} from "../aws/dynamodb/panes.ts";
import { parkStuckKey, readStuckKeys } from "../aws/dynamodb/stuck.ts";
import { retryOnConflict } from "../aws/retry.ts";
import { foldIntoPane, type PanePortion, type StoredPane } from "../core/ingest/deltas.ts";
import type { Pipeline } from "../core/pipelines/schema.ts";
import type { DeadLetter } from "../core/types.ts";
import { addFolded, bucketOf, type FoldedKey, lastEndOfPane } from "../core/windows/key-index.ts";

export interface FoldDependencies {
  dynamodb: DynamoDBClient;
  stateTable: string;
  pipelines: readonly Pipeline[];
  concurrency: number;
  /** where panes whose state cannot be stored are reported (the dead-letter table) */
  deadLetterTable?: string;
  /** how long a pane is kept after its last window's lateness has passed (TTL), ms */
  tombstoneRetentionMs?: number;
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
  /** (pipeline, shard) pairs whose entries could not all be folded this run (retried next run) */
  failed: { pipeline: string; shardId: string }[];
  /** why (the first few) */
  reasons: string[];
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

/**
 * Folds the unfolded entries into pane state, tells each pipeline's key index of the keys (their newest
 * panes, and the windows already fired that the events reached), then moves each shard's checkpoints
 * and progress over them. Until progress moves, every run folds the same entries again: a run that
 * stopped part-way adds nothing twice and misses no flag.
 */
export async function foldLogs(deps: FoldDependencies, logs: UnfoldedLogs, now: number): Promise<FoldReport> {
  const report: FoldReport = { entries: 0, panes: 0, resurrected: 0, unstorable: 0, failed: [], reasons: [] };
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
  // Portions kept aside for parked keys (their panes could not be read) go in with what is new.
  const kept = new Map<PaneWork, string[]>();
  if (deps.deadLetterTable)
    for (const pipeline of deps.pipelines) {
      if (pipeline.window.type === "session") continue;
      for (const key of (await readStuckKeys(deps.dynamodb, deps.deadLetterTable, pipeline.name)).keys()) {
        for (const d of await readDeferred(deps.dynamodb, deps.stateTable, pipeline.name, key)) {
          const id = `${pipeline.name}\u0000${key}\u0000${d.paneStart}`;
          let item = work.get(id);
          if (item === undefined) {
            item = { pipeline, key, paneStart: d.paneStart, portions: [] };
            work.set(id, item);
          }
          item.portions.push({ shardId: d.shardId, through: d.through, layers: d.layers });
          kept.set(item, [...(kept.get(item) ?? []), d.sk]);
        }
      }
    }
  // One pipeline's failure holds back only its own checkpoints (and the shards' shared progress).
  const failed = new Map<string, Set<string>>();
  const fail = (pane: PaneWork, error: unknown) => {
    if (report.reasons.length < 5)
      report.reasons.push(
        `${pane.pipeline.name}/${pane.key}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
      );
    const shards = failed.get(pane.pipeline.name) ?? new Set<string>();
    for (const portion of pane.portions) shards.add(portion.shardId);
    failed.set(pane.pipeline.name, shards);
  };
  // Panes first; then, per pipeline, the fold is counted and the key index learns of the keys — with
  // the windows already fired that the events reached, against how far they are fired now (a run that
  // stops before this folds the same entries again, and flags them then).
  const folded = new Set<PaneWork>();
  await Promise.all(
    [...work.values()].map((pane) =>
      limit(async () => {
        try {
          await foldPane(deps, pane, now, report);
          const sks = kept.get(pane);
          if (sks) await dropDeferred(deps.dynamodb, deps.stateTable, pane.pipeline.name, pane.key, sks);
          folded.add(pane);
        } catch (error) {
          // The pane cannot take them (its item cannot be read): kept aside, the key parked with the
          // reason, and the shard goes on. Without anywhere to park, the shard waits (next run).
          if (await keepAside(deps, pane, error, now)) folded.add(pane);
          else fail(pane, error);
        }
      }),
    ),
  );
  for (const pipeline of deps.pipelines) {
    const mine = [...folded].filter((w) => w.pipeline === pipeline);
    if (mine.length === 0) continue;
    try {
      await indexKeys(deps, pipeline, mine, await noteFold(deps.dynamodb, deps.stateTable, pipeline.name));
    } catch (error) {
      for (const pane of mine) fail(pane, error);
    }
  }
  report.failed = [...failed].flatMap(([pipeline, shards]) => [...shards].map((shardId) => ({ pipeline, shardId })));

  // Checkpoints and progress move over what is folded, shard by shard.
  await Promise.all(
    [...logs.shards].map(([shardId, { entries }]) =>
      limit(async () => {
        if (entries.length === 0) return;
        const held = new Set([...failed].filter(([, shards]) => shards.has(shardId)).map(([pipeline]) => pipeline));
        await advanceShard(deps, shardId, entries, held);
        if (held.size === 0) report.entries += entries.length;
      }),
    ),
  );
  return report;
}

/** Adds the folded keys to the pipeline's key index, bucket by bucket, each under a condition on the version read. */
async function indexKeys(deps: FoldDependencies, pipeline: Pipeline, panes: readonly PaneWork[], firedThrough: number | undefined) {
  const byKey = new Map<string, FoldedKey>();
  for (const pane of panes) {
    const known = byKey.get(pane.key);
    let lateFrom = known?.lateFrom;
    if (firedThrough !== undefined)
      for (const portion of pane.portions)
        for (const layer of portion.layers)
          if (layer.from <= firedThrough && (lateFrom === undefined || layer.from < lateFrom)) lateFrom = layer.from;
    byKey.set(pane.key, {
      key: pane.key,
      newest: Math.max(pane.paneStart, known?.newest ?? pane.paneStart),
      ...(lateFrom === undefined ? {} : { lateFrom }),
    });
  }
  const byBucket = new Map<number, FoldedKey[]>();
  for (const folded of byKey.values()) byBucket.set(bucketOf(folded.key), [...(byBucket.get(bucketOf(folded.key)) ?? []), folded]);
  let index = await readKeyIndex(deps.dynamodb, deps.stateTable, pipeline.name);
  for (const [bucket, folded] of byBucket) {
    const outcome = await retryOnConflict(MAX_ATTEMPTS, async () => {
      const stored = index.get(bucket) ?? { bucket, entries: new Map() };
      const entries = new Map(stored.entries);
      if (!addFolded(entries, folded)) return { done: true };
      if (await writeKeyBucket(deps.dynamodb, deps.stateTable, pipeline.name, { ...stored, entries })) return { done: true };
      index = await readKeyIndex(deps.dynamodb, deps.stateTable, pipeline.name);
      return "conflict";
    });
    if (outcome === undefined) throw new Error(`the key index of ${pipeline.name} kept changing under ${MAX_ATTEMPTS} attempts`);
  }
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
    // Kept (TTL) well after its last window's lateness, counted from now: events accepted before then still find it.
    const lifetime = lastEndOfPane(work.pipeline.window, work.paneStart) + work.pipeline.allowedLateness - work.paneStart;
    const expiresAt = now + lifetime + (deps.tombstoneRetentionMs ?? 7 * 86_400_000);
    const itemOf = (next: StoredPane) => foldedPaneItemOf({ pipeline: name, key: work.key, paneStart: work.paneStart }, next, expiresAt);
    let fold = foldIntoPane(known, work.portions);
    if (fold.kind === "applied-before") return { done: true };
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

/** Keeps a pane's portions beside it and parks its key with the reason; false when that cannot be done. */
async function keepAside(deps: FoldDependencies, pane: PaneWork, error: unknown, now: number): Promise<boolean> {
  if (!deps.deadLetterTable) return false;
  try {
    await deferPortions(
      deps.dynamodb,
      deps.stateTable,
      { pipeline: pane.pipeline.name, key: pane.key, paneStart: pane.paneStart },
      pane.portions,
    );
    const events = pane.portions.reduce((n, p) => n + p.layers.reduce((m, l) => m + l.state.n, 0), 0);
    const cause = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const reason = `its pane ${new Date(pane.paneStart).toISOString()} could not take ${events} events (kept aside until it can): ${cause}`;
    await parkStuckKey(deps.dynamodb, deps.deadLetterTable, pane.pipeline.name, pane.key, reason, now);
    return true;
  } catch {
    return false;
  }
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

/** The pipelines' checkpoints (but the `held` ones'), then — when none is held — the shard's progress. */
async function advanceShard(
  deps: FoldDependencies,
  shardId: string,
  entries: readonly LogEntry[],
  held: ReadonlySet<string>,
): Promise<void> {
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
      [...maxEventTimes]
        .filter(([pipeline]) => !held.has(pipeline))
        .map(([pipeline, { maxEventTime, at }]) =>
          writeCheckpoint(deps.dynamodb, deps.stateTable, { pipeline, shardId, sequenceNumber, maxEventTime, updatedAt: at }),
        ),
    );
  }
  if (held.size > 0) return;
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
