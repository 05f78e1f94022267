// Fuzzing the whole path — the real ingest and watermark handlers on the emulators — with whatever a
// producer can send: random bytes, JSON of any shape and depth, huge and ill-formed strings, extreme
// numbers and times, mixed with valid events. Whatever arrives: every batch completes, closing never
// fails, and every record is accounted for exactly once per pipeline: counted in a window, or
// dead-lettered with a reason — never both, never neither. Dev-only (fast-check).
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { KinesisStreamEvent } from "aws-lambda";
import fc from "fast-check";
import { createIngestHandler } from "../../functions/commons/ingest-handler.ts";
import { createWatermarkHandler } from "../../functions/commons/watermark-handler.ts";
import { advanceWatermark } from "../../shared/aws/dynamodb/checkpoints.ts";
import { listDeadLetters } from "../../shared/aws/dynamodb/dead-letters.ts";
import { queryResults } from "../../shared/aws/dynamodb/results.ts";
import { parsePipelines } from "../../shared/core/pipelines/parse.ts";
import { END_OF_TIME } from "../../shared/core/windows/watermark.ts";
import { localLambdaContext } from "./lambda-context.ts";

export interface FuzzTables {
  dynamodb: DynamoDBClient;
  stateTable: string;
  resultsTable: string;
  deadLetterTable: string;
}

const NOW = Date.now();
const encode = (text: string) => new TextEncoder().encode(text);

/** A string JSON cannot keep as it is: lone surrogates, control characters, very long text. */
const nastyString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.constantFrom("\ud800", "a\udfff", "\u0000", "\u001b[31m", "__proto__", "constructor", "", " "),
  fc.integer({ min: 2000, max: 5000 }).map((n) => "k".repeat(n)),
);
const nastyNumber = fc.oneof(
  fc.double(),
  fc.constantFrom(1e200, -1e200, 5e-324, 1e-131, 9.9e125, Number.MAX_VALUE, 0, -0, 2 ** 53 + 1),
  fc.integer(),
);
const nastyTime = fc.oneof(
  fc.integer({ min: NOW - 86_400_000, max: NOW }),
  nastyNumber,
  fc.constantFrom("2026-02-30T00:00:00Z", "2099-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2026-01-01T00:00:00", "soon"),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
);
const nastyValue = fc.oneof(nastyString, nastyNumber, fc.constant(null), fc.jsonValue({ maxDepth: 3 }));

/** A record as bytes: mostly events with fields of any kind, some anything at all. */
const record = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .record({
        k: fc.constantFrom("a", "b", 7),
        ts: fc.integer({ min: NOW - 3_600_000, max: NOW }),
        v: fc.integer({ min: -100, max: 100 }),
      })
      .map((e) => encode(JSON.stringify(e))),
  },
  {
    weight: 4,
    arbitrary: fc
      .record(
        {
          // Keys that UTF-8 cannot tell apart (each lone surrogate becomes U+FFFD) must never share an item.
          k: fc.oneof(nastyValue, fc.constantFrom("a", "b"), fc.constantFrom("\ud800", "\udc00", "\udbff", "x\ud83d")),
          ts: fc.oneof(nastyTime, fc.integer({ min: NOW - 3_600_000, max: NOW })),
          v: fc.oneof(nastyValue, fc.integer({ min: -9, max: 9 })),
        },
        { requiredKeys: [] },
      )
      .map((e) => encode(JSON.stringify(e))),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        k: fc.constantFrom("\ud800", "\udc00", "\udbff"),
        ts: fc.integer({ min: NOW - 60_000, max: NOW }),
        v: fc.integer({ min: 0, max: 9 }),
      })
      .map((e) => encode(JSON.stringify(e))),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 6 }).map((v) => encode(JSON.stringify(v) ?? "null")) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 60, max: 3000 }).map((depth) => encode(`{"k":${"[".repeat(depth)}${"]".repeat(depth)},"ts":1,"v":1}`)),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
);

export interface FuzzOptions {
  tables: FuzzTables;
  runs: number;
  seed?: number;
}

let fuzzRun = 0;

/** Runs the property; throws (fast-check's report, with the shrunk counterexample) on the first failure. */
export async function fuzzIngestAndClosing(options: FuzzOptions): Promise<void> {
  const { tables } = options;
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(record, { minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 3 }), async (batches) => {
      fuzzRun++;
      const suffix = `${process.pid}-${fuzzRun}`;
      const pipelines = parsePipelines({
        pipelines: [
          {
            name: `tumbling-${suffix}`,
            key: "k",
            eventTime: "ts",
            window: { type: "tumbling", size: "1m" },
            aggregates: { n: { count: true }, s: { sum: "v" } },
          },
          {
            name: `sessions-${suffix}`,
            key: "k",
            eventTime: "ts",
            window: { type: "session", gap: "30s" },
            aggregates: { n: { count: true }, m: { max: "v" } },
          },
        ],
      });
      const ingest = createIngestHandler({ ...tables, pipelines, writeConcurrency: 8 });
      const close = createWatermarkHandler({ ...tables, pipelines, concurrency: 8, tombstoneRetentionMs: 86_400_000 });
      const shardId = `shardId-fuzz-${suffix}`;
      let sequence = 0n;
      let sent = 0;
      for (const batch of batches) {
        const event: KinesisStreamEvent = {
          Records: batch.map((data) => {
            sequence++;
            sent++;
            return {
              kinesis: {
                kinesisSchemaVersion: "1.0",
                partitionKey: "k",
                sequenceNumber: (49_000_000_000_000_000_000n + sequence).toString(),
                data: Buffer.from(data).toString("base64"),
                approximateArrivalTimestamp: NOW / 1000,
              },
              eventSource: "aws:kinesis",
              eventVersion: "1.0",
              eventID: `${shardId}:${(49_000_000_000_000_000_000n + sequence).toString()}`,
              eventName: "aws:kinesis:record",
              invokeIdentityArn: "arn:aws:iam::000000000000:role/fuzz",
              awsRegion: "us-east-1",
              eventSourceARN: "arn:aws:kinesis:us-east-1:000000000000:stream/fuzz",
            };
          }),
        };
        // The batch completes: no failure to resume from, nothing for the on-failure destination.
        const answer = await ingest(event, localLambdaContext("panes-ingest", "us-east-1"));
        if ((answer?.batchItemFailures ?? []).length > 0) throw new Error(`the batch did not complete: ${JSON.stringify(answer)}`);
        await close(undefined, localLambdaContext("panes-watermark", "us-east-1"));
      }
      // The end of input: every window fires; closing never fails.
      for (const p of pipelines) await advanceWatermark(tables.dynamodb, tables.stateTable, p.name, END_OF_TIME, NOW);
      await close(undefined, localLambdaContext("panes-watermark", "us-east-1"));

      const letters = (await listDeadLetters(tables.dynamodb, tables.deadLetterTable)).filter((l) => l.shardId === shardId);
      for (const l of letters) if (l.reason.length === 0) throw new Error("a dead letter without a reason");
      for (const p of pipelines) {
        const refused = new Set(letters.filter((l) => l.pipeline === p.name || l.pipeline === "*").map((l) => l.sequenceNumber));
        const results = await queryResults(tables.dynamodb, tables.resultsTable, { pipeline: p.name });
        const counted = results.reduce((n, r) => n + r.count, 0);
        if (counted + refused.size !== sent)
          throw new Error(`${p.name}: ${counted} events counted and ${refused.size} records refused, of ${sent} sent`);
      }
    }),
    { numRuns: options.runs, ...(options.seed === undefined ? {} : { seed: options.seed }), endOnFailure: true },
  );
}
