// What the dashboard server remembers between refreshes, bounded: per pipeline the closed windows of the
// newest window ends, and a ring of event-time progress samples. Pure: no I/O.

import { type AggregateSpec, type AggregateValue, quantileName } from "../../shared/core/aggregates/state.ts";
import { NULL_KEY, numericColumnsOf, type Projected } from "../../shared/core/pipelines/project.ts";
import type { RankSpec } from "../../shared/core/pipelines/rank.ts";
import { formatExpression } from "../../shared/core/sql/expressions.ts";
import type { WindowResult } from "../../shared/core/types.ts";
import type { ChartData, MetricInfo, ProgressHistory, WindowRow } from "./model.ts";

/**
 * The plottable numbers of a pipeline's results: one per aggregate (one per quantile of a quantiles
 * aggregate) — or, when the pipeline selects (Flink SQL's select list), one per numeric selected column
 * under its name: an aggregate selected as it is keeps its label and unit, an expression is labelled
 * with its SQL.
 */
export function metricsOf(pipeline: Projected): MetricInfo[] {
  const byName = new Map(pipeline.aggregates.map((a) => [a.name, a]));
  if (pipeline.select === undefined) return pipeline.aggregates.flatMap((a) => aggregateMetrics(a, a.name));
  return numericColumnsOf(pipeline).flatMap(({ name, expr }) => {
    const aggregate = expr.kind === "column" ? byName.get(expr.name) : undefined;
    // an expression is labelled with its SQL, unless Panes wrote it (STDDEV over hidden sums): by its name
    if (aggregate === undefined) return [{ id: name, label: readsHidden(expr) ? name : formatExpression(expr) }];
    // one quantile selected is a number (SQL's APPROX_PERCENTILE), not an object of quantiles
    if (aggregate.op === "quantiles" && aggregate.q.length === 1) return aggregateMetrics(aggregate, name).map((m) => ({ ...m, id: name }));
    return aggregateMetrics(aggregate, name);
  });
}

/** Whether an expression reads an aggregate the SQL compiler named ($a1: an aggregate inside an expression, or a reduced STDDEV's sums). */
function readsHidden(expr: unknown): boolean {
  if (expr === null || typeof expr !== "object") return false;
  const node = expr as Record<string, unknown>;
  if (node.kind === "column" && typeof node.name === "string" && node.name.startsWith("$")) return true;
  return Object.entries(node).some(([k, v]) => k !== "at" && (Array.isArray(v) ? v.some(readsHidden) : readsHidden(v)));
}

/** An aggregate's metrics, under the name its value has in the results. */
function aggregateMetrics(a: AggregateSpec, name: string): MetricInfo[] {
  // ranked rows are a table, not a line; a name starting with $ is a SQL query's inner aggregate
  if (a.op === "top" || name.startsWith("$")) return [];
  const unit = a.unit ?? (a.op === "count" ? "events" : a.op === "distinct" ? "distinct values" : undefined);
  const info = (id: string, label: string): MetricInfo => (unit === undefined ? { id, label } : { id, label, unit });
  if (a.op === "count")
    return [
      {
        ...info(name, a.field === undefined ? "count" : `count of ${a.field}`),
        ...(a.field === undefined ? { countsEvents: true as const } : {}),
      },
    ];
  if (a.op === "quantiles") return a.q.map((q) => info(`${name}.${quantileName(q)}`, `${quantileName(q)} of ${a.field}`));
  return [info(name, `${a.op === "distinct" ? "distinct" : a.op} of ${a.field}`)];
}

/** Where a pipeline's results hold a ranking (Window Top-N): the value of its ranked rows, and the row numbers it gives. */
export interface RankingShape {
  column: string;
  /** the row number's name in a ranked row */
  rownum: string;
  /** the row numbers a ranking gives: from `from` to `n` */
  from: number;
  n: number;
  /** the columns a ranking is partitioned by besides the window (its result's key) */
  partition: readonly string[];
}

type Ranked = Projected & { rank?: RankSpec };

/**
 * A pipeline whose results are rankings: Window Top-N after an aggregation, or over a window's rows (a
 * top aggregate, with no number beside it to plot). Undefined for any other pipeline.
 */
export function rankingShapeOf(pipeline: Ranked): RankingShape | undefined {
  const keys = typeof pipeline.key === "string" ? [pipeline.key] : [...pipeline.key];
  const { rank } = pipeline;
  if (rank !== undefined) return { column: "rows", rownum: rank.rownum, from: rank.from ?? 1, n: rank.n, partition: rank.partition };
  const tops = pipeline.aggregates.filter((a) => a.op === "top");
  const top = tops[0];
  if (top?.op !== "top" || tops.length > 1 || metricsOf(pipeline).length > 0) return undefined;
  const column =
    pipeline.select === undefined
      ? top.name
      : Object.entries(pipeline.select).find(([, e]) => e.kind === "column" && e.name === top.name)?.[0];
  if (column === undefined) return undefined;
  return { column, rownum: top.rownum ?? "rownum", from: top.from ?? 1, n: top.n, partition: keys };
}

/** What the dashboard shows of a ranking's key: its partition's columns, then the row number. */
export function rankingKeyLabel(shape: RankingShape): string {
  return shape.partition.length === 0 ? "rank" : `${shape.partition.join(", ")}, rank`;
}

const WINDOW_COLUMNS = new Set(["window_start", "window_end", "window_time"]);

/**
 * A ranking's partition as its places show it, one text per partition: its key text; the NULL group's
 * (key "") as NULL, and a text that could be read as that (NULL, or quoted) quoted as a SQL string.
 */
export function partitionLabel(key: string): string {
  if (key === NULL_KEY) return "NULL";
  return key === "NULL" || key.startsWith("'") ? `'${key.replaceAll("'", "''")}'` : key;
}

/** A result the store takes: a window's, or one place of a ranking (with its row's text columns). */
export type StoreResult = WindowResult & { labels?: Record<string, string> };

/**
 * One ranking as one result per place (row number from `from` to `n`), each keyed by the partition and
 * its number ("#1", or "checkout #1" when partitioned) and valued by its row's numbers, its text columns
 * as labels: the store charts each place over the window ends and lists the newest rankings' rows. A
 * place the ranking leaves empty (fewer rows, or a retracted ranking) is a retraction of that version.
 */
export function rankingPlaces(shape: RankingShape, r: WindowResult): StoreResult[] {
  const rows = r.retracted ? [] : ((r.values[shape.column] ?? []) as unknown as Record<string, AggregateValue>[]);
  const prefix = shape.partition.length === 0 ? "" : `${partitionLabel(r.key)} `;
  const places: StoreResult[] = [];
  for (let number = shape.from; number <= shape.n; number++) {
    const place = { pipeline: r.pipeline, key: `${prefix}#${number}`, start: r.start, end: r.end, count: r.count };
    const common = { ...place, version: r.version, firedAt: r.firedAt, final: r.final };
    const row = Array.isArray(rows) ? rows[number - shape.from] : undefined;
    if (row === undefined) {
      places.push({ ...common, values: {}, retracted: true });
      continue;
    }
    const values: Record<string, AggregateValue> = {};
    const labels: Record<string, string> = {};
    for (const [name, value] of Object.entries(row)) {
      if (name === shape.rownum || WINDOW_COLUMNS.has(name) || value === null) continue;
      if (typeof value === "number" || typeof value === "object") values[name] = value;
      else labels[name] = String(value);
    }
    places.push({ ...common, values, labels });
  }
  return places;
}

/** A result's values as metric id → number (quantiles flattened to "name.p99"). */
export function flattenValues(values: Readonly<Record<string, AggregateValue>>): Record<string, number> {
  const flat: Record<string, number> = {};
  for (const [name, value] of Object.entries(values)) {
    if (typeof value === "number") flat[name] = value;
    else if (value !== null && typeof value === "object") for (const [q, v] of Object.entries(value)) flat[`${name}.${q}`] = v;
  }
  return flat;
}

/** Names with numbers in numeric order ("web-2" before "web-10"); one collator, as localeCompare with options builds one per call. */
const naturally = new Intl.Collator(undefined, { numeric: true }).compare;

export interface WindowStoreLimits {
  /** distinct window ends kept (the chart's width in windows) */
  ends: number;
  /** windows kept in all (bounds memory whatever the number of keys) */
  windows: number;
}

/** The closed windows of one pipeline, newest ends first to stay. */
export class WindowStore {
  private readonly rows = new Map<string, WindowRow>();
  /** windows whose row a retraction took away, by id: the version that did, and the window's end */
  private readonly retracted = new Map<string, { version: number; end: number }>();
  private newestEnd: number | undefined;
  private windowsCutAt: number | undefined;

  constructor(readonly limits: WindowStoreLimits = { ends: 120, windows: 20_000 }) {}

  get size(): number {
    return this.rows.size;
  }

  /** The greatest window end held. */
  get maxEnd(): number | undefined {
    return this.newestEnd;
  }

  /**
   * The oldest window end held when the windows bound, not the ends bound, decided it (many keys): results
   * that ended before it do not fit, so a re-read need not fetch them.
   */
  get cutAt(): number | undefined {
    return this.windowsCutAt;
  }

  /**
   * Takes closed (final) results; a window's higher version replaces its lower one. Early results are
   * not windows yet; a retraction (HAVING) takes the window's row away until a higher version gives one.
   */
  add(results: Iterable<StoreResult>): void {
    for (const r of results) {
      if (r.final === false) continue;
      const id = `${r.key}\u0000${r.start}\u0000${r.end}`;
      const held = this.rows.get(id);
      if (held && held.version >= r.version) continue;
      if ((this.retracted.get(id)?.version ?? 0) >= r.version) continue;
      if (r.retracted) {
        this.rows.delete(id);
        this.retracted.set(id, { version: r.version, end: r.end });
        continue;
      }
      this.retracted.delete(id);
      this.rows.set(id, {
        key: r.key,
        start: r.start,
        end: r.end,
        values: flattenValues(r.values),
        count: r.count,
        version: r.version,
        firedAt: r.firedAt,
        ...(r.labels === undefined ? {} : { labels: r.labels }),
      });
      if (this.newestEnd === undefined || r.end > this.newestEnd) this.newestEnd = r.end;
    }
    this.evict();
  }

  private evict(): void {
    const ends = [...new Set([...this.rows.values()].map((r) => r.end))].sort((a, b) => b - a);
    let oldestKept = ends[Math.min(ends.length, this.limits.ends) - 1] ?? Number.NEGATIVE_INFINITY;
    const countByEnd = new Map<number, number>();
    for (const row of this.rows.values()) countByEnd.set(row.end, (countByEnd.get(row.end) ?? 0) + 1);
    // Whole window ends go, oldest first, until the total fits (the newest end always stays).
    let total = 0;
    let lastKept: number | undefined;
    this.windowsCutAt = undefined;
    for (const end of ends) {
      if (end < oldestKept) break;
      const n = countByEnd.get(end) ?? 0;
      if (total + n > this.limits.windows && total > 0) {
        oldestKept = end + 1;
        this.windowsCutAt = lastKept;
        break;
      }
      total += n;
      lastKept = end;
    }
    for (const [id, row] of this.rows) if (row.end < oldestKept) this.rows.delete(id);
    // A retraction is remembered while a row of its end could still be taken: once the store is full, ends
    // older than the oldest kept are refused anyway; before, any end is taken. At most `windows` are kept.
    const full = ends.length >= this.limits.ends || this.windowsCutAt !== undefined;
    if (full) for (const [id, gone] of this.retracted) if (gone.end < oldestKept) this.retracted.delete(id);
    if (this.retracted.size > this.limits.windows) {
      const newestFirst = [...this.retracted].sort(([, a], [, b]) => b.end - a.end);
      for (const [id] of newestFirst.slice(this.limits.windows)) this.retracted.delete(id);
    }
  }

  /** The numbers the windows held have, by name in the order first met: what a ranking over a window's rows can plot. */
  valueNames(): string[] {
    const names = new Set<string>();
    for (const row of this.rows.values()) for (const name of Object.keys(row.values)) names.add(name);
    return [...names];
  }

  /** Keys by their latest window's value of the metric, largest first; keys without one last, by name. */
  rankKeys(metric: string): string[] {
    const latest = new Map<string, WindowRow>();
    for (const row of this.rows.values()) {
      const held = latest.get(row.key);
      if (!held || row.end > held.end) latest.set(row.key, row);
    }
    const latestValue = (key: string) => latest.get(key)?.values[metric];
    return [...latest.keys()].sort((a, b) => {
      const va = latestValue(a);
      const vb = latestValue(b);
      if (va === undefined || vb === undefined) return va === vb ? naturally(a, b) : va === undefined ? 1 : -1;
      return vb - va || naturally(a, b);
    });
  }

  /** The series of the given keys for one metric, over every window end held. */
  chart(metric: string, keys: readonly string[], chosen: ChartData["chosen"]): ChartData {
    const ends = [...new Set([...this.rows.values()].map((r) => r.end))].sort((a, b) => a - b);
    const column = new Map(ends.map((end, i) => [end, i]));
    const row = new Map(keys.map((key, k) => [key, k]));
    const values = keys.map(() => ends.map((): number | null => null));
    for (const r of this.rows.values()) {
      const k = row.get(r.key);
      const v = r.values[metric];
      if (k === undefined || v === undefined) continue;
      const series = values[k];
      const i = column.get(r.end);
      if (series && i !== undefined) series[i] = v;
    }
    return { metric, keys: [...keys], chosen, ends, values };
  }

  /** The newest closed windows: by end, then key. */
  latest(n: number): WindowRow[] {
    // Only the rows of the newest ends that can fill n places are sorted, not every row held.
    const byEnd = new Map<number, WindowRow[]>();
    for (const row of this.rows.values()) {
      const rows = byEnd.get(row.end);
      if (rows) rows.push(row);
      else byEnd.set(row.end, [row]);
    }
    const newest: WindowRow[] = [];
    for (const end of [...byEnd.keys()].sort((a, b) => b - a)) {
      if (newest.length >= n) break;
      newest.push(...(byEnd.get(end) ?? []));
    }
    return newest.sort((a, b) => b.end - a.end || naturally(a.key, b.key) || b.start - a.start).slice(0, n);
  }
}

/** A ring of event-time progress samples for one pipeline. */
export class ProgressRecorder {
  private readonly samples: { at: number; watermark?: number; shards: Map<string, number | undefined> }[] = [];

  constructor(readonly capacity = 300) {}

  get size(): number {
    return this.samples.length;
  }

  record(at: number, watermark: number | undefined, shards: readonly { shardId: string; maxEventTime?: number }[]): void {
    this.samples.push({ at, watermark, shards: new Map(shards.map((s) => [s.shardId, s.maxEventTime])) });
    if (this.samples.length > this.capacity) this.samples.splice(0, this.samples.length - this.capacity);
  }

  history(): ProgressHistory {
    const shardIds = [...new Set(this.samples.flatMap((s) => [...s.shards.keys()]))].sort(naturally);
    return {
      at: this.samples.map((s) => s.at),
      watermark: this.samples.map((s) => s.watermark ?? null),
      shards: shardIds.map((shardId) => ({ shardId, maxEventTime: this.samples.map((s) => s.shards.get(shardId) ?? null) })),
    };
  }
}
