// Builders for real-shaped Lambda Kinesis events from records read off an emulated stream.
import type { _Record } from "@aws-sdk/client-kinesis";
import type { Context, KinesisStreamEvent } from "aws-lambda";
import { localLambdaContext } from "../../tools/local/lambda-context.ts";

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
