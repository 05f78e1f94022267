// Input that is read but probably not what the producer meant is counted where an operator looks:
// records no pipeline's filter took (a misspelt field) and event times in milliseconds that read like
// epoch seconds. Counted once per record however closing runs overlap: a run held before each of its
// requests in turn while ingest and another run go on.
import { describe, expect, it } from "vitest";
import { readStatus } from "../../shared/app/status.ts";
import { pipeline, testContext } from "../helpers/builders.ts";
import { emulatedDeployment } from "../helpers/emulated.ts";
import { HandlerHarness } from "../helpers/handler-harness.ts";
import { heldClient } from "../helpers/hold.ts";

const JAN1 = Date.parse("2026-01-01T00:00:00Z");
const FIRST = [
  { metric: "cpu", host: "a", ts: JAN1, v: 1 },
  { metrc: "cpu", host: "a", ts: JAN1, v: 2 }, // misspelt: no filter takes it
  { metric: "cpu", host: "b", ts: JAN1 / 1000, v: 3 }, // seconds given as milliseconds
  { metrc: "cpu", host: "b", ts: JAN1, v: 4 },
];
const SECOND = [
  { metrc: "cpu", host: "c", ts: JAN1 + 1000, v: 5 },
  { metric: "cpu", host: "c", ts: JAN1 / 1000 + 1, v: 6 },
];

async function setUp() {
  const deployment = await emulatedDeployment("notices", 1);
  const p = pipeline({ filter: { metric: "cpu" }, outOfOrderness: "0s", idleTimeout: "1d", aggregates: { s: { sum: "v" } } });
  const h = new HandlerHarness(deployment, p);
  h.now = JAN1 + 60_000;
  const status = () => readStatus(deployment.dynamodb, { stateTable: deployment.names.stateTable }, [p], h.now);
  return { deployment, p, h, status };
}

describe("input notices", () => {
  it("count records no filter took and times that read like seconds, with the newest of each, in status", async () => {
    // Prepare
    const { deployment, h, status } = await setUp();

    // Act
    await h.ingest(FIRST);
    await h.close();
    await h.ingest(SECOND);
    await h.close();

    // Assess
    const read = await status();
    expect(read.unmatched).toEqual({ count: 3, sample: JSON.stringify(SECOND[0]) });
    expect(read.pipelines[0]?.secondsLike).toEqual({ count: 2, sample: JAN1 / 1000 + 1 });
    deployment.dynamodb.destroy();
  });

  it("count each record once when a closing run is held before each of its requests while ingest and another run go on", async () => {
    for (let n = 1; ; n++) {
      // Prepare
      const { deployment, h, status } = await setUp();
      await h.ingest(FIRST);
      const held = heldClient(deployment.endpoints.dynamodb, n);

      // Act: run A held before its nth request; meanwhile more input and a whole run B
      const runA = h.watermarkHandlerOn(held.client)(undefined, testContext());
      const reached = await Promise.race([held.reached.then(() => true), runA.then(() => false)]);
      await h.ingest(SECOND);
      await h.close();
      held.release();
      await runA;
      await h.close();

      // Assess
      const read = await status();
      expect([read.unmatched.count, read.pipelines[0]?.secondsLike.count], `run A held before request ${n}`).toEqual([3, 2]);
      held.client.destroy();
      deployment.dynamodb.destroy();
      if (!reached) break; // run A finished before its nth request: every point was tried
    }
  });
});
