// A KPL-aggregated record is a valid producer setting up to 1 MiB: one whose state does not fit in one
// shard-log entry (thousands of user records with long random keys, two pipelines) is split between its
// user records into several entries, every event counted once — even when the batch is delivered again.
import { randomBytes } from "node:crypto";
import { PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { describe, expect, it } from "vitest";
import { createIngestHandler } from "../../functions/commons/ingest-handler.ts";
import { createWatermarkHandler } from "../../functions/commons/watermark-handler.ts";
import { readLogHead } from "../../shared/aws/dynamodb/log.ts";
import { queryResults } from "../../shared/aws/dynamodb/results.ts";
import { aggregateRecords } from "../../shared/aws/kinesis/kpl.ts";
import type { WindowResult } from "../../shared/core/types.ts";
import { kinesisEvent, pipeline, testContext } from "../helpers/builders.ts";
import { emulatedDeployment, readAllRecords } from "../helpers/emulated.ts";

const T0 = Date.parse("2026-01-01T00:00:00Z");

describe("a KPL-aggregated record too large for one log entry", () => {
  it("is split between its user records, and every event is in its window once, after a redelivery too", async () => {
    // Prepare: aggregated records of 1 MiB (each thousands of user records), then one record that moves the watermark on
    const deployment = await emulatedDeployment("large-kpl", 1);
    const pipelines = [
      pipeline({ key: "id", outOfOrderness: "0s", idleTimeout: "1d", aggregates: { n: { count: true }, s: { sum: "v" } } }),
      pipeline({ key: "id", outOfOrderness: "0s", idleTimeout: "1d", window: { type: "sliding", size: "2m", slide: "1m" } }),
    ];
    const events = Array.from({ length: 7_000 }, (_, i) => ({ id: randomBytes(96).toString("base64"), ts: T0 + i, v: i }));
    const packed = await aggregateRecords(events.map((e) => ({ partitionKey: e.id.slice(0, 64), data: Buffer.from(JSON.stringify(e)) })));
    const later = Buffer.from(JSON.stringify({ id: "later", ts: T0 + 600_000, v: 0 }));
    await deployment.kinesis.send(
      new PutRecordsCommand({
        StreamName: deployment.names.sourceStream,
        Records: [...packed.map((r) => ({ PartitionKey: r.partitionKey, Data: r.data })), { PartitionKey: "later", Data: later }],
      }),
    );
    const records = [...(await readAllRecords(deployment.kinesis, deployment.names.sourceStream)).values()].flat();
    const deps = {
      dynamodb: deployment.dynamodb,
      stateTable: deployment.names.stateTable,
      deadLetterTable: deployment.names.deadLetterTable,
      pipelines,
    };
    const ingest = createIngestHandler({ ...deps, writeConcurrency: 4 });
    const close = createWatermarkHandler({
      ...deps,
      resultsTable: deployment.names.resultsTable,
      concurrency: 4,
      tombstoneRetentionMs: 86_400_000,
    });
    expect(Math.max(...packed.map((r) => r.data.byteLength))).toBeGreaterThan(730 * 1024);

    // Act: the batch, and the same batch again (a redelivery), then closing
    const first = await ingest(kinesisEvent(records, deployment.sourceStreamArn), testContext());
    const again = await ingest(kinesisEvent(records, deployment.sourceStreamArn), testContext());
    await close(undefined, testContext());

    // Assess: several entries; each event once in each pipeline's windows
    expect(first?.batchItemFailures ?? []).toEqual([]);
    expect(again?.batchItemFailures ?? []).toEqual([]);
    const head = await readLogHead(deployment.dynamodb, deployment.names.stateTable, "shardId-000000000000");
    expect(head?.ordinal).toBeGreaterThan(records.length);
    const [tumbling, sliding] = await Promise.all(
      pipelines.map((p) => queryResults(deployment.dynamodb, deployment.names.resultsTable, { pipeline: p.name })),
    );
    const perKey = (results: WindowResult[] | undefined) => {
      const byKey = new Map<string, number>();
      for (const r of results ?? []) if (r.key !== "later") byKey.set(r.key, (byKey.get(r.key) ?? 0) + r.count);
      return byKey;
    };
    expect(perKey(tumbling).size).toBe(events.length);
    expect([...perKey(tumbling).values()].every((n) => n === 1)).toBe(true);
    expect((tumbling ?? []).filter((r) => r.key !== "later").reduce((sum, r) => sum + (r.values.s as number), 0)).toBe(
      events.reduce((sum, e) => sum + e.v, 0),
    );
    // every event is in two 2-minute windows sliding by a minute
    expect([...perKey(sliding).values()].every((n) => n === 2)).toBe(true);
    deployment.dynamodb.destroy();
    deployment.kinesis.destroy();
  }, 600_000);
});
