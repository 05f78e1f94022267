// The N first rows of a window by an order (Flink SQL's Window Top-N over a window TVF's rows:
// ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY …) … WHERE rownum <= N). The state
// keeps at most N rows and merges, so panes combine as every other aggregate does. Ties are broken by
// the row's own values, so that the N rows do not depend on the order events arrive or panes merge
// (Flink keeps the first that arrived, which a replay or a retry could not repeat). Pure.

/** A column's value in a ranked row (a TIMESTAMP as epoch milliseconds). */
export type TopValue = number | string | boolean | null;

/** One row: the values of the aggregate's fields, in their order. */
export type TopRow = TopValue[];

export interface TopSpec {
  n: number;
  fields: readonly string[];
  /** the ORDER BY: positions in `fields`, each descending or not */
  order: readonly { field: string; desc: boolean }[];
}

/** SQL's order of two values of one column: NULL lowest (Flink sorts NULLs first ascending, last descending). */
function compareValues(a: TopValue, b: TopValue): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "boolean" && typeof b === "boolean") return a ? 1 : -1;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * A window's ranked rows, with what ranking them needs (so that states merge wherever they are, the
 * pipeline unknown): at most `n` rows, best first, by `order` ([position in the row, descending]).
 */
export interface TopState {
  n: number;
  order: [index: number, desc: 0 | 1][];
  rows: TopRow[];
}

export function emptyTop(spec: TopSpec): TopState {
  return { n: spec.n, order: spec.order.map((o) => [spec.fields.indexOf(o.field), o.desc ? 1 : 0]), rows: [] };
}

/** Negative when row `a` ranks before `b`. */
function compareRows(order: TopState["order"], a: TopRow, b: TopRow): number {
  for (const [index, desc] of order) {
    const c = compareValues(a[index] ?? null, b[index] ?? null);
    if (c !== 0) return desc ? -c : c;
  }
  // a total order: the rows' values, column by column
  for (let i = 0; i < a.length; i++) {
    const c = compareValues(a[i] ?? null, b[i] ?? null);
    if (c !== 0) return c;
  }
  return 0;
}

/** Adds a row in place, keeping the first `n`. */
export function addTopRow(top: TopState, row: TopRow): void {
  const { rows, n, order } = top;
  if (rows.length >= n && compareRows(order, row, rows[rows.length - 1] as TopRow) >= 0) return;
  let i = rows.length;
  while (i > 0 && compareRows(order, row, rows[i - 1] as TopRow) < 0) i--;
  rows.splice(i, 0, row);
  if (rows.length > n) rows.length = n;
}

/** Merges `other` into `into` in place, keeping the first `n`. */
export function mergeTop(into: TopState, other: Readonly<TopState>): void {
  for (const row of other.rows) addTopRow(into, [...row]);
}

export function copyTop(top: Readonly<TopState>): TopState {
  return { n: top.n, order: top.order.map(([i, d]) => [i, d]), rows: top.rows.map((r) => [...r]) };
}
