// The reproductions that showed Panes losing accepted events, through the real handlers on the
// emulators with the watermark derived from event times as in production (one shard, no
// out-of-orderness): each asserts what Flink's WindowOperator gives for the same input.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pipeline } from "../helpers/builders.ts";
import { emulatedDeployment } from "../helpers/emulated.ts";
import { HandlerHarness } from "../helpers/handler-harness.ts";

let deployment: Awaited<ReturnType<typeof emulatedDeployment>>;

beforeAll(async () => {
  deployment = await emulatedDeployment("scenarios", 1);
});

afterAll(() => {
  deployment.dynamodb.destroy();
  deployment.kinesis.destroy();
});

const harnessFor = (definition: Parameters<typeof pipeline>[0]) => new HandlerHarness(deployment, pipeline({ key: "k", ...definition }));

const span = (r: { start: number; end: number }) => `[${r.start},${r.end})`;

describe("lateness is decided once, when an event is applied", () => {
  it("a late event within allowed lateness fires its window again even when its batch moves the watermark past the lateness", async () => {
    // Prepare: tumbling 1 min, allowed lateness 2 min; [0, 60000) fires with h@10000 at watermark 120000
    const h = harnessFor({
      window: { type: "tumbling", size: "1m" },
      allowedLateness: "2m",
      aggregates: { sum: { sum: "v" }, n: { count: true } },
    });
    await h.ingest([
      { k: "h", ts: 10_000, v: 1 },
      { k: "x", ts: 120_000, v: 0 },
    ]);
    await h.close();
    expect(h.published.map((r) => [r.key, span(r), r.values.sum, r.version])).toEqual([["h", "[0,60000)", 1, 1]]);

    // Act: one batch holds an allowed late event and an event that moves the watermark far past its lateness
    await h.ingest([
      { k: "h", ts: 20_000, v: 2 },
      { k: "x", ts: 600_000, v: 0 },
    ]);
    await h.close();

    // Assess: Flink fires [0, 60000) again with both events (sum 3, n 2); nothing is late
    const window = (await h.finalResults()).find((r) => r.key === "h" && r.start === 0);
    expect(window).toMatchObject({ values: { sum: 3, n: 2 }, count: 2, version: 2, final: true });
    expect(h.published.filter((r) => r.key === "h").map((r) => r.version)).toEqual([1, 2]);
    expect(await h.letters()).toEqual([]);
  });

  it("a late event does not create a window its key never had (sliding windows)", async () => {
    // Prepare: sliding 3 s every 1 s, no lateness; another key moves the watermark to 4000
    const h = harnessFor({ window: { type: "sliding", size: "3s", slide: "1s" }, aggregates: { n: { count: true } } });
    await h.ingest([{ k: "x", ts: 4000 }]);
    await h.close();

    // Act: key k's first event, at 3500, arrives at watermark 4000
    await h.ingest([{ k: "k", ts: 3500 }]);
    await h.close();
    await h.ingest([{ k: "x", ts: 100_000 }]);
    await h.close();

    // Assess: [1000, 4000) had fired (for nobody) and refuses it; [2000, 5000) and [3000, 6000) take it
    const mine = (await h.finalResults()).filter((r) => r.key === "k").map(span);
    expect(mine.sort()).toEqual(["[2000,5000)", "[3000,6000)"]);
    const letters = await h.letters();
    expect(letters.map((l) => [l.kind, l.windows?.map(span), l.acceptedBy])).toEqual([["late", ["[1000,4000)"], [h.pipeline.name]]]);
  });
});

describe("cumulating windows fire again", () => {
  it("an early result grows with its window and the final result follows, once per window", async () => {
    // Prepare: cumulate 3 s by 1 s with early results every 10 ms of processing time
    const h = harnessFor({ window: { type: "cumulate", size: "3s", step: "1s" }, early: "10ms", aggregates: { n: { count: true } } });
    await h.ingest([{ k: "k", ts: 500 }]);
    await h.close();

    // Act: a second event, processing time passes, then the watermark passes every window
    h.now = 20;
    await h.ingest([{ k: "k", ts: 600 }]);
    await h.close();
    h.now = 40;
    await h.ingest([{ k: "x", ts: 10_000 }]);
    await h.close();

    // Assess: each of [0,1000) [0,2000) [0,3000): early n=1 (v1), early n=2 (v2), final n=2 (v3)
    const mine = h.published.filter((r) => r.key === "k");
    for (const end of [1000, 2000, 3000]) {
      expect(mine.filter((r) => r.end === end).map((r) => [r.count, r.final, r.version])).toEqual([
        [1, false, 1],
        [2, false, 2],
        [2, true, 3],
      ]);
    }
    expect((await h.finalResults()).filter((r) => r.key === "k").map((r) => [span(r), r.count, r.final])).toEqual([
      ["[0,1000)", 2, true],
      ["[0,2000)", 2, true],
      ["[0,3000)", 2, true],
    ]);
  });
});
