// A deployment's month in minutes: the seed workload (hosts sending cpu and mem samples) driven through
// the real ingest and watermark handlers on dynalite, on a simulated clock, shaped as AWS would shape
// it — records spread over shards by partition key, each shard's batches cut as the event source
// mapping cuts them (batch size or batching window, whichever comes first), the watermark function
// started by the ingest function's nudges (at most once a second per container, one run at a time) and
// by its schedule, sending its closing units to the closer function as deployed (a queue, at most
// `closer.concurrency` closers at once, `closer.groupsPerUnit` key groups a unit). In AWS each closer
// has a CPU of its own; here every process shares two cores: so the units run one at a time, each
// measured alone, and a run's close latency is the coordinator's time plus the time `concurrency`
// closers would take for its units (each unit to the first free closer, in the order sent). Every DynamoDB request reports what it would be billed (capacity.ts) and waits a
// typical in-region round trip, so handler durations approximate what Lambda would bill.
import { createHash } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { KinesisStreamEvent } from "aws-lambda";
import { createCloserHandler } from "../../functions/commons/closer-handler.ts";
import { createIngestHandler } from "../../functions/commons/ingest-handler.ts";
import { createWatermarkHandler } from "../../functions/commons/watermark-handler.ts";
import { PaneCache } from "../../shared/app/closing-unit.ts";
import { createDynamoDbClient } from "../../shared/aws/clients.ts";
import { S } from "../../shared/aws/dynamodb/attributes.ts";
import { logItemOf, readLogHead } from "../../shared/aws/dynamodb/log.ts";
import { putItem } from "../../shared/aws/dynamodb/requests.ts";
import { OUTPUT_RECORD_BYTES, outputRecordsOf } from "../../shared/aws/outputs/kinesis.ts";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import type { WindowResult } from "../../shared/core/types.ts";
import { seededRandom } from "../local/generate.ts";
import { localLambdaContext } from "../local/lambda-context.ts";
import { createTables, localNames } from "../local/resources.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../local/stack.ts";
import { LocalUnitQueue } from "../local/unit-queue.ts";
import { type CapacityMeter, meterCapacity } from "./capacity.ts";

export interface SeedOptions {
  /** dynalite's endpoint */
  endpoint: string;
  pipelines: readonly Pipeline[];
  eventsPerSecond: number;
  keys: number;
  shards: number;
  /** of event time (the clock is simulated: event time is wall time) */
  minutes: number;
  /** the first minutes are not measured: state builds up to its steady size */
  warmupMinutes: number;
  batchSize: number;
  batchingWindowMs: number;
  scheduleMs: number;
  /** closing units: key groups a unit, closers at once (infra/config.ts's `closer`) */
  closer: { groupsPerUnit: number; concurrency: number };
  /** added to every DynamoDB request: a typical in-region round trip */
  latencyMs: number;
  label: string;
}

export interface FunctionUse {
  invocations: number;
  /** summed wall-clock duration, ms, each invocation rounded up to 1 ms as Lambda bills */
  billedMs: number;
  cpuMicros: number;
  readUnits: number;
  writeUnits: number;
  failedConditionalWrites: number;
  requests: number;
  /** bytes of the items and values written (CapacityMeter.bytesWritten) */
  bytesWritten: number;
}

export interface SeedRun {
  options: Omit<SeedOptions, "endpoint" | "pipelines"> & { pipelines: string[] };
  /** measured minutes (after the warm-up) */
  measuredMinutes: number;
  events: number;
  /** events per batch, on average */
  batchEvents: number;
  ingest: FunctionUse;
  /** the coordinator; its CPU is the whole closing run's (its units' included) */
  watermark: FunctionUse;
  /** the closer function: one invocation per closing unit; no CPU of its own (see watermark) */
  closer: FunctionUse;
  /** CPU of only decoding the same records (base64 and JSON.parse), the baseline of handlerCpuRatio */
  decodeCpuMicros: number;
  /**
   * CPU of one conditional PutItem of a log-entry-sized item through the ingest function's client
   * (the SDK's request building, signing, HTTP and parsing), on average: what every batch pays at least once.
   */
  requestCpuMicros: number;
  /** write and read units by table and index */
  unitsByName: Record<string, { read: number; write: number }>;
  results: number;
  /** the output stream's records for those results, their bytes and 25 KB PUT payload units */
  output: { records: number; bytes: number; payloadUnits: number };
  /** measured closing runs that wrote results: how long each would take with its units on closers of their own (ms) — a window's close latency is at most that */
  closingRunsMs: number[];
  /** measured closing units: how long each closer invocation took (ms) */
  closingUnitsMs: number[];
}

const T0 = Date.parse("2026-09-01T00:00:00Z");

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

function delayed(client: DynamoDBClient, ms: number): void {
  if (ms <= 0) return;
  client.middlewareStack.add(
    (next) => async (args) => {
      await new Promise((r) => setTimeout(r, ms));
      return next(args);
    },
    { step: "initialize", name: "panesBenchLatency" },
  );
}

/** How long `workers` closers take for these units, each taken by the first free closer in the order sent. */
export function makespan(units: readonly number[], workers: number): number {
  const free = Array.from({ length: Math.max(1, workers) }, () => 0);
  for (const ms of units) {
    let first = 0;
    for (let i = 1; i < free.length; i++) if ((free[i] as number) < (free[first] as number)) first = i;
    free[first] = (free[first] as number) + ms;
  }
  return Math.max(...free);
}

const emptyUse = (): FunctionUse => ({
  invocations: 0,
  billedMs: 0,
  cpuMicros: 0,
  readUnits: 0,
  writeUnits: 0,
  failedConditionalWrites: 0,
  requests: 0,
  bytesWritten: 0,
});

function takeUnits(use: FunctionUse, meter: CapacityMeter, byName: Map<string, { read: number; write: number }>): void {
  use.readUnits += meter.readUnits;
  use.writeUnits += meter.writeUnits;
  use.failedConditionalWrites += meter.failedConditionalWrites;
  use.requests += meter.requests;
  use.bytesWritten += meter.bytesWritten;
  for (const [name, units] of meter.byName) {
    const entry = byName.get(name) ?? { read: 0, write: 0 };
    entry.read += units.read;
    entry.write += units.write;
    byName.set(name, entry);
  }
  meter.reset();
}

/**
 * The floor of any handler that writes its batch to DynamoDB through the SDK: the CPU of bare
 * conditional PutItems of the newest log entry the ingest function wrote (read back and encoded again:
 * the same size, the same shape).
 */
async function measureRequestCpu(client: DynamoDBClient, table: string, shardId: string): Promise<number> {
  const head = await readLogHead(client, table, shardId);
  if (head === undefined) return Number.NaN;
  const entry = logItemOf(shardId, head);
  const put = (i: number) =>
    putItem(client, table, { ...entry, pk: S("bench#request"), sk: S(String(i)) }, { condition: "attribute_not_exists(pk)" });
  for (let i = 0; i < 50; i++) await put(i);
  const runs = 400;
  const start = cpuMicros();
  for (let i = 50; i < 50 + runs; i++) await put(i);
  return (cpuMicros() - start) / runs;
}

interface Record_ {
  data: string;
  host: string;
  sequence: bigint;
}

export async function simulateSeed(options: SeedOptions): Promise<SeedRun> {
  // As the functions create theirs (cacheMiddleware), with the bench's middleware added before any request.
  const client = () =>
    createDynamoDbClient({ endpoint: options.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, cacheMiddleware: true });
  const ingestClient = client();
  const closingClient = client();
  const closerClient = client();
  const names = localNames(`seed-${options.label}-${Date.now().toString(36)}`);
  const setup = createDynamoDbClient({ endpoint: options.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  await createTables(setup, names);
  setup.destroy();
  delayed(ingestClient, options.latencyMs);
  delayed(closingClient, options.latencyMs);
  delayed(closerClient, options.latencyMs);
  const ingestMeter = meterCapacity(ingestClient);
  const closingMeter = meterCapacity(closingClient);
  const closerMeter = meterCapacity(closerClient);

  let now = T0;
  const clock = () => now;
  const nudged = new Set<string>();
  let shardOfBatch = "";
  const ingest = createIngestHandler({
    dynamodb: ingestClient,
    stateTable: names.stateTable,
    deadLetterTable: names.deadLetterTable,
    pipelines: options.pipelines,
    writeConcurrency: 16,
    now: clock,
    requestClosing: async () => void nudged.add(shardOfBatch),
  });
  let results = 0;
  const output = { records: 0, bytes: 0, payloadUnits: 0 };
  const closingUnitsMs: number[] = [];
  const closingRunsMs: number[] = [];
  let unitsOfRun: number[] = [];
  const sent: string[] = [];
  const closing = {
    stateTable: names.stateTable,
    resultsTable: names.resultsTable,
    pipelines: options.pipelines,
    // The output stream's records as the sink packs them (JSON Lines, a key group's results up to 25 KB).
    sink: {
      publish: async (written: readonly WindowResult[]) => {
        if (!measuring()) return;
        results += written.length;
        for (const record of outputRecordsOf(written, options.pipelines)) {
          output.records++;
          output.bytes += record.Data?.byteLength ?? 0;
          output.payloadUnits += Math.ceil((record.Data?.byteLength ?? 0) / OUTPUT_RECORD_BYTES);
        }
      },
    },
    concurrency: 16,
    tombstoneRetentionMs: 7 * 86_400_000,
    deadLetterTable: names.deadLetterTable,
    now: clock,
  };
  const closerUse = emptyUse();
  // Closer containers, each with the pane cache a Lambda container keeps; SQS hands a unit to any of
  // them (nothing pins a key group to a container), here one chosen at random.
  const closers = Array.from({ length: options.closer.concurrency }, () =>
    createCloserHandler({ ...closing, dynamodb: closerClient, paneCache: new PaneCache() }),
  );
  const pick = seededRandom(7);
  const units = new LocalUnitQueue(
    async (event) => {
      const closer = closers[Math.floor(pick() * closers.length)] as (typeof closers)[number];
      const wall = performance.now();
      const answer = await closer(event, localLambdaContext("panes-closer", LOCAL_REGION, 120_000));
      const ms = performance.now() - wall;
      if (measuring()) {
        closerUse.invocations++;
        closerUse.billedMs += Math.ceil(ms);
        closingUnitsMs.push(ms);
      }
      unitsOfRun.push(ms);
      return answer;
    },
    {
      concurrency: 1,
      visibilityTimeoutMs: 1000,
      maxReceives: 5,
      queueArn: "arn:aws:sqs:us-east-1:000000000000:bench",
    },
  );
  const watermark = createWatermarkHandler({
    ...closing,
    dynamodb: closingClient,
    // Sent when the coordinator returns (below): each is measured alone, not beside the coordinator.
    dispatchUnits: async (messages) => void sent.push(...messages.map((m) => JSON.stringify(m))),
    groupsPerUnit: options.closer.groupsPerUnit,
  });

  const ingestUse = emptyUse();
  const closingUse = emptyUse();
  const byName = new Map<string, { read: number; write: number }>();
  const measuring = () => now >= T0 + options.warmupMinutes * 60_000;
  const invoke = async <T>(use: FunctionUse, meter: CapacityMeter, run: () => Promise<T>): Promise<T> => {
    const cpu = cpuMicros();
    const wall = performance.now();
    const answer = await run();
    if (measuring()) {
      use.invocations++;
      use.billedMs += Math.ceil(performance.now() - wall);
      use.cpuMicros += cpuMicros() - cpu;
      takeUnits(use, meter, byName);
    } else meter.reset();
    return answer;
  };

  // Hosts in a fixed order; each sends a cpu and a mem sample in turn. A host's records stay on one shard.
  const hosts = Array.from({ length: options.keys }, (_, i) => `host-${String(i).padStart(5, "0")}`);
  const shardIds = Array.from({ length: options.shards }, (_, i) => `shardId-${String(i).padStart(12, "0")}`);
  // As Kinesis does: the MD5 of the partition key, in shards that split the 128-bit range evenly.
  const shardOf = (host: string) =>
    shardIds[Number((BigInt(`0x${createHash("md5").update(host).digest("hex")}`) * BigInt(options.shards)) >> 128n)] as string;
  const buffers = new Map(shardIds.map((id) => [id, { records: [] as Record_[], since: 0 }]));
  const sequences = new Map(shardIds.map((id) => [id, 49_600_000_000_000_000_000_000_000n]));
  let _events = 0;
  let measuredEvents = 0;
  let batches = 0;
  let batchEvents = 0;
  let decodeCpuMicros = 0;
  let nextEvent = 0;
  let lastClosing = Number.NEGATIVE_INFINITY;
  let nextSchedule = T0 + options.scheduleMs;
  const lastNudge = new Map<string, number>();
  const tick = 100;
  const end = T0 + options.minutes * 60_000;

  const deliver = async (shardId: string, records: Record_[]) => {
    const event: KinesisStreamEvent = {
      Records: records.map((r) => ({
        kinesis: {
          kinesisSchemaVersion: "1.0",
          partitionKey: r.host,
          sequenceNumber: r.sequence.toString(),
          data: r.data,
          approximateArrivalTimestamp: now / 1000,
        },
        eventSource: "aws:kinesis",
        eventVersion: "1.0",
        eventID: `${shardId}:${r.sequence}`,
        eventName: "aws:kinesis:record",
        invokeIdentityArn: "arn:aws:iam::000000000000:role/bench",
        awsRegion: LOCAL_REGION,
        eventSourceARN: "arn:aws:kinesis:us-east-1:000000000000:stream/bench",
      })),
    };
    shardOfBatch = shardId;
    // Baseline: just decoding the same records.
    const decodeStart = cpuMicros();
    for (const record of event.Records) JSON.parse(Buffer.from(record.kinesis.data, "base64").toString("utf8"));
    if (measuring()) decodeCpuMicros += cpuMicros() - decodeStart;
    await invoke(ingestUse, ingestMeter, () => ingest(event, localLambdaContext("panes-ingest")));
    if (measuring()) {
      batches++;
      batchEvents += records.length;
    }
  };
  const close = async () => {
    lastClosing = now;
    const before = results;
    const started = performance.now();
    const cpu = cpuMicros();
    await watermark(undefined, localLambdaContext("panes-watermark", LOCAL_REGION, 300_000));
    const coordinatorMs = performance.now() - started;
    unitsOfRun = [];
    units.send(sent.splice(0));
    // A window's result is in the ledger when the last unit of the run has finished.
    await units.idle();
    if (measuring()) {
      closingUse.invocations++;
      closingUse.billedMs += Math.ceil(coordinatorMs);
      closingUse.cpuMicros += cpuMicros() - cpu;
      takeUnits(closingUse, closingMeter, byName);
      takeUnits(closerUse, closerMeter, byName);
      if (results > before) closingRunsMs.push(coordinatorMs + makespan(unitsOfRun, options.closer.concurrency));
    } else {
      closingMeter.reset();
      closerMeter.reset();
    }
  };

  for (; now < end; now += tick) {
    // Events of this tick, in time order, a little out of order (up to 2 s).
    const due = Math.floor(((now + tick - T0) * options.eventsPerSecond) / 1000);
    for (; nextEvent < due; nextEvent++) {
      const host = hosts[nextEvent % hosts.length] as string;
      const metric = Math.floor(nextEvent / hosts.length) % 2 === 0 ? "cpu" : "mem";
      const ts = T0 + Math.floor((nextEvent * 1000) / options.eventsPerSecond) - (nextEvent % 7) * 300;
      const value = metric === "cpu" ? (nextEvent * 7) % 100 : 1024 + ((nextEvent * 13) % 8192);
      const shardId = shardOf(host);
      const buffer = buffers.get(shardId) as { records: Record_[]; since: number };
      if (buffer.records.length === 0) buffer.since = now;
      const sequence = (sequences.get(shardId) as bigint) + 1n;
      sequences.set(shardId, sequence);
      buffer.records.push({ host, sequence, data: Buffer.from(JSON.stringify({ host, metric, ts, value })).toString("base64") });
      _events++;
      if (measuring()) measuredEvents++;
    }
    // The event source mapping: a batch when it is full or its window has passed.
    for (const [shardId, buffer] of buffers) {
      while (buffer.records.length >= options.batchSize) await deliver(shardId, buffer.records.splice(0, options.batchSize));
      if (buffer.records.length > 0 && now - buffer.since >= options.batchingWindowMs) {
        await deliver(shardId, buffer.records.splice(0));
      }
      if (buffer.records.length > 0 && buffer.since < now - options.batchingWindowMs) buffer.since = now;
    }
    // Nudges: at most once a second per ingest container; runs never overlap (reserved concurrency 1).
    let nudge = false;
    for (const shardId of nudged) {
      if (now - (lastNudge.get(shardId) ?? Number.NEGATIVE_INFINITY) >= 1000) {
        lastNudge.set(shardId, now);
        nudge = true;
      }
    }
    nudged.clear();
    if (nudge && now - lastClosing >= 1000) await close();
    if (now >= nextSchedule) {
      nextSchedule += options.scheduleMs;
      await close();
    }
  }
  const requestCpuMicros = await measureRequestCpu(ingestClient, names.stateTable, shardIds[0] as string);
  await units.stop();
  ingestClient.destroy();
  closingClient.destroy();
  closerClient.destroy();
  return {
    options: { ...options, endpoint: undefined, pipelines: options.pipelines.map((p) => p.name) } as SeedRun["options"],
    measuredMinutes: options.minutes - options.warmupMinutes,
    events: measuredEvents,
    batchEvents: batches === 0 ? 0 : batchEvents / batches,
    ingest: ingestUse,
    watermark: closingUse,
    closer: closerUse,
    decodeCpuMicros,
    requestCpuMicros,
    unitsByName: Object.fromEntries(byName),
    results,
    output,
    closingRunsMs,
    closingUnitsMs,
  };
}
