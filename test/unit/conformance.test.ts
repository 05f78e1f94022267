// Apache Flink's own window tests, ported as data (test/conformance/flink), run through (1) the reference
// model of Flink's WindowOperator — so the model is held to Flink's assertions — and (2) Panes' pure
// window core (planner, state updates, fate rules) driven in memory, one batch and one closing run per
// step, as Flink fires late windows on arrival. Every expected firing and late element must match.
import { describe, expect, it } from "vitest";
import { END_OF_TIME } from "../../shared/core/windows/watermark.ts";
import { type ModelFiring, WindowOperatorModel } from "../../tools/local/flink-model.ts";
import type { ConformanceCase, ConformanceElement, ConformanceFiring } from "../conformance/case.ts";
import { canonicalFirings, conformanceCases, elementId, eventOf, pipelineOf, valuesOfElements } from "../helpers/conformance.ts";
import { type EngineResult, MemoryEngine } from "../helpers/memory-engine.ts";

/** Runs the case; `emitted()` returns what was emitted so far, as firings. */
interface Runner {
  element(e: ConformanceElement): void;
  watermark(flinkWatermark: number): void;
  emitted(): ConformanceFiring[];
  finals(): ConformanceFiring[];
  sideOutput(): ConformanceElement[];
}

function modelRunner(testCase: ConformanceCase): Runner {
  const model = new WindowOperatorModel(testCase.window, testCase.allowedLateness);
  const asFiring = (f: ModelFiring): ConformanceFiring => ({
    key: f.key,
    start: f.window.start,
    end: f.window.end,
    values: valuesOfElements(
      testCase.aggregates,
      f.elements.map((e) => e.data as ConformanceElement),
    ),
  });
  return {
    element: (e) => model.processElement({ key: e.key, ts: e.ts, data: e }),
    watermark: (w) => model.processWatermark(w),
    emitted: () => model.firings.map(asFiring),
    finals: () => {
      model.processWatermark(Number.MAX_SAFE_INTEGER);
      return model.finalFirings().map(asFiring);
    },
    sideOutput: () => model.late.filter((l) => l.sideOutput).map((l) => l.element.data as ConformanceElement),
  };
}

function engineRunner(testCase: ConformanceCase): Runner {
  const pipeline = pipelineOf(testCase);
  const engine = new MemoryEngine(pipeline);
  const names = Object.keys(testCase.aggregates);
  const asFiring = (r: EngineResult): ConformanceFiring => ({
    key: r.key,
    start: r.start,
    end: r.end,
    values: Object.fromEntries(names.map((n) => [n, r.values[n] as number])),
  });
  return {
    element: (e) => {
      engine.ingest([eventOf(e)]);
      engine.close();
    },
    watermark: (w) => {
      engine.advanceWatermark(w + 1);
      engine.close();
    },
    emitted: () => engine.emitted.map(asFiring),
    finals: () => {
      engine.advanceWatermark(END_OF_TIME);
      engine.close();
      return engine.finalResults().map(asFiring);
    },
    sideOutput: () =>
      engine.letters
        .filter((l) => l.kind === "late" && !(l.acceptedBy ?? []).includes(pipeline.name))
        .map((l) => JSON.parse(new TextDecoder().decode(l.data)) as ConformanceElement),
  };
}

/** Plays the steps and checks every assertion of the case. */
function playCase(testCase: ConformanceCase, runner: Runner): void {
  let seen = 0;
  testCase.steps.forEach((step, index) => {
    if ("element" in step) runner.element(step.element);
    else if ("watermark" in step) runner.watermark(step.watermark);
    else {
      const emitted = runner.emitted();
      expect(canonicalFirings(emitted.slice(seen)), `firings up to step ${index}`).toEqual(canonicalFirings(step.expect));
      seen = emitted.length;
    }
  });
  const late = runner.sideOutput();
  if (testCase.expected?.late !== undefined) expect(late.map(elementId).sort()).toEqual(testCase.expected.late.map(elementId).sort());
  if (testCase.expected?.lateDropped !== undefined) expect(late).toHaveLength(testCase.expected.lateDropped);
  if (testCase.expected?.final !== undefined) expect(canonicalFirings(runner.finals())).toEqual(canonicalFirings(testCase.expected.final));
}

const cases = conformanceCases();

describe("Flink's window tests, run through the reference model", () => {
  it("has the ported cases", () => {
    expect(cases.length).toBeGreaterThan(40);
  });
  for (const { file, testCase } of cases) {
    it(`${file} ${testCase.name}`, () => playCase(testCase, modelRunner(testCase)));
  }
});

describe("Flink's window tests, run through Panes' window core", () => {
  for (const { file, testCase } of cases) {
    it(`${file} ${testCase.name}`, () => playCase(testCase, engineRunner(testCase)));
  }
});
