// Reads one pipeline's view of a decoded event: does the filter match, and what are its key, event time
// and aggregated values. A record that matches the filter but lacks what the pipeline needs is invalid
// (it goes to the dead-letter store with the reason); a record that does not match is simply not ours.
import type { Pipeline } from "./schema.ts";

/** Event times are epoch ms between 1970 and the end of year 9999. */
export const MAX_EVENT_TIME = 253_402_300_799_999;

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

export type PipelineEvent =
  | { kind: "event"; key: string; ts: number; values: Record<string, number>; keys: Record<string, string>; id?: string }
  | { kind: "skipped" }
  | { kind: "invalid"; reason: string };

export function valueAt(event: unknown, path: string): unknown {
  let node = event;
  for (const part of path.split(".")) {
    if (node === null || typeof node !== "object" || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** Parses an event time: epoch milliseconds (number) or an ISO-8601 string with a zone. */
export function parseEventTime(value: unknown): number | string {
  let ms: number;
  if (typeof value === "number") {
    ms = Math.floor(value);
  } else if (typeof value === "string" && ISO_8601.test(value)) {
    ms = Date.parse(value);
  } else {
    return `must be epoch milliseconds or an ISO-8601 time with a zone, got ${describe(value)}`;
  }
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_EVENT_TIME) return `is out of range (${describe(value)})`;
  return ms;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing (the field is missing)";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

export function matchesFilter(pipeline: Pipeline, event: unknown): boolean {
  for (const [path, expected] of Object.entries(pipeline.filter)) {
    if (valueAt(event, path) !== expected) return false;
  }
  return true;
}

export function readPipelineEvent(pipeline: Pipeline, event: unknown, now = Date.now()): PipelineEvent {
  if (!matchesFilter(pipeline, event)) return { kind: "skipped" };
  const rawKey = valueAt(event, pipeline.key);
  if (!(typeof rawKey === "string" && rawKey.length > 0) && !(typeof rawKey === "number" && Number.isFinite(rawKey))) {
    return { kind: "invalid", reason: `key field "${pipeline.key}" must be a non-empty string or a number, got ${describe(rawKey)}` };
  }
  const ts = parseEventTime(valueAt(event, pipeline.eventTime));
  if (typeof ts === "string") return { kind: "invalid", reason: `event time field "${pipeline.eventTime}" ${ts}` };
  if (pipeline.maxFutureSkew !== undefined && ts > now + pipeline.maxFutureSkew) {
    return {
      kind: "invalid",
      reason: `event time ${new Date(ts).toISOString()} is more than maxFutureSkew (${pipeline.maxFutureSkew} ms) ahead of the wall clock ${new Date(now).toISOString()}`,
    };
  }
  let id: string | undefined;
  if (pipeline.dedupe) {
    const raw = valueAt(event, pipeline.dedupe.field);
    if (!(typeof raw === "string" && raw.length > 0) && !(typeof raw === "number" && Number.isFinite(raw))) {
      return {
        kind: "invalid",
        reason: `dedupe field "${pipeline.dedupe.field}" must be a non-empty string or a number, got ${describe(raw)}`,
      };
    }
    id = String(raw);
  }
  const values: Record<string, number> = {};
  const keys: Record<string, string> = {};
  for (const aggregate of pipeline.aggregates) {
    if (aggregate.op === "distinct") {
      const value = valueAt(event, aggregate.field);
      if (!(typeof value === "string" && value.length > 0) && !(typeof value === "number" && Number.isFinite(value))) {
        return {
          kind: "invalid",
          reason: `field "${aggregate.field}" (aggregate "${aggregate.name}") must be a non-empty string or a number, got ${describe(value)}`,
        };
      }
      keys[aggregate.field] = String(value);
      continue;
    }
    if (aggregate.op === "count" || aggregate.field in values) continue;
    const value = valueAt(event, aggregate.field);
    if (typeof value !== "number" || !Number.isFinite(value)) {
      return {
        kind: "invalid",
        reason: `field "${aggregate.field}" (aggregate "${aggregate.name}") must be a finite number, got ${describe(value)}`,
      };
    }
    values[aggregate.field] = value;
  }
  return { kind: "event", key: String(rawKey), ts, values, keys, id };
}
