// The real ingest and watermark handlers on the emulators, driven step by step: events put on the
// stream and delivered as one batch, the watermark set explicitly (stored as the closing logic stores
// it), closing runs on demand at a chosen processing time. What the watermark handler publishes is kept.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { expect } from "vitest";
import { createIngestHandler } from "../../functions/commons/ingest-handler.ts";
import { createWatermarkHandler } from "../../functions/commons/watermark-handler.ts";
import { announceWatermarksEverywhere } from "../../shared/app/shard-logs.ts";
import { advanceWatermark } from "../../shared/aws/dynamodb/checkpoints.ts";
import { listDeadLetters } from "../../shared/aws/dynamodb/dead-letters.ts";
import { queryResults } from "../../shared/aws/dynamodb/results.ts";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import type { DeadLetter, WindowResult } from "../../shared/core/types.ts";
import { kinesisEvent, testContext } from "./builders.ts";
import type { emulatedDeployment } from "./emulated.ts";

type Deployment = Awaited<ReturnType<typeof emulatedDeployment>>;

export class HandlerHarness {
  /** processing time seen by both handlers (early results) */
  now = 0;
  readonly published: WindowResult[] = [];
  private readonly ingestHandler;
  private readonly watermarkHandler;

  constructor(
    private readonly deployment: Deployment,
    readonly pipeline: Pipeline,
    /** pipelines deployed beside it (cascades reading its rows) */
    readonly others: readonly Pipeline[] = [],
  ) {
    const { dynamodb, names } = deployment;
    const clock = () => this.now;
    this.ingestHandler = createIngestHandler({
      dynamodb,
      stateTable: names.stateTable,
      deadLetterTable: names.deadLetterTable,
      pipelines: [pipeline, ...others],
      writeConcurrency: 4,
      now: clock,
    });
    this.watermarkHandler = this.watermarkHandlerOn(dynamodb);
  }

  /** A watermark handler of this deployment whose requests go through `dynamodb` (a client that can be held). */
  watermarkHandlerOn(dynamodb: DynamoDBClient) {
    const { names } = this.deployment;
    const clock = () => this.now;
    return createWatermarkHandler({
      dynamodb,
      stateTable: names.stateTable,
      resultsTable: names.resultsTable,
      pipelines: [this.pipeline, ...this.others],
      sink: { publish: async (results) => void this.published.push(...results) },
      concurrency: 4,
      tombstoneRetentionMs: 86_400_000,
      deadLetterTable: names.deadLetterTable,
      now: clock,
    });
  }

  /** Puts the events on the stream (one shard keeps their order) and delivers them as one batch. */
  async ingest(events: readonly object[]): Promise<void> {
    if (events.length === 0) return;
    const { kinesis, names, sourceStreamArn } = this.deployment;
    const datas = events.map((e) => Buffer.from(JSON.stringify(e)));
    const put = await kinesis.send(
      new PutRecordsCommand({ StreamName: names.sourceStream, Records: datas.map((Data) => ({ PartitionKey: "k", Data })) }),
    );
    const records = (put.Records ?? []).map((r, i) => ({
      shardId: r.ShardId ?? "",
      record: { SequenceNumber: r.SequenceNumber, PartitionKey: "k", Data: datas[i], ApproximateArrivalTimestamp: new Date() },
    }));
    const answer = await this.ingestHandler(kinesisEvent(records, sourceStreamArn), testContext());
    expect(answer?.batchItemFailures ?? []).toEqual([]);
  }

  /** Stores Panes' watermark (Flink's + 1) and tells the shard logs, as a closing run would. */
  async advanceWatermark(to: number): Promise<void> {
    const { dynamodb, names } = this.deployment;
    const stored = await advanceWatermark(dynamodb, names.stateTable, this.pipeline.name, to, this.now);
    await announceWatermarksEverywhere(
      { dynamodb, stateTable: names.stateTable, pipelines: [this.pipeline], concurrency: 4 },
      new Map([[this.pipeline.name, stored]]),
      new Map(),
      this.now,
    );
  }

  async close(): Promise<void> {
    await this.watermarkHandler(undefined, testContext());
  }

  /** A closing run, with what it reports per pipeline. */
  closeReports() {
    return this.watermarkHandler(undefined, testContext());
  }

  async letters(): Promise<DeadLetter[]> {
    return (await listDeadLetters(this.deployment.dynamodb, this.deployment.names.deadLetterTable)).filter(
      (l) => l.pipeline === this.pipeline.name,
    );
  }

  /** The current result of every window (superseded sessions left out), of the pipeline or another deployed beside it. */
  finalResults(pipeline = this.pipeline.name): Promise<WindowResult[]> {
    return queryResults(this.deployment.dynamodb, this.deployment.names.resultsTable, { pipeline });
  }
}
