// A Window Top-N whose closing unit stops after moving its key group's mark, before it reports the unit
// finished (a closer that is gone): the window ends it wrote candidates for were noted before the mark
// moved, so the next closing run — whose unit finds nothing left to fire in that group — still ranks them.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDynamoDbClient } from "../../shared/aws/clients.ts";
import { parsePipelines } from "../../shared/core/pipelines/parse.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../tools/local/stack.ts";
import { testContext } from "../helpers/builders.ts";
import { emulatedDeployment } from "../helpers/emulated.ts";
import { HandlerHarness } from "../helpers/handler-harness.ts";

let deployment: Awaited<ReturnType<typeof emulatedDeployment>>;
let faulty: DynamoDBClient;

beforeAll(async () => {
  deployment = await emulatedDeployment("rank-pending", 1);
  faulty = createDynamoDbClient({ endpoint: deployment.endpoints.dynamodb, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  // the closer stops where it would record its unit finished: after the group's mark moved
  faulty.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as { Key?: { pk?: { S?: string } }; UpdateExpression?: string };
      if (input.Key?.pk?.S?.startsWith("U#") && input.UpdateExpression?.includes("ADD done"))
        throw new Error("injected: the closer is gone");
      return next(args);
    },
    { step: "initialize", name: "stopBeforeUnitFinished" },
  );
});

afterAll(() => {
  faulty.destroy();
  deployment.dynamodb.destroy();
  deployment.kinesis.destroy();
});

describe("Window Top-N when a closing unit stops after moving a mark", () => {
  it("ranks the windows its groups fired at the next closing run", async () => {
    // Prepare: one key group, one unit; a window of three keys
    const [pipeline] = parsePipelines({
      pipelines: [
        {
          name: "ranked",
          key: "k",
          eventTime: "ts",
          window: { type: "tumbling", size: "10s" },
          aggregates: { n: { count: true } },
          keyGroups: 1,
          rank: { n: 2, order: [{ field: "n", desc: true }] },
        },
      ],
    });
    if (pipeline === undefined) throw new Error("no pipeline");
    const harness = new HandlerHarness(deployment, pipeline);
    await harness.ingest([
      { k: "a", ts: 1_000 },
      { k: "a", ts: 2_000 },
      { k: "b", ts: 3_000 },
      { k: "a", ts: 4_000 },
      { k: "b", ts: 5_000 },
      { k: "c", ts: 6_000 },
    ]);
    await harness.advanceWatermark(10_000);

    // Act: a closing run whose unit fires the window, moves the mark and stops; then the next runs
    await harness
      .watermarkHandlerOn(faulty)(undefined, testContext())
      .catch(() => undefined);
    const before = harness.published.filter((r) => r.pipeline === "ranked").length;
    for (let run = 1; run <= 3; run++) {
      harness.now += 10 * 60_000;
      await harness.close();
    }

    // Assess: the window's ranking, once: a (3), b (2)
    expect(before).toBe(0);
    const rankings = harness.published.filter((r) => r.pipeline === "ranked");
    expect(rankings).toHaveLength(1);
    const rows = rankings[0]?.values.rows as unknown as { k: string; n: number; rownum: number }[];
    expect(rows.map((r) => [r.k, r.n, r.rownum])).toEqual([
      ["a", 3, 1],
      ["b", 2, 2],
    ]);
  });
});
