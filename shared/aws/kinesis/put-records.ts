// Writes records to a Kinesis stream with PutRecords: batches of at most 500 records / 5 MiB, and
// retries of only the entries Kinesis refused (throttled or failed), with exponential backoff.
import { type KinesisClient, PutRecordsCommand, type PutRecordsRequestEntry } from "@aws-sdk/client-kinesis";

const MAX_RECORDS = 500;
const MAX_BYTES = 5 * 1024 * 1024;

export interface PutRecordsTarget {
  streamName?: string;
  streamArn?: string;
}

export class PutRecordsError extends Error {
  override name = "PutRecordsError";
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

/** Puts every entry, in order within each batch; throws after `maxAttempts` if some are still refused. */
export async function putRecordsWithRetry(
  client: KinesisClient,
  target: PutRecordsTarget,
  entries: readonly PutRecordsRequestEntry[],
  { maxAttempts = 10, baseDelayMs = 50 }: { maxAttempts?: number; baseDelayMs?: number } = {},
): Promise<{ retried: number; lastSequenceByShard: Map<string, bigint> }> {
  let retried = 0;
  const lastSequenceByShard = new Map<string, bigint>();
  for (const batch of batchesOf(entries)) {
    let pending = batch;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const answer = await client.send(
        new PutRecordsCommand({ StreamName: target.streamName, StreamARN: target.streamArn, Records: pending }),
      );
      for (const record of answer.Records ?? []) {
        if (record.ShardId === undefined || record.SequenceNumber === undefined) continue;
        const seq = BigInt(record.SequenceNumber);
        if (seq > (lastSequenceByShard.get(record.ShardId) ?? -1n)) lastSequenceByShard.set(record.ShardId, seq);
      }
      if (!answer.FailedRecordCount) break;
      const refused = pending.filter((_, i) => answer.Records?.[i]?.ErrorCode !== undefined);
      if (attempt >= maxAttempts) {
        const reason = answer.Records?.find((r) => r.ErrorCode)?.ErrorMessage ?? "unknown";
        throw new PutRecordsError(`${refused.length} records still refused after ${maxAttempts} attempts: ${reason}`);
      }
      retried += refused.length;
      pending = refused;
      await new Promise((r) => setTimeout(r, baseDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2)));
    }
  }
  return { retried, lastSequenceByShard };
}
