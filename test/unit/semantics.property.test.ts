// Panes' window core against the reference model of Flink's WindowOperator, on random scripts: elements
// in any order and batches, watermarks that jump or stand still, processing time passing (early
// results), allowed lateness from none to more than the windows, for tumbling, sliding, cumulating and
// session windows (test/helpers/semantics-scripts.ts says what is checked). In memory: thousands of runs.
import fc from "fast-check";
import { describe, it } from "vitest";
import { MemoryEngine, type MemoryEngineOptions } from "../helpers/memory-engine.ts";
import {
  checkAgainstModel,
  emissionOf,
  pipelineOfScript,
  type Script,
  type SystemUnderTest,
  scripts,
} from "../helpers/semantics-scripts.ts";

function inMemory(script: Script, options: MemoryEngineOptions = {}): SystemUnderTest {
  const engine = new MemoryEngine(pipelineOfScript(script), options);
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

  it("holds with keys in several key groups, batches over two shard logs, and units that stop after a pane write and run again", async () => {
    const fixed = scripts({ maxSteps: 40, maxBatch: 3 }).filter((s) => s.window.type !== "session");
    await fc.assert(
      fc.asyncProperty(fixed, fc.integer({ min: 1, max: 3 }), fc.integer(), (script, keyGroups, seed) =>
        checkAgainstModel(
          script,
          inMemory(script, {
            keyGroups,
            shards: 2,
            // about half the units stop part-way, chosen by the seed
            stopAfterFirstPane: (epoch, group) => ((seed ^ Math.imul(epoch, 0x9e3779b1) ^ Math.imul(group, 0x85ebca6b)) >>> 3) % 2 === 0,
          }),
        ),
      ),
      { numRuns: 2000 },
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
