// The local stack: emulators (or an AWS_ENDPOINT_URL such as LocalStack), the stream and tables made
// from the CDK stack's definitions, the real ingest handler behind a local event source mapping, and
// the real watermark handler on a timer. Everything it starts, stop() stops. Dev-only.
import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import { createCloserHandler } from "../../functions/commons/closer-handler.ts";
import { createIngestHandler } from "../../functions/commons/ingest-handler.ts";
import { createWatermarkHandler } from "../../functions/commons/watermark-handler.ts";
import type { ClosingDependencies } from "../../shared/app/closing.ts";
import type { IngestDependencies } from "../../shared/app/ingest.ts";
import { createDynamoDbClient, createKinesisClient } from "../../shared/aws/clients.ts";
import { kinesisSourceStream } from "../../shared/aws/kinesis/probe.ts";
import { kinesisResultSink } from "../../shared/aws/outputs/kinesis.ts";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import type { ResultSink } from "../../shared/core/types.ts";
import type { Chaos } from "./chaos.ts";
import { coalesce } from "./coalesce.ts";
import { type Emulator, type KinesisEmulator, startDynalite, startKinesis } from "./emulators.ts";
import { DEFAULT_MAPPING, EventSourceMapping, type EventSourceMappingOptions, type OnFailureRecord } from "./event-source-mapping.ts";
import { localLambdaContext } from "./lambda-context.ts";
import { createResources, type LocalNames, localNames, localTables } from "./resources.ts";
import { startTtlSweeper, type TtlSweeper } from "./ttl-sweeper.ts";
import { LocalUnitQueue } from "./unit-queue.ts";

export const LOCAL_CREDENTIALS = { accessKeyId: "000000000000", secretAccessKey: "panes-local" };
export const LOCAL_REGION = "us-east-1";

export interface LocalStackOptions {
  pipelines: readonly Pipeline[];
  kinesisEmulator?: KinesisEmulator;
  shards?: number;
  prefix?: string;
  mapping?: Partial<Omit<EventSourceMappingOptions, "streamName" | "streamArn">>;
  /** how often the watermark function runs; 0 never (call closeNow) */
  watermarkIntervalMs?: number;
  /** run the watermark function as soon as a batch may close a window (at most once per this many ms); 0 never */
  closeOnIngestMs?: number;
  /** use this endpoint for both services instead of starting emulators (e.g. LocalStack) */
  endpoint?: string;
  /** use already running emulators (tests start them once) */
  endpoints?: { kinesis: string; dynamodb: string };
  /** write connection details here so other commands (panes results, produce, status) can find the stack */
  stateFile?: string;
  /** the file the pipelines came from, recorded for other commands (panes dashboard) */
  pipelinesFile?: string;
  /** wraps the ingest handler (fault injection in tests) */
  wrapIngest?: (handler: ReturnType<typeof createIngestHandler>) => ReturnType<typeof createIngestHandler>;
  /** create the event source mapping without starting it (call mapping.start()) */
  startPaused?: boolean;
  /** lets a benchmark observe the DynamoDB client */
  observeDynamoDb?: (client: DynamoDBClient) => void;
  /** publish results to the output stream (default true) */
  publishResults?: boolean;
  writeConcurrency?: number;
  onFailure?: (failure: OnFailureRecord) => void;
  /** fault injection in the real code path (panes replay --chaos, PANES_CHAOS for npm start) */
  chaos?: Chaos;
  onInvocation?: EventSourceMappingOptions["onInvocation"];
  /** the functions' clock (replay fixes it, so nothing depends on how fast the machine is) */
  now?: () => number;
  /** the largest pane item the closing units write (tests make it small; default DynamoDB's limit less room) */
  maxPaneItemBytes?: number;
  /** closing units: how many key groups each takes (default 8, as deployed), how many run at once (default 4) */
  closer?: { groupsPerUnit?: number; concurrency?: number };
  /** what the deployment keeps, and for how long (npm start bounds what the emulators hold: README, "The local stack's memory") */
  retention?: LocalRetention;
}

export interface LocalRetention {
  /** results (TTL), seconds; undefined keeps them */
  resultsSeconds?: number;
  /** dead letters (TTL), seconds; undefined keeps them */
  deadLettersSeconds?: number;
  /** panes after their last window's lateness (TTL), ms; default 7 days */
  tombstonesMs?: number;
  /** shard-log entries (TTL), seconds; undefined keeps them */
  logSeconds?: number;
  /** delete expired items every this many ms, as DynamoDB's TTL does (dynalite never does); emulators this stack started only */
  sweepEveryMs?: number;
  /** drop stream records older than this, as Kinesis does after its retention; a kinesalite this stack started only */
  streamMs?: number;
  /** the emulators' V8 heap limit, MB: with it they collect garbage instead of growing into it */
  emulatorHeapMb?: number;
}

export interface LocalConnection {
  kinesisEndpoint: string;
  dynamodbEndpoint: string;
  region: string;
  names: LocalNames;
  sourceStreamArn: string;
  outputStreamArn: string;
  pipelines: string[];
  /** absolute path of the pipelines file, when the stack was started from one */
  pipelinesFile?: string;
  /** the web dashboard `npm start` serves, once it listens */
  dashboardUrl?: string;
  pid: number;
}

export interface LocalStack {
  connection: LocalConnection;
  dynamodb: DynamoDBClient;
  kinesis: KinesisClient;
  ingest: IngestDependencies;
  closing: ClosingDependencies;
  mapping: EventSourceMapping;
  failures: OnFailureRecord[];
  /** deletes expired items (retention.sweepEveryMs) */
  sweeper?: TtlSweeper;
  /** the closing units' queue (the closer function's trigger) */
  units: LocalUnitQueue;
  /** runs the real watermark handler once (drain: fire everything) */
  closeNow(options?: { drain?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const emulators: Emulator[] = [];
  const stopEmulators = () => Promise.all(emulators.map((e) => e.stop()));
  try {
    let kinesisEndpoint = options.endpoints?.kinesis ?? options.endpoint;
    let dynamodbEndpoint = options.endpoints?.dynamodb ?? options.endpoint;
    if (!kinesisEndpoint || !dynamodbEndpoint) {
      const [kinesisEmulator, dynalite] = await Promise.all([
        startKinesis(options.kinesisEmulator ?? "kinesalite", {
          retentionMs: options.retention?.streamMs,
          heapMb: options.retention?.emulatorHeapMb,
        }),
        startDynalite({ heapMb: options.retention?.emulatorHeapMb }),
      ]);
      emulators.push(kinesisEmulator, dynalite);
      kinesisEndpoint = kinesisEmulator.endpoint;
      dynamodbEndpoint = dynalite.endpoint;
    }
    const clientOptions = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
    const dynamodb = createDynamoDbClient({ ...clientOptions, endpoint: dynamodbEndpoint });
    options.observeDynamoDb?.(dynamodb);
    const kinesis = createKinesisClient({ ...clientOptions, endpoint: kinesisEndpoint });
    const names = localNames(options.prefix ?? "panes");
    const { sourceStreamArn, outputStreamArn } = await createResources(dynamodb, kinesis, names, options.shards ?? 2);
    const retention = options.retention ?? {};
    const sweeper =
      emulators.length > 0 && (retention.sweepEveryMs ?? 0) > 0
        ? startTtlSweeper(dynamodb, localTables(names), {
            everyMs: retention.sweepEveryMs ?? 0,
            onError: (error) => process.stderr.write(`TTL sweep: ${error.message}\n`),
          })
        : undefined;

    const ingest: IngestDependencies = {
      dynamodb,
      stateTable: names.stateTable,
      deadLetterTable: names.deadLetterTable,
      pipelines: options.pipelines,
      writeConcurrency: options.writeConcurrency ?? 16,
      deadLetterRetentionSeconds: retention.deadLettersSeconds,
      logRetentionSeconds: retention.logSeconds,
      ...(options.now ? { now: options.now } : {}),
    };
    const sink: ResultSink | undefined =
      options.publishResults === false ? undefined : kinesisResultSink(kinesis, { streamName: names.outputStream }, options.pipelines);
    const closing: ClosingDependencies = {
      dynamodb,
      stateTable: names.stateTable,
      resultsTable: names.resultsTable,
      pipelines: options.pipelines,
      stream: kinesisSourceStream(kinesis, { streamName: names.sourceStream }),
      sink,
      concurrency: 32,
      tombstoneRetentionMs: retention.tombstonesMs ?? 7 * 86_400_000,
      resultRetentionSeconds: retention.resultsSeconds,
      logRetentionSeconds: retention.logSeconds,
      deadLetterTable: names.deadLetterTable,
      ...(options.now ? { now: options.now } : {}),
      ...(options.maxPaneItemBytes ? { maxPaneItemBytes: options.maxPaneItemBytes } : {}),
    };
    // Set below, once closeNow exists: batches that may close windows start the closing logic at once.
    let nudges: { request: () => Promise<void>; cancel: () => void } | undefined;
    if ((options.closeOnIngestMs ?? 0) > 0) ingest.requestClosing = () => nudges?.request() ?? Promise.resolve();
    const ingestHandler = createIngestHandler(ingest);
    let handler = options.wrapIngest ? options.wrapIngest(ingestHandler) : ingestHandler;
    if (options.chaos) {
      options.chaos.instrument(dynamodb);
      handler = options.chaos.wrapHandler(handler) as typeof handler;
    }
    // Closing units go through a queue to the real closer handler, as deployed (unit-queue.ts).
    const closerHandler = createCloserHandler(closing);
    const closerContext = localLambdaContext("panes-closer", LOCAL_REGION, 300_000);
    const units = new LocalUnitQueue(
      (event) => (options.chaos ? options.chaos.runUnit(() => closerHandler(event, closerContext)) : closerHandler(event, closerContext)),
      {
        concurrency: options.closer?.concurrency ?? 4,
        visibilityTimeoutMs: 500,
        maxReceives: 5,
        queueArn: `arn:aws:sqs:${LOCAL_REGION}:000000000000:${names.unitsQueue}`,
      },
    );
    closing.dispatchUnits = async (messages) => units.send(messages.map((m) => JSON.stringify(m)));
    closing.groupsPerUnit = options.closer?.groupsPerUnit ?? 8;
    // The local stack ends bounded inputs (replay) by draining: watermark → +∞.
    const watermarkHandler = createWatermarkHandler(closing, { allowDrain: true });
    const failures: OnFailureRecord[] = [];
    const mapping = new EventSourceMapping(kinesis, (event, context) => handler(event, context), {
      ...DEFAULT_MAPPING,
      ...options.mapping,
      streamName: names.sourceStream,
      streamArn: sourceStreamArn,
      onFailure: (failure) => {
        failures.push(failure);
        options.onFailure?.(failure);
      },
      onInvocation: options.onInvocation,
      redelivery: options.chaos ? () => options.chaos?.redelivery() : undefined,
    });
    if (!options.startPaused) mapping.start();

    const cascadeLevels = cascadeLevelsOf(options.pipelines);
    // The watermark function runs on a timer; runs never overlap here (they may in AWS, and that is safe).
    let closing$: Promise<void> = Promise.resolve();
    // A run ends when the units it sent have finished (or gone to the dead letters).
    const runWatermark = (closeOptions: { drain?: boolean }) => async () => {
      await watermarkHandler(closeOptions, localLambdaContext("panes-watermark", LOCAL_REGION, 300_000)).finally(() => units.idle());
    };
    // Runs are serialized; while one waits its turn, further requests join it rather than queue up.
    let queued: Promise<void> | undefined;
    let stopping = false;
    const closeNow = (closeOptions: { drain?: boolean } = {}) => {
      if (!closeOptions.drain && queued) return queued;
      const run = closing$.then(async () => {
        if (!closeOptions.drain) queued = undefined;
        if (stopping && !closeOptions.drain) return;
        const chaos = options.chaos;
        if (!chaos) await runWatermark(closeOptions)();
        else {
          await chaos.runWatermark(runWatermark(closeOptions));
          // A faulty run may have stopped part-way; the schedule would run again, so does the last close.
          if (closeOptions.drain) await runWatermark(closeOptions)();
        }
        // A cascade follows its source's closed watermark, which the units of a run move once they are
        // done: the end of the input reaches each level of cascades one run later (the schedule's next).
        if (closeOptions.drain) for (let level = 0; level < cascadeLevels; level++) await runWatermark(closeOptions)();
      });
      closing$ = run.catch(() => undefined);
      if (!closeOptions.drain) queued = run;
      return run;
    };
    if ((options.closeOnIngestMs ?? 0) > 0) nudges = coalesce(() => closeNow(), options.closeOnIngestMs ?? 0);
    let timer: NodeJS.Timeout | undefined;
    if ((options.watermarkIntervalMs ?? 1000) > 0) {
      timer = setInterval(() => {
        void closeNow().catch(() => undefined);
      }, options.watermarkIntervalMs ?? 1000);
    }

    const connection: LocalConnection = {
      kinesisEndpoint: kinesisEndpoint ?? "",
      dynamodbEndpoint: dynamodbEndpoint ?? "",
      region: LOCAL_REGION,
      names,
      sourceStreamArn,
      outputStreamArn,
      pipelines: options.pipelines.map((p) => p.name),
      ...(options.pipelinesFile === undefined ? {} : { pipelinesFile: resolve(options.pipelinesFile) }),
      pid: process.pid,
    };
    if (options.stateFile) {
      await mkdir(dirname(options.stateFile), { recursive: true });
      await writeFile(options.stateFile, JSON.stringify(connection, null, 2));
    }
    return {
      connection,
      dynamodb,
      kinesis,
      ingest,
      closing,
      mapping,
      failures,
      ...(sweeper ? { sweeper } : {}),
      units,
      closeNow,
      async stop() {
        if (timer) clearInterval(timer);
        nudges?.cancel();
        stopping = true;
        await mapping.stop();
        await closing$.catch(() => undefined);
        await units.stop();
        await sweeper?.stop();
        dynamodb.destroy();
        kinesis.destroy();
        if (options.stateFile) await rm(options.stateFile, { force: true });
        await stopEmulators();
      },
    };
  } catch (error) {
    await stopEmulators();
    throw error;
  }
}

/** How many levels of cascades the pipelines have (0: none reads another's rows). */
function cascadeLevelsOf(pipelines: readonly Pipeline[]): number {
  const depth = (p: Pipeline | undefined, seen: number): number =>
    p?.from === undefined || seen > pipelines.length
      ? 0
      : 1 +
        depth(
          pipelines.find((q) => q.name === p.from?.pipeline),
          seen + 1,
        );
  return Math.max(0, ...pipelines.map((p) => depth(p, 0)));
}
