// The local stand-in for the closing units' queue behaves as SQS with an event source mapping does for
// what the closer relies on: at-least-once delivery, a failed message back after the visibility timeout,
// the dead letters after maxReceiveCount receives, and no more invocations at once than the mapping's
// MaximumConcurrency.
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { LocalUnitQueue } from "../../tools/local/unit-queue.ts";

const ARN = "arn:aws:sqs:us-east-1:000000000000:test-closing-units";

function queue(invoke: (event: SQSEvent) => Promise<SQSBatchResponse | undefined>, concurrency = 2, maxReceives = 3) {
  return new LocalUnitQueue(invoke, { concurrency, visibilityTimeoutMs: 5, maxReceives, queueArn: ARN });
}

describe("the local closing-units queue", () => {
  it("delivers every message once, one per invocation, as an SQS event", async () => {
    const seen: SQSEvent[] = [];
    const q = queue(async (event) => {
      seen.push(event);
      return { batchItemFailures: [] };
    });
    q.send(["a", "b", "c"]);
    await q.idle();
    expect(seen.map((e) => e.Records.length)).toEqual([1, 1, 1]);
    expect(seen.map((e) => e.Records[0]?.body).sort()).toEqual(["a", "b", "c"]);
    const record = seen[0]?.Records[0];
    expect(record?.eventSource).toBe("aws:sqs");
    expect(record?.eventSourceARN).toBe(ARN);
    expect(record?.attributes.ApproximateReceiveCount).toBe("1");
    expect(q.deadLetters).toEqual([]);
  });

  it("delivers a message again after it is reported failed or its invocation throws, counting receives", async () => {
    const receives = new Map<string, string[]>();
    const q = queue(async (event) => {
      const record = event.Records[0];
      if (!record) throw new Error("no record");
      const seen = [...(receives.get(record.body) ?? []), record.attributes.ApproximateReceiveCount];
      receives.set(record.body, seen);
      if (record.body === "reported" && seen.length < 3) return { batchItemFailures: [{ itemIdentifier: record.messageId }] };
      if (record.body === "thrown" && seen.length < 2) throw new Error("crashed");
      // a failure reported for another message id is not this message's
      return { batchItemFailures: [{ itemIdentifier: "someone-else" }] };
    });
    q.send(["reported", "thrown", "fine"]);
    await q.idle();
    expect(receives.get("fine")).toEqual(["1"]);
    expect(receives.get("thrown")).toEqual(["1", "2"]);
    expect(receives.get("reported")).toEqual(["1", "2", "3"]);
    expect(q.deadLetters).toEqual([]);
  });

  it("moves a message that keeps failing to the dead letters after maxReceives receives, with the reason", async () => {
    let receives = 0;
    const q = queue(
      async () => {
        receives++;
        throw new TypeError("bad unit");
      },
      1,
      3,
    );
    q.send(["poison"]);
    await q.idle();
    expect(receives).toBe(3);
    expect(q.deadLetters).toEqual([{ body: "poison", receives: 3, reason: "TypeError: bad unit" }]);
  });

  it("runs no more invocations at once than its concurrency", async () => {
    let running = 0;
    let most = 0;
    const q = queue(async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 2));
      running--;
      return undefined;
    }, 3);
    q.send(Array.from({ length: 20 }, (_, i) => `m${i}`));
    await q.idle();
    expect(most).toBe(3);
  });

  it("stops: what waits to come back is dropped, what runs finishes, nothing is delivered after", async () => {
    let calls = 0;
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const q = new LocalUnitQueue(
      async (event) => {
        calls++;
        if (event.Records[0]?.body === "held") await held;
        return { batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) };
      },
      { concurrency: 2, visibilityTimeoutMs: 3_600_000, maxReceives: 5, queueArn: ARN },
    );
    q.send(["held", "failing"]);
    await new Promise((r) => setTimeout(r, 10));
    const stopped = q.stop();
    release();
    await stopped;
    expect(calls).toBe(2);
    q.send(["after"]);
    await q.idle();
    expect(calls).toBe(2);
  });
});
