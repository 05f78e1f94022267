// A pipelines file in Flink SQL (issue 22): a CREATE TABLE for the source (its columns and WATERMARK),
// SET statements for lateness, early firing and key groups, and one windowed query per pipeline (INSERT INTO name
// SELECT … or CREATE VIEW name AS SELECT …), compiled to the pipelines file's JSON form — one engine for
// both. A window aggregation over another's rows (a FROM subquery, or a view) is a cascade: pipelines
// `from` another. What Panes cannot run yet is refused in one line naming the construct, its line and its column.
// Pure; used when a pipelines file loads (the CLI, cdk synth), never bundled into a function.
import { FlinkSQL } from "dt-sql-parser";
import type {
  BooleanExpressionContext,
  ExpressionContext,
  FunctionCallContext,
  FunctionParamContext,
  GroupItemDefinitionContext,
  OverWindowItemContext,
  QueryStatementContext,
  SelectStatementContext,
  SimpleCreateTableContext,
  TimeIntervalExpressionContext,
  WindowTVFExpressionContext,
  WindowTVFParamContext,
} from "dt-sql-parser/dist/lib/flink/FlinkSqlParser.js";
import type { AggregateSpec } from "../aggregates/state.ts";
import { MAX_KEY_GROUPS, MIN_KEY_GROUPS } from "../keygroups.ts";
import { resultRowTypes, WINDOW_COLUMNS, wholeAggregateOf } from "../pipelines/project.ts";
import { MAX_TOP_ROWS } from "../pipelines/schema.ts";
import { type Expr, type Position, type SqlType, SqlTypeError, sqlTypeOf, typeOf } from "./expressions.ts";
import {
  ExpressionBuilder,
  flinkNamesIn,
  identifierPath,
  parseExpression,
  quoteWords,
  SqlSyntaxError,
  sourceOf,
  stringValue,
  syntaxErrorOf,
  WrittenText,
} from "./parse-expression.ts";

const flink = new FlinkSQL();

/** What is taken out of the text before the grammar reads it, by offset. */
interface Rewrites {
  filters: ReadonlyMap<number, { text: string; at: Position }>;
  /** the FILTERs an aggregate took (one that none took follows something that is not an aggregate) */
  filtersUsed: Set<number>;
  sessions: ReadonlyMap<number, SessionTvf>;
}

interface Node {
  start: { line: number; column: number; start: number } | null;
  stop: { stop: number } | null;
  getText(): string;
}

/** What a query reads: the source table, or a view over it (a projection and a condition). */
interface SourceTable {
  name: string;
  /** the columns the query sees, with their types */
  columns: Record<string, SqlType>;
  /** the event-time column, as the query names it */
  eventTime: string;
  outOfOrderness: number;
  /** the fields of the events (the CREATE TABLE's columns): what the pipeline reads */
  fields: Record<string, SqlType>;
  /** the event-time field of the events */
  eventField: string;
  /** a view's columns that are not a field as it is: computed from the fields */
  computed: Map<string, Expr>;
  /** a view's condition */
  where?: Expr;
  /** a window aggregation's rows (a cascade reads them), not the stream */
  rows?: WindowRows;
}

/**
 * The final rows of a window aggregation, as a cascade reads them (Flink's window aggregation over
 * another's rows): the pipeline that gives them, its window, and what its select list names.
 */
interface WindowRows {
  pipeline: string;
  /** how refusals name whose rows they are: "the subquery's", "window1's" */
  label: string;
  window: Record<string, unknown>;
  /** the window's columns by the names the rows select them under (`window_start AS ws`: ws → window_start) */
  windowColumns: ReadonlyMap<string, string>;
  /** the rows' time attribute (Flink's rowtime): the column selecting window_time or TUMBLE_ROWTIME(…), if one does */
  rowtime?: string;
  /** a FROM subquery's rows (not a view's), and the subquery's alias */
  subquery?: { alias?: string };
  /** why no pipeline may read these rows (a ranking's, sessions'), refused where a query reads them */
  refusal?: string;
}

/** A compiled pipeline, with the query it was compiled from and where that query is written. */
interface Compiled {
  pipeline: Record<string, unknown>;
  query: QueryStatementContext;
  at: Node;
  outOfOrderness: number;
}

/** What compiling a file's queries reads: its text, what the grammar could not read, its relations. */
interface Compiling {
  sql: string;
  rewrites: Rewrites;
  builder: ExpressionBuilder;
  /** the source table and its views, by name */
  relations: ReadonlyMap<string, SourceTable>;
  /** the views that are window aggregations (pipelines), by name: compiled once their query is */
  views: ReadonlyMap<string, Record<string, unknown> | undefined>;
  source: SourceTable;
}

/** Milliseconds of Flink SQL's interval units. */
const INTERVAL_MS: Record<string, number> = {
  MILLISECOND: 1,
  SECOND: 1000,
  SECONDS: 1000,
  MINUTE: 60_000,
  MINUTES: 60_000,
  HOUR: 3_600_000,
  HOURS: 3_600_000,
  DAY: 86_400_000,
  DAYS: 86_400_000,
};

/** Flink's duration option values (TimeUtils.parseDuration): `500 ms`, `10 s`, `1 min`, `2 h`, `1 d`. */
export function flinkDurationMs(text: string): number | undefined {
  const m = text.trim().match(/^(\d+)\s*([a-z]*)$/i);
  if (!m) return undefined;
  const units: Record<string, number> = {
    "": 1,
    ms: 1,
    milli: 1,
    millis: 1,
    millisecond: 1,
    milliseconds: 1,
    s: 1000,
    sec: 1000,
    secs: 1000,
    second: 1000,
    seconds: 1000,
    m: 60_000,
    min: 60_000,
    mins: 60_000,
    minute: 60_000,
    minutes: 60_000,
    h: 3_600_000,
    hour: 3_600_000,
    hours: 3_600_000,
    d: 86_400_000,
    day: 86_400_000,
    days: 86_400_000,
  };
  const unit = units[(m[2] as string).toLowerCase()];
  return unit === undefined ? undefined : Number(m[1]) * unit;
}

/**
 * Compiles a Flink SQL pipelines file to the JSON form (`{ pipelines: [...] }`), unvalidated, with
 * where each pipeline's query starts in the written text (a problem the pipelines' schema finds later,
 * a CUMULATE step that does not divide the size, is told there). Its errors name the line and column
 * the user wrote and quote the user's text.
 */
export function compilePipelinesSqlAt(written: string): { compiled: { pipelines: Record<string, unknown>[] }; at: Position[] } {
  // names Flink reads as names where the grammar has keywords, backquoted (found with the FILTERs blanked out)
  const quoted = quoteWords(written, flinkNamesIn(extractFilters(written).sql));
  // the other rewrites keep every position
  const filtered = extractFilters(quoted.text);
  const { sql, sessions } = extractSessions(filtered.sql);
  const text = new WrittenText(written, sql, quoted.added);
  try {
    const { pipelines, at } = compileRewritten(sql, { filters: filtered.filters, filtersUsed: new Set(), sessions });
    return { compiled: { pipelines }, at: at.map((position) => text.position(position)) };
  } catch (error) {
    throw error instanceof SqlSyntaxError ? text.error(error) : error;
  }
}

/** Compiles the text the grammar reads (`compilePipelinesSqlAt`): positions and quotes are the read text's. */
function compileRewritten(sql: string, rewrites: Rewrites): { pipelines: Record<string, unknown>[]; at: Position[] } {
  const error = syntaxErrorOf(sql);
  if (error) throw error;
  const program = flink.parse(sql);
  const builder = new ExpressionBuilder(sql);
  const refuse = (node: Node, what: string): never => builder.refuse(node, what);
  const text = (node: Node) => sourceOf(node, sql);

  let table: SourceTable | undefined;
  let allowedLatenessMs: number | undefined;
  /** Flink's max parallelism: the number of key groups of every pipeline of the file */
  let keyGroups: number | undefined;
  let earlyEnabled = false;
  /** the SET that enabled early firing: where a missing delay is reported */
  let earlySet: Node | undefined;
  let earlyDelayMs: number | undefined;
  const queries: { name: string; query: QueryStatementContext; at: Node; view?: true }[] = [];
  const relations = new Map<string, SourceTable>();
  /** the views that are window aggregations: pipelines whose rows a later query may read (a cascade) */
  const views = new Map<string, Record<string, unknown> | undefined>();

  for (const statement of program.singleStatement()) {
    const s = statement.sqlStatement();
    if (!s) continue; // an empty statement (a stray semicolon)
    const ddl = s.ddlStatement();
    const create = ddl?.createTable()?.simpleCreateTable();
    if (create) {
      if (table) refuse(create, "a second CREATE TABLE (one source table per file)");
      table = sourceTable(create, builder, sql);
      relations.set(table.name, table);
      continue;
    }
    const view = ddl?.createView();
    if (view) {
      const viewName = identifierPath(text(view.viewPathCreate()));
      if (relations.has(viewName) || views.has(viewName)) refuse(view, `a second table or view named ${viewName}`);
      if (isSourceView(view.queryStatement(), sql)) {
        if (!table) refuse(view, "a view before the CREATE TABLE it reads");
        relations.set(viewName, sourceView(viewName, view.queryStatement(), table as SourceTable, builder, sql));
      } else {
        views.set(viewName, undefined);
        queries.push({ name: viewName, query: view.queryStatement(), at: view, view: true });
      }
      continue;
    }
    const insert = s.dmlStatement()?.insertStatement()?.insertSimpleStatement();
    if (insert) {
      const query = insert.queryStatement();
      if (!query || insert.KW_OVERWRITE() || insert.columnNameList() || insert.insertPartitionDefinition()) refuse(insert, "this INSERT");
      queries.push({ name: identifierPath(text(insert.tablePath())), query: query as QueryStatementContext, at: insert });
      continue;
    }
    const set = s.setStatement()?.tableProperty();
    if (set) {
      const key = stringValue(text(set.tablePropertyKey()).replace(/^`|`$/g, "'"));
      const value = set.tablePropertyValue() ? stringValue(text(set.tablePropertyValue() as Node)) : "";
      if (key === "table.exec.emit.allow-lateness") {
        allowedLatenessMs = flinkDurationMs(value) ?? refuse(set, `the duration '${value}' (write '30 s', '5 min', '1 h')`);
      } else if (key === "table.exec.emit.early-fire.enabled") {
        earlyEnabled = value.toLowerCase() === "true";
        earlySet = set;
      } else if (key === "table.exec.emit.early-fire.delay") {
        earlyDelayMs = flinkDurationMs(value) ?? refuse(set, `the duration '${value}' (write '10 s', '1 min')`);
      } else if (key === "pipeline.max-parallelism") {
        const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
        keyGroups =
          n >= MIN_KEY_GROUPS && n <= MAX_KEY_GROUPS
            ? n
            : refuse(set, `the max parallelism '${value}' (a whole number from ${MIN_KEY_GROUPS} to ${MAX_KEY_GROUPS}: the key groups)`);
      } else {
        refuse(
          set,
          `SET '${key}' (Panes takes table.exec.emit.allow-lateness, table.exec.emit.early-fire.enabled and .delay, and pipeline.max-parallelism)`,
        );
      }
      continue;
    }
    refuse(statement, "this statement");
  }
  if (!table) throw new SqlSyntaxError({ line: 1, column: 1 }, "no CREATE TABLE: declare the source's columns and its WATERMARK");
  if (queries.length === 0)
    throw new SqlSyntaxError({ line: 1, column: 1 }, "no query: write INSERT INTO name SELECT … or CREATE VIEW name AS SELECT …");
  const early = earlyEnabled
    ? (earlyDelayMs ?? refuse(earlySet ?? program, "early firing without table.exec.emit.early-fire.delay (SET it too)"))
    : undefined;
  const context: Compiling = { sql, rewrites, builder, relations, views, source: table };
  const compiled: Compiled[] = [];
  // in the file's order: a query reads a view that is a window aggregation once it is defined
  for (const { name, query, at, view } of queries) {
    const own = compilePipelines(name, query, at, relationOf(query, context) ?? table, context);
    compiled.push(...own);
    if (view) views.set(name, (own.at(-1) as Compiled).pipeline);
  }
  // the SETs apply to every pipeline, and a cascade's source gives final rows only (cascadeIssues)
  for (const { pipeline, query } of compiled) {
    if (pipeline.from === undefined) continue;
    if ((allowedLatenessMs ?? 0) > 0)
      refuse(query, "a cascaded window aggregation with table.exec.emit.allow-lateness (a cascade reads final rows)");
    if (early !== undefined)
      refuse(query, "a cascaded window aggregation with table.exec.emit.early-fire.enabled (a cascade reads final rows)");
  }
  const pipelines = compiled.map(({ pipeline, outOfOrderness }) => ({
    ...pipeline,
    outOfOrderness,
    allowedLateness: allowedLatenessMs ?? 0,
    ...(early === undefined ? {} : { early }),
    ...(keyGroups === undefined ? {} : { keyGroups }),
  }));
  // a FILTER no aggregate took (after UPPER(x), a column): Calcite refuses it; it must not vanish
  for (const [end, filter] of rewrites.filters)
    if (!rewrites.filtersUsed.has(end))
      throw new SqlSyntaxError(filter.at, "FILTER (WHERE …) after something that is not an aggregate (write COUNT(*) FILTER (WHERE …))");
  return { pipelines, at: compiled.map(({ at }) => builder.at(at)) };
}

function sourceTable(create: SimpleCreateTableContext, builder: ExpressionBuilder, sql: string): SourceTable {
  const text = (node: Node) => sourceOf(node, sql);
  const columns: Record<string, SqlType> = {};
  for (const definition of create.columnOptionDefinition()) {
    const physical = definition.physicalColumnDefinition();
    if (!physical) builder.refuse(definition, "a computed or metadata column");
    const column = physical as NonNullable<typeof physical>;
    const type = sqlTypeOf(text(column.columnType()));
    if (!type) builder.refuse(column.columnType(), `the column type ${text(column.columnType())}`);
    const name = identifierPath(text(column.columnNameCreate()));
    // a name an object's prototype answers to would vanish as a key of the columns (the JSON form refuses it too)
    if (name === "__proto__") builder.refuse(column.columnNameCreate(), "the column name __proto__");
    if (Object.hasOwn(columns, name)) builder.refuse(column.columnNameCreate(), `a second column named ${name}`);
    columns[name] = type as SqlType;
  }
  const watermark = create.watermarkDefinition();
  if (!watermark) builder.refuse(create, "a table without WATERMARK FOR (Panes windows on event time)");
  const w = watermark as NonNullable<typeof watermark>;
  const eventTime = identifierPath(text(w.columnName()));
  if (columns[eventTime] !== "TIMESTAMP") builder.refuse(w.columnName(), `an event-time column that is not a TIMESTAMP (${eventTime})`);
  const outOfOrderness = watermarkDelay(w.expression(), eventTime, builder, sql);
  for (const option of create.withOption().tablePropertyList().tableProperty()) {
    const key = stringValue(text(option.tablePropertyKey()));
    const value = option.tablePropertyValue() ? stringValue(text(option.tablePropertyValue() as Node)) : "";
    if (key === "connector" && value !== "kinesis")
      builder.refuse(option, `the connector '${value}' (Panes reads its Kinesis stream: 'kinesis')`);
    if (key === "format" && value !== "json") builder.refuse(option, `the format '${value}' (Panes reads JSON: 'json')`);
  }
  return {
    name: identifierPath(text(create.tablePathCreate())),
    columns,
    eventTime,
    outOfOrderness,
    fields: columns,
    eventField: eventTime,
    computed: new Map(),
  };
}

/** `ts` or `ts - INTERVAL 'n' UNIT`: the out-of-orderness bound. */
function watermarkDelay(expression: ExpressionContext, eventTime: string, builder: ExpressionBuilder, sql: string): number {
  const text = sourceOf(expression, sql).replace(/\s+/g, " ").trim();
  if (identifierPath(text) === eventTime) return 0;
  const m = text.match(/^(`?[^`\s]+`?) - (INTERVAL .*)$/i);
  const delay = m ? intervalOf(m[2] as string) : undefined;
  if (!m || identifierPath(m[1] as string) !== eventTime || delay === undefined || delay < 0) {
    return builder.refuse(expression, `this watermark (write WATERMARK FOR ${eventTime} AS ${eventTime} - INTERVAL '5' SECOND)`);
  }
  return delay;
}

function intervalMs(interval: TimeIntervalExpressionContext | null, builder: ExpressionBuilder, sql: string): number {
  if (!interval) throw new Error("an interval the grammar guarantees is missing");
  return positiveInterval(sourceOf(interval, sql)) ?? builder.refuse(interval, "this interval (write INTERVAL '5' MINUTE)");
}

/** A window offset: an interval of either sign (INTERVAL '-8' HOUR). */
function signedIntervalMs(interval: TimeIntervalExpressionContext | null, builder: ExpressionBuilder, sql: string): number {
  if (!interval) throw new Error("an interval the grammar guarantees is missing");
  return intervalOf(sourceOf(interval, sql)) ?? builder.refuse(interval, "this offset (write INTERVAL '8' HOUR or INTERVAL '-8' HOUR)");
}

/** `INTERVAL 'n' UNIT` in milliseconds, if it is one: n of either sign, with decimals if they make whole milliseconds ('0.005' SECOND). */
function intervalOf(written: string): number | undefined {
  const m = written
    .replace(/\s+/g, " ")
    .trim()
    .match(/^INTERVAL '(-?\d+(?:\.\d+)?)' ([A-Za-z]+)$/i);
  const unit = INTERVAL_MS[(m?.[2] ?? "").toUpperCase()];
  if (!m || unit === undefined) return undefined;
  const ms = Number(m[1]) * unit;
  return Math.abs(ms - Math.round(ms)) < 1e-6 ? Math.round(ms) : undefined;
}

/** A window's length: an interval of at least one millisecond. */
function positiveInterval(written: string): number | undefined {
  const ms = intervalOf(written);
  return ms !== undefined && ms > 0 ? ms : undefined;
}

/**
 * Window Top-N over a window TVF's rows (Flink's documented form):
 *   SELECT * FROM (
 *     SELECT …, ROW_NUMBER() OVER (PARTITION BY window_start, window_end [, col…] ORDER BY col [DESC], …) AS rownum
 *     FROM TABLE(TUMBLE(…)) [WHERE …]
 *   ) [alias] WHERE rownum <= N
 * compiles to a pipeline keyed by the PARTITION BY columns whose one aggregate keeps the N first rows.
 */
function compileTopN(
  name: string,
  query: QueryStatementContext,
  table: SourceTable,
  builder: ExpressionBuilder,
  sql: string,
  rewrites: Rewrites,
): Record<string, unknown> {
  const text = (node: Node) => sourceOf(node, sql);
  const outer = query.selectStatement();
  if (!outer || query.orderByClause() || query.limitClause() || query.withClause() || query.queryStatement().length > 0)
    return builder.refuse(
      query,
      "this Window Top-N (SELECT … FROM (SELECT …, ROW_NUMBER() OVER (…) AS rownum FROM TABLE(…)) WHERE rownum <= N)",
    );
  const from = outer.fromClause()?.tableExpression();
  const inner = from?.tableReference()[0]?.tablePrimary().atomExpressionTable()?.queryStatement();
  if (!from || !inner || from.tableReference().length !== 1 || from.KW_JOIN())
    return builder.refuse(outer, "this Window Top-N (the ranking goes in a subquery: FROM (SELECT …, ROW_NUMBER() OVER (…) AS rownum …))");
  const select = inner.selectStatement();
  if (!select || inner.orderByClause() || inner.limitClause() || inner.withClause() || inner.queryStatement().length > 0)
    return builder.refuse(inner, "this Window Top-N subquery");
  const tvf = select.fromClause()?.tableExpression().windowTVFClause()?.windowTVFExpression();
  if (!tvf) {
    const aggregation = select.fromClause()?.tableExpression().tableReference()[0]?.tablePrimary().atomExpressionTable()?.queryStatement();
    if (aggregation?.selectStatement()?.groupByClause())
      return compileRankedAggregation(name, outer, select, aggregation, table, builder, sql, rewrites);
    return builder.refuse(select, "a Window Top-N that does not rank a window TVF's rows or a window aggregation's");
  }
  if (select.groupByClause() || select.havingClause()) builder.refuse(select, "Window Top-N after a window aggregation (not yet)");
  if (sessionOf(tvf, rewrites.sessions)) builder.refuse(tvf, TOP_N_OVER_SESSION);
  const window = tvfWindow(tvf, table, builder, sql, rewrites.sessions);

  // the inner select list: columns, and one ROW_NUMBER() OVER (PARTITION BY window_start, window_end, … ORDER BY …) AS alias
  const fields: string[] = [];
  /** the subquery's columns in order (the window's and the row number among them) */
  const ranked: string[] = [];
  let rownum: string | undefined;
  let keys: string[] = [];
  const order: { field: string; desc: boolean }[] = [];
  for (const item of select.selectClause().selectList().columnProjectItem()) {
    if (item.tableAllColumns()) {
      // a window aggregation's rows may carry their own window's columns: * would hold two of each
      const clash = Object.keys(table.columns).find((c) => (WINDOW_COLUMNS as readonly string[]).includes(c));
      if (table.rows && clash !== undefined)
        builder.refuse(
          item,
          `* over ${table.rows.label} rows, whose ${clash} column clashes with the window TVF's (rename it where the rows are selected, or list the columns)`,
        );
      for (const column of Object.keys(table.columns)) {
        if (!fields.includes(column)) fields.push(column);
        ranked.push(column);
      }
      // a window TVF's rows are the table's columns and the window's
      ranked.push(...WINDOW_COLUMNS);
      continue;
    }
    const over = item.selectWindowItemColumnName()?.overWindowItem();
    if (over) {
      if (rownum !== undefined) builder.refuse(over, "a second ROW_NUMBER()");
      const ranking = overRanking(over, builder, sql);
      rownum = ranking.rownum;
      ranked.push(rownum);
      keys = ranking.partition;
      for (const key of keys)
        if (!Object.hasOwn(table.columns, key)) builder.refuse(ranking.at.get(key) ?? over, `the unknown column ${key}`);
      for (const o of ranking.order) {
        if (!Object.hasOwn(table.columns, o.field)) builder.refuse(ranking.at.get(o.field) ?? over, `the unknown column ${o.field}`);
        order.push(o);
      }
      continue;
    }
    const plain = item.selectLiteralColumnName()?.columnName() ?? item.columnName();
    if (!plain || item.columnAlias()) return builder.refuse(item, "this ranked column (select the table's columns as they are)");
    const column = builder.unqualified(identifierPath(text(plain)));
    ranked.push(column);
    if ((WINDOW_COLUMNS as readonly string[]).includes(column)) continue;
    if (!Object.hasOwn(table.columns, column)) builder.refuse(item, `the unknown column ${column}`);
    if (!fields.includes(column)) fields.push(column);
  }
  if (rownum === undefined) return builder.refuse(select, "a Window Top-N without ROW_NUMBER() OVER (…) AS rownum");
  for (const o of order) if (!fields.includes(o.field)) fields.push(o.field);

  const { n, from: first } = rowLimit(outer, rownum, builder);
  const columns = outerColumns(outer, ranked, builder, sql);

  const { filter, where } = conditionOf(select, table, builder);
  const at = builder.at(tvf);
  const column = (c: string): Expr => ({ at, kind: "column", name: c });
  return {
    name,
    // over a window aggregation's rows (a view's: a cascade), windowed again on their time attribute
    ...(table.rows ? { from: { pipeline: table.rows.pipeline } } : {}),
    key: keys.length === 1 ? keys[0] : keys,
    ...(Object.keys(filter).length > 0 ? { filter } : {}),
    ...readsOf(table, where),
    window,
    aggregates: { rows: { top: { n, fields, order, rownum, columns, ...(first > 1 ? { from: first } : {}) } } },
    select: {
      window_start: column("window_start"),
      window_end: column("window_end"),
      ...Object.fromEntries(keys.map((k) => [k.slice(k.lastIndexOf(".") + 1), column(k)])),
      rows: column("rows"),
    },
  };
}

/** ROW_NUMBER() OVER (PARTITION BY window_start, window_end [, columns] ORDER BY column [ASC|DESC], …) AS alias */
function overRanking(
  over: OverWindowItemContext,
  builder: ExpressionBuilder,
  sql: string,
): { rownum: string; partition: string[]; order: { field: string; desc: boolean }[]; at: Map<string, Node> } {
  const text = (node: Node) => sourceOf(node, sql);
  /** where each column is written (a refusal of one names it) */
  const at = new Map<string, Node>();
  if (!/^ROW_NUMBER\s*\(\s*\)$/i.test(text(over.primaryExpression())))
    builder.refuse(over, `${text(over.primaryExpression())} OVER (ROW_NUMBER() is)`);
  const rownum = identifierPath(text(over.identifier()));
  const spec = over.windowSpec();
  if (!spec || spec.windowFrame())
    return builder.refuse(over, "this OVER window (write OVER (PARTITION BY window_start, window_end ORDER BY …))");
  const partition = (spec.partitionByClause()?.columnName() ?? []).map((c) => {
    const name = builder.unqualified(identifierPath(text(c)));
    if (!at.has(name)) at.set(name, c);
    return name;
  });
  if (
    !partition.includes("window_start") ||
    !partition.includes("window_end") ||
    (spec.partitionByClause()?.primaryExpression().length ?? 0) > 0
  )
    builder.refuse(spec, "a ranking that is not PARTITION BY window_start, window_end [, columns]");
  const items = spec.orderByClause()?.orderItemDefinition() ?? [];
  if (items.length === 0) builder.refuse(spec, "a ranking without ORDER BY");
  const order = items.map((o) => {
    const column = o.columnName();
    if (!column || o.KW_NULLS()) builder.refuse(o, "this ORDER BY item (order by a column, ASC or DESC)");
    const field = builder.unqualified(identifierPath(text(column as Node)));
    if (!at.has(field)) at.set(field, column as Node);
    return { field, desc: o.KW_DESC() !== null };
  });
  return { rownum, partition: partition.filter((c) => c !== "window_start" && c !== "window_end" && c !== "window_time"), order, at };
}

/** The outer select list of a Window Top-N: the subquery's columns it names, in its order (all of them for SELECT *). */
function outerColumns(outer: SelectStatementContext, inner: readonly string[], builder: ExpressionBuilder, sql: string): string[] {
  const columns: string[] = [];
  for (const item of outer.selectClause().selectList().columnProjectItem()) {
    if (item.tableAllColumns()) {
      columns.push(...inner);
      continue;
    }
    const plain = item.selectLiteralColumnName()?.columnName() ?? item.columnName();
    if (!plain || item.columnAlias()) return builder.refuse(item, "this outer select item (SELECT * or the subquery's columns)");
    const column = builder.unqualified(identifierPath(sourceOf(plain, sql)));
    if (!inner.includes(column)) builder.refuse(item, `the column ${column}, which the subquery does not select`);
    columns.push(column);
  }
  return columns;
}

/** The outer query of a Window Top-N: SELECT * (or the subquery's columns) … WHERE rownum <= N (or < N, or = 1): N. */
function rowLimit(outer: SelectStatementContext, rownum: string, builder: ExpressionBuilder): { n: number; from: number } {
  const outerItems = outer.selectClause().selectList().columnProjectItem();
  if (!outerItems.every((i) => i.tableAllColumns() || i.columnName() || i.selectLiteralColumnName()))
    builder.refuse(outer.selectClause(), "this outer select list (SELECT * or the subquery's columns)");
  const condition = outer.whereClause()?.booleanExpression();
  const limit = condition ? builder.build(condition) : undefined;
  // rownum <= N (or < N, = 1), and a rank offset: rownum > M (or >= M, BETWEEN M AND N)
  let n: number | undefined;
  let from = 1;
  const bounds = limit === undefined ? [] : limit.kind === "and" ? limit.operands : [limit];
  let understood = bounds.length > 0;
  for (const b of bounds) {
    if (b.kind === "between" && !b.negated && b.operand.kind === "column" && b.operand.name === rownum) {
      const [low, high] = [b.low, b.high].map((e) => (e.kind === "literal" && typeof e.value === "number" ? e.value : Number.NaN));
      if (Number.isInteger(low) && Number.isInteger(high)) {
        from = Math.max(from, low as number);
        n = Math.min(n ?? Number.POSITIVE_INFINITY, high as number);
        continue;
      }
    }
    const value =
      b.kind === "compare" && b.left.kind === "column" && b.left.name === rownum && b.right.kind === "literal" ? b.right.value : undefined;
    if (b.kind !== "compare" || typeof value !== "number" || !Number.isInteger(value)) {
      understood = false;
      continue;
    }
    if (b.op === "<=") n = Math.min(n ?? Number.POSITIVE_INFINITY, value);
    else if (b.op === "<") n = Math.min(n ?? Number.POSITIVE_INFINITY, value - 1);
    else if (b.op === "=") {
      from = Math.max(from, value);
      n = Math.min(n ?? Number.POSITIVE_INFINITY, value);
    } else if (b.op === ">") from = Math.max(from, value + 1);
    else if (b.op === ">=") from = Math.max(from, value);
    else understood = false;
  }
  if (!understood || n === undefined || n < 1 || n > MAX_TOP_ROWS || from > n)
    return builder.refuse(
      outer.whereClause() ?? outer,
      `a Window Top-N without WHERE ${rownum} <= N (N from 1 to ${MAX_TOP_ROWS}; with ${rownum} > M for an offset)`,
    );
  return { n, from };
}

/**
 * Window Top-N after a window aggregation (Flink's documented query):
 *   SELECT * FROM (
 *     SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end [, key columns] ORDER BY aggregate DESC) AS rownum
 *     FROM (SELECT window_start, window_end, key…, aggregates… FROM TABLE(…) GROUP BY window_start, window_end, key…)
 *   ) WHERE rownum <= N
 * compiles to the aggregation's pipeline with a rank: its results are the rankings.
 */
function compileRankedAggregation(
  name: string,
  outer: SelectStatementContext,
  middle: SelectStatementContext,
  aggregation: QueryStatementContext,
  table: SourceTable,
  builder: ExpressionBuilder,
  sql: string,
  rewrites: Rewrites,
): Record<string, unknown> {
  if (middle.whereClause() || middle.groupByClause() || middle.havingClause())
    builder.refuse(middle, "a condition or grouping around the ranked aggregation (rank the aggregation's rows as they are)");
  // a ranked cascade reads a view's rows (table.rows); one over a FROM subquery's would be two pipelines from one query
  if (aggregatingSubqueryOf(aggregation, sql))
    builder.refuse(
      aggregation,
      "a Window Top-N of a window aggregation over a FROM subquery's rows (not yet: make the subquery a CREATE VIEW)",
    );
  const pipeline = compileQuery(name, aggregation, table, sql, rewrites);
  if ((pipeline.window as { type?: string }).type === "session") {
    // named where the user wrote the SESSION window (its TVF; a legacy SESSION(…) group window is in GROUP BY)
    const select = aggregation.selectStatement();
    const tvf = select?.fromClause()?.tableExpression().windowTVFClause()?.windowTVFExpression();
    const group = select
      ?.groupByClause()
      ?.groupItemDefinition()
      .find((i) => i.groupWindowFunction());
    builder.refuse(tvf ?? group ?? aggregation, TOP_N_OVER_SESSION);
  }
  const selected = Object.keys(pipeline.select as Record<string, unknown>);
  let ranking: ReturnType<typeof overRanking> | undefined;
  const inner: string[] = [];
  for (const item of middle.selectClause().selectList().columnProjectItem()) {
    const over = item.selectWindowItemColumnName()?.overWindowItem();
    const plain = item.selectLiteralColumnName()?.columnName() ?? item.columnName();
    if (over) {
      if (ranking !== undefined) builder.refuse(over, "a second ROW_NUMBER()");
      ranking = overRanking(over, builder, sql);
      inner.push(ranking.rownum);
    } else if (item.tableAllColumns()) inner.push(...selected);
    else if (plain && !item.columnAlias()) {
      const column = builder.unqualified(identifierPath(sourceOf(plain, sql)));
      if (!selected.includes(column)) builder.refuse(item, `the column ${column}, which the aggregation does not select`);
      inner.push(column);
    } else builder.refuse(item, "this ranked column (select the aggregation's columns as they are)");
  }
  if (ranking === undefined) return builder.refuse(middle, "a Window Top-N without ROW_NUMBER() OVER (…) AS rownum");
  const { n, from } = rowLimit(outer, ranking.rownum, builder);
  const columns = outerColumns(outer, inner, builder, sql);
  return {
    ...pipeline,
    rank: { n, partition: ranking.partition, order: ranking.order, rownum: ranking.rownum, columns, ...(from > 1 ? { from } : {}) },
  };
}

/** A view with no window and no aggregation (Nexmark's `CREATE VIEW bid AS SELECT … FROM datagen WHERE …`): what queries read, not a pipeline. */
function isSourceView(query: QueryStatementContext, sql: string): boolean {
  const select = query.selectStatement();
  if (!select || select.groupByClause() || select.havingClause()) return false;
  if (select.fromClause()?.tableExpression().windowTVFClause()) return false;
  const aggregates = [...Object.keys(AGGREGATE_OPS), ...Object.keys(VARIANCES), "ROW_NUMBER"].join("|");
  return !new RegExp(`\\b(${aggregates})\\s*\\(|\\bOVER\\s*\\(`, "i").test(codeOf(sourceOf(query, sql)));
}

/**
 * A query's text with what is not SQL code blanked out — string literals, backquoted names and
 * comments — so that a word inside them ('ROW_NUMBER()', a comment) is not taken for a call.
 */
function codeOf(text: string): string {
  return text.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|--[^\n]*|\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, " "));
}

/** A view over the source table: its columns (each a field, renamed or not, or an expression of fields) and its condition. */
function sourceView(name: string, query: QueryStatementContext, table: SourceTable, base: ExpressionBuilder, sql: string): SourceTable {
  const text = (node: Node) => sourceOf(node, sql);
  const select = query.selectStatement() as SelectStatementContext;
  if (query.orderByClause() || query.limitClause() || query.withClause() || query.queryStatement().length > 0)
    base.refuse(query, "this view (a view selects columns of the source table, with a WHERE if need be)");
  const from = select.fromClause()?.tableExpression();
  const reference = from?.tableReference()[0];
  if (!from || !reference || from.tableReference().length !== 1 || from.KW_JOIN() || from.tableExpression().length > 0)
    return base.refuse(select, "this view's FROM (a view reads the source table)");
  const relation = identifierPath(text(reference.tablePrimary()));
  if (relation !== table.name) base.refuse(reference, `a view over ${relation} (a view reads the source table ${table.name})`);
  const alias = reference.tableAlias();
  const builder = new ExpressionBuilder(sql, undefined, [table.name, ...(alias ? [identifierPath(text(alias.identifier()))] : [])]);
  const columns: Record<string, SqlType> = {};
  const computed = new Map<string, Expr>();
  let eventTime: string | undefined;
  for (const item of select.selectClause().selectList().columnProjectItem()) {
    if (item.tableAllColumns()) {
      for (const [column, type] of Object.entries(table.columns)) columns[column] = type;
      if (eventTime === undefined) eventTime = table.eventTime;
      continue;
    }
    const plain = item.selectLiteralColumnName()?.columnName() ?? item.columnName();
    const alias = item.columnAlias();
    const expression = plain ? undefined : item.selectExpressionColumnName()?.expression();
    const expr: Expr = plain
      ? { at: builder.at(plain), kind: "column", name: builder.unqualified(identifierPath(text(plain))) }
      : expression
        ? builder.build(expression)
        : builder.refuse(item, "this view column");
    const columnName = alias
      ? identifierPath(text(alias).replace(/^AS\s+/i, ""))
      : expr.kind === "column"
        ? expr.name.slice(expr.name.lastIndexOf(".") + 1)
        : builder.refuse(item, "a view column without a name (write … AS name)");
    if (Object.hasOwn(columns, columnName)) builder.refuse(alias ?? item, `a second column named ${columnName}`);
    if (columnName === "__proto__") builder.refuse(alias ?? item, "the column name __proto__");
    columns[columnName] = typed(expr, table.columns);
    if (expr.kind === "column" && expr.name === table.eventTime) eventTime = columnName;
    if (!(expr.kind === "column" && expr.name === columnName)) computed.set(columnName, expr);
  }
  if (eventTime === undefined) builder.refuse(select.selectClause(), `a view without the event-time column ${table.eventTime}`);
  if (computed.has(eventTime as string) && (computed.get(eventTime as string) as Expr).kind !== "column")
    builder.refuse(select.selectClause(), "a view whose event time is computed");
  const condition = select.whereClause()?.booleanExpression();
  let where: Expr | undefined;
  if (condition) {
    where = builder.build(condition);
    typed(where, table.columns);
  }
  return {
    name,
    columns,
    eventTime: eventTime as string,
    outOfOrderness: table.outOfOrderness,
    fields: table.fields,
    eventField: table.eventField,
    computed,
    ...(where === undefined ? {} : { where }),
  };
}

/**
 * The table or view a query reads: the first name after TABLE or FROM that is one (else the source
 * table); a view that is a window aggregation gives its rows (a cascade), once it is defined.
 */
function relationOf(query: QueryStatementContext, context: Compiling): SourceTable | undefined {
  const text = sourceOf(query, context.sql).replace(/'(?:[^']|'')*'|--[^\n]*|\/\*[\s\S]*?\*\//g, "''");
  for (const m of text.matchAll(/\b(?:TABLE|FROM)\s+(`(?:[^`]|``)*`|[A-Za-z_][A-Za-z0-9_]*)/gi)) {
    const name = identifierPath(m[1] as string);
    const relation = context.relations.get(name);
    if (relation) return relation;
    if (!context.views.has(name)) continue;
    const view = context.views.get(name);
    if (view === undefined)
      context.builder.refuse(query, `a query over the view ${name} before its CREATE VIEW (define a view before the queries that read it)`);
    return rowsOf(view as Record<string, unknown>, name, { label: `${name}'s` });
  }
  return undefined;
}

/**
 * A query's pipelines: its own, after those of the FROM subquery it reads when that is a window
 * aggregation (a cascade: the subquery is the pipeline `<name>.from`, internal, whose rows the query
 * aggregates; a subquery of a subquery, `<name>.from.from`).
 */
function compilePipelines(
  name: string,
  query: QueryStatementContext,
  at: Node,
  table: SourceTable,
  context: Compiling,
  options: { unwindowed?: string } = {},
): Compiled[] {
  const { sql, rewrites, builder } = context;
  const subquery = aggregatingSubqueryOf(query, sql);
  if (subquery === undefined)
    return [{ pipeline: compileQuery(name, query, table, sql, rewrites, options), query, at, outOfOrderness: table.outOfOrderness }];
  if (subquery.ranks) builder.refuse(subquery.node, "a window aggregation over a Window Top-N's rows (not yet)");
  const sources = compilePipelines(
    `${name}.from`,
    subquery.inner,
    subquery.inner,
    relationOf(subquery.inner, context) ?? context.source,
    context,
    { unwindowed: "a subquery that aggregates without a window (a cascade reads a window aggregation's rows)" },
  );
  const last = sources.at(-1) as Compiled;
  last.pipeline = { ...last.pipeline, internal: true };
  const rows = rowsOf(last.pipeline, subquery.alias ?? "", { label: "the subquery's", subquery: { alias: subquery.alias } });
  return [...sources, { pipeline: compileQuery(name, query, rows, sql, rewrites), query, at, outOfOrderness: rows.outOfOrderness }];
}

/** The ranking functions: a query calling one is a Window Top-N. */
const RANKING = /\b(ROW_NUMBER|RANK|DENSE_RANK)\s*\(/i;

/**
 * An aggregation's FROM subquery that aggregates or ranks (a projection subquery is not one: it is
 * refused as a relation other than the source): the first stage of a cascade.
 */
function aggregatingSubqueryOf(
  query: QueryStatementContext,
  sql: string,
): { inner: QueryStatementContext; node: Node; alias?: string; ranks: boolean } | undefined {
  const select = query.selectStatement();
  if (!select || !isAggregation(select, sql)) return undefined;
  const from = select.fromClause()?.tableExpression();
  const reference = from?.tableReference()[0];
  const inner = reference?.tablePrimary().atomExpressionTable()?.queryStatement();
  if (!from || !reference || !inner || from.tableReference().length !== 1 || from.KW_JOIN() || from.tableExpression().length > 0)
    return undefined;
  const code = codeOf(sourceOf(inner, sql));
  const ranks = RANKING.test(code);
  const aggregates = inner.selectStatement() ? isAggregation(inner.selectStatement() as SelectStatementContext, sql) : callsAggregate(code);
  if (!ranks && !aggregates) return undefined;
  const alias = reference.tableAlias();
  return {
    inner,
    node: reference.tablePrimary(),
    ...(alias ? { alias: identifierPath(sourceOf(alias.identifier(), sql)) } : {}),
    ranks,
  };
}

/** Whether code (`codeOf`) calls an aggregate function of the subset. */
function callsAggregate(code: string): boolean {
  return new RegExp(`\\b(${[...Object.keys(AGGREGATE_OPS), ...Object.keys(VARIANCES)].join("|")})\\s*\\(`, "i").test(code);
}

/** A select that aggregates: GROUP BY, HAVING, or an aggregate in its select list. */
function isAggregation(select: SelectStatementContext, sql: string): boolean {
  return Boolean(select.groupByClause() || select.havingClause() || callsAggregate(codeOf(sourceOf(select.selectClause(), sql))));
}

/**
 * A window aggregation's rows as a relation (a cascade reads them): its select list's columns, typed
 * as its result row types them (a value that is no SQL scalar, several quantiles, is left out), the
 * window's columns and its time attribute by the names it selects them under.
 */
function rowsOf(pipeline: Record<string, unknown>, name: string, relation: { label: string; subquery?: { alias?: string } }): SourceTable {
  const aggregates = aggregateSpecsOf(pipeline.aggregates as Record<string, Record<string, unknown>>);
  const select = (pipeline.select ?? {}) as Record<string, Expr>;
  const window = pipeline.window as Record<string, unknown>;
  const refusal =
    pipeline.rank !== undefined || aggregates.some((a) => a.op === "top")
      ? "a window aggregation over a Window Top-N's rows (not yet)"
      : window.type === "session"
        ? "a window aggregation over SESSION windows' rows (not yet)"
        : undefined;
  const rowType = resultRowTypes({
    key: pipeline.key as string | string[],
    aggregates,
    columns: pipeline.columns as Record<string, SqlType>,
    ...(pipeline.computed === undefined ? {} : { computed: pipeline.computed as Record<string, Expr> }),
  });
  const columns: Record<string, SqlType> = {};
  const windowColumns = new Map<string, string>();
  let rowtime: string | undefined;
  for (const [column, expr] of Object.entries(select)) {
    if (refusal !== undefined || wholeAggregateOf(expr, aggregates)) continue;
    const type = typed(expr, rowType);
    if (type === "NULL") continue; // no column type holds only NULL: a row's NULL column is no column to read
    columns[column] = type;
    // an aggregate named window_time is a value, not the window's time
    const window = expr.kind === "column" && !aggregates.some((a) => a.name === expr.name) ? expr.name : undefined;
    if (window === undefined || !(WINDOW_COLUMNS as readonly string[]).includes(window)) continue;
    if (!windowColumns.has(column)) windowColumns.set(column, window);
    if (window === "window_time") rowtime ??= column;
  }
  // without a time attribute, a row's time is the window_time every row carries, unless a column takes its name
  const eventTime = rowtime ?? "window_time";
  const hidden = rowtime === undefined && Object.hasOwn(select, "window_time");
  return {
    name,
    columns,
    eventTime,
    outOfOrderness: 0,
    fields: columns,
    eventField: eventTime,
    computed: new Map(),
    rows: {
      pipeline: pipeline.name as string,
      label: relation.label,
      window,
      windowColumns,
      ...(rowtime === undefined ? {} : { rowtime }),
      ...(relation.subquery ? { subquery: relation.subquery } : {}),
      ...(refusal !== undefined
        ? { refusal }
        : hidden
          ? { refusal: "a window aggregation over rows whose window_time column is not the window's time (name that column otherwise)" }
          : {}),
    },
  };
}

/** The aggregates of a compiled pipeline (the JSON form) as the result row types them. */
function aggregateSpecsOf(aggregates: Record<string, Record<string, unknown>>): AggregateSpec[] {
  return Object.entries(aggregates).map(([name, a]): AggregateSpec => {
    if (a.count !== undefined) return typeof a.count === "string" ? { name, op: "count", field: a.count } : { name, op: "count" };
    if (a.distinct !== undefined) return { name, op: "distinct", field: a.distinct as string, precision: 12 };
    if (a.quantiles !== undefined) return { name, op: "quantiles", ...(a.quantiles as { field: string; q: number[]; accuracy: number }) };
    if (a.top !== undefined) return { name, op: "top", ...(a.top as Omit<Extract<AggregateSpec, { op: "top" }>, "name" | "op">) };
    const op = (["sum", "min", "max", "avg"] as const).find((o) => a[o] !== undefined) ?? "sum";
    return { name, op, field: a[op] as string };
  });
}

/** The names that may qualify a query's columns: its table's name, and the alias the query gives it (a subquery's alias). */
function qualifiersOf(query: QueryStatementContext, table: SourceTable, sql: string): string[] {
  const subquery = table.rows?.subquery;
  if (subquery) return subquery.alias === undefined ? [] : [subquery.alias];
  const text = sourceOf(query, sql).replace(/'(?:[^']|'')*'|--[^\n]*|\/\*[\s\S]*?\*\//g, "''");
  const name = table.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const alias = text.match(new RegExp(`\\b${name}\\s+(?:AS\\s+)?([A-Za-z_][A-Za-z0-9_]*)\\b`, "i"))?.[1];
  const keywords = new Set(["WHERE", "GROUP", "ON", "JOIN", "WINDOW", "HAVING", "ORDER", "LIMIT", "UNION"]);
  return [table.name, ...(alias && !keywords.has(alias.toUpperCase()) ? [alias] : [])];
}

/** What every pipeline of a relation reads: the events' fields and time, the view's computed columns and condition. */
function readsOf(table: SourceTable, where: Expr | undefined, computed: ReadonlyMap<string, Expr> = new Map()): Record<string, unknown> {
  const conditions = [table.where, where].filter((c): c is Expr => c !== undefined);
  const all = new Map([...table.computed, ...computed]);
  return {
    eventTime: table.eventField,
    columns: table.fields,
    ...(conditions.length === 0
      ? {}
      : { where: conditions.length === 1 ? conditions[0] : { at: (conditions[0] as Expr).at, kind: "and", operands: conditions } }),
    ...(all.size > 0 ? { computed: Object.fromEntries(all) } : {}),
  };
}

/** A window TVF's window: TUMBLE, HOP, CUMULATE or SESSION over the source table's event time. */
function tvfWindow(
  tvf: WindowTVFExpressionContext,
  table: SourceTable,
  builder: ExpressionBuilder,
  sql: string,
  sessions: ReadonlyMap<number, SessionTvf>,
): Record<string, unknown> {
  const text = (node: Node) => sourceOf(node, sql);
  const params = tvf.windowTVFParam();
  const kind = sessionOf(tvf, sessions) ? "SESSION" : text(tvf.windowTVFName()).toUpperCase();
  const tableName = params[0]?.timeAttrColumn();
  if (!tableName || identifierPath(text(tableName)) !== table.name)
    builder.refuse(params[0] ?? tvf, `a window over something other than TABLE ${table.name}`);
  const descriptor = params[1]?.columnDescriptor();
  const timeColumn = descriptor
    ? builder.unqualified(identifierPath(text(descriptor).replace(/^DESCRIPTOR\s*\(\s*|\s*\)$/gi, "")))
    : undefined;
  windowTime(
    timeColumn,
    table,
    params[1] ?? tvf,
    builder,
    `a window on a column other than the WATERMARK's (DESCRIPTOR(${table.eventTime}))`,
  );
  if (kind === "SESSION" && table.rows) builder.refuse(tvf, ROWS_IN_SESSIONS);
  const intervals = params.slice(2);
  for (const p of intervals) if (p.timeIntervalParamName()) builder.refuse(p, "a named window argument");
  // the last interval of TUMBLE (its second), HOP and CUMULATE (their third) is the offset, of either sign
  const offsetParam = params[kind === "TUMBLE" ? 3 : 4];
  const shifted = (window: Record<string, unknown>) => {
    if (!offsetParam) return window;
    const offset = signedIntervalMs(offsetParam.timeIntervalExpression(), builder, sql);
    return offset === 0 ? window : { ...window, offset };
  };
  const positive = (p: WindowTVFParamContext | undefined) => intervalMs(p?.timeIntervalExpression() ?? null, builder, sql);
  const arity = intervals.length;
  if (kind === "TUMBLE" && (arity === 1 || arity === 2)) {
    const window = shifted({ type: "tumbling", size: positive(params[2]) });
    if (Math.abs(Number(window.offset ?? 0)) >= Number(window.size))
      builder.refuse(offsetParam ?? tvf, "a TUMBLE offset as long as the window or longer (Flink requires abs(offset) < size)");
    return window;
  }
  if (kind === "HOP" && (arity === 2 || arity === 3))
    return shifted({ type: "sliding", slide: positive(params[2]), size: positive(params[3]) });
  if (kind === "CUMULATE" && (arity === 2 || arity === 3))
    return shifted({ type: "cumulate", step: positive(params[2]), size: positive(params[3]) });
  if (kind === "SESSION" && arity === 1) return { type: "session", gap: positive(params[2]) };
  return builder.refuse(tvf, `${kind} with ${arity} ${arity === 1 ? "interval" : "intervals"}`);
}

/** Flink windows a window aggregation's rows in sessions; Panes does not yet (cascadeIssues). */
const ROWS_IN_SESSIONS = "SESSION windows over a window aggregation's rows (not yet)";

/**
 * Refuses a window on a column that is not the relation's time attribute: the WATERMARK's column, or a
 * window aggregation's rowtime (its window_time, or TUMBLE_ROWTIME(…), as it selects it), which Flink
 * requires too (a window_start is no time attribute).
 */
function windowTime(column: string | undefined, table: SourceTable, node: Node, builder: ExpressionBuilder, refusal: string): void {
  const rows = table.rows;
  if (rows === undefined) {
    if (column !== table.eventTime) builder.refuse(node, refusal);
    return;
  }
  if (rows.rowtime === undefined)
    builder.refuse(
      node,
      `a window over ${rows.label} rows, which have no time attribute (select its window_time, or TUMBLE_ROWTIME(…), and window on it)`,
    );
  if (column !== rows.rowtime)
    builder.refuse(node, `a window on a column other than ${rows.rowtime} (the time attribute of ${rows.label} rows)`);
}

/** The legacy group window HOP(time, slide, size): a call in GROUP BY (the grammar's group window takes one interval). */
function legacyHop(
  item: GroupItemDefinitionContext,
  builder: ExpressionBuilder,
  sql: string,
): { time: string; slide: number; size: number } | undefined {
  const expressions = item.expression();
  if (expressions.length !== 1) return undefined;
  const m = sourceOf(expressions[0] as Node, sql).match(/^HOP\s*\(([\s\S]*)\)$/i);
  if (!m) return undefined;
  const args = (m[1] as string).split(",").map((a) => a.replace(/\s+/g, " ").trim());
  if (args.length !== 3)
    return builder.refuse(
      item,
      `HOP with ${args.length - 1} ${args.length - 1 === 1 ? "interval" : "intervals"} (write HOP(time, slide, size); an offset is not supported)`,
    );
  const interval = (a: string) => positiveInterval(a) ?? builder.refuse(item, `the interval ${a} (write INTERVAL '5' MINUTE)`);
  return {
    time: builder.unqualified(identifierPath(args[0] as string)),
    slide: interval(args[1] as string),
    size: interval(args[2] as string),
  };
}

/** WHERE: equality on STRING columns as a filter (cheap, before any decoding), the rest as a condition. */
function conditionOf(
  select: SelectStatementContext,
  table: SourceTable,
  builder: ExpressionBuilder,
): { filter: Record<string, string>; where?: Expr } {
  const filter: Record<string, string> = {};
  const condition = select.whereClause()?.booleanExpression();
  if (!condition) return { filter };
  const parsed = builder.build(condition);
  typed(parsed, table.columns);
  const conjuncts = parsed.kind === "and" ? parsed.operands : [parsed];
  const rest: Expr[] = [];
  for (const c of conjuncts) {
    if (
      c.kind === "compare" &&
      c.op === "=" &&
      c.left.kind === "column" &&
      table.columns[c.left.name] === "STRING" &&
      !table.computed.has(c.left.name) &&
      table.fields[c.left.name] === "STRING" &&
      c.right.kind === "literal" &&
      typeof c.right.value === "string" &&
      !(c.left.name in filter)
    ) {
      filter[c.left.name] = c.right.value;
    } else rest.push(c);
  }
  if (rest.length === 0) return { filter };
  return { filter, where: rest.length === 1 ? rest[0] : { at: parsed.at, kind: "and", operands: rest } };
}

/**
 * A window aggregation's pipeline. Over a window aggregation's rows (`table.rows`: a cascade), its
 * window is one on the rows' time attribute, or the window each row came from when it groups by the
 * rows' window_start and window_end. `unwindowed` refuses an aggregation without a window (a subquery
 * a cascade reads is refused as one).
 */
function compileQuery(
  name: string,
  query: QueryStatementContext,
  table: SourceTable,
  sql: string,
  rewrites: Rewrites,
  options: { unwindowed?: string } = {},
): Record<string, unknown> {
  const builder = new ExpressionBuilder(sql, undefined, qualifiersOf(query, table, sql));
  const text = (node: Node) => sourceOf(node, sql);
  const col = (node: Node) => builder.unqualified(identifierPath(text(node)));
  const whole = text(query);
  const code = codeOf(whole);
  // a ranking function makes it a Window Top-N (one other than ROW_NUMBER is refused naming it)
  if (RANKING.test(code)) return compileTopN(name, query, table, builder, sql, rewrites);
  if (/\bOVER\s*\(/i.test(code)) builder.refuse(query, "an OVER aggregation");
  const select = query.selectStatement();
  if (!select || query.orderByClause() || query.limitClause() || query.withClause() || query.queryStatement().length > 0) {
    return builder.refuse(query, "this query (one SELECT … FROM a window … GROUP BY)");
  }
  if (select.matchRecognizeClause()) builder.refuse(select.matchRecognizeClause() as Node, "MATCH_RECOGNIZE");
  if (select.windowClause()) builder.refuse(select.windowClause() as Node, "a WINDOW clause");
  const from = select.fromClause()?.tableExpression();
  if (!from) return builder.refuse(select, "a query without FROM");
  if (from.KW_JOIN() || from.tableExpression().length > 0 || from.tableReference().length > 1) builder.refuse(from, "a join");

  // the window: a window TVF in FROM, or a legacy group window in GROUP BY, or (a cascade regrouping
  // a window aggregation's rows) the window each row came from
  let window: Record<string, unknown> | undefined;
  const tvf = from.windowTVFClause()?.windowTVFExpression();
  const rows = table.rows;
  if (rows?.refusal !== undefined) builder.refuse(tvf?.windowTVFParam()[0] ?? from.tableReference()[0] ?? from, rows.refusal);
  if (tvf) {
    window = tvfWindow(tvf, table, builder, sql, rewrites.sessions);
  } else if (!rows?.subquery) {
    const reference = from.tableReference()[0];
    if (!reference || identifierPath(text(reference.tablePrimary())) !== table.name)
      builder.refuse(from, `a query over something other than ${table.name}`);
  }

  // GROUP BY: the window and one key column
  const keys: string[] = [];
  /** where each key column is written (a refusal of one names it) */
  const keyAt = new Map<string, Node>();
  const groupItems: GroupItemDefinitionContext[] = select.groupByClause()?.groupItemDefinition() ?? [];
  if (groupItems.length === 0)
    builder.refuse(select, options.unwindowed ?? "a query without GROUP BY (a window aggregation groups by the window and a key)");
  // a cascade without a window of its own regroups each row in its window (GROUP BY the rows' window_start, window_end)
  const sameWindow = rows !== undefined && !tvf && !groupItems.some((i) => i.groupWindowFunction() || /^HOP\s*\(/i.test(text(i)));
  /** the window's columns the query names (window_start, …; a regrouping names the rows' as they select them) */
  const windowColumn = (column: string): string | undefined =>
    sameWindow ? rows.windowColumns.get(column) : (WINDOW_COLUMNS as readonly string[]).includes(column) ? column : undefined;
  const regrouped = new Set<string>();
  for (const item of groupItems) {
    const groupWindow = item.groupWindowFunction();
    if (groupWindow) {
      if (tvf) builder.refuse(item, "a group window beside a window TVF");
      const kind = text(groupWindow.groupWindowFunctionName()).toUpperCase();
      windowTime(col(groupWindow.timeAttrColumn()), table, groupWindow, builder, `a window on a column other than ${table.eventTime}`);
      const interval = intervalMs(groupWindow.timeIntervalExpression(), builder, sql);
      if (kind === "TUMBLE") window = { type: "tumbling", size: interval };
      else if (kind === "SESSION") {
        if (rows) builder.refuse(groupWindow, ROWS_IN_SESSIONS);
        window = { type: "session", gap: interval };
      } else builder.refuse(groupWindow, `the group window ${kind} (write HOP(time, slide, size))`);
      continue;
    }
    const hop = legacyHop(item, builder, sql);
    if (hop) {
      if (tvf) builder.refuse(item, "a group window beside a window TVF");
      windowTime(hop.time, table, item, builder, `a window on a column other than ${table.eventTime}`);
      window = { type: "sliding", slide: hop.slide, size: hop.size };
      continue;
    }
    const column = item.columnName();
    if (!column) builder.refuse(item, "this GROUP BY item (group by columns)");
    const columnName = col(column as Node);
    if (tvf && (WINDOW_COLUMNS as readonly string[]).includes(columnName)) continue;
    const regrouping = sameWindow ? windowColumn(columnName) : undefined;
    if (regrouping !== undefined) {
      regrouped.add(regrouping);
      continue;
    }
    keys.push(columnName);
    if (!keyAt.has(columnName)) keyAt.set(columnName, column as Node);
  }
  if (sameWindow) {
    // Flink's cascade in one window: GROUP BY the rows' window_start and window_end (their window_time may join them)
    if (!regrouped.has("window_start") || !regrouped.has("window_end")) {
      const selected = (c: string) => [...rows.windowColumns].find(([, w]) => w === c)?.[0] ?? c;
      builder.refuse(
        select.groupByClause() as Node,
        `a query over ${rows.label} rows without a window (GROUP BY its ${selected("window_start")} and ${selected("window_end")}, or a window on its time attribute)`,
      );
    }
    window = { ...rows.window };
  }
  if (!window) return builder.refuse(select, options.unwindowed ?? "a query without a window (TUMBLE, HOP, CUMULATE or SESSION)");
  // Flink's own rule (PullUpWindowTableFunctionIntoWindowAggregateRule.validateWindow): the group keys
  // of a SESSION window aggregation are window_start, window_end and exactly the window's PARTITION BY keys
  const session = tvf && sessionOf(tvf, rewrites.sessions);
  if (session && (session.partition.length !== keys.length || !session.partition.every((c) => keys.includes(builder.unqualified(c)))))
    builder.refuse(
      select.groupByClause() as Node,
      `a SESSION window grouped by other keys than its PARTITION BY keys (${session.partition.join(", ") || "none"})`,
    );
  if (tvf && !groupItems.some((i) => col(i) === "window_start") && !groupItems.some((i) => col(i) === "window_end")) {
    builder.refuse(select.groupByClause() as Node, "a window TVF aggregation that does not GROUP BY window_start, window_end");
  }
  for (const key of keys)
    if (!Object.hasOwn(table.columns, key)) builder.refuse(keyAt.get(key) ?? (select.groupByClause() as Node), `the unknown column ${key}`);

  // the select list: window columns, key columns, and expressions over aggregates of expressions
  const aggregates = new AggregateCollector(table, keys, windowColumn, sql, rewrites.filters, builder.qualifiers, rewrites.filtersUsed);
  const selected: Record<string, Expr> = {};
  for (const item of select.selectClause().selectList().columnProjectItem()) {
    const plain = item.selectLiteralColumnName()?.columnName() ?? item.columnName();
    const alias = item.columnAlias();
    const aliasName = alias ? identifierPath(text(alias).replace(/^AS\s+/i, "")) : undefined;
    let name: string;
    let expr: Expr;
    const literal = plain ? literalOf(text(plain), builder.at(plain)) : undefined;
    if (plain && literal) {
      if (!aliasName) builder.refuse(item, "a constant without a name (write 1 AS one)");
      name = aliasName as string;
      expr = literal;
    } else if (plain) {
      const column = col(plain);
      // a legacy group window's bounds are selected with TUMBLE_START(…) and the like
      const bound = keys.includes(column) ? undefined : tvf || sameWindow ? windowColumn(column) : undefined;
      if (bound === undefined && !keys.includes(column)) builder.refuse(item, `the column ${column}, neither grouped nor aggregated`);
      name = aliasName ?? column.slice(column.lastIndexOf(".") + 1);
      expr = { at: builder.at(plain), kind: "column", name: bound ?? column };
    } else {
      const expression = item.selectExpressionColumnName()?.expression();
      if (!expression) return builder.refuse(item, "this select item");
      if (!aliasName) builder.refuse(item, "an expression without a name (write AVG(x) AS avg_x)");
      name = aliasName as string;
      expr = aggregates.select(expression, name, !tvf);
    }
    if (!/^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/.test(name))
      builder.refuse(alias ?? item, `the name ${name} (a result value's name is an identifier)`);
    if (Object.hasOwn(selected, name)) builder.refuse(alias ?? item, `a second column named ${name}`);
    selected[name] = expr;
  }
  if (aggregates.count === 0) builder.refuse(select.selectClause(), "a query without aggregates");
  // HAVING: a condition on the result row, which may call aggregates the select list does not
  const havingClause = select.havingClause();
  const having = havingClause ? aggregates.select(havingClause.booleanExpression(), "", !tvf) : undefined;

  const { filter, where } = conditionOf(select, table, builder);
  return {
    name,
    ...(rows ? { from: { pipeline: rows.pipeline, ...(sameWindow ? { sameWindow: true } : {}) } } : {}),
    // one column: the key is its value; several (or none: a global window) make a JSON array
    key: keys.length === 1 ? keys[0] : keys,
    ...(Object.keys(filter).length > 0 ? { filter } : {}),
    ...readsOf(table, where, aggregates.computed),
    window,
    aggregates: Object.fromEntries(aggregates.specs),
    select: selected,
    ...(having === undefined ? {} : { having }),
  };
}

/** The aggregate functions of the subset, by name, and the JSON form's aggregate each compiles to. */
const AGGREGATE_OPS: Record<string, "count" | "sum" | "min" | "max" | "avg" | "quantiles"> = {
  COUNT: "count",
  SUM: "sum",
  MIN: "min",
  MAX: "max",
  AVG: "avg",
  // Panes' extension: the DDSketch of the JSON form's quantiles (relative accuracy 1%, or the third argument)
  APPROX_PERCENTILE: "quantiles",
};

interface VarianceKind {
  /** divided by COUNT(x) - 1 (NULL for one value), not COUNT(x) */
  sample: boolean;
  /** the square root of the variance */
  deviation: boolean;
}

/** The variance family, which Flink reduces to SUM(x * x), SUM(x) and COUNT(x) (VARIANCE and STDDEV are the sample ones, as in Calcite). */
const VARIANCES: Record<string, VarianceKind> = {
  VAR_POP: { sample: false, deviation: false },
  VAR_SAMP: { sample: true, deviation: false },
  VARIANCE: { sample: true, deviation: false },
  STDDEV_POP: { sample: false, deviation: true },
  STDDEV_SAMP: { sample: true, deviation: true },
  STDDEV: { sample: true, deviation: true },
};

/** A literal number argument of an aggregate (APPROX_PERCENTILE's percentage and accuracy), strictly between 0 and 1. */
function fractionArgument(param: { getText(): string } | null | undefined, builder: ExpressionBuilder, node: Node, what: string): number {
  const value = Number(param?.getText());
  if (!(value > 0 && value < 1))
    return builder.refuse(node, `APPROX_PERCENTILE with ${what} ${param?.getText() ?? "missing"} (write a number between 0 and 1)`);
  return value;
}

/**
 * The aggregates a query's select list calls, and the computed values they read: each call becomes a
 * named aggregate of the pipeline (the item's own name when the item is just the call), each argument
 * that is not a plain column a computed value, `FILTER (WHERE c)` a CASE WHEN c THEN … END argument.
 */
class AggregateCollector {
  readonly specs = new Map<string, Record<string, unknown>>();
  readonly computed = new Map<string, Expr>();
  private readonly byShape = new Map<string, string>();

  constructor(
    private readonly table: SourceTable,
    private readonly keys: readonly string[],
    /** the window column a name outside any aggregate is, if it is one (window_start; a cascade's alias of it) */
    private readonly windowColumn: (name: string) => string | undefined,
    private readonly sql: string,
    private readonly filters: ReadonlyMap<number, { text: string; at: Position }>,
    private readonly qualifiers: readonly string[],
    private readonly filtersUsed: Set<number>,
  ) {}

  get count(): number {
    return this.specs.size;
  }

  /** A select item's expression (or HAVING's condition, named ""), its aggregate calls replaced by the aggregates' names. */
  select(expression: ExpressionContext | BooleanExpressionContext, name: string, legacy: boolean): Expr {
    const collector = this;
    const inner = new (class extends ExpressionBuilder {
      protected override functionCall(ctx: FunctionCallContext): Expr {
        return collector.call(ctx, this, expression, name, legacy, (c) => super.functionCall(c));
      }
      protected override column(column: string, ctx: Node): Expr {
        return collector.column(this.unqualified(column), ctx, this);
      }
    })(this.sql, undefined, this.qualifiers);
    return inner.build(expression);
  }

  /** A column outside any aggregate: a key column, or a window column. */
  private column(column: string, ctx: Node, base: ExpressionBuilder): Expr {
    const window = this.keys.includes(column) ? column : this.windowColumn(column);
    if (window === undefined) base.refuse(ctx, `the column ${column}, neither grouped nor aggregated`);
    return { at: base.at(ctx), kind: "column", name: window ?? column };
  }

  private call(
    ctx: FunctionCallContext,
    builder: ExpressionBuilder,
    item: ExpressionContext | BooleanExpressionContext,
    itemName: string,
    legacy: boolean,
    scalar: (ctx: FunctionCallContext) => Expr,
  ): Expr {
    const call = ctx.functionCallExpression();
    const fn = (call.functionNameWithParams()?.getText() ?? "").toUpperCase();
    const at = builder.at(ctx);
    const bound = fn.match(/^(TUMBLE|HOP|SESSION)_(START|END|ROWTIME)$/);
    if (bound) {
      if (!legacy) builder.refuse(ctx, `${fn} in a window TVF query (select window_start, window_end)`);
      return { at, kind: "column", name: bound[2] === "START" ? "window_start" : bound[2] === "END" ? "window_end" : "window_time" };
    }
    const variance = VARIANCES[fn];
    const op = variance === undefined ? AGGREGATE_OPS[fn] : "sum";
    if (!op) return scalar(ctx);
    const params = call.functionParam();
    const arity = op === "quantiles" ? [2, 3] : [1];
    if (!arity.includes(params.length)) builder.refuse(ctx, `${fn} with ${params.length} arguments`);
    const distinct = call.setQuantifier()?.getText().toUpperCase() === "DISTINCT";
    if (distinct && op !== "count") builder.refuse(ctx, `${fn}(DISTINCT …) (COUNT(DISTINCT x) is supported)`);
    const param = params[0] as NonNullable<(typeof params)[0]>;
    const filter = this.filters.get(ctx.stop?.stop ?? -1);
    if (filter !== undefined) this.filtersUsed.add(ctx.stop?.stop ?? -1);
    if (filter !== undefined && codeOf(filter.text).trim() === "")
      throw new SqlSyntaxError(filter.at, `${fn} FILTER (WHERE) without a condition (write FILTER (WHERE status >= 500))`);
    const condition = filter === undefined ? undefined : parseExpression(filter.text, filter.at);
    const star = param.getText() === "*";
    if (star && op !== "count") builder.refuse(ctx, `${fn}(*)`);
    let argument: Expr | undefined;
    if (!star) {
      const e = param.expression();
      if (!e) return builder.refuse(param, "this argument");
      // the argument reads the table's columns (any of them), never another aggregate
      argument = new (class extends ExpressionBuilder {
        protected override functionCall(inner: FunctionCallContext): Expr {
          const innerName = (inner.functionCallExpression().functionNameWithParams()?.getText() ?? "").toUpperCase();
          if (AGGREGATE_OPS[innerName] || VARIANCES[innerName]) this.refuse(inner, "an aggregate inside an aggregate");
          return super.functionCall(inner);
        }
      })(this.sql, undefined, this.qualifiers).build(e);
    }
    if (condition !== undefined) {
      // FILTER (WHERE c): the aggregate of CASE WHEN c THEN x END (Calcite's expansion), COUNT(*) counting 1s
      const result: Expr = argument ?? { at, kind: "literal", value: 1, type: "INT" };
      argument = { at: condition.at, kind: "case", whens: [{ when: condition, result }] };
    }
    if (variance !== undefined) return this.variance(ctx, builder, fn, variance, argument as Expr);
    return this.aggregate(ctx, builder, fn, op, argument, {
      distinct,
      params,
      whole: itemName !== "" && sourceOf(item, this.sql).trim() === sourceOf(ctx, this.sql).trim() ? itemName : undefined,
    });
  }

  /**
   * VAR_POP, VAR_SAMP, STDDEV_POP, STDDEV_SAMP (VARIANCE, STDDEV) as Flink plans them (Calcite's
   * AggregateReduceFunctionsRule, FLINK-8903): over SUM(x * x), SUM(x) and COUNT(x),
   * (SUM(x * x) - SUM(x) * SUM(x) / COUNT(x)) / COUNT(x) — or / (COUNT(x) - 1), NULL for one value —
   * and its POWER(…, 0.5) for a deviation. Of a DOUBLE (an exact number's would be computed in its type).
   */
  private variance(ctx: FunctionCallContext, builder: ExpressionBuilder, fn: string, kind: VarianceKind, x: Expr): Expr {
    const at = builder.at(ctx);
    const type = typed(x, this.table.columns);
    if (type !== "DOUBLE" && type !== "NULL")
      builder.refuse(ctx, `${fn} of ${type === "INT" ? "an" : "a"} ${type} (write ${fn}(CAST(x AS DOUBLE)))`);
    const squared: Expr = { at, kind: "arithmetic", op: "*", left: x, right: x };
    const sumSquares = this.aggregate(ctx, builder, fn, "sum", squared, {});
    const sum = this.aggregate(ctx, builder, fn, "sum", x, {});
    const count = this.aggregate(ctx, builder, fn, "count", x, {});
    const diff: Expr = {
      at,
      kind: "arithmetic",
      op: "-",
      left: sumSquares,
      right: { at, kind: "arithmetic", op: "/", left: { at, kind: "arithmetic", op: "*", left: sum, right: sum }, right: count },
    };
    const one: Expr = { at, kind: "literal", value: 1, type: "INT" };
    const denominator: Expr = kind.sample
      ? {
          at,
          kind: "case",
          whens: [
            { when: { at, kind: "compare", op: "=", left: count, right: one }, result: { at, kind: "literal", value: null, type: "NULL" } },
          ],
          otherwise: { at, kind: "arithmetic", op: "-", left: count, right: one },
        }
      : count;
    const div: Expr = { at, kind: "arithmetic", op: "/", left: diff, right: denominator };
    return kind.deviation ? { at, kind: "call", name: "POWER", args: [div, { at, kind: "literal", value: 0.5, type: "DOUBLE" }] } : div;
  }

  /** One aggregate of an argument (absent: COUNT(*)), by name: the select item's own when it is the whole item, else a hidden one shared by equal calls. */
  private aggregate(
    ctx: FunctionCallContext,
    builder: ExpressionBuilder,
    fn: string,
    op: NonNullable<(typeof AGGREGATE_OPS)[string]>,
    argument: Expr | undefined,
    options: { distinct?: boolean; params?: readonly FunctionParamContext[]; whole?: string },
  ): Expr {
    const at = builder.at(ctx);
    const { distinct, params } = options;
    let field: string | undefined;
    if (argument !== undefined) {
      if (argument.kind === "column" && Object.hasOwn(this.table.columns, argument.name)) field = argument.name;
      else {
        const shape = JSON.stringify(stripPositions(argument));
        field = this.byShape.get(shape);
        if (field === undefined) {
          field = `$${this.computed.size + 1}`;
          this.computed.set(field, argument);
          this.byShape.set(shape, field);
        }
      }
    }
    if (argument !== undefined) {
      // typed here, against the table's columns, so that a mistake names the user's line and column
      const type = typed(argument, this.table.columns);
      const ordered = op === "min" || op === "max" ? ["INT", "BIGINT", "DOUBLE", "TIMESTAMP"] : ["INT", "BIGINT", "DOUBLE"];
      if (op !== "count" && type !== "NULL" && !ordered.includes(type))
        builder.refuse(ctx, `${fn} of a ${type} (it needs a number${op === "min" || op === "max" ? " or a TIMESTAMP" : ""})`);
    }
    const spec: Record<string, unknown> =
      field === undefined
        ? { count: true }
        : distinct
          ? { distinct: field }
          : op === "quantiles"
            ? {
                quantiles: {
                  field,
                  q: [fractionArgument(params?.[1], builder, ctx, "the percentage")],
                  accuracy: params?.[2] ? fractionArgument(params[2], builder, ctx, "the accuracy") : 0.01,
                },
              }
            : { [op]: field };
    const specShape = JSON.stringify(spec);
    let name = options.whole ?? this.byShape.get(`aggregate ${specShape}`);
    if (name === undefined) name = `$a${this.specs.size + 1}`;
    if (!this.specs.has(name)) {
      this.specs.set(name, spec);
      this.byShape.set(`aggregate ${specShape}`, name);
    }
    return { at, kind: "column", name };
  }
}

/** An expression's type over the table's columns (or a row's); a mistake is refused with its line and column. */
function typed(e: Expr, columns: Readonly<Record<string, SqlType>> | ((name: string) => SqlType | undefined)): SqlType {
  try {
    return typeOf(e, typeof columns === "function" ? columns : (name) => (Object.hasOwn(columns, name) ? columns[name] : undefined));
  } catch (error) {
    if (error instanceof SqlTypeError) throw new SqlSyntaxError(error.at, error.message);
    throw error;
  }
}

/** A select item the grammar takes for a column that is a constant: a number or a string. */
function literalOf(text: string, at: Position): Expr | undefined {
  if (/^-?\d+$/.test(text)) {
    const value = Number(text);
    return Number.isSafeInteger(value) ? { at, kind: "literal", value, type: Math.abs(value) < 2 ** 31 ? "INT" : "BIGINT" } : undefined;
  }
  if (/^-?\d*\.\d+(e-?\d+)?$/i.test(text)) return { at, kind: "literal", value: Number(text), type: "DOUBLE" };
  if (/^'(?:[^']|'')*'$/.test(text)) return { at, kind: "literal", value: stringValue(text), type: "STRING" };
  return undefined;
}

/** An expression without its positions: two arguments written alike are one computed value. */
function stripPositions(e: unknown): unknown {
  if (Array.isArray(e)) return e.map(stripPositions);
  if (e === null || typeof e !== "object") return e;
  return Object.fromEntries(
    Object.entries(e)
      .filter(([k]) => k !== "at")
      .map(([k, v]) => [k, stripPositions(v)]),
  );
}

/** Flink refuses a Window Top-N over SESSION windows (in both forms), and so does Panes. */
const TOP_N_OVER_SESSION = "Window Top-N over SESSION windows (rank TUMBLE, HOP or CUMULATE windows)";

/** The SESSION window TVF a window TVF was rewritten from, if it was one (`extractSessions`). */
function sessionOf(tvf: WindowTVFExpressionContext, sessions: ReadonlyMap<number, SessionTvf>): SessionTvf | undefined {
  return sessions.get(tvf.windowTVFName().start?.start ?? -1);
}

/** A SESSION window TVF's PARTITION BY columns. */
export interface SessionTvf {
  partition: string[];
}

/**
 * dt-sql-parser's grammar lacks the SESSION window TVF, `SESSION(TABLE t [PARTITION BY cols], DESCRIPTOR(time), gap)`:
 * each is rewritten in place, its positions kept, to the TUMBLE form the grammar has (`SESSION` becomes
 * `TUMBLE `, the PARTITION BY clause is blanked out) and returned by the offset of its name with its
 * partition columns. The legacy group window `SESSION(time, gap)` takes no TABLE and is left as it is.
 */
export function extractSessions(sql: string): { sql: string; sessions: Map<number, SessionTvf> } {
  const sessions = new Map<number, SessionTvf>();
  let out = sql;
  const pattern = /'(?:[^']|'')*'|`(?:[^`]|``)*`|--[^\n]*|\/\*[\s\S]*?\*\/|\bSESSION\s*\(\s*TABLE\s+(?:`(?:[^`]|``)*`|[A-Za-z_][\w.]*)/gi;
  for (let m = pattern.exec(sql); m !== null; m = pattern.exec(sql)) {
    if (!/^SESSION/i.test(m[0])) continue;
    out = `${out.slice(0, m.index)}TUMBLE ${out.slice(m.index + "SESSION".length)}`;
    const rest = sql.slice(pattern.lastIndex);
    const partition = rest.match(/^(\s+PARTITION\s+BY\s+)([\s\S]*?)(?=,\s*DESCRIPTOR\s*\()/i);
    const columns: string[] = [];
    if (partition) {
      for (const c of (partition[2] as string).split(",")) columns.push(identifierPath(c.trim()));
      const end = pattern.lastIndex + (partition[0] as string).length;
      out = out.slice(0, pattern.lastIndex) + sql.slice(pattern.lastIndex, end).replace(/[^\n]/g, " ") + out.slice(end);
      pattern.lastIndex = end;
    }
    sessions.set(m.index, { partition: columns });
  }
  return { sql: out, sessions };
}

/**
 * dt-sql-parser's grammar lacks an aggregate's `FILTER (WHERE …)`: each one is blanked out of the text
 * (its positions kept) and returned by the offset of the call it follows, with its condition's text.
 */
export function extractFilters(sql: string): { sql: string; filters: Map<number, { text: string; at: Position }> } {
  const filters = new Map<number, { text: string; at: Position }>();
  let out = sql;
  const pattern = /'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|--[^\n]*|\/\*[\s\S]*?\*\/|\bFILTER\s*\(\s*WHERE\b/gi;
  for (let m = pattern.exec(sql); m !== null; m = pattern.exec(sql)) {
    if (!/^FILTER/i.test(m[0])) continue;
    const open = sql.indexOf("(", m.index);
    const conditionStart = m.index + m[0].length;
    let depth = 1;
    let i = open + 1;
    for (; i < sql.length && depth > 0; i++) {
      const c = sql[i];
      if (c === "'" || c === "`") {
        const close = sql.indexOf(c, i + 1);
        i = close < 0 ? sql.length : close;
      } else if (c === "(") depth++;
      else if (c === ")") depth--;
    }
    if (depth > 0) break; // unbalanced: the parser reports it
    const end = i; // after the closing parenthesis
    let before = m.index - 1;
    while (before >= 0 && /\s/.test(sql[before] as string)) before--;
    const lines = sql.slice(0, conditionStart).split("\n");
    filters.set(before, {
      text: sql.slice(conditionStart, end - 1),
      at: { line: lines.length, column: (lines.at(-1) as string).length + 1 },
    });
    out = out.slice(0, m.index) + sql.slice(m.index, end).replace(/[^\n]/g, " ") + out.slice(end);
    pattern.lastIndex = end;
  }
  return { sql: out, filters };
}
