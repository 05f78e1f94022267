// Reliability beyond redelivery: poison pills dead-lettered with reasons and bytes (and redriven once
// fixed), producer duplicates dropped by event id, and idle shards that stop holding the watermark.
import { PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { describe, expect, it } from "vitest";
import { readWatermarks } from "../../shared/aws/dynamodb/checkpoints.ts";
import { listDeadLetters } from "../../shared/aws/dynamodb/dead-letters.ts";
import { queryResults } from "../../shared/aws/dynamodb/results.ts";
import { parsePipelines } from "../../shared/core/pipelines/parse.ts";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import { sendAndClose, useLocalStack } from "../helpers/local-stack.ts";
import { runPanes } from "../helpers/processes.ts";

const start = useLocalStack("rel");

const T0 = Date.parse("2026-07-01T00:00:00Z");
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
const base = {
  key: "host",
  eventTime: "ts",
  window: { type: "tumbling", size: "1m" },
  aggregates: { total: { sum: "v" }, n: { count: true } },
};

describe("poison pills", () => {
  it("go to the dead-letter store with reason and bytes, the rest of the batch is applied, and a redrive re-injects them", async () => {
    // Prepare: a pipeline that refuses events more than an hour ahead of the wall clock
    const s = await start(parsePipelines({ pipelines: [{ name: "skew", ...base, maxFutureSkew: "1h" }] }));
    const future = new Date(Date.now() + 3 * 3_600_000).toISOString();
    const oversized = Buffer.from(JSON.stringify({ host: "h", ts: at(1), v: 1, pad: "x".repeat(300 * 1024) }));

    // Act
    await sendAndClose(s, [
      { host: "h", ts: at(1), v: 1 },
      "[1, 2",
      oversized,
      { host: "h", ts: future, v: 5 },
      { host: "h", ts: at(2), v: "2" },
      { host: "h", v: 3 },
      { host: "h", ts: at(3), v: 4 },
      { host: "h", ts: at(200), v: 0 },
    ]);

    // Assess
    const letters = await listDeadLetters(s.dynamodb, s.connection.names.deadLetterTable, "invalid");
    expect(letters.map((l) => l.reason)).toEqual([
      expect.stringMatching(/not JSON/),
      expect.stringMatching(/record is \d+ bytes, more than the 262144 bytes allowed/),
      expect.stringMatching(/more than maxFutureSkew/),
      expect.stringMatching(/field "v" \(aggregate "total"\) must be a finite number/),
      expect.stringMatching(/event time field "ts" must be epoch milliseconds or an ISO-8601 time with a zone, got nothing/),
    ]);
    expect(Buffer.from(letters[2]?.data ?? []).toString()).toBe(JSON.stringify({ host: "h", ts: future, v: 5 }));
    expect(letters[1]?.size).toBe(oversized.byteLength);
    const [window] = await queryResults(s.dynamodb, s.connection.names.resultsTable, { pipeline: "skew" });
    expect(window).toMatchObject({ start: T0, values: { total: 5, n: 2 } });

    // Act: "fix the cause" (allow a day of skew), then redrive the future event through the CLI
    (s.ingest.pipelines as Pipeline[])[0] = { ...(s.ingest.pipelines[0] as Pipeline), maxFutureSkew: 86_400_000 };
    const env = {
      AWS_ENDPOINT_URL_KINESIS: s.connection.kinesisEndpoint,
      AWS_ENDPOINT_URL_DYNAMODB: s.connection.dynamodbEndpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "000000000000",
      AWS_SECRET_ACCESS_KEY: "x",
    };
    const table = ["--table", s.connection.names.deadLetterTable, "--stream", s.connection.names.sourceStream];
    const dry = await runPanes(["dlq", "redrive", "--dry-run", ...table], { env });
    expect(dry.stderr).toMatch(/1 record left alone: only the first bytes were kept/);
    expect(dry.stderr).toMatch(/would put 4 records back/);
    const redriven = await runPanes(["dlq", "redrive", "--pipeline", "skew", ...table], { env });
    expect(redriven.code).toBe(0);
    expect(redriven.stderr).toMatch(/put 3 records back/);
    await s.mapping.waitUntilCaughtUp();

    // Assess: the future event is now applied; the still-invalid ones were dead-lettered again
    const windows = await queryResults(s.dynamodb, s.connection.names.resultsTable, { pipeline: "skew" });
    expect(windows.length).toBe(1);
    const after = await listDeadLetters(s.dynamodb, s.connection.names.deadLetterTable, "invalid");
    expect(after.map((l) => l.reason)).toEqual([
      expect.stringMatching(/not JSON/),
      expect.stringMatching(/record is \d+ bytes/),
      expect.stringMatching(/field "v"/),
      expect.stringMatching(/event time field "ts"/),
    ]);
    expect(after.some((l) => /maxFutureSkew/.test(l.reason))).toBe(false);
  });
});

describe("producer duplicates", () => {
  it("count an event id once within the dedupe window, even when the batch is delivered again", async () => {
    // Prepare
    const s = await start(parsePipelines({ pipelines: [{ name: "once", ...base, dedupe: { field: "id", within: "10m" } }] }));
    const events = [1, 2, 2, 3, 3, 3].map((id, i) => ({ id: `e${id}`, host: "h", ts: at(10 + i), v: id }));

    // Act
    await sendAndClose(s, [...events, { id: "late-mover", host: "h", ts: at(300), v: 0 }]);
    await sendAndClose(s, events); // the producer retried everything

    // Assess
    const [window] = await queryResults(s.dynamodb, s.connection.names.resultsTable, { pipeline: "once" });
    expect(window).toMatchObject({ start: T0, values: { total: 6, n: 3 } });
  });
});

describe("idle shards", () => {
  it("stop holding the watermark back after idleTimeout, and their late records follow the lateness rules", async () => {
    // Prepare: two shards; shard 1 gets one early event, then only shard 0 moves on
    const s = await start(parsePipelines({ pipelines: [{ name: "idle", ...base, idleTimeout: "1s" }] }), { shards: 2 });
    const put = (hashKey: string, event: object) =>
      s.kinesis.send(
        new PutRecordsCommand({
          StreamName: s.connection.names.sourceStream,
          Records: [{ PartitionKey: "p", ExplicitHashKey: hashKey, Data: Buffer.from(JSON.stringify(event)) }],
        }),
      );
    const SHARD_0 = "0";
    const SHARD_1 = (2n ** 128n - 1n).toString();
    await put(SHARD_1, { host: "b", ts: at(5), v: 1 });
    await put(SHARD_0, { host: "a", ts: at(5), v: 1 });
    await put(SHARD_0, { host: "a", ts: at(600), v: 1 });
    await s.mapping.waitUntilCaughtUp();
    await s.closeNow();
    const held = (await readWatermarks(s.dynamodb, s.connection.names.stateTable, ["idle"])).get("idle");
    expect(held).toBe(T0 + 5_000); // shard 1 holds it at its max event time

    // Act: poll until shard 1 has been idle for its timeout
    const deadline = Date.now() + 30_000;
    let watermark = held ?? 0;
    while (watermark < T0 + 600_000 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      await s.closeNow();
      watermark = (await readWatermarks(s.dynamodb, s.connection.names.stateTable, ["idle"])).get("idle") ?? 0;
    }
    await put(SHARD_1, { host: "b", ts: at(30), v: 7 }); // shard 1 wakes up with an old event
    await s.mapping.waitUntilCaughtUp();

    // Assess
    expect(watermark).toBe(T0 + 600_000);
    const late = await listDeadLetters(s.dynamodb, s.connection.names.deadLetterTable, "late");
    expect(late.map((l) => JSON.parse(Buffer.from(l.data).toString()).v)).toEqual([7]);
    const windows = await queryResults(s.dynamodb, s.connection.names.resultsTable, { pipeline: "idle" });
    expect(windows.filter((w) => w.start === T0).map((w) => [w.key, w.values.total])).toEqual([
      ["a", 1],
      ["b", 1],
    ]);
  });
});

describe("item-size safety", () => {
  it("reports events a key group's pane cannot store in a dead letter, keeps what fits, and loses no event", async () => {
    // Prepare: one key group; 200 keys whose random sums do not compress; a pane item limit (1.5 KB here,
    // DynamoDB's 400 KB in a deployment) that about a third of them fill
    const big = parsePipelines({
      pipelines: [{ name: "big", ...base, keyGroups: 1, aggregates: { total: { sum: "v" }, low: { min: "v" }, high: { max: "v" } } }],
    });
    const s = await start(big, { maxPaneItemBytes: 1_500 });
    const events = Array.from({ length: 200 }, (_, i) => ({ host: `host-${i}`, ts: at(1), v: Math.random() * 1e6 }));

    // Act
    await sendAndClose(s, [...events, { host: "late-closer", ts: at(200), v: 0 }]);

    // Assess: the pane kept the portions that fit, in order; one dead letter says how many events of how
    // many keys it could not add, and why; every event is in a window or in that letter, once
    const letters = await listDeadLetters(s.dynamodb, s.connection.names.deadLetterTable, "invalid");
    expect(letters.map((l) => l.reason)).toEqual([
      expect.stringMatching(
        /key group 0 would exceed DynamoDB's item size limit \(1500 bytes kept for state\); \d+ accepted events of \d+ keys were not added.*raise keyGroups/,
      ),
    ]);
    const described = JSON.parse(Buffer.from(letters[0]?.data ?? []).toString()) as { unstoredState: { events: number; group: number } };
    expect(described.unstoredState).toMatchObject({ group: 0 });
    expect(s.failures).toEqual([]);
    const windows = (await queryResults(s.dynamodb, s.connection.names.resultsTable, { pipeline: "big" })).filter((w) => w.start === T0);
    expect(windows.length).toBeGreaterThan(20);
    expect(windows.length).toBeLessThan(200);
    expect(windows.reduce((n, w) => n + w.count, 0) + described.unstoredState.events).toBe(200);
  });
});
