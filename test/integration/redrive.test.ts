// `panes dlq redrive` against a running local stack: it never makes a pipeline count a record twice,
// removes every dead letter of a record it puts back (every pipeline reads it again), and only ever
// writes to the deployment's source stream.
import { describe, expect, it } from "vitest";
import { listDeadLetters } from "../../shared/aws/dynamodb/dead-letters.ts";
import { queryResults } from "../../shared/aws/dynamodb/results.ts";
import { countsAndSums, sendAndClose, useCliStack } from "../helpers/local-stack.ts";
import { runPanes } from "../helpers/processes.ts";

const startStack = useCliStack("redrive");

const T0 = Date.parse("2026-03-01T00:00:00Z");

describe("panes dlq redrive", () => {
  it("puts back only records no pipeline counted, removes all their letters, and writes only to the source stream", async () => {
    // Prepare: "counts" needs a key; "sums" also needs a numeric v — and a local stack the CLI can find
    const { stack, cwd } = await startStack(countsAndSums());
    await sendAndClose(stack, [
      { k: "a", ts: T0 + 1000 }, // counted by "counts", refused by "sums" (no v)
      { ts: T0 + 2000, v: 1 }, // refused by both (no key)
      { k: "a", ts: T0 + 3000, v: 5 },
    ]);
    const letters = await listDeadLetters(stack.dynamodb, stack.connection.names.deadLetterTable);
    expect(letters.map((l) => [l.pipeline, l.acceptedBy])).toEqual([
      ["sums", ["counts"]],
      ["counts", []],
      ["sums", []],
    ]);

    // Act: another stream is refused; then redrive what "sums" refused
    const other = await runPanes(["dlq", "redrive", "--stream", stack.connection.names.outputStream], { cwd });
    const redriven = await runPanes(["dlq", "redrive", "--pipeline", "sums"], { cwd });
    await stack.mapping.waitUntilCaughtUp();
    await sendAndClose(stack, [{ k: "z", ts: T0 + 120_000, v: 0 }]); // the watermark passes the window

    // Assess
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/is not this deployment's source stream/);
    expect(redriven.stderr).toMatch(/1 record left alone: already counted by a pipeline/);
    expect(redriven.stderr).toMatch(/put 1 record back on .* and removed 2 dead letters/);
    // The keyless record was read again by both pipelines: two letters, not four; nothing counted twice.
    const after = await listDeadLetters(stack.dynamodb, stack.connection.names.deadLetterTable);
    expect(after.map((l) => l.pipeline).sort()).toEqual(["counts", "sums", "sums"]);
    const [window] = await queryResults(stack.dynamodb, stack.connection.names.resultsTable, { pipeline: "counts", key: "a" });
    expect(window?.count).toBe(2);
  });
});
