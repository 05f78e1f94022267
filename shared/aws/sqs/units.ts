// Sends closing units to the closer function's queue: SendMessageBatch, ten messages a request, the
// entries SQS did not take sent again (retry.ts). A unit message is about 150 bytes: one billed request
// (64 KB) carries ten.
import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { chunksOf, sendUntilProcessed } from "../retry.ts";

/** Sends each message (JSON) to the queue. */
export function sqsUnitDispatcher<T>(client: SQSClient, queueUrl: string): (messages: readonly T[]) => Promise<void> {
  return async (messages) => {
    const entries = messages.map((message, i) => ({ Id: String(i), MessageBody: JSON.stringify(message) }));
    for (const batch of chunksOf(entries, 10))
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
