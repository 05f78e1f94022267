// Fault injection for the local stack and `panes replay --chaos P`, in the real code path: a DynamoDB
// client middleware (crashes after k writes, throttling answers), a wrapper around the ingest handler
// (crash after all writes, timeouts), decisions the event source mapping asks for (deliver a batch
// again: whole, bisected, merged with the next), faulty or overlapping watermark runs, and closing units
// that stop part-way (a crash or a timeout: the queue delivers them again) or run twice at once.
// Dev-only; with probability P < 1 every fault is eventually followed by a clean attempt.
import { AsyncLocalStorage } from "node:async_hooks";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { seededRandom } from "./generate.ts";
import { counted } from "./plural.ts";

export const FAULT_KINDS = [
  "crash-mid-writes",
  "crash-after-writes",
  "timeout",
  "throttle",
  "redeliver-whole",
  "redeliver-bisected",
  "redeliver-merged",
  "watermark-crash",
  "watermark-overlap",
  "unit-crash",
  "unit-overlap",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

const WRITES = new Set(["PutItemCommand", "UpdateItemCommand", "BatchWriteItemCommand", "DeleteItemCommand"]);

/** The fault planned for one invocation, visible to the client middleware through async context. */
interface InvocationFault {
  /** writes still allowed before the "process" dies; undefined: no crash */
  writesLeft?: number;
  crashed: boolean;
  crashKind?: "crash-mid-writes" | "timeout" | "watermark-crash" | "unit-crash";
  /** probability that a DynamoDB call of this invocation is answered with a throttling error first */
  throttle: number;
}

export class InjectedFaultError extends Error {
  override name = "InjectedFaultError";
}

export class Chaos {
  readonly counts = new Map<FaultKind, number>(FAULT_KINDS.map((k) => [k, 0]));
  private readonly random: () => number;
  private readonly context = new AsyncLocalStorage<InvocationFault>();
  private readonly instrumented = new WeakSet<DynamoDBClient>();

  constructor(
    readonly probability: number,
    seed = 1,
  ) {
    if (!(probability >= 0 && probability < 1)) throw new RangeError("chaos probability must be at least 0 and below 1");
    this.random = seededRandom(seed);
  }

  get total(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }

  /** `chaos: <N> faults injected (<kind>=<count>, …)` */
  summary(): string {
    const parts = [...this.counts].filter(([, n]) => n > 0).map(([k, n]) => `${k}=${n}`);
    return `chaos: ${counted(this.total, "fault")} injected (${parts.join(", ") || "none"})`;
  }

  private count(kind: FaultKind): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
  }

  private roll(): boolean {
    return this.probability > 0 && this.random() < this.probability;
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)] as T;
  }

  /** Installs the fault middleware on a DynamoDB client (once per client). */
  instrument(client: DynamoDBClient): void {
    if (this.instrumented.has(client)) return;
    this.instrumented.add(client);
    // Crashes act before the SDK's retries (a dead process does not retry).
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const fault = this.context.getStore();
        if (fault?.writesLeft !== undefined) {
          if (fault.crashed) throw new InjectedFaultError(`injected ${fault.crashKind}: the function is gone`);
          if (WRITES.has(context.commandName ?? "")) {
            if (fault.writesLeft === 0) {
              fault.crashed = true;
              if (fault.crashKind) this.count(fault.crashKind);
              throw new InjectedFaultError(`injected ${fault.crashKind} during a write`);
            }
            fault.writesLeft--;
          }
        }
        return next(args);
      },
      { step: "initialize", name: "panesChaosCrash" },
    );
    // Throttling is answered by "the service", inside the SDK's retry loop, as DynamoDB does.
    client.middlewareStack.add(
      (next) => async (args) => {
        const fault = this.context.getStore();
        if (fault && fault.throttle > 0 && this.random() < fault.throttle) {
          this.count("throttle");
          const error = Object.assign(new Error("injected throttling"), {
            name: this.random() < 0.5 ? "ProvisionedThroughputExceededException" : "ThrottlingException",
            $fault: "client",
            $metadata: { httpStatusCode: 400 },
          });
          throw error;
        }
        return next(args);
      },
      { step: "deserialize", name: "panesChaosThrottle" },
    );
  }

  /** Wraps the ingest handler: crash after k writes, crash after all writes, time out, or throttled calls. */
  wrapHandler<E, C, R>(handler: (event: E, context: C) => Promise<R>): (event: E, context: C) => Promise<R> {
    return async (event, context) => {
      if (!this.roll()) return handler(event, context);
      const kind = this.pick(["crash-mid-writes", "crash-after-writes", "timeout", "throttle"] as const);
      if (kind === "throttle") return this.context.run({ crashed: false, throttle: 0.1 }, () => handler(event, context));
      if (kind === "crash-after-writes") {
        await handler(event, context);
        this.count(kind);
        throw new InjectedFaultError("injected crash after all writes, before the answer");
      }
      const fault: InvocationFault = { writesLeft: Math.floor(this.random() * 8), crashed: false, crashKind: kind, throttle: 0 };
      const result = await this.context.run(fault, () => handler(event, context).catch((error) => error as Error));
      if (fault.crashed) throw new InjectedFaultError(kind === "timeout" ? "Task timed out (injected)" : "injected crash");
      if (result instanceof Error) throw result;
      return result;
    };
  }

  /** After a successful delivery: whether the mapping delivers the batch again, and how. */
  redelivery(): "whole" | "bisected" | "merged" | undefined {
    if (!this.roll()) return undefined;
    const how = this.pick(["whole", "bisected", "merged"] as const);
    this.count(`redeliver-${how}`);
    return how;
  }

  /** Runs a watermark invocation, possibly crashing it part-way or overlapping it with a second run. */
  async runWatermark(run: () => Promise<void>): Promise<void> {
    if (!this.roll()) return run();
    if (this.random() < 0.5) {
      this.count("watermark-overlap");
      await Promise.all([run(), run()]);
      return;
    }
    // A run (its closing units) stopped after any of its first 60 writes: an epoch, panes, results, marks.
    const fault: InvocationFault = {
      writesLeft: Math.floor(this.random() * 60),
      crashed: false,
      crashKind: "watermark-crash",
      throttle: 0,
    };
    await this.context.run(fault, () => run().catch(() => undefined));
  }

  /** Runs a closer invocation (one closing unit), possibly stopping it after any of its first 40 writes, or running it twice at once. */
  async runUnit<R>(run: () => Promise<R>): Promise<R> {
    if (!this.roll()) return run();
    if (this.random() < 0.5) {
      this.count("unit-overlap");
      const [first] = await Promise.all([run(), run()]);
      return first;
    }
    const fault: InvocationFault = { writesLeft: Math.floor(this.random() * 40), crashed: false, crashKind: "unit-crash", throttle: 0 };
    const result = await this.context.run(fault, () => run().catch((error) => error as Error));
    if (fault.crashed) throw new InjectedFaultError("injected unit crash (the closer is gone)");
    if (result instanceof Error) throw result;
    return result;
  }
}
