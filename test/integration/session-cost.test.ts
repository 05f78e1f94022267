// A producer that keeps one key's session alive for days must not make every closing run cost more:
// a key's sessions are one item, looked at only when one of them is due (a closing unit asks each key
// group's partition of the due index), so the requests of a closing run do not grow with the length
// of a live session.
import { describe, expect, it } from "vitest";
import { createIngestHandler } from "../../functions/commons/ingest-handler.ts";
import { createWatermarkHandler } from "../../functions/commons/watermark-handler.ts";
import { createDynamoDbClient } from "../../shared/aws/clients.ts";
import { parsePipelines } from "../../shared/core/pipelines/parse.ts";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../tools/local/stack.ts";
import { kinesisEvent, testContext } from "../helpers/builders.ts";
import { emulatedDeployment } from "../helpers/emulated.ts";

/** Requests a closing run makes at the end of a session kept alive by `events` events, 5 s apart. */
const [pipeline] = parsePipelines({
  pipelines: [{ name: "s", key: "k", eventTime: "ts", window: { type: "session", gap: "10s" }, aggregates: { n: { count: true } } }],
});

async function closingRequestsAfter(events: number): Promise<number[]> {
  const deployment = await emulatedDeployment(`session-cost-${events}`, 1);
  const closingClient = createDynamoDbClient({
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    endpoint: deployment.endpoints.dynamodb,
  });
  let requests = 0;
  closingClient.middlewareStack.add(
    (next) => async (args) => {
      requests++;
      return next(args);
    },
    { step: "initialize", name: "countRequests" },
  );
  const names = deployment.names;
  const ingest = createIngestHandler({
    dynamodb: deployment.dynamodb,
    stateTable: names.stateTable,
    deadLetterTable: names.deadLetterTable,
    pipelines: [pipeline as Pipeline],
    writeConcurrency: 4,
  });
  const close = createWatermarkHandler({
    dynamodb: closingClient,
    stateTable: names.stateTable,
    resultsTable: names.resultsTable,
    pipelines: [pipeline as Pipeline],
    concurrency: 4,
    tombstoneRetentionMs: 86_400_000,
    deadLetterTable: names.deadLetterTable,
  });
  const perRun: number[] = [];
  const T0 = Date.now() - 30 * 86_400_000;
  for (let i = 0; i < events; i++) {
    const data = Buffer.from(JSON.stringify({ k: "busy", ts: T0 + i * 5000 }));
    const record = {
      SequenceNumber: String(49_000_000_000_000_000_000n + BigInt(i)),
      PartitionKey: "busy",
      Data: data,
      ApproximateArrivalTimestamp: new Date(),
    };
    await ingest(kinesisEvent([{ shardId: "shardId-000000000000", record }]), testContext());
    requests = 0;
    await close(undefined, testContext());
    perRun.push(requests);
  }
  closingClient.destroy();
  deployment.dynamodb.destroy();
  deployment.kinesis.destroy();
  return perRun.slice(-5);
}

describe("a long-lived session", () => {
  it("costs a closing run no more requests than a short one", async () => {
    // Act: sessions of 20 and 300 events (100 s and 25 min of event time), closing after every event
    const short = await closingRequestsAfter(20);
    const long = await closingRequestsAfter(300);

    // Assess: the same, small, number of requests per run (the shard's log, its checkpoint, the epoch,
    // the dispatch and the watermark notice included) and one due-index query per key group
    expect(Math.max(...long)).toBe(Math.max(...short));
    expect(Math.max(...long)).toBeLessThanOrEqual(20 + (pipeline as Pipeline).keyGroups);
  }, 600_000);
});
