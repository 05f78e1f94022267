// The random window scripts of the core's property test, end to end through the real ingest and
// watermark handlers on the emulators (each run its own pipeline): the DynamoDB glue — conditional
// writes, the due index, tombstones, the ledger — must emit exactly what the reference model of
// Flink's WindowOperator emits. Fewer runs than in memory: each is a few hundred requests.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emulatedDeployment } from "../helpers/emulated.ts";
import { HandlerHarness } from "../helpers/handler-harness.ts";
import {
  checkAgainstModel,
  emissionOf,
  pipelineOfScript,
  type Script,
  type SystemUnderTest,
  scripts,
} from "../helpers/semantics-scripts.ts";

let deployment: Awaited<ReturnType<typeof emulatedDeployment>>;
let runs = 0;
/** retractions the handlers published, over every run */
let retractions = 0;

beforeAll(async () => {
  deployment = await emulatedDeployment("semantics", 1);
});

afterAll(() => {
  deployment.dynamodb.destroy();
  deployment.kinesis.destroy();
});

function throughHandlers(script: Script): SystemUnderTest {
  runs++;
  const harness = new HandlerHarness(deployment, pipelineOfScript(script, `run-${runs}`));
  return {
    ingest: (events) => harness.ingest(events),
    advanceWatermark: (to) => harness.advanceWatermark(to),
    close: async (now) => {
      harness.now = now;
      await harness.close();
    },
    emitted: () => {
      const emitted = harness.published.map(emissionOf);
      retractions = Math.max(retractions, emitted.filter((e) => e.retracted).length);
      return emitted;
    },
    letters: () => harness.letters(),
    finalResults: async () => (await harness.finalResults()).map(emissionOf),
  };
}

describe("window semantics through the real handlers against the reference model (property)", () => {
  it("emits what Flink's WindowOperator emits, step by step, and reports every refused event", async () => {
    await fc.assert(
      fc.asyncProperty(scripts({ maxSteps: 25, maxBatch: 4 }), (script) => checkAgainstModel(script, throughHandlers(script))),
      { numRuns: 30 },
    );
  });

  it("with HAVING and allowed lateness or early firing, emits the rows and the retractions of Flink's retract stream", async () => {
    await fc.assert(
      fc.asyncProperty(scripts({ maxSteps: 25, maxBatch: 4, having: true }), (script) =>
        checkAgainstModel(script, throughHandlers(script)),
      ),
      {
        numRuns: 30,
        examples: [
          // a late element merges a session that showed a row into one that does not pass: the new session's
          // retraction withdraws the old one's row
          [
            {
              window: { type: "session", gap: 10 },
              allowedLateness: 500,
              early: undefined,
              having: 0,
              steps: [{ batch: [{ key: "a", ts: 0, value: 5 }] }, { watermark: 40 }, { batch: [{ key: "a", ts: 8, value: -9 }] }],
            },
          ],
        ],
      },
    );
    // the scripts did make rows stop passing
    expect(retractions).toBeGreaterThan(0);
  });
});
