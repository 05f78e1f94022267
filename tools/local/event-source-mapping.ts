// A local Kinesis event source mapping with AWS Lambda's semantics, for the same handler modules that
// run in AWS: one ordered poller per shard (a parent shard is drained before its children start),
// BatchSize and MaximumBatchingWindowInSeconds, the exact KinesisStreamEvent shape, partial batch
// responses (ReportBatchItemFailures), BisectBatchOnFunctionError, MaximumRetryAttempts and an
// on-failure destination. Positions live in memory, as they do for a new mapping. Dev-only.
import { randomUUID } from "node:crypto";
import {
  type _Record,
  ExpiredIteratorException,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type KinesisClient,
} from "@aws-sdk/client-kinesis";
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from "aws-lambda";
import { listShards } from "../../shared/aws/kinesis/shards.ts";
import { localLambdaContext } from "./lambda-context.ts";
import { readShardRecords } from "./tail.ts";

export type KinesisHandler = (
  event: KinesisStreamEvent,
  context: Context,
) => Promise<KinesisStreamBatchResponse | undefined | null | undefined>;

export interface EventSourceMappingOptions {
  streamName: string;
  streamArn: string;
  batchSize: number;
  maximumBatchingWindowMs: number;
  reportBatchItemFailures: boolean;
  bisectBatchOnFunctionError: boolean;
  /** -1 retries until the records expire, as in AWS */
  maximumRetryAttempts: number;
  startingPosition: "TRIM_HORIZON" | "LATEST";
  /** how often an idle shard is polled (AWS: about once a second) */
  pollIntervalMs: number;
  /** how often the shard list is read to find children after a reshard */
  discoveryIntervalMs: number;
  functionName: string;
  region: string;
  /** metadata of batches that exhausted their retries (Lambda's on-failure destination) */
  onFailure?: (failure: OnFailureRecord) => Promise<void> | void;
  /** called after each invocation, for progress reporting */
  onInvocation?: (info: { shardId: string; records: number; outcome: "ok" | "partial" | "error" }) => void;
  /** backoff before a retry, ms */
  retryDelayMs: number;
  /** fault injection: after a successful delivery, deliver the batch again (whole, bisected, or merged with the next) */
  redelivery?: () => "whole" | "bisected" | "merged" | undefined;
}

export const DEFAULT_MAPPING: Omit<EventSourceMappingOptions, "streamName" | "streamArn"> = {
  batchSize: 100,
  maximumBatchingWindowMs: 0,
  reportBatchItemFailures: true,
  bisectBatchOnFunctionError: true,
  maximumRetryAttempts: 10,
  startingPosition: "TRIM_HORIZON",
  pollIntervalMs: 250,
  discoveryIntervalMs: 2000,
  functionName: "panes-ingest",
  region: "us-east-1",
  retryDelayMs: 100,
};

/** What Lambda sends to an on-failure destination for a Kinesis batch (metadata, not the records). */
export interface OnFailureRecord {
  requestContext: { requestId: string; functionArn: string; condition: "RetryAttemptsExhausted"; approximateInvokeCount: number };
  responseContext: { statusCode: number; executedVersion: string; functionError?: string };
  version: "1.0";
  timestamp: string;
  KinesisBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    approximateArrivalOfFirstRecord: string;
    approximateArrivalOfLastRecord: string;
    batchSize: number;
    streamArn: string;
  };
}

type Outcome = { kind: "ok" } | { kind: "error"; error: unknown } | { kind: "partial"; from: number };

/**
 * Lambda's delivery rules for one shard's batches: invoke, resume from the lowest failed record of a
 * partial batch response, bisect on a function error, retry up to MaximumRetryAttempts, then hand the
 * batch's metadata to the on-failure destination and move on.
 */
class ShardDelivery {
  /** highest sequence number delivered in an invocation that succeeded */
  lastDelivered = -1n;
  /** highest sequence number passed over to the on-failure destination */
  skippedTo = -1n;

  constructor(
    readonly shardId: string,
    private readonly mapping: EventSourceMapping,
  ) {}

  /** Delivers a batch; `requeue` puts records back at the head of the shard (a redelivery merged with the next batch). */
  async deliver(batch: _Record[], requeue: (records: _Record[]) => void): Promise<void> {
    const { options } = this.mapping;
    // Parts still to deliver, in order; bisection replaces a part with its two halves.
    const parts: { records: _Record[]; retries: number }[] = [{ records: batch, retries: 0 }];
    while (parts.length > 0 && !this.mapping.stopped) {
      const part = parts[0] as { records: _Record[]; retries: number };
      const outcome = await this.invoke(part.records);
      options.onInvocation?.({ shardId: this.shardId, records: part.records.length, outcome: outcome.kind });
      if (outcome.kind === "ok") {
        parts.shift();
        const last = part.records[part.records.length - 1]?.SequenceNumber;
        if (last !== undefined && BigInt(last) > this.lastDelivered) this.lastDelivered = BigInt(last);
        const again = options.redelivery?.();
        if (again === "whole") parts.unshift({ records: part.records, retries: 0 });
        if (again === "bisected") {
          const half = Math.ceil(part.records.length / 2);
          parts.unshift({ records: part.records.slice(0, half), retries: 0 }, { records: part.records.slice(half), retries: 0 });
        }
        if (again === "merged") requeue(part.records);
        continue;
      }
      if (outcome.kind === "error" && options.bisectBatchOnFunctionError && part.records.length > 1) {
        // Splitting does not count towards the retry quota.
        const half = Math.ceil(part.records.length / 2);
        parts.splice(
          0,
          1,
          { records: part.records.slice(0, half), retries: part.retries },
          { records: part.records.slice(half), retries: part.retries },
        );
        continue;
      }
      const remaining = outcome.kind === "partial" ? part.records.slice(outcome.from) : part.records;
      // A batch cut off by stop() is neither delivered nor given up on: it is read again next time.
      if (this.mapping.stopped) return;
      if (options.maximumRetryAttempts >= 0 && part.retries >= options.maximumRetryAttempts) {
        await options.onFailure?.(this.failureRecord(remaining, part.retries + 1, outcome));
        const last = remaining[remaining.length - 1]?.SequenceNumber;
        if (last !== undefined && BigInt(last) > this.skippedTo) this.skippedTo = BigInt(last);
        parts.shift();
        continue;
      }
      parts[0] = { records: remaining, retries: part.retries + 1 };
      await this.mapping.sleep(options.retryDelayMs);
    }
  }

  private async invoke(records: _Record[]): Promise<Outcome> {
    const { options } = this.mapping;
    const event: KinesisStreamEvent = { Records: records.map((r) => this.toEventRecord(r)) };
    let response: KinesisStreamBatchResponse | undefined | null | undefined;
    try {
      response = await this.mapping.handler(event, localLambdaContext(options.functionName, options.region));
    } catch (error) {
      return { kind: "error", error };
    }
    if (
      !options.reportBatchItemFailures ||
      response == null ||
      response.batchItemFailures == null ||
      response.batchItemFailures.length === 0
    ) {
      return { kind: "ok" };
    }
    // AWS: an empty or null identifier, or one not in the batch, fails the whole batch; otherwise the
    // shard resumes from the lowest failed sequence number (later successes are delivered again).
    let from = Number.POSITIVE_INFINITY;
    for (const failure of response.batchItemFailures) {
      const id = failure?.itemIdentifier;
      const index = id ? records.findIndex((r) => r.SequenceNumber === id) : -1;
      if (index < 0) return { kind: "error", error: new Error(`invalid itemIdentifier ${JSON.stringify(id)}`) };
      from = Math.min(from, index);
    }
    return from === 0 ? { kind: "error", error: new Error("first record failed") } : { kind: "partial", from };
  }

  private toEventRecord(record: _Record): KinesisStreamRecord {
    const { options } = this.mapping;
    return {
      kinesis: {
        kinesisSchemaVersion: "1.0",
        partitionKey: record.PartitionKey ?? "",
        sequenceNumber: record.SequenceNumber ?? "",
        data: Buffer.from(record.Data ?? new Uint8Array()).toString("base64"),
        approximateArrivalTimestamp: (record.ApproximateArrivalTimestamp?.getTime() ?? Date.now()) / 1000,
      },
      eventSource: "aws:kinesis",
      eventVersion: "1.0",
      eventID: `${this.shardId}:${record.SequenceNumber}`,
      eventName: "aws:kinesis:record",
      invokeIdentityArn: `arn:aws:iam::000000000000:role/${options.functionName}`,
      awsRegion: options.region,
      eventSourceARN: options.streamArn,
    };
  }

  private failureRecord(records: _Record[], invokeCount: number, outcome: Outcome): OnFailureRecord {
    const { options } = this.mapping;
    const first = records[0];
    const last = records[records.length - 1];
    return {
      requestContext: {
        requestId: randomUUID(),
        functionArn: `arn:aws:lambda:${options.region}:000000000000:function:${options.functionName}`,
        condition: "RetryAttemptsExhausted",
        approximateInvokeCount: invokeCount,
      },
      responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: outcome.kind === "error" ? "Unhandled" : undefined },
      version: "1.0",
      timestamp: new Date().toISOString(),
      KinesisBatchInfo: {
        shardId: this.shardId,
        startSequenceNumber: first?.SequenceNumber ?? "",
        endSequenceNumber: last?.SequenceNumber ?? "",
        approximateArrivalOfFirstRecord: (first?.ApproximateArrivalTimestamp ?? new Date()).toISOString(),
        approximateArrivalOfLastRecord: (last?.ApproximateArrivalTimestamp ?? new Date()).toISOString(),
        batchSize: records.length,
        streamArn: options.streamArn,
      },
    };
  }
}

class ShardPoller {
  caughtUp = false;
  finished = false;
  readonly delivery: ShardDelivery;
  private iterator: string | undefined;
  private buffer: _Record[] = [];
  private emptyPollsSince = 0;
  /** a batch is with the function now */
  private delivering = false;

  constructor(
    readonly shardId: string,
    private readonly mapping: EventSourceMapping,
  ) {
    this.delivery = new ShardDelivery(shardId, mapping);
  }

  private lastSequence: string | undefined;

  async run(): Promise<void> {
    const { options, kinesis } = this.mapping;
    const start = await kinesis.send(
      new GetShardIteratorCommand({ StreamName: options.streamName, ShardId: this.shardId, ShardIteratorType: options.startingPosition }),
    );
    this.iterator = start.ShardIterator;
    // Reads ahead, as Lambda's pollers do: the next batch is read while the function runs on this one.
    let ahead: Promise<void> | undefined;
    while (!this.mapping.stopped) {
      await (ahead ?? this.fill());
      ahead = undefined;
      if (this.buffer.length > 0) {
        const batch = this.buffer.splice(0, options.batchSize);
        this.caughtUp = false;
        this.delivering = true;
        ahead = this.fill();
        try {
          await this.delivery.deliver(batch, (records) => this.buffer.unshift(...records));
        } finally {
          this.delivering = false;
        }
        continue;
      }
      if (!this.iterator) {
        // A closed shard, fully read: its children may start now.
        this.finished = true;
        this.caughtUp = true;
        return;
      }
    }
  }

  /**
   * Polls until a batch is ready, as Lambda does: BatchSize records, or some records and the batching
   * window over, or the shard closed; an empty poll waits the poll interval.
   */
  private async fill(): Promise<void> {
    const { options } = this.mapping;
    const windowEnds = Date.now() + options.maximumBatchingWindowMs;
    while (this.iterator && this.buffer.length < options.batchSize && !this.mapping.stopped) {
      const pollStarted = Date.now();
      const records = await this.poll();
      if (records === undefined) continue; // the iterator expired and was renewed
      if (records.length > 0) {
        this.buffer.push(...records);
        this.lastSequence = records[records.length - 1]?.SequenceNumber;
        this.caughtUp = false;
        continue;
      }
      if (this.buffer.length > 0 && Date.now() >= windowEnds) return;
      if (this.buffer.length === 0) {
        this.caughtUp = true;
        this.emptyPollsSince = pollStarted;
      }
      if (!this.iterator) return;
      await this.mapping.sleep(
        this.buffer.length > 0 ? Math.min(options.pollIntervalMs, Math.max(0, windowEnds - Date.now())) : options.pollIntervalMs,
      );
      if (this.buffer.length > 0 && Date.now() >= windowEnds) return;
    }
  }

  /** One GetRecords; undefined when the iterator had expired (a new one starts after the last record seen). */
  private async poll(): Promise<_Record[] | undefined> {
    const { options, kinesis } = this.mapping;
    let answer: GetRecordsCommandOutput;
    try {
      answer = await kinesis.send(new GetRecordsCommand({ ShardIterator: this.iterator, Limit: Math.min(10_000, options.batchSize) }));
    } catch (error) {
      if (!(error instanceof ExpiredIteratorException)) throw error;
      const again = await kinesis.send(
        new GetShardIteratorCommand(
          this.lastSequence
            ? {
                StreamName: options.streamName,
                ShardId: this.shardId,
                ShardIteratorType: "AFTER_SEQUENCE_NUMBER",
                StartingSequenceNumber: this.lastSequence,
              }
            : { StreamName: options.streamName, ShardId: this.shardId, ShardIteratorType: options.startingPosition },
        ),
      );
      this.iterator = again.ShardIterator;
      return undefined;
    }
    this.iterator = answer.NextShardIterator;
    return answer.Records ?? [];
  }

  /** True when this shard had nothing left to deliver in a poll that started at or after `since`. */
  caughtUpSince(since: number): boolean {
    return this.finished || (this.caughtUp && !this.delivering && this.buffer.length === 0 && this.emptyPollsSince >= since);
  }
}

export class EventSourceMapping {
  stopped = false;
  private readonly pollers = new Map<string, ShardPoller>();
  private readonly running = new Set<Promise<void>>();
  private readonly timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private discovery?: Promise<void>;
  private failure?: unknown;

  constructor(
    readonly kinesis: KinesisClient,
    readonly handler: KinesisHandler,
    readonly options: EventSourceMappingOptions,
  ) {}

  start(): void {
    this.discovery = this.discover();
  }

  /** Sleeps, waking early when the mapping stops. */
  sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.timers.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.timers.add(entry);
    });
  }

  private async discover(): Promise<void> {
    while (!this.stopped) {
      const shards = await listShards(this.kinesis, { streamName: this.options.streamName });
      const present = new Set(shards.map((s) => s.ShardId));
      for (const shard of shards) {
        const id = shard.ShardId ?? "";
        if (this.pollers.has(id)) continue;
        const parents = [shard.ParentShardId, shard.AdjacentParentShardId].filter((p): p is string => p !== undefined && present.has(p));
        if (!parents.every((p) => this.pollers.get(p)?.finished)) continue;
        const poller = new ShardPoller(id, this);
        this.pollers.set(id, poller);
        const task = poller.run().catch((error) => {
          this.failure ??= error;
        });
        this.running.add(task);
        void task.finally(() => this.running.delete(task));
      }
      await this.sleep(this.options.discoveryIntervalMs);
    }
  }

  /**
   * Lockstep delivery of everything the stream holds now, for a bounded input that must give the same
   * result every time: each shard's records in batches of BatchSize, one batch per shard per round in
   * shard order (a parent before its children), `afterRound` between rounds, `drained` once a shard's
   * last batch was delivered. Lambda's delivery rules (retries, bisection, partial batch responses,
   * on-failure destination) apply as in free-running mode; start() must not have been called.
   */
  async deliverInLockstep(afterRound: () => Promise<void>, drained: (shardId: string) => Promise<void>): Promise<void> {
    const { streamName, batchSize } = this.options;
    const shards = await listShards(this.kinesis, { streamName });
    const queues = new Map<string, { delivery: ShardDelivery; records: _Record[]; parents: string[]; done: boolean }>();
    const present = new Set(shards.map((s) => s.ShardId));
    for (const shard of [...shards].sort((a, b) => (a.ShardId ?? "").localeCompare(b.ShardId ?? ""))) {
      const id = shard.ShardId ?? "";
      const parents = [shard.ParentShardId, shard.AdjacentParentShardId].filter((p): p is string => p !== undefined && present.has(p));
      queues.set(id, {
        delivery: new ShardDelivery(id, this),
        records: await readShardRecords(this.kinesis, streamName, id),
        parents,
        done: false,
      });
    }
    while (!this.stopped && [...queues.values()].some((q) => !q.done)) {
      for (const [id, queue] of queues) {
        if (queue.done || !queue.parents.every((p) => queues.get(p)?.done)) continue;
        const batch = queue.records.splice(0, batchSize);
        if (batch.length > 0) await queue.delivery.deliver(batch, (records) => queue.records.unshift(...records));
        if (queue.records.length === 0) {
          queue.done = true;
          await drained(id);
        }
      }
      await afterRound();
    }
  }

  /** Resolves once every shard has been read to its end, as of a poll that started after the call. */
  async waitUntilCaughtUp(timeoutMs = 600_000): Promise<void> {
    const since = Date.now();
    const deadline = since + timeoutMs;
    while (Date.now() < deadline) {
      if (this.failure) throw this.failure;
      const pollers = [...this.pollers.values()];
      if (pollers.length > 0 && pollers.every((p) => p.caughtUpSince(since))) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`the event source mapping did not catch up within ${timeoutMs} ms`);
  }

  /** Resolves once every shard's records up to the given sequence numbers were delivered successfully. */
  async waitUntilDelivered(lastSequenceByShard: ReadonlyMap<string, bigint>, timeoutMs = 3_600_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.failure) throw this.failure;
      const done = [...lastSequenceByShard].every(([shardId, last]) => {
        const poller = this.pollers.get(shardId);
        return poller !== undefined && (poller.delivery.lastDelivered >= last || poller.delivery.skippedTo >= last);
      });
      if (done) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`the event source mapping did not deliver every record within ${timeoutMs} ms`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const { timer, resolve } of this.timers) {
      clearTimeout(timer);
      resolve();
    }
    this.timers.clear();
    await this.discovery?.catch(() => undefined);
    await Promise.all(this.running);
  }
}
