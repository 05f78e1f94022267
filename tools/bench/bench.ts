// `npm run bench`: speed and cost measured on the local stack at the default deployment configuration
// (infra/config.ts), each speed figure a ratio against a baseline measured in the same run (these
// machines are shared and noisy; absolute times mean little), each cost from what DynamoDB reports it
// would bill (capacity.ts) and from Lambda's measured invocations and durations, at published prices.
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { GetRecordsCommand, GetShardIteratorCommand, type KinesisClient, PutRecordsCommand } from "@aws-sdk/client-kinesis";
import pLimit from "p-limit";
import { type DeploymentConfig, parseDeploymentConfig } from "../../infra/config.ts";
import { loadPipelinesFile } from "../../shared/app/pipelines-file.ts";
import { createDynamoDbClient, createKinesisClient } from "../../shared/aws/clients.ts";
import { N, S } from "../../shared/aws/dynamodb/attributes.ts";
import { decodeLogItem } from "../../shared/aws/dynamodb/log.ts";
import { putRecordsWithRetry } from "../../shared/aws/kinesis/put-records.ts";
import { listShards } from "../../shared/aws/kinesis/shards.ts";
import { parsePipelines } from "../../shared/core/pipelines/parse.ts";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import { windowsOf } from "../../shared/core/windows/assigners.ts";
import { type Emulator, startDynalite, startKinesis } from "../local/emulators.ts";
import { createTables, localNames } from "../local/resources.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalStack } from "../local/stack.ts";
import { meterCapacity } from "./capacity.ts";
import { type SeedRun, simulateSeed } from "./seed.ts";

interface Prices {
  lambda: { requestsPerMillionUsd: number; arm64GbSecondUsd: number };
  dynamodb: {
    onDemandWriteRequestUnitsPerMillionUsd: number;
    onDemandReadRequestUnitsPerMillionUsd: number;
    provisionedWriteCapacityUnitHourUsd: number;
    provisionedReadCapacityUnitHourUsd: number;
  };
  managedFlink: { kpuHourUsd: number; hoursPerMonth: number };
  kinesis: { provisionedShardHourUsd: number; provisionedPutPayloadUnitsPerMillionUsd: number };
  sqs: { standardRequestsPerMillionUsd: number };
  eventBridge: { customEventsPerMillionUsd: number };
}

const SECONDS_PER_MONTH = 730 * 3600;

/** The seed workload's events: `hosts` hosts, each sending cpu and mem samples, `rate` events per second of event time. */
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

/** The naive baseline: no panes and no pre-aggregation; every event updates every window containing it (write units per event). */
async function measureNaiveSliding(endpoint: string, events: { host: string; ts: number; value: number }[], size: number, slide: number) {
  const dynamodb = createDynamoDbClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const names = localNames(`bench-naive-${Date.now().toString(36)}`);
  await createTables(dynamodb, names);
  const meter = meterCapacity(dynamodb);
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
  return meter.writeUnits / events.length;
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

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

/** A simulated month's bill, from a measured run. */
export interface MonthlyCost {
  wcuPerEvent: number;
  rcuPerEvent: number;
  /** DynamoDB on demand: request units at the measured rate */
  dynamodbMonthlyUsd: number;
  /** DynamoDB provisioned with auto scaling at `targetUtilization`: capacity-hours for the measured mean rate */
  dynamodbProvisionedMonthlyUsd: number;
  lambdaMonthlyUsd: number;
  /** the closing units' queue: a share of a send, a receive and a delete per unit */
  sqsMonthlyUsd: number;
  monthlyUsd: number;
  vsManagedFlinkMin: number;
}

function monthlyCost(run: SeedRun, config: DeploymentConfig, prices: Prices, flinkMin: number, provisioned: boolean): MonthlyCost {
  const seconds = run.measuredMinutes * 60;
  const scale = SECONDS_PER_MONTH / seconds;
  const wcu = run.ingest.writeUnits + run.watermark.writeUnits + run.closer.writeUnits;
  const rcu = run.ingest.readUnits + run.watermark.readUnits + run.closer.readUnits;
  const onDemand =
    (wcu * scale * prices.dynamodb.onDemandWriteRequestUnitsPerMillionUsd +
      rcu * scale * prices.dynamodb.onDemandReadRequestUnitsPerMillionUsd) /
    1e6;
  const target = config.capacity.mode === "provisioned" ? config.capacity.targetUtilization / 100 : 0.7;
  const provisionedUsd =
    ((wcu / seconds / target) * prices.dynamodb.provisionedWriteCapacityUnitHourUsd +
      (rcu / seconds / target) * prices.dynamodb.provisionedReadCapacityUnitHourUsd) *
    730;
  const lambda = (use: SeedRun["ingest"], memoryMb: number) =>
    use.invocations * scale * (prices.lambda.requestsPerMillionUsd / 1e6) +
    (use.billedMs / 1000) * scale * (memoryMb / 1024) * prices.lambda.arm64GbSecondUsd;
  const lambdaUsd =
    lambda(run.ingest, config.memory.ingest) + lambda(run.watermark, config.memory.watermark) + lambda(run.closer, config.memory.closer);
  // Each closing unit: a share of a SendMessageBatch (ten a request), the closer's trigger receiving and deleting it.
  const sqsUsd = ((run.closer.invocations * (0.1 + 2) * scale) / 1e6) * prices.sqs.standardRequestsPerMillionUsd;
  const dynamodbUsd = provisioned ? provisionedUsd : onDemand;
  return {
    wcuPerEvent: round(wcu / run.events, 5),
    rcuPerEvent: round(rcu / run.events, 5),
    dynamodbMonthlyUsd: round(onDemand, 2),
    dynamodbProvisionedMonthlyUsd: round(provisionedUsd, 2),
    lambdaMonthlyUsd: round(lambdaUsd, 2),
    sqsMonthlyUsd: round(sqsUsd, 2),
    monthlyUsd: round(dynamodbUsd + lambdaUsd + sqsUsd, 2),
    vsManagedFlinkMin: round((dynamodbUsd + lambdaUsd + sqsUsd) / flinkMin, 3),
  };
}

export interface BenchReport {
  machine: { cpus: number; node: string; emulators: string };
  /** the deployment configuration measured: infra/config.ts's defaults */
  configuration: {
    source: string;
    batchSize: number;
    maxBatchingWindowMs: number;
    watermarkScheduleMs: number;
    memoryMb: { ingest: number; watermark: number; closer: number };
    closer: { groupsPerUnit: number; concurrency: number };
    capacity: string;
    /** an on-demand stream starts with 4 shards */
    streamShards: number;
  };
  seedDefault: MonthlyCost & { managedFlinkMonthlyMinUsd: number; eventsPerSecond: number; keys: number; eventsPerBatch: number };
  /** the seed's pipelines written in Flink SQL against their JSON form, the same run length each: what a SQL pipeline costs */
  sqlTwin: { json: MonthlyCost; sql: MonthlyCost; ratio: number };
  /** the seed with two cascades reading one of its pipelines' rows against the seed alone (sqlTwin's JSON run) */
  cascades: { without: MonthlyCost; with: MonthlyCost; ratio: number };
  closeLatencyMs: { p50: number; p99: number; windows: number };
  freshnessMs: { p50: number; p99: number; windows: number };
  handlerCpuRatio: number;
  /**
   * What bounds handlerCpuRatio, per ingest invocation, measured in the same run: the handler's CPU, the
   * decode floor's, one SDK request's (a conditional PutItem of a log entry), the requests a batch made,
   * and `floorRatio`: the ratio of a handler that only decoded the batch and made those requests.
   */
  handlerCpu: { perBatchMicros: number; decodePerBatchMicros: number; requestMicros: number; requestsPerBatch: number; floorRatio: number };
  e2eVsRawRead: number;
  /** DynamoDB write units per event (tables and indexes), ingest and closing, at the default configuration */
  writesPerEvent: { tumbling1m: number; sliding60m1m: number; naiveSliding60m1m: number };
  /** monthly cost by events per second and keys, shards as an on-demand stream would have them */
  scaling: (MonthlyCost & { eventsPerSecond: number; keys: number; shards: number; eventsPerBatch: number })[];
  /** many keys (key groups at the default configuration): cost, write units against the bytes written, and how long closing takes */
  manyKeys: ManyKeysRow[];
  details: Record<string, unknown>;
}

export interface ManyKeysRow extends MonthlyCost {
  keys: number;
  /** of event time simulated (the 60-minute windows fill after 60) */
  minutes?: number;
  eventsPerSecond: number;
  shards: number;
  /** the bytes of state and results written (items put, values set), in 1 KB units, per event: a perfectly packed writer's write units */
  byteFloorWcuPerEvent: number;
  /** a window's result in the ledger after the closing run that fires it starts: that run's duration (runs that fired windows) */
  closeLatencyMs: { p50: number; p99: number };
  /** how long each closing unit took */
  closingUnitMs: { p50: number; p99: number; max: number };
  /** results per second, the output stream's records per second (packed: JSON Lines up to 25 KB), and what it bills for them on as many provisioned shards as they need */
  resultsPerSecond: number;
  outputRecordsPerSecond: number;
  outputMonthlyUsd: number;
  /** with `outputs.eventBus`: one event per result (so rules can match a key), billed per event */
  eventBusMonthlyUsd: number;
}

function manyKeysRow(
  run: SeedRun,
  load: { keys: number; eventsPerSecond: number; shards: number },
  cost: MonthlyCost,
  prices: Prices,
  config: DeploymentConfig,
): ManyKeysRow {
  const seconds = run.measuredMinutes * 60;
  const resultsPerSecond = run.results / seconds;
  // A provisioned shard takes 1,000 records and 1 MB a second; records are billed by 25 KB payload units.
  const shards = Math.max(
    config.outputs.streamShards,
    Math.ceil(run.output.records / seconds / 1000),
    Math.ceil(run.output.bytes / seconds / 1_000_000),
  );
  const outputMonthlyUsd =
    shards * prices.kinesis.provisionedShardHourUsd * 730 +
    ((run.output.payloadUnits / seconds) * SECONDS_PER_MONTH * prices.kinesis.provisionedPutPayloadUnitsPerMillionUsd) / 1e6;
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const runs = sorted(run.closingRunsMs);
  const units = sorted(run.closingUnitsMs);
  return {
    ...load,
    ...cost,
    byteFloorWcuPerEvent: round((run.ingest.bytesWritten + run.watermark.bytesWritten + run.closer.bytesWritten) / 1024 / run.events, 5),
    closeLatencyMs: { p50: round(percentile(runs, 0.5), 0), p99: round(percentile(runs, 0.99), 0) },
    closingUnitMs: {
      p50: round(percentile(units, 0.5), 0),
      p99: round(percentile(units, 0.99), 0),
      max: round(units[units.length - 1] ?? Number.NaN, 0),
    },
    resultsPerSecond: round(resultsPerSecond, 1),
    outputRecordsPerSecond: round(run.output.records / seconds, 1),
    outputMonthlyUsd: round(outputMonthlyUsd, 2),
    eventBusMonthlyUsd: round((resultsPerSecond * SECONDS_PER_MONTH * prices.eventBridge.customEventsPerMillionUsd) / 1e6, 2),
  };
}

export interface BenchOptions {
  /** leave out the scaling table (the slowest part) */
  quick?: boolean;
}

/** The seed's two pipelines (examples/monitoring.pipelines.json). */
function seedPipelines(): Pipeline[] {
  return parsePipelines(JSON.parse(readFileSync(new URL("../../examples/monitoring.pipelines.json", import.meta.url), "utf8")));
}

/**
 * The seed's pipelines and two cascades reading cpu-avg-5m's rows: how many hosts had each number of
 * samples in each 5 minutes (regrouped in their window), and each host's busiest 5 minutes of the hour.
 */
export function cascadedSeedPipelines(): Pipeline[] {
  const file = JSON.parse(readFileSync(new URL("../../examples/monitoring.pipelines.json", import.meta.url), "utf8")) as {
    pipelines: object[];
  };
  return parsePipelines({
    pipelines: [
      ...file.pipelines,
      {
        name: "cpu-hosts-by-samples-5m",
        from: { pipeline: "cpu-avg-5m", sameWindow: true },
        key: "n",
        eventTime: "window_time",
        window: { type: "tumbling", size: "5m" },
        aggregates: { hosts: { count: true }, avg: { avg: "avg" } },
      },
      {
        name: "cpu-busiest-5m-of-1h",
        from: { pipeline: "cpu-avg-5m" },
        key: "host",
        eventTime: "window_time",
        window: { type: "tumbling", size: "1h" },
        aggregates: { busiest: { max: "avg" }, samples: { sum: "n" } },
      },
    ],
  });
}

const fixed = (name: string, window: object) =>
  parsePipelines({
    pipelines: [
      { name, key: "host", eventTime: "ts", window, aggregates: { max: { max: "value" }, n: { count: true } }, outOfOrderness: "5s" },
    ],
  });

/** Shards an on-demand stream would have: at least 4, each kept under half of its 1,000 records/s. */
const onDemandShards = (eventsPerSecond: number) => Math.max(4, Math.ceil(eventsPerSecond / 500));

export async function runBench(say: (message: string) => void = () => undefined, options: BenchOptions = {}): Promise<BenchReport> {
  const prices = JSON.parse(readFileSync(new URL("./prices-2026-11.json", import.meta.url), "utf8")) as Prices;
  const config = parseDeploymentConfig({});
  const flinkMin = 2 * prices.managedFlink.kpuHourUsd * prices.managedFlink.hoursPerMonth;
  const batching = { batchSize: config.eventSource.batchSize, batchingWindowMs: config.eventSource.maxBatchingWindow };
  const simulate = (
    endpoint: string,
    pipelines: Pipeline[],
    label: string,
    load: { eventsPerSecond: number; keys: number; shards: number },
    minutes: number,
    warmupMinutes: number,
  ) =>
    simulateSeed({
      endpoint,
      pipelines,
      ...load,
      minutes,
      warmupMinutes,
      ...batching,
      scheduleMs: config.watermarkSchedule,
      closer: config.closer,
      latencyMs: 4,
      label,
    });
  const emulators: Emulator[] = await Promise.all([startDynalite(), startKinesis("kinesalite")]);
  const [dynalite, kinesalite] = emulators as [Emulator, Emulator];
  try {
    const start = Date.parse("2026-09-01T00:00:00Z");
    const seedLoad = { eventsPerSecond: 1000, keys: 100, shards: onDemandShards(1000) };

    say(
      "the seed workload for 75 minutes of event time (1,000 events/s, 100 hosts, 4 shards; the last 13 minutes measured, after the 60-minute windows fill)",
    );
    const seed = await simulate(dynalite.endpoint, seedPipelines(), "seed", seedLoad, 75, 62);
    const seedCost = monthlyCost(seed, config, prices, flinkMin, config.capacity.mode === "provisioned");

    say("the seed's pipelines in Flink SQL (examples/monitoring.sql) beside their JSON twin: 15 minutes each, the last 8 measured");
    const twinJson = monthlyCost(
      await simulate(dynalite.endpoint, seedPipelines(), "twin-json", seedLoad, 15, 7),
      config,
      prices,
      flinkMin,
      false,
    );
    const twinSql = monthlyCost(
      await simulate(
        dynalite.endpoint,
        await loadPipelinesFile(fileURLToPath(new URL("../../examples/monitoring.sql", import.meta.url))),
        "twin-sql",
        seedLoad,
        15,
        7,
      ),
      config,
      prices,
      flinkMin,
      false,
    );

    say(
      "the seed with two cascades reading cpu-avg-5m's rows (regrouped in their window; windowed again per host over an hour) beside the seed alone: 15 minutes, the last 8 measured",
    );
    const withCascades = monthlyCost(
      await simulate(dynalite.endpoint, cascadedSeedPipelines(), "cascades", seedLoad, 15, 7),
      config,
      prices,
      flinkMin,
      false,
    );

    say("write units per event: a 1-minute tumbling and a 60-minute sliding-by-1-minute window (10 minutes, the last 5 measured)");
    const tumbling = await simulate(dynalite.endpoint, fixed("tumbling1m", { type: "tumbling", size: "1m" }), "t", seedLoad, 10, 5);
    const sliding = await simulate(
      dynalite.endpoint,
      fixed("sliding60m1m", { type: "sliding", size: "60m", slide: "1m" }),
      "s",
      seedLoad,
      10,
      5,
    );
    const perEvent = (run: SeedRun) => (run.ingest.writeUnits + run.watermark.writeUnits + run.closer.writeUnits) / run.events;
    say("naive baseline: every event updates its 60 sliding windows");
    const naive = await measureNaiveSliding(dynalite.endpoint, seedEvents(500, 100, 1000, start, "mem"), 3_600_000, 60_000);

    const scaling: BenchReport["scaling"] = [];
    if (!options.quick) {
      for (const eventsPerSecond of [100, 1000, 10_000])
        for (const keys of [100, 10_000]) {
          const load = { eventsPerSecond, keys, shards: onDemandShards(eventsPerSecond) };
          say(`scaling: ${eventsPerSecond} events/s, ${keys} keys, ${load.shards} shards (6 minutes, the last 3 measured)`);
          const run = await simulate(dynalite.endpoint, seedPipelines(), `x${eventsPerSecond}-${keys}`, load, 6, 3);
          scaling.push({ ...load, eventsPerBatch: round(run.batchEvents, 1), ...monthlyCost(run, config, prices, flinkMin, false) });
        }
    }

    const manyKeys: ManyKeysRow[] = [];
    // Both after the 60-minute windows fill (steady state: a sliding window's firing reads all its panes).
    for (const { keys, minutes, warmup } of [
      { keys: 10_000, minutes: 70, warmup: 62 },
      { keys: 100_000, minutes: 70, warmup: 64 },
    ]) {
      const load = { eventsPerSecond: 1000, keys, shards: onDemandShards(1000) };
      say(
        `many keys: ${keys} keys at 1,000 events/s, the seed pipelines (${minutes} minutes of event time, the last ${minutes - warmup} measured)`,
      );
      const started = performance.now();
      const run = await simulate(dynalite.endpoint, seedPipelines(), `many${keys}`, load, minutes, warmup);
      say(`many keys: ${keys} keys simulated in ${Math.round((performance.now() - started) / 60_000)} minutes of wall time`);
      manyKeys.push({ ...manyKeysRow(run, load, monthlyCost(run, config, prices, flinkMin, false), prices, config), minutes });
    }

    say("end to end vs a bare GetRecords loop, on a pre-loaded stream holding ten minutes of the seed (600,000 events)");
    const kinesis = createKinesisClient({ endpoint: kinesalite.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const e2eEvents = seedEvents(600_000, 100, 1000, start);
    const e2e = await measureEndToEnd(kinesis, { kinesis: kinesalite.endpoint, dynamodb: dynalite.endpoint }, e2eEvents, config);

    say("close latency and freshness: a live producer at 1,000 events/s on an accelerated clock, at the default batching window");
    const live = await measureLatency({ kinesis: kinesalite.endpoint, dynamodb: dynalite.endpoint }, config, start);
    kinesis.destroy();

    return {
      machine: { cpus: cpus().length, node: process.version, emulators: "kinesalite 3.3.3, dynalite 4.0.0" },
      configuration: {
        source: "infra/config.ts defaults (parseDeploymentConfig({}))",
        batchSize: config.eventSource.batchSize,
        maxBatchingWindowMs: config.eventSource.maxBatchingWindow,
        watermarkScheduleMs: config.watermarkSchedule,
        memoryMb: config.memory,
        closer: config.closer,
        capacity: config.capacity.mode,
        streamShards: seedLoad.shards,
      },
      seedDefault: {
        ...seedCost,
        managedFlinkMonthlyMinUsd: round(flinkMin, 2),
        eventsPerSecond: seedLoad.eventsPerSecond,
        keys: seedLoad.keys,
        eventsPerBatch: round(seed.batchEvents, 1),
      },
      sqlTwin: { json: twinJson, sql: twinSql, ratio: round(twinSql.monthlyUsd / twinJson.monthlyUsd, 3) },
      cascades: { without: twinJson, with: withCascades, ratio: round(withCascades.monthlyUsd / twinJson.monthlyUsd, 3) },
      closeLatencyMs: live.closeLatencyMs,
      freshnessMs: live.freshnessMs,
      handlerCpuRatio: round(seed.ingest.cpuMicros / seed.decodeCpuMicros, 2),
      handlerCpu: handlerCpuOf(seed),
      e2eVsRawRead: round(e2e.ratio, 3),
      writesPerEvent: {
        tumbling1m: round(perEvent(tumbling), 4),
        sliding60m1m: round(perEvent(sliding), 4),
        naiveSliding60m1m: round(naive, 2),
      },
      scaling,
      manyKeys,
      details: {
        seed,
        tumbling,
        sliding,
        e2e,
        latencySamples: live.samples,
        prices: "tools/bench/prices-2026-11.json",
      },
    };
  } finally {
    await Promise.all(emulators.map((e) => e.stop()));
  }
}

function handlerCpuOf(seed: SeedRun): BenchReport["handlerCpu"] {
  const batches = Math.max(1, seed.ingest.invocations);
  const decode = seed.decodeCpuMicros / batches;
  const requests = seed.ingest.requests / batches;
  return {
    perBatchMicros: Math.round(seed.ingest.cpuMicros / batches),
    decodePerBatchMicros: Math.round(decode),
    requestMicros: Math.round(seed.requestCpuMicros),
    requestsPerBatch: round(requests, 3),
    floorRatio: round((decode + requests * seed.requestCpuMicros) / decode, 2),
  };
}

async function measureEndToEnd(
  kinesis: KinesisClient,
  endpoints: { kinesis: string; dynamodb: string },
  events: ReturnType<typeof seedEvents>,
  config: DeploymentConfig,
) {
  const stack = await startLocalStack({
    closer: config.closer,
    pipelines: seedPipelines(),
    endpoints,
    shards: 2,
    prefix: `bench-e2e-${Date.now().toString(36)}`,
    mapping: { batchSize: config.eventSource.batchSize, pollIntervalMs: 20 },
    watermarkIntervalMs: 0,
    // As in AWS: the ingest function starts the watermark function at most once a second.
    closeOnIngestMs: 1000,
    publishResults: false,
    startPaused: true,
  });
  const { lastSequenceByShard } = await putRecordsWithRetry(
    kinesis,
    { streamName: stack.connection.names.sourceStream },
    events.map((e) => ({ PartitionKey: e.host, Data: Buffer.from(JSON.stringify(e)) })),
  );
  const rawStart = performance.now();
  const rawRecords = await readEverything(kinesis, stack.connection.names.sourceStream);
  const rawMs = performance.now() - rawStart;
  const e2eStart = performance.now();
  stack.mapping.start();
  await stack.mapping.waitUntilDelivered(lastSequenceByShard);
  const deliveredMs = performance.now() - e2eStart;
  await stack.closeNow({ drain: true });
  const e2eMs = performance.now() - e2eStart;
  await stack.stop();
  const eventsPerSecond = events.length / (e2eMs / 1000);
  const rawRecordsPerSecond = rawRecords / (rawMs / 1000);
  return {
    ratio: eventsPerSecond / rawRecordsPerSecond,
    eventsPerSecond: Math.round(eventsPerSecond),
    rawRecordsPerSecond: Math.round(rawRecordsPerSecond),
    /** of the whole: delivering every record to the ingest function, then closing everything (the drain) */
    deliveredMs: Math.round(deliveredMs),
    drainMs: Math.round(e2eMs - deliveredMs),
  };
}

/**
 * A live producer (1,000 events/s over 100 hosts and 4 shards, event time running 60× wall time, so a
 * 1-minute window closes every second) against the local stack at the default batch size and
 * batching window, the watermark function started by the ingest function (the schedule off). Close
 * latency: from the log entry that moves the watermark past a window's end to the window's result in
 * the ledger. Freshness: from putting the event that moves the watermark past the end to the result.
 */
async function measureLatency(endpoints: { kinesis: string; dynamodb: string }, config: DeploymentConfig, start: number) {
  const outOfOrderness = 5_000;
  const shards = 4;
  const logEntries: { t: number; shard: string; maxTs: number }[] = [];
  const resultsAt = new Map<number, number>();
  const observe = (client: DynamoDBClient) =>
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        const at = Date.now();
        const input = args.input as { TableName?: string; Item?: Record<string, { S?: string; N?: string }> };
        const item = input.Item;
        if (context.commandName === "PutItemCommand" && item) {
          if (item.pk?.S?.startsWith("L#")) {
            const entry = decodeLogItem(item as Parameters<typeof decodeLogItem>[0]);
            const maxTs = entry.maxEventTimes.latency;
            if (entry.kind === "batch" && maxTs !== undefined) logEntries.push({ t: at, shard: item.pk.S.slice(2), maxTs });
          }
          // A key group's results item for a window end (shared/aws/dynamodb/results.ts): the first one
          // written for an end is the first result of that window in the ledger.
          if (String(input.TableName).endsWith("-results") && item.pk?.S?.startsWith("R#latency#") && item.sk?.S) {
            const end = Number(item.sk.S);
            if (!resultsAt.has(end)) resultsAt.set(end, at);
          }
        }
        return result;
      },
      { step: "initialize", name: "panesBenchLatency" },
    );
  const stack = await startLocalStack({
    closer: config.closer,
    pipelines: parsePipelines({
      pipelines: [
        {
          name: "latency",
          key: "host",
          eventTime: "ts",
          window: { type: "tumbling", size: "1m" },
          aggregates: { n: { count: true } },
          outOfOrderness: "5s",
        },
      ],
    }),
    endpoints,
    shards,
    prefix: `bench-live-${Date.now().toString(36)}`,
    mapping: { batchSize: config.eventSource.batchSize, maximumBatchingWindowMs: config.eventSource.maxBatchingWindow, pollIntervalMs: 20 },
    watermarkIntervalMs: 0,
    closeOnIngestMs: 50,
    publishResults: false,
    observeDynamoDb: observe,
  });
  // Puts: when each shard first carried an event past each window end (+ out-of-orderness).
  const puts: { t: number; shard: string; ts: number }[] = [];
  const speed = 60;
  const wallStart = Date.now();
  let i = 0;
  while (Date.now() - wallStart < 20_000) {
    const eventTime = start + (Date.now() - wallStart) * speed;
    const batch = Array.from({ length: 100 }, () => {
      const host = `h${i++ % 100}`;
      return { host, metric: "mem", ts: eventTime - Math.floor(Math.random() * 2000), value: i };
    });
    const t = Date.now();
    const answer = await stack.kinesis.send(
      new PutRecordsCommand({
        StreamName: stack.connection.names.sourceStream,
        Records: batch.map((e) => ({ PartitionKey: e.host, Data: Buffer.from(JSON.stringify(e)) })),
      }),
    );
    answer.Records?.forEach((r, k) => {
      if (r.ShardId !== undefined && r.ErrorCode === undefined) puts.push({ t, shard: r.ShardId, ts: batch[k]?.ts ?? 0 });
    });
    await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - t))));
  }
  await new Promise((r) => setTimeout(r, 3000));
  await stack.stop();

  // When the watermark passed each window end: by the log entries, and by the puts behind them.
  const crossing = (samples: { t: number; shard: string; maxTs: number }[]) => {
    const byEnd = new Map<number, number>();
    const shardMax = new Map<string, number>();
    for (const s of [...samples].sort((a, b) => a.t - b.t)) {
      shardMax.set(s.shard, Math.max(shardMax.get(s.shard) ?? Number.NEGATIVE_INFINITY, s.maxTs));
      if (shardMax.size < shards) continue;
      const watermark = Math.min(...shardMax.values()) - outOfOrderness;
      for (let end = start + 60_000; end <= watermark; end += 60_000) if (!byEnd.has(end)) byEnd.set(end, s.t);
    }
    return byEnd;
  };
  const passedByLog = crossing(logEntries);
  const passedByPut = crossing(puts.map((p) => ({ t: p.t, shard: p.shard, maxTs: p.ts })));
  const latency: number[] = [];
  const freshness: number[] = [];
  for (const [end, t] of resultsAt) {
    const logged = passedByLog.get(end);
    const put = passedByPut.get(end);
    if (logged !== undefined) latency.push(t - logged);
    if (put !== undefined) freshness.push(t - put);
  }
  latency.sort((a, b) => a - b);
  freshness.sort((a, b) => a - b);
  const summary = (xs: number[]) => ({ p50: Math.round(percentile(xs, 0.5)), p99: Math.round(percentile(xs, 0.99)), windows: xs.length });
  return { closeLatencyMs: summary(latency), freshnessMs: summary(freshness), samples: { latency, freshness } };
}
