// When something did move a watermark too far (a far-future event, before maxFutureSkew refused such
// events), `panes watermark --reset-to T --yes` sets it back and later events are on time again.
import { mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readWatermarks } from "../../shared/aws/dynamodb/checkpoints.ts";
import { listDeadLetters } from "../../shared/aws/dynamodb/dead-letters.ts";
import { queryResults } from "../../shared/aws/dynamodb/results.ts";
import { parsePipelines } from "../../shared/core/pipelines/parse.ts";
import { LOCAL_STATE_FILE } from "../../tools/cli/connection.ts";
import { type LocalStack, startLocalStack } from "../../tools/local/stack.ts";
import { emulatorEndpoints, uniquePrefix } from "../helpers/emulated.ts";
import { sendAndClose } from "../helpers/local-stack.ts";
import { runPanes } from "../helpers/processes.ts";

let stack: LocalStack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

describe("panes watermark", () => {
  it("shows the watermark, refuses a reset without --yes, and sets it back with it", async () => {
    // Prepare: a pipeline that lets a 2099 event through, and that event
    const cwd = await mkdtemp(join(tmpdir(), "panes-watermark-"));
    await mkdir(join(cwd, ".panes"));
    const T0 = Date.parse("2026-03-01T00:00:00Z");
    stack = await startLocalStack({
      pipelines: parsePipelines({
        pipelines: [
          {
            name: "p",
            key: "k",
            eventTime: "ts",
            window: { type: "tumbling", size: "1m" },
            aggregates: { n: { count: true } },
            maxFutureSkew: "100000d",
          },
        ],
      }),
      endpoints: emulatorEndpoints(),
      prefix: uniquePrefix("watermark"),
      shards: 1,
      mapping: { pollIntervalMs: 20, batchSize: 100 },
      watermarkIntervalMs: 0,
      stateFile: join(cwd, LOCAL_STATE_FILE),
    });
    await sendAndClose(stack, [{ k: "a", ts: Date.parse("2099-01-01T00:00:00Z") }]);
    await sendAndClose(stack, [{ k: "a", ts: T0 + 1000 }]);
    expect((await listDeadLetters(stack.dynamodb, stack.connection.names.deadLetterTable, "late")).length).toBe(1);

    // Act
    const shown = await runPanes(["watermark", "--pipeline", "p"], { cwd });
    const refused = await runPanes(["watermark", "--pipeline", "p", "--reset-to", String(T0)], { cwd });
    const reset = await runPanes(["watermark", "--pipeline", "p", "--reset-to", new Date(T0).toISOString(), "--yes"], { cwd });
    await sendAndClose(stack, [
      { k: "a", ts: T0 + 2000 },
      { k: "b", ts: T0 + 61_000 },
    ]);

    // Assess: shown, refused without --yes, reset with it; the next events are on time and close their window
    expect(shown.stdout).toMatch(/p: watermark 2099-01-01T00:00:00\.000Z/);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/Add --yes to do it/);
    expect(reset.stdout).toMatch(/watermark set to 2026-03-01T00:00:00\.000Z; 1 shard checkpoint clamped/);
    expect((await readWatermarks(stack.dynamodb, stack.connection.names.stateTable, ["p"])).get("p")).toBe(T0 + 61_000);
    const results = await queryResults(stack.dynamodb, stack.connection.names.resultsTable, { pipeline: "p", key: "a" });
    expect(results.map((r) => [r.start, r.count])).toEqual([[T0, 1]]);
  });
});
