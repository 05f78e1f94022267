// Mergeable aggregate state: what a pane, a session fragment or a whole window knows about its events.
// count, sum, min, max and avg (as sum + count) all merge, so panes combine when a window fires.
// Pure: no I/O. Never imports an AWS SDK.

export type AggregateOp = "count" | "sum" | "min" | "max" | "avg";

export interface AggregateSpec {
  /** output name, e.g. "avg" */
  name: string;
  op: AggregateOp;
  /** dot path of the numeric field; absent for count */
  field?: string;
}

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
}

export function emptyState(): AggregateState {
  return { n: 0, tmin: Number.POSITIVE_INFINITY, tmax: Number.NEGATIVE_INFINITY, fields: {} };
}

/** Adds one event to `state` in place. `values` holds a finite number for every aggregated field. */
export function addEvent(state: AggregateState, ts: number, values: Readonly<Record<string, number>>): void {
  state.n += 1;
  if (ts < state.tmin) state.tmin = ts;
  if (ts > state.tmax) state.tmax = ts;
  for (const [field, value] of Object.entries(values)) {
    const current = state.fields[field];
    if (current === undefined) {
      state.fields[field] = { sum: value, min: value, max: value };
    } else {
      current.sum += value;
      if (value < current.min) current.min = value;
      if (value > current.max) current.max = value;
    }
  }
}

/** Merges `other` into `into` in place and returns it. */
export function mergeInto(into: AggregateState, other: Readonly<AggregateState>): AggregateState {
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
  return into;
}

export function mergeStates(states: Iterable<Readonly<AggregateState>>): AggregateState {
  const merged = emptyState();
  for (const state of states) mergeInto(merged, state);
  return merged;
}

/** The user-facing values of a window: one number per aggregate name. */
export function finalValues(specs: readonly AggregateSpec[], state: Readonly<AggregateState>): Record<string, number> {
  const values: Record<string, number> = {};
  for (const spec of specs) {
    if (spec.op === "count") {
      values[spec.name] = state.n;
      continue;
    }
    const field = state.fields[spec.field ?? ""];
    if (field === undefined) throw new RangeError(`no values for field ${spec.field} in a non-empty state`);
    values[spec.name] = spec.op === "sum" ? field.sum : spec.op === "min" ? field.min : spec.op === "max" ? field.max : field.sum / state.n;
  }
  return values;
}

/** Compact, lossless JSON form stored in DynamoDB (one string attribute). */
export function encodeState(state: Readonly<AggregateState>): string {
  return JSON.stringify(state);
}

export function decodeState(text: string): AggregateState {
  const parsed = JSON.parse(text) as AggregateState;
  return { n: parsed.n, tmin: parsed.tmin, tmax: parsed.tmax, fields: parsed.fields };
}
