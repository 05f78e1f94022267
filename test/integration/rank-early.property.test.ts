// Window Top-N with early firing (and allowed lateness, and HAVING), end to end through the real ingest
// and watermark handlers on the emulators: after every step of a random script, the rankings published
// are those of the reference model of Flink's WindowOperator — each window a firing touched ranked again
// from its keys' current rows, early until the watermark closes it — and the rankings kept at the end
// are every window's current one.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emulatedDeployment } from "../helpers/emulated.ts";
import { HandlerHarness } from "../helpers/handler-harness.ts";
import {
  checkRankingsAgainstModel,
  pipelineOfScript,
  type RankedSystemUnderTest,
  rankingOf,
  type Script,
  scriptRank,
  scripts,
} from "../helpers/semantics-scripts.ts";

let deployment: Awaited<ReturnType<typeof emulatedDeployment>>;
let runs = 0;
/** what the handlers published, over every run */
const seen = { early: 0, retracted: 0 };

beforeAll(async () => {
  deployment = await emulatedDeployment("rank-early", 1);
});

afterAll(() => {
  deployment.dynamodb.destroy();
  deployment.kinesis.destroy();
});

function throughHandlers(script: Script, n: number): RankedSystemUnderTest {
  runs++;
  const harness = new HandlerHarness(deployment, pipelineOfScript(script, `run-${runs}`, scriptRank(n)));
  return {
    ingest: (events) => harness.ingest(events),
    advanceWatermark: (to) => harness.advanceWatermark(to),
    close: async (now) => {
      harness.now = now;
      await harness.close();
    },
    emitted: () => {
      const emitted = harness.published.map(rankingOf);
      seen.early = Math.max(seen.early, emitted.filter((e) => !e.final).length);
      seen.retracted = Math.max(seen.retracted, emitted.filter((e) => e.retracted).length);
      return emitted;
    },
    letters: () => harness.letters(),
    finalResults: async () => (await harness.finalResults()).map(rankingOf),
  };
}

/** Scripts a Window Top-N can rank (not sessions), early firing always on. */
const rankable = (having: boolean) =>
  fc
    .tuple(
      scripts({ maxSteps: 20, maxBatch: 4, having }).filter((s) => s.window.type !== "session"),
      fc.constantFrom(5, 20),
      fc.constantFrom(1, 2),
    )
    .map(([script, early, n]) => ({ script: { ...script, early }, n }));

describe("Window Top-N with early firing through the real handlers against the reference model (property)", () => {
  it("gives each window's ranking early, then final, and again for late events, as the model ranks its keys' rows", async () => {
    await fc.assert(
      fc.asyncProperty(rankable(false), ({ script, n }) => checkRankingsAgainstModel(script, n, throughHandlers(script, n))),
      { numRuns: 15 },
    );
    expect(seen.early).toBeGreaterThan(0);
  });

  it("with HAVING, ranks the rows it keeps and retracts a ranking left with none", async () => {
    await fc.assert(
      fc.asyncProperty(rankable(true), ({ script, n }) => checkRankingsAgainstModel(script, n, throughHandlers(script, n))),
      {
        numRuns: 15,
        examples: [
          // an early ranking of a's row; b's rows do not pass; a late -9 makes a's final row fail: retracted
          [
            {
              script: {
                window: { type: "tumbling", size: 10 },
                allowedLateness: 500,
                early: 5,
                having: 0,
                steps: [
                  { batch: [{ key: "a", ts: 1, value: 5 }] },
                  { tick: 6 },
                  { batch: [{ key: "b", ts: 2, value: -1 }] },
                  { watermark: 20 },
                  { batch: [{ key: "a", ts: 3, value: -9 }] },
                ],
              },
              n: 1,
            },
          ],
        ],
      },
    );
    expect(seen.retracted).toBeGreaterThan(0);
  });
});
