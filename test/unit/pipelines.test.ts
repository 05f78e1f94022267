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
