// `npm run bench`: speed and cost measured on the local stack, each figure a ratio against a baseline
// measured in the same run (these machines are shared and noisy; absolute times mean little).
import { readFileSync } from "node:fs";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { GetRecordsCommand, GetShardIteratorCommand, type KinesisClient } from "@aws-sdk/client-kinesis";
import type { KinesisStreamEvent } from "aws-lambda";
import pLimit from "p-limit";
import { createIngestHandler } from "../../functions/commons/ingest-handler.ts";
import { closeWindows } from "../../shared/app/closing.ts";
import { createDynamoDbClient, createKinesisClient } from "../../shared/aws/clients.ts";
import { N, S } from "../../shared/aws/dynamodb/attributes.ts";
import { putRecordsWithRetry } from "../../shared/aws/kinesis/put-records.ts";
import { listShards } from "../../shared/aws/kinesis/shards.ts";
import { parsePipelines } from "../../shared/core/pipelines/parse.ts";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import { windowsOf } from "../../shared/core/windows/assigners.ts";
import { type Emulator, startDynalite, startKinesis } from "../local/emulators.ts";
import { localLambdaContext } from "../local/lambda-context.ts";
import { createTables, localNames } from "../local/resources.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalStack } from "../local/stack.ts";

const WRITE_COMMANDS = new Set(["PutItemCommand", "UpdateItemCommand", "DeleteItemCommand"]);
const READ_COMMANDS = new Set(["GetItemCommand", "QueryCommand", "ScanCommand"]);

/** Counts DynamoDB requests (a batch counts each item) and watches writes as they succeed. */
function countRequests(client: DynamoDBClient, onWrite?: (command: string, input: Record<string, unknown>, at: number) => void) {
  const counts = { writes: 0, reads: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const name = context.commandName ?? "";
      const input = args.input as Record<string, unknown>;
      if (WRITE_COMMANDS.has(name)) counts.writes++;
      if (name === "BatchWriteItemCommand")
        for (const items of Object.values((input.RequestItems ?? {}) as Record<string, unknown[]>)) counts.writes += items.length;
      if (READ_COMMANDS.has(name)) counts.reads++;
      if (name === "BatchGetItemCommand")
        for (const t of Object.values((input.RequestItems ?? {}) as Record<string, { Keys: unknown[] }>)) counts.reads += t.Keys.length;
      onWrite?.(name, input, Date.now());
      return result;
    },
    { step: "initialize", name: "panesBenchCounter" },
  );
  return counts;
}

/** The seed workload: `hosts` hosts, each sending cpu and mem samples, `rate` events per second of event time. */
function seedEvents(count: number, hosts: number, rate: number, start: number, metric?: "cpu" | "mem") {
  return Array.from({ length: count }, (_, i) => {
    const host = `host-${String(i % hosts).padStart(3, "0")}`;
    const kind = metric ?? (Math.floor(i / hosts) % 2 === 0 ? "cpu" : "mem");
    return {
      host,
      metric: kind,
      ts: start + Math.floor((i * 1000) / rate),
      value: kind === "cpu" ? (i * 7) % 100 : 1024 + ((i * 13) % 8192),
    };
  });
}

function kinesisEventOf(events: readonly object[], shardId: string, firstSequence: bigint): KinesisStreamEvent {
  return {
    Records: events.map((event, i) => {
      const sequenceNumber = (firstSequence + BigInt(i)).toString();
      return {
        kinesis: {
          kinesisSchemaVersion: "1.0",
          partitionKey: (event as { host: string }).host,
          sequenceNumber,
          data: Buffer.from(JSON.stringify(event)).toString("base64"),
          approximateArrivalTimestamp: Date.now() / 1000,
        },
        eventSource: "aws:kinesis",
        eventVersion: "1.0",
        eventID: `${shardId}:${sequenceNumber}`,
        eventName: "aws:kinesis:record",
        invokeIdentityArn: "arn:aws:iam::000000000000:role/bench",
        awsRegion: LOCAL_REGION,
        eventSourceARN: "arn:aws:kinesis:us-east-1:000000000000:stream/bench",
      };
    }),
  };
}

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

interface IngestRun {
  events: number;
  writes: number;
  reads: number;
  invocations: number;
  handlerCpuMicros: number;
  handlerWallMs: number;
  closingRuns: number;
  closingWallMs: number;
  decodeCpuMicros: number;
  recordBytes: number;
}

/** Runs the real ingest handler over batches of the workload, with the closing logic every 10 batches, and counts. */
async function measureIngest(
  endpoint: string,
  pipelines: Pipeline[],
  events: object[],
  batchSize: number,
  label: string,
): Promise<IngestRun> {
  const dynamodb = createDynamoDbClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const names = localNames(`bench-${label}-${Date.now().toString(36)}`);
  await createTables(dynamodb, names);
  const counts = countRequests(dynamodb);
  const ingest = { dynamodb, stateTable: names.stateTable, deadLetterTable: names.deadLetterTable, pipelines, writeConcurrency: 32 };
  const handler = createIngestHandler(ingest);
  const closing = {
    dynamodb,
    stateTable: names.stateTable,
    resultsTable: names.resultsTable,
    pipelines,
    concurrency: 32,
    tombstoneRetentionMs: 86_400_000,
  };
  const run: IngestRun = {
    events: events.length,
    writes: 0,
    reads: 0,
    invocations: 0,
    handlerCpuMicros: 0,
    handlerWallMs: 0,
    closingRuns: 0,
    closingWallMs: 0,
    decodeCpuMicros: 0,
    recordBytes: 0,
  };
  let sequence = 49_000_000_000_000_000_000_000_000n;
  for (let i = 0, batch = 0; i < events.length; i += batchSize, batch++) {
    const event = kinesisEventOf(events.slice(i, i + batchSize), "shardId-000000000000", sequence);
    sequence += BigInt(batchSize);
    // Baseline: just decoding the same records.
    const decodeStart = cpuMicros();
    for (const record of event.Records) JSON.parse(Buffer.from(record.kinesis.data, "base64").toString("utf8"));
    run.decodeCpuMicros += cpuMicros() - decodeStart;
    for (const record of event.Records) run.recordBytes += Buffer.byteLength(record.kinesis.data, "base64");

    const cpuStart = cpuMicros();
    const wallStart = performance.now();
    await handler(event, localLambdaContext("panes-ingest-bench"));
    run.handlerWallMs += performance.now() - wallStart;
    run.handlerCpuMicros += cpuMicros() - cpuStart;
    run.invocations++;
    if (batch % 10 === 9) {
      const closeStart = performance.now();
      await closeWindows(closing);
      run.closingWallMs += performance.now() - closeStart;
      run.closingRuns++;
    }
  }
  // Steady state: what the stream costs while it flows. The end-of-input drain (every remaining
  // window at once, 60 per key for a 60-minute sliding window) is not part of it.
  run.writes = counts.writes;
  run.reads = counts.reads;
  await closeWindows(closing, { drain: true });
  dynamodb.destroy();
  return run;
}

/** The naive baseline: no panes and no pre-aggregation; every event updates every window containing it. */
async function measureNaiveSliding(
  endpoint: string,
  events: { host: string; ts: number; value: number }[],
  size: number,
  slide: number,
): Promise<number> {
  const dynamodb = createDynamoDbClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const names = localNames(`bench-naive-${Date.now().toString(36)}`);
  await createTables(dynamodb, names);
  const counts = countRequests(dynamodb);
  const limit = pLimit(32);
  await Promise.all(
    events.flatMap((e) =>
      windowsOf({ type: "sliding", size, slide }, e.ts).map((w) =>
        limit(() =>
          dynamodb.send(
            new UpdateItemCommand({
              TableName: names.stateTable,
              Key: { pk: S(`naive#${e.host}`), sk: S(String(w.start)) },
              UpdateExpression: "ADD n :one SET #max = if_not_exists(#max, :v)",
              ExpressionAttributeNames: { "#max": "max" },
              ExpressionAttributeValues: { ":one": N(1), ":v": N(e.value) },
            }),
          ),
        ),
      ),
    ),
  );
  dynamodb.destroy();
  return counts.writes / events.length;
}

async function readEverything(kinesis: KinesisClient, streamName: string): Promise<number> {
  let records = 0;
  await Promise.all(
    (await listShards(kinesis, { streamName })).map(async (shard) => {
      let { ShardIterator: iterator } = await kinesis.send(
        new GetShardIteratorCommand({ StreamName: streamName, ShardId: shard.ShardId, ShardIteratorType: "TRIM_HORIZON" }),
      );
      while (iterator) {
        const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
        records += page.Records?.length ?? 0;
        if ((page.Records?.length ?? 0) === 0) break;
        iterator = page.NextShardIterator;
      }
    }),
  );
  return records;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}

export interface BenchReport {
  machine: { cpus: number; node: string; emulators: string };
  handlerCpuRatio: number;
  /** the same, with batches of 10,000 events */
  handlerCpuRatioBatch10000: number;
  writesPerEvent: { tumbling1m: number; sliding60m1m: number; naiveSliding60m1m: number };
  e2eVsRawRead: number;
  closeLatencyMs: { p50: number; p99: number; windows: number };
  costPerMillionEventsUsd: number;
  costBreakdownUsd: Record<string, number>;
  managedFlinkMonthlyMinUsd: number;
  panesMonthlyAt1000EventsPerSecondUsd: number;
  details: Record<string, unknown>;
}

export async function runBench(say: (message: string) => void = () => undefined): Promise<BenchReport> {
  const prices = JSON.parse(readFileSync(new URL("./prices-2026-11.json", import.meta.url), "utf8"));
  const emulators: Emulator[] = await Promise.all([startDynalite(), startKinesis("kinesalite")]);
  const [dynalite, kinesalite] = emulators as [Emulator, Emulator];
  try {
    const hosts = 100;
    const batchSize = 1000;
    const start = Date.parse("2026-09-01T00:00:00Z");
    const fixed = (name: string, window: object) =>
      parsePipelines({
        pipelines: [
          { name, key: "host", eventTime: "ts", window, aggregates: { max: { max: "value" }, n: { count: true } }, outOfOrderness: "5s" },
        ],
      });

    say("writes per event and handler CPU: tumbling 1m, sliding 60m/1m (seed workload: 100 hosts, 1,000 events/s, batches of 1,000)");
    const workload = seedEvents(180_000, hosts, 1000, start, "mem");
    const tumbling = await measureIngest(
      dynalite.endpoint,
      fixed("tumbling1m", { type: "tumbling", size: "1m" }),
      workload,
      batchSize,
      "t",
    );
    const sliding = await measureIngest(
      dynalite.endpoint,
      fixed("sliding60m1m", { type: "sliding", size: "60m", slide: "1m" }),
      workload,
      batchSize,
      "s",
    );
    say("the same tumbling workload in batches of 10,000 (the batch size is the cost lever)");
    const tumblingLarge = await measureIngest(
      dynalite.endpoint,
      fixed("tumbling1mLarge", { type: "tumbling", size: "1m" }),
      workload,
      10_000,
      "tl",
    );
    say("naive baseline: every event updates its 60 sliding windows");
    const naive = await measureNaiveSliding(
      dynalite.endpoint,
      workload.slice(0, 500) as { host: string; ts: number; value: number }[],
      3_600_000,
      60_000,
    );

    say("cost: the seed pipelines (avg CPU over 5m tumbling, max memory over 60m sliding by 1m)");
    const seedPipelines = parsePipelines(
      JSON.parse(readFileSync(new URL("../../examples/monitoring.pipelines.json", import.meta.url), "utf8")),
    );
    const seed = await measureIngest(dynalite.endpoint, seedPipelines, seedEvents(180_000, hosts, 1000, start), batchSize, "seed");

    say("end to end vs a bare GetRecords loop, on a pre-loaded stream");
    const kinesis = createKinesisClient({ endpoint: kinesalite.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const e2eEvents = seedEvents(30_000, hosts, 1000, start);
    const stack = await startLocalStack({
      pipelines: seedPipelines,
      endpoints: { kinesis: kinesalite.endpoint, dynamodb: dynalite.endpoint },
      shards: 2,
      prefix: `bench-e2e-${Date.now().toString(36)}`,
      mapping: { batchSize, pollIntervalMs: 20 },
      watermarkIntervalMs: 0,
      closeOnIngestMs: 200,
      publishResults: false,
      startPaused: true,
    });
    const { lastSequenceByShard } = await putRecordsWithRetry(
      kinesis,
      { streamName: stack.connection.names.sourceStream },
      e2eEvents.map((e) => ({ PartitionKey: e.host, Data: Buffer.from(JSON.stringify(e)) })),
    );
    const rawStart = performance.now();
    const rawRecords = await readEverything(kinesis, stack.connection.names.sourceStream);
    const rawMs = performance.now() - rawStart;
    const e2eStart = performance.now();
    stack.mapping.start();
    await stack.mapping.waitUntilDelivered(lastSequenceByShard);
    await stack.closeNow({ drain: true });
    const e2eMs = performance.now() - e2eStart;
    await stack.stop();

    say("close latency: a live producer on an accelerated clock, closing started by the ingest function");
    const latencies: number[] = [];
    {
      const crossings: { t: number; shard: string; maxTs: number }[] = [];
      const written = new Map<string, number>();
      const live = await startLocalStack({
        pipelines: fixed("latency", { type: "tumbling", size: "1m" }),
        endpoints: { kinesis: kinesalite.endpoint, dynamodb: dynalite.endpoint },
        shards: 2,
        prefix: `bench-live-${Date.now().toString(36)}`,
        mapping: { batchSize: 500, maximumBatchingWindowMs: 100, pollIntervalMs: 20 },
        watermarkIntervalMs: 0,
        closeOnIngestMs: 50,
        publishResults: false,
        observeDynamoDb: (client) =>
          countRequests(client, (command, input, at) => {
            const item = input.Item as Record<string, { S?: string; N?: string }> | undefined;
            const key = input.Key as Record<string, { S?: string }> | undefined;
            const values = input.ExpressionAttributeValues as Record<string, { N?: string }> | undefined;
            if (command === "UpdateItemCommand" && key?.pk?.S?.startsWith("C#") && values?.[":maxTs"]?.N) {
              crossings.push({ t: at, shard: key.sk?.S ?? "", maxTs: Number(values[":maxTs"].N) });
            }
            if (command === "PutItemCommand" && item?.end?.N && item.version?.N === "1" && String(input.TableName).endsWith("-results")) {
              const id = `${item.key?.S}/${item.start?.N}`;
              if (!written.has(id)) written.set(id, at);
            }
          }),
      });
      const speed = 60; // a 1-minute window closes every second of wall time
      const wallStart = Date.now();
      let produced = 0;
      while (Date.now() - wallStart < 15_000) {
        const eventTime = start + (Date.now() - wallStart) * speed;
        const batch = Array.from({ length: 20 }, (_, i) => ({
          host: `h${i}`,
          metric: "mem",
          ts: eventTime - Math.floor(Math.random() * 2000),
          value: i,
        }));
        await putRecordsWithRetry(
          live.kinesis,
          { streamName: live.connection.names.sourceStream },
          batch.map((e) => ({ PartitionKey: e.host, Data: Buffer.from(JSON.stringify(e)) })),
        );
        produced += batch.length;
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 2000));
      await live.stop();
      // The watermark passes a window's end when the slowest shard's checkpoint does.
      const shardMax = new Map<string, number>();
      const crossedAt = new Map<number, number>();
      for (const c of crossings.sort((a, b) => a.t - b.t)) {
        shardMax.set(c.shard, Math.max(shardMax.get(c.shard) ?? Number.NEGATIVE_INFINITY, c.maxTs));
        if (shardMax.size < 2) continue;
        const watermark = Math.min(...shardMax.values()) - 5_000;
        for (let end = start + 60_000; end <= watermark; end += 60_000) if (!crossedAt.has(end)) crossedAt.set(end, c.t);
      }
      for (const [id, t] of written) {
        const end = Number(id.split("/")[1]) + 60_000;
        const crossed = crossedAt.get(end);
        if (crossed !== undefined) latencies.push(t - crossed);
      }
      latencies.sort((a, b) => a - b);
      say(`close latency: ${produced} events, ${latencies.length} windows measured`);
    }
    kinesis.destroy();

    // Cost per million events of the seed workload at 1,000 events/s, from the measured counts.
    const perEvent = (n: number) => n / seed.events;
    const ingestSeconds = seed.handlerWallMs / 1000 / seed.invocations;
    const closingSeconds = seed.closingRuns > 0 ? seed.closingWallMs / 1000 / seed.closingRuns : 0.2;
    const million = 1_000_000;
    const invocationsPerMillion = million / batchSize;
    const wallSecondsPerMillion = million / 1000;
    // The watermark function runs once a minute plus about once a second when nudged.
    const closingRunsPerMillion = wallSecondsPerMillion / 60 + wallSecondsPerMillion;
    const recordGb = (bytes: number) => bytes / 1024 ** 3;
    const meteredBytesPerEvent = Math.ceil(seed.recordBytes / seed.events / 1024) * 1024;
    const cost = {
      lambdaRequests: ((invocationsPerMillion + closingRunsPerMillion) / million) * prices.lambda.requestsPerMillionUsd,
      lambdaCompute: (invocationsPerMillion * ingestSeconds + closingRunsPerMillion * closingSeconds) * 1 * prices.lambda.arm64GbSecondUsd,
      dynamodbWrites: perEvent(seed.writes) * prices.dynamodb.onDemandWriteRequestUnitsPerMillionUsd,
      dynamodbReads: perEvent(seed.reads) * prices.dynamodb.onDemandReadRequestUnitsPerMillionUsd,
      kinesisIngest: recordGb(meteredBytesPerEvent * million) * prices.kinesis.onDemandIngestPerGbUsd,
      kinesisRetrieval: recordGb((seed.recordBytes / seed.events) * million) * prices.kinesis.onDemandRetrievalPerGbUsd,
      kinesisStreamHours: (wallSecondsPerMillion / 3600) * prices.kinesis.onDemandStreamHourUsd,
    };
    const costPerMillion = Object.values(cost).reduce((a, b) => a + b, 0);
    const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;
    return {
      machine: { cpus: (await import("node:os")).cpus().length, node: process.version, emulators: "kinesalite 3.3.3, dynalite 4.0.0" },
      handlerCpuRatio: round(tumbling.handlerCpuMicros / tumbling.decodeCpuMicros, 2),
      handlerCpuRatioBatch10000: round(tumblingLarge.handlerCpuMicros / tumblingLarge.decodeCpuMicros, 2),
      writesPerEvent: {
        tumbling1m: round(tumbling.writes / tumbling.events, 4),
        sliding60m1m: round(sliding.writes / sliding.events, 4),
        naiveSliding60m1m: round(naive, 2),
      },
      e2eVsRawRead: round(e2eEvents.length / e2eMs / (rawRecords / rawMs), 3),
      closeLatencyMs: {
        p50: Math.round(percentile(latencies, 0.5)),
        p99: Math.round(percentile(latencies, 0.99)),
        windows: latencies.length,
      },
      costPerMillionEventsUsd: round(costPerMillion, 4),
      costBreakdownUsd: Object.fromEntries(Object.entries(cost).map(([k, v]) => [k, round(v, 5)])),
      managedFlinkMonthlyMinUsd: round(2 * prices.managedFlink.kpuHourUsd * prices.managedFlink.hoursPerMonth, 2),
      panesMonthlyAt1000EventsPerSecondUsd: round((costPerMillion * 1000 * 3600 * 24 * 30.4) / million, 2),
      details: {
        tumbling,
        tumblingLarge,
        sliding,
        seed,
        rawReadRecordsPerSecond: Math.round(rawRecords / (rawMs / 1000)),
        e2eEventsPerSecond: Math.round(e2eEvents.length / (e2eMs / 1000)),
        prices: "tools/bench/prices-2026-11.json",
      },
    };
  } finally {
    await Promise.all(emulators.map((e) => e.stop()));
  }
}
