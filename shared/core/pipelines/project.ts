// A window's result values: one per aggregate, or — when the pipeline selects (Flink SQL's select list) —
// the selected expressions over the row Flink's window aggregation produces: the aggregates, the key's
// columns and window_start, window_end, window_time. Pure.
import { type AggregateSpec, type AggregateState, type AggregateValue, finalValues } from "../aggregates/state.ts";
import type { TopValue } from "../aggregates/top.ts";
import { EvaluationError, type Expr, evaluate, type SqlType, type SqlValue, simplify, typeOf } from "../sql/expressions.ts";

/** What a projection reads of a pipeline (the pipeline schema checks its select list with it). */
export interface Projected {
  key: string | readonly string[];
  aggregates: readonly AggregateSpec[];
  columns?: Readonly<Record<string, SqlType>>;
  computed?: Readonly<Record<string, Expr>>;
  select?: Readonly<Record<string, Expr>>;
  /** Flink SQL's HAVING: a condition on the result row; a window whose row it does not keep gives no result */
  having?: Expr;
}

/** The SQL type of an aggregate's value, as Flink types it: COUNT is a BIGINT, AVG of an INT is an INT. */
export function aggregateSqlType(spec: AggregateSpec, fieldType: (name: string) => SqlType | undefined): SqlType | undefined {
  if (spec.op === "count" || spec.op === "distinct") return "BIGINT";
  // one quantile is a number (SQL's APPROX_PERCENTILE); several, or ranked rows, are no SQL value
  if (spec.op === "quantiles") return spec.q.length === 1 ? "DOUBLE" : undefined;
  if (spec.op === "top") return undefined;
  const type = fieldType(spec.field);
  return type === undefined || type === "NULL" ? "DOUBLE" : type;
}

/** A field's SQL type: computed, declared in `columns`, or undefined (the JSON form's untyped field). */
export function fieldTypeOf(pipeline: Pick<Projected, "columns" | "computed">): (name: string) => SqlType | undefined {
  const declared = (name: string) => (pipeline.columns && Object.hasOwn(pipeline.columns, name) ? pipeline.columns[name] : undefined);
  const computed = new Map<string, SqlType>();
  for (const [name, expr] of Object.entries(pipeline.computed ?? {})) computed.set(name, typeOf(expr, declared));
  return (name) => computed.get(name) ?? declared(name);
}

export const WINDOW_COLUMNS = ["window_start", "window_end", "window_time"] as const;

/** The key's columns, in order ([] for a global window). */
export function keyColumnsOf(pipeline: Pick<Projected, "key">): readonly string[] {
  return typeof pipeline.key === "string" ? [pipeline.key] : pipeline.key;
}

/** The types of a result row's columns (undefined: not a column of the row). */
export function resultRowTypes(pipeline: Projected): (name: string) => SqlType | undefined {
  const fieldType = fieldTypeOf(pipeline);
  const keys = keyColumnsOf(pipeline);
  return (name) => {
    if ((WINDOW_COLUMNS as readonly string[]).includes(name)) return "TIMESTAMP";
    const aggregate = pipeline.aggregates.find((a) => a.name === name);
    if (aggregate !== undefined) return aggregateSqlType(aggregate, fieldType);
    if (keys.includes(name)) return fieldType(name) ?? "STRING";
    return undefined;
  };
}

/** A select item that names a quantiles or top aggregate as it is (its value is not a SQL scalar). */
export function wholeAggregateOf(expr: Expr, aggregates: readonly AggregateSpec[]): AggregateSpec | undefined {
  if (expr.kind !== "column") return undefined;
  const name = expr.name;
  return aggregates.find((a) => a.name === name && ((a.op === "quantiles" && a.q.length > 1) || a.op === "top"));
}

interface Projection {
  select: [name: string, expr: Expr][];
  having?: Expr;
  types: (e: Expr) => SqlType;
  rowType: (name: string) => SqlType | undefined;
  /** the SQL types of the event's fields (a ranked row's columns) */
  fieldType: (name: string) => SqlType | undefined;
  keys: readonly string[];
}

const projections = new WeakMap<Projected, Projection>();

function projectionOf(pipeline: Projected): Projection {
  let projection = projections.get(pipeline);
  if (projection === undefined) {
    const rowType = resultRowTypes(pipeline);
    const record = new WeakMap<Expr, SqlType>();
    // as Flink plans them: constants computed once, an operator on the NULL literal NULL (`simplify`)
    const select = Object.entries(pipeline.select ?? {}).map(([name, expr]): [string, Expr] => [
      name,
      wholeAggregateOf(expr, pipeline.aggregates) ? expr : simplify(expr, rowType),
    ]);
    for (const [, expr] of select) if (!wholeAggregateOf(expr, pipeline.aggregates)) typeOf(expr, rowType, record);
    const having = pipeline.having && simplify(pipeline.having, rowType);
    if (having) typeOf(having, rowType, record);
    projection = {
      select,
      having,
      types: (e) => record.get(e) ?? typeOf(e, rowType, record),
      rowType,
      fieldType: fieldTypeOf(pipeline),
      keys: keyColumnsOf(pipeline),
    };
    projections.set(pipeline, projection);
  }
  return projection;
}

/** The numeric SQL types: what a chart can plot. */
const NUMERIC: ReadonlySet<SqlType> = new Set<SqlType>(["INT", "BIGINT", "DOUBLE"]);

/**
 * The selected columns whose values are numbers, in select-list order, each with its expression (a
 * key column is left out: it names the line, it is no value on it), and a quantiles aggregate selected
 * whole (its value is one number per quantile). Empty without a select list.
 */
export function numericColumnsOf(pipeline: Projected): { name: string; expr: Expr; quantiles?: readonly number[] }[] {
  const projection = projectionOf(pipeline);
  return projection.select.flatMap(([name, expr]) => {
    const whole = wholeAggregateOf(expr, pipeline.aggregates);
    if (whole !== undefined) return whole.op === "quantiles" ? [{ name, expr, quantiles: whole.q }] : [];
    if (expr.kind === "column" && projection.keys.includes(expr.name)) return [];
    return NUMERIC.has(projection.types(expr)) ? [{ name, expr }] : [];
  });
}

/**
 * The key text of the group whose one key column is NULL (a SQL key: Flink groups NULLs): the empty
 * string, the one text no other value of a one-column key has (an empty text is refused). In a
 * composite key's JSON array, a NULL column is `null`.
 */
export const NULL_KEY = "";

/** A key column's value from the key text: a composite key is a JSON array of its columns' values. */
function keyValues(pipeline: Projected, key: string, projection: Projection): Map<string, SqlValue> {
  if (typeof pipeline.key !== "string") {
    const parts = JSON.parse(key) as SqlValue[];
    return new Map(projection.keys.map((name, i) => [name, parts[i] ?? null]));
  }
  const type = projection.rowType(pipeline.key);
  if (key === NULL_KEY) return new Map([[pipeline.key, null]]);
  const value =
    type === "INT" || type === "BIGINT" || type === "DOUBLE" || type === "TIMESTAMP"
      ? Number(key)
      : type === "BOOLEAN"
        ? key === "true"
        : key;
  return new Map([[pipeline.key, value]]);
}

/** A key's columns as a result row shows them, from the key's text: typed as declared (a TIMESTAMP as ISO-8601 UTC text), NULL for the NULL group. */
export function keyColumnValues(pipeline: Projected, key: string): Record<string, AggregateValue> {
  const projection = projectionOf(pipeline);
  return Object.fromEntries(
    [...keyValues(pipeline, key, projection)].map(([name, value]) => [name, resultValue(value, projection.rowType(name) ?? "STRING")]),
  );
}

/** A value as a result carries it: numbers, text, booleans; a TIMESTAMP as ISO-8601 UTC text. */
function resultValue(value: SqlValue, type: SqlType): AggregateValue {
  if (value === null) return null;
  if (type === "TIMESTAMP" && typeof value === "number") return new Date(value).toISOString();
  return value;
}

/** Ranked rows as results carry them: a TIMESTAMP column's values as ISO-8601 text. */
function topRowsOut(
  value: AggregateValue | undefined,
  spec: Extract<AggregateSpec, { op: "top" }>,
  types: (name: string) => SqlType | undefined,
  window: { start: number; end: number },
): AggregateValue {
  if (!Array.isArray(value)) return value ?? null;
  const iso = (ms: number) => new Date(ms).toISOString();
  const rownum = spec.rownum ?? "rownum";
  const times = new Set(spec.fields.filter((f) => types(f) === "TIMESTAMP"));
  const columns = spec.columns ?? [...spec.fields, rownum];
  return value.map((row) => {
    const out: Record<string, TopValue> = {};
    for (const column of columns) {
      if (column === "window_start") out[column] = iso(window.start);
      else if (column === "window_end") out[column] = iso(window.end);
      else if (column === "window_time") out[column] = iso(window.end - 1);
      else {
        const v = row[column] ?? null;
        out[column] = times.has(column) && typeof v === "number" ? iso(v) : v;
      }
    }
    return out;
  });
}

/** The result row of a window (Flink's window aggregation row): the aggregates, the key's columns, the window's bounds. */
function resultRow(
  pipeline: Projected,
  projection: Projection,
  key: string,
  window: { start: number; end: number },
  aggregates: Readonly<Record<string, AggregateValue>>,
): (name: string) => SqlValue {
  const keys = keyValues(pipeline, key, projection);
  return (name) => {
    if (name === "window_start") return window.start;
    if (name === "window_end") return window.end;
    if (name === "window_time") return window.end - 1;
    if (keys.has(name)) return keys.get(name) as SqlValue;
    let value = aggregates[name];
    // one quantile (APPROX_PERCENTILE) is its number
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      const numbers = Object.values(value);
      value = numbers.length === 1 ? (numbers[0] as number) : null;
    }
    if (typeof value !== "number") return value === undefined || typeof value === "object" ? null : value;
    // AVG of an INT or BIGINT is one (Flink divides the sum by the count as integers)
    const type = projection.rowType(name);
    return type === "INT" || type === "BIGINT" ? Math.trunc(value) : value;
  };
}

/**
 * Whether a window's row can be shown and later withdrawn: HAVING, with allowed lateness or early
 * results (a window fired again can stop passing it).
 */
export function retractsRows(pipeline: Pick<Projected, "having"> & { allowedLateness: number; early?: number }): boolean {
  return pipeline.having !== undefined && (pipeline.allowedLateness > 0 || pipeline.early !== undefined);
}

/** Whether HAVING keeps a window's row (TRUE; FALSE, NULL or a failing condition do not). */
export function passesHaving(
  pipeline: Projected,
  key: string,
  window: { start: number; end: number },
  state: Readonly<AggregateState>,
): boolean {
  if (pipeline.having === undefined) return true;
  const projection = projectionOf(pipeline);
  const row = resultRow(pipeline, projection, key, window, finalValues(pipeline.aggregates, state));
  try {
    return evaluate(projection.having as Expr, row, projection.types) === true;
  } catch (error) {
    if (!(error instanceof EvaluationError)) throw error;
    return false;
  }
}

/** The values of a window's result. */
export function windowValues(
  pipeline: Projected,
  key: string,
  window: { start: number; end: number },
  state: Readonly<AggregateState>,
): Record<string, AggregateValue> {
  const aggregates = finalValues(pipeline.aggregates, state);
  if (pipeline.select === undefined) return aggregates;
  const projection = projectionOf(pipeline);
  const row = resultRow(pipeline, projection, key, window, aggregates);
  const values: Record<string, AggregateValue> = {};
  for (const [name, expr] of projection.select) {
    const whole = wholeAggregateOf(expr, pipeline.aggregates);
    if (whole !== undefined) {
      values[name] =
        whole.op === "top" ? topRowsOut(aggregates[whole.name], whole, projection.fieldType, window) : (aggregates[whole.name] ?? null);
      continue;
    }
    try {
      values[name] = resultValue(evaluate(expr, row, projection.types), projection.types(expr));
    } catch (error) {
      // where Flink would fail the job (a division by zero), the value is NULL
      if (!(error instanceof EvaluationError)) throw error;
      values[name] = null;
    }
  }
  return values;
}
