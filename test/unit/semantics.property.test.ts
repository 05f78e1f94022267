// Panes' window core against the reference model of Flink's WindowOperator, on random scripts: elements
// in any order, watermarks that jump or stand still, processing time passing (early results), allowed
// lateness from none to more than the windows, for tumbling, sliding, cumulating and session windows.
// After every step the firings emitted (window, contents, version, final) must be the model's; every
// event refused by a window must be reported late for exactly that window; the final results agree.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ModelFiring, type ModelWindowSpec, WindowOperatorModel } from "../../shared/local/flink-model.ts";
import { parsePipelines } from "../../shared/pipelines/load.ts";
import { END_OF_TIME } from "../../shared/windows/watermark.ts";
import { valuesOfElements } from "../helpers/conformance.ts";
import { type EngineResult, MemoryEngine } from "../helpers/memory-engine.ts";

const AGGREGATES = { n: { count: true }, sum: { sum: "value" }, max: { max: "value" } };

const windowSpec: fc.Arbitrary<ModelWindowSpec> = fc.oneof(
  fc.integer({ min: 1, max: 8 }).map((k) => ({ type: "tumbling" as const, size: k * 10 })),
  fc
    .tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }))
    .map(([size, slide]) => ({ type: "sliding" as const, size: size * 10, slide: slide * 10 })),
  fc
    .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }))
    .map(([step, n]) => ({ type: "cumulate" as const, size: step * n * 10, step: step * 10 })),
  fc.integer({ min: 1, max: 40 }).map((gap) => ({ type: "session" as const, gap })),
);

type Step = { element: { key: string; ts: number; value: number } } | { watermark: number } | { tick: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      element: fc.record({ key: fc.constantFrom("a", "b"), ts: fc.integer({ min: 0, max: 200 }), value: fc.integer({ min: -5, max: 9 }) }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ watermark: fc.integer({ min: 0, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ tick: fc.integer({ min: 1, max: 30 }) }) },
);

interface Scenario {
  window: ModelWindowSpec;
  allowedLateness: number;
  early: number | undefined;
  steps: Step[];
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  window: windowSpec,
  allowedLateness: fc.constantFrom(0, 0, 1, 7, 25, 500),
  early: fc.option(fc.constantFrom(5, 20), { nil: undefined }),
  steps: fc.array(step, { minLength: 1, maxLength: 40 }),
});

interface Emission {
  key: string;
  start: number;
  end: number;
  version: number;
  final: boolean;
  values: Record<string, number>;
}

const canonical = (emissions: readonly Emission[]) => emissions.map((e) => JSON.stringify(e)).sort();
const lateId = (key: unknown, ts: unknown, value: unknown, windows: readonly { start: number; end: number }[]) =>
  JSON.stringify([key, ts, value, [...windows].sort((a, b) => a.start - b.start || a.end - b.end).map((w) => [w.start, w.end])]);

function runBoth(s: Scenario): void {
  const [pipeline] = parsePipelines({
    pipelines: [
      {
        name: "p",
        key: "key",
        eventTime: "ts",
        window: s.window,
        aggregates: AGGREGATES,
        allowedLateness: s.allowedLateness,
        ...(s.early === undefined ? {} : { early: s.early }),
      },
    ],
  });
  if (pipeline === undefined) throw new Error("no pipeline");
  const model = new WindowOperatorModel(s.window, s.allowedLateness);
  const engine = new MemoryEngine(pipeline);
  const fromModel = (f: ModelFiring): Emission => ({
    key: f.key,
    start: f.window.start,
    end: f.window.end,
    version: f.version,
    final: f.final,
    values: valuesOfElements(
      AGGREGATES,
      f.elements.map((e) => e.data as { key: string; ts: number; value: number }),
    ),
  });
  const fromEngine = (r: EngineResult): Emission => ({
    key: r.key,
    start: r.start,
    end: r.end,
    version: r.version,
    final: r.final,
    values: { n: r.values.n as number, sum: r.values.sum as number, max: r.values.max as number },
  });
  // Both start at a watermark no window of these scripts is behind (Panes has none before a checkpoint).
  let flinkWatermark = -1;
  model.processWatermark(flinkWatermark);
  engine.advanceWatermark(flinkWatermark + 1);
  let now = 0;
  let seenModel = 0;
  let seenEngine = 0;
  const settle = (label: string) => {
    if (s.early !== undefined) model.earlyFire(now, s.early);
    engine.now = now;
    engine.close();
    const m = model.firings.slice(seenModel).map(fromModel);
    const e = engine.emitted.slice(seenEngine).map(fromEngine);
    expect(canonical(e), label).toEqual(canonical(m));
    seenModel = model.firings.length;
    seenEngine = engine.emitted.length;
  };
  s.steps.forEach((st, i) => {
    if ("element" in st) {
      model.processElement({ key: st.element.key, ts: st.element.ts, data: st.element });
      engine.ingest([st.element]);
    } else if ("watermark" in st) {
      flinkWatermark += st.watermark;
      model.processWatermark(flinkWatermark);
      engine.advanceWatermark(flinkWatermark + 1);
    } else {
      now += st.tick;
    }
    settle(`after step ${i}: ${JSON.stringify(st)}`);
  });
  // Every refusal reported, for exactly the windows that refused.
  const modelLate = model.late.map((l) => {
    const e = l.element.data as { key: string; ts: number; value: number };
    return lateId(e.key, e.ts, e.value, l.windows);
  });
  const engineLate = engine.letters
    .filter((l) => l.kind === "late")
    .map((l) => {
      const e = JSON.parse(new TextDecoder().decode(l.data)) as { key: string; ts: number; value: number };
      return lateId(e.key, e.ts, e.value, l.windows ?? []);
    });
  expect(engineLate.sort()).toEqual(modelLate.sort());
  // The end of input: everything fires; the current result of every window agrees.
  model.processWatermark(Number.MAX_SAFE_INTEGER);
  engine.advanceWatermark(END_OF_TIME);
  settle("end of input");
  const finals = (xs: Emission[]) => canonical(xs.map((x) => ({ ...x, version: 0 })));
  expect(finals(engine.finalResults().map(fromEngine))).toEqual(finals(model.finalFirings().map(fromModel)));
}

describe("window semantics against the reference model (property)", () => {
  it("emits what Flink's WindowOperator emits, step by step, and reports every refused event", () => {
    fc.assert(fc.property(scenario, runBoth), { numRuns: 4000 });
  });

  it("holds for sessions with lateness, where merging decides lateness", () => {
    const sessions = scenario.map((s) => ({ ...s, window: { type: "session" as const, gap: 15 }, allowedLateness: 10 }));
    fc.assert(fc.property(sessions, runBoth), { numRuns: 2000 });
  });
});
