// Panes' window core against the reference model of Flink's WindowOperator, on random scripts: elements
// in any order and batches, watermarks that jump or stand still, processing time passing (early
// results), allowed lateness from none to more than the windows, for tumbling, sliding, cumulating and
// session windows (test/helpers/semantics-scripts.ts says what is checked). In memory: thousands of runs.
import fc from "fast-check";
import { describe, it } from "vitest";
import { MemoryEngine } from "../helpers/memory-engine.ts";
import {
  checkAgainstModel,
  emissionOf,
  pipelineOfScript,
  type Script,
  type SystemUnderTest,
  scripts,
} from "../helpers/semantics-scripts.ts";

function inMemory(script: Script): SystemUnderTest {
  const engine = new MemoryEngine(pipelineOfScript(script));
  return {
    ingest: async (events) => engine.ingest(events),
    advanceWatermark: async (to) => engine.advanceWatermark(to),
    close: async (now) => {
      engine.now = now;
      engine.close();
    },
    emitted: () => engine.emitted.map(emissionOf),
    letters: async () => engine.letters,
    finalResults: async () => engine.finalResults().map(emissionOf),
  };
}

describe("window semantics against the reference model (property)", () => {
  it("emits what Flink's WindowOperator emits, step by step, and reports every refused event", async () => {
    await fc.assert(
      fc.asyncProperty(scripts({ maxSteps: 40, maxBatch: 3 }), (script) => checkAgainstModel(script, inMemory(script))),
      { numRuns: 4000 },
    );
  });

  it("holds for sessions with lateness, where merging decides lateness", async () => {
    const sessions = scripts({ maxSteps: 40, maxBatch: 4 }).map((s) => ({
      ...s,
      window: { type: "session" as const, gap: 15 },
      allowedLateness: 10,
    }));
    await fc.assert(
      fc.asyncProperty(sessions, (script) => checkAgainstModel(script, inMemory(script))),
      { numRuns: 2000 },
    );
  });
});
