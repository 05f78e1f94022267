// `panes replay` end to end on generated data, for all three window types, against a brute-force
// batch computation — on both Kinesis emulators (kinesis-local is LocalStack's Kinesis engine).
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadPipelinesFile } from "../../shared/app/pipelines-file.ts";
import { parsePipelines } from "../../shared/core/pipelines/parse.ts";
import { Chaos } from "../../tools/local/chaos.ts";
import { generateMetrics } from "../../tools/local/generate.ts";
import { compareWindows, type ReferencePipeline, referenceWindows } from "../../tools/local/reference.ts";
import { replay } from "../../tools/local/replay.ts";
import { emulatorEndpoints } from "../helpers/emulated.ts";

const pipelines = parsePipelines({
  pipelines: [
    {
      name: "cpu-avg-5m",
      key: "host",
      eventTime: "ts",
      filter: { metric: "cpu" },
      window: { type: "tumbling", size: "5m" },
      aggregates: { avg: { avg: "value" }, max: { max: "value" }, n: { count: true } },
      outOfOrderness: "30s",
    },
    {
      name: "mem-max-60m",
      key: "host",
      eventTime: "ts",
      filter: { metric: "mem" },
      window: { type: "sliding", size: "60m", slide: "1m" },
      aggregates: { max: { max: "value" }, min: { min: "value" } },
      outOfOrderness: "30s",
    },
    {
      name: "mem-cumulating-1h-10m",
      key: "host",
      eventTime: "ts",
      filter: { metric: "mem" },
      window: { type: "cumulate", size: "1h", step: "10m" },
      aggregates: { max: { max: "value" }, n: { count: true } },
      outOfOrderness: "30s",
    },
    {
      name: "sessions-45s",
      key: "host",
      eventTime: "ts",
      window: { type: "session", gap: "45s" },
      aggregates: { n: { count: true }, sum: { sum: "value" }, avg: { avg: "value" } },
      outOfOrderness: "30s",
    },
  ],
});

async function replayAndCompare(kind: "kinesalite" | "kinesisLocal", events: number, shards: number) {
  // Prepare: generated events whose disorder (20 s) stays within outOfOrderness (30 s)
  const generated = [
    ...generateMetrics({ hosts: 12, events, start: Date.parse("2026-05-01T00:00:00Z"), stepMs: 1500, disorderMs: 20_000, seed: events }),
  ];
  const dir = await mkdtemp(join(tmpdir(), "panes-replay-"));
  const input = join(dir, "events.jsonl");
  await writeFile(input, generated.map((e) => JSON.stringify(e)).join("\n"));

  // Act
  const summary = await replay({ pipelines, input, shards, endpoints: emulatorEndpoints(kind), batchSize: 500 });

  // Assess
  const expected = referenceWindows(pipelines as ReferencePipeline[], generated as unknown as Record<string, unknown>[]);
  const difference = compareWindows(summary.results, expected);
  expect(expected.length).toBeGreaterThan(events / 4);
  for (const type of ["tumbling", "sliding", "session", "cumulate"]) {
    expect(summary.results.some((r) => pipelines.find((p) => p.name === r.pipeline)?.window.type === type)).toBe(true);
  }
  expect(difference.missing).toEqual([]);
  expect(difference.unexpected).toEqual([]);
  expect(difference.wrong).toEqual([]);
  expect(summary.deadLettered + summary.late + summary.onFailure).toBe(0);
}

describe("panes replay", () => {
  it("matches the batch reference for tumbling, sliding and session windows on kinesalite", async () => {
    await replayAndCompare("kinesalite", 6000, 3);
  });

  it("matches the batch reference on kinesis-local (LocalStack's Kinesis engine)", async () => {
    await replayAndCompare("kinesisLocal", 2500, 2);
  });
});

describe("panes replay with quantiles", () => {
  it("gives every window's quantiles within the sketch's relative accuracy of the exact ones", async () => {
    // Prepare
    const quantilePipelines = parsePipelines({
      pipelines: [
        {
          name: "latency",
          key: "host",
          eventTime: "ts",
          window: { type: "tumbling", size: "5m" },
          aggregates: { n: { count: true }, value: { quantiles: { field: "value", q: [0.5, 0.9, 0.99], accuracy: 0.01 } } },
          outOfOrderness: "30s",
        },
      ],
    });
    const generated = [
      ...generateMetrics({ hosts: 5, events: 3000, start: Date.parse("2026-05-02T00:00:00Z"), stepMs: 500, disorderMs: 20_000, seed: 11 }),
    ];
    const dir = await mkdtemp(join(tmpdir(), "panes-quantiles-"));
    const input = join(dir, "events.jsonl");
    await writeFile(input, generated.map((e) => JSON.stringify(e)).join("\n"));

    // Act
    const summary = await replay({ pipelines: quantilePipelines, input, shards: 2, endpoints: emulatorEndpoints(), batchSize: 250 });

    // Assess: against exact lower quantiles of each window's values
    expect(summary.results.length).toBeGreaterThan(20);
    for (const result of summary.results) {
      const values = generated
        .filter((e) => e.host === result.key && e.ts >= result.start && e.ts < result.end)
        .map((e) => e.value)
        .sort((a, b) => a - b);
      expect(result.count).toBe(values.length);
      const quantiles = result.values.value as Record<string, number>;
      for (const q of [0.5, 0.9, 0.99]) {
        const exact = values[Math.floor(q * (values.length - 1))] as number;
        expect(Math.abs((quantiles[`p${Math.round(q * 100)}`] as number) - exact)).toBeLessThanOrEqual(0.01 * exact + 1e-9);
      }
    }
  });
});

describe("panes replay of KPL-aggregated records", () => {
  it("gives the reference windows, with fences per sub-record under injected faults", async () => {
    // Prepare
    const generated = [
      ...generateMetrics({ hosts: 8, events: 1500, start: Date.parse("2026-05-03T00:00:00Z"), stepMs: 1500, disorderMs: 20_000, seed: 5 }),
    ];
    const dir = await mkdtemp(join(tmpdir(), "panes-kpl-"));
    const input = join(dir, "events.jsonl");
    await writeFile(input, generated.map((e) => JSON.stringify(e)).join("\n"));
    const chaos = new Chaos(0.3, 21);

    // Act: the producer packs records the KPL way; the ingest function unpacks them
    const summary = await replay({ pipelines, input, shards: 2, endpoints: emulatorEndpoints(), batchSize: 50, aggregate: true, chaos });

    // Assess
    const difference = compareWindows(
      summary.results,
      referenceWindows(pipelines as ReferencePipeline[], generated as unknown as Record<string, unknown>[]),
    );
    expect(chaos.total).toBeGreaterThan(5);
    expect(difference.missing).toEqual([]);
    expect(difference.unexpected).toEqual([]);
    expect(difference.wrong).toEqual([]);
    expect(summary.deadLettered + summary.late).toBe(0);
  });
});

describe("panes replay with a where condition", () => {
  it("takes exactly the events the condition is TRUE for, through the real handlers", async () => {
    // Prepare: the condition as a user writes it, compiled by the loader the CLI and cdk synth use
    const dir = await mkdtemp(join(tmpdir(), "panes-where-"));
    const file = join(dir, "pipelines.json");
    const spec = {
      name: "cpu-hot",
      key: "host",
      eventTime: "ts",
      filter: { metric: "cpu" },
      columns: { value: "DOUBLE", host: "STRING" },
      // VALUE is a reserved word in Flink SQL: a column of that name is written in backquotes, as in Flink
      where: "`value` >= 50 AND host IN ('host-001', 'host-003') OR `value` BETWEEN 10 AND 12",
      window: { type: "tumbling", size: "5m" },
      aggregates: { n: { count: true }, max: { max: "value" } },
      outOfOrderness: "30s",
    };
    await writeFile(file, JSON.stringify({ pipelines: [spec] }));
    const wherePipelines = await loadPipelinesFile(file);
    const generated = [
      ...generateMetrics({ hosts: 5, events: 3000, start: Date.parse("2026-05-03T00:00:00Z"), stepMs: 500, disorderMs: 20_000, seed: 12 }),
    ];
    const input = join(dir, "events.jsonl");
    await writeFile(input, generated.map((e) => JSON.stringify(e)).join("\n"));

    // Act
    const summary = await replay({ pipelines: wherePipelines, input, shards: 2, endpoints: emulatorEndpoints(), batchSize: 250 });

    // Assess: against the same condition written in JavaScript, then the brute-force windows
    const taken = generated.filter((e) => (e.value >= 50 && ["host-001", "host-003"].includes(e.host)) || (e.value >= 10 && e.value <= 12));
    const { where: _where, columns: _columns, ...plain } = spec;
    const [reference] = parsePipelines({ pipelines: [plain] });
    const expected = referenceWindows([reference] as ReferencePipeline[], taken as unknown as Record<string, unknown>[]);
    expect(expected.length).toBeGreaterThan(10);
    const difference = compareWindows(summary.results, expected);
    expect(difference.missing).toEqual([]);
    expect(difference.unexpected).toEqual([]);
    expect(difference.wrong).toEqual([]);
    expect(summary.deadLettered + summary.late).toBe(0);
  });
});

describe("panes replay of a Flink SQL pipelines file", () => {
  it("gives examples/monitoring.sql the results of its JSON twin, window for window, with the selected columns", async () => {
    // Prepare
    const generated = [
      ...generateMetrics({ hosts: 4, events: 2000, start: Date.parse("2026-05-04T00:00:00Z"), stepMs: 500, disorderMs: 20_000, seed: 13 }),
    ];
    const dir = await mkdtemp(join(tmpdir(), "panes-sql-twin-"));
    const input = join(dir, "events.jsonl");
    await writeFile(input, generated.map((e) => JSON.stringify(e)).join("\n"));
    const run = async (file: string) => {
      const summary = await replay({
        pipelines: await loadPipelinesFile(file),
        input,
        shards: 2,
        endpoints: emulatorEndpoints(),
        batchSize: 250,
      });
      return summary.results.map(({ firedAt: _firedAt, ...result }) => result); // firedAt is the wall clock's
    };

    // Act
    const sql = await run("examples/monitoring.sql");
    const json = await run("examples/monitoring.pipelines.json");

    // Assess: the same windows and aggregates; the SQL results also carry the window's bounds and the key column
    expect(sql.length).toBeGreaterThan(50);
    expect(sql).toEqual(
      json.map((r) => ({
        ...r,
        values: { window_start: new Date(r.start).toISOString(), window_end: new Date(r.end).toISOString(), host: r.key, ...r.values },
      })),
    );
  });
});
