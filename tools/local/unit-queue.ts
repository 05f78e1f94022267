// The local stand-in for the closing units' SQS queue and its event source mapping (no SQS emulator on
// npm speaks the SDK's JSON protocol): messages delivered one per invocation to the real closer
// handler, at most `concurrency` at once; a message whose invocation fails or reports it failed comes
// back after the visibility timeout, and after `maxReceives` receives goes to the dead letters. Dev-only.
import { AsyncResource } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import pLimit from "p-limit";

export interface UnitQueueOptions {
  /** invocations at once (the mapping's MaximumConcurrency) */
  concurrency: number;
  /** a failed message is delivered again after this long */
  visibilityTimeoutMs: number;
  /** receives before a failing message goes to the dead letters (the redrive policy's maxReceiveCount) */
  maxReceives: number;
  queueArn: string;
}

export interface QueueDeadLetter {
  body: string;
  receives: number;
  reason: string;
}

export class LocalUnitQueue {
  readonly deadLetters: QueueDeadLetter[] = [];
  private readonly limit;
  private pending = 0;
  private waiters: (() => void)[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  /** Deliveries run in the async context the queue was made in, not the sender's (a fault injected into the sender stays there). */
  private readonly scope = new AsyncResource("panes-unit-queue");

  constructor(
    private readonly invoke: (event: SQSEvent) => Promise<SQSBatchResponse | undefined>,
    private readonly options: UnitQueueOptions,
  ) {
    this.limit = pLimit(options.concurrency);
  }

  /** SendMessageBatch: each body is delivered (at least once). */
  send(bodies: readonly string[]): void {
    for (const body of bodies) this.scope.runInAsyncScope(() => this.deliver({ id: randomUUID(), body, receives: 0, sentAt: Date.now() }));
  }

  /** Resolves once nothing is queued, running or waiting to come back. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Drops what waits to come back and waits for the invocations running. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) {
      clearTimeout(timer);
      this.settle();
    }
    this.timers.clear();
    await this.idle();
  }

  private deliver(message: { id: string; body: string; receives: number; sentAt: number }): void {
    this.pending++;
    void this.limit(async () => {
      if (this.stopped) return this.settle();
      message.receives++;
      let reason: string | undefined;
      try {
        const answer = await this.invoke(this.eventOf(message));
        if (answer?.batchItemFailures.some((f) => f.itemIdentifier === message.id)) reason = "reported as a batch item failure";
      } catch (error) {
        reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }
      // stopped while it ran: it is not delivered again (it would come back to a queue no one reads)
      if (reason === undefined || this.stopped) return this.settle();
      if (message.receives >= this.options.maxReceives) {
        this.deadLetters.push({ body: message.body, receives: message.receives, reason });
        return this.settle();
      }
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.deliver(message);
        this.settle();
      }, this.options.visibilityTimeoutMs);
      this.timers.add(timer);
    });
  }

  private settle(): void {
    this.pending--;
    if (this.pending > 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  private eventOf(message: { id: string; body: string; receives: number; sentAt: number }): SQSEvent {
    return {
      Records: [
        {
          messageId: message.id,
          receiptHandle: `${message.id}/${message.receives}`,
          body: message.body,
          attributes: {
            ApproximateReceiveCount: String(message.receives),
            SentTimestamp: String(message.sentAt),
            SenderId: "panes-watermark",
            ApproximateFirstReceiveTimestamp: String(message.sentAt),
          },
          messageAttributes: {},
          md5OfBody: "",
          eventSource: "aws:sqs",
          eventSourceARN: this.options.queueArn,
          awsRegion: this.options.queueArn.split(":")[3] ?? "us-east-1",
        },
      ],
    };
  }
}
