// Turns the records of a Lambda KinesisStreamEvent into StreamRecords (bytes, shard, sequence number).
import type { KinesisStreamRecord } from "aws-lambda";
import type { StreamRecord } from "../../core/types.ts";

/** eventID is "<shardId>:<sequenceNumber>". */
export function shardIdOf(record: KinesisStreamRecord): string {
  const at = record.eventID.lastIndexOf(":");
  return at > 0 ? record.eventID.slice(0, at) : record.eventID;
}

export function toStreamRecord(record: KinesisStreamRecord): StreamRecord {
  return {
    shardId: shardIdOf(record),
    sequenceNumber: record.kinesis.sequenceNumber,
    partitionKey: record.kinesis.partitionKey,
    data: Buffer.from(record.kinesis.data, "base64"),
    arrivedAt: Math.round(record.kinesis.approximateArrivalTimestamp * 1000),
  };
}
