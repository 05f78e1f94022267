// An independent, brute-force batch computation of window results, written from the definitions in
// docs/DESIGN.md (not from shared/core/windows): the reference Panes' results are checked against.

export interface ReferencePipeline {
  name: string;
  key: string | readonly string[];
  eventTime: string;
  filter: Record<string, unknown>;
  window:
    | { type: "tumbling"; size: number }
    | { type: "sliding"; size: number; slide: number }
    | { type: "session"; gap: number }
    | { type: "cumulate"; size: number; step: number };
  aggregates: readonly { name: string; op: string; field?: string }[];
}

export interface ReferenceWindow {
  pipeline: string;
  key: string;
  start: number;
  end: number;
  values: Record<string, number>;
  count: number;
}

function get(event: Record<string, unknown>, path: string): unknown {
  return path
    .split(".")
    .reduce<unknown>((node, part) => (node && typeof node === "object" ? (node as Record<string, unknown>)[part] : undefined), event);
}

function timeOf(value: unknown): number {
  return typeof value === "number" ? Math.floor(value) : Date.parse(String(value));
}

function valuesOf(pipeline: ReferencePipeline, events: Record<string, unknown>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of pipeline.aggregates) {
    const xs = events.map((e) => get(e, a.field ?? "") as number);
    if (a.op === "count") out[a.name] = events.length;
    else if (a.op === "sum") out[a.name] = xs.reduce((s, x) => s + x, 0);
    else if (a.op === "min") out[a.name] = xs.reduce((m, x) => Math.min(x, m), Number.POSITIVE_INFINITY);
    else if (a.op === "max") out[a.name] = xs.reduce((m, x) => Math.max(x, m), Number.NEGATIVE_INFINITY);
    else if (a.op === "avg") out[a.name] = xs.reduce((s, x) => s + x, 0) / xs.length;
    // sketches (quantiles) are checked against exact quantiles with their own tolerance, elsewhere
  }
  return out;
}

/** The events a pipeline reads (its filter), in input order. */
export function eventsOf(pipeline: ReferencePipeline, events: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  return events.filter((e) => Object.entries(pipeline.filter).every(([path, v]) => get(e, path) === v));
}

export const keyOf = (pipeline: ReferencePipeline, event: Record<string, unknown>) =>
  typeof pipeline.key === "string" ? String(get(event, pipeline.key)) : JSON.stringify(pipeline.key.map((k) => get(event, k)));
export const timeOfEvent = (pipeline: ReferencePipeline, event: Record<string, unknown>) => timeOf(get(event, pipeline.eventTime));
export const fieldOf = (event: Record<string, unknown>, path: string) => get(event, path);

/**
 * Every non-empty window of every pipeline over all events — a bounded batch, where nothing is late —
 * or, given `refused`, without the events that a fixed window refused as late (sessions ignore it).
 */
export function referenceWindows(
  pipelines: readonly ReferencePipeline[],
  events: readonly Record<string, unknown>[],
  refused: (pipeline: string, event: Record<string, unknown>, window: { start: number; end: number }) => boolean = () => false,
): ReferenceWindow[] {
  const out: ReferenceWindow[] = [];
  for (const pipeline of pipelines) {
    const mine = eventsOf(pipeline, events);
    const byKey = new Map<string, Record<string, unknown>[]>();
    for (const e of mine) {
      const key = keyOf(pipeline, e);
      byKey.set(key, [...(byKey.get(key) ?? []), e]);
    }
    for (const [key, keyed] of byKey) {
      const w = pipeline.window;
      if (w.type === "session") {
        const sorted = [...keyed].sort((a, b) => timeOf(get(a, pipeline.eventTime)) - timeOf(get(b, pipeline.eventTime)));
        let group: Record<string, unknown>[] = [];
        let last = Number.NEGATIVE_INFINITY;
        const flush = () => {
          if (group.length === 0) return;
          const first = timeOf(get(group[0] as Record<string, unknown>, pipeline.eventTime));
          out.push({
            pipeline: pipeline.name,
            key,
            start: first,
            end: last + w.gap,
            values: valuesOf(pipeline, group),
            count: group.length,
          });
        };
        for (const e of sorted) {
          const ts = timeOf(get(e, pipeline.eventTime));
          if (group.length > 0 && ts - last > w.gap) {
            flush();
            group = [];
          }
          group.push(e);
          last = ts;
        }
        flush();
        continue;
      }
      if (w.type === "cumulate") {
        // [period start, period start + k·step) for every k whose window still contains the event
        const windows = new Map<string, { start: number; end: number; members: Record<string, unknown>[] }>();
        for (const e of keyed) {
          const ts = timeOf(get(e, pipeline.eventTime));
          const period = ts - (ts % w.size);
          for (let k = 1; k * w.step <= w.size; k++) {
            const end = period + k * w.step;
            if (ts >= end || refused(pipeline.name, e, { start: period, end })) continue;
            const id = `${period}/${end}`;
            const window = windows.get(id) ?? { start: period, end, members: [] };
            window.members.push(e);
            windows.set(id, window);
          }
        }
        for (const { start, end, members } of windows.values()) {
          out.push({
            pipeline: pipeline.name,
            key,
            start,
            end,
            values: valuesOf(pipeline, members),
            count: members.length,
          });
        }
        continue;
      }
      const size = w.size;
      const slide = w.type === "sliding" ? w.slide : w.size;
      const windows = new Map<number, Record<string, unknown>[]>();
      for (const e of keyed) {
        const ts = timeOf(get(e, pipeline.eventTime));
        // every start that is a multiple of slide with start ≤ ts < start + size
        for (let k = Math.floor((ts - size) / slide); k * slide <= ts; k++) {
          const start = k * slide;
          if (start <= ts && ts < start + size && !refused(pipeline.name, e, { start, end: start + size }))
            windows.set(start, [...(windows.get(start) ?? []), e]);
        }
      }
      for (const [start, members] of windows) {
        out.push({ pipeline: pipeline.name, key, start, end: start + size, values: valuesOf(pipeline, members), count: members.length });
      }
    }
  }
  return out.sort((a, b) => a.pipeline.localeCompare(b.pipeline) || a.key.localeCompare(b.key) || a.start - b.start || a.end - b.end);
}

/** Differences between actual and reference windows (values compared to a relative 1e-9: sums are doubles). */
export function compareWindows(
  actual: readonly {
    pipeline: string;
    key: string;
    start: number;
    end: number;
    values: Record<string, unknown>;
    count: number;
  }[],
  expected: readonly ReferenceWindow[],
): { missing: ReferenceWindow[]; unexpected: typeof actual; wrong: { expected: ReferenceWindow; actual: (typeof actual)[number] }[] } {
  // A window is named by its start and end (cumulating windows share starts; sessions are their span).
  const id = (w: { pipeline: string; key: string; start: number; end: number }) => `${w.pipeline}/${w.key}/${w.start}/${w.end}`;
  const byId = new Map(actual.map((w) => [id(w), w]));
  const missing: ReferenceWindow[] = [];
  const wrong: { expected: ReferenceWindow; actual: (typeof actual)[number] }[] = [];
  for (const e of expected) {
    const a = byId.get(id(e));
    byId.delete(id(e));
    if (!a) {
      missing.push(e);
      continue;
    }
    const close = (x: number, y: number) => x === y || Math.abs(x - y) <= 1e-9 * Math.max(Math.abs(x), Math.abs(y));
    const sameValues = Object.keys(e.values).every((k) => close(e.values[k] as number, a.values[k] as number));
    if (a.count !== e.count || !sameValues) wrong.push({ expected: e, actual: a });
  }
  return { missing, unexpected: [...byId.values()], wrong };
}

/** A pipeline reading another's final rows (a cascade), as the reference sees it. */
export interface ReferenceCascade extends ReferencePipeline {
  from: { pipeline: string; sameWindow: boolean };
}

/**
 * A cascade's windows from its source's (reference) windows: each row is an event holding its window's
 * bounds (ISO text, window_time its end − 1 ms), its key's column (a one-column key) and its values;
 * with `sameWindow`, rows are grouped in the window they came from, otherwise windowed again on their time.
 */
export function cascadeReferenceWindows(
  reader: ReferenceCascade,
  source: ReferencePipeline,
  rows: readonly ReferenceWindow[],
): ReferenceWindow[] {
  const iso = (ms: number) => new Date(ms).toISOString();
  const events = rows
    .filter((r) => r.pipeline === source.name)
    .map((r) => ({
      window_start: iso(r.start),
      window_end: iso(r.end),
      window_time: iso(r.end - 1),
      ...(typeof source.key === "string" ? { [source.key]: r.key } : {}),
      ...r.values,
      "\u0000window": [r.start, r.end],
    }));
  if (!reader.from.sameWindow) return referenceWindows([reader], events);
  const groups = new Map<string, { key: string; start: number; end: number; members: Record<string, unknown>[] }>();
  for (const e of eventsOf(reader, events)) {
    const [start, end] = e["\u0000window"] as [number, number];
    const key = keyOf(reader, e);
    const id = JSON.stringify([key, start, end]);
    const group = groups.get(id) ?? { key, start, end, members: [] };
    group.members.push(e);
    groups.set(id, group);
  }
  return [...groups.values()].map(({ key, start, end, members }) => ({
    pipeline: reader.name,
    key,
    start,
    end,
    values: valuesOf(reader, members),
    count: members.length,
  }));
}
