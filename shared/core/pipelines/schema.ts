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
      z.strictObject({ type: z.literal("tumbling"), size: positiveDuration }),
      z.strictObject({ type: z.literal("sliding"), size: positiveDuration, slide: positiveDuration }),
      z.strictObject({ type: z.literal("session"), gap: positiveDuration }),
      z.strictObject({ type: z.literal("cumulate"), size: positiveDuration, step: positiveDuration }),
    ],
    { error: 'type must be "tumbling", "sliding", "session" or "cumulate"' },
  )
  .superRefine((window, ctx) => {
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

const AGGREGATE_OPS = ["count", "sum", "min", "max", "avg", "quantiles", "distinct"] as const;

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
    count: z.literal(true).optional(),
    sum: fieldPath.optional(),
    min: fieldPath.optional(),
    max: fieldPath.optional(),
    avg: fieldPath.optional(),
    quantiles: quantilesSchema.optional(),
    distinct: distinctSchema.optional(),
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

export const pipelineSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
      message: "must be 1–64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit",
    }),
    key: fieldPath,
    eventTime: fieldPath,
    /** what a number in the event-time field counts (an ISO-8601 string is read as what it says) */
    eventTimeUnit: z.enum(["milliseconds", "seconds", "microseconds"]).default("milliseconds"),
    filter: namedRecord(fieldPath, scalar, "a field").default({}),
    window: windowSchema,
    aggregates: namedRecord(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, { message: "aggregate names must be identifiers" }),
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
    where: z.union([z.string(), exprSchema]).optional(),
  })
  .superRefine((p, ctx) => {
    if (p.where === undefined) return;
    if (typeof p.where === "string") {
      ctx.addIssue({
        code: "custom",
        path: ["where"],
        message: "is SQL text the pipelines file loader compiles; load the file with `panes` or cdk synth",
      });
      return;
    }
    const columns = p.columns as Record<string, SqlType>;
    try {
      const type = typeOf(p.where, (name) => (Object.hasOwn(columns, name) ? columns[name] : undefined));
      if (type !== "BOOLEAN" && type !== "NULL")
        ctx.addIssue({ code: "custom", path: ["where"], message: `must be a condition (BOOLEAN), not ${type}` });
    } catch (error) {
      if (!(error instanceof SqlTypeError)) throw error;
      const hint = error.message.startsWith("unknown column")
        ? ` (declare its type in "columns", e.g. "columns": { "status": "INT" })`
        : "";
      ctx.addIssue({ code: "custom", path: ["where"], message: `${error.at.line}:${error.at.column}: ${error.message}${hint}` });
    }
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
      if (op === "count") return { name, op, ...unit };
      if (op === "distinct") {
        const distinct = a.distinct as z.output<typeof distinctSchema>;
        return { name, op, field: distinct.field, precision: distinct.precision, ...unit };
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
    // only pipelines with a condition carry its columns
    ...(p.where === undefined ? {} : { columns: p.columns as Record<string, SqlType>, where: p.where as Expr }),
  }));

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
  });

/** What users write (durations as text, aggregates as { op: field }). */
export type PipelinesInput = z.input<typeof pipelinesFileSchema>;
/** What the code uses (durations in ms, aggregates as a list). */
export type Pipeline = z.output<typeof pipelineSchema>;

/** Typed helper for a pipelines module (`export default definePipelines({...})`). */
export function definePipelines(input: PipelinesInput): PipelinesInput {
  return input;
}
