// `panes replay` gives the same bytes for the same input, every time, and those bytes are what the
// reference model of Flink's WindowOperator gives for replay's documented schedule: one shard,
// batches of --batch-size in input order, the watermark moving to (max event time − outOfOrderness)
// after every batch but the last, then +∞. The input is out of order by more than the pipelines
// allow, so lateness, allowed lateness and late output are all exercised — for every window type.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { WindowOperatorModel } from "../../tools/local/flink-model.ts";
import { generateMetrics } from "../../tools/local/generate.ts";
import { canonicalFirings, valuesOfElements } from "../helpers/conformance.ts";
import { runPanes } from "../helpers/processes.ts";

const definitions = [
  {
    name: "cpu-tumbling",
    key: "host",
    eventTime: "ts",
    filter: { metric: "cpu" },
    window: { type: "tumbling", size: "10s" },
    aggregates: { n: { count: true }, sum: { sum: "value" } },
    outOfOrderness: "2s",
    allowedLateness: "5s",
  },
  {
    name: "mem-sliding",
    key: "host",
    eventTime: "ts",
    filter: { metric: "mem" },
    window: { type: "sliding", size: "20s", slide: "10s" },
    aggregates: { n: { count: true }, max: { max: "value" } },
    outOfOrderness: "2s",
  },
  {
    name: "mem-cumulate",
    key: "host",
    eventTime: "ts",
    filter: { metric: "mem" },
    window: { type: "cumulate", size: "30s", step: "10s" },
    aggregates: { n: { count: true }, min: { min: "value" } },
    outOfOrderness: "2s",
    allowedLateness: "3s",
  },
  {
    name: "sessions",
    key: "host",
    eventTime: "ts",
    window: { type: "session", gap: "4s" },
    aggregates: { n: { count: true }, sum: { sum: "value" } },
    outOfOrderness: "2s",
    allowedLateness: "3s",
  },
];
const ms = { "2s": 2000, "3s": 3000, "4s": 4000, "5s": 5000, "10s": 10_000, "20s": 20_000, "30s": 30_000 } as Record<string, number>;
const BATCH = 10;

type Event = { host: string; metric: string; ts: number; value: number };

/** The model's final windows and late events for one pipeline under replay's schedule. */
function modelOf(definition: (typeof definitions)[number], events: readonly Event[]) {
  const w = definition.window as unknown as Record<string, string>;
  const spec =
    w.type === "session"
      ? { type: "session" as const, gap: ms[w.gap as string] as number }
      : w.type === "sliding"
        ? { type: "sliding" as const, size: ms[w.size as string] as number, slide: ms[w.slide as string] as number }
        : w.type === "cumulate"
          ? { type: "cumulate" as const, size: ms[w.size as string] as number, step: ms[w.step as string] as number }
          : { type: "tumbling" as const, size: ms[w.size as string] as number };
  const model = new WindowOperatorModel(spec, ms[definition.allowedLateness ?? ""] ?? 0);
  const outOfOrderness = ms[definition.outOfOrderness] as number;
  const mine = (e: Event) => definition.filter === undefined || e.metric === definition.filter.metric;
  let maxTs: number | undefined;
  let watermark: number | undefined;
  for (let i = 0; i < events.length; i += BATCH) {
    const batch = events.slice(i, i + BATCH).filter(mine);
    for (const e of batch) model.processElement({ key: e.host, ts: e.ts, data: e });
    if (i + BATCH >= events.length) break; // the shard is used up: it stops moving the watermark
    for (const e of batch) maxTs = Math.max(maxTs ?? e.ts, e.ts);
    if (maxTs !== undefined && (watermark === undefined || maxTs - outOfOrderness > watermark)) {
      watermark = maxTs - outOfOrderness;
      model.processWatermark(watermark - 1);
    }
  }
  model.processWatermark(Number.MAX_SAFE_INTEGER);
  return model;
}

describe("panes replay is deterministic", () => {
  it("gives byte-identical results and dead letters twice, equal to the reference model's", async () => {
    // Prepare: events out of order by up to 9 s against 2 s of out-of-orderness
    const dir = await mkdtemp(join(tmpdir(), "panes-determinism-"));
    const events = [...generateMetrics({ hosts: 4, events: 900, start: 1_700_000_000_000, stepMs: 200, disorderMs: 9000, seed: 3 })];
    const input = join(dir, "events.jsonl");
    const pipelines = join(dir, "pipelines.json");
    await writeFile(input, events.map((e) => JSON.stringify(e)).join("\n"));
    await writeFile(pipelines, JSON.stringify({ pipelines: definitions }));

    // Act: the same replay twice
    const outputs: { results: string; letters: string }[] = [];
    for (const run of [1, 2]) {
      const results = join(dir, `results-${run}.jsonl`);
      const letters = join(dir, `letters-${run}.jsonl`);
      const args = ["replay", "--pipelines", pipelines, "--input", input, "--output", results, "--dead-letters", letters];
      const { code, stderr } = await runPanes([...args, "--shards", "1", "--batch-size", String(BATCH)]);
      expect(code, stderr).toBe(0);
      outputs.push({ results: await readFile(results, "utf8"), letters: await readFile(letters, "utf8") });
    }

    // Assess: identical bytes, with late events among them
    expect(outputs[1]).toEqual(outputs[0]);
    const results = (outputs[0]?.results ?? "")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const letters = (outputs[0]?.letters ?? "")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(letters.filter((l) => l.kind === "late").length).toBeGreaterThan(20);
    for (const definition of definitions) {
      const model = modelOf(definition, events);
      const mine = results.filter((r) => r.pipeline === definition.name);
      const expected = model.finalFirings().map((f) => ({
        key: f.key,
        start: f.window.start,
        end: f.window.end,
        values: valuesOfElements(
          definition.aggregates,
          f.elements.map((e) => e.data as never),
        ),
      }));
      expect(canonicalFirings(mine), definition.name).toEqual(canonicalFirings(expected));
      const lateOf = (data: unknown, windows: { start: number; end: number }[]) =>
        JSON.stringify([data, windows.map((w) => [w.start, w.end]).sort((a, b) => (a[0] as number) - (b[0] as number))]);
      const modelLate = model.late.map((l) => lateOf(l.element.data, l.windows)).sort();
      const replayLate = letters
        .filter((l) => l.kind === "late" && l.pipeline === definition.name)
        .map((l) => lateOf(JSON.parse(l.data), l.windows ?? []))
        .sort();
      expect(replayLate, `${definition.name} late`).toEqual(modelLate);
    }
  });
});
