// Builders for test fixtures: pipelines (the pipelines-file syntax, parsed and validated as a
// deployment would), and real-shaped Lambda Kinesis events (base64 data, real sequence numbers).
import type { _Record } from "@aws-sdk/client-kinesis";
import type { Context, KinesisStreamEvent, SQSEvent } from "aws-lambda";
import { parsePipelines } from "../../shared/core/pipelines/parse.ts";
import type { Pipeline, PipelinesInput } from "../../shared/core/pipelines/schema.ts";
import { localLambdaContext } from "../../tools/local/lambda-context.ts";

type PipelineInput = PipelinesInput["pipelines"][number];

let pipelines = 0;

/**
 * A pipeline as a pipelines file would define it: by default events `{ host, ts, v }` in tumbling
 * one-minute windows counting `n`, under a name unique in the test run; anything can be overridden.
 */
export function pipeline(overrides: Partial<PipelineInput> = {}): Pipeline {
  pipelines++;
  const [parsed] = parsePipelines({
    pipelines: [
      {
        name: `p${pipelines}-${process.pid}`,
        key: "host",
        eventTime: "ts",
        window: { type: "tumbling", size: "1m" },
        aggregates: { n: { count: true } },
        ...overrides,
      } as PipelineInput,
    ],
  });
  if (parsed === undefined) throw new Error("no pipeline");
  return parsed;
}

export interface ShardRecord {
  shardId: string;
  record: _Record;
}

export function kinesisEvent(
  records: readonly ShardRecord[],
  streamArn = "arn:aws:kinesis:us-east-1:000000000000:stream/test",
): KinesisStreamEvent {
  return {
    Records: records.map(({ shardId, record }) => ({
      kinesis: {
        kinesisSchemaVersion: "1.0",
        partitionKey: record.PartitionKey ?? "",
        sequenceNumber: record.SequenceNumber ?? "",
        data: Buffer.from(record.Data ?? new Uint8Array()).toString("base64"),
        approximateArrivalTimestamp: (record.ApproximateArrivalTimestamp?.getTime() ?? 0) / 1000,
      },
      eventSource: "aws:kinesis",
      eventVersion: "1.0",
      eventID: `${shardId}:${record.SequenceNumber}`,
      eventName: "aws:kinesis:record",
      invokeIdentityArn: "arn:aws:iam::000000000000:role/test",
      awsRegion: "us-east-1",
      eventSourceARN: streamArn,
    })),
  };
}

export function testContext(): Context {
  return localLambdaContext("panes-ingest-test", "us-east-1", 60_000);
}

/** An SQS event as Lambda's SQS event source delivers it: one record per body, ids `m0`, `m1`, … */
export function sqsEvent(bodies: readonly string[], queueArn = "arn:aws:sqs:us-east-1:000000000000:units"): SQSEvent {
  return {
    Records: bodies.map((body, i) => ({
      messageId: `m${i}`,
      receiptHandle: `m${i}/1`,
      body,
      attributes: {
        ApproximateReceiveCount: "1",
        SentTimestamp: "0",
        SenderId: "panes-watermark",
        ApproximateFirstReceiveTimestamp: "0",
      },
      messageAttributes: {},
      md5OfBody: "",
      eventSource: "aws:sqs",
      eventSourceARN: queueArn,
      awsRegion: "us-east-1",
    })),
  };
}
