// A bounded `npm run chaos`: replays with injected faults (crashes between writes, crashes after all
// writes, timeouts, throttling, redelivery whole / bisected / merged, crashing and overlapping
// watermark runs) and, in the second run, resharding — every window checked against the reference,
// with late events, allowed lateness, early results, cumulating windows and cascades in the mix.
import { describe, expect, it } from "vitest";
import { loadPipelinesFile } from "../../shared/app/pipelines-file.ts";
import { runChaosReport } from "../../tools/local/chaos-report.ts";
import { emulatorEndpoints } from "../helpers/emulated.ts";

describe("reliability under injected faults", () => {
  it("loses, duplicates and changes nothing, every accepted event is in its windows, and versions never go back", async () => {
    // Prepare
    const pipelines = await loadPipelinesFile("examples/all-windows.pipelines.json");

    // Act
    const runs = await runChaosReport({
      pipelines,
      runs: 2,
      events: 1500,
      probability: 0.3,
      shards: 2,
      seed: 7,
      endpoints: emulatorEndpoints(),
    });

    // Assess
    const faults = runs.reduce((n, r) => n + r.faultsInjected, 0);
    const kinds = new Set(
      runs.flatMap((r) =>
        Object.entries(r.faults)
          .filter(([, n]) => n > 0)
          .map(([k]) => k),
      ),
    );
    expect(faults).toBeGreaterThan(40);
    expect(kinds.size).toBeGreaterThanOrEqual(5);
    expect(runs[1]?.reshardAt).toBeDefined();
    for (const pipeline of ["tumbling", "sliding", "session", "cumulate"])
      expect(pipelines.some((p) => p.window.type === pipeline)).toBe(true);
    expect(pipelines.some((p) => p.allowedLateness > 0 && p.early !== undefined)).toBe(true);
    // cascades, checked against the reference rows of their source: regrouped in their windows, and windowed again
    expect(pipelines.some((p) => p.from?.sameWindow === true)).toBe(true);
    expect(pipelines.some((p) => p.from !== undefined && !p.from.sameWindow)).toBe(true);
    for (const run of runs) {
      expect(run.windowsChecked).toBeGreaterThan(300);
      expect(run.late).toBeGreaterThan(0);
      const anomalies = { lost: run.lost, duplicated: run.duplicated, wrongValue: run.wrongValue, nonmonotonic: run.nonmonotonic };
      expect({ ...anomalies, acceptedButAbsent: run.acceptedButAbsent }).toEqual({
        lost: 0,
        duplicated: 0,
        wrongValue: 0,
        nonmonotonic: 0,
        acceptedButAbsent: 0,
      });
    }
  });
});
