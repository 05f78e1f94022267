// The coordinator of closing (the watermark function): read what the shard logs added since the last
// run, derive each pipeline's watermark from the checkpoints, take a cut of the logs (an epoch), and
// send each pipeline's key groups, a range a message, to closing units (closer.ts) when they have work:
// to the closer function's queue in AWS, or run in this process; then tell every shard's log the
// watermarks in force. Nothing here grows with a pipeline's keys: the units read and write key groups. A pipeline that fails is reported with the
// reason and the others still close. Which windows fire, fire again or go is decided in core
// (windows/key-group.ts, windows/sessions.ts, windows/fates.ts).
import pLimit from "p-limit";
import {
  advanceWatermark,
  markShardFinished,
  noteDispatched,
  noteWatermarkSample,
  type PipelineMarks,
  readCheckpoints,
  readPipelineMarks,
  readShardProgress,
  registerShard,
  type ShardProgressRecord,
} from "../aws/dynamodb/checkpoints.ts";
import { createEpoch, cutAfter, type Epoch, readEpochs, readNewestEpoch } from "../aws/dynamodb/epochs.ts";
import { type LogEntry, readLogBetween, readLogEntry } from "../aws/dynamodb/log.ts";
import { ensureLayout } from "../aws/dynamodb/results.ts";
import type { ShardProbe, SourceStream } from "../aws/kinesis/probe.ts";
import type { Pipeline } from "../core/pipelines/schema.ts";
import { closesWindows } from "../core/windows/assigners.ts";
import { END_OF_TIME, isIdle, type ShardProgress, watermarkOf } from "../core/windows/watermark.ts";
import { type CloserDependencies, closeUnitMessage, shippedPortions, type UnitMessage, unitMessages } from "./closer.ts";
import type { UnitReport } from "./closing-unit.ts";
import {
  advanceShards,
  announceWatermarks,
  appliedSequenceOf,
  headsOf,
  holdsEvents,
  holdsLateEvents,
  readUnfolded,
  type UnfoldedLogs,
  unfoldedProgress,
} from "./shard-logs.ts";

/** The coordinator's: what a closer needs (closer.ts), and the stream, the dispatch of units, the sessions' retention. */
export interface ClosingDependencies extends CloserDependencies {
  /** the source stream: its shards, and whether a shard still holds unapplied records */
  stream?: SourceStream;
  /** how many key groups a closing unit takes (default: all of a pipeline's, one unit) */
  groupsPerUnit?: number;
  /** sends closing units to the closer function (its queue); without it they run in this process */
  dispatchUnits?: (messages: readonly UnitMessage[]) => Promise<void>;
  /** units sent that have not all finished after this long are sent again (default 5 minutes; in-process units: at once) */
  unitRetryMs?: number;
  /** told how long each closing unit run in this process took (the bench) */
  observeUnit?: (unit: { pipeline: string; groups: number; ms: number }) => void;
}

export interface PipelineClosing {
  pipeline: string;
  watermark?: number;
  fired: number;
  refired: number;
  /** panes cleared, and sessions dropped once their lateness passed */
  purged: number;
  republished: number;
  conflicts: number;
  /** early (non-final) results written */
  early: number;
  /** keys or key groups whose closing failed this run: parked with the reason, retried next run */
  parked: { key: string; reason: string }[];
  /** results written to the ledger whose publishing failed (published by a later run) */
  unpublished: number;
  /** closing units sent to the closer function */
  dispatched: number;
  /** why the pipeline could not be closed at all this run (the others were) */
  error?: string;
}

/** What the closing units of a run did with the shard logs. */
export interface FoldReport {
  /** log entries the coordinator read (batches and notices) */
  entries: number;
  /** pane writes of the closing units */
  panes: number;
  /** key groups that could not be closed (parked; retried next run) */
  failed: { pipeline: string; group: number }[];
  /** why (the first few) */
  reasons: string[];
  /** panes that could not store all their events (reported in the dead letters) */
  unstorable: number;
}

export interface ClosingOptions {
  /** move every watermark to +∞ and fire everything (end of a bounded input) */
  drain?: boolean;
  /** what the closing units did with the logs */
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
  parked: [],
  unpublished: 0,
  dispatched: 0,
});

/** How long a pipeline's logged events may wait for its key groups to fold them when no window needs them. */
const MAX_UNFOLDED_MS = 120_000;
/** Units sent to the closer function that have not all finished after this long are sent again. */
const UNIT_RETRY_MS = 300_000;
const retryMsOf = (deps: ClosingDependencies) => (deps.dispatchUnits ? (deps.unitRetryMs ?? UNIT_RETRY_MS) : 0);
/** Key groups are brought to a recent epoch at least this often, busy or not (epochs and logs expire). */
const MAX_IDLE_MS = 86_400_000;

const reasonOf = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/**
 * One closing run: the coordinator's steps, in order. A run that stops anywhere leaves nothing a later
 * run relies on half-done: the epoch and the units' marks are each written under a condition.
 */
export async function closeWindows(deps: ClosingDependencies, options: ClosingOptions = {}): Promise<PipelineClosing[]> {
  const now = deps.now?.() ?? Date.now();
  const logs = await readUnfolded(deps);
  const shards = await ShardView.read(deps, logs);
  const names = deps.pipelines.map((p) => p.name);
  const marks = await readPipelineMarks(deps.dynamodb, deps.stateTable, names);
  const reports = deps.pipelines.map((p) => emptyReport(p.name));
  const before = new Map(
    names.flatMap((name) => (marks.get(name)?.watermark === undefined ? [] : [[name, marks.get(name)?.watermark as number]])),
  );
  // 1. Each pipeline's watermark, from the checkpoints and what the new entries add (a cascade's
  // follows its source's, once the source's units are done: step 2).
  const watermarks = new Map(before);
  for (const [i, pipeline] of deps.pipelines.entries()) {
    if (pipeline.from !== undefined) continue;
    try {
      const candidate = options.drain ? END_OF_TIME : await candidateWatermark(deps, pipeline, shards, now, logs);
      const previous = before.get(pipeline.name);
      if (candidate !== undefined && (previous === undefined || candidate > previous))
        watermarks.set(pipeline.name, await advanceWatermark(deps.dynamodb, deps.stateTable, pipeline.name, candidate, now));
    } catch (error) {
      (reports[i] as PipelineClosing).error = reasonOf(error);
    }
  }
  for (const report of reports) if (!report.error) report.watermark = watermarks.get(report.pipeline);
  // The watermark's history (at most a sample an hour) bounds how far back an operator's reset may reach:
  // taken before this run's units clear anything. A sample that cannot be written leaves a longer gap,
  // which only makes that bound stricter.
  await Promise.all(
    reports.map(async (report) => {
      const watermark = watermarks.get(report.pipeline);
      if (report.error || watermark === undefined) return;
      const sample = { watermark, at: now, tombstoneRetentionMs: deps.tombstoneRetentionMs };
      await noteWatermarkSample(deps.dynamodb, deps.stateTable, report.pipeline, marks.get(report.pipeline) ?? {}, sample).catch(
        () => undefined,
      );
    }),
  );
  // 2. The pipelines whose key groups have work, and an epoch (a cut of the logs) for them.
  const due = deps.pipelines.filter(
    (p, i) =>
      p.from === undefined && !reports[i]?.error && hasWork(p, marks.get(p.name) ?? {}, logs, watermarks, now, options, retryMsOf(deps)),
  );
  const fold: FoldReport = { entries: 0, panes: 0, failed: [], reasons: [], unstorable: 0 };
  // Every entry the shard progress moves over (step 3) is covered by an epoch first, units or not.
  // (Session pipelines fold at ingest: a deployment of sessions only needs no epochs.)
  const anyNew = deps.pipelines.some((p) => p.window.type !== "session") && [...logs.shards.values()].some((l) => l.entries.length > 0);
  const epoch = due.length > 0 || anyNew ? await takeEpoch(deps, logs, watermarks, marks, now) : undefined;
  if (epoch !== undefined) {
    await Promise.all(
      due.map(async (pipeline) => {
        const report = reports[deps.pipelines.indexOf(pipeline)] as PipelineClosing;
        try {
          await closeKeyGroups(deps, pipeline, epoch, marks.get(pipeline.name) ?? {}, report, fold, now, logs);
        } catch (error) {
          report.error = reasonOf(error);
        }
      }),
    );
  }
  // Cascades, each after its source: its watermark is the one its source is closed at (units that ran
  // here are done; units sent to the closer function count once they finish: a later run).
  await closeCascades(deps, { logs, marks, watermarks, reports, fold, now, options });
  // 3. The checkpoints and shard progress move over the entries read (the epoch holds them now).
  fold.entries = await advanceShards(deps, logs);
  options.onFold?.(fold);
  // 4. Every shard's log hears of the watermarks in force: every pipeline's, moved or not.
  if ([...watermarks].some(([p, w]) => w !== before.get(p))) {
    const generations = new Map(names.map((name) => [name, marks.get(name)?.resetGeneration ?? 0]));
    await announceWatermarks(deps, headsOf(logs), watermarks, deps.now?.() ?? Date.now(), deps.logRetentionSeconds, generations);
  }
  return reports;
}

/** How many sources a pipeline reads through (0: it reads the stream). */
function depthOf(pipeline: Pipeline, pipelines: readonly Pipeline[]): number {
  let depth = 0;
  for (let p: Pipeline | undefined = pipeline; p?.from !== undefined; p = pipelines.find((q) => q.name === p?.from?.pipeline)) {
    depth++;
    if (depth > pipelines.length) break; // a loop (the schema refuses it)
  }
  return depth;
}

/**
 * The cascades, level by level (a cascade of a cascade after it): each takes its source's closed
 * watermark, and those with windows to fire get an epoch of their own and their units.
 */
async function closeCascades(
  deps: ClosingDependencies,
  run: {
    logs: UnfoldedLogs;
    marks: Map<string, PipelineMarks>;
    watermarks: Map<string, number>;
    reports: PipelineClosing[];
    fold: FoldReport;
    now: number;
    options: ClosingOptions;
  },
): Promise<void> {
  const { logs, watermarks, reports, fold, now, options } = run;
  const cascades = deps.pipelines.filter((p) => p.from !== undefined);
  const levels = [...new Set(cascades.map((p) => depthOf(p, deps.pipelines)))].sort((a, b) => a - b);
  for (const level of levels) {
    const mine = cascades.filter((p) => depthOf(p, deps.pipelines) === level);
    const names = [...new Set(mine.flatMap((p) => [p.name, p.from?.pipeline as string]))];
    const marks = await readPipelineMarks(deps.dynamodb, deps.stateTable, names);
    const due: Pipeline[] = [];
    for (const pipeline of mine) {
      const report = reports[deps.pipelines.indexOf(pipeline)] as PipelineClosing;
      try {
        const source = deps.pipelines.find((p) => p.name === pipeline.from?.pipeline) as Pipeline;
        const closed = closedThrough(source, marks.get(source.name) ?? {}, watermarks.get(source.name));
        const previous = watermarks.get(pipeline.name);
        if (closed !== undefined && (previous === undefined || closed > previous))
          watermarks.set(pipeline.name, await advanceWatermark(deps.dynamodb, deps.stateTable, pipeline.name, closed, now));
        report.watermark = watermarks.get(pipeline.name);
        run.marks.set(pipeline.name, marks.get(pipeline.name) ?? {});
        if (hasWork(pipeline, marks.get(pipeline.name) ?? {}, logs, watermarks, now, options, retryMsOf(deps))) due.push(pipeline);
      } catch (error) {
        report.error = reasonOf(error);
      }
    }
    if (due.length === 0) continue;
    const epoch = await takeEpoch(deps, logs, watermarks, run.marks, now);
    await Promise.all(
      due.map(async (pipeline) => {
        const report = reports[deps.pipelines.indexOf(pipeline)] as PipelineClosing;
        try {
          await closeKeyGroups(deps, pipeline, epoch, marks.get(pipeline.name) ?? {}, report, fold, now, logs);
        } catch (error) {
          report.error = reasonOf(error);
        }
      }),
    );
  }
}

/**
 * How far a cascade's source has given every row: the watermark its key groups were last all closed
 * at — or its watermark now, when no window of it ends in between and no units are out (a source with
 * nothing to fire is not closed again, yet every window the watermark passed has fired).
 */
function closedThrough(source: Pipeline, marks: PipelineMarks, watermark: number | undefined): number | undefined {
  const closed = marks.closedWatermark;
  const inFlight = (marks.dispatchedEpoch ?? 0) > (marks.closedEpoch ?? 0);
  if (closed === undefined || watermark === undefined || inFlight || watermark <= closed) return closed;
  return closesWindows(source.window, closed, watermark) ? closed : watermark;
}

/** Whether a fixed-window pipeline's key groups have work this run. */
function hasWork(
  pipeline: Pipeline,
  marks: PipelineMarks,
  logs: UnfoldedLogs,
  watermarks: ReadonlyMap<string, number>,
  now: number,
  options: ClosingOptions,
  retryMs: number | undefined,
): boolean {
  // Units sent before that have not all finished (they may still be running): after a while, send them
  // again (they resume where each group stands); until then, what they were sent for counts as done.
  const inFlight = (marks.dispatchedEpoch ?? 0) > (marks.closedEpoch ?? 0);
  if (inFlight && now - (marks.dispatchedAt ?? 0) >= (retryMs ?? 0)) return true;
  // Windows are fired up to the watermark of the last epoch every group reached (or was sent to).
  const previous = inFlight ? marks.dispatchedWatermark : marks.closedWatermark;
  const next = watermarks.get(pipeline.name);
  const events = holdsEvents(logs, pipeline.name);
  // Early results look at open windows whenever processing time passes.
  if (pipeline.early !== undefined || (options.drain && events)) return true;
  // Sessions are folded at ingest: new events may have grown a session that already fired, and a
  // session is due whenever the watermark passes its end (which only its group's due index knows).
  if (pipeline.window.type === "session") return events || (next !== undefined && (previous === undefined || next > previous));
  if (next !== undefined && closesWindows(pipeline.window, previous, next)) return true;
  if (events && holdsLateEvents(logs, pipeline.name, previous)) return true;
  // Events wait for their windows, but not for long: what every unit reads stays small.
  if (events && now - (marks.closedAt ?? 0) >= MAX_UNFOLDED_MS) return true;
  return marks.closedAt !== undefined && now - marks.closedAt >= MAX_IDLE_MS;
}

/** A new epoch: the cut of every shard's log as this run read it (never behind the last epoch's). */
async function takeEpoch(
  deps: ClosingDependencies,
  logs: UnfoldedLogs,
  watermarks: ReadonlyMap<string, number>,
  marks: ReadonlyMap<string, PipelineMarks>,
  now: number,
): Promise<Epoch> {
  const heads = new Map([...headsOf(logs)].map(([shardId, head]) => [shardId, head.ordinal]));
  // The lowest watermark the newest entry of any log was planned at: every later entry is planned at
  // least at it (a newer generation — an operator's reset — aside), so no later event can reach a pane
  // whose windows' cleanup time it passed.
  // A shard with nothing new since the last run: its newest entry at the cut is the one its progress
  // points at (not its head now: entries after the cut may have been planned lower than the head).
  const newestEntries = await Promise.all(
    [...logs.shards].map(
      async ([shardId, log]) =>
        log.entries[log.entries.length - 1] ?? (await readLogEntry(deps.dynamodb, deps.stateTable, shardId, log.progress?.ordinal ?? 0)),
    ),
  );
  const safe = new Map<string, number>();
  for (const pipeline of deps.pipelines) {
    const generation = marks.get(pipeline.name)?.resetGeneration ?? 0;
    const planned = newestEntries.map((entry) =>
      entry === undefined || (entry.generations?.[pipeline.name] ?? 0) !== generation ? undefined : entry.watermarks[pipeline.name],
    );
    if (planned.length > 0 && planned.every((w) => w !== undefined)) safe.set(pipeline.name, Math.min(...(planned as number[])));
  }
  for (let attempt = 1; ; attempt++) {
    const newest = await readNewestEpoch(deps.dynamodb, deps.stateTable);
    const epoch: Epoch = { epoch: newest.epoch + 1, cut: cutAfter(newest.cut, heads), watermarks, safe, at: now };
    if (await createEpoch(deps.dynamodb, deps.stateTable, epoch, deps.logRetentionSeconds)) return epoch;
    if (attempt >= 6) throw new Error("the epochs kept moving under 6 attempts (too many closing runs at once)");
  }
}

/**
 * Sends a pipeline's key groups to closing units at the epoch: to the closer function's queue, or run
 * here, in this process (the local harnesses, replay), through the same path a closer takes.
 */
async function closeKeyGroups(
  deps: ClosingDependencies,
  pipeline: Pipeline,
  epoch: Epoch,
  marks: PipelineMarks,
  report: PipelineClosing,
  fold: FoldReport,
  now: number,
  logs: UnfoldedLogs,
): Promise<void> {
  await ensureLayout(deps.dynamodb, deps.resultsTable, pipeline.name, pipeline.keyGroups);
  const units = Math.ceil(pipeline.keyGroups / Math.max(1, deps.groupsPerUnit ?? pipeline.keyGroups));
  const planned = unitMessages(pipeline, epoch.epoch, units, marks);
  // Session sets are folded at ingest, cascades read their partials: their units read no log.
  const messages =
    pipeline.window.type === "session" || pipeline.from !== undefined
      ? planned
      : await withShippedPortions(deps, pipeline, planned, epoch, logs, marks);
  await noteDispatched(deps.dynamodb, deps.stateTable, pipeline.name, {
    epoch: epoch.epoch,
    at: now,
    watermark: epoch.watermarks.get(pipeline.name),
  });
  if (deps.dispatchUnits) {
    await deps.dispatchUnits(messages);
    report.dispatched += messages.length;
    return;
  }
  const limit = pLimit(Math.max(1, Math.ceil(deps.concurrency / 4)));
  const unitReports = await Promise.all(
    messages.map((message) =>
      limit(async () => {
        const started = performance.now();
        const done = await closeUnitMessage(deps, message, epoch);
        deps.observeUnit?.({ pipeline: pipeline.name, groups: message.last - message.first + 1, ms: performance.now() - started });
        return done;
      }),
    ),
  );
  for (const u of unitReports) if (u) addUnit(report, fold, u);
}

/** Entries a pipeline's groups may lag behind this run's reading (a pipeline not due every run): read for its units, up to this many a shard. */
const MAX_CATCH_UP_ENTRIES = 1_000;

/**
 * The units' portions of the log since the pipeline's last closed epoch (every group stands there or
 * later), in their messages: the entries this run read, and those between that epoch's cut and them
 * (read here once rather than by every unit). Left out when the entries do not run up to the epoch's
 * cut on every shard (another run's epoch cut further) or the groups lag too far: then units read the log.
 */
async function withShippedPortions(
  deps: ClosingDependencies,
  pipeline: Pipeline,
  messages: UnitMessage[],
  epoch: Epoch,
  logs: UnfoldedLogs,
  marks: PipelineMarks,
): Promise<UnitMessage[]> {
  if (marks.closedEpoch === undefined) return messages;
  const closed = (await readEpochs(deps.dynamodb, deps.stateTable, [marks.closedEpoch])).get(marks.closedEpoch);
  if (closed === undefined) return messages;
  const after = new Map<string, number>();
  const entries: { shardId: string; entry: LogEntry }[] = [];
  for (const [shardId, upTo] of epoch.cut) {
    const log = logs.shards.get(shardId);
    const head = log?.entries[log.entries.length - 1]?.ordinal ?? log?.progress?.ordinal ?? upTo;
    if (head !== upTo) return messages;
    const read = log === undefined ? upTo : (log.progress?.ordinal ?? 0);
    const from = Math.min(read, closed.cut.get(shardId) ?? 0);
    if (read - from > MAX_CATCH_UP_ENTRIES) return messages;
    after.set(shardId, from);
    for (const entry of await readLogBetween(deps.dynamodb, deps.stateTable, shardId, from, read)) entries.push({ shardId, entry });
    for (const entry of log?.entries ?? []) entries.push({ shardId, entry });
  }
  const shipped = shippedPortions(pipeline, messages, after, entries);
  return messages.map((message, i) => {
    const mine = shipped[i];
    return mine === undefined ? message : { ...message, shipped: mine };
  });
}

function addUnit(report: PipelineClosing, fold: FoldReport, unit: UnitReport): void {
  report.fired += unit.fired;
  report.refired += unit.refired;
  report.early += unit.early;
  report.conflicts += unit.conflicts;
  report.purged += unit.cleared;
  report.unpublished += unit.unpublished;
  report.republished += unit.republished;
  for (const p of unit.parked) {
    report.parked.push({ key: p.key ?? `key group ${p.group}`, reason: p.reason });
    fold.failed.push({ pipeline: unit.pipeline, group: p.group });
    if (fold.reasons.length < 5) fold.reasons.push(`${unit.pipeline}/group ${p.group}: ${p.reason}`);
  }
  fold.panes += unit.panesWritten;
  fold.unstorable += unit.unstorable;
}

/** The watermark the checkpoints allow: idle shards (nothing new, nothing pending) and finished shards do not count. */
async function candidateWatermark(
  deps: ClosingDependencies,
  pipeline: Pipeline,
  shards: ShardView,
  now: number,
  unfolded: UnfoldedLogs,
): Promise<number | undefined> {
  const checkpoints = await readCheckpoints(deps.dynamodb, deps.stateTable, pipeline.name);
  // What the shards' new batches add (the checkpoints move over them at the end of the run).
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
