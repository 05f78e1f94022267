// Inputs and operator changes that used to halt window closing for every pipeline: each now closes
// what can be closed, parks what cannot with its reason, and goes on (real handlers, emulators).
import { type AttributeValue, DeleteItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWatermarkHandler } from "../../functions/commons/watermark-handler.ts";
import { createDynamoDbClient } from "../../shared/aws/clients.ts";
import { groupPaneItemKey } from "../../shared/aws/dynamodb/keys.ts";
import { readParkedKeys } from "../../shared/aws/dynamodb/parked.ts";
import { queryResults } from "../../shared/aws/dynamodb/results.ts";
import { kinesisResultSink, resultsOfRecord } from "../../shared/aws/outputs/kinesis.ts";
import { keyGroupOf } from "../../shared/core/keygroups.ts";
import type { WindowResult } from "../../shared/core/types.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../tools/local/stack.ts";
import { readShardRecords } from "../../tools/local/tail.ts";
import { pipeline, testContext } from "../helpers/builders.ts";
import { emulatedDeployment } from "../helpers/emulated.ts";
import { HandlerHarness } from "../helpers/handler-harness.ts";

let deployment: Awaited<ReturnType<typeof emulatedDeployment>>;
let count = 0;

beforeAll(async () => {
  deployment = await emulatedDeployment("isolation", 1);
});

afterAll(() => {
  deployment.dynamodb.destroy();
  deployment.kinesis.destroy();
});

/** Events `{ k, ts, v }` from long ago (the harness's clock starts at 0), in tumbling one-minute windows. */
const pipelineOf = (definition: Parameters<typeof pipeline>[0], name?: string) =>
  pipeline({ key: "k", maxFutureSkew: "100000d", ...definition, ...(name === undefined ? {} : { name }) });

describe("closing goes on", () => {
  it("writes a window whose sum passes DynamoDB's number range (two storable values)", async () => {
    // Prepare: each value is storable, their sum (1.8e126) is not a DynamoDB number
    const h = new HandlerHarness(deployment, pipelineOf({ aggregates: { s: { sum: "v" }, m: { max: "v" } } }));
    await h.ingest([
      { k: "a", ts: 1000, v: 9e125 },
      { k: "a", ts: 2000, v: 9e125 },
    ]);

    // Act
    await h.advanceWatermark(60_000);
    await h.close();

    // Assess
    expect((await h.finalResults()).map((r) => r.values)).toEqual([{ s: 1.8e126, m: 9e125 }]);
  });

  it("parks a key group whose state cannot be read, closes the other groups, and closes it from where it stood once it can", async () => {
    // Prepare: two keys in two key groups; the pane of one group corrupted behind Panes' back
    const h = new HandlerHarness(deployment, pipelineOf({ aggregates: { n: { count: true } } }));
    const [good, bad] = ["good", "bad"];
    const groupOf = (key: string) => keyGroupOf(key, h.pipeline.keyGroups);
    expect(groupOf(good)).not.toBe(groupOf(bad as string));
    await h.ingest([
      { k: good, ts: 1000 },
      { k: bad, ts: 1000 },
    ]);
    const where = groupPaneItemKey(h.pipeline.name, groupOf(bad as string), 0);
    const corrupt: Record<string, AttributeValue> = {
      pk: { S: where.pk },
      sk: { S: where.sk },
      e: { N: "0" },
      d: { B: new Uint8Array([1, 2, 3]) },
    };
    await deployment.dynamodb.send(new PutItemCommand({ TableName: deployment.names.stateTable, Item: corrupt }));

    // Act
    await h.advanceWatermark(60_000);
    const [first] = await h.closeReports();

    // Assess: "good" closed, the group of "bad" parked with the reason
    expect((await h.finalResults()).map((r) => r.key)).toEqual([good]);
    expect(first?.parked.map((s) => s.key)).toEqual([`key group ${groupOf(bad as string)}`]);
    const parked = await readParkedKeys(deployment.dynamodb, deployment.names.deadLetterTable, h.pipeline.name);
    expect([...parked.keys()]).toEqual([`key group ${groupOf(bad as string)}`]);
    expect(parked.get(`key group ${groupOf(bad as string)}`)?.reason).toMatch(/Error/);

    // Act: the operator removes the broken item; the next run takes the group from its mark (its events
    // are still in the shard log), closes its window and clears the record
    await deployment.dynamodb.send(
      new DeleteItemCommand({
        TableName: deployment.names.stateTable,
        Key: { pk: corrupt.pk, sk: corrupt.sk } as Record<string, AttributeValue>,
      }),
    );
    await h.close();
    expect((await h.finalResults()).map((r) => [r.key, r.count]).sort()).toEqual([
      ["bad", 1],
      ["good", 1],
    ]);
    expect((await readParkedKeys(deployment.dynamodb, deployment.names.deadLetterTable, h.pipeline.name)).size).toBe(0);
  });

  it("publishes a key too long for a Kinesis partition key under its key group's partition key, with the full key in the result", async () => {
    // Prepare: a 300-character key, publishing to the real output stream
    const pipeline = pipelineOf({ aggregates: { n: { count: true } } });
    const key = "k".repeat(300);
    const h = new HandlerHarness(deployment, pipeline);
    await h.ingest([{ k: key, ts: 1000 }]);
    await h.advanceWatermark(60_000);
    const close = createWatermarkHandler({
      dynamodb: deployment.dynamodb,
      stateTable: deployment.names.stateTable,
      resultsTable: deployment.names.resultsTable,
      pipelines: [pipeline],
      sink: kinesisResultSink(deployment.kinesis, { streamName: deployment.names.outputStream }, [pipeline]),
      concurrency: 2,
      tombstoneRetentionMs: 86_400_000,
    });

    // Act
    await close(undefined, testContext());

    // Assess
    const records = await readShardRecords(deployment.kinesis, deployment.names.outputStream, "shardId-000000000000");
    const mine = records.filter((r) => resultsOfRecord(r.Data ?? new Uint8Array()).some((x) => x.pipeline === pipeline.name));
    expect(mine.map((r) => [r.PartitionKey, resultsOfRecord(r.Data ?? new Uint8Array()).map((x) => x.key)])).toEqual([
      [`${pipeline.name}/g${keyGroupOf(key, pipeline.keyGroups)}`, [key]],
    ]);
  });

  it("publishes what a run wrote but could not publish at the next run, once: the group's mark stays behind until it is published", async () => {
    // Prepare: two keys' windows; the first run's output is down
    const pipeline = pipelineOf({ aggregates: { n: { count: true } } });
    const h = new HandlerHarness(deployment, pipeline);
    await h.ingest([
      { k: "a", ts: 1000 },
      { k: "b", ts: 2000 },
      { k: "b", ts: 3000 },
    ]);
    await h.advanceWatermark(60_000);
    const published: WindowResult[] = [];
    let down = true;
    const close = createWatermarkHandler({
      dynamodb: deployment.dynamodb,
      stateTable: deployment.names.stateTable,
      resultsTable: deployment.names.resultsTable,
      pipelines: [pipeline],
      sink: {
        publish: async (results) => {
          if (down) throw new Error("the output is down");
          published.push(...results);
        },
      },
      concurrency: 2,
      tombstoneRetentionMs: 86_400_000,
    });

    // Act
    const first = await close(undefined, testContext());
    const held = await queryResults(deployment.dynamodb, deployment.names.resultsTable, { pipeline: pipeline.name });
    down = false;
    const second = await close(undefined, testContext());
    await close(undefined, testContext());

    // Assess: written once, in the ledger, published by the next run and only then
    expect(first[0]).toMatchObject({ fired: 2, unpublished: 2, republished: 0 });
    const rows = (results: WindowResult[]) =>
      results.map((r) => [r.key, r.count, r.version]).sort((x, y) => String(x[0]).localeCompare(String(y[0])));
    expect(rows(held)).toEqual([
      ["a", 1, 1],
      ["b", 2, 1],
    ]);
    expect(second[0]).toMatchObject({ fired: 0, republished: 2, unpublished: 0 });
    expect(rows(published)).toEqual([
      ["a", 1, 1],
      ["b", 2, 1],
    ]);
  });

  it("reads panes written before an aggregate was added: the new aggregate is null where it did not see every event", async () => {
    // Prepare: events applied under the first definition
    const name = `iso${++count}`;
    const before = new HandlerHarness(deployment, pipelineOf({ aggregates: { n: { count: true } } }, name));
    await before.ingest([{ k: "a", ts: 1000, v: 5 }]);

    // Act: the operator adds an aggregate; more events arrive in the same window and the next one
    const after = new HandlerHarness(deployment, pipelineOf({ aggregates: { n: { count: true }, s: { sum: "v" } } }, name));
    await after.ingest([
      { k: "a", ts: 2000, v: 7 },
      { k: "a", ts: 61_000, v: 3 },
    ]);
    await after.advanceWatermark(120_000);
    await after.close();

    // Assess
    expect((await after.finalResults()).map((r) => [r.start, r.values])).toEqual([
      [0, { n: 2, s: null }],
      [60_000, { n: 1, s: 3 }],
    ]);
  });
});

describe("one pipeline that cannot be closed", () => {
  it("does not keep the others from closing, and fails the run naming it", async () => {
    // Prepare: two pipelines; every read of the first one's checkpoints fails (a fault in the real code path)
    const broken = pipelineOf({ aggregates: { n: { count: true } } });
    const healthy = pipelineOf({ aggregates: { n: { count: true } } });
    for (const p of [broken, healthy]) {
      const h = new HandlerHarness(deployment, p);
      await h.ingest([{ k: "a", ts: 1000 }]);
      await h.advanceWatermark(60_000);
    }
    const client = createDynamoDbClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: deployment.endpoints.dynamodb });
    client.middlewareStack.add(
      (next) => async (args) => {
        const values = (args.input as { ExpressionAttributeValues?: Record<string, { S?: string }> }).ExpressionAttributeValues;
        if (values?.[":pk"]?.S === `C#${broken.name}`) throw new Error("injected: the checkpoints cannot be read");
        return next(args);
      },
      { step: "initialize", name: "breakOnePipeline" },
    );
    const close = createWatermarkHandler({
      dynamodb: client,
      stateTable: deployment.names.stateTable,
      resultsTable: deployment.names.resultsTable,
      pipelines: [broken, healthy],
      concurrency: 2,
      tombstoneRetentionMs: 86_400_000,
    });

    // Act
    const run = close(undefined, testContext());

    // Assess: the run fails naming the broken pipeline; the healthy one closed its window
    await expect(run).rejects.toThrow(new RegExp(`${broken.name}: Error: injected: the checkpoints cannot be read`));
    const healthyResults = new HandlerHarness(deployment, healthy);
    expect((await healthyResults.finalResults()).map((r) => [r.key, r.count])).toEqual([["a", 1]]);
    client.destroy();
  });
});

describe("the watermark function's payload", () => {
  const handler = (allowDrain: boolean) =>
    createWatermarkHandler(
      {
        dynamodb: deployment.dynamodb,
        stateTable: deployment.names.stateTable,
        resultsTable: deployment.names.resultsTable,
        pipelines: [pipelineOf({ aggregates: { n: { count: true } } })],
        concurrency: 2,
        tombstoneRetentionMs: 86_400_000,
      },
      { allowDrain },
    );

  it("refuses drain in a deployment and anything but the schedule's event or a nudge", async () => {
    const deployed = handler(false);
    await expect(deployed({ drain: true }, testContext())).rejects.toThrow(/only for the local stack and replay/);
    await expect(deployed({ nudge: true, extra: 1 }, testContext())).rejects.toThrow(/takes the schedule's event/);
    await expect(deployed("drain", testContext())).rejects.toThrow(/takes the schedule's event/);
    const scheduled = {
      version: "0",
      id: "x",
      "detail-type": "Scheduled Event",
      source: "aws.events",
      time: "2026-11-25T00:00:00Z",
      detail: {},
    };
    await expect(deployed(scheduled, testContext())).resolves.toBeInstanceOf(Array);
    await expect(deployed({ nudge: true }, testContext())).resolves.toBeInstanceOf(Array);
    await expect(handler(true)({ drain: true }, testContext())).resolves.toBeInstanceOf(Array);
  });
});
