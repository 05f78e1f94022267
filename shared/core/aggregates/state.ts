// Mergeable aggregate state: what a pane, a session fragment or a whole window knows about its events.
// count, sum, min, max, avg (as sum + count), quantiles (DDSketch) and distinct counts (exact, then
// HyperLogLog) all merge, so panes combine when a window fires. Pure: no I/O. Never imports an AWS SDK.
import { DDSketch } from "@datadog/sketches-js";
import { addDistinct, cardinality, type DistinctState, decodeDistinct, emptyDistinct, encodeDistinct, mergeDistinct } from "./distinct.ts";
import { copySketch, decodeSketch, encodeSketch, mergeSketch, type SketchCounts } from "./sketch.ts";
import { addTopRow, copyTop, emptyTop, mergeTop, type TopRow, type TopSpec, type TopState, type TopValue } from "./top.ts";

export type AggregateSpec =
  /** COUNT(*), or with a field COUNT(field): the events whose field is not NULL */
  (
    | { name: string; op: "count"; field?: string }
    | { name: string; op: "sum" | "min" | "max" | "avg"; field: string }
    | { name: string; op: "quantiles"; field: string; q: number[]; accuracy: number }
    | { name: string; op: "distinct"; field: string; precision: number }
    /**
     * the first `n` rows of the window by `order` (Window Top-N over rows), each with `fields` and its
     * row number (named `rownum`); `columns`, when given, are a result row's columns in order, among
     * them the window's and the row number
     */
    | ({ name: string; op: "top"; rownum?: string; columns?: string[]; from?: number } & TopSpec)
  ) & {
    /** the unit of the values, for people (dashboard axes); no effect on the computation */
    unit?: string;
  };

export interface FieldState {
  sum: number;
  min: number;
  max: number;
}

export interface AggregateState {
  /** number of events */
  n: number;
  /** earliest and latest event time seen */
  tmin: number;
  tmax: number;
  /** per aggregated field */
  fields: Record<string, FieldState>;
  /** quantile sketches, by `field@accuracy` */
  sketches: Record<string, DDSketch>;
  /** distinct-count states, by `field@precision` */
  distinct: Record<string, DistinctState>;
  /**
   * How many of the `n` events each part (field, sketch, distinct state; see partIdsOf) has seen, where
   * that is fewer than `n`: an aggregate added to a deployed pipeline has not seen the events applied
   * before. Absent: every part has seen all `n`.
   */
  seen?: Record<string, number>;
  /**
   * How many of the events a field has seen held NULL there (SQL columns: Flink's aggregates skip
   * NULL). Absent, or no entry: none. A field whose every value was NULL has no `fields` entry.
   */
  nulls?: Record<string, number>;
  /** ranked rows (Window Top-N), by aggregate name */
  tops?: Record<string, TopState>;
}

/**
 * A window's value for one aggregate: a number, quantiles by name (`p50`, `p99.9`), or null when some
 * of the window's events were applied before the aggregate was added to the pipeline.
 */
export type AggregateValue = number | Record<string, number> | null | ResultScalar | Record<string, TopValue>[];

/** What else a result's selected values may be (the SQL form's key columns, window bounds as ISO-8601 text, conditions). */
export type ResultScalar = string | boolean;

/** The parts of a state, each named by what it holds: `f:field`, `q:field@accuracy`, `d:field@precision`. */
function partIdsOf(state: Readonly<AggregateState>): string[] {
  const fields = Object.keys(state.fields);
  for (const f of Object.keys(state.nulls ?? {})) if (state.fields[f] === undefined) fields.push(f);
  return [
    ...fields.map((f) => `f:${f}`),
    ...Object.keys(state.sketches).map((k) => `q:${k}`),
    ...Object.keys(state.distinct).map((k) => `d:${k}`),
    ...Object.keys(state.tops ?? {}).map((k) => `t:${k}`),
  ];
}

/** How many events a part of the state has seen (0 for a part it does not have). */
function seenBy(state: Readonly<AggregateState>, part: string, present: boolean): number {
  return present ? (state.seen?.[part] ?? state.n) : 0;
}

/** Keeps only the counts that differ from n (the common case stores nothing). */
function setSeen(state: AggregateState, counts: ReadonlyMap<string, number>): void {
  const seen: Record<string, number> = {};
  for (const [part, count] of counts) if (count !== state.n) seen[part] = count;
  if (Object.keys(seen).length > 0) state.seen = seen;
  else delete state.seen;
}

export function emptyState(): AggregateState {
  return { n: 0, tmin: Number.POSITIVE_INFINITY, tmax: Number.NEGATIVE_INFINITY, fields: {}, sketches: {}, distinct: {} };
}

const sketchKey = (field: string, accuracy: number) => `${field}@${accuracy}`;
const accuracyOf = (key: string) => Number(key.slice(key.lastIndexOf("@") + 1));

/** Adds one event to `state` in place. `values` holds a finite number, or NULL, for every aggregated field. */
export function addEvent(
  state: AggregateState,
  ts: number,
  values: Readonly<Record<string, number | null>>,
  specs: readonly AggregateSpec[] = [],
  /** the values of fields counted distinctly, as text (null: NULL, seen but not counted) */
  keys: Readonly<Record<string, string | null>> = {},
  /** the event's row for each top aggregate, by its name */
  rows: Readonly<Record<string, TopRow>> = {},
): void {
  // The common case, fast: every part sees every event (no `seen` to keep) and the event has just the
  // fields the state has, nothing else to count.
  if (
    state.seen === undefined &&
    state.nulls === undefined &&
    specs.every((s) => s.op !== "distinct" && s.op !== "quantiles" && s.op !== "top")
  ) {
    const fields = Object.keys(values);
    const known = Object.keys(state.fields);
    if (
      fields.every((f) => values[f] !== null) &&
      (state.n === 0 ? known.length === 0 : fields.length === known.length && fields.every((f) => state.fields[f] !== undefined))
    ) {
      state.n += 1;
      if (ts < state.tmin) state.tmin = ts;
      if (ts > state.tmax) state.tmax = ts;
      for (const field of fields) {
        const value = values[field] as number;
        const current = state.fields[field];
        if (current === undefined) state.fields[field] = { sum: value, min: value, max: value };
        else {
          current.sum += value;
          if (value < current.min) current.min = value;
          if (value > current.max) current.max = value;
        }
      }
      return;
    }
  }
  const before = new Map(partIdsOf(state).map((part) => [part, seenBy(state, part, true)]));
  const touched = new Set<string>();
  state.n += 1;
  if (ts < state.tmin) state.tmin = ts;
  if (ts > state.tmax) state.tmax = ts;
  for (const [field, value] of Object.entries(values)) {
    touched.add(`f:${field}`);
    if (value === null) {
      state.nulls ??= {};
      state.nulls[field] = (state.nulls[field] ?? 0) + 1;
      continue;
    }
    const current = state.fields[field];
    if (current === undefined) {
      state.fields[field] = { sum: value, min: value, max: value };
    } else {
      current.sum += value;
      if (value < current.min) current.min = value;
      if (value > current.max) current.max = value;
    }
  }
  for (const spec of specs) {
    if (spec.op === "distinct") {
      const key = keys[spec.field];
      if (key === undefined) continue;
      const id = `${spec.field}@${spec.precision}`;
      let distinct = state.distinct[id];
      if (distinct === undefined) {
        distinct = emptyDistinct(spec.precision);
        state.distinct[id] = distinct;
      }
      if (key !== null) addDistinct(distinct, key);
      touched.add(`d:${id}`);
      continue;
    }
    if (spec.op === "top") {
      const row = rows[spec.name];
      if (row === undefined) continue;
      state.tops ??= {};
      let top = state.tops[spec.name];
      if (top === undefined) {
        top = emptyTop(spec);
        state.tops[spec.name] = top;
      }
      addTopRow(top, row);
      touched.add(`t:${spec.name}`);
      continue;
    }
    if (spec.op !== "quantiles") continue;
    const value = values[spec.field];
    if (value === undefined) continue;
    const key = sketchKey(spec.field, spec.accuracy);
    let sketch = state.sketches[key];
    if (sketch === undefined) {
      sketch = new DDSketch({ relativeAccuracy: spec.accuracy });
      state.sketches[key] = sketch;
    }
    if (value !== null) sketch.accept(value);
    touched.add(`q:${key}`);
  }
  const counts = new Map<string, number>();
  for (const part of partIdsOf(state)) counts.set(part, (before.get(part) ?? 0) + (touched.has(part) ? 1 : 0));
  setSeen(state, counts);
}

/** Merges `other` into `into` in place and returns it. */
export function mergeInto(into: AggregateState, other: Readonly<AggregateState>): AggregateState {
  const ours = new Set(partIdsOf(into));
  const theirs = new Set(partIdsOf(other));
  const counts = new Map<string, number>();
  for (const part of new Set([...ours, ...theirs]))
    counts.set(part, seenBy(into, part, ours.has(part)) + seenBy(other, part, theirs.has(part)));
  if (other.nulls !== undefined) {
    const nulls = { ...into.nulls };
    for (const [field, count] of Object.entries(other.nulls)) nulls[field] = (nulls[field] ?? 0) + count;
    into.nulls = nulls;
  }
  into.n += other.n;
  into.tmin = Math.min(into.tmin, other.tmin);
  into.tmax = Math.max(into.tmax, other.tmax);
  for (const [field, theirs] of Object.entries(other.fields)) {
    const ours = into.fields[field];
    if (ours === undefined) {
      into.fields[field] = { ...theirs };
    } else {
      ours.sum += theirs.sum;
      ours.min = Math.min(ours.min, theirs.min);
      ours.max = Math.max(ours.max, theirs.max);
    }
  }
  for (const [id, theirs] of Object.entries(other.distinct)) {
    const ours = into.distinct[id];
    if (ours === undefined) into.distinct[id] = decodeDistinct(encodeDistinct(theirs));
    else mergeDistinct(ours, theirs);
  }
  for (const [name, theirs] of Object.entries(other.tops ?? {})) {
    into.tops ??= {};
    const ours = into.tops[name];
    if (ours === undefined) into.tops[name] = copyTop(theirs);
    else mergeTop(ours, theirs);
  }
  for (const [key, theirs] of Object.entries(other.sketches)) {
    const ours = into.sketches[key];
    if (ours === undefined) into.sketches[key] = copySketch(theirs, accuracyOf(key));
    else mergeSketch(ours, theirs);
  }
  setSeen(into, counts);
  return into;
}

export function mergeStates(states: Iterable<Readonly<AggregateState>>): AggregateState {
  const merged = emptyState();
  for (const state of states) mergeInto(merged, state);
  return merged;
}

export function cloneState(state: Readonly<AggregateState>): AggregateState {
  return mergeInto(emptyState(), state);
}

/** The name of a quantile in results: 0.5 → "p50", 0.999 → "p99.9". */
export function quantileName(q: number): string {
  return `p${Number((q * 100).toFixed(6))}`;
}

/** The user-facing values of a window: one value per aggregate name. */
export function finalValues(specs: readonly AggregateSpec[], state: Readonly<AggregateState>): Record<string, AggregateValue> {
  const values: Record<string, AggregateValue> = {};
  // A part that has not seen every event (the aggregate was added later) gives no value rather than a wrong one.
  const complete = (part: string) => seenBy(state, part, true) === state.n;
  for (const spec of specs) {
    if (spec.op === "count" && spec.field === undefined) {
      values[spec.name] = state.n;
      continue;
    }
    if (spec.op === "distinct") {
      const id = `${spec.field}@${spec.precision}`;
      const distinct = state.distinct[id];
      values[spec.name] = distinct !== undefined && complete(`d:${id}`) ? cardinality(distinct) : null;
      continue;
    }
    if (spec.op === "top") {
      const top = state.tops?.[spec.name];
      values[spec.name] =
        top === undefined || !complete(`t:${spec.name}`)
          ? null
          : top.rows
              .map((row, rank) => ({
                ...Object.fromEntries(spec.fields.map((f, i) => [f, row[i] ?? null])),
                [spec.rownum ?? "rownum"]: rank + 1,
              }))
              // a rank offset: the first rows are kept (they rank the others) but not given
              .slice((spec.from ?? 1) - 1);
      continue;
    }
    const name = spec.field as string;
    const field = state.fields[name];
    const nulls = state.nulls?.[name] ?? 0;
    if ((field === undefined && nulls === 0) || !complete(`f:${name}`)) {
      values[spec.name] = spec.op === "count" && state.n === 0 ? 0 : null;
      continue;
    }
    // SQL's aggregates skip NULL: COUNT(x) counts the rest, the others are NULL when nothing is left
    const counted = state.n - nulls;
    if (spec.op === "count") {
      values[spec.name] = counted;
      continue;
    }
    if (field === undefined || counted === 0) {
      values[spec.name] = null;
      continue;
    }
    if (spec.op === "quantiles") {
      const key = sketchKey(name, spec.accuracy);
      const sketch = state.sketches[key];
      if (sketch === undefined || !complete(`q:${key}`)) {
        values[spec.name] = null;
        continue;
      }
      // The sketch is exact at the extremes only through the min and max it cannot keep when serialized.
      values[spec.name] = Object.fromEntries(
        spec.q.map((q) => [quantileName(q), Math.min(field.max, Math.max(field.min, sketch.getValueAtQuantile(q)))]),
      );
      continue;
    }
    values[spec.name] = spec.op === "sum" ? field.sum : spec.op === "min" ? field.min : spec.op === "max" ? field.max : field.sum / counted;
  }
  return values;
}

/** The stored form of a state, as plain JSON (sketches as their counts, see sketch.ts). */
export interface StoredState {
  n: number;
  tmin: number;
  tmax: number;
  fields: Record<string, FieldState>;
  sketches?: Record<string, SketchCounts>;
  distinct?: Record<string, ReturnType<typeof encodeDistinct>>;
  seen?: Record<string, number>;
  nulls?: Record<string, number>;
  tops?: Record<string, TopState>;
}

export function stateToJson(state: Readonly<AggregateState>): StoredState {
  const sketches = Object.fromEntries(Object.entries(state.sketches).map(([k, s]) => [k, encodeSketch(s, accuracyOf(k))]));
  return {
    n: state.n,
    tmin: state.tmin,
    tmax: state.tmax,
    fields: state.fields,
    ...(Object.keys(sketches).length > 0 ? { sketches } : {}),
    ...(Object.keys(state.distinct).length > 0
      ? { distinct: Object.fromEntries(Object.entries(state.distinct).map(([k, d]) => [k, encodeDistinct(d)])) }
      : {}),
    ...(state.seen === undefined ? {} : { seen: state.seen }),
    ...(state.nulls === undefined ? {} : { nulls: state.nulls }),
    ...(state.tops === undefined ? {} : { tops: state.tops }),
  };
}

export function stateFromJson(stored: StoredState): AggregateState {
  const sketches = Object.fromEntries(Object.entries(stored.sketches ?? {}).map(([k, value]) => [k, decodeSketch(value)]));
  const distinct = Object.fromEntries(Object.entries(stored.distinct ?? {}).map(([k, d]) => [k, decodeDistinct(d)]));
  return {
    n: stored.n,
    tmin: stored.tmin,
    tmax: stored.tmax,
    fields: stored.fields,
    sketches,
    distinct,
    ...(stored.seen ? { seen: stored.seen } : {}),
    ...(stored.nulls ? { nulls: { ...stored.nulls } } : {}),
    ...(stored.tops ? { tops: Object.fromEntries(Object.entries(stored.tops).map(([k, t]) => [k, copyTop(t)])) } : {}),
  };
}

/** Compact, lossless JSON text stored in DynamoDB (one string attribute). */
export function encodeState(state: Readonly<AggregateState>): string {
  return JSON.stringify(stateToJson(state));
}

export function decodeState(text: string): AggregateState {
  return stateFromJson(JSON.parse(text) as StoredState);
}
