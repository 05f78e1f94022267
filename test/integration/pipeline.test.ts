// The local stack as a whole: bad records are dead-lettered with the reason and the original bytes
// while the rest of the batch is applied; late events within allowedLateness re-emit their window
// with a higher version; later ones go to the late output; results reach the output stream with
// their idempotency keys.

import { GetRecordsCommand, GetShardIteratorCommand } from "@aws-sdk/client-kinesis";
import { describe, expect, it } from "vitest";
import { listDeadLetters } from "../../shared/aws/dynamodb/dead-letters.ts";
import { queryResults } from "../../shared/aws/dynamodb/results.ts";
import { putRecordsWithRetry } from "../../shared/aws/kinesis/put-records.ts";
import { resultsOfRecord } from "../../shared/aws/outputs/kinesis.ts";
import { pipeline } from "../helpers/builders.ts";
import { sendAndClose, useLocalStack } from "../helpers/local-stack.ts";

const start = useLocalStack("pipe");

const T0 = Date.parse("2026-04-01T00:00:00Z");
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

describe("local pipeline", () => {
  it("dead-letters bad records with reason and bytes and applies the rest of the batch", async () => {
    // Prepare
    const s = await start([pipeline({ name: "sum", aggregates: { total: { sum: "v" } } })]);

    // Act
    await sendAndClose(s, [
      { host: "h", ts: at(1), v: 1 },
      "{not json",
      { ts: at(2), v: 5 },
      { host: "h", ts: at(3), v: "7" },
      { host: "h", ts: at(4), v: 2 },
      { host: "h", ts: at(120), v: 100 },
    ]);

    // Assess
    const letters = await listDeadLetters(s.dynamodb, s.connection.names.deadLetterTable);
    expect(letters.map((l) => [l.kind, l.pipeline, Buffer.from(l.data).toString()])).toEqual([
      ["invalid", "*", "{not json"],
      ["invalid", "sum", JSON.stringify({ ts: at(2), v: 5 })],
      ["invalid", "sum", JSON.stringify({ host: "h", ts: at(3), v: "7" })],
    ]);
    expect(letters[0]?.reason).toMatch(/not JSON/);
    expect(letters[1]?.reason).toMatch(/key field "host"/);
    expect(letters[2]?.reason).toMatch(/field "v" \(aggregate "total"\) must be a finite number/);
    const results = await queryResults(s.dynamodb, s.connection.names.resultsTable, { pipeline: "sum" });
    expect(results.map((r) => [r.start, r.values.total, r.count])).toEqual([[T0, 3, 2]]);
  });

  it("re-emits a window for late events within allowedLateness and sends later ones to the late output", async () => {
    // Prepare
    const s = await start([pipeline({ name: "late", aggregates: { total: { sum: "v" } }, allowedLateness: "2m" })]);

    // Act
    await sendAndClose(s, [
      { host: "h", ts: at(10), v: 1 },
      { host: "h", ts: at(120), v: 10 },
    ]); // watermark 2m: [0, 1m) fires
    await sendAndClose(s, [{ host: "h", ts: at(20), v: 2 }]); // late, within 2m of lateness: re-fired as version 2
    await sendAndClose(s, [{ host: "h", ts: at(600), v: 100 }]); // watermark 10m: [0, 1m) is final and purged
    await sendAndClose(s, [{ host: "h", ts: at(30), v: 4 }]); // too late

    // Assess
    const results = await queryResults(s.dynamodb, s.connection.names.resultsTable, { pipeline: "late" });
    expect(results.find((r) => r.start === T0)).toMatchObject({ version: 2, count: 2, values: { total: 3 } });
    const late = await listDeadLetters(s.dynamodb, s.connection.names.deadLetterTable, "late");
    expect(late.map((l) => JSON.parse(Buffer.from(l.data).toString()).v)).toEqual([4]);

    const { ShardIterator } = await s.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: s.connection.names.outputStream,
        ShardId: "shardId-000000000000",
        ShardIteratorType: "TRIM_HORIZON",
      }),
    );
    const { Records = [] } = await s.kinesis.send(new GetRecordsCommand({ ShardIterator }));
    const published = Records.flatMap((r) => resultsOfRecord(r.Data ?? new Uint8Array())) as {
      start: number;
      idempotencyKey: string;
      values: { total: number };
    }[];
    expect(published.filter((p) => p.start === T0).map((p) => [p.idempotencyKey, p.values.total])).toEqual([
      [`late/h/${T0}/1`, 1],
      [`late/h/${T0}/2`, 3],
    ]);
  });
});

describe("low-latency closing", () => {
  it("closes a window as soon as a batch moves the watermark past its end, without waiting for the schedule", async () => {
    // Prepare: no scheduled runs at all; only the ingest function's request can close windows
    const s = await start([pipeline({ name: "fast", aggregates: { total: { sum: "v" } } })], { closeOnIngestMs: 50 });

    // Act
    await putRecordsWithRetry(
      s.kinesis,
      { streamName: s.connection.names.sourceStream },
      [
        { host: "h", ts: at(10), v: 1 },
        { host: "h", ts: at(70), v: 2 },
      ].map((e) => ({ PartitionKey: "h", Data: Buffer.from(JSON.stringify(e)) })),
    );

    // Assess: poll with a deadline
    const deadline = Date.now() + 20_000;
    let results = await queryResults(s.dynamodb, s.connection.names.resultsTable, { pipeline: "fast" });
    while (results.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      results = await queryResults(s.dynamodb, s.connection.names.resultsTable, { pipeline: "fast" });
    }
    expect(results.map((r) => [r.start, r.values.total])).toEqual([[T0, 1]]);
  });
});

describe("early results", () => {
  it("emit an open window's current result (final: false) before the final one, with increasing versions", async () => {
    // Prepare
    const s = await start([pipeline({ name: "early", aggregates: { total: { sum: "v" } }, early: "10s" })]);
    let clock = Date.now(); // the closing logic's processing-time clock, moved by hand
    s.closing.now = () => clock;

    // Act
    await sendAndClose(s, [{ host: "h", ts: at(10), v: 1 }]);
    const first = (await queryResults(s.dynamodb, s.connection.names.resultsTable, { pipeline: "early" }))[0];
    clock += 5_000;
    await sendAndClose(s, [{ host: "h", ts: at(20), v: 2 }]); // within the interval: no new early result
    const second = (await queryResults(s.dynamodb, s.connection.names.resultsTable, { pipeline: "early" }))[0];
    clock += 5_000;
    await sendAndClose(s, [{ host: "h", ts: at(30), v: 4 }]);
    const third = (await queryResults(s.dynamodb, s.connection.names.resultsTable, { pipeline: "early" }))[0];
    await sendAndClose(s, [{ host: "h", ts: at(90), v: 0 }]); // the watermark passes the window
    const last = (await queryResults(s.dynamodb, s.connection.names.resultsTable, { pipeline: "early" })).find((r) => r.start === T0);

    // Assess
    expect(first).toMatchObject({ start: T0, final: false, version: 1, values: { total: 1 } });
    expect(second).toMatchObject({ final: false, version: 1, values: { total: 1 } });
    expect(third).toMatchObject({ final: false, version: 2, values: { total: 7 } });
    expect(last).toMatchObject({ final: true, version: 3, values: { total: 7 }, count: 3 });
  });
});
