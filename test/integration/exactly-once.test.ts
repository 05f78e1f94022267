// Exactly-once under redelivery: batches delivered again whole, split in two after a crash, merged with
// the next batch, and crashes between writes — with the closing logic running in between — must give
// exactly the windows of a brute-force batch computation over the distinct events.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIngestHandler } from "../../functions/commons/ingest-handler.ts";
import { type ClosingDependencies, closeWindows } from "../../shared/app/closing.ts";
import type { IngestDependencies } from "../../shared/app/ingest.ts";
import { createDynamoDbClient } from "../../shared/aws/clients.ts";
import { readCheckpoints } from "../../shared/aws/dynamodb/checkpoints.ts";
import { queryResults } from "../../shared/aws/dynamodb/results.ts";
import { putRecordsWithRetry } from "../../shared/aws/kinesis/put-records.ts";
import { parsePipelines } from "../../shared/core/pipelines/parse.ts";
import { generateMetrics, seededRandom } from "../../tools/local/generate.ts";
import { compareWindows, type ReferencePipeline, referenceWindows } from "../../tools/local/reference.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../tools/local/stack.ts";
import { kinesisEvent, type ShardRecord, testContext } from "../helpers/builders.ts";
import { emulatedDeployment, type KinesisKind, readAllRecords } from "../helpers/emulated.ts";
import { installCrashSwitch } from "../helpers/faults.ts";

const pipelines = parsePipelines({
  pipelines: [
    {
      name: "cpu-tumbling",
      key: "host",
      eventTime: "ts",
      filter: { metric: "cpu" },
      window: { type: "tumbling", size: "1m" },
      aggregates: { avg: { avg: "value" }, max: { max: "value" }, n: { count: true } },
      outOfOrderness: "30s",
    },
    {
      name: "mem-sliding",
      key: "host",
      eventTime: "ts",
      filter: { metric: "mem" },
      window: { type: "sliding", size: "5m", slide: "1m" },
      aggregates: { max: { max: "value" }, sum: { sum: "value" } },
      outOfOrderness: "30s",
    },
    {
      name: "sessions",
      key: "host",
      eventTime: "ts",
      window: { type: "session", gap: "20s" },
      aggregates: { n: { count: true }, min: { min: "value" } },
      outOfOrderness: "30s",
    },
  ],
});

describe.each<KinesisKind>(["kinesalite", "kinesisLocal"])("exactly-once ingest on %s", (kind) => {
  let deployment: Awaited<ReturnType<typeof emulatedDeployment>>;
  const events = [
    ...generateMetrics({ hosts: 6, events: 1500, start: Date.parse("2026-03-01T00:00:00Z"), stepMs: 2000, disorderMs: 20_000, seed: 42 }),
  ];

  beforeAll(async () => {
    deployment = await emulatedDeployment("eo", 2, kind);
    await putRecordsWithRetry(
      deployment.kinesis,
      { streamName: deployment.names.sourceStream },
      events.map((e) => ({ PartitionKey: e.host, Data: Buffer.from(JSON.stringify(e)) })),
    );
  });
  afterAll(() => {
    deployment?.dynamodb.destroy();
    deployment?.kinesis.destroy();
  });

  it("redelivered, bisected, merged and crashed batches give exactly the reference windows", async () => {
    // Prepare
    const faulty = createDynamoDbClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: deployment.endpoints.dynamodb });
    const crash = installCrashSwitch(faulty);
    const ingest: IngestDependencies = {
      dynamodb: faulty,
      stateTable: deployment.names.stateTable,
      deadLetterTable: deployment.names.deadLetterTable,
      pipelines,
      writeConcurrency: 4,
    };
    const handler = createIngestHandler(ingest);
    const closing: ClosingDependencies = {
      dynamodb: deployment.dynamodb,
      stateTable: deployment.names.stateTable,
      resultsTable: deployment.names.resultsTable,
      pipelines,
      concurrency: 8,
      tombstoneRetentionMs: 86_400_000,
    };
    const byShard = await readAllRecords(deployment.kinesis, deployment.names.sourceStream);
    expect([...byShard.values()].reduce((n, r) => n + r.length, 0)).toBe(events.length);

    const random = seededRandom(7);
    const faults = { whole: 0, bisected: 0, merged: 0, crashes: 0, partial: 0 };
    const deliver = async (records: ShardRecord[], crashAfter?: number) => {
      if (crashAfter === undefined) crash.disarm();
      else crash.arm(crashAfter);
      let answer: Awaited<ReturnType<typeof handler>> | "threw";
      try {
        answer = await handler(kinesisEvent(records), testContext());
      } catch {
        answer = "threw";
      }
      const crashed = crash.crashed();
      crash.disarm();
      return { answer, crashed };
    };
    /** Delivers until the records are applied, resuming as Lambda does after a partial failure. */
    const deliverUntilApplied = async (records: ShardRecord[]) => {
      let rest = records;
      while (rest.length > 0) {
        const { answer } = await deliver(rest);
        if (answer === "threw") throw new Error("the handler threw without a fault");
        const failed = answer?.batchItemFailures?.[0]?.itemIdentifier;
        if (!failed) return;
        faults.partial++;
        rest = rest.slice(rest.findIndex(({ record }) => record.SequenceNumber === failed));
      }
    };

    // Act: walk both shards in small batches, interleaved, with a fault scenario per batch.
    const cursors = new Map([...byShard.keys()].map((shard) => [shard, 0]));
    let step = 0;
    while ([...cursors].some(([shard, at]) => at < (byShard.get(shard)?.length ?? 0))) {
      for (const [shard, at] of cursors) {
        const records = byShard.get(shard) ?? [];
        if (at >= records.length) continue;
        const size = 20 + Math.floor(random() * 40);
        const batch = records.slice(at, at + size);
        const next = records.slice(at + size, at + 2 * size);
        const roll = random();
        const crashAfter = Math.floor(random() * 12);
        let advance = batch.length;
        if (roll < 0.3) {
          await deliverUntilApplied(batch);
        } else if (roll < 0.45) {
          faults.whole++;
          await deliverUntilApplied(batch);
          await deliverUntilApplied(batch);
        } else if (roll < 0.65) {
          faults.crashes++;
          faults.bisected++;
          await deliver(batch, crashAfter);
          const half = Math.ceil(batch.length / 2);
          await deliverUntilApplied(batch.slice(0, half));
          await deliverUntilApplied(batch.slice(half));
        } else if (roll < 0.85) {
          faults.crashes++;
          faults.merged++;
          await deliver(batch, crashAfter);
          await deliverUntilApplied([...batch, ...next]);
          advance += next.length;
        } else {
          faults.crashes++;
          await deliver(batch, crashAfter);
          await deliverUntilApplied(batch);
        }
        cursors.set(shard, at + advance);
      }
      if (++step % 3 === 0) await closeWindows(closing);
    }
    await closeWindows(closing, { drain: true });

    // Assess
    const results = (
      await Promise.all(pipelines.map((p) => queryResults(deployment.dynamodb, deployment.names.resultsTable, { pipeline: p.name })))
    ).flat();
    const expected = referenceWindows(pipelines as ReferencePipeline[], events as unknown as Record<string, unknown>[]);
    const difference = compareWindows(results, expected);
    expect(faults.crashes).toBeGreaterThan(10);
    expect(difference.missing).toEqual([]);
    expect(difference.unexpected).toEqual([]);
    expect(difference.wrong).toEqual([]);
    expect(results.every((r) => r.version === 1)).toBe(true);
    for (const pipeline of pipelines) {
      const checkpoints = await readCheckpoints(deployment.dynamodb, deployment.names.stateTable, pipeline.name);
      for (const checkpoint of checkpoints) {
        const last = byShard.get(checkpoint.shardId)?.at(-1)?.record.SequenceNumber;
        expect(BigInt(checkpoint.sequenceNumber ?? "0")).toBeLessThanOrEqual(BigInt(last ?? "0"));
      }
    }
  });
});
