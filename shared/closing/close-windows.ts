// The closing logic of the watermark function: derive each pipeline's watermark from the checkpoints,
// find due panes through the due index (never a scan), merge panes into windows (or sessions), write
// each window's result once to the ledger, publish it, and move or purge the panes.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import pLimit from "p-limit";
import { finalValues, mergeStates } from "../aggregates/state.ts";
import type { Pipeline } from "../pipelines/schema.ts";
import { advanceWatermark, readCheckpoints, readWatermarks, registerShard } from "../state/checkpoints.ts";
import { moveDue, type PaneAt, purgePane, queryDuePanes, queryPanes } from "../state/panes.ts";
import { markPublished, readOutbox, readResults, resultId, type WindowResult, writeResultOnce } from "../state/results.ts";
import { dueLookaheadOf, sessionsOfPanes, type TimeWindow, windowsOfPane } from "../windows/assigners.ts";
import { END_OF_TIME, watermarkOf } from "../windows/watermark.ts";

export interface ResultSink {
  publish(results: readonly WindowResult[]): Promise<void>;
}

export interface ClosingDependencies {
  dynamodb: DynamoDBClient;
  stateTable: string;
  resultsTable: string;
  pipelines: readonly Pipeline[];
  /** open shards of the source stream: a shard no batch has reached yet holds the watermark until idle */
  listOpenShards?: () => Promise<string[]>;
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
}

export interface ClosingOptions {
  /** move every watermark to +∞ and fire everything (end of a bounded input) */
  drain?: boolean;
}

export async function closeWindows(deps: ClosingDependencies, options: ClosingOptions = {}): Promise<PipelineClosing[]> {
  const openShards = deps.listOpenShards ? await deps.listOpenShards() : [];
  const reports: PipelineClosing[] = [];
  for (const pipeline of deps.pipelines) reports.push(await closePipeline(deps, pipeline, openShards, options));
  return reports;
}

async function closePipeline(
  deps: ClosingDependencies,
  pipeline: Pipeline,
  openShards: readonly string[],
  options: ClosingOptions,
): Promise<PipelineClosing> {
  const now = deps.now?.() ?? Date.now();
  const report: PipelineClosing = { pipeline: pipeline.name, fired: 0, refired: 0, purged: 0, republished: 0, conflicts: 0 };

  const checkpoints = await readCheckpoints(deps.dynamodb, deps.stateTable, pipeline.name);
  const known = new Set(checkpoints.map((c) => c.shardId));
  for (const shardId of openShards) {
    if (known.has(shardId)) continue;
    await registerShard(deps.dynamodb, deps.stateTable, pipeline.name, shardId, now);
    checkpoints.push({ pipeline: pipeline.name, shardId, updatedAt: now });
  }
  const previous = (await readWatermarks(deps.dynamodb, deps.stateTable, [pipeline.name])).get(pipeline.name);
  const candidate = options.drain ? END_OF_TIME : watermarkOf(checkpoints, pipeline.outOfOrderness, pipeline.idleTimeout, now);
  if (candidate === undefined && previous === undefined) return report;
  const watermark =
    candidate !== undefined && (previous === undefined || candidate > previous)
      ? await advanceWatermark(deps.dynamodb, deps.stateTable, pipeline.name, candidate, now)
      : (previous as number);
  report.watermark = watermark;

  // Results a crashed run wrote but did not publish go first.
  if (deps.sink) {
    const unpublished = await readOutbox(deps.dynamodb, deps.resultsTable, pipeline.name);
    if (unpublished.length > 0) {
      await deps.sink.publish(unpublished);
      for (const result of unpublished) await markPublished(deps.dynamodb, deps.resultsTable, result);
      report.republished = unpublished.length;
    }
  }

  const due = await queryDuePanes(deps.dynamodb, deps.stateTable, pipeline.name, watermark + dueLookaheadOf(pipeline.window));
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

  if (pipeline.window.type === "session") {
    const gap = pipeline.window.gap;
    const panes = await readSessionChains(ctx, key, dueStarts);
    const dueSet = new Set(dueStarts);
    for (const session of sessionsOfPanes(
      panes.filter((p) => !p.tombstone),
      gap,
      (p) => ({ start: p.paneStart, tmin: p.state.tmin, tmax: p.state.tmax }),
    )) {
      if (!session.panes.some((p) => dueSet.has(p.paneStart))) continue;
      const complete = session.window.end <= watermark;
      if (complete) windows.push(session);
      for (const pane of session.panes) {
        if (!complete) fates.push({ pane, windows: [], next: "due", due: session.window.end + gap });
        else if (session.window.end + pipeline.allowedLateness > watermark)
          fates.push({ pane, windows: [session.window], next: "due", due: session.window.end + pipeline.allowedLateness + gap });
        else fates.push({ pane, windows: [session.window], next: "purge" });
      }
    }
  } else {
    const spec = pipeline.window;
    const firing = new Map<number, TimeWindow>();
    for (const start of dueStarts) for (const w of windowsOfPane(spec, start)) if (w.end <= watermark) firing.set(w.start, w);
    const all = [...firing.values()].sort((a, b) => a.start - b.start);
    const from = Math.min(...all.map((w) => w.start), ...dueStarts);
    const to = Math.max(...all.map((w) => w.end), ...dueStarts.map((s) => s + 1));
    const panes = await queryPanes(ctx.deps.dynamodb, ctx.deps.stateTable, pipeline.name, key, from, to);
    for (const w of all) {
      const inside = panes.filter((p) => !p.tombstone && p.paneStart >= w.start && p.paneStart < w.end);
      if (inside.length > 0) windows.push({ window: w, panes: inside });
    }
    const dueSet = new Set(dueStarts);
    for (const pane of panes) {
      if (!dueSet.has(pane.paneStart) || pane.tombstone) continue;
      const its = windowsOfPane(spec, pane.paneStart);
      const next = its.find((w) => w.end > watermark);
      const lastEnd = its[its.length - 1]?.end ?? 0;
      const handled = its.filter((w) => w.end <= watermark);
      if (next) fates.push({ pane, windows: handled, next: "due", due: next.end });
      else if (lastEnd + pipeline.allowedLateness > watermark)
        fates.push({ pane, windows: handled, next: "due", due: lastEnd + pipeline.allowedLateness });
      else fates.push({ pane, windows: handled, next: "purge" });
    }
  }

  const unsettled = await fireWindows(ctx, key, windows);
  for (const fate of fates) {
    // A pane moves on only when every window it feeds was settled in the ledger.
    if (fate.windows.some((w) => unsettled.has(w.start))) continue;
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
    const extendLeft = from > 0 && byStart.has(from) && !byStart.get(from)?.tombstone;
    const extendRight = byStart.has(to - gap) && !byStart.get(to - gap)?.tombstone;
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

/** Writes the windows' results to the ledger (once per version) and publishes them; returns the starts of windows left unsettled. */
async function fireWindows(ctx: KeyContext, key: string, windows: { window: TimeWindow; panes: PaneAt[] }[]): Promise<Set<number>> {
  const { deps, pipeline, watermark } = ctx;
  const unsettled = new Set<number>();
  if (windows.length === 0) return unsettled;
  // Windows ending after the previous watermark fire for the first time; the rest may be re-firings.
  const maybeRefired = windows.filter((w) => pipeline.window.type === "session" || w.window.end <= ctx.previous);
  const ledger = await readResults(
    deps.dynamodb,
    deps.resultsTable,
    maybeRefired.map((w) => ({ pipeline: pipeline.name, key, start: w.window.start })),
  );
  const written: WindowResult[] = [];
  for (const { window, panes } of windows) {
    const state = mergeStates(panes.map((p) => p.state));
    const result: WindowResult = {
      pipeline: pipeline.name,
      key,
      start: window.start,
      end: window.end,
      values: finalValues(pipeline.aggregates, state),
      count: state.n,
      version: 1,
      firedAt: ctx.now,
    };
    let stored = ledger.get(resultId(result));
    for (let attempt = 0; attempt < 3; attempt++) {
      if (stored !== undefined) {
        if (stored.count === result.count && stored.end === result.end) break;
        if (window.end + pipeline.allowedLateness <= watermark) break; // final: past allowed lateness
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
      if (attempt === 2) unsettled.add(window.start);
    }
  }
  if (deps.sink && written.length > 0) {
    await deps.sink.publish(written);
    for (const result of written) await markPublished(deps.dynamodb, deps.resultsTable, result);
  }
  return unsettled;
}
