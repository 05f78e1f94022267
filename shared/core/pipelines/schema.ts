// The pipelines file: its schema (zod) is the single source of truth; Pipeline types are inferred from it.
// Durations and aggregate shorthands are normalised here, once, so the rest of the code sees milliseconds.
import { z } from "zod";
import type { AggregateSpec } from "../aggregates/state.ts";
import { MAX_KEY_GROUPS, MIN_KEY_GROUPS } from "../keygroups.ts";
import { exprSchema } from "../sql/expression-schema.ts";
import { type Expr, type SqlType, SqlTypeError, sqlTypeOf, typeOf } from "../sql/expressions.ts";
import { gcd } from "../windows/arithmetic.ts";
import type { WindowSpec } from "../windows/assigners.ts";
import { formatDuration, parseDuration } from "../windows/duration.ts";
import { resultRowTypes, wholeAggregateOf } from "./project.ts";

/** The most panes one window may combine when it fires; bounds the reads per firing. */
export const MAX_PANES_PER_WINDOW = 1440;

const duration = z.union([z.string(), z.number()]).transform((value, ctx): number => {
  const ms = typeof value === "number" ? value : parseDuration(value);
  if (ms === undefined || !Number.isSafeInteger(ms) || ms < 0) {
    ctx.addIssue({
      code: "custom",
      message: `invalid duration ${JSON.stringify(value)}: write a whole number with a unit (ms, s, m, h, d), e.g. "30s", "5m", "1h30m"`,
    });
    return z.NEVER;
  }
  return ms;
});

const positiveDuration = duration.refine((ms) => ms > 0, { message: "must be longer than 0" });

/** A window's offset (Flink's window TVF offset): a duration, "-" before it for a negative one ("8h", "-8h"). */
const offset = z.union([z.string(), z.number()]).transform((value, ctx): number => {
  const negative = typeof value === "string" && value.startsWith("-");
  const ms = typeof value === "number" ? value : parseDuration(negative ? value.slice(1) : value);
  if (ms === undefined || !Number.isSafeInteger(ms)) {
    ctx.addIssue({
      code: "custom",
      message: `invalid offset ${JSON.stringify(value)}: write a duration with a unit, "-" before it for a negative one, e.g. "8h", "-8h", "30m"`,
    });
    return z.NEVER;
  }
  return negative ? -ms : ms;
});

const fieldPath = z
  .string()
  .regex(/^[^.\s]+(\.[^.\s]+)*$/, { message: 'must be a field name or a dot path such as "tags.host"' })
  .refine((path) => !path.split(".").includes("__proto__"), { message: '"__proto__" cannot name a field' });

/** Events further ahead of the wall clock than this are dead-lettered unless a pipeline says otherwise. */
export const DEFAULT_MAX_FUTURE_SKEW = 3_600_000;

/** Key groups of a pipeline unless it says otherwise: about 300 keys a group at 10,000 keys (docs/design/key-groups.md). */
export const DEFAULT_KEY_GROUPS = 32;

const windowSchema = z
  .discriminatedUnion(
    "type",
    [
      z.strictObject({ type: z.literal("tumbling"), size: positiveDuration, offset: offset.optional() }),
      z.strictObject({ type: z.literal("sliding"), size: positiveDuration, slide: positiveDuration, offset: offset.optional() }),
      z.strictObject({ type: z.literal("session"), gap: positiveDuration }),
      z.strictObject({ type: z.literal("cumulate"), size: positiveDuration, step: positiveDuration, offset: offset.optional() }),
    ],
    { error: 'type must be "tumbling", "sliding", "session" or "cumulate"' },
  )
  .superRefine((window, ctx) => {
    // as Flink's TumblingSliceAssigner requires (HOP and CUMULATE take any offset)
    if (window.type === "tumbling" && window.offset !== undefined && Math.abs(window.offset) >= window.size) {
      ctx.addIssue({
        code: "custom",
        path: ["offset"],
        message: `must be shorter than the size (${formatDuration(window.size)}), either sign, as Flink requires of a tumbling window's offset`,
      });
    }
    if (window.type === "cumulate") {
      if (window.size % window.step !== 0) {
        ctx.addIssue({
          code: "custom",
          path: ["step"],
          message: `must divide the size: ${formatDuration(window.size)} is not a whole number of ${formatDuration(window.step)} steps`,
        });
      } else if (window.size / window.step > MAX_PANES_PER_WINDOW) {
        ctx.addIssue({
          code: "custom",
          path: ["step"],
          message: `a ${formatDuration(window.size)} window by ${formatDuration(window.step)} combines ${window.size / window.step} panes; at most ${MAX_PANES_PER_WINDOW} are allowed`,
        });
      }
      return;
    }
    if (window.type !== "sliding") return;
    const panes = window.size / gcd(window.size, window.slide);
    if (panes > MAX_PANES_PER_WINDOW) {
      ctx.addIssue({
        code: "custom",
        path: ["slide"],
        message: `a ${formatDuration(window.size)} window sliding every ${formatDuration(window.slide)} combines ${panes} panes of ${formatDuration(gcd(window.size, window.slide))}; at most ${MAX_PANES_PER_WINDOW} are allowed — choose a slide that divides the size more coarsely`,
      });
    }
  });

const AGGREGATE_OPS = ["count", "sum", "min", "max", "avg", "quantiles", "distinct", "top"] as const;

/** The most rows a top aggregate keeps (each at most MAX_TOP_ROW_BYTES): they share a pane's item. */
export const MAX_TOP_ROWS = 100;

const topSchema = z
  .strictObject({
    /** how many rows (ROW_NUMBER() … WHERE rownum <= n) */
    n: z.number().int().min(1).max(MAX_TOP_ROWS),
    /** the columns each ranked row keeps */
    fields: z.array(fieldPath).min(1).max(32),
    /** ORDER BY: the first decides, the next break ties */
    order: z
      .array(z.strictObject({ field: fieldPath, desc: z.boolean().default(false) }))
      .min(1)
      .max(8),
    /** the name of each row's number (default rownum) */
    rownum: z.string().min(1).max(64).optional(),
    /** a rank offset: the rows numbered from this one to n (default 1) */
    from: z.number().int().min(1).max(MAX_TOP_ROWS).optional(),
    /** a ranked row's columns in order: fields, window_start, window_end, window_time and the row number (default: the fields, then the row number) */
    columns: z.array(z.string().min(1).max(256)).min(1).max(40).optional(),
  })
  .superRefine((top, ctx) => {
    const known = new Set([...top.fields, "window_start", "window_end", "window_time", top.rownum ?? "rownum"]);
    top.columns?.forEach((c, i) => {
      if (!known.has(c))
        ctx.addIssue({ code: "custom", path: ["columns", i], message: `"${c}" is not a field, a window column or the row number` });
    });
    top.order.forEach((o, i) => {
      if (!top.fields.includes(o.field))
        ctx.addIssue({ code: "custom", path: ["order", i, "field"], message: `"${o.field}" must be one of the fields the rows keep` });
    });
  });

const distinctSchema = z.union([
  fieldPath.transform((field) => ({ field, precision: 12 })),
  z.strictObject({ field: fieldPath, precision: z.number().int().min(4).max(16).default(12) }),
]);

const quantilesSchema = z.strictObject({
  field: fieldPath,
  q: z.array(z.number().gt(0).lt(1)).min(1).max(20),
  /** relative accuracy of the DDSketch (default 1%) */
  accuracy: z.number().gt(0).lt(1).default(0.01),
});

const aggregateSchema = z
  .strictObject({
    /** true: every event (COUNT(*)); a field: the events where it is not NULL (COUNT(field)) */
    count: z.union([z.literal(true), fieldPath]).optional(),
    sum: fieldPath.optional(),
    min: fieldPath.optional(),
    max: fieldPath.optional(),
    avg: fieldPath.optional(),
    quantiles: quantilesSchema.optional(),
    distinct: distinctSchema.optional(),
    /** the first n rows of the window by an order (Flink SQL's Window Top-N over a window's rows) */
    top: topSchema.optional(),
    /** the unit of the values ("%", "MB", "ms"), shown on the dashboard's axes */
    unit: z.string().min(1).max(16).optional(),
  })
  .superRefine((value, ctx) => {
    const ops = AGGREGATE_OPS.filter((op) => value[op] !== undefined);
    if (ops.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message: `must name exactly one of ${AGGREGATE_OPS.join(", ")} (found ${ops.length === 0 ? "none" : ops.join(", ")}), e.g. { "avg": "value" }, { "count": true } or { "quantiles": { "field": "latency", "q": [0.5, 0.99] } }`,
      });
    }
  });

const columnType = z.string().transform((text, ctx): SqlType => {
  const type = sqlTypeOf(text);
  if (type === undefined || type === "NULL") {
    ctx.addIssue({
      code: "custom",
      message: `unknown SQL type ${JSON.stringify(text)}: BOOLEAN, INT, BIGINT, DOUBLE, DECIMAL, STRING or TIMESTAMP`,
    });
    return z.NEVER;
  }
  return type;
});

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** SQL text (compiled by the pipelines file loader) or its compiled expression. */
const sqlExpression = z.union([z.string(), exprSchema]);

const columnName = z.string().regex(/^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/, { message: "names must be identifiers" });

/** Most columns a key may combine (GROUP BY a, b, …). */
export const MAX_KEY_COLUMNS = 8;

/**
 * An object whose keys name things: a key "__proto__" (JSON.parse makes it an own key) would be lost
 * when copied into an object, so it is refused by name before the record is read.
 */
function namedRecord<K extends z.ZodType<string>, V extends z.ZodType>(key: K, value: V, what: string) {
  return z
    .unknown()
    .superRefine((input, ctx) => {
      if (input !== null && typeof input === "object" && Object.hasOwn(input, "__proto__"))
        ctx.addIssue({ code: "custom", message: `"__proto__" cannot name ${what}` });
    })
    .pipe(z.record(key, value));
}

const pipelineName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
  message: "must be 1–64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit",
});

export const pipelineSchema = z
  .strictObject({
    name: pipelineName,
    /**
     * A cascade (Flink SQL's window aggregation over another's rows): the pipeline reads the final rows
     * of pipeline `pipeline` (its result values, with window_start, window_end and window_time), not the
     * stream; its event time is the row's `eventTime` column (the window_time). `sameWindow`: each row is
     * aggregated in the window it came from (GROUP BY …, window_start, window_end over the rows).
     */
    from: z.strictObject({ pipeline: pipelineName, sameWindow: z.boolean().default(false) }).optional(),
    /** the pipeline's rows only feed the pipelines reading it (a FROM subquery): not published */
    internal: z.boolean().optional(),
    /**
     * The key field, or the key's columns (GROUP BY a, b: a composite key, written as a JSON array of
     * their values), or [] for one window of all events (a global window)
     */
    key: z.union([fieldPath, z.array(fieldPath).max(MAX_KEY_COLUMNS)]),
    eventTime: fieldPath,
    /** what a number in the event-time field counts (an ISO-8601 string is read as what it says) */
    eventTimeUnit: z.enum(["milliseconds", "seconds", "microseconds"]).default("milliseconds"),
    filter: namedRecord(fieldPath, scalar, "a field").default({}),
    window: windowSchema,
    aggregates: namedRecord(
      z.string().regex(/^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/, { message: "aggregate names must be identifiers" }),
      aggregateSchema,
      "an aggregate",
    ).refine((aggregates) => Object.keys(aggregates).length > 0, { message: "needs at least one aggregate" }),
    outOfOrderness: duration.default(0),
    allowedLateness: duration.default(0),
    idleTimeout: positiveDuration.default(60_000),
    /** emit the current result of open windows at most this often (processing time), before the final one */
    early: positiveDuration.optional(),
    /** events whose time is further ahead of the wall clock than this are dead-lettered (default 1 h) */
    maxFutureSkew: positiveDuration.default(DEFAULT_MAX_FUTURE_SKEW),
    /** count an event id once within this window (producers that retry write the same event twice) */
    dedupe: z.strictObject({ field: fieldPath, within: positiveDuration }).optional(),
    /**
     * How many key groups the pipeline's keys hash into (Flink's max parallelism): state and results are
     * kept per group, and a group is the unit of closing work. Fixed once the pipeline has state.
     */
    keyGroups: z
      .number()
      .int({ message: "must be a whole number" })
      .min(MIN_KEY_GROUPS)
      .max(MAX_KEY_GROUPS, { message: `must be at most ${MAX_KEY_GROUPS} (Flink's bound)` })
      .default(DEFAULT_KEY_GROUPS),
    /** the SQL types of the fields `where` reads (Flink's CREATE TABLE columns) */
    columns: namedRecord(fieldPath, columnType, "a column").default({}),
    /** a SQL condition (Flink SQL's WHERE): the pipeline takes an event only when it is TRUE */
    where: sqlExpression.optional(),
    /** values computed from each event's columns (SQL expressions), named for aggregates and keys to read */
    computed: namedRecord(columnName, sqlExpression, "a computed value").optional(),
    /**
     * The result's values (Flink SQL's select list): SQL expressions over the aggregates, the key's
     * columns and window_start, window_end, window_time. Absent: one value per aggregate.
     */
    select: namedRecord(columnName, sqlExpression, "a selected value").optional(),
    /** a SQL condition on the result row (Flink SQL's HAVING): a window whose row it does not keep gives no result */
    having: sqlExpression.optional(),
    /**
     * Window Top-N after the aggregation: each window's (and partition's) first n key results by
     * order, as one result whose rows carry their row number
     */
    rank: z
      .strictObject({
        n: z.number().int().min(1).max(MAX_TOP_ROWS),
        partition: z.array(fieldPath).max(MAX_KEY_COLUMNS).default([]),
        order: z
          .array(z.strictObject({ field: columnName, desc: z.boolean().default(false) }))
          .min(1)
          .max(8),
        rownum: columnName.default("rownum"),
        /** a rank offset: the rows numbered from this one to n (default 1) */
        from: z.number().int().min(1).max(MAX_TOP_ROWS).optional(),
        /** a ranked row's columns in order (default: the result's values, then the row number) */
        columns: z.array(z.string().min(1).max(256)).min(1).max(40).optional(),
      })
      .optional(),
  })
  .superRefine((p, ctx) => {
    const columns = p.columns as Record<string, SqlType>;
    const declared = (name: string) => (Object.hasOwn(columns, name) ? columns[name] : undefined);
    const check = (
      path: (string | number)[],
      expr: string | Expr,
      scope: (name: string) => SqlType | undefined,
      hint = "",
    ): SqlType | undefined => {
      if (typeof expr === "string") {
        ctx.addIssue({
          code: "custom",
          path,
          message: "is SQL text the pipelines file loader compiles; load the file with `panes` or cdk synth",
        });
        return undefined;
      }
      try {
        return typeOf(expr, scope);
      } catch (error) {
        if (!(error instanceof SqlTypeError)) throw error;
        const more = error.message.startsWith("unknown column") ? hint : "";
        ctx.addIssue({ code: "custom", path, message: `${error.at.line}:${error.at.column}: ${error.message}${more}` });
        return undefined;
      }
    };
    const declareHint = ` (declare its type in "columns", e.g. "columns": { "status": "INT" })`;
    // a field's SQL type: computed, declared, or (undefined) read as the JSON form always has
    const fieldType = (name: string) => (Object.hasOwn(computedTypes, name) ? computedTypes[name] : declared(name));
    const computedTypes: Record<string, SqlType> = {};
    for (const [name, expr] of Object.entries(p.computed ?? {})) {
      const type = check(["computed", name], expr, declared, declareHint);
      if (type !== undefined) computedTypes[name] = type;
    }
    if (p.where !== undefined) {
      const type = check(["where"], p.where, fieldType, declareHint);
      if (type !== undefined && type !== "BOOLEAN" && type !== "NULL")
        ctx.addIssue({ code: "custom", path: ["where"], message: `must be a condition (BOOLEAN), not ${type}` });
    }
    for (const [name, a] of Object.entries(p.aggregates)) {
      const op = AGGREGATE_OPS.find((candidate) => a[candidate] !== undefined);
      if (op === undefined || op === "count" || op === "distinct" || op === "top") continue;
      const field = op === "quantiles" ? (a.quantiles as { field: string }).field : (a[op] as string);
      const type = fieldType(field);
      const ordered = op === "min" || op === "max" ? ["INT", "BIGINT", "DOUBLE", "TIMESTAMP"] : ["INT", "BIGINT", "DOUBLE"];
      if (type !== undefined && type !== "NULL" && !ordered.includes(type))
        ctx.addIssue({
          code: "custom",
          path: ["aggregates", name, op],
          message: `${op} needs a number${ordered.includes("TIMESTAMP") ? " or a TIMESTAMP" : ""}, but "${field}" is ${type}`,
        });
    }
    const keyColumns = typeof p.key === "string" ? [p.key] : p.key;
    if (new Set(keyColumns).size !== keyColumns.length) ctx.addIssue({ code: "custom", path: ["key"], message: "names a column twice" });
  })
  .transform((p) => ({
    name: p.name,
    key: p.key,
    eventTime: p.eventTime,
    eventTimeUnit: p.eventTimeUnit,
    filter: p.filter,
    window: p.window as WindowSpec,
    aggregates: Object.entries(p.aggregates).map(([name, a]): AggregateSpec => {
      const op = AGGREGATE_OPS.find((candidate) => a[candidate] !== undefined) ?? "count";
      const unit = a.unit === undefined ? {} : { unit: a.unit };
      if (op === "count") return typeof a.count === "string" ? { name, op, field: a.count, ...unit } : { name, op, ...unit };
      if (op === "distinct") {
        const distinct = a.distinct as z.output<typeof distinctSchema>;
        return { name, op, field: distinct.field, precision: distinct.precision, ...unit };
      }
      if (op === "top") {
        const top = a.top as z.output<typeof topSchema>;
        return {
          name,
          op,
          n: top.n,
          fields: top.fields,
          order: top.order,
          ...(top.rownum === undefined ? {} : { rownum: top.rownum }),
          ...(top.from === undefined ? {} : { from: top.from }),
          ...(top.columns === undefined ? {} : { columns: top.columns }),
          ...unit,
        };
      }
      if (op === "quantiles") {
        const quantiles = a.quantiles as z.output<typeof quantilesSchema>;
        return { name, op, field: quantiles.field, q: quantiles.q, accuracy: quantiles.accuracy, ...unit };
      }
      return { name, op, field: a[op] as string, ...unit };
    }),
    outOfOrderness: p.outOfOrderness,
    allowedLateness: p.allowedLateness,
    idleTimeout: p.idleTimeout,
    maxFutureSkew: p.maxFutureSkew,
    early: p.early,
    dedupe: p.dedupe,
    keyGroups: p.keyGroups,
    // only pipelines that read SQL columns carry their types
    ...(Object.keys(p.columns).length === 0 ? {} : { columns: p.columns as Record<string, SqlType> }),
    ...(p.where === undefined ? {} : { where: p.where as Expr }),
    ...(p.computed === undefined ? {} : { computed: p.computed as Record<string, Expr> }),
    ...(p.select === undefined ? {} : { select: p.select as Record<string, Expr> }),
    ...(p.having === undefined ? {} : { having: p.having as Expr }),
    ...(p.rank === undefined ? {} : { rank: p.rank }),
    ...(p.from === undefined ? {} : { from: p.from }),
    ...(p.internal ? { internal: true as const } : {}),
  }))
  .superRefine((p, ctx) => {
    if (p.rank !== undefined) {
      const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path: ["rank", ...path], message });
      if (p.window.type === "session") issue([], "ranks the windows of a window TVF (tumbling, sliding or cumulate), not sessions");
      const keys = typeof p.key === "string" ? [p.key] : p.key;
      const columns = p.select === undefined ? p.aggregates.map((a) => a.name) : Object.keys(p.select);
      p.rank.partition.forEach((column, i) => {
        if (!keys.includes(column)) issue(["partition", i], `"${column}" must be one of the key's columns`);
        else if (!columns.includes(column)) issue(["partition", i], `"${column}" must be selected (in select)`);
      });
      p.rank.order.forEach((o, i) => {
        if (!columns.includes(o.field))
          issue(["order", i, "field"], `"${o.field}" must be one of the result's values (${columns.join(", ")})`);
      });
    }
    const row = resultRowTypes(p);
    const rowHint = " (a result row has the aggregates, the key's columns and window_start, window_end, window_time)";
    if (p.having !== undefined) {
      try {
        const type = typeOf(p.having, row);
        if (type !== "BOOLEAN" && type !== "NULL")
          ctx.addIssue({ code: "custom", path: ["having"], message: `must be a condition (BOOLEAN), not ${type}` });
      } catch (error) {
        if (!(error instanceof SqlTypeError)) throw error;
        const hint = error.message.startsWith("unknown column") ? rowHint : "";
        ctx.addIssue({ code: "custom", path: ["having"], message: `${error.at.line}:${error.at.column}: ${error.message}${hint}` });
      }
    }
    if (p.select === undefined) return;
    for (const [name, expr] of Object.entries(p.select)) {
      if (wholeAggregateOf(expr, p.aggregates)) continue;
      try {
        typeOf(expr, row);
      } catch (error) {
        if (!(error instanceof SqlTypeError)) throw error;
        const hint = error.message.startsWith("unknown column") ? rowHint : "";
        ctx.addIssue({ code: "custom", path: ["select", name], message: `${error.at.line}:${error.at.column}: ${error.message}${hint}` });
      }
    }
  });

export const pipelinesFileSchema = z
  .strictObject({ pipelines: z.array(pipelineSchema).min(1, { message: "needs at least one pipeline" }) })
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.pipelines.forEach((pipeline, index) => {
      if (seen.has(pipeline.name)) {
        ctx.addIssue({ code: "custom", path: ["pipelines", index, "name"], message: `duplicate pipeline name "${pipeline.name}"` });
      }
      seen.add(pipeline.name);
    });
    for (const { index, path, message } of cascadeIssues(file.pipelines))
      ctx.addIssue({ code: "custom", path: ["pipelines", index, ...path], message });
  });

/**
 * What a cascade (a pipeline `from` another) may not be, as Flink's window TVF rows allow: its source's
 * rows are final (no allowed lateness, no early firing: their updates would need retractions the second
 * stage cannot take back), of windows, not rankings or sessions (not yet), and sources do not loop.
 */
export function cascadeIssues(pipelines: readonly Pipeline[]): { index: number; path: (string | number)[]; message: string }[] {
  const issues: { index: number; path: (string | number)[]; message: string }[] = [];
  const byName = new Map(pipelines.map((p) => [p.name, p]));
  for (const [index, p] of pipelines.entries()) {
    const issue = (path: (string | number)[], message: string) => {
      issues.push({ index, path, message });
    };
    if (p.internal && !pipelines.some((q) => q.from?.pipeline === p.name))
      issue(["internal"], "is for a pipeline another reads (from): no pipeline reads this one");
    if (p.from === undefined) continue;
    const source = byName.get(p.from.pipeline);
    if (source === undefined) {
      issue(["from", "pipeline"], `"${p.from.pipeline}" is not a pipeline of this file`);
      continue;
    }
    const seen = new Set([p.name]);
    let loop: string | undefined;
    for (
      let s: Pipeline | undefined = source;
      s !== undefined && loop === undefined;
      s = s.from ? byName.get(s.from.pipeline) : undefined
    ) {
      if (seen.has(s.name)) loop = s.name;
      seen.add(s.name);
    }
    if (loop !== undefined) {
      issue(["from", "pipeline"], `reads itself through "${loop}" (pipelines read each other in a loop)`);
      continue;
    }
    const what = `"${source.name}", which this pipeline reads,`;
    if (source.allowedLateness > 0)
      issue(
        ["from", "pipeline"],
        `${what} has allowedLateness: a cascade reads final rows only (a late event would change a row already read)`,
      );
    if (source.early !== undefined) issue(["from", "pipeline"], `${what} fires early: a cascade reads final rows only`);
    if (source.rank !== undefined)
      issue(["from", "pipeline"], `${what} ranks (Window Top-N): a cascade over rankings is not supported yet`);
    if (source.window.type === "session")
      issue(["from", "pipeline"], `${what} has session windows: a cascade over sessions is not supported yet`);
    if (p.window.type === "session")
      issue(["window"], "a cascade's window is tumbling, sliding or cumulate (sessions over rows are not supported yet)");
    if (p.early !== undefined) issue(["early"], "a cascade fires when its source's windows are final: early firing is not supported");
    if (p.dedupe !== undefined) issue(["dedupe"], "a cascade reads rows, which are never repeated: no dedupe");
    if (p.from.sameWindow && JSON.stringify(p.window) !== JSON.stringify(source.window))
      issue(["window"], `must be the window of "${source.name}" (sameWindow: each row stays in its window)`);
  }
  return issues;
}

/** What users write (durations as text, aggregates as { op: field }). */
export type PipelinesInput = z.input<typeof pipelinesFileSchema>;
/** What the code uses (durations in ms, aggregates as a list). */
export type Pipeline = z.output<typeof pipelineSchema>;

/** How a pipeline's key is named for people: "host", "service, endpoint", or "all events" (a global window). */
export function keyLabel(pipeline: Pick<Pipeline, "key">): string {
  if (typeof pipeline.key === "string") return pipeline.key;
  return pipeline.key.length === 0 ? "all events" : pipeline.key.join(", ");
}

/** Typed helper for a pipelines module (`export default definePipelines({...})`). */
export function definePipelines(input: PipelinesInput): PipelinesInput {
  return input;
}
