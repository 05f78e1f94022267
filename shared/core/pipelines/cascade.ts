// Cascaded window aggregations (Flink SQL's window aggregation over another's rows): a pipeline `from`
// another reads the source's final rows as its events. The source's closing units turn each results
// item they commit — one key group's rows of one window end — into the reader's partial state: per
// reader key group and bucket (the reader's pane of the rows' window_time, or with `sameWindow` the
// rows' own window), each reader key's state. A partial is a function of the results item it came
// from, so writing it again (a unit taken up again) changes nothing. The reader's units merge a
// group's partials into panes and fire its windows once its source is closed past them. Pure.

import type { AggregateValue } from "../aggregates/state.ts";
import { type AggregateState, addEvent, emptyState, mergeInto } from "../aggregates/state.ts";
import type { PaneLayer } from "../ingest/deltas.ts";
import { keyGroupOf } from "../keygroups.ts";
import { paneOf } from "../windows/assigners.ts";
import type { GroupPane } from "../windows/key-group.ts";
import { readPipelineEvent } from "./events.ts";
import { keyColumnValues } from "./project.ts";
import type { Pipeline } from "./schema.ts";

/** A source's row as its results item holds it. */
export interface SourceRow {
  key: string;
  start: number;
  end: number;
  values: Record<string, AggregateValue>;
}

/** What one source results item gives a reader: per reader key group, per bucket, each reader key's state. */
export interface CascadePartials {
  byGroup: Map<number, Map<number, Map<string, AggregateState>>>;
  /** rows the reader cannot read (a key too long, a condition that fails), with the reason */
  invalid: { row: SourceRow; reason: string }[];
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The event a source's row is to the pipelines reading it: its window's columns, the key's (JSON form), its values. */
export function cascadeEventOf(source: Pick<Pipeline, "key" | "aggregates" | "columns" | "computed" | "select">, row: SourceRow) {
  return {
    window_start: iso(row.start),
    window_end: iso(row.end),
    window_time: iso(row.end - 1),
    // without a select list a row's values are the aggregates: the key's columns are the row's too
    ...(source.select === undefined ? keyColumnValues(source, row.key) : {}),
    ...row.values,
  };
}

/** Where a reader keeps a row's contribution: its pane of the row's time, or (sameWindow) the row's window, by its end. */
export function bucketOf(reader: Pick<Pipeline, "window" | "from">, row: SourceRow, ts: number): number {
  return reader.from?.sameWindow ? row.end : paneOf(reader.window, ts);
}

/** A reader's partials from a source's rows (one results item: one key group, one window end). */
export function cascadePartialsOf(reader: Pipeline, source: Pipeline, rows: Iterable<SourceRow>): CascadePartials {
  const byGroup: CascadePartials["byGroup"] = new Map();
  const invalid: CascadePartials["invalid"] = [];
  for (const row of rows) {
    // a row's time is its window's (the source never sees the wall clock here: rows are never "ahead")
    const event = readPipelineEvent(reader, cascadeEventOf(source, row), Number.MAX_SAFE_INTEGER);
    if (event.kind === "skipped") continue;
    if (event.kind === "invalid") {
      invalid.push({ row, reason: event.reason });
      continue;
    }
    const group = keyGroupOf(event.key, reader.keyGroups);
    const bucket = bucketOf(reader, row, event.ts);
    let buckets = byGroup.get(group);
    if (buckets === undefined) {
      buckets = new Map();
      byGroup.set(group, buckets);
    }
    let keys = buckets.get(bucket);
    if (keys === undefined) {
      keys = new Map();
      buckets.set(bucket, keys);
    }
    let state = keys.get(event.key);
    if (state === undefined) {
      state = emptyState();
      keys.set(event.key, state);
    }
    addEvent(state, event.ts, event.values, reader.aggregates, event.keys, event.rows);
  }
  return { byGroup, invalid };
}

/**
 * A reader group's panes from its partials (each bucket's states, every source group's, merged): a
 * pane's one layer is taken by every window of the pane (no row is ever late). With `sameWindow`, a
 * bucket is a source window's end, and `sameWindowOf` gives that window.
 */
export function cascadePanesOf(partials: Iterable<{ bucket: number; keys: ReadonlyMap<string, AggregateState> }>): Map<number, GroupPane> {
  const panes = new Map<number, GroupPane>();
  for (const { bucket, keys } of partials) {
    let pane = panes.get(bucket);
    if (pane === undefined) {
      pane = { paneStart: bucket, epoch: 0, keys: new Map(), cleared: false };
      panes.set(bucket, pane);
    }
    for (const [key, state] of keys) {
      const layers = pane.keys.get(key);
      if (layers === undefined) pane.keys.set(key, [{ from: 0, state: mergeInto(emptyState(), state) } satisfies PaneLayer]);
      else mergeInto((layers[0] as PaneLayer).state, state);
    }
  }
  return panes;
}

/** A sameWindow reader's window of a bucket (the end of a source window): the source's window ending there. */
export function sameWindowOf(spec: Pipeline["window"], end: number): { start: number; end: number } {
  if (spec.type === "session") throw new Error("a cascade over sessions is not supported");
  if (spec.type === "tumbling" || spec.type === "sliding") return { start: end - spec.size, end };
  // cumulate: the window ending here starts at its cycle's start
  const offset = spec.offset ?? 0;
  const cycle = Math.floor((end - 1 - offset) / spec.size) * spec.size + offset;
  return { start: cycle, end };
}
