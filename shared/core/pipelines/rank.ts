// Window Top-N after a window aggregation (Flink SQL: ROW_NUMBER() OVER (PARTITION BY window_start,
// window_end [, columns] ORDER BY …) over a window aggregation, WHERE rownum <= N). The aggregation's
// results are per key and spread over key groups; each key group keeps its N best rows of a window as
// candidates (a bounded item, whatever the number of keys), and once every key group of an epoch is
// closed the candidates of all groups are merged into the window's ranking: the first N rows of the
// merged candidates are the first N of all rows, since each row is a candidate of its own group. Pure.
import type { AggregateValue } from "../aggregates/state.ts";
import type { WindowResult } from "../types.ts";
import { NULL_KEY } from "./project.ts";

export interface RankSpec {
  n: number;
  /** the result row's columns the ranking is partitioned by besides the window (a subset of the key's columns) */
  partition: string[];
  /** ORDER BY over the result row's columns */
  order: { field: string; desc: boolean }[];
  /** the name of the row number in each ranked row */
  rownum: string;
  /** a ranked row's columns in order, the row number among them (default: the key's result values, then the row number) */
  columns?: string[];
  /** a rank offset: the rows numbered from this one to n (default 1) */
  from?: number;
}

/** A ranked row: the key's result values, and the key (the last tie-breaker). */
export interface RankRow {
  key: string;
  values: Record<string, AggregateValue>;
}

/** One window's (and partition's) candidates from some key groups: their best rows, and how many events all their rows hold. */
export interface RankCandidates {
  start: number;
  end: number;
  partition: AggregateValue[];
  /** events of the window and partition, over every key of the groups (a ranking changes only when this grows) */
  count: number;
  rows: RankRow[];
  /** false while a row of some key is an early result (the window still open); absent in items written before early rankings: true */
  final?: boolean;
}

/** SQL's order of two values of one column: NULL lowest. */
function compareValues(a: AggregateValue | undefined, b: AggregateValue | undefined): number {
  const x = a ?? null;
  const y = b ?? null;
  if (x === y) return 0;
  if (x === null) return -1;
  if (y === null) return 1;
  if (typeof x === "number" && typeof y === "number") return x - y;
  const s = typeof x === "object" ? JSON.stringify(x) : String(x);
  const t = typeof y === "object" ? JSON.stringify(y) : String(y);
  return s < t ? -1 : s > t ? 1 : 0;
}

/** Negative when `a` ranks before `b`: by the ORDER BY, then by key (a total order, so every run ranks alike). */
export function compareRankRows(rank: RankSpec, a: RankRow, b: RankRow): number {
  for (const { field, desc } of rank.order) {
    const c = compareValues(a.values[field], b.values[field]);
    if (c !== 0) return desc ? -c : c;
  }
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

const partitionId = (c: Pick<RankCandidates, "start" | "end" | "partition">) => JSON.stringify([c.start, c.end, c.partition]);

/** Adds rows and a count to the candidates of their window and partition, keeping the best `n`. */
function addAll(into: Map<string, RankCandidates>, rank: RankSpec, c: RankCandidates): void {
  const id = partitionId(c);
  const known = into.get(id);
  if (known === undefined) {
    into.set(id, { ...c, rows: [...c.rows].sort((a, b) => compareRankRows(rank, a, b)).slice(0, rank.n) });
    return;
  }
  known.count += c.count;
  known.final = (known.final ?? true) && (c.final ?? true);
  known.rows = [...known.rows, ...c.rows].sort((a, b) => compareRankRows(rank, a, b)).slice(0, rank.n);
}

/** A key group's candidates: for each window and partition of its results, the best `n` rows and the events they hold. */
export function candidatesOf(
  rank: RankSpec,
  results: Iterable<Pick<WindowResult, "key" | "start" | "end" | "values" | "count" | "final" | "retracted">>,
): RankCandidates[] {
  const by = new Map<string, RankCandidates>();
  for (const r of results) {
    const partition = rank.partition.map((column) => r.values[column] ?? null);
    // a row HAVING does not keep is no candidate; its events still count (the ranking changed)
    const rows = r.retracted ? [] : [{ key: r.key, values: r.values }];
    addAll(by, rank, { start: r.start, end: r.end, partition, count: r.count, rows, final: r.final });
  }
  return [...by.values()];
}

/** Every key group's candidates as one ranking per window and partition. */
export function mergeCandidates(rank: RankSpec, lists: Iterable<readonly RankCandidates[]>): RankCandidates[] {
  const by = new Map<string, RankCandidates>();
  for (const list of lists) for (const c of list) addAll(by, rank, { ...c, rows: [...c.rows] });
  return [...by.values()].sort((a, b) => a.start - b.start || compareValues(JSON.stringify(a.partition), JSON.stringify(b.partition)));
}

/**
 * A ranking's key: its partition's value, a JSON array of several, [] for none (a window's one ranking).
 * The value is bare text (as the key of a one-column pipeline is) only when `bare`: when the partition
 * is the pipeline's one key column, whose empty text is refused, so that "" can be NULL's. A partition
 * by one column of a composite key, where a column may be "", is keyed by its JSON array (["eu"], [null]).
 */
export function rankKeyOf(partition: readonly AggregateValue[], bare: boolean): string {
  if (partition.length !== 1 || !bare) return JSON.stringify(partition);
  // a NULL partition value is keyed as a NULL key column is (NULL_KEY)
  return partition[0] === null || partition[0] === undefined ? NULL_KEY : String(partition[0]);
}

/**
 * The result a ranking gives: the window's bounds, the partition's columns, and the ranked rows, each
 * with its row number. `key`: the pipeline's key columns, and how a row shows them (`inRows`) — a
 * pipeline without a select list (the JSON form) gives each row its key's columns first (as SQL's
 * SELECT * gives the GROUP BY columns): else a row would not say whose it is.
 */
export function rankedResult(
  pipeline: string,
  rank: RankSpec,
  c: RankCandidates,
  firedAt: number,
  key: { columns: readonly string[]; inRows?: (key: string) => Record<string, AggregateValue> },
): Omit<WindowResult, "version"> {
  return {
    pipeline,
    key: rankKeyOf(c.partition, key.columns.length === 1),
    start: c.start,
    end: c.end,
    values: {
      window_start: new Date(c.start).toISOString(),
      window_end: new Date(c.end).toISOString(),
      ...Object.fromEntries(rank.partition.map((column, i) => [column, c.partition[i] ?? null])),
      rows: c.rows
        .map((row, i) =>
          rank.columns === undefined
            ? { ...(key.inRows?.(row.key) ?? {}), ...row.values, [rank.rownum]: i + 1 }
            : Object.fromEntries(rank.columns.map((column) => [column, column === rank.rownum ? i + 1 : (row.values[column] ?? null)])),
        )
        // a rank offset: the first rows rank the others but are not given
        .slice((rank.from ?? 1) - 1) as AggregateValue,
    },
    count: c.count,
    firedAt,
    // early while a key's row is (the window is still open: with early firing)
    final: c.final ?? true,
  };
}

/** Where a ranked pipeline keeps its per-key results (internal: only the rankings are its output). */
export function keyResultsNameOf(pipeline: { name: string; rank?: RankSpec }): string {
  return pipeline.rank === undefined ? pipeline.name : `${pipeline.name}~keys`;
}
