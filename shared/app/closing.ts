// The closing logic of the watermark function: fold the shard logs into pane state (fold.ts), derive
// each pipeline's watermark from the checkpoints, find due state through the due index (never a scan), combine panes into windows (or take a key's
// sessions), write each window's result once per version to the ledger, publish it, and move or purge
// the state. Which windows fire, fire again or go is decided by windows/fates.ts and windows/sessions.ts.
import { randomUUID } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import pLimit from "p-limit";
import {
  advanceFiredThrough,
  advanceWatermark,
  markShardFinished,
  type PipelineMarks,
  readCheckpoints,
  readPipelineMarks,
  readShardProgress,
  registerShard,
  type ShardProgressRecord,
} from "../aws/dynamodb/checkpoints.ts";
import { readKeyIndex, writeKeyBucket } from "../aws/dynamodb/key-index.ts";
import { queryDue, queryPanes, readDeferred, readSessionsNow, sessionsItemOf, writeSessions } from "../aws/dynamodb/panes.ts";
import {
  deleteRunOutbox,
  markPublished,
  markSuperseded,
  readOutbox,
  readResults,
  readRunOutboxes,
  resultId,
  writeResultOnce,
  writeRunOutbox,
} from "../aws/dynamodb/results.ts";
import { clearStuckKey, parkStuckKey, readStuckKeys, type StuckKey } from "../aws/dynamodb/stuck.ts";
import type { ShardProbe, SourceStream } from "../aws/kinesis/probe.ts";
import { retryOnConflict } from "../aws/retry.ts";
import { type AggregateState, finalValues } from "../core/aggregates/state.ts";
import { type StoredSessions, windowStateOf } from "../core/ingest/deltas.ts";
import type { Pipeline } from "../core/pipelines/schema.ts";
import type { ResultSink, WindowIdentity, WindowResult } from "../core/types.ts";
import { closesWindows, paneSizeOf, type TimeWindow } from "../core/windows/assigners.ts";
import { earlyDueOf, ledgerDecisionOf } from "../core/windows/fates.ts";
import { bucketOf, type KeyEntry, needsClosing, settleEntries, windowsToClose } from "../core/windows/key-index.ts";
import {
  recordEmitting,
  type SessionEntry,
  type SessionFiring,
  sessionsDueOf,
  sessionsToFire,
  settleSessions,
} from "../core/windows/sessions.ts";
import { END_OF_TIME, isIdle, type ShardProgress, watermarkOf } from "../core/windows/watermark.ts";
import {
  announceWatermarks,
  appliedSequenceOf,
  type FoldReport,
  foldLogs,
  headsOf,
  holdsEvents,
  holdsLateEvents,
  oldestUnfoldedAt,
  readUnfolded,
  type UnfoldedLogs,
  unfoldedProgress,
} from "./fold.ts";

export interface ClosingDependencies {
  dynamodb: DynamoDBClient;
  stateTable: string;
  resultsTable: string;
  pipelines: readonly Pipeline[];
  /** the source stream: its shards, and whether a shard still holds unapplied records */
  stream?: SourceStream;
  /** where results go after the ledger (output stream); results stay in the ledger either way */
  sink?: ResultSink;
  concurrency: number;
  /** how long results are kept (TTL), seconds; undefined keeps them */
  resultRetentionSeconds?: number;
  /** how long purged-pane tombstones are kept, ms */
  tombstoneRetentionMs: number;
  /** how long shard log entries (watermark notices included) are kept (TTL), seconds; undefined keeps them */
  logRetentionSeconds?: number;
  /** where keys whose closing failed are parked with the reason (the dead-letter table); without it they are only reported */
  deadLetterTable?: string;
  now?: () => number;
}

export interface PipelineClosing {
  pipeline: string;
  watermark?: number;
  fired: number;
  refired: number;
  purged: number;
  republished: number;
  conflicts: number;
  /** early (non-final) results written */
  early: number;
  /** keys whose closing failed this run: parked with the reason, retried next run */
  stuck: { key: string; reason: string }[];
  /** results written to the ledger whose publishing failed (they stay in the outbox for the next run) */
  unpublished: number;
  /** why the pipeline could not be closed at all this run (the others were) */
  error?: string;
}

export interface ClosingOptions {
  /** move every watermark to +∞ and fire everything (end of a bounded input) */
  drain?: boolean;
  /** what folding the shard logs did, before the pipelines close */
  onFold?: (report: FoldReport) => void;
}

/** What this run knows of the source stream's shards; probes are made at most once per shard per run. */
class ShardView {
  private readonly probes = new Map<string, Promise<ShardProbe>>();

  constructor(
    private readonly deps: ClosingDependencies,
    /** undefined without a stream to ask */
    readonly listed: Map<string, { closed: boolean }> | undefined,
    readonly progress: Map<string, ShardProgressRecord>,
    /** the shard logs, folded or not: what each shard's consumer has applied */
    readonly logs: UnfoldedLogs,
  ) {}

  static async read(deps: ClosingDependencies, logs: UnfoldedLogs): Promise<ShardView> {
    const listed = deps.stream ? new Map((await deps.stream.listShards()).map((s) => [s.shardId, { closed: s.closed }])) : undefined;
    const progress = await readShardProgress(deps.dynamodb, deps.stateTable, [...(listed?.keys() ?? [])]);
    return new ShardView(deps, listed, progress, logs);
  }

  /** Shards a pipeline must wait for although no batch of theirs reached it yet. */
  unfinished(): string[] {
    return [...(this.listed ?? [])].filter(([id]) => !this.progress.get(id)?.finished).map(([id]) => id);
  }

  /** Gone from the stream (past retention) or closed and read to the end: no longer counted. */
  async finished(shardId: string): Promise<boolean> {
    if (!this.listed) return false;
    if (!this.listed.has(shardId) || this.progress.get(shardId)?.finished) return true;
    if (!this.listed.get(shardId)?.closed) return false;
    return (await this.probe(shardId)) === "finished";
  }

  probe(shardId: string): Promise<ShardProbe> {
    const stream = this.deps.stream;
    if (!stream) return Promise.resolve("caught-up");
    let probe = this.probes.get(shardId);
    if (probe === undefined) {
      probe = stream
        .probe(
          shardId,
          appliedSequenceOf(this.logs, shardId) ?? this.progress.get(shardId)?.sequenceNumber,
          this.listed?.get(shardId)?.closed === true,
        )
        .then(async (answer) => {
          if (answer === "finished") await markShardFinished(this.deps.dynamodb, this.deps.stateTable, shardId);
          return answer;
        });
      this.probes.set(shardId, probe);
    }
    return probe;
  }
}

const emptyReport = (pipeline: string): PipelineClosing => ({
  pipeline,
  fired: 0,
  refired: 0,
  purged: 0,
  republished: 0,
  conflicts: 0,
  early: 0,
  stuck: [],
  unpublished: 0,
});

/** How long logged batches may wait unfolded when no window needs them (bounds what every run reads). */
const MAX_UNFOLDED_MS = 120_000;

/**
 * Closes every pipeline; one that fails is reported (with the reason) and the others still close.
 * The shard logs are read first and folded into pane state when a window needs them: when a watermark
 * passes a window's end, events arrived for windows already fired, early results are asked for, or
 * batches waited long enough — not at every run (runs the ingest function starts as its shard passes a
 * window's end, before the other shards do, fold nothing). When a watermark moved, the logs hear of it.
 */
export async function closeWindows(deps: ClosingDependencies, options: ClosingOptions = {}): Promise<PipelineClosing[]> {
  const now = deps.now?.() ?? Date.now();
  const logs = await readUnfolded(deps);
  const shards = await ShardView.read(deps, logs);
  const marks = await readPipelineMarks(
    deps.dynamodb,
    deps.stateTable,
    deps.pipelines.map((p) => p.name),
  );
  const before = new Map([...marks].flatMap(([p, m]) => (m.watermark === undefined ? [] : [[p, m.watermark] as const])));
  // Fixed windows are fired up to `firedThrough` (none yet: from the first; the ledger holds what was).
  const firedThrough = new Map(deps.pipelines.map((p) => [p.name, marks.get(p.name)?.firedThrough]));
  const reports = deps.pipelines.map((p) => emptyReport(p.name));
  const candidates = new Map<string, number | undefined>();
  for (const [i, pipeline] of deps.pipelines.entries()) {
    try {
      candidates.set(pipeline.name, options.drain ? END_OF_TIME : await candidateWatermark(deps, pipeline, shards, now, logs));
    } catch (error) {
      (reports[i] as PipelineClosing).error = reasonOf(error);
    }
  }
  const oldest = oldestUnfoldedAt(logs);
  // Keys parked with events kept aside are folded again at every run, until their panes take them.
  const parkedFixed = deps.deadLetterTable
    ? await Promise.all(
        deps.pipelines
          .filter((p) => p.window.type !== "session")
          .map(async (p) => (await readStuckKeys(deps.dynamodb, deps.deadLetterTable as string, p.name)).size),
      )
    : [];
  const needed =
    parkedFixed.some((n) => n > 0) ||
    (oldest !== undefined &&
      (options.drain ||
        now - oldest >= MAX_UNFOLDED_MS ||
        deps.pipelines.some((p) => {
          if (p.window.type === "session" || !holdsEvents(logs, p.name)) return false;
          const previous = firedThrough.get(p.name);
          // What the watermark will be: the candidate, or where it stands (set by hand, or by a drain).
          const next = Math.max(candidates.get(p.name) ?? Number.NEGATIVE_INFINITY, before.get(p.name) ?? Number.NEGATIVE_INFINITY);
          return (
            p.early !== undefined ||
            holdsLateEvents(logs, p.name, previous) ||
            (Number.isFinite(next) && closesWindows(p.window, previous, next))
          );
        })));
  if (!needed) {
    // Logs that hold only watermark notices are moved past them (no pane to write), so no run reads them again.
    const onlyNotices = [...logs.shards].filter(([, l]) => l.entries.length > 0 && l.entries.every((e) => e.kind === "notice"));
    if (onlyNotices.length > 0) await foldLogs(deps, { shards: new Map(onlyNotices) }, now);
  } else {
    const fold = await foldLogs(deps, logs, now);
    options.onFold?.(fold);
    // A shard that could not be folded must not move a watermark past what pane state holds.
    if (fold.failed.length > 0)
      for (const [i, pipeline] of deps.pipelines.entries()) {
        if (options.drain || reports[i]?.error) continue;
        candidates.set(pipeline.name, await candidateWatermark(deps, pipeline, shards, now, { shards: new Map() }));
      }
  }
  for (const [i, pipeline] of deps.pipelines.entries()) {
    const report = reports[i] as PipelineClosing;
    if (report.error) continue;
    try {
      await closePipeline(deps, pipeline, candidates.get(pipeline.name), marks.get(pipeline.name) ?? {}, report);
    } catch (error) {
      report.error = reasonOf(error);
    }
  }
  const after = new Map(reports.flatMap((r) => (r.watermark === undefined ? [] : [[r.pipeline, r.watermark] as const])));
  if ([...after].some(([pipeline, w]) => w !== before.get(pipeline)))
    await announceWatermarks(deps, headsOf(logs), after, deps.now?.() ?? Date.now(), deps.logRetentionSeconds);
  return reports;
}

const reasonOf = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/** The watermark the checkpoints allow: idle shards (nothing new, nothing pending) and finished shards do not count. */
async function candidateWatermark(
  deps: ClosingDependencies,
  pipeline: Pipeline,
  shards: ShardView,
  now: number,
  unfolded: UnfoldedLogs,
): Promise<number | undefined> {
  const checkpoints = await readCheckpoints(deps.dynamodb, deps.stateTable, pipeline.name);
  // What the shards' unfolded batches add (the checkpoints move over them when they are folded).
  for (const [shardId, added] of unfoldedProgress(unfolded, pipeline.name)) {
    const checkpoint = checkpoints.find((c) => c.shardId === shardId);
    if (checkpoint === undefined) checkpoints.push({ pipeline: pipeline.name, shardId, ...added });
    else {
      checkpoint.maxEventTime = Math.max(added.maxEventTime, checkpoint.maxEventTime ?? added.maxEventTime);
      checkpoint.updatedAt = Math.max(added.updatedAt, checkpoint.updatedAt);
    }
  }
  const known = new Set(checkpoints.map((c) => c.shardId));
  for (const shardId of shards.unfinished()) {
    if (known.has(shardId)) continue;
    await registerShard(deps.dynamodb, deps.stateTable, pipeline.name, shardId, now);
    checkpoints.push({ pipeline: pipeline.name, shardId, updatedAt: now });
  }
  const counted: ShardProgress[] = [];
  for (const checkpoint of checkpoints) {
    if (await shards.finished(checkpoint.shardId)) continue;
    const quiet = isIdle(checkpoint, pipeline.idleTimeout, now);
    // Quiet for the idle timeout: idle only if its consumer has applied everything the shard holds.
    const pending = quiet && (await shards.probe(checkpoint.shardId)) === "pending";
    counted.push({ ...checkpoint, pending });
  }
  return watermarkOf(counted, pipeline.outOfOrderness, pipeline.idleTimeout, now);
}

async function closePipeline(
  deps: ClosingDependencies,
  pipeline: Pipeline,
  candidate: number | undefined,
  marks: PipelineMarks,
  report: PipelineClosing,
): Promise<void> {
  const now = deps.now?.() ?? Date.now();
  const previous = marks.watermark;
  if (candidate === undefined && previous === undefined) return;
  const watermark =
    candidate !== undefined && (previous === undefined || candidate > previous)
      ? await advanceWatermark(deps.dynamodb, deps.stateTable, pipeline.name, candidate, now)
      : (previous as number);
  report.watermark = watermark;

  const context: KeyContext = { deps, pipeline, watermark, previous: previous ?? Number.NEGATIVE_INFINITY, now, report };
  // Results a crashed run wrote but did not publish go first (session results carry an outbox mark each).
  if (deps.sink) {
    await republishRunOutboxes(context);
    const unpublished = await readOutbox(deps.dynamodb, deps.resultsTable, pipeline.name);
    const failed = await publish(deps, unpublished);
    report.republished += unpublished.length - failed;
    report.unpublished += failed;
  }
  const parked = deps.deadLetterTable
    ? await readStuckKeys(deps.dynamodb, deps.deadLetterTable, pipeline.name)
    : new Map<string, StuckKey>();
  if (pipeline.window.type === "session") await closeSessionKeys(context, parked);
  else await closeFixedKeys(context, parked);
}

/**
 * Runs `close` for each key with bounded concurrency. One key that cannot be closed is parked with its
 * reason (and where its windows stand); every other key goes on. Returns the keys that closed.
 */
async function forEachKey(
  ctx: KeyContext,
  keys: Iterable<string>,
  parked: ReadonlyMap<string, StuckKey>,
  close: (key: string) => Promise<void>,
  pendingFrom?: (key: string) => number | undefined,
  /** whether a parked key that closed still has something set aside (then it stays parked) */
  stillParked?: (key: string) => Promise<boolean>,
): Promise<Set<string>> {
  const { deps, pipeline, report, now } = ctx;
  const limit = pLimit(deps.concurrency);
  const closed = new Set<string>();
  await Promise.all(
    [...keys].map((key) =>
      limit(async () => {
        try {
          await close(key);
        } catch (error) {
          report.stuck.push({ key, reason: reasonOf(error) });
          if (deps.deadLetterTable)
            await parkStuckKey(deps.dynamodb, deps.deadLetterTable, pipeline.name, key, reasonOf(error), now, pendingFrom?.(key));
          return;
        }
        closed.add(key);
        if (parked.has(key) && deps.deadLetterTable && !(await stillParked?.(key)))
          await clearStuckKey(deps.dynamodb, deps.deadLetterTable, pipeline.name, key);
      }),
    ),
  );
  return closed;
}

/** Session keys: found through the due index (a key's sessions are one item). */
async function closeSessionKeys(ctx: KeyContext, parked: ReadonlyMap<string, StuckKey>): Promise<void> {
  const { deps, pipeline, watermark } = ctx;
  // Early results need every live item (open windows too); otherwise only what is due.
  const upTo = pipeline.early !== undefined ? END_OF_TIME : watermark;
  const due = await queryDue(deps.dynamodb, deps.stateTable, pipeline.name, upTo);
  const keys = new Set(due.filter((item) => item.paneStart === undefined).map((item) => item.key));
  await forEachKey(ctx, keys, parked, (key) => closeSessions(ctx, key));
}

/**
 * Fixed windows: the keys the key index says have windows to fire (or fire again, or — early results —
 * open), and the keys parked before, each closed from where its windows stand; then `firedThrough`
 * moves to the watermark and the index forgets what is settled.
 */
async function closeFixedKeys(ctx: KeyContext, parked: ReadonlyMap<string, StuckKey>): Promise<void> {
  const { deps, pipeline, watermark } = ctx;
  // Read after this run's fold: a fold after this point (an overlapping run's) keeps firedThrough where it is.
  const { firedThrough, foldSeq } = (await readPipelineMarks(deps.dynamodb, deps.stateTable, [pipeline.name])).get(pipeline.name) ?? {};
  const spec = pipeline.window;
  const withOpen = pipeline.early !== undefined;
  const index = await readKeyIndex(deps.dynamodb, deps.stateTable, pipeline.name);
  const entries = new Map<string, KeyEntry>();
  for (const bucket of index.values()) for (const [key, entry] of bucket.entries) entries.set(key, entry);
  const keys = new Set([...entries.values()].filter((e) => needsClosing(spec, e, firedThrough, watermark, withOpen)).map((e) => e.key));
  for (const key of parked.keys()) if (entries.has(key)) keys.add(key);
  // A parked key takes up its windows from where it was parked.
  const fromOf = (key: string) => {
    const parkedFrom = parked.get(key)?.from;
    return parkedFrom === undefined ? firedThrough : Math.min(parkedFrom, firedThrough ?? parkedFrom);
  };
  const intents: Intent[] = [];
  const closed = await forEachKey(
    ctx,
    keys,
    parked,
    async (key) => {
      intents.push(...(await closePanes(ctx, entries.get(key) as KeyEntry, fromOf(key))));
    },
    fromOf,
    async (key) => (await readDeferred(deps.dynamodb, deps.stateTable, pipeline.name, key)).length > 0,
  );
  // Keys whose versions kept meeting another run's are parked like keys that failed.
  const unsettled = await commitResults(ctx, intents);
  for (const key of unsettled) {
    closed.delete(key);
    ctx.report.stuck.push({ key, reason: "its windows kept changing in the ledger under concurrent runs" });
    if (deps.deadLetterTable)
      await parkStuckKey(
        deps.dynamodb,
        deps.deadLetterTable,
        pipeline.name,
        key,
        "its windows kept changing in the ledger under concurrent runs",
        ctx.now,
        fromOf(key),
      );
  }
  // Keys that failed are parked with where they stand, so the pipeline moves on; without anywhere to
  // park them, it waits for them.
  if (closed.size < keys.size && !deps.deadLetterTable) return;
  // Nothing fired here is forgotten if a fold came in between: the next run looks again.
  if (!(await advanceFiredThrough(deps.dynamodb, deps.stateTable, pipeline.name, Math.max(watermark, firedThrough ?? watermark), foldSeq)))
    return;
  await settleIndex(ctx, new Map([...closed].map((key) => [key, entries.get(key) as KeyEntry])));
}

/** Forgets, bucket by bucket, what the closed keys settled (a concurrent fold's changes are kept). */
async function settleIndex(ctx: KeyContext, done: ReadonlyMap<string, KeyEntry>): Promise<void> {
  const { deps, pipeline, watermark } = ctx;
  if (done.size === 0) return;
  const buckets = new Set([...done.keys()].map(bucketOf));
  let index = await readKeyIndex(deps.dynamodb, deps.stateTable, pipeline.name);
  for (const bucket of buckets) {
    await retryOnConflict(5, async () => {
      const stored = index.get(bucket);
      if (stored === undefined) return { done: true };
      const entries = new Map(stored.entries);
      if (!settleEntries(pipeline.window, entries, done, watermark)) return { done: true };
      if (await writeKeyBucket(deps.dynamodb, deps.stateTable, pipeline.name, { ...stored, entries })) return { done: true };
      index = await readKeyIndex(deps.dynamodb, deps.stateTable, pipeline.name);
      return "conflict";
    });
  }
}

interface KeyContext {
  deps: ClosingDependencies;
  pipeline: Pipeline;
  watermark: number;
  /** the watermark before this run: windows ending after it are due for the first time */
  previous: number;
  now: number;
  report: PipelineClosing;
}

const windowId = (w: TimeWindow) => `${w.start}/${w.end}`;

/** The identity a window of this pipeline has in the ledger. */
function identityOf(ctx: KeyContext, key: string, window: TimeWindow): WindowIdentity {
  const endInKey = ctx.pipeline.window.type === "cumulate" || ctx.pipeline.window.type === "session";
  return { pipeline: ctx.pipeline.name, key, start: window.start, end: window.end, ...(endInKey ? { endInKey: true } : {}) };
}

/** A window's result; the version comes from the ledger decision. */
function resultOf(ctx: KeyContext, key: string, window: TimeWindow, state: AggregateState, version: number, final: boolean): WindowResult {
  return {
    ...identityOf(ctx, key, window),
    values: finalValues(ctx.pipeline.aggregates, state),
    count: state.n,
    version,
    firedAt: ctx.now,
    final,
  };
}

interface Evaluated {
  window: TimeWindow;
  state: AggregateState;
  final: boolean;
  supersedes?: { start: number; end: number }[];
}

/** A version a run means to write, and why. */
interface Intent {
  key: string;
  result: WindowResult;
  kind: "fired" | "refired" | "early";
}

/**
 * The versions the ledger lacks for these windows (a first firing, grown contents, the final result
 * after early ones). Windows due for the first time are taken as version 1 without a read; the rest are
 * compared with what the ledger holds.
 */
async function decideResults(ctx: KeyContext, key: string, evaluated: readonly Evaluated[]): Promise<Intent[]> {
  const { deps } = ctx;
  if (evaluated.length === 0) return [];
  const known = evaluated.filter((e) => !e.final || ctx.pipeline.early !== undefined || e.window.end <= ctx.previous);
  const ledger = await readResults(
    deps.dynamodb,
    deps.resultsTable,
    known.map((e) => identityOf(ctx, key, e.window)),
  );
  const isKnown = new Set(known);
  return evaluated.flatMap((e): Intent[] => {
    const stored = ledger.get(resultId(identityOf(ctx, key, e.window)));
    const decision = isKnown.has(e) ? ledgerDecisionOf({ count: e.state.n, final: e.final }, stored) : { write: 1 };
    if (!("write" in decision)) return [];
    const result = resultOf(ctx, key, e.window, e.state, decision.write, e.final);
    const kind = !e.final ? "early" : result.version === 1 || (stored !== undefined && !stored.final) ? "fired" : "refired";
    return [{ key, result, kind }];
  });
}

/**
 * Writes a run's versions of one pipeline: first its outbox (one record of them all), then each version
 * once under a condition, then publishes what was written and drops the outbox. A version another run
 * wrote first (runs overlapped) is decided again against the ledger — the contents this run read may be
 * more than that run's — and written in a further round. Returns the keys still unsettled after three.
 */
async function commitResults(ctx: KeyContext, intents: readonly Intent[]): Promise<Set<string>> {
  let round = [...intents];
  for (let attempt = 1; round.length > 0; attempt++) {
    const conflicts = await commitRound(ctx, round);
    if (conflicts.length === 0) return new Set();
    if (attempt === 3) return new Set(conflicts.map((i) => i.key));
    const ledger = await readResults(
      ctx.deps.dynamodb,
      ctx.deps.resultsTable,
      conflicts.map((i) => i.result),
    );
    round = conflicts.flatMap((i): Intent[] => {
      const stored = ledger.get(resultId(i.result));
      const decision = ledgerDecisionOf({ count: i.result.count, final: i.result.final }, stored);
      if (!("write" in decision)) return [];
      return [{ ...i, result: { ...i.result, version: decision.write }, kind: i.result.final ? "refired" : "early" }];
    });
  }
  return new Set();
}

/** One round: outbox, conditional writes, publish, outbox dropped. Returns the intents another run got to first. */
async function commitRound(ctx: KeyContext, intents: readonly Intent[]): Promise<Intent[]> {
  const { deps, pipeline, report } = ctx;
  const parts = deps.sink
    ? await writeRunOutbox(deps.dynamodb, deps.resultsTable, pipeline.name, {
        run: `${ctx.now}-${randomUUID()}`,
        results: intents.map((i) => i.result),
      })
    : [];
  const written: WindowResult[] = [];
  const conflicts: Intent[] = [];
  const limit = pLimit(deps.concurrency);
  await Promise.all(
    intents.map((intent) =>
      limit(async () => {
        const options = { outbox: false, ttlSeconds: deps.resultRetentionSeconds };
        if (!(await writeResultOnce(deps.dynamodb, deps.resultsTable, intent.result, options))) {
          report.conflicts++;
          conflicts.push(intent);
          return;
        }
        written.push(intent.result);
        report[intent.kind]++;
      }),
    ),
  );
  if (!deps.sink) return conflicts;
  const unpublished = await publishOnly(deps, written);
  // Unpublished results keep the outbox: the next run publishes those the ledger holds.
  if (unpublished === 0) await deleteRunOutbox(deps.dynamodb, deps.resultsTable, pipeline.name, parts);
  report.unpublished += unpublished;
  return conflicts;
}

/** What runs that stopped before publishing left in their outboxes, published if the ledger holds it. */
async function republishRunOutboxes(ctx: KeyContext): Promise<void> {
  const { deps, pipeline, report } = ctx;
  for (const outbox of await readRunOutboxes(deps.dynamodb, deps.resultsTable, pipeline.name)) {
    const ledger = await readResults(deps.dynamodb, deps.resultsTable, outbox.results);
    const held = outbox.results.filter((r) => ledger.get(resultId(r))?.version === r.version);
    const unpublished = await publishOnly(deps, held);
    report.unpublished += unpublished;
    if (unpublished > 0) continue;
    report.republished += held.length;
    await deleteRunOutbox(deps.dynamodb, deps.resultsTable, pipeline.name, outbox.parts);
  }
}

/**
 * Writes the results the ledger lacks (a first firing, grown contents, the final result after early
 * ones), each version once under a condition, then publishes them. Returns, per window id, whether the
 * ledger now holds its contents ("settled") or a concurrent run holds more than this run read ("stale").
 */
async function writeResults(ctx: KeyContext, key: string, evaluated: readonly Evaluated[]): Promise<Map<string, "settled" | "stale">> {
  const { deps } = ctx;
  const outcome = new Map<string, "settled" | "stale">();
  if (evaluated.length === 0) return outcome;
  // Windows due for the first time (no early results) are written optimistically as version 1; a
  // failed condition reads the ledger. The rest are compared with what the ledger holds.
  const known = evaluated.filter(
    (e) => !e.final || ctx.pipeline.early !== undefined || ctx.pipeline.window.type === "session" || e.window.end <= ctx.previous,
  );
  const ledger = await readResults(
    deps.dynamodb,
    deps.resultsTable,
    known.map((e) => identityOf(ctx, key, e.window)),
  );
  const isKnown = new Set(known);
  const written: WindowResult[] = [];
  for (const e of evaluated) {
    const id = resultId(identityOf(ctx, key, e.window));
    let stored = ledger.get(id);
    let read = isKnown.has(e);
    // A window left without an outcome (it kept changing under every attempt) is not settled: its panes stay due.
    const settled = await retryOnConflict(3, async () => {
      const decision = read ? ledgerDecisionOf({ count: e.state.n, final: e.final }, stored) : { write: 1 };
      if ("settled" in decision) return { done: "settled" as const };
      if ("stale" in decision) return { done: "stale" as const };
      const result = resultOf(ctx, key, e.window, e.state, decision.write, e.final);
      if (e.supersedes && e.supersedes.length > 0) result.supersedes = e.supersedes;
      if (
        await writeResultOnce(deps.dynamodb, deps.resultsTable, result, {
          outbox: deps.sink !== undefined,
          ttlSeconds: deps.resultRetentionSeconds,
        })
      ) {
        written.push(result);
        if (!e.final) ctx.report.early++;
        else if (result.version === 1 || (stored !== undefined && !stored.final)) ctx.report.fired++;
        else ctx.report.refired++;
        return { done: "settled" as const };
      }
      ctx.report.conflicts++;
      stored = (await readResults(deps.dynamodb, deps.resultsTable, [result])).get(id);
      read = true;
      return "conflict";
    });
    if (settled) outcome.set(windowId(e.window), settled.done);
  }
  ctx.report.unpublished += await publish(deps, written);
  return outcome;
}

/** Early results: the current contents of open windows that grew, at most once per `early` interval of processing time. */
async function earlyToWrite(ctx: KeyContext, key: string, open: readonly Evaluated[]): Promise<Evaluated[]> {
  const every = ctx.pipeline.early;
  if (every === undefined || open.length === 0) return [];
  const ledger = await readResults(
    ctx.deps.dynamodb,
    ctx.deps.resultsTable,
    open.map((e) => identityOf(ctx, key, e.window)),
  );
  return open.filter((e) => earlyDueOf(ledger.get(resultId(identityOf(ctx, key, e.window))), e.state.n, ctx.now, every));
}

/**
 * A key's fixed windows: those the watermark passed since `firedThrough` fire, those an event reached
 * after they fired (from the entry's `refireFrom`) fire again when their contents grew, and with early
 * results open windows that grew are written. Returns the versions the ledger lacks (commitResults
 * writes them, with the run's others).
 */
async function closePanes(keyCtx: KeyContext, entry: KeyEntry, firedThrough: number | undefined): Promise<Intent[]> {
  const { pipeline, watermark, deps } = keyCtx;
  const spec = pipeline.window;
  if (spec.type === "session") return [];
  // Windows already fired up to firedThrough are read from the ledger before they are written again.
  const ctx = { ...keyCtx, previous: firedThrough ?? Number.NEGATIVE_INFINITY };
  const lower = Math.min(
    entry.refireFrom ?? Number.POSITIVE_INFINITY,
    firedThrough === undefined ? Number.NEGATIVE_INFINITY : firedThrough + 1,
  );
  const from = Number.isFinite(lower) ? Math.max(0, lower - spec.size) : 0;
  const panes = await queryPanes(deps.dynamodb, deps.stateTable, pipeline.name, entry.key, from, entry.last + paneSizeOf(spec));
  const { due, open } = windowsToClose(
    spec,
    panes.map((p) => p.paneStart),
    {
      ...(firedThrough === undefined ? {} : { firedThrough }),
      ...(entry.refireFrom === undefined ? {} : { refireFrom: entry.refireFrom }),
      watermark,
      withOpen: pipeline.early !== undefined,
    },
  );
  const evaluate = (windows: readonly TimeWindow[], final: boolean) =>
    windows.flatMap((window): Evaluated[] => {
      const state = windowStateOf(window, panes);
      return state === undefined ? [] : [{ window, state, final }];
    });
  return decideResults(ctx, entry.key, [...evaluate(due, true), ...(await earlyToWrite(ctx, entry.key, evaluate(open, false)))]);
}

/**
 * A key's sessions: emit what is due (or early), mark what grown or merged sessions supersede, drop
 * sessions past their lateness. Each result is first recorded on its session (a conditional write of
 * the session set), then written to the ledger, then confirmed: a batch that grows a session in
 * between finds the identity recorded and supersedes it later; a result is never orphaned.
 */
async function closeSessions(ctx: KeyContext, key: string): Promise<void> {
  const { pipeline, watermark, deps } = ctx;
  if (pipeline.window.type !== "session") return;
  const gap = pipeline.window.gap;
  const options = { gap, allowedLateness: pipeline.allowedLateness, watermark };
  let stored = await readSessionsNow(deps.dynamodb, deps.stateTable, pipeline.name, key);
  if (stored === null) return;
  const write = async (entries: SessionEntry[]) => {
    const next: StoredSessions = {
      ...(stored as StoredSessions),
      entries,
      version: (stored as StoredSessions).version + 1,
      watermark: Math.max(stored?.watermark ?? watermark, watermark),
    };
    const item = sessionsItemOf(
      { pipeline: pipeline.name, key },
      next,
      sessionsDueOf(entries, gap, pipeline.allowedLateness),
      ctx.now + deps.tombstoneRetentionMs,
    );
    // A failed condition means a batch changed the sessions since they were read: the next run looks again.
    if (!(await writeSessions(deps.dynamodb, deps.stateTable, item, (stored as StoredSessions).version, next))) {
      ctx.report.conflicts++;
      return false;
    }
    stored = next;
    return true;
  };

  const firings = sessionsToFire(stored.entries, gap, watermark, pipeline.early !== undefined);
  const asEvaluated = (f: SessionFiring): Evaluated => ({
    window: f.window,
    state: f.entry.state,
    final: f.final,
    ...(f.supersedes.length > 0 ? { supersedes: f.supersedes } : {}),
  });
  const early = new Set((await earlyToWrite(ctx, key, firings.filter((f) => !f.final).map(asEvaluated))).map((e) => windowId(e.window)));
  const chosen = firings.filter((f) => f.final || early.has(windowId(f.window)));
  const written = new Set<SessionEntry>();
  if (chosen.length > 0) {
    const { entries, emitting } = recordEmitting(stored.entries, chosen);
    if (!(await write(entries))) return;
    const outcome = await writeResults(ctx, key, chosen.map(asEvaluated));
    for (const f of chosen) {
      if (outcome.get(windowId(f.window)) !== "settled") continue;
      for (const old of f.supersedes) await markSuperseded(deps.dynamodb, deps.resultsTable, identityOf(ctx, key, old), f.window);
      const entry = emitting.get(f);
      if (entry) written.add(entry);
    }
  }
  const entries = settleSessions(stored.entries, written, options);
  if (written.size === 0 && entries.length === stored.entries.length) return;
  const before = stored.entries.length;
  if (await write(entries)) ctx.report.purged += before - entries.length;
}

/** Publishes results downstream (at least once); returns how many could not be published. */
async function publishOnly(deps: ClosingDependencies, results: readonly WindowResult[]): Promise<number> {
  if (!deps.sink || results.length === 0) return 0;
  try {
    await deps.sink.publish(results);
    return 0;
  } catch {
    return results.length;
  }
}

/**
 * Publishes results downstream (at least once) and clears their outbox marks. Returns how many could
 * not be published: they keep their outbox mark, and the next run publishes them; closing goes on.
 */
async function publish(deps: ClosingDependencies, results: readonly WindowResult[]): Promise<number> {
  if (!deps.sink || results.length === 0) return 0;
  try {
    await deps.sink.publish(results);
  } catch {
    return results.length;
  }
  for (const result of results) await markPublished(deps.dynamodb, deps.resultsTable, result);
  return 0;
}
