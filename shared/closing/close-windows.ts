// The closing logic of the watermark function: derive each pipeline's watermark from the checkpoints,
// find due panes through the due index (never a scan), merge panes into windows (or sessions), write
// each window's result once to the ledger, publish it, and move or purge the panes.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import pLimit from "p-limit";
import { finalValues, mergeStates } from "../aggregates/state.ts";
import type { Pipeline } from "../pipelines/schema.ts";
import {
  advanceWatermark,
  markShardFinished,
  readCheckpoints,
  readShardProgress,
  readWatermarks,
  registerShard,
  type ShardProgressRecord,
} from "../state/checkpoints.ts";
import { moveDue, type PaneAt, purgePane, queryDuePanes, queryPanes } from "../state/panes.ts";
import { markPublished, readOutbox, readResults, resultId, type WindowResult, writeResultOnce } from "../state/results.ts";
import type { ShardProbe, SourceStream } from "../streams/probe.ts";
import { dueLookaheadOf, sessionsOfPanes, type TimeWindow, windowsOfPane } from "../windows/assigners.ts";
import { END_OF_TIME, isIdle, type ShardProgress, watermarkOf } from "../windows/watermark.ts";

export interface ResultSink {
  publish(results: readonly WindowResult[]): Promise<void>;
}

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
}

export interface ClosingOptions {
  /** move every watermark to +∞ and fire everything (end of a bounded input) */
  drain?: boolean;
}

/** What this run knows of the source stream's shards; probes are made at most once per shard per run. */
class ShardView {
  private readonly probes = new Map<string, Promise<ShardProbe>>();

  constructor(
    private readonly deps: ClosingDependencies,
    /** undefined without a stream to ask */
    readonly listed: Map<string, { closed: boolean }> | undefined,
    readonly progress: Map<string, ShardProgressRecord>,
  ) {}

  static async read(deps: ClosingDependencies): Promise<ShardView> {
    const listed = deps.stream ? new Map((await deps.stream.listShards()).map((s) => [s.shardId, { closed: s.closed }])) : undefined;
    const progress = await readShardProgress(deps.dynamodb, deps.stateTable, [...(listed?.keys() ?? [])]);
    return new ShardView(deps, listed, progress);
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
        .probe(shardId, this.progress.get(shardId)?.sequenceNumber, this.listed?.get(shardId)?.closed === true)
        .then(async (answer) => {
          if (answer === "finished") await markShardFinished(this.deps.dynamodb, this.deps.stateTable, shardId);
          return answer;
        });
      this.probes.set(shardId, probe);
    }
    return probe;
  }
}

export async function closeWindows(deps: ClosingDependencies, options: ClosingOptions = {}): Promise<PipelineClosing[]> {
  const shards = await ShardView.read(deps);
  const reports: PipelineClosing[] = [];
  for (const pipeline of deps.pipelines) reports.push(await closePipeline(deps, pipeline, shards, options));
  return reports;
}

/** The watermark the checkpoints allow: idle shards (nothing new, nothing pending) and finished shards do not count. */
async function candidateWatermark(
  deps: ClosingDependencies,
  pipeline: Pipeline,
  shards: ShardView,
  now: number,
): Promise<number | undefined> {
  const checkpoints = await readCheckpoints(deps.dynamodb, deps.stateTable, pipeline.name);
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
  shards: ShardView,
  options: ClosingOptions,
): Promise<PipelineClosing> {
  const now = deps.now?.() ?? Date.now();
  const report: PipelineClosing = { pipeline: pipeline.name, fired: 0, refired: 0, purged: 0, republished: 0, conflicts: 0, early: 0 };

  const previous = (await readWatermarks(deps.dynamodb, deps.stateTable, [pipeline.name])).get(pipeline.name);
  const candidate = options.drain ? END_OF_TIME : await candidateWatermark(deps, pipeline, shards, now);
  if (candidate === undefined && previous === undefined) return report;
  const watermark =
    candidate !== undefined && (previous === undefined || candidate > previous)
      ? await advanceWatermark(deps.dynamodb, deps.stateTable, pipeline.name, candidate, now)
      : (previous as number);
  report.watermark = watermark;

  // Results a crashed run wrote but did not publish go first.
  if (deps.sink) {
    const unpublished = await readOutbox(deps.dynamodb, deps.resultsTable, pipeline.name);
    await publish(deps, unpublished);
    report.republished = unpublished.length;
  }

  // Early results need every live pane (open windows too); otherwise only what is due.
  const upTo = pipeline.early !== undefined ? END_OF_TIME : watermark + dueLookaheadOf(pipeline.window);
  const due = await queryDuePanes(deps.dynamodb, deps.stateTable, pipeline.name, upTo);
  const byKey = new Map<string, number[]>();
  for (const pane of due) {
    const starts = byKey.get(pane.key) ?? [];
    starts.push(pane.paneStart);
    byKey.set(pane.key, starts);
  }
  const limit = pLimit(deps.concurrency);
  const context: KeyContext = { deps, pipeline, watermark, previous: previous ?? Number.NEGATIVE_INFINITY, now, report };
  await Promise.all([...byKey].map(([key, starts]) => limit(() => closeKey(context, key, starts))));
  return report;
}

interface KeyContext {
  deps: ClosingDependencies;
  pipeline: Pipeline;
  watermark: number;
  /** the watermark before this run: windows ending after it are firing for the first time */
  previous: number;
  now: number;
  report: PipelineClosing;
}

/** What to do with one due pane once its windows are handled. */
type PaneFate = { pane: PaneAt; windows: TimeWindow[] } & ({ next: "due"; due: number } | { next: "purge" });

async function closeKey(ctx: KeyContext, key: string, dueStarts: number[]): Promise<void> {
  const { pipeline, watermark } = ctx;
  const fates: PaneFate[] = [];
  const windows: { window: TimeWindow; panes: PaneAt[] }[] = [];
  /** open windows with data, for early results */
  const open: { window: TimeWindow; panes: PaneAt[] }[] = [];

  if (pipeline.window.type === "session") {
    const gap = pipeline.window.gap;
    const panes = await readSessionChains(ctx, key, dueStarts);
    const dueSet = new Set(dueStarts);
    // Purged panes (tombstones) keep their state, so a run overlapping a purge still sees whole sessions.
    for (const session of sessionsOfPanes(panes, gap, (p) => ({ start: p.paneStart, tmin: p.state.tmin, tmax: p.state.tmax }))) {
      if (!session.panes.some((p) => dueSet.has(p.paneStart))) continue;
      const complete = session.window.end <= watermark;
      if (complete) windows.push(session);
      else if (pipeline.early !== undefined) open.push(session);
      for (const pane of session.panes) {
        if (pane.tombstone) continue;
        if (!complete) fates.push({ pane, windows: [], next: "due", due: session.window.end + gap });
        else if (session.window.end + pipeline.allowedLateness > watermark)
          fates.push({ pane, windows: [session.window], next: "due", due: session.window.end + pipeline.allowedLateness + gap });
        else fates.push({ pane, windows: [session.window], next: "purge" });
      }
    }
  } else {
    const spec = pipeline.window;
    const firing = new Map<string, TimeWindow>();
    const opening = new Map<string, TimeWindow>();
    for (const start of dueStarts) {
      for (const w of windowsOfPane(spec, start)) {
        if (w.end <= watermark) firing.set(windowId(w), w);
        else if (pipeline.early !== undefined) opening.set(windowId(w), w);
      }
    }
    const all = [...firing.values()].sort((a, b) => a.start - b.start || a.end - b.end);
    const openWindows = [...opening.values()];
    const from = Math.min(...all.map((w) => w.start), ...openWindows.map((w) => w.start), ...dueStarts);
    const to = Math.max(...all.map((w) => w.end), ...openWindows.map((w) => w.end), ...dueStarts.map((s) => s + 1));
    const panes = await queryPanes(ctx.deps.dynamodb, ctx.deps.stateTable, pipeline.name, key, from, to);
    for (const [list, target] of [
      [all, windows],
      [openWindows, open],
    ] as const) {
      for (const w of list) {
        const inside = panes.filter((p) => p.paneStart >= w.start && p.paneStart < w.end);
        if (inside.length > 0) target.push({ window: w, panes: inside });
      }
    }
    const dueSet = new Set(dueStarts);
    const duePanes = panes.filter((p) => dueSet.has(p.paneStart) && !p.tombstone);
    // Every later window that contains an older pane also contains the newest due pane (it ends after
    // it, within its reach), so only the newest keeps watching the next window end; the others wait
    // for their purge. A sliding pane is then moved twice in its life, not once per slide.
    const newest = duePanes.reduce<PaneAt | undefined>((a, p) => (a === undefined || p.paneStart > a.paneStart ? p : a), undefined);
    const newestNext = newest ? windowsOfPane(spec, newest.paneStart).find((w) => w.end > watermark)?.end : undefined;
    for (const pane of duePanes) {
      const its = windowsOfPane(spec, pane.paneStart);
      const next = its.find((w) => w.end > watermark);
      const lastEnd = its[its.length - 1]?.end ?? 0;
      const handled = its.filter((w) => w.end <= watermark);
      const watched = next !== undefined && (pane === newest || newestNext === undefined || next.end < newestNext);
      if (next && watched) fates.push({ pane, windows: handled, next: "due", due: next.end });
      else if (lastEnd + pipeline.allowedLateness > watermark)
        fates.push({ pane, windows: handled, next: "due", due: lastEnd + pipeline.allowedLateness });
      else fates.push({ pane, windows: handled, next: "purge" });
    }
  }

  const unsettled = await fireWindows(ctx, key, windows);
  if (open.length > 0) await emitEarly(ctx, key, open);
  for (const fate of fates) {
    // A pane moves on only when every window it feeds was settled in the ledger.
    if (fate.windows.some((w) => unsettled.has(windowId(w)))) continue;
    if (fate.next === "purge") {
      if (await purgePane(ctx.deps.dynamodb, ctx.deps.stateTable, pipeline.name, key, fate.pane, ctx.now + ctx.deps.tombstoneRetentionMs))
        ctx.report.purged++;
    } else if (fate.pane.due !== fate.due) {
      await moveDue(ctx.deps.dynamodb, ctx.deps.stateTable, pipeline.name, key, fate.pane, fate.due);
    }
  }
}

/**
 * Reads the panes of one key around the due ones, widening the range while a session chain reaches
 * its edge (panes of one session are adjacent, so a chain ends at the first missing pane).
 */
async function readSessionChains(ctx: KeyContext, key: string, dueStarts: number[]): Promise<PaneAt[]> {
  if (ctx.pipeline.window.type !== "session") return [];
  const gap = ctx.pipeline.window.gap;
  const span = 32 * gap;
  let from = Math.min(...dueStarts) - span;
  let to = Math.max(...dueStarts) + gap + span;
  const byStart = new Map<number, PaneAt>();
  const load = async (a: number, b: number) => {
    for (const pane of await queryPanes(ctx.deps.dynamodb, ctx.deps.stateTable, ctx.pipeline.name, key, a, b))
      byStart.set(pane.paneStart, pane);
  };
  await load(from, to);
  for (;;) {
    const extendLeft = from > 0 && byStart.has(from);
    const extendRight = byStart.has(to - gap);
    if (!extendLeft && !extendRight) break;
    if (extendLeft) {
      await load(from - span, from);
      from -= span;
    }
    if (extendRight) {
      await load(to, to + span);
      to += span;
    }
  }
  return [...byStart.values()].sort((a, b) => a.paneStart - b.paneStart);
}

const windowId = (w: TimeWindow) => `${w.start}/${w.end}`;

/** Publishes results downstream (at least once) and clears their outbox marks. */
async function publish(deps: ClosingDependencies, results: readonly WindowResult[]): Promise<void> {
  if (!deps.sink || results.length === 0) return;
  await deps.sink.publish(results);
  for (const result of results) await markPublished(deps.dynamodb, deps.resultsTable, result);
}

/** What the ledger holds for these windows of a key, by result id. */
function readLedger(ctx: KeyContext, key: string, windows: readonly { window: TimeWindow }[]): Promise<Map<string, WindowResult>> {
  const cumulative = ctx.pipeline.window.type === "cumulate";
  return readResults(
    ctx.deps.dynamodb,
    ctx.deps.resultsTable,
    windows.map((w) => ({ pipeline: ctx.pipeline.name, key, start: w.window.start, end: w.window.end, cumulative })),
  );
}

/** A window's result as version 1; the caller raises the version from what the ledger holds. */
function resultOf(ctx: KeyContext, key: string, window: TimeWindow, panes: readonly PaneAt[], final: boolean): WindowResult {
  const state = mergeStates(panes.map((p) => p.state));
  return {
    pipeline: ctx.pipeline.name,
    key,
    start: window.start,
    end: window.end,
    ...(ctx.pipeline.window.type === "cumulate" ? { cumulative: true } : {}),
    values: finalValues(ctx.pipeline.aggregates, state),
    count: state.n,
    version: 1,
    firedAt: ctx.now,
    final,
  };
}

/**
 * Early results: the current result of each open window that changed, at most once per `early`
 * interval of processing time, marked `final: false`. They settle nothing; the final result follows
 * with a higher version when the watermark passes the window.
 */
async function emitEarly(ctx: KeyContext, key: string, open: { window: TimeWindow; panes: PaneAt[] }[]): Promise<void> {
  const { deps, pipeline } = ctx;
  const every = pipeline.early ?? Number.POSITIVE_INFINITY;
  const ledger = await readLedger(ctx, key, open);
  const written: WindowResult[] = [];
  for (const { window, panes } of open) {
    const result = resultOf(ctx, key, window, panes, false);
    const stored = ledger.get(resultId(result));
    if (stored !== undefined) {
      if (stored.final || (stored.count === result.count && stored.end === result.end) || ctx.now - stored.firedAt < every) continue;
      result.version = stored.version + 1;
    }
    // A lost race means another run wrote this window just now: nothing to retry for an early result.
    if (await writeResultOnce(deps.dynamodb, deps.resultsTable, result, deps.sink !== undefined, deps.resultRetentionSeconds))
      written.push(result);
  }
  await publish(deps, written);
  ctx.report.early += written.length;
}

/** Writes the windows' results to the ledger (once per version) and publishes them; returns the ids of windows left unsettled. */
async function fireWindows(ctx: KeyContext, key: string, windows: { window: TimeWindow; panes: PaneAt[] }[]): Promise<Set<string>> {
  const { deps, pipeline, watermark } = ctx;
  const unsettled = new Set<string>();
  if (windows.length === 0) return unsettled;
  // Windows ending after the previous watermark fire for the first time; the rest may be re-firings
  // (and with early results, any window may already hold a non-final version).
  const maybeRefired = windows.filter(
    (w) => pipeline.early !== undefined || pipeline.window.type === "session" || w.window.end <= ctx.previous,
  );
  const ledger = await readLedger(ctx, key, maybeRefired);
  const written: WindowResult[] = [];
  for (const { window, panes } of windows) {
    const result = resultOf(ctx, key, window, panes, true);
    let stored = ledger.get(resultId(result));
    for (let attempt = 0; attempt < 3; attempt++) {
      if (stored !== undefined) {
        // An early (non-final) result is always followed by the final one.
        if (stored.final) {
          if (stored.count === result.count && stored.end === result.end) break;
          if (window.end + pipeline.allowedLateness <= watermark) break; // final: past allowed lateness
        }
        result.version = stored.version + 1;
      }
      if (await writeResultOnce(deps.dynamodb, deps.resultsTable, result, deps.sink !== undefined, deps.resultRetentionSeconds)) {
        written.push(result);
        if (result.version === 1) ctx.report.fired++;
        else ctx.report.refired++;
        stored = undefined;
        break;
      }
      ctx.report.conflicts++;
      stored = (await readResults(deps.dynamodb, deps.resultsTable, [result])).get(resultId(result));
      if (attempt === 2) unsettled.add(windowId(window));
    }
  }
  await publish(deps, written);
  return unsettled;
}
