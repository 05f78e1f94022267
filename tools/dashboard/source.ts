// Where the dashboard's numbers come from: the deployment's own tables, read on a timer. Each refresh
// reads the watermarks and shard checkpoints, and the results ledger's windows that ended since the last
// read (through the byEnd index); the whole chart range is re-read now and then to pick up windows a
// delayed closing run wrote late, and dead letters are counted (a scan) less often still.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { countDeadLetters, type PipelineStatus, readStatus } from "../../shared/app/status.ts";
import { queryResults } from "../../shared/aws/dynamodb/results.ts";
import { describeDeadLetterCounts, type PipelineLetterCounts, totalOf } from "../../shared/core/dead-letters.ts";
import { keyLabel, type Pipeline } from "../../shared/core/pipelines/schema.ts";
import { formatDuration } from "../../shared/core/windows/duration.ts";
import type { DashboardSnapshot, MetricInfo, PipelineView, Selection } from "./model.ts";
import {
  metricsOf,
  ProgressRecorder,
  type RankingShape,
  rankingKeyLabel,
  rankingPlaces,
  rankingShapeOf,
  WindowStore,
  type WindowStoreLimits,
} from "./store.ts";

export interface DashboardSourceOptions {
  dynamodb: DynamoDBClient;
  tables: { stateTable: string; resultsTable: string; deadLetterTable?: string };
  pipelines: readonly Pipeline[];
  /** what is being read, for the page's header */
  describe: string;
  refreshMs: number;
  /** dead letters are counted with a scan: at most this often */
  deadLettersEveryMs: number;
  /** the whole chart range of results is re-read at most this often */
  fullReadEveryMs: number;
  /** a refresh that takes longer is reported failed and the next one starts (default: 5 refreshes, at least 10 s) */
  refreshTimeoutMs?: number;
  limits?: WindowStoreLimits;
  progressSamples?: number;
  now?: () => number;
}

/** How often the dashboard reads: on an emulator, and against AWS, where every request is billed (costed in the README). */
export const CADENCE = {
  local: { refreshMs: 1000, deadLettersEveryMs: 5000, fullReadEveryMs: 30_000 },
  aws: { refreshMs: 5000, deadLettersEveryMs: 60_000, fullReadEveryMs: 300_000 },
} as const;

/** Event time between two consecutive window ends, roughly: the spacing of a pipeline's chart. */
export function windowStepOf(pipeline: Pick<Pipeline, "window">): number {
  const w = pipeline.window;
  if (w.type === "tumbling") return w.size;
  if (w.type === "sliding") return w.slide;
  if (w.type === "cumulate") return w.step;
  return w.gap;
}

export function describeWindow(pipeline: Pick<Pipeline, "window">): string {
  const w = pipeline.window;
  if (w.type === "session") return `session gap ${formatDuration(w.gap)}`;
  const offset = w.offset ? `, offset ${w.offset < 0 ? "-" : ""}${formatDuration(Math.abs(w.offset))}` : "";
  if (w.type === "tumbling") return `tumbling ${formatDuration(w.size)}${offset}`;
  if (w.type === "sliding") return `sliding ${formatDuration(w.size)} every ${formatDuration(w.slide)}${offset}`;
  return `cumulating ${formatDuration(w.size)} by ${formatDuration(w.step)}${offset}`;
}

interface PipelineState {
  pipeline: Pipeline;
  /** a pipeline whose results are rankings: held one place (row number) per window */
  ranking?: RankingShape;
  windows: WindowStore;
  progress: ProgressRecorder;
  status?: PipelineStatus;
  /** the watermarks read at the last results query and at the one before */
  readUpTo?: number;
  readBefore?: number;
  lastFullRead: number;
}

const TABLE_ROWS = 12;

/**
 * The numbers a pipeline's view plots: its results' (metricsOf); for a ranking after an aggregation, its
 * rows' (the aggregation's, those the ranked rows keep); over a window's rows, the ranked rows' numeric
 * columns as met in the rankings held.
 */
function metricsOfView(pipeline: Pipeline, ranking: RankingShape | undefined, windows: WindowStore): MetricInfo[] {
  if (ranking === undefined) return metricsOf(pipeline);
  const kept = pipeline.rank?.columns;
  if (pipeline.rank !== undefined)
    return metricsOf(pipeline).filter((m) => kept === undefined || kept.includes(m.id.split(".")[0] as string));
  return windows.valueNames().map((id) => ({ id, label: id }));
}
const MAX_KEYS_LISTED = 500;

export class DashboardSource {
  private readonly states: PipelineState[];
  private deadLetters = new Map<string, PipelineLetterCounts>();
  private deadLettersCountedAt?: number;
  private lastError?: string;
  private unmatched: DashboardSnapshot["unmatched"] = { count: 0 };
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly listeners = new Set<() => void>();
  private readonly now: () => number;

  constructor(readonly options: DashboardSourceOptions) {
    this.now = options.now ?? Date.now;
    this.states = options.pipelines.map((pipeline) => ({
      pipeline,
      ranking: rankingShapeOf(pipeline),
      windows: new WindowStore(options.limits),
      progress: new ProgressRecorder(options.progressSamples),
      lastFullRead: Number.NEGATIVE_INFINITY,
    }));
  }

  /** Reads everything once; errors are kept for the page (and returned), the data of the last good refresh stays. */
  async refresh(): Promise<Error | undefined> {
    if (!this.running) {
      const read: Promise<void> = this.read().finally(() => {
        if (this.running === read) this.running = undefined;
      });
      this.running = read;
    }
    const running = this.running;
    // A request that never answers (no SDK timeout by default) must not freeze the page: past the
    // limit the refresh is reported failed and the next one starts afresh.
    const limitMs = this.options.refreshTimeoutMs ?? Math.max(10_000, 5 * this.options.refreshMs);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        if (this.running === running) this.running = undefined;
        reject(new Error(`a refresh took longer than ${limitMs / 1000} s`));
      }, limitMs);
    });
    try {
      await Promise.race([running, timeout]);
      this.lastError = undefined;
      return undefined;
    } catch (error) {
      this.lastError = (error as Error).message;
      return error as Error;
    } finally {
      clearTimeout(timer);
      for (const listener of this.listeners) listener();
    }
  }

  private async read(): Promise<void> {
    const { dynamodb, tables } = this.options;
    const now = this.now();
    if (
      tables.deadLetterTable &&
      (this.deadLettersCountedAt === undefined || now - this.deadLettersCountedAt >= this.options.deadLettersEveryMs)
    ) {
      this.deadLetters = await countDeadLetters(dynamodb, tables.deadLetterTable);
      this.deadLettersCountedAt = now;
    }
    const status = await readStatus(dynamodb, { stateTable: tables.stateTable }, this.options.pipelines, now);
    this.unmatched = status.unmatched;
    await Promise.all(
      this.states.map(async (state, i) => {
        const current = status.pipelines[i];
        if (!current) return;
        state.status = current;
        state.progress.record(now, current.watermark, current.shards);
        if (current.watermark === undefined) return; // nothing has closed yet
        const { pipeline, windows } = state;
        const chartRange = windows.limits.ends * windowStepOf(pipeline);
        const full = state.readUpTo === undefined || now - state.lastFullRead >= this.options.fullReadEveryMs;
        // A closing run stores the watermark, then writes the windows it closes; the run that stored the
        // watermark seen at the last read may have been writing then, the one before had a refresh to finish.
        // A late firing rewrites a window up to allowedLateness after it closed. Runs delayed longer (a crash,
        // a retry) are caught by the full reads, which start where the store's bounds let results in.
        const from = full
          ? Math.max(current.watermark - chartRange, windows.cutAt ?? Number.NEGATIVE_INFINITY) - pipeline.allowedLateness
          : (state.readBefore ?? state.readUpTo ?? current.watermark) - pipeline.allowedLateness;
        const results = await queryResults(dynamodb, tables.resultsTable, { pipeline: pipeline.name, from });
        const { ranking } = state;
        windows.add(ranking === undefined ? results : results.flatMap((r) => rankingPlaces(ranking, r)));
        state.readBefore = state.readUpTo;
        state.readUpTo = current.watermark;
        if (full) state.lastFullRead = now;
      }),
    );
  }

  /** Calls the listener after every refresh (and returns how to stop). */
  onRefresh(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Refreshes every refreshMs until stopped; one refresh at a time. */
  start(): void {
    if (this.timer) return;
    const tick = () => {
      void this.refresh().then(() => {
        if (this.timer) this.timer = setTimeout(tick, this.options.refreshMs);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  snapshot(selection: Selection): DashboardSnapshot {
    const pipelines = this.states.map((state): PipelineView => {
      const { pipeline, windows, status, ranking } = state;
      const metrics = metricsOfView(pipeline, ranking, windows);
      const asked = selection.pipelines[pipeline.name];
      const top = Math.max(1, Math.min(50, Math.floor(asked?.top ?? selection.top) || 5));
      const metric = metrics.find((m) => m.id === asked?.metric)?.id ?? metrics[0]?.id ?? "";
      const ranked = windows.rankKeys(metric);
      const own = asked?.keys?.filter((k) => ranked.includes(k));
      const chartKeys = own && own.length > 0 ? own : ranked.slice(0, top);
      const counts = this.deadLetters.get(pipeline.name) ?? { invalid: 0, late: 0, partlyLate: 0, reasons: [] };
      return {
        name: pipeline.name,
        window: describeWindow(pipeline),
        keyField: ranking === undefined ? keyLabel(pipeline) : rankingKeyLabel(ranking),
        metrics,
        watermark: status?.watermark,
        lagMs: status?.lagMs,
        shards: status?.shards ?? [],
        progress: state.progress.history(),
        deadLettered: counts.invalid,
        late: counts.late,
        partlyLate: counts.partlyLate,
        reasons: counts.reasons,
        secondsLike: status?.secondsLike.count ?? 0,
        keys: ranked.slice(0, MAX_KEYS_LISTED),
        keysTotal: ranked.length,
        chart: windows.chart(metric, chartKeys, own && own.length > 0 ? "viewer" : "top"),
        latest: windows.latest(TABLE_ROWS),
      };
    });
    return {
      at: this.now(),
      source: this.options.describe,
      refreshMs: this.options.refreshMs,
      ...(this.lastError === undefined ? {} : { error: this.lastError }),
      unreadable: this.deadLetters.get("*")?.invalid ?? 0,
      unreadableReasons: this.deadLetters.get("*")?.reasons ?? [],
      deadLetters: describeDeadLetterCounts(totalOf(this.deadLetters.values())),
      unmatched: this.unmatched,
      ...(this.deadLettersCountedAt === undefined ? {} : { deadLettersCountedAt: this.deadLettersCountedAt }),
      pipelines,
      held: {
        windows: this.states.reduce((n, s) => n + s.windows.size, 0),
        samples: this.states.reduce((n, s) => n + s.progress.size, 0),
      },
      memory: { rss: process.memoryUsage.rss(), heapUsed: process.memoryUsage().heapUsed },
    };
  }
}
