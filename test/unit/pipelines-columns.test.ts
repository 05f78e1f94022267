// The JSON form's SQL parts (issue 22): a composite key or none (a global window), computed values,
// COUNT(field), NULLs skipped by aggregates of SQL columns, and a select list over the aggregates, the
// key's columns and the window's bounds — checked against a brute-force computation of the same rows.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadPipelinesFile, readPipelinesInput } from "../../shared/app/pipelines-file.ts";
import { addEvent, emptyState } from "../../shared/core/aggregates/state.ts";
import { readPipelineEvent } from "../../shared/core/pipelines/events.ts";
import { parsePipelines } from "../../shared/core/pipelines/parse.ts";
import { windowValues } from "../../shared/core/pipelines/project.ts";
import { pipelinesFileWith, refusalOf } from "../helpers/pipelines-file.ts";

const spec = {
  name: "latency",
  key: ["service", "endpoint"],
  eventTime: "ts",
  window: { type: "tumbling", size: "1m" },
  columns: { service: "STRING", endpoint: "STRING", status: "INT", latency: "DOUBLE" },
  computed: { ms: "latency * 1000", failed: "CASE WHEN status >= 500 THEN 1 END" },
  aggregates: { n: { count: true }, timed: { count: "latency" }, mean: { avg: "ms" }, errors: { count: "failed" }, top: { max: "status" } },
  select: {
    service: "service",
    endpoint: "endpoint",
    ends: "window_end",
    n: "n",
    mean_ms: "mean",
    error_share: "CAST(errors AS DOUBLE) / n",
    top_status: "top",
  },
};

async function problemsOf(pipelines: unknown[]): Promise<string[]> {
  return (await refusalOf(pipelines)).error.problems;
}

const requestArb = fc.record(
  {
    service: fc.constantFrom("api", "web"),
    endpoint: fc.constantFrom("/a", "/b"),
    status: fc.option(fc.constantFrom(200, 404, 500, 503), { nil: null }),
    latency: fc.option(
      fc.integer({ min: 0, max: 5_000_000 }).map((us) => us / 1_000_000),
      { nil: null },
    ),
  },
  { requiredKeys: ["service", "endpoint"] },
);

describe("the JSON form's SQL columns", () => {
  it("a composite key, computed values, COUNT(field) and NULL-skipping aggregates give a brute-force computation's select list", async () => {
    const [pipeline] = await loadPipelinesFile(await pipelinesFileWith([spec]));
    const p = pipeline as NonNullable<typeof pipeline>;
    fc.assert(
      fc.property(fc.array(requestArb, { minLength: 1, maxLength: 30 }), (requests) => {
        // Act: every event of one key, into one window's state
        const state = emptyState();
        const key = JSON.stringify(["api", "/a"]);
        for (const r of requests) {
          const read = readPipelineEvent(p, { ...r, service: "api", endpoint: "/a", ts: 1000 }, 2000);
          if (read.kind !== "event") throw new Error(`not read: ${JSON.stringify(read)}`);
          expect(read.key).toBe(key);
          addEvent(state, read.ts, read.values, p.aggregates, read.keys);
        }
        const values = windowValues(p, key, { start: 0, end: 60_000 }, state);

        // Assess: the same rows, computed by hand as SQL defines it
        const latencies = requests.flatMap((r) => (r.latency === null || r.latency === undefined ? [] : [r.latency * 1000]));
        const statuses = requests.flatMap((r) => (r.status === null || r.status === undefined ? [] : [r.status]));
        const errors = statuses.filter((s) => s >= 500).length;
        const mean = latencies.length === 0 ? null : latencies.reduce((a, b) => a + b, 0) / latencies.length;
        expect(Object.keys(values)).toEqual(["service", "endpoint", "ends", "n", "mean_ms", "error_share", "top_status"]);
        expect(values).toMatchObject({
          service: "api",
          endpoint: "/a",
          ends: "1970-01-01T00:01:00.000Z",
          n: requests.length,
          error_share: errors / requests.length,
          top_status: statuses.length === 0 ? null : Math.max(...statuses),
        });
        if (mean === null) expect(values.mean_ms).toBeNull();
        else expect(values.mean_ms).toBeCloseTo(mean, 9);
      }),
      { numRuns: 200 },
    );
  });

  it("ships compiled, groups the events whose key column is NULL as Flink does (null in the key's JSON array), and a global window's key is []", async () => {
    const path = await pipelinesFileWith([spec, { ...spec, name: "all", key: [], select: { n: "n", at: "window_start" } }]);
    const [pipeline, global] = await loadPipelinesFile(path);
    expect(parsePipelines(await readPipelinesInput(path))).toEqual([pipeline, global]);
    const read = (p: typeof pipeline, event: object) => readPipelineEvent(p as NonNullable<typeof p>, { ts: 1000, ...event }, 2000);
    expect(read(pipeline, { service: "api" })).toMatchObject({ kind: "event", key: '["api",null]' });
    expect(read(pipeline, { service: "api", endpoint: null })).toMatchObject({ kind: "event", key: '["api",null]' });
    // the string "null" is a value of its own
    expect(read(pipeline, { service: "api", endpoint: "null" })).toMatchObject({ kind: "event", key: '["api","null"]' });
    expect(read(pipeline, { service: "api", endpoint: "/a", status: "x" })).toEqual({
      kind: "invalid",
      reason: 'field "status" (an INT column) must be an INT, got "x"',
    });
    expect(read(global, { service: "api" })).toMatchObject({ kind: "event", key: "[]" });
    // one key column (an INT): NULL is the group keyed "", whose result shows the column as null
    const [byStatus] = await loadPipelinesFile(
      await pipelinesFileWith([{ ...spec, name: "by-status", key: "status", select: { status: "status", n: "n" } }]),
    );
    if (byStatus === undefined) throw new Error("no pipeline");
    expect(read(byStatus, { status: null })).toMatchObject({ kind: "event", key: "" });
    expect(read(byStatus, {})).toMatchObject({ kind: "event", key: "" });
    expect(read(byStatus, { status: 0 })).toMatchObject({ kind: "event", key: "0" });
    const state = emptyState();
    const one = read(byStatus, { status: null });
    if (one.kind !== "event") throw new Error("not an event");
    addEvent(state, one.ts, one.values, byStatus.aggregates, one.keys);
    expect(windowValues(byStatus, "", { start: 0, end: 60_000 }, state)).toEqual({ status: null, n: 1 });
    expect(windowValues(byStatus, "0", { start: 0, end: 60_000 }, state)).toEqual({ status: 0, n: 1 });
    // one BOOLEAN key column: grouped by its value (it was refused as neither text nor number)
    const [byFlag] = await loadPipelinesFile(
      await pipelinesFileWith([
        { ...spec, name: "by-flag", key: "ok", columns: { ...spec.columns, ok: "BOOLEAN" }, select: { ok: "ok", n: "n" } },
      ]),
    );
    if (byFlag === undefined) throw new Error("no pipeline");
    expect(read(byFlag, { ok: true })).toMatchObject({ kind: "event", key: "true" });
    expect(read(byFlag, { ok: false })).toMatchObject({ kind: "event", key: "false" });
    expect(windowValues(byFlag, "false", { start: 0, end: 60_000 }, state)).toEqual({ ok: false, n: 1 });
  });

  it("refuses at load, in one line naming the field, a select that reads what a result row has not, and a sum of text", async () => {
    expect(await problemsOf([{ ...spec, select: { x: "latency" } }])).toEqual([
      `pipeline "latency" (pipelines[0]), field select.x: 1:1: unknown column latency (a result row has the aggregates, the key's columns and window_start, window_end, window_time)`,
    ]);
    expect(await problemsOf([{ ...spec, aggregates: { s: { sum: "service" } }, select: undefined }])).toEqual([
      `pipeline "latency" (pipelines[0]), field aggregates.s.sum: sum needs a number, but "service" is STRING`,
    ]);
    expect(await problemsOf([{ ...spec, key: ["service", "service"] }])).toEqual([
      `pipeline "latency" (pipelines[0]), field key: names a column twice`,
    ]);
    expect(await problemsOf([{ ...spec, computed: { ms: "latency *" } }])).toHaveLength(1);
  });
});
