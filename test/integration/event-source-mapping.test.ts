// The local event source mapping follows AWS Lambda's rules for Kinesis: per-shard order, partial
// batch responses (resume from the lowest failed sequence number; an empty identifier fails the whole
// batch), bisection on function errors, bounded retries and the on-failure destination.
import type { KinesisStreamEvent } from "aws-lambda";
import { afterEach, describe, expect, it } from "vitest";
import { putRecordsWithRetry } from "../../shared/aws/kinesis/put-records.ts";
import { DEFAULT_MAPPING, EventSourceMapping, type KinesisHandler, type OnFailureRecord } from "../../tools/local/event-source-mapping.ts";
import { emulatedDeployment, type KinesisKind } from "../helpers/emulated.ts";

const numbers = (event: KinesisStreamEvent) => event.Records.map((r) => Number(Buffer.from(r.kinesis.data, "base64").toString()));

let mapping: EventSourceMapping | undefined;
afterEach(async () => {
  await mapping?.stop();
  mapping = undefined;
});

async function runMapping(kind: KinesisKind, count: number, handler: KinesisHandler, options: Partial<typeof DEFAULT_MAPPING> = {}) {
  const deployment = await emulatedDeployment("esm", 1, kind);
  await putRecordsWithRetry(
    deployment.kinesis,
    { streamName: deployment.names.sourceStream },
    Array.from({ length: count }, (_, i) => ({ PartitionKey: "one", Data: Buffer.from(String(i)) })),
  );
  const failures: OnFailureRecord[] = [];
  mapping = new EventSourceMapping(deployment.kinesis, handler, {
    ...DEFAULT_MAPPING,
    pollIntervalMs: 20,
    retryDelayMs: 1,
    ...options,
    streamName: deployment.names.sourceStream,
    streamArn: deployment.sourceStreamArn,
    onFailure: (f) => {
      failures.push(f);
    },
  });
  mapping.start();
  await mapping.waitUntilCaughtUp();
  return { failures };
}

describe.each<KinesisKind>(["kinesalite", "kinesisLocal"])("local event source mapping on %s", (kind) => {
  it("delivers the exact KinesisStreamEvent shape in order, in batches of at most BatchSize", async () => {
    const seen: number[] = [];
    let shape: KinesisStreamEvent["Records"][number] | undefined;
    await runMapping(
      kind,
      250,
      async (event) => {
        expect(event.Records.length).toBeLessThanOrEqual(100);
        shape ??= event.Records[0];
        seen.push(...numbers(event));
      },
      { batchSize: 100 },
    );
    expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => i));
    expect(shape).toMatchObject({
      eventSource: "aws:kinesis",
      eventName: "aws:kinesis:record",
      eventVersion: "1.0",
      kinesis: { kinesisSchemaVersion: "1.0", partitionKey: "one", data: Buffer.from("0").toString("base64") },
    });
    expect(shape?.eventID).toBe(`shardId-000000000000:${shape?.kinesis.sequenceNumber}`);
    expect(shape?.eventSourceARN).toMatch(/^arn:aws:kinesis:.*:stream\//);
    expect(typeof shape?.kinesis.approximateArrivalTimestamp).toBe("number");
  });

  it("resumes from the lowest failed sequence number, delivering later successes again", async () => {
    const deliveries: number[][] = [];
    let failedOnce = false;
    await runMapping(
      kind,
      50,
      async (event) => {
        const ns = numbers(event);
        deliveries.push(ns);
        const at = ns.indexOf(30);
        if (!failedOnce && at >= 0) {
          failedOnce = true;
          const ids = [35, 30].map((n) => event.Records[ns.indexOf(n)]?.kinesis.sequenceNumber ?? "");
          return { batchItemFailures: ids.map((itemIdentifier) => ({ itemIdentifier })) };
        }
        return { batchItemFailures: [] };
      },
      { batchSize: 100, bisectBatchOnFunctionError: false },
    );
    expect(deliveries[0]).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(deliveries[1]).toEqual(Array.from({ length: 20 }, (_, i) => 30 + i));
  });

  it("treats an empty itemIdentifier as a failure of the whole batch", async () => {
    const deliveries: number[][] = [];
    await runMapping(
      kind,
      10,
      async (event) => {
        deliveries.push(numbers(event));
        return deliveries.length === 1 ? { batchItemFailures: [{ itemIdentifier: "" }] } : null;
      },
      { batchSize: 100, bisectBatchOnFunctionError: false },
    );
    expect(deliveries).toEqual([Array.from({ length: 10 }, (_, i) => i), Array.from({ length: 10 }, (_, i) => i)]);
  });

  it("bisects around a poison record and sends only it to the on-failure destination after the retries", async () => {
    const delivered = new Set<number>();
    const { failures } = await runMapping(
      kind,
      64,
      async (event) => {
        const ns = numbers(event);
        if (ns.includes(37)) throw new Error("poison");
        for (const n of ns) delivered.add(n);
      },
      { batchSize: 64, maximumRetryAttempts: 2 },
    );
    expect([...delivered].sort((a, b) => a - b)).toEqual(Array.from({ length: 64 }, (_, i) => i).filter((n) => n !== 37));
    expect(failures).toHaveLength(1);
    expect(failures[0]?.KinesisBatchInfo.batchSize).toBe(1);
    expect(failures[0]?.requestContext).toMatchObject({ condition: "RetryAttemptsExhausted", approximateInvokeCount: 3 });
  });
});
