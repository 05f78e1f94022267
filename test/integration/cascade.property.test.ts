// Cascaded window aggregations (a pipeline reading another's rows) end to end through the real ingest
// and watermark handlers on the emulators, against a two-stage reference: the first stage is the
// reference model of Flink's WindowOperator (its final firings are the rows), the second a brute force
// over those rows — regrouped in their own windows (Flink's GROUP BY cnt, window_start, window_end over
// a window TVF's rows), and windowed again on their window_time by an independent assigner. After every
// step, what each cascade published is every second-stage window the watermark passed, once, final.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePipelines } from "../../shared/core/pipelines/parse.ts";
import { parseExpression } from "../../shared/core/sql/parse-expression.ts";
import type { WindowResult } from "../../shared/core/types.ts";
import { END_OF_TIME } from "../../shared/core/windows/watermark.ts";
import { assignModelWindows, type ModelFiring, type ModelWindowSpec, WindowOperatorModel } from "../../tools/local/flink-model.ts";
import { emulatedDeployment } from "../helpers/emulated.ts";
import { HandlerHarness } from "../helpers/handler-harness.ts";
import { type ScriptElement, scripts, windowSpec } from "../helpers/semantics-scripts.ts";

let deployment: Awaited<ReturnType<typeof emulatedDeployment>>;
let runs = 0;
/** second-stage windows checked, over every run */
let checked = 0;
/** rankings checked, and of them those of two rows */
let rankingsChecked = 0;
let fullRankings = 0;

beforeAll(async () => {
  deployment = await emulatedDeployment("cascade", 1);
});

afterAll(() => {
  deployment.dynamodb.destroy();
  deployment.kinesis.destroy();
});

const BASE = 10_000;

interface Case {
  inner: ModelWindowSpec;
  outer: ModelWindowSpec;
  having?: number;
  steps: ({ batch: ScriptElement[] } | { watermark: number })[];
}

const cases: fc.Arbitrary<Case> = fc
  .tuple(
    scripts({ maxSteps: 16, maxBatch: 4, having: true }).filter((s) => s.window.type !== "session"),
    windowSpec.filter((w) => w.type !== "session"),
    fc.boolean(),
  )
  .map(([script, outer, having]) => ({
    inner: script.window,
    outer,
    ...(having ? { having: script.having } : {}),
    steps: script.steps.filter((s) => !("tick" in s)) as Case["steps"],
  }));

/** One first-stage row: the model's final firing of a window of a key. */
interface Row {
  key: string;
  start: number;
  end: number;
  n: number;
  sum: number;
  max: number;
}

function rowOf(f: ModelFiring): Row {
  const values = f.elements.map((e) => (e.data as ScriptElement).value);
  return {
    key: f.key,
    start: f.window.start,
    end: f.window.end,
    n: values.length,
    sum: values.reduce((a, b) => a + b, 0),
    max: Math.max(...values),
  };
}

interface Out {
  pipeline: string;
  key: string;
  start: number;
  end: number;
  values: Record<string, number>;
}

/** The second stages, by brute force over every first-stage row. */
function expectedOf(rows: readonly Row[], outer: ModelWindowSpec, names: { regroup: string; outer: string }): Out[] {
  const out = new Map<string, Out>();
  const add = (
    pipeline: string,
    key: string,
    w: { start: number; end: number },
    fold: (v: Record<string, number> | undefined) => Record<string, number>,
  ) => {
    const id = JSON.stringify([pipeline, key, w.start, w.end]);
    const known = out.get(id);
    out.set(id, { pipeline, key, start: w.start, end: w.end, values: fold(known?.values) });
  };
  for (const r of rows) {
    // GROUP BY n, window_start, window_end: the keys of each count, their sums' total, the highest max
    add(names.regroup, String(r.n), r, (v) => ({
      keys: (v?.keys ?? 0) + 1,
      total: (v?.total ?? 0) + r.sum,
      top: Math.max(v?.top ?? Number.NEGATIVE_INFINITY, r.max),
    }));
    // a window over the rows' window_time (end - 1), every row in one group
    for (const w of assignModelWindows(outer, r.end - 1))
      add(names.outer, "[]", w, (v) => ({
        rows: (v?.rows ?? 0) + 1,
        total: (v?.total ?? 0) + r.sum,
        low: Math.min(v?.low ?? Number.POSITIVE_INFINITY, r.max),
      }));
  }
  return [...out.values()];
}

const canonical = (xs: readonly object[]) => xs.map((x) => JSON.stringify(x)).sort();

/** A ranking as compared: its window, and its rows' (count, keys, total, row number) in order. */
interface Ranking {
  start: number;
  end: number;
  rows: [number, number, number, number][];
}

function rankingOf(r: WindowResult): Ranking {
  const rows = r.values.rows as unknown as { n: number; keys: number; total: number; rownum: number }[];
  return { start: r.start, end: r.end, rows: rows.map((x) => [Number(x.n), x.keys, x.total, x.rownum]) };
}

/**
 * The Window Top-N of the regrouping by brute force: per window, its rows by total, highest first (ties
 * by count, as Panes breaks ties by the key: one column, compared as text).
 */
function rankingsOf(expected: readonly Out[], regroup: string): Ranking[] {
  const byWindow = new Map<string, Out[]>();
  for (const o of expected.filter((x) => x.pipeline === regroup)) {
    const id = `${o.start}/${o.end}`;
    byWindow.set(id, [...(byWindow.get(id) ?? []), o]);
  }
  return [...byWindow.values()].map((rows) => {
    const sorted = [...rows].sort(
      (a, b) => (b.values.total as number) - (a.values.total as number) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
    );
    const first = rows[0] as Out;
    return {
      start: first.start,
      end: first.end,
      rows: sorted.slice(0, 2).map((o, i) => [Number(o.key), o.values.keys as number, o.values.total as number, i + 1]),
    };
  });
}

function outOf(r: WindowResult): Out {
  return { pipeline: r.pipeline, key: r.key, start: r.start, end: r.end, values: r.values as Record<string, number> };
}

async function check(c: Case): Promise<void> {
  runs++;
  const name = `run-${runs}`;
  const names = { regroup: `${name}-regroup`, outer: `${name}-outer`, ranked: `${name}-ranked` };
  const [inner, regroup, outer, ranked] = parsePipelines({
    pipelines: [
      {
        name,
        key: "key",
        eventTime: "ts",
        window: c.inner,
        aggregates: { n: { count: true }, sum: { sum: "value" }, max: { max: "value" } },
        outOfOrderness: 1_000_000_000_000_000,
        ...(c.having === undefined ? {} : { having: parseExpression(`\`sum\` > ${c.having}`) }),
      },
      {
        name: names.regroup,
        from: { pipeline: name, sameWindow: true },
        key: "n",
        eventTime: "window_time",
        window: c.inner,
        keyGroups: 4,
        aggregates: { keys: { count: true }, total: { sum: "sum" }, top: { max: "max" } },
      },
      {
        name: names.outer,
        from: { pipeline: name },
        key: [],
        eventTime: "window_time",
        window: c.outer,
        keyGroups: 2,
        aggregates: { rows: { count: true }, total: { sum: "sum" }, low: { min: "max" } },
      },
      {
        // Window Top-N of the regrouping: each window's two counts whose rows' sums are highest
        name: names.ranked,
        from: { pipeline: name, sameWindow: true },
        key: "n",
        eventTime: "window_time",
        window: c.inner,
        keyGroups: 3,
        aggregates: { keys: { count: true }, total: { sum: "sum" } },
        rank: { n: 2, order: [{ field: "total", desc: true }] },
      },
    ],
  });
  if (inner === undefined || regroup === undefined || outer === undefined || ranked === undefined) throw new Error("no pipelines");
  const harness = new HandlerHarness(deployment, inner, [regroup, outer, ranked]);
  const model = new WindowOperatorModel(c.inner, 0);
  let flinkWatermark = BASE - 1;
  model.processWatermark(flinkWatermark);
  await harness.advanceWatermark(flinkWatermark + 1);
  await harness.close();
  const rowsPassing = () =>
    model
      .finalFirings()
      .map(rowOf)
      .filter((r) => c.having === undefined || r.sum > c.having);
  const cascaded = () => harness.published.filter((r) => r.pipeline !== name && r.pipeline !== names.ranked);
  const settle = async (label: string, watermark: number, all: () => Out[]) => {
    await harness.close();
    // every second-stage window the watermark passed (Panes': Flink's + 1, a window fires at W ≥ end), once, final
    const expected = all().filter((o) => o.end <= watermark);
    const published = cascaded();
    expect(
      published.every((r) => r.final && r.version === 1),
      `${label}: final, once`,
    ).toBe(true);
    expect(canonical(published.map(outOf)), label).toEqual(canonical(expected));
    // the rankings: one per window of the regrouping, its rows the window's two highest totals in order
    const rankings = harness.published.filter((r) => r.pipeline === names.ranked);
    expect(
      rankings.every((r) => r.final && r.version === 1),
      `${label}: rankings final, once`,
    ).toBe(true);
    expect(canonical(rankings.map(rankingOf)), `${label}: rankings`).toEqual(canonical(rankingsOf(expected, names.regroup)));
    rankingsChecked += rankings.length;
    fullRankings += rankings.filter((r) => rankingOf(r).rows.length === 2).length;
  };
  // the expected cascades of the rows so far, up to the watermark: a second-stage window the watermark
  // passed holds only rows of first-stage windows that fired already (they end no later)
  for (const [i, step] of c.steps.entries()) {
    if ("batch" in step) {
      const batch = step.batch.map((e) => ({ ...e, ts: e.ts + BASE }));
      for (const e of batch) model.processElement({ key: e.key, ts: e.ts, data: e });
      await harness.ingest(batch);
    } else {
      flinkWatermark += step.watermark;
      model.processWatermark(flinkWatermark);
      await harness.advanceWatermark(flinkWatermark + 1);
    }
    const watermark = flinkWatermark + 1;
    await settle(`after step ${i}: ${JSON.stringify(step)}`, watermark, () => expectedOf(rowsPassing(), c.outer, names));
  }
  model.processWatermark(Number.MAX_SAFE_INTEGER);
  await harness.advanceWatermark(END_OF_TIME);
  await settle("end of input", END_OF_TIME, () => expectedOf(rowsPassing(), c.outer, names));
  const current = [...(await harness.finalResults(names.regroup)), ...(await harness.finalResults(names.outer))];
  expect(canonical(current.map(outOf)), "current results").toEqual(canonical(expectedOf(rowsPassing(), c.outer, names)));
  checked += current.length;
}

describe("cascaded window aggregations through the real handlers against a two-stage reference (property)", () => {
  it("regroups each window's rows in their window, and windows them again on their window_time, once each window is passed", async () => {
    await fc.assert(
      fc.asyncProperty(cases, (c) => check(c)),
      {
        numRuns: 15,
        examples: [
          // a cumulate of one step (a tumble with an offset) whose row's window_time ends the outer window
          [
            {
              inner: { type: "cumulate", size: 20, step: 20, offset: 1 },
              outer: { type: "tumbling", size: 60 },
              steps: [
                { batch: [{ key: "a", ts: 0, value: 0 }] },
                { watermark: 1 },
                { watermark: 6 },
                { watermark: 13 },
                { batch: [{ key: "a", ts: 0, value: 0 }] },
              ],
            },
          ],
          [
            {
              inner: { type: "tumbling", size: 10 },
              outer: { type: "sliding", size: 30, slide: 10 },
              steps: [
                {
                  batch: [
                    { key: "a", ts: 1, value: 5 },
                    { key: "b", ts: 4, value: 2 },
                    { key: "a", ts: 12, value: 1 },
                  ],
                },
                { watermark: 15 },
                { batch: [{ key: "b", ts: 25, value: 7 }] },
                { watermark: 30 },
              ],
            },
          ],
        ],
      },
    );
    expect(checked).toBeGreaterThan(0);
    expect(rankingsChecked).toBeGreaterThan(0);
    expect(fullRankings).toBeGreaterThan(0);
  });
});
