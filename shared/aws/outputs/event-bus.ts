// Publishes window results to an EventBridge bus (PutEvents, 10 entries a call, refused entries
// retried with backoff). Detail type "Panes Window Result", source "panes"; the detail carries the
// idempotency key, so rules and targets can drop repeats.
import { type EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import type { ResultSink } from "../../core/types.ts";
import { outputRecordOf } from "./kinesis.ts";

export class PutEventsError extends Error {
  override name = "PutEventsError";
}

export function eventBusResultSink(client: EventBridgeClient, eventBusName: string, maxAttempts = 8): ResultSink {
  return {
    async publish(results) {
      const entries: PutEventsRequestEntry[] = results.map((r) => ({
        EventBusName: eventBusName,
        Source: "panes",
        DetailType: "Panes Window Result",
        Detail: JSON.stringify(outputRecordOf(r)),
      }));
      for (let i = 0; i < entries.length; i += 10) {
        let pending = entries.slice(i, i + 10);
        for (let attempt = 1; pending.length > 0; attempt++) {
          const answer = await client.send(new PutEventsCommand({ Entries: pending }));
          if (!answer.FailedEntryCount) break;
          const refused = pending.filter((_, index) => answer.Entries?.[index]?.ErrorCode !== undefined);
          if (attempt >= maxAttempts) throw new PutEventsError(`${refused.length} events refused after ${maxAttempts} attempts`);
          pending = refused;
          await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
        }
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
