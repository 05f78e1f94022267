// Apache Flink's own window tests (test/conformance/flink), end to end through the real handlers: each
// element is put on the emulated stream (kinesalite) and delivered to the real ingest handler in its
// own batch, each Flink watermark is stored as Panes' watermark (Flink's + 1), and the real watermark
// handler runs after every step, as Flink fires late windows on arrival. State, ledger and dead letters
// live in dynalite; what the handler publishes is what the case's firings are checked against.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WindowResult } from "../../shared/core/types.ts";
import { END_OF_TIME } from "../../shared/core/windows/watermark.ts";
import type { ConformanceCase, ConformanceElement, ConformanceFiring } from "../conformance/case.ts";
import { canonicalFirings, conformanceCases, elementId, eventOf, pipelineOf } from "../helpers/conformance.ts";
import { emulatedDeployment } from "../helpers/emulated.ts";
import { HandlerHarness } from "../helpers/handler-harness.ts";

let deployment: Awaited<ReturnType<typeof emulatedDeployment>>;

beforeAll(async () => {
  deployment = await emulatedDeployment("flink", 1);
});

afterAll(() => {
  deployment.dynamodb.destroy();
  deployment.kinesis.destroy();
});

async function playEndToEnd(testCase: ConformanceCase, index: number): Promise<void> {
  const pipeline = pipelineOf(testCase, `flink-${index}`);
  const harness = new HandlerHarness(deployment, pipeline);
  const names = Object.keys(testCase.aggregates);
  const asFiring = (r: WindowResult): ConformanceFiring => ({
    key: r.key,
    start: r.start,
    end: r.end,
    values: Object.fromEntries(names.map((n) => [n, r.values[n] as number])),
  });
  let seen = 0;
  for (const [stepIndex, step] of testCase.steps.entries()) {
    if ("element" in step) {
      await harness.ingest([eventOf(step.element)]);
      await harness.close();
    } else if ("watermark" in step) {
      await harness.advanceWatermark(step.watermark + 1);
      await harness.close();
    } else {
      expect(canonicalFirings(harness.published.slice(seen).map(asFiring)), `firings up to step ${stepIndex}`).toEqual(
        canonicalFirings(step.expect),
      );
      seen = harness.published.length;
    }
  }
  const letters = await harness.letters();
  expect(letters.filter((l) => l.kind === "invalid")).toEqual([]);
  const sideOutput = letters
    .filter((l) => l.kind === "late" && !(l.acceptedBy ?? []).includes(pipeline.name))
    .map((l) => JSON.parse(Buffer.from(l.data).toString()) as ConformanceElement);
  if (testCase.expected?.late !== undefined) expect(sideOutput.map(elementId).sort()).toEqual(testCase.expected.late.map(elementId).sort());
  if (testCase.expected?.lateDropped !== undefined) expect(sideOutput).toHaveLength(testCase.expected.lateDropped);
  if (testCase.expected?.final !== undefined) {
    await harness.advanceWatermark(END_OF_TIME);
    await harness.close();
    expect(canonicalFirings((await harness.finalResults()).map(asFiring))).toEqual(canonicalFirings(testCase.expected.final));
  }
}

describe("Flink's window tests, end to end through the real handlers", () => {
  conformanceCases().forEach(({ file, testCase }, index) => {
    it(`${file} ${testCase.name}`, () => playEndToEnd(testCase, index));
  });
});
