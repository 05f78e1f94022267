// A pipelines file in Flink SQL (issue 22): a CREATE TABLE for the source (its columns and WATERMARK),
// SET statements for lateness and early firing, and one windowed query per pipeline (INSERT INTO name
// SELECT … or CREATE VIEW name AS SELECT …), compiled to the pipelines file's JSON form — one engine for
// both. What Panes cannot run yet is refused in one line naming the construct, its line and its column.
// Pure; used when a pipelines file loads (the CLI, cdk synth), never bundled into a function.
import { FlinkSQL } from "dt-sql-parser";
import type {
  ExpressionContext,
  GroupItemDefinitionContext,
  QueryStatementContext,
  SimpleCreateTableContext,
  TimeIntervalExpressionContext,
} from "dt-sql-parser/dist/lib/flink/FlinkSqlParser.js";
import { type Expr, type SqlType, sqlTypeOf } from "./expressions.ts";
import { ExpressionBuilder, identifierPath, SqlSyntaxError, sourceOf, stringValue, syntaxErrorOf } from "./parse-expression.ts";

const flink = new FlinkSQL();

interface Node {
  start: { line: number; column: number; start: number } | null;
  stop: { stop: number } | null;
  getText(): string;
}

interface SourceTable {
  name: string;
  columns: Record<string, SqlType>;
  eventTime: string;
  outOfOrderness: number;
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

const AGGREGATES: Record<string, "count" | "sum" | "min" | "max" | "avg"> = {
  COUNT: "count",
  SUM: "sum",
  MIN: "min",
  MAX: "max",
  AVG: "avg",
};

/** Compiles a Flink SQL pipelines file to the JSON form (`{ pipelines: [...] }`), unvalidated. */
export function compilePipelinesSql(sql: string): { pipelines: Record<string, unknown>[] } {
  const error = syntaxErrorOf(sql);
  if (error) throw error;
  const program = flink.parse(sql);
  const builder = new ExpressionBuilder(sql);
  const refuse = (node: Node, what: string): never => builder.refuse(node, what);
  const text = (node: Node) => sourceOf(node, sql);

  let table: SourceTable | undefined;
  let allowedLatenessMs: number | undefined;
  let earlyEnabled = false;
  let earlyDelayMs: number | undefined;
  const queries: { name: string; query: QueryStatementContext; at: Node }[] = [];

  for (const statement of program.singleStatement()) {
    const s = statement.sqlStatement();
    if (!s) continue; // an empty statement (a stray semicolon)
    const ddl = s.ddlStatement();
    const create = ddl?.createTable()?.simpleCreateTable();
    if (create) {
      if (table) refuse(create, "a second CREATE TABLE (one source table per file)");
      table = sourceTable(create, builder, sql);
      continue;
    }
    const view = ddl?.createView();
    if (view) {
      queries.push({ name: identifierPath(text(view.viewPathCreate())), query: view.queryStatement(), at: view });
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
      } else if (key === "table.exec.emit.early-fire.delay") {
        earlyDelayMs = flinkDurationMs(value) ?? refuse(set, `the duration '${value}' (write '10 s', '1 min')`);
      } else {
        refuse(set, `SET '${key}' (Panes takes table.exec.emit.allow-lateness, table.exec.emit.early-fire.enabled and .delay)`);
      }
      continue;
    }
    refuse(statement, "this statement");
  }
  if (!table) throw new SqlSyntaxError({ line: 1, column: 1 }, "no CREATE TABLE: declare the source's columns and its WATERMARK");
  if (queries.length === 0)
    throw new SqlSyntaxError({ line: 1, column: 1 }, "no query: write INSERT INTO name SELECT … or CREATE VIEW name AS SELECT …");
  const early = earlyEnabled ? (earlyDelayMs ?? refuse(program, "early firing without table.exec.emit.early-fire.delay")) : undefined;
  const source = table;
  return {
    pipelines: queries.map(({ name, query }) => ({
      ...compileQuery(name, query, source, builder, sql),
      outOfOrderness: source.outOfOrderness,
      allowedLateness: allowedLatenessMs ?? 0,
      ...(early === undefined ? {} : { early }),
    })),
  };
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
    columns[identifierPath(text(column.columnNameCreate()))] = type as SqlType;
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
  return { name: identifierPath(text(create.tablePathCreate())), columns, eventTime, outOfOrderness };
}

/** `ts` or `ts - INTERVAL 'n' UNIT`: the out-of-orderness bound. */
function watermarkDelay(expression: ExpressionContext, eventTime: string, builder: ExpressionBuilder, sql: string): number {
  const text = sourceOf(expression, sql).replace(/\s+/g, " ").trim();
  if (identifierPath(text) === eventTime) return 0;
  const m = text.match(/^(`?[^`\s]+`?) - INTERVAL '(\d+)' ([A-Za-z]+)$/i);
  const unit = INTERVAL_MS[(m?.[3] ?? "").toUpperCase()];
  if (!m || identifierPath(m[1] as string) !== eventTime || unit === undefined) {
    return builder.refuse(expression, `this watermark (write WATERMARK FOR ${eventTime} AS ${eventTime} - INTERVAL '5' SECOND)`);
  }
  return Number(m[2]) * unit;
}

function intervalMs(interval: TimeIntervalExpressionContext | null, builder: ExpressionBuilder, sql: string): number {
  if (!interval) throw new Error("an interval the grammar guarantees is missing");
  const text = sourceOf(interval, sql).replace(/\s+/g, " ").trim();
  const m = text.match(/^INTERVAL '(\d+)' ([A-Za-z]+)$/i);
  const unit = INTERVAL_MS[(m?.[2] ?? "").toUpperCase()];
  if (!m || unit === undefined || Number(m[1]) <= 0) return builder.refuse(interval, "this interval (write INTERVAL '5' MINUTE)");
  return Number(m[1]) * unit;
}

function compileQuery(
  name: string,
  query: QueryStatementContext,
  table: SourceTable,
  builder: ExpressionBuilder,
  sql: string,
): Record<string, unknown> {
  const text = (node: Node) => sourceOf(node, sql);
  const whole = text(query);
  if (/\bROW_NUMBER\s*\(/i.test(whole)) builder.refuse(query, "Window Top-N (ROW_NUMBER() OVER …: not yet)");
  if (/\bOVER\s*\(/i.test(whole)) builder.refuse(query, "an OVER aggregation");
  const select = query.selectStatement();
  if (!select || query.orderByClause() || query.limitClause() || query.withClause() || query.queryStatement().length > 0) {
    return builder.refuse(query, "this query (one SELECT … FROM a window … GROUP BY)");
  }
  if (select.matchRecognizeClause()) builder.refuse(select.matchRecognizeClause() as Node, "MATCH_RECOGNIZE");
  if (select.windowClause()) builder.refuse(select.windowClause() as Node, "a WINDOW clause");
  if (select.havingClause()) builder.refuse(select.havingClause() as Node, "HAVING (not yet)");
  const from = select.fromClause()?.tableExpression();
  if (!from) return builder.refuse(select, "a query without FROM");
  if (from.KW_JOIN() || from.tableExpression().length > 0 || from.tableReference().length > 1) builder.refuse(from, "a join");

  // the window: a window TVF in FROM, or a legacy group window in GROUP BY
  let window: Record<string, unknown> | undefined;
  const tvf = from.windowTVFClause()?.windowTVFExpression();
  if (tvf) {
    const params = tvf.windowTVFParam();
    const kind = text(tvf.windowTVFName()).toUpperCase();
    const tableName = params[0]?.timeAttrColumn();
    if (!tableName || identifierPath(text(tableName)) !== table.name)
      builder.refuse(params[0] ?? tvf, `a window over something other than TABLE ${table.name}`);
    const descriptor = params[1]?.columnDescriptor();
    const timeColumn = descriptor ? identifierPath(text(descriptor).replace(/^DESCRIPTOR\s*\(\s*|\s*\)$/gi, "")) : undefined;
    if (timeColumn !== table.eventTime)
      builder.refuse(params[1] ?? tvf, `a window on a column other than the WATERMARK's (DESCRIPTOR(${table.eventTime}))`);
    const intervals = params
      .slice(2)
      .map((p) =>
        p.timeIntervalParamName() ? builder.refuse(p, "named window arguments") : intervalMs(p.timeIntervalExpression(), builder, sql),
      );
    if (kind === "TUMBLE" && intervals.length === 1) window = { type: "tumbling", size: intervals[0] };
    else if (kind === "HOP" && intervals.length === 2) window = { type: "sliding", slide: intervals[0], size: intervals[1] };
    else if (kind === "CUMULATE" && intervals.length === 2) window = { type: "cumulate", step: intervals[0], size: intervals[1] };
    else builder.refuse(tvf, `${kind} with ${intervals.length} intervals (an offset is not supported)`);
  } else {
    const reference = from.tableReference()[0];
    if (!reference || identifierPath(text(reference.tablePrimary())) !== table.name)
      builder.refuse(from, `a query over something other than ${table.name}`);
  }

  // GROUP BY: the window and one key column
  const keys: string[] = [];
  const groupItems: GroupItemDefinitionContext[] = select.groupByClause()?.groupItemDefinition() ?? [];
  if (groupItems.length === 0) builder.refuse(select, "a query without GROUP BY (a window aggregation groups by the window and a key)");
  for (const item of groupItems) {
    const groupWindow = item.groupWindowFunction();
    if (groupWindow) {
      if (tvf) builder.refuse(item, "a group window beside a window TVF");
      const kind = text(groupWindow.groupWindowFunctionName()).toUpperCase();
      if (identifierPath(text(groupWindow.timeAttrColumn())) !== table.eventTime)
        builder.refuse(groupWindow, `a window on a column other than ${table.eventTime}`);
      const interval = intervalMs(groupWindow.timeIntervalExpression(), builder, sql);
      if (kind === "TUMBLE") window = { type: "tumbling", size: interval };
      else if (kind === "SESSION") window = { type: "session", gap: interval };
      else builder.refuse(groupWindow, `the group window ${kind} (use the HOP window TVF)`);
      continue;
    }
    const column = item.columnName();
    if (!column) builder.refuse(item, "this GROUP BY item (group by columns)");
    const columnName = identifierPath(text(column as Node));
    if (tvf && (columnName === "window_start" || columnName === "window_end")) continue;
    keys.push(columnName);
  }
  if (!window) return builder.refuse(select, "a query without a window (TUMBLE, HOP, CUMULATE or a SESSION group window)");
  if (
    tvf &&
    !groupItems.some((i) => identifierPath(text(i)) === "window_start") &&
    !groupItems.some((i) => identifierPath(text(i)) === "window_end")
  ) {
    builder.refuse(select.groupByClause() as Node, "a window TVF aggregation that does not GROUP BY window_start, window_end");
  }
  if (keys.length !== 1) {
    builder.refuse(
      select.groupByClause() as Node,
      keys.length === 0
        ? "a global window (GROUP BY without a key column: not yet)"
        : "a composite key (GROUP BY several columns: not yet)",
    );
  }
  const key = keys[0] as string;
  if (!Object.hasOwn(table.columns, key)) builder.refuse(select.groupByClause() as Node, `the unknown column ${key}`);

  // the select list: window bounds, the key, and named aggregates of a column
  const aggregates: Record<string, unknown> = {};
  for (const item of select.selectClause().selectList().columnProjectItem()) {
    const plain = item.selectLiteralColumnName()?.columnName() ?? item.columnName();
    if (plain) {
      const column = identifierPath(text(plain));
      const bound = ["window_start", "window_end", "window_time"].includes(column) && tvf;
      if (!bound && column !== key) builder.refuse(item, `the column ${column}, neither grouped nor aggregated`);
      continue;
    }
    const expression = item.selectExpressionColumnName()?.expression();
    if (!expression) return builder.refuse(item, "this select item");
    const alias = item.columnAlias();
    const call = expressionCall(expression, builder, sql);
    if (call === "window-bound") continue;
    if (!alias) builder.refuse(item, "an aggregate without a name (write AVG(x) AS avg_x)");
    const aggregateName = identifierPath(text(alias as Node).replace(/^AS\s+/i, ""));
    aggregates[aggregateName] = call.argument === undefined ? { count: true } : { [call.op]: call.argument };
  }
  if (Object.keys(aggregates).length === 0) builder.refuse(select.selectClause(), "a query without aggregates");

  // WHERE: equality on STRING columns as a filter, the rest as a condition
  const filter: Record<string, string> = {};
  let where: Expr | undefined;
  const condition = select.whereClause()?.booleanExpression();
  if (condition) {
    const parsed = builder.build(condition);
    const conjuncts = parsed.kind === "and" ? parsed.operands : [parsed];
    const rest: Expr[] = [];
    for (const c of conjuncts) {
      if (
        c.kind === "compare" &&
        c.op === "=" &&
        c.left.kind === "column" &&
        table.columns[c.left.name] === "STRING" &&
        c.right.kind === "literal" &&
        typeof c.right.value === "string" &&
        !(c.left.name in filter)
      ) {
        filter[c.left.name] = c.right.value;
      } else rest.push(c);
    }
    if (rest.length === 1) where = rest[0];
    else if (rest.length > 1) where = { at: parsed.at, kind: "and", operands: rest };
  }
  return {
    name,
    key,
    eventTime: table.eventTime,
    ...(Object.keys(filter).length > 0 ? { filter } : {}),
    ...(where === undefined ? {} : { columns: table.columns, where }),
    window,
    aggregates,
  };
}

/** An aggregate call of the subset — COUNT(*), or COUNT / SUM / MIN / MAX / AVG of a column — or a window bound function. */
function expressionCall(
  expression: ExpressionContext,
  builder: ExpressionBuilder,
  sql: string,
): { op: "count" | "sum" | "min" | "max" | "avg"; argument?: string } | "window-bound" {
  const text = sourceOf(expression, sql).replace(/\s+/g, " ").trim();
  const m = text.match(/^([A-Za-z_]+)\s*\((.*)\)$/s);
  const fn = m?.[1]?.toUpperCase() ?? "";
  if (/^(TUMBLE|SESSION)_(START|END|ROWTIME)$/.test(fn)) return "window-bound";
  const op = AGGREGATES[fn];
  if (!m || !op) return builder.refuse(expression, "this select expression (aggregates over a column: COUNT(*), SUM, MIN, MAX, AVG)");
  const argument = (m[2] as string).trim();
  if (op === "count" && argument === "*") return { op };
  if (/^DISTINCT\b/i.test(argument)) return builder.refuse(expression, `${fn}(DISTINCT …) (not yet)`);
  if (!/^(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)(\s*\.\s*(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*))*$/.test(argument)) {
    return builder.refuse(expression, `${fn} of an expression (not yet: aggregate a column)`);
  }
  if (op === "count") return builder.refuse(expression, "COUNT(column) (not yet: COUNT(*))");
  return { op, argument: identifierPath(argument) };
}
