// A local stack per test on the shared emulators, stopped after each test, and a way to send events
// and wait until they are applied and the closing logic has run.
import { mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";
import { putRecordsWithRetry } from "../../shared/aws/kinesis/put-records.ts";
import { parsePipelines } from "../../shared/core/pipelines/parse.ts";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import { LOCAL_STATE_FILE } from "../../tools/cli/connection.ts";
import { type LocalStack, startLocalStack } from "../../tools/local/stack.ts";
import { emulatorEndpoints, uniquePrefix } from "./emulated.ts";

/** Registers the after-each stop; returns a starter for the test's stack. */
export function useLocalStack(label: string) {
  let stack: LocalStack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });
  return async (
    pipelines: readonly Pipeline[],
    options: { shards?: number; closeOnIngestMs?: number; maxPaneItemBytes?: number } = {},
  ): Promise<LocalStack> => {
    stack = await startLocalStack({
      pipelines,
      endpoints: emulatorEndpoints(),
      shards: options.shards ?? 1,
      prefix: uniquePrefix(label),
      mapping: { pollIntervalMs: 20, batchSize: 100 },
      watermarkIntervalMs: 0,
      closeOnIngestMs: options.closeOnIngestMs ?? 0,
      ...(options.maxPaneItemBytes ? { maxPaneItemBytes: options.maxPaneItemBytes } : {}),
    });
    return stack;
  };
}

/** Puts events (objects as JSON, strings and bytes as they are), waits until they are applied, runs the closing logic once. */
export async function sendAndClose(stack: LocalStack, payloads: (object | string | Buffer)[]): Promise<void> {
  await putRecordsWithRetry(
    stack.kinesis,
    { streamName: stack.connection.names.sourceStream },
    payloads.map((p) => ({ PartitionKey: "h", Data: Buffer.isBuffer(p) ? p : Buffer.from(typeof p === "string" ? p : JSON.stringify(p)) })),
  );
  await stack.mapping.waitUntilCaughtUp();
  await stack.closeNow();
}

/** Two pipelines over the same events: "counts" needs a key `k`; "sums" also needs a numeric `v`. */
export function countsAndSums(): Pipeline[] {
  const common = { eventTime: "ts", window: { type: "tumbling", size: "1m" }, maxFutureSkew: "100000d" };
  return parsePipelines({
    pipelines: [
      { name: "counts", key: "k", ...common, aggregates: { n: { count: true } } },
      { name: "sums", key: "k", ...common, aggregates: { s: { sum: "v" } } },
    ],
  });
}

/**
 * A local stack the `panes` command finds from a folder of its own (as beside `npm start`); the
 * after-each stops it. Returns a starter giving the stack and the folder to run commands in.
 */
export function useCliStack(label: string) {
  let stack: LocalStack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });
  return async (pipelines: readonly Pipeline[]): Promise<{ stack: LocalStack; cwd: string }> => {
    const cwd = await mkdtemp(join(tmpdir(), `panes-${label}-`));
    await mkdir(join(cwd, ".panes"));
    stack = await startLocalStack({
      pipelines,
      endpoints: emulatorEndpoints(),
      prefix: uniquePrefix(label),
      shards: 1,
      mapping: { pollIntervalMs: 20, batchSize: 100 },
      watermarkIntervalMs: 0,
      stateFile: join(cwd, LOCAL_STATE_FILE),
    });
    return { stack, cwd };
  };
}
