// Sends closing units to the closer function's queue: SendMessageBatch, up to ten messages and 256 KB a
// request, the entries SQS did not take sent again (retry.ts). A unit message is a few hundred bytes,
// or more with the log portions it carries (closer.ts keeps each under 256 KB).
import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from "@aws-sdk/client-sqs";
import { sendUntilProcessed } from "../retry.ts";

const MAX_BATCH_BYTES = 256 * 1024;

/** Batches of at most ten entries and 256 KB of bodies, in order. */
export function sqsBatchesOf(entries: readonly SendMessageBatchRequestEntry[]): SendMessageBatchRequestEntry[][] {
  const batches: SendMessageBatchRequestEntry[][] = [];
  let batch: SendMessageBatchRequestEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = Buffer.byteLength(entry.MessageBody ?? "");
    if (batch.length === 10 || (batch.length > 0 && bytes + size > MAX_BATCH_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(entry);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** Sends each message (JSON) to the queue. */
export function sqsUnitDispatcher<T>(client: SQSClient, queueUrl: string): (messages: readonly T[]) => Promise<void> {
  return async (messages) => {
    const entries = messages.map((message, i) => ({ Id: String(i), MessageBody: JSON.stringify(message) }));
    for (const batch of sqsBatchesOf(entries))
      await sendUntilProcessed(
        batch,
        async (pending) => {
          const answer = await client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: pending }));
          const failed = new Set((answer.Failed ?? []).filter((f) => !f.SenderFault).map((f) => f.Id));
          const refused = (answer.Failed ?? []).find((f) => f.SenderFault);
          if (refused) throw new Error(`SQS refused a closing-unit message: ${refused.Code}: ${refused.Message}`);
          return pending.filter((e) => failed.has(e.Id));
        },
        "closing-unit messages",
      );
  };
}
