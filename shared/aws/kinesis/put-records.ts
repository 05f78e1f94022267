// Writes records to a Kinesis stream with PutRecords: batches of at most 500 records / 5 MiB, and
// retries of only the entries Kinesis refused (throttled or failed): ../retry.ts.
import { type KinesisClient, PutRecordsCommand, type PutRecordsRequestEntry } from "@aws-sdk/client-kinesis";
import { PARTIAL_RETRY, type PartialRetryPolicy, sendUntilProcessed } from "../retry.ts";

const MAX_RECORDS = 500;
const MAX_BYTES = 5 * 1024 * 1024;

export interface PutRecordsTarget {
  streamName?: string;
  streamArn?: string;
}

function* batchesOf(entries: readonly PutRecordsRequestEntry[]): Generator<PutRecordsRequestEntry[]> {
  let batch: PutRecordsRequestEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = (entry.Data?.byteLength ?? 0) + Buffer.byteLength(entry.PartitionKey ?? "");
    if (batch.length === MAX_RECORDS || (batch.length > 0 && bytes + size > MAX_BYTES)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(entry);
    bytes += size;
  }
  if (batch.length > 0) yield batch;
}

/** Puts every entry, in order within each batch; throws after the retry policy's attempts if some are still refused. */
export async function putRecordsWithRetry(
  client: KinesisClient,
  target: PutRecordsTarget,
  entries: readonly PutRecordsRequestEntry[],
  policy: PartialRetryPolicy = PARTIAL_RETRY,
): Promise<{ retried: number; lastSequenceByShard: Map<string, bigint> }> {
  let retried = 0;
  const lastSequenceByShard = new Map<string, bigint>();
  for (const batch of batchesOf(entries)) {
    await sendUntilProcessed(
      batch,
      async (pending) => {
        const answer = await client.send(
          new PutRecordsCommand({ StreamName: target.streamName, StreamARN: target.streamArn, Records: pending }),
        );
        for (const record of answer.Records ?? []) {
          if (record.ShardId === undefined || record.SequenceNumber === undefined) continue;
          const seq = BigInt(record.SequenceNumber);
          if (seq > (lastSequenceByShard.get(record.ShardId) ?? -1n)) lastSequenceByShard.set(record.ShardId, seq);
        }
        const refused = answer.FailedRecordCount ? pending.filter((_, i) => answer.Records?.[i]?.ErrorCode !== undefined) : [];
        retried += refused.length;
        return refused;
      },
      `records for ${target.streamName ?? target.streamArn}`,
      policy,
    );
  }
  return { retried, lastSequenceByShard };
}
