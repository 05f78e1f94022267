// What the dashboard server sends the page: one snapshot per refresh, over server-sent events or as JSON
// from /api/snapshot. Types only, shared by the server (Node) and the page (browser bundle).

/** One plottable number of a window result: an aggregate, or one quantile of a quantiles aggregate. */
export interface MetricInfo {
  /** "avg", or "latency.p99" for a quantile */
  id: string;
  /** what it is, for people: "avg of value", "p99 of latency" */
  label: string;
  unit?: string;
  /** a count of the window's events: the same number as the window's event count (shown once) */
  countsEvents?: true;
}

export interface ShardView {
  shardId: string;
  sequenceNumber?: string;
  maxEventTime?: number;
  /** wall-clock ms of the shard's last applied record (or when it was first seen) */
  updatedAt: number;
  idle: boolean;
}

/** A closed window, as the table shows it. */
export interface WindowRow {
  key: string;
  start: number;
  end: number;
  /** metric id → value */
  values: Record<string, number>;
  /** a ranked row's text columns (a ranking's place: its key is the row number) */
  labels?: Record<string, string>;
  count: number;
  version: number;
  firedAt: number;
}

/** Event-time progress sampled on the server's wall clock: at[i] is when watermark[i] and shards[s][i] were read. */
export interface ProgressHistory {
  at: number[];
  watermark: (number | null)[];
  shards: { shardId: string; maxEventTime: (number | null)[] }[];
}

export interface ChartData {
  metric: string;
  /** keys drawn, in legend order */
  keys: string[];
  /** how the keys were chosen: the top N by latest value, or the viewer's own choice */
  chosen: "top" | "viewer";
  /** window ends (event time, ms), ascending */
  ends: number[];
  /** values[k][i]: keys[k]'s value for the window ending at ends[i], null where it has none */
  values: (number | null)[][];
}

export interface PipelineView {
  name: string;
  /** "tumbling 5m", "sliding 60m every 1m", … */
  window: string;
  keyField: string;
  metrics: MetricInfo[];
  watermark?: number;
  /** wall clock minus watermark, ms (negative when event time runs ahead of the wall clock) */
  lagMs?: number;
  shards: ShardView[];
  progress: ProgressHistory;
  /** invalid records, dead-lettered with the reason */
  deadLettered: number;
  /** late letters: partlyLate of them for some windows only (the others counted the event), the rest dropped */
  late: number;
  partlyLate: number;
  /** what the invalid records' reasons say (the record's own value left out), most frequent first */
  reasons: { reason: string; count: number }[];
  /** events whose time (milliseconds) reads like epoch seconds: a producer sending seconds? */
  secondsLike: number;
  /** every key with a closed window in view, by latest value of the charted metric, largest first (at most 500) */
  keys: string[];
  keysTotal: number;
  chart: ChartData;
  /** the latest closed windows, newest first */
  latest: WindowRow[];
}

export interface DashboardSnapshot {
  /** server wall clock, ms */
  at: number;
  /** what the server reads: "local stack (pid 123)", "AWS eu-west-1", "endpoint http://…" */
  source: string;
  refreshMs: number;
  /** the last refresh failed with this message (the snapshot holds the data of the last good one) */
  error?: string;
  /** dead-lettered records no pipeline could read (not JSON objects), and what their reasons say */
  unreadable: number;
  unreadableReasons: { reason: string; count: number }[];
  /** every dead letter, all pipelines: the same line the live screen (`npm start`) and `panes status` print */
  deadLetters: string;
  /** records no pipeline's filter took (a field missing or misspelt?), with the newest one's start */
  unmatched: { count: number; sample?: string };
  /** when dead letters were last counted (they are scanned less often than the rest is read) */
  deadLettersCountedAt?: number;
  pipelines: PipelineView[];
  /** what the server holds in memory: closed windows and progress samples (both bounded) */
  held: { windows: number; samples: number };
  /** the server process's memory, bytes */
  memory: { rss: number; heapUsed: number };
}

/** What the page asks for, per pipeline: the metric to chart and its keys (absent: the top N by value; N defaults to `top`). */
export interface Selection {
  top: number;
  pipelines: Record<string, { metric?: string; keys?: string[]; top?: number }>;
}
