// Publishes window results to an EventBridge bus (PutEvents, 10 entries a call, refused entries
// retried with backoff). Detail type "Panes Window Result", source "panes"; the detail carries the
// idempotency key, so rules and targets can drop repeats.
import { type EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import type { ResultSink } from "../../core/types.ts";
import { chunksOf, PARTIAL_RETRY, type PartialRetryPolicy, sendUntilProcessed } from "../retry.ts";
import { outputRecordOf } from "./kinesis.ts";

export function eventBusResultSink(
  client: EventBridgeClient,
  eventBusName: string,
  policy: PartialRetryPolicy = PARTIAL_RETRY,
): ResultSink {
  return {
    async publish(results) {
      const entries: PutEventsRequestEntry[] = results.map((r) => ({
        EventBusName: eventBusName,
        Source: "panes",
        DetailType: "Panes Window Result",
        Detail: JSON.stringify(outputRecordOf(r)),
      }));
      for (const chunk of chunksOf(entries, 10)) {
        await sendUntilProcessed(
          chunk,
          async (pending) => {
            const answer = await client.send(new PutEventsCommand({ Entries: pending }));
            return answer.FailedEntryCount ? pending.filter((_, index) => answer.Entries?.[index]?.ErrorCode !== undefined) : [];
          },
          `events for ${eventBusName}`,
          policy,
        );
      }
    },
  };
}

/** Publishes to every sink in turn (results are at least once everywhere). */
export function allSinks(sinks: readonly ResultSink[]): ResultSink | undefined {
  if (sinks.length === 0) return undefined;
  if (sinks.length === 1) return sinks[0];
  return {
    async publish(results) {
      for (const sink of sinks) await sink.publish(results);
    },
  };
}
