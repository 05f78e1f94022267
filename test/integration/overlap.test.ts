// The ways accepted events vanished (issue 21's five reproductions), on the real handlers and the
// emulators: closing runs that overlap at any point, an operator's watermark reset, a pause longer than
// the state's retention, and a watermark notice that does not name every pipeline. Each ends with what
// a brute-force count over the events says the windows hold.
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIngestHandler } from "../../functions/commons/ingest-handler.ts";
import { announceWatermarksEverywhere } from "../../shared/app/shard-logs.ts";
import { S } from "../../shared/aws/dynamodb/attributes.ts";
import { advanceWatermark, readPipelineMarks, resetWatermark } from "../../shared/aws/dynamodb/checkpoints.ts";
import { listDeadLetters } from "../../shared/aws/dynamodb/dead-letters.ts";
import { groupPaneItemKey } from "../../shared/aws/dynamodb/keys.ts";
import { appendLogItem, logItemOf, readLogAfter, readLogHead } from "../../shared/aws/dynamodb/log.ts";
import { keyGroupOf } from "../../shared/core/keygroups.ts";
import type { WindowResult } from "../../shared/core/types.ts";
import { localTables } from "../../tools/local/resources.ts";
import { startTtlSweeper } from "../../tools/local/ttl-sweeper.ts";
import { kinesisEvent, pipeline, testContext } from "../helpers/builders.ts";
import { emulatedDeployment } from "../helpers/emulated.ts";
import { HandlerHarness } from "../helpers/handler-harness.ts";
import { heldClient } from "../helpers/hold.ts";

let deployment: Awaited<ReturnType<typeof emulatedDeployment>>;

beforeAll(async () => {
  deployment = await emulatedDeployment("overlap", 1);
});

afterAll(() => {
  deployment.dynamodb.destroy();
  deployment.kinesis.destroy();
});

const MIN = 60_000;
const toKey = (key: { pk: string; sk: string }) => ({ pk: S(key.pk), sk: S(key.sk) });
/** Each window's current result as [key, start, count, sum]. */
const rows = (results: readonly WindowResult[]) =>
  results
    .map((r) => [r.key, r.start, r.count, r.values.s] as const)
    .sort((a, b) => a[0].localeCompare(b[0]) || a[1] - b[1])
    .map((r) => [...r]);

describe("two closing runs at once", () => {
  const expected = [
    ["a", 0, 2, 9],
    ["b", 0, 1, 2],
    ["b", MIN, 1, 16],
    ["c", 0, 1, 4],
    ["x", MIN, 1, 32],
  ];

  /**
   * Watermarks come from the events (one shard, no out-of-orderness): x at 70 s closes [0, 60 s). Run 1
   * is held before its nth DynamoDB request; meanwhile events arrive for that window — on time if the
   * ingest function has not heard of 70 s yet, late (within the allowed lateness) if it has — and run 2
   * starts, held before its mth request; run 1 goes on to its end, then run 2. Whatever n and m are,
   * the windows end up holding every event once, and every window's current version is published.
   */
  async function overlapAt(n: number, m: number) {
    const h = new HandlerHarness(
      deployment,
      pipeline({
        key: "k",
        outOfOrderness: "0s",
        idleTimeout: "1d",
        allowedLateness: "10m",
        aggregates: { n: { count: true }, s: { sum: "v" } },
      }),
    );
    await h.ingest([
      { k: "a", ts: 10_000, v: 1 },
      { k: "b", ts: 20_000, v: 2 },
      { k: "x", ts: 70_000, v: 32 },
    ]);
    const first = heldClient(deployment.endpoints.dynamodb, n);
    const run1 = h.watermarkHandlerOn(first.client)(undefined, testContext());
    await Promise.race([first.reached, run1]);
    await h.ingest([
      { k: "c", ts: 30_000, v: 4 },
      { k: "a", ts: 40_000, v: 8 },
    ]);
    const second = heldClient(deployment.endpoints.dynamodb, m);
    const run2 = h.watermarkHandlerOn(second.client)(undefined, testContext());
    await Promise.race([second.reached, run2]);
    first.release();
    const reports1 = await run1;
    second.release();
    const reports2 = await run2;
    await h.ingest([{ k: "b", ts: 70_000, v: 16 }]);
    await h.ingest([{ k: "z", ts: 700_000, v: 0 }]);
    await h.close();
    for (const c of [first, second]) c.client.destroy();
    const latest = new Map<string, number>();
    for (const r of h.published) latest.set(`${r.key}/${r.start}`, Math.max(r.version, latest.get(`${r.key}/${r.start}`) ?? 0));
    const current = await h.finalResults();
    return {
      requests: [first.requests(), second.requests()],
      // a race is not a failure: no key group is parked by it
      parked: [...reports1, ...reports2].flatMap((r) => r.parked.map((p) => `${p.key}: ${p.reason}`)),
      rows: rows(current),
      unpublished: current.filter((r) => latest.get(`${r.key}/${r.start}`) !== r.version).map((r) => `${r.key}/${r.start}/${r.version}`),
    };
  }

  it("lose no accepted event and count none twice, wherever one run is held while the other runs (every request in turn)", async () => {
    // Prepare: how many requests each run makes when nothing holds them
    const free = await overlapAt(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY);
    expect(free.rows).toEqual(expected);
    const [requests1 = 0, requests2 = 0] = free.requests;
    expect(requests1).toBeGreaterThan(10);

    // Act and assess: the first run held before each of its requests in turn, the second free; then the
    // second held before each of its requests, the first having run to its end before it
    for (let n = 1; n <= requests1; n++) {
      const outcome = await overlapAt(n, Number.POSITIVE_INFINITY);
      expect(outcome.rows, `run 1 held before request ${n} of ${requests1}`).toEqual(expected);
      expect(outcome.parked, `run 1 held before request ${n}`).toEqual([]);
      expect(outcome.unpublished, `run 1 held before request ${n}`).toEqual([]);
    }
    for (let m = 1; m <= requests2; m++) {
      const outcome = await overlapAt(Number.POSITIVE_INFINITY, m);
      expect(outcome.rows, `run 2 held before request ${m} of ${requests2}`).toEqual(expected);
      expect(outcome.parked, `run 2 held before request ${m}`).toEqual([]);
    }
  }, 600_000);

  it("lose no accepted event when both runs are held, each at a point of its own (a spread of pairs)", async () => {
    const free = await overlapAt(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY);
    const [requests1 = 0, requests2 = 0] = free.requests;
    // every request of run 1, each with a request of run 2 spread over all of them
    for (let n = 1; n <= requests1; n++) {
      const m = ((n * 17) % requests2) + 1;
      const outcome = await overlapAt(n, m);
      expect(outcome.rows, `run 1 held before request ${n}, run 2 before request ${m}`).toEqual(expected);
      expect(outcome.parked, `run 1 held before request ${n}, run 2 before request ${m}`).toEqual([]);
      expect(outcome.unpublished, `run 1 held before request ${n}, run 2 before request ${m}`).toEqual([]);
    }
  }, 600_000);
});

describe("an operator's watermark reset", () => {
  it("leaves every window between the reset and the old watermark to fire again as the watermark passes it", async () => {
    // Prepare: windows fired up to 10 minutes; the watermark is set back to 2 minutes
    const h = new HandlerHarness(deployment, pipeline({ key: "k", aggregates: { n: { count: true }, s: { sum: "v" } } }));
    const { dynamodb, names } = deployment;
    await h.ingest([{ k: "a", ts: 10_000, v: 1 }]);
    await h.advanceWatermark(10 * MIN);
    await h.close();
    await resetWatermark(dynamodb, names.stateTable, h.pipeline.name, 2 * MIN, 0);
    const generation = (await readPipelineMarks(dynamodb, names.stateTable, [h.pipeline.name])).get(h.pipeline.name)?.resetGeneration ?? 0;
    await announceWatermarksEverywhere(
      { dynamodb, stateTable: names.stateTable, pipelines: [h.pipeline], concurrency: 4 },
      new Map([[h.pipeline.name, 2 * MIN]]),
      new Map([[h.pipeline.name, generation]]),
      0,
    );

    // Act: events for windows between the two watermarks are on time again; the watermark passes them
    await h.ingest([
      { k: "b", ts: 3 * MIN + 1, v: 2 },
      { k: "a", ts: 8 * MIN + 1, v: 4 },
    ]);
    await h.close();
    await h.advanceWatermark(10 * MIN);
    await h.close();

    // Assess
    expect(rows(await h.finalResults())).toEqual([
      ["a", 0, 1, 1],
      ["a", 8 * MIN, 1, 4],
      ["b", 3 * MIN, 1, 2],
    ]);
    expect((await listDeadLetters(dynamodb, names.deadLetterTable, "late")).filter((l) => l.pipeline === h.pipeline.name)).toEqual([]);
  });
});

describe("a pause longer than the state's retention", () => {
  it("keeps an open window's state until it fires, whatever the wall clock did meanwhile", async () => {
    // Prepare: two events of an hour-long window (tables of its own: the sweep reads them all); the watermark stands still
    const own = await emulatedDeployment("pause", 1);
    const h = new HandlerHarness(
      own,
      pipeline({ key: "k", window: { type: "tumbling", size: "1h" }, aggregates: { n: { count: true }, s: { sum: "v" } } }),
    );
    await h.ingest([
      { k: "a", ts: 10 * MIN, v: 1 },
      { k: "a", ts: 20 * MIN, v: 2 },
    ]);
    await h.advanceWatermark(30 * MIN);
    await h.close();

    // Act: eight days pass (DynamoDB's TTL deletes whatever expired), then traffic resumes
    const sweeper = startTtlSweeper(own.dynamodb, localTables(own.names), {
      everyMs: 0,
      now: () => Date.now() + 8 * 86_400_000,
    });
    await sweeper.sweep();
    await sweeper.stop();
    await h.ingest([{ k: "a", ts: 70 * MIN, v: 4 }]);
    await h.advanceWatermark(70 * MIN);
    await h.close();

    // Assess
    expect(rows(await h.finalResults())).toEqual([["a", 0, 2, 3]]);
    own.dynamodb.destroy();
    own.kinesis.destroy();
  });
});

describe("clearing", () => {
  it("marks a fired window's pane to expire once no later event can reach it, and not before", async () => {
    // Prepare: windows that take late events for 30 s after they fire
    const h = new HandlerHarness(
      deployment,
      pipeline({ key: "k", allowedLateness: "30s", aggregates: { n: { count: true }, s: { sum: "v" } } }),
    );
    const group = keyGroupOf("a", h.pipeline.keyGroups);
    const pane = async (start: number) => {
      const { Item } = await deployment.dynamodb.send(
        new GetItemCommand({
          TableName: deployment.names.stateTable,
          Key: toKey(groupPaneItemKey(h.pipeline.name, group, start)),
          ConsistentRead: true,
        }),
      );
      return Item;
    };

    // Act: [0, 1 min) fires at 1 min and may go at 1.5 min, once the logs say no later event is planned lower
    await h.ingest([{ k: "a", ts: 10_000, v: 1 }]);
    await h.advanceWatermark(MIN);
    await h.close();
    const afterFiring = await pane(0);
    await h.ingest([{ k: "a", ts: 70_000, v: 2 }]);
    await h.advanceWatermark(2 * MIN);
    await h.close();

    // Assess: kept while late events could still reach it, cleared after; [1 min, 2 min) has just fired
    // and may take late events until 2.5 min: kept
    expect(afterFiring?.d).toBeDefined();
    expect(afterFiring?.ttl).toBeUndefined();
    expect((await pane(0))?.ttl?.N).toBeDefined();
    expect((await pane(MIN))?.ttl).toBeUndefined();
    expect(rows(await h.finalResults())).toEqual([
      ["a", 0, 1, 1],
      ["a", MIN, 1, 2],
    ]);
  });
});

describe("a watermark notice that does not name every pipeline", () => {
  it("leaves the pipelines it does not name at the watermark they had: their late events stay late", async () => {
    // Prepare: two pipelines over the same events, both at 2 minutes; one ingest container for both
    const { dynamodb, kinesis, names, sourceStreamArn } = deployment;
    const p = pipeline({ key: "k", aggregates: { n: { count: true } } });
    const q = pipeline({ key: "k", aggregates: { n: { count: true } } });
    const ingest = createIngestHandler({
      dynamodb,
      stateTable: names.stateTable,
      deadLetterTable: names.deadLetterTable,
      pipelines: [p, q],
      writeConcurrency: 4,
    });
    const send = async (event: object) => {
      const { PutRecordsCommand } = await import("@aws-sdk/client-kinesis");
      const data = Buffer.from(JSON.stringify(event));
      const put = await kinesis.send(
        new PutRecordsCommand({ StreamName: names.sourceStream, Records: [{ PartitionKey: "k", Data: data }] }),
      );
      const r = put.Records?.[0];
      await ingest(
        kinesisEvent(
          [
            {
              shardId: r?.ShardId ?? "",
              record: { SequenceNumber: r?.SequenceNumber, PartitionKey: "k", Data: data, ApproximateArrivalTimestamp: new Date() },
            },
          ],
          sourceStreamArn,
        ),
        testContext(),
      );
      return r?.ShardId ?? "";
    };
    const shardId = await send({ k: "a", ts: 10_000 });
    for (const x of [p, q]) await advanceWatermark(dynamodb, names.stateTable, x.name, 2 * MIN, 0);
    await announceWatermarksEverywhere(
      { dynamodb, stateTable: names.stateTable, pipelines: [p, q], concurrency: 4 },
      new Map([
        [p.name, 2 * MIN],
        [q.name, 2 * MIN],
      ]),
      new Map(),
      0,
    );
    await send({ k: "a", ts: 20_000 });

    // Act: a notice names only p (a run that could not compute q's watermark); then another late event
    const head = await readLogHead(dynamodb, names.stateTable, shardId);
    await appendLogItem(
      dynamodb,
      names.stateTable,
      logItemOf(shardId, {
        ordinal: (head?.ordinal ?? 0) + 1,
        kind: "notice",
        ...(head?.last === undefined ? {} : { last: head.last }),
        at: 0,
        watermarks: { [p.name]: 2 * MIN },
        maxEventTimes: {},
        panes: [],
      }),
    );
    await send({ k: "a", ts: 30_000 });

    // Assess: both late events are late for both pipelines, and the shard log holds only the first event for each
    const late = await listDeadLetters(dynamodb, names.deadLetterTable, "late");
    const logged = (await readLogAfter(dynamodb, names.stateTable, shardId, 0)).flatMap((e) => e.panes);
    for (const x of [p, q]) {
      expect(late.filter((l) => l.pipeline === x.name).map((l) => JSON.parse(Buffer.from(l.data).toString()).ts)).toEqual([20_000, 30_000]);
      const events = logged.filter((pane) => pane.pipeline === x.name).flatMap((pane) => pane.layers.map((l) => l.state.n));
      expect(
        events.reduce((sum, n) => sum + n, 0),
        `events of ${x.name} in the log`,
      ).toBe(1);
    }
  });
});
