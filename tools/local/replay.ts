// `panes replay`: runs a bounded input through the whole local stack — events put to the emulated
// stream, consumed through the event source mapping by the real ingest handler, state in the
// emulated DynamoDB, windows closed by the real watermark handler — then drains (watermark → +∞) and
// returns every final window of its published pipelines (an internal one's rows only feed its cascade) from the results ledger.
//
// The same input gives the same output every time: once every event is on the stream, each shard is
// delivered in batches of --batch-size, one batch per shard per round in shard order, with a closing
// run after every round, so the watermark lateness is judged against moves at round boundaries only.
// A shard whose input is used up stops holding the watermark back (as a finished source split does in
// Flink); the functions' clock stands still, so no shard ever turns idle by wall-clock time.

import { readFile } from "node:fs/promises";
import { markShardFinished, readWatermarks } from "../../shared/aws/dynamodb/checkpoints.ts";
import { listDeadLetters } from "../../shared/aws/dynamodb/dead-letters.ts";
import { countCurrentResults, queryResults } from "../../shared/aws/dynamodb/results.ts";
import { partitionKeyFrom } from "../../shared/aws/kinesis/partition-keys.ts";
import { putRecordsWithRetry } from "../../shared/aws/kinesis/put-records.ts";
import { resultsOfRecord } from "../../shared/aws/outputs/kinesis.ts";
import { valueAt } from "../../shared/core/pipelines/events.ts";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import type { DeadLetter, WindowResult } from "../../shared/core/types.ts";
import type { Chaos } from "./chaos.ts";
import type { KinesisEmulator } from "./emulators.ts";
import type { EventSourceMappingOptions } from "./event-source-mapping.ts";
import { counted } from "./plural.ts";
import { mergeTwoShards, splitAllShards } from "./reshard.ts";
import { startLocalStack } from "./stack.ts";
import { readAllRecordData } from "./tail.ts";

export class InputFileError extends Error {
  override name = "InputFileError";
}

/** The results read through the index do not add up to what the table holds: refuse to report them. */
export class ReplayReconcileError extends Error {
  override name = "ReplayReconcileError";
}

export interface ReplayOptions {
  pipelines: readonly Pipeline[];
  /** JSON lines, one event per line */
  input: string;
  shards: number;
  kinesisEmulator?: KinesisEmulator;
  endpoint?: string;
  endpoints?: { kinesis: string; dynamodb: string };
  batchSize?: number;
  /** field whose value is the Kinesis partition key (default: the first pipeline's key field) */
  partitionKeyField?: string;
  mapping?: Partial<EventSourceMappingOptions>;
  wrapIngest?: Parameters<typeof startLocalStack>[0]["wrapIngest"];
  chaos?: Chaos;
  /** split every shard after this many records, and merge two back after twice as many */
  reshardAt?: number;
  /** return what the output stream carried, in order (results are always published to it, as in a deployment) */
  collectOutput?: boolean;
  /** write the events KPL-aggregated (as the Kinesis Producer Library does) */
  aggregate?: boolean;
  progress?: (message: string) => void;
}

export interface ReplaySummary {
  events: number;
  results: WindowResult[];
  deadLettered: number;
  late: number;
  /** every dead letter (invalid and late), in no particular order */
  letters: DeadLetter[];
  onFailure: number;
  elapsedMs: number;
  /** each pipeline's watermark once every record was applied, before the end-of-input drain */
  watermarksBeforeDrain: Map<string, number>;
  /** what the output stream carried, in order (with collectOutput) */
  published: { idempotencyKey: string; pipeline: string; key: string; start: number; end: number; version: number; final: boolean }[];
}

/** Bad lines named in an error: the first this many, then how many more. */
const MAX_BAD_LINES_SHOWN = 20;

/**
 * Reads a JSON-lines file. Blank lines are skipped; a line that is not a JSON object (not JSON, or an
 * array, a string, a number) refuses the whole file — a replay's input is the user's to fix — with
 * every such line named (the first 20, then how many more), never just the first.
 */
export async function readEventLines(path: string): Promise<{ line: number; text: string; event: object }[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new InputFileError(`cannot read ${path}: ${(error as Error).message}`);
  }
  const events: { line: number; text: string; event: object }[] = [];
  const bad: string[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] ?? "").trim();
    if (raw === "") continue;
    let event: unknown;
    try {
      event = JSON.parse(raw);
    } catch (error) {
      bad.push(`${path}:${i + 1}: not JSON (${(error as Error).message})`);
      continue;
    }
    if (event === null || typeof event !== "object" || Array.isArray(event)) {
      bad.push(
        `${path}:${i + 1}: not a JSON object (${Array.isArray(event) ? "an array" : event === null ? "null" : `a ${typeof event}`}); one event per line`,
      );
      continue;
    }
    events.push({ line: i + 1, text: raw, event });
  }
  if (bad.length > 0) {
    const more = bad.length > MAX_BAD_LINES_SHOWN ? `; and ${bad.length - MAX_BAD_LINES_SHOWN} more` : "";
    throw new InputFileError(
      `${counted(bad.length, "line")} ${bad.length === 1 ? "is not an event" : "are not events"}: ${bad.slice(0, MAX_BAD_LINES_SHOWN).join("; ")}${more}`,
    );
  }
  return events;
}

export async function replay(options: ReplayOptions): Promise<ReplaySummary> {
  const started = Date.now();
  const clock = () => started;
  const say = options.progress ?? (() => undefined);
  const events = await readEventLines(options.input);
  say(`read ${counted(events.length, "event")} from ${options.input}`);
  let processed = 0;
  const stack = await startLocalStack({
    pipelines: options.pipelines,
    kinesisEmulator: options.kinesisEmulator,
    endpoint: options.endpoint,
    endpoints: options.endpoints,
    shards: options.shards,
    prefix: `replay-${process.pid}-${Date.now().toString(36)}`,
    // Retries are bounded but generous: a replay is a backfill, and records are never skipped silently.
    mapping: {
      batchSize: options.batchSize ?? 1000,
      pollIntervalMs: 50,
      discoveryIntervalMs: 500,
      maximumRetryAttempts: 100,
      retryDelayMs: 20,
      ...options.mapping,
    },
    watermarkIntervalMs: 0,
    startPaused: true,
    now: clock,
    // The whole deployment path, publishing included: what would halt a deployment fails a replay too.
    publishResults: true,
    wrapIngest: options.wrapIngest,
    chaos: options.chaos,
    onInvocation: ({ records, outcome }) => {
      if (outcome === "ok") processed += records;
    },
  });
  try {
    const firstKey = options.pipelines[0]?.key;
    const partitionField = options.partitionKeyField ?? (typeof firstKey === "string" ? firstKey : firstKey?.[0]) ?? "";
    const streamName = stack.connection.names.sourceStream;
    // Put in chunks that end exactly where the stream is resharded.
    const cuts = options.reshardAt ? [options.reshardAt, 2 * options.reshardAt] : [];
    for (let i = 0; i < events.length; ) {
      const next = Math.min(events.length, i + 5000, ...cuts.filter((c) => c > i));
      await putRecordsWithRetry(
        stack.kinesis,
        { streamName },
        events.slice(i, next).map(({ line, text, event }) => ({
          PartitionKey: partitionKeyFrom(valueAt(event, partitionField)) ?? `line-${line}`,
          Data: Buffer.from(text),
        })),
      );
      say(`put ${next}/${counted(events.length, "event")} on the stream`);
      if (next === cuts[0]) say(`reshard: split into ${(await splitAllShards(stack.kinesis, streamName)).join(", ")}`);
      if (next === cuts[1])
        say(`reshard: merged into ${(await mergeTwoShards(stack.kinesis, streamName)) ?? "nothing (no adjacent shards)"}`);
      i = next;
    }
    const ticker = setInterval(() => say(`ingested ${processed}/${counted(events.length, "record")}`), 2000);
    try {
      await stack.mapping.deliverInLockstep(
        () => stack.closeNow(),
        (shardId) => markShardFinished(stack.dynamodb, stack.connection.names.stateTable, shardId),
      );
    } finally {
      clearInterval(ticker);
    }
    const watermarksBeforeDrain = await readWatermarks(
      stack.dynamodb,
      stack.connection.names.stateTable,
      options.pipelines.map((p) => p.name),
    );
    say("end of input: moving the watermark to +∞");
    await stack.closeNow({ drain: true });
    const results: WindowResult[] = [];
    const held = await countCurrentResults(stack.dynamodb, stack.connection.names.resultsTable);
    // an internal pipeline's rows (a cascade's first stage) are read by its cascade, not published
    for (const pipeline of options.pipelines.filter((p) => !p.internal)) {
      const mine = await queryResults(stack.dynamodb, stack.connection.names.resultsTable, { pipeline: pipeline.name });
      if (mine.length !== (held.get(pipeline.name) ?? 0))
        throw new ReplayReconcileError(
          `pipeline ${pipeline.name}: the results index returned ${counted(mine.length, "window")} but the table holds ${held.get(pipeline.name) ?? 0}`,
        );
      results.push(...mine);
    }
    const letters = await listDeadLetters(stack.dynamodb, stack.connection.names.deadLetterTable);
    const published: ReplaySummary["published"] = [];
    if (options.collectOutput) {
      const records = await readAllRecordData(stack.kinesis, stack.connection.names.outputStream);
      for (const data of records) published.push(...(resultsOfRecord(data) as unknown as ReplaySummary["published"]));
    }
    return {
      events: events.length,
      results,
      deadLettered: letters.filter((l) => l.kind === "invalid").length,
      late: letters.filter((l) => l.kind === "late").length,
      letters,
      onFailure: stack.failures.length,
      elapsedMs: Date.now() - started,
      watermarksBeforeDrain,
      published,
    };
  } finally {
    await stack.stop();
  }
}
