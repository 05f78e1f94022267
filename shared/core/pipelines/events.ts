// Reads one pipeline's view of a decoded event: does the filter match, and what are its key, event time
// and aggregated values. A record that matches the filter but lacks what the pipeline needs — or holds
// something DynamoDB or Kinesis cannot carry (docs/DESIGN.md §Limits) — is invalid: it goes to the
// dead-letter store with the reason. A record that does not match is simply not ours. Pure.

import type { TopRow, TopValue } from "../aggregates/top.ts";
import { EvaluationError, type Expr, evaluate, readColumn, type SqlType, type SqlValue, simplify, typeOf } from "../sql/expressions.ts";
import { paneOf } from "../windows/assigners.ts";
import { NULL_KEY } from "./project.ts";
import type { Pipeline } from "./schema.ts";

/** Event times are epoch ms between 1970 and the end of year 9999. */
export const MAX_EVENT_TIME = 253_402_300_799_999;

/** DynamoDB partition keys hold at most 2,048 bytes; state items prefix a key with `P#<pipeline>#`. */
const PARTITION_KEY_BYTES = 2048;

/** DynamoDB numbers: at most 38 significant digits (a double has 17), magnitude within 1E-130 … 9.99…E+125. */
const MAX_NUMBER = 9.999999999999999e125;
const MIN_NUMBER = 1e-130;

const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

export type PipelineEvent =
  | {
      kind: "event";
      key: string;
      ts: number;
      values: Record<string, number | null>;
      keys: Record<string, string | null>;
      /** the event's row for each top aggregate (Window Top-N), by the aggregate's name */
      rows?: Record<string, TopRow>;
      id?: string;
      /** a number of milliseconds that reads like epoch seconds (between 1970-01-12 and 1970-04-27): counted, shown */
      secondsLike?: true;
    }
  | { kind: "skipped" }
  | { kind: "invalid"; reason: string };

const pathParts = new Map<string, string[]>();

/** A field by dot path, own properties only (a field named `constructor` is not Object's). */
export function valueAt(event: unknown, path: string): unknown {
  let parts = pathParts.get(path);
  if (parts === undefined) {
    parts = path.split(".");
    if (pathParts.size < 10_000) pathParts.set(path, parts);
  }
  let node = event;
  for (const part of parts) {
    if (node === null || typeof node !== "object" || Array.isArray(node) || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** The most bytes a key (or a dedupe id) of this pipeline may have, so that every item key stays within DynamoDB's limit. */
export function maxKeyBytesOf(pipeline: Pick<Pipeline, "name">): number {
  return PARTITION_KEY_BYTES - utf8Length(`P#${pipeline.name}#`);
}

const maxKeyBytes = new WeakMap<Pipeline, number>();
function maxKeyBytesCached(pipeline: Pipeline): number {
  let bytes = maxKeyBytes.get(pipeline);
  if (bytes === undefined) {
    bytes = maxKeyBytesOf(pipeline);
    maxKeyBytes.set(pipeline, bytes);
  }
  return bytes;
}

/** A number DynamoDB can store exactly as a number. */
export function isStorableNumber(value: number): boolean {
  const magnitude = Math.abs(value);
  return Number.isFinite(value) && magnitude <= MAX_NUMBER && (magnitude === 0 || magnitude >= MIN_NUMBER);
}

const utf8 = new TextEncoder();
const utf8Length = (text: string) => utf8.encode(text).byteLength;

const daysInMonth = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/** What a number in an event-time field counts. */
export type EventTimeUnit = "milliseconds" | "seconds" | "microseconds";

const MS_PER_UNIT: Record<EventTimeUnit, number> = { milliseconds: 1, seconds: 1000, microseconds: 0.001 };

/**
 * Epoch seconds of 2001-09-09 to 2286-11-20, read as milliseconds, fall between 1970-01-12 and
 * 1970-04-27: a time there is almost surely seconds taken for milliseconds. Not refused (a test's or a
 * replay's times may start at the epoch), but counted and shown (status, the dashboard, a metric).
 */
export const SECONDS_LIKE_MS = { from: 1e9, to: 1e10 } as const;

export function looksLikeSeconds(ms: number): boolean {
  return ms >= SECONDS_LIKE_MS.from && ms < SECONDS_LIKE_MS.to;
}

/**
 * Parses an event time: a number of `unit`s since the epoch (default milliseconds) or an ISO-8601
 * string with a zone and a real calendar date; epoch milliseconds, or the reason it is not one.
 */
export function parseEventTime(value: unknown, unit: EventTimeUnit = "milliseconds"): number | string {
  let ms: number;
  if (typeof value === "number") {
    ms = Math.floor(value * MS_PER_UNIT[unit]);
  } else if (typeof value === "string" && ISO_8601.test(value)) {
    const [, year, month, day, hour, minute, second] = (value.match(ISO_8601) ?? []).map(Number);
    const valid =
      (month as number) >= 1 &&
      (month as number) <= 12 &&
      (day as number) >= 1 &&
      (day as number) <= daysInMonth(year as number, month as number) &&
      (hour as number) <= 23 &&
      (minute as number) <= 59 &&
      (Number.isNaN(second) || (second as number) <= 59);
    if (!valid) return `is not a calendar date and time (${describe(value)})`;
    ms = Date.parse(value);
  } else {
    return `must be epoch ${unit} or an ISO-8601 time with a zone, got ${describe(value)}`;
  }
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_EVENT_TIME) return `is out of range (${describe(value)})`;
  return ms;
}

/** A short, safe description of any value for a reason text: never walks a deep structure. */
export function describe(value: unknown): string {
  if (value === undefined) return "nothing (the field is missing)";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") {
    const text = JSON.stringify(value.length > 60 ? value.slice(0, 57) : value);
    return value.length > 60 ? `${text.slice(0, -1)}..." (${value.length} characters)` : text;
  }
  return String(value);
}

/** A key, event id or distinct value as text: non-empty, well-formed Unicode, within the item key limit. */
function textOf(value: unknown, what: string, maxBytes: number): { text: string } | { reason: string } {
  if (!(typeof value === "string" && value.length > 0) && !(typeof value === "number" && Number.isFinite(value))) {
    return { reason: `${what} must be a non-empty string or a number, got ${describe(value)}` };
  }
  const text = String(value);
  // Lone surrogates do not survive UTF-8: two different keys would become one item.
  if (!text.isWellFormed()) return { reason: `${what} is not well-formed Unicode (it holds a lone surrogate), got ${describe(value)}` };
  // A UTF-16 code unit is at most 3 bytes of UTF-8: most texts need no counting.
  const bytes = text.length * 3 <= maxBytes ? 0 : utf8Length(text);
  if (bytes > maxBytes)
    return { reason: `${what} is ${bytes} bytes in UTF-8; at most ${maxBytes} fit in a DynamoDB key (got ${describe(value)})` };
  return { text };
}

const filters = new WeakMap<Pipeline, [path: string, expected: unknown][]>();

export function matchesFilter(pipeline: Pipeline, event: unknown): boolean {
  let filter = filters.get(pipeline);
  if (filter === undefined) {
    filter = Object.entries(pipeline.filter);
    filters.set(pipeline, filter);
  }
  for (const [path, expected] of filter) {
    if (valueAt(event, path) !== expected) return false;
  }
  return true;
}

/** Column decoding failed: the event is invalid for this pipeline, with the reason. */
class ColumnError extends Error {}

/** What reading a pipeline's SQL columns needs, worked out once per pipeline. */
interface SqlReader {
  /** the types of every node of `where` and of the computed values */
  types: (e: Expr) => SqlType;
  computed: Map<string, Expr>;
  where?: Expr;
}

const readers = new WeakMap<Pipeline, SqlReader>();

function sqlReaderOf(pipeline: Pipeline): SqlReader {
  let reader = readers.get(pipeline);
  if (reader === undefined) {
    const declared = (name: string) => pipeline.columns?.[name];
    const record = new WeakMap<Expr, SqlType>();
    // as Flink plans them: constants computed once, an operator on the NULL literal NULL (`simplify`)
    const computed = new Map(Object.entries(pipeline.computed ?? {}).map(([name, expr]) => [name, simplify(expr, declared)]));
    const computedTypes = new Map([...computed].map(([name, expr]) => [name, typeOf(expr, declared, record)]));
    // where reads the computed values too (a view's columns)
    const scope = (name: string) => computedTypes.get(name) ?? declared(name);
    const where = pipeline.where && simplify(pipeline.where, scope);
    if (where) typeOf(where, scope, record);
    reader = {
      types: (e) => record.get(e) ?? typeOf(e, declared, record),
      computed,
      where,
    };
    readers.set(pipeline, reader);
  }
  return reader;
}

/** Whether a field is read as a SQL column (declared or computed): NULL allowed, typed as declared. */
export function isSqlField(pipeline: Pipeline, name: string): boolean {
  return Object.hasOwn(pipeline.computed ?? {}, name) || Object.hasOwn(pipeline.columns ?? {}, name);
}

/** One event's SQL columns, each read (or computed) once. Throws ColumnError or EvaluationError. */
function sqlRowOf(pipeline: Pipeline, event: unknown): (name: string) => SqlValue {
  const reader = sqlReaderOf(pipeline);
  const known = new Map<string, SqlValue>();
  const column = (name: string): SqlValue => {
    const type = pipeline.columns?.[name] ?? "STRING";
    const read = readColumn(valueAt(event, name), type, (v) => parseEventTime(v, pipeline.eventTimeUnit));
    if ("reason" in read) throw new ColumnError(`field "${name}" (${type === "INT" ? "an" : "a"} ${type} column) ${read.reason}`);
    return read.value;
  };
  const row = (name: string): SqlValue => {
    let value = known.get(name);
    if (value !== undefined || known.has(name)) return value as SqlValue;
    const expr = reader.computed.get(name);
    if (expr === undefined) value = column(name);
    else {
      try {
        value = evaluate(expr, column, reader.types);
      } catch (error) {
        if (error instanceof EvaluationError) throw new EvaluationError(`computed value "${name}": ${error.message}`);
        throw error;
      }
    }
    known.set(name, value);
    return value;
  };
  return row;
}

/**
 * The pipeline's `where` condition on one event: "keep" when TRUE, "skip" when FALSE or NULL, or the
 * reason the event cannot be judged (a field that is not of its column's type, a division by zero).
 */
export function checkWhere(pipeline: Pipeline, event: unknown, row = sqlRowOf(pipeline, event)): "keep" | "skip" | { reason: string } {
  if (pipeline.where === undefined) return "keep";
  const reader = sqlReaderOf(pipeline);
  try {
    return evaluate(reader.where as Expr, row, reader.types) === true ? "keep" : "skip";
  } catch (error) {
    if (error instanceof ColumnError) return { reason: error.message.replace(" column)", " column of where)") };
    if (error instanceof EvaluationError) return { reason: `where: ${error.message}` };
    throw error;
  }
}

/** The most bytes one ranked row (Window Top-N) may take as JSON: N of them share a pane's item. */
export const MAX_TOP_ROW_BYTES = 1024;

/** A field's value as a ranked row keeps it: numbers, text, booleans, NULL; anything else as its JSON. */
function topValueOf(value: unknown): TopValue {
  if (value === undefined || value === null) return null;
  if (typeof value === "number" || typeof value === "string" || typeof value === "boolean") return value;
  return JSON.stringify(value);
}

/** The key text of an event, or the reason it has none. */
function keyOf(
  pipeline: Pipeline,
  event: unknown,
  row: (name: string) => SqlValue,
  maxKeyBytes: number,
): { text: string } | { reason: string } {
  const key = pipeline.key;
  if (typeof key === "string" && !isSqlField(pipeline, key)) return textOf(valueAt(event, key), `key field "${key}"`, maxKeyBytes);
  const columns = typeof key === "string" ? [key] : key;
  const parts: (string | number | boolean | null)[] = columns.map((name) => row(name));
  // as Flink groups them, the events whose key column is NULL are a group of their own
  if (typeof key === "string") {
    const value = parts[0] as string | number | boolean | null;
    if (value === null) return { text: NULL_KEY };
    // a BOOLEAN key column groups by its two values, as its text
    return textOf(typeof value === "boolean" ? String(value) : value, `key column "${key}"`, maxKeyBytes);
  }
  const text = JSON.stringify(parts);
  if (!text.isWellFormed()) return { reason: `the key ${describe(text)} is not well-formed Unicode (it holds a lone surrogate)` };
  const bytes = utf8Length(text);
  if (bytes > maxKeyBytes)
    return { reason: `the key is ${bytes} bytes in UTF-8; at most ${maxKeyBytes} fit in a DynamoDB key (got ${describe(text)})` };
  return { text };
}

export function readPipelineEvent(pipeline: Pipeline, event: unknown, now = Date.now()): PipelineEvent {
  if (!matchesFilter(pipeline, event)) return { kind: "skipped" };
  const row = sqlRowOf(pipeline, event);
  try {
    return readMatched(pipeline, event, row, now);
  } catch (error) {
    if (error instanceof ColumnError) return { kind: "invalid", reason: error.message };
    if (error instanceof EvaluationError) return { kind: "invalid", reason: error.message };
    throw error;
  }
}

function readMatched(pipeline: Pipeline, event: unknown, row: (name: string) => SqlValue, now: number): PipelineEvent {
  const where = checkWhere(pipeline, event, row);
  if (where === "skip") return { kind: "skipped" };
  if (where !== "keep") return { kind: "invalid", reason: where.reason };
  const maxKeyBytes = maxKeyBytesCached(pipeline);
  const key = keyOf(pipeline, event, row, maxKeyBytes);
  if ("reason" in key) return { kind: "invalid", reason: key.reason };
  const raw = valueAt(event, pipeline.eventTime);
  const ts = parseEventTime(raw, pipeline.eventTimeUnit);
  if (typeof ts === "string") return { kind: "invalid", reason: `event time field "${pipeline.eventTime}" ${ts}` };
  // a window offset can put the first pane of a time just after 1970 before it, where no pane is kept
  if (paneOf(pipeline.window, ts) < 0)
    return {
      kind: "invalid",
      reason: `event time ${new Date(ts).toISOString()} falls in a window starting before 1970-01-01 (the window's offset), which Panes cannot keep`,
    };
  if (pipeline.maxFutureSkew !== undefined && ts > now + pipeline.maxFutureSkew) {
    return {
      kind: "invalid",
      reason: `event time ${new Date(ts).toISOString()} is more than maxFutureSkew (${pipeline.maxFutureSkew} ms) ahead of the wall clock ${new Date(now).toISOString()}`,
    };
  }
  let id: string | undefined;
  if (pipeline.dedupe) {
    const dedupe = textOf(valueAt(event, pipeline.dedupe.field), `dedupe field "${pipeline.dedupe.field}"`, maxKeyBytes);
    if ("reason" in dedupe) return { kind: "invalid", reason: dedupe.reason };
    id = dedupe.text;
  }
  const values: Record<string, number | null> = {};
  const keys: Record<string, string | null> = {};
  let rows: Record<string, TopRow> | undefined;
  for (const aggregate of pipeline.aggregates) {
    if (aggregate.op === "count" && aggregate.field === undefined) continue;
    if (aggregate.op === "top") {
      const topRow = aggregate.fields.map((f) => topValueOf(isSqlField(pipeline, f) ? row(f) : valueAt(event, f)));
      const bytes = utf8Length(JSON.stringify(topRow));
      if (bytes > MAX_TOP_ROW_BYTES)
        return {
          kind: "invalid",
          reason: `its row for aggregate "${aggregate.name}" is ${bytes} bytes as JSON; a ranked row holds at most ${MAX_TOP_ROW_BYTES}`,
        };
      rows ??= {};
      rows[aggregate.name] = topRow;
      continue;
    }
    const field = aggregate.field as string;
    if (isSqlField(pipeline, field)) {
      // a SQL column: NULL is skipped by the aggregate (Flink), anything else is what its type says
      const value = row(field);
      if (aggregate.op === "distinct") {
        keys[field] = value === null ? null : typeof value === "string" ? value : JSON.stringify(value);
        continue;
      }
      if (typeof value === "number" && !isStorableNumber(value)) {
        return {
          kind: "invalid",
          reason: `${Object.hasOwn(pipeline.computed ?? {}, field) ? "computed value" : "field"} "${field}" (aggregate "${aggregate.name}") is ${value}: DynamoDB stores numbers from 1e-130 to 9.99e125 in magnitude (and 0)`,
        };
      }
      // COUNT(x) of a column that is not a number counts it as 1 when it is not NULL
      if (!(typeof values[field] === "number")) values[field] = value === null ? null : typeof value === "number" ? value : 1;
      continue;
    }
    if (aggregate.op === "distinct") {
      const distinct = textOf(valueAt(event, aggregate.field), `field "${aggregate.field}" (aggregate "${aggregate.name}")`, 64 * 1024);
      if ("reason" in distinct) return { kind: "invalid", reason: distinct.reason };
      keys[aggregate.field] = distinct.text;
      continue;
    }
    const value = valueAt(event, field);
    if (aggregate.op === "count") {
      // COUNT(field): the events whose field is there and not null
      if (!Object.hasOwn(values, field))
        values[field] = value === undefined || value === null ? null : typeof value === "number" && isStorableNumber(value) ? value : 1;
      continue;
    }
    if (typeof value !== "number" || !Number.isFinite(value)) {
      return {
        kind: "invalid",
        reason: `field "${aggregate.field}" (aggregate "${aggregate.name}") must be a finite number, got ${describe(value)}`,
      };
    }
    if (!isStorableNumber(value)) {
      return {
        kind: "invalid",
        reason: `field "${aggregate.field}" (aggregate "${aggregate.name}") is ${value}: DynamoDB stores numbers from 1e-130 to 9.99e125 in magnitude (and 0)`,
      };
    }
    values[field] = value;
  }
  const suspicious = typeof raw === "number" && pipeline.eventTimeUnit === "milliseconds" && looksLikeSeconds(ts);
  return {
    kind: "event",
    key: key.text,
    ts,
    values,
    keys,
    id,
    ...(rows === undefined ? {} : { rows }),
    ...(suspicious ? { secondsLike: true as const } : {}),
  };
}
