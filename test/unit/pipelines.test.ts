import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadPipelinesFile } from "../../shared/app/pipelines-file.ts";
import { PipelinesConfigError, parsePipelines } from "../../shared/core/pipelines/parse.ts";

const seedPipeline = {
  name: "cpu-avg-5m",
  key: "host",
  eventTime: "ts",
  filter: { metric: "cpu" },
  window: { type: "tumbling", size: "5m" },
  aggregates: { avg: { avg: "value" }, max: { max: "value" }, n: { count: true } },
  outOfOrderness: "30s",
  allowedLateness: "0s",
};

function problemsOf(raw: unknown): string[] {
  try {
    parsePipelines(raw, "test.json");
  } catch (error) {
    expect(error).toBeInstanceOf(PipelinesConfigError);
    return (error as PipelinesConfigError).problems;
  }
  throw new Error("expected the pipelines to be refused");
}

describe("pipelines file", () => {
  it("accepts the documented JSON shape and normalises durations and aggregates", () => {
    const [pipeline] = parsePipelines({ pipelines: [seedPipeline] });
    expect(pipeline).toEqual({
      name: "cpu-avg-5m",
      key: "host",
      eventTime: "ts",
      eventTimeUnit: "milliseconds",
      filter: { metric: "cpu" },
      window: { type: "tumbling", size: 300_000 },
      aggregates: [
        { name: "avg", op: "avg", field: "value" },
        { name: "max", op: "max", field: "value" },
        { name: "n", op: "count" },
      ],
      outOfOrderness: 30_000,
      allowedLateness: 0,
      idleTimeout: 60_000,
      maxFutureSkew: 3_600_000,
      keyGroups: 32,
    });
  });

  it("takes a pipeline's number of key groups within Flink's bounds, and refuses others naming the field", () => {
    expect(parsePipelines({ pipelines: [{ ...seedPipeline, keyGroups: 4096 }] })[0]?.keyGroups).toBe(4096);
    for (const keyGroups of [0, 32_769, 1.5])
      expect(() => parsePipelines({ pipelines: [{ ...seedPipeline, keyGroups }] })).toThrow(/keyGroups/);
  });

  it("accepts sliding and session windows and dot paths", () => {
    const pipelines = parsePipelines({
      pipelines: [
        { ...seedPipeline, name: "a", key: "tags.host", window: { type: "sliding", size: "60m", slide: "1m" } },
        { ...seedPipeline, name: "b", window: { type: "session", gap: "10m" }, aggregates: { s: { sum: "m.bytes" } } },
      ],
    });
    expect(pipelines.map((p) => p.window)).toEqual([
      { type: "sliding", size: 3_600_000, slide: 60_000 },
      { type: "session", gap: 600_000 },
    ]);
  });

  it("names the pipeline and the field of every problem", () => {
    const problems = problemsOf({
      pipelines: [
        { ...seedPipeline, window: { type: "tumbling", size: "5 minutes" } },
        { ...seedPipeline, name: "other", aggregates: { p: { median: "value" } } },
      ],
    });
    expect(problems).toContainEqual(
      expect.stringMatching(/^pipeline "cpu-avg-5m" \(pipelines\[0\]\), field window\.size: invalid duration "5 minutes"/),
    );
    expect(problems).toContainEqual(expect.stringMatching(/^pipeline "other" \(pipelines\[1\]\), field aggregates\.p/));
  });

  it("refuses unknown window types, missing fields, duplicate names and too many panes", () => {
    expect(problemsOf({ pipelines: [{ ...seedPipeline, window: { type: "hopping", size: "1m" } }] })[0]).toMatch(
      /window\.type: "hopping" is not allowed; expected "tumbling" or "sliding" or "session" or "cumulate"$/,
    );
    expect(problemsOf({ pipelines: [{ ...seedPipeline, key: undefined }] })[0]).toMatch(/field key:/);
    expect(problemsOf({ pipelines: [seedPipeline, seedPipeline] })[0]).toMatch(/duplicate pipeline name "cpu-avg-5m"/);
    expect(problemsOf({ pipelines: [{ ...seedPipeline, window: { type: "sliding", size: "1d", slide: "7s" } }] })[0]).toMatch(
      /window\.slide: .* combines 86400 panes of 1s/,
    );
    expect(problemsOf({ pipelines: [{ ...seedPipeline, surprise: 1 }] })[0]).toMatch(/surprise/);
    expect(problemsOf({ pipelines: [] })[0]).toMatch(/at least one pipeline/);
  });

  it("refuses, one line each naming the pipeline and the field, what a cascade (a pipeline from another) may not be", () => {
    const source = { ...seedPipeline, name: "src" };
    const reader = {
      name: "rd",
      from: { pipeline: "src" },
      key: [],
      eventTime: "window_time",
      window: { type: "tumbling", size: "10m" },
      aggregates: { n: { count: true } },
    };
    const refused = (pipelines: unknown[]) => problemsOf({ pipelines });
    // accepted: a reader windowing the rows again, and one regrouping them in their own window
    expect(() =>
      parsePipelines({
        pipelines: [source, reader, { ...reader, name: "same", from: { pipeline: "src", sameWindow: true }, window: source.window }],
      }),
    ).not.toThrow();
    // a ranked cascade (Window Top-N of the rows it regroups) is accepted
    expect(() =>
      parsePipelines({
        pipelines: [
          source,
          {
            ...reader,
            key: "host",
            from: { pipeline: "src", sameWindow: true },
            window: source.window,
            rank: { n: 2, order: [{ field: "n", desc: true }] },
          },
        ],
      }),
    ).not.toThrow();
    expect(refused([source, { ...reader, from: { pipeline: "nope" } }])).toEqual([
      'pipeline "rd" (pipelines[1]), field from.pipeline: "nope" is not a pipeline of this file',
    ]);
    expect(
      refused([
        { ...reader, name: "a", from: { pipeline: "b" } },
        { ...reader, name: "b", from: { pipeline: "a" } },
      ])[0],
    ).toBe('pipeline "a" (pipelines[0]), field from.pipeline: reads itself through "a" (pipelines read each other in a loop)');
    expect(refused([{ ...source, allowedLateness: "1m" }, reader])[0]).toMatch(
      /^pipeline "rd" \(pipelines\[1\]\), field from\.pipeline: "src", which this pipeline reads, has allowedLateness: a cascade reads final rows only/,
    );
    expect(refused([{ ...source, early: "10s" }, reader])[0]).toMatch(
      /field from\.pipeline: "src", which this pipeline reads, fires early/,
    );
    expect(refused([{ ...source, window: { type: "session", gap: "1m" } }, reader])[0]).toMatch(
      /field from\.pipeline: "src", which this pipeline reads, has session windows: a cascade over sessions is not supported yet$/,
    );
    expect(
      refused([{ ...source, rank: { n: 3, order: [{ field: "avg", desc: true }] } }, { ...reader }]).some((p) =>
        /field from\.pipeline: "src", which this pipeline reads, ranks \(Window Top-N\)/.test(p),
      ),
    ).toBe(true);
    expect(refused([source, { ...reader, window: { type: "session", gap: "1m" } }])[0]).toMatch(
      /field window: a cascade's window is tumbling/,
    );
    expect(refused([source, { ...reader, early: "1s" }])[0]).toMatch(/field early: a cascade fires when its source's windows are final/);
    expect(refused([source, { ...reader, dedupe: { field: "id", within: "1m" } }])[0]).toMatch(/field dedupe: a cascade reads rows/);
    expect(refused([source, { ...reader, from: { pipeline: "src", sameWindow: true } }])[0]).toBe(
      'pipeline "rd" (pipelines[1]), field window: must be the window of "src" (sameWindow: each row stays in its window)',
    );
    expect(refused([{ ...source, internal: true }])[0]).toBe(
      'pipeline "src" (pipelines[0]), field internal: is for a pipeline another reads (from): no pipeline reads this one',
    );
    for (const problem of refused([
      { ...source, early: "1s" },
      { ...reader, early: "1s", dedupe: { field: "id", within: "1m" } },
    ]))
      expect(problem).not.toContain("\n");
  });

  it("loads a file and reports unreadable or non-JSON files by path", async () => {
    const dir = await mkdtemp(join(tmpdir(), "panes-pipelines-"));
    const good = join(dir, "good.json");
    await writeFile(good, JSON.stringify({ pipelines: [seedPipeline] }));
    expect(await loadPipelinesFile(good)).toHaveLength(1);
    const bad = join(dir, "bad.json");
    await writeFile(bad, "{ pipelines: ");
    await expect(loadPipelinesFile(bad)).rejects.toThrow(/bad\.json:\n {2}- not valid JSON/);
    await expect(loadPipelinesFile(join(dir, "missing.json"))).rejects.toThrow(/cannot read the file/);
  });
});
