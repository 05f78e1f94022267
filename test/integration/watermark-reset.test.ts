// When something did move a watermark too far (a far-future event, before maxFutureSkew refused such
// events), `panes watermark --reset-to T --yes` sets it back and later events are on time again.
import { mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { advanceWatermark, noteWatermarkSample, readPipelineMarks, readWatermarks } from "../../shared/aws/dynamodb/checkpoints.ts";
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

  it("refuses a reset to before what retention.tombstones keeps, naming the earliest it allows, and allows that one", async () => {
    // Prepare: a pipeline whose watermark passed T0 + 1 h ten days ago, T0 + 2 h six days ago, T0 + 3 d two days ago (7-day retention)
    const cwd = await mkdtemp(join(tmpdir(), "panes-watermark-"));
    await mkdir(join(cwd, ".panes"));
    const T0 = Date.parse("2026-03-01T00:00:00Z");
    const HOUR = 3_600_000;
    const DAY = 24 * HOUR;
    stack = await startLocalStack({
      pipelines: parsePipelines({
        pipelines: [{ name: "p", key: "k", eventTime: "ts", window: { type: "tumbling", size: "1m" }, aggregates: { n: { count: true } } }],
      }),
      endpoints: emulatorEndpoints(),
      prefix: uniquePrefix("watermark-floor"),
      shards: 1,
      watermarkIntervalMs: 0,
      stateFile: join(cwd, LOCAL_STATE_FILE),
    });
    const { dynamodb } = stack;
    const { stateTable } = stack.connection.names;
    const now = Date.now();
    const retention = 7 * DAY;
    for (const [watermark, at] of [
      [T0 + HOUR, now - 10 * DAY],
      [T0 + 2 * HOUR, now - 6 * DAY],
      [T0 + 3 * DAY, now - 2 * DAY],
    ] as const) {
      await advanceWatermark(dynamodb, stateTable, "p", watermark, at);
      const marks = (await readPipelineMarks(dynamodb, stateTable, ["p"])).get("p") ?? {};
      await noteWatermarkSample(dynamodb, stateTable, "p", marks, { watermark, at, tombstoneRetentionMs: retention });
    }

    // Act
    const refused = await runPanes(["watermark", "--pipeline", "p", "--reset-to", new Date(T0 + 90 * 60_000).toISOString(), "--yes"], {
      cwd,
    });
    const allowed = await runPanes(["watermark", "--pipeline", "p", "--reset-to", new Date(T0 + 2 * HOUR).toISOString(), "--yes"], { cwd });

    // Assess: the windows between T0 + 1 h and T0 + 2 h may have been cleared ten days ago; those after, at most six
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split("\n")).toEqual([
      "panes: refused: the watermark passed 2026-03-01T01:30:00.000Z more than retention.tombstones (7d) ago, so some of the panes of the windows after it may have expired; the earliest reset now is --reset-to 2026-03-01T02:00:00.000Z",
    ]);
    expect(allowed.code).toBe(0);
    expect((await readWatermarks(dynamodb, stateTable, ["p"])).get("p")).toBe(T0 + 2 * HOUR);
    // the reset recorded the watermark it replaced: a second reset cannot reach below what the first allowed
    const history = (await readPipelineMarks(dynamodb, stateTable, ["p"])).get("p")?.history;
    expect(history?.samples.at(-1)?.[0]).toBe(T0 + 3 * DAY);
  });
});
