// `panes dlq list` against a running local stack: its filters (--pipeline, --kind, --since, --limit)
// and its order (newest first) select exactly what the dead-letter table holds, read independently.
import { describe, expect, it } from "vitest";
import { listDeadLetters } from "../../shared/aws/dynamodb/dead-letters.ts";
import type { DeadLetter } from "../../shared/core/types.ts";
import { countsAndSums, sendAndClose, useCliStack } from "../helpers/local-stack.ts";
import { runPanes } from "../helpers/processes.ts";

const startStack = useCliStack("dlq-list");

const T0 = Date.parse("2026-03-01T00:00:00Z");
const idOf = (l: { shardId: string; sequenceNumber: string; pipeline: string }) => `${l.shardId}/${l.sequenceNumber}/${l.pipeline}`;

describe("panes dlq list", () => {
  it("lists newest first and selects by pipeline, kind, time and count", async () => {
    // Prepare: invalid records for one pipeline or both, then late events for both, in two rounds
    const { stack, cwd } = await startStack(countsAndSums());
    await sendAndClose(stack, [
      { k: "a", ts: T0 + 1000 }, // refused by "sums" (no v)
      { ts: T0 + 2000, v: 1 }, // refused by both (no key)
      { k: "a", ts: T0 + 600_000, v: 5 }, // moves the watermark ten minutes on
    ]);
    await new Promise((r) => setTimeout(r, 1100)); // the next letters are recorded at least a second later
    const since = Date.now();
    await sendAndClose(stack, [
      { k: "b", ts: T0 + 3000, v: 2 }, // late for both
      "not json", // invalid for both ("*")
    ]);
    const all = await listDeadLetters(stack.dynamodb, stack.connection.names.deadLetterTable);
    const list = async (...args: string[]) => {
      const answer = await runPanes(["dlq", "list", "--json", ...args], { cwd });
      expect(answer.code, answer.stderr).toBe(0);
      return answer.stdout
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as DeadLetter);
    };
    const expected = (keep: (l: DeadLetter) => boolean) => all.filter(keep).map(idOf).sort();

    // Act
    const everything = await list("--limit", "0");
    const sums = await list("--pipeline", "sums", "--limit", "0");
    const late = await list("--kind", "late");
    const recent = await list("--since", new Date(since).toISOString());
    const lastMinute = await list("--since", "1m", "--kind", "invalid");
    const newestTwo = await list("--limit", "2");
    const table = await runPanes(["dlq", "list", "--limit", "2"], { cwd });
    const status = JSON.parse((await runPanes(["status", "--json"], { cwd })).stdout);
    const statusText = (await runPanes(["status"], { cwd })).stdout;

    // Assess
    expect(all.length).toBe(6); // sums: no v; both: keyless, late; "*": not JSON
    expect(everything.map(idOf).sort()).toEqual(expected(() => true));
    expect(everything.map((l) => l.recordedAt)).toEqual([...everything.map((l) => l.recordedAt)].sort((a, b) => b - a));
    expect(sums.map(idOf).sort()).toEqual(expected((l) => l.pipeline === "sums"));
    expect(late.map(idOf).sort()).toEqual(expected((l) => l.kind === "late"));
    expect(recent.map(idOf).sort()).toEqual(expected((l) => l.recordedAt >= since));
    expect(lastMinute.map(idOf).sort()).toEqual(expected((l) => l.kind === "invalid"));
    expect(newestTwo.map(idOf)).toEqual(everything.slice(0, 2).map(idOf));
    expect(table.stderr).toMatch(new RegExp(`^2 of ${all.length} dead letters, newest first; --limit 0 shows all ${all.length} `, "m"));
    expect(table.stdout.split("\n")[0]).toMatch(/^recorded\s+kind\s+pipeline\s+shard\s+sequence\s+reason\s+data/);
    // panes status counts the same letters: by pipeline, the late ones too late for every window, the
    // invalid ones by what their reasons say (the value left out), and all of them in the screen's line
    const of = (pipeline: string, kind: string) => all.filter((l) => l.pipeline === pipeline && l.kind === kind).length;
    const keyless = 'key field "k" must be a non-empty string or a number';
    expect(status.pipelines.map((p: Record<string, unknown>) => [p.pipeline, p.deadLettered, p.late, p.partlyLate, p.reasons])).toEqual([
      ["counts", of("counts", "invalid"), of("counts", "late"), 0, [{ reason: keyless, count: 1 }]],
      [
        "sums",
        of("sums", "invalid"),
        of("sums", "late"),
        0,
        [
          { reason: 'field "v" (aggregate "s") must be a finite number', count: 1 },
          { reason: keyless, count: 1 },
        ],
      ],
    ]);
    expect([status.unreadable, status.unreadableReasons]).toEqual([of("*", "invalid"), [{ reason: "record data is not JSON", count: 1 }]]);
    expect(status.deadLetters).toEqual({ invalid: 4, late: 2, partlyLate: 0 });
    expect(statusText).toContain(
      "dead letters (all pipelines): 4 invalid, 2 late (too late for every window, dropped); `panes dlq list` lists them",
    );
    expect(statusText).toContain(`    1 × ${keyless}`);
  });

  it("refuses a --pipeline the local stack does not run, naming its pipelines, in every command that takes one", async () => {
    // Prepare: a stack of "counts" and "sums", with one letter of each
    const { stack, cwd } = await startStack(countsAndSums());
    await sendAndClose(stack, [{ ts: T0 + 1000, v: 1 }]); // no key: refused by both

    // Act
    const misspelt = await runPanes(["dlq", "list", "--pipeline", "cuonts"], { cwd });
    const others = await Promise.all([
      runPanes(["dlq", "list", "--pipeline", "nope"], { cwd }),
      runPanes(["dlq", "redrive", "--pipeline", "nope", "--dry-run"], { cwd }),
      runPanes(["results", "--pipeline", "nope"], { cwd }),
      runPanes(["watermark", "--pipeline", "nope"], { cwd }),
    ]);
    const known = await runPanes(["dlq", "list", "--pipeline", "sums"], { cwd });
    const unreadable = await runPanes(["dlq", "list", "--pipeline", "*"], { cwd });

    // Assess
    const lines = (stderr: string) => stderr.split("\n").filter((line) => line.trim() !== "");
    expect(misspelt.code).toBe(2);
    expect(lines(misspelt.stderr)).toEqual([
      'panes: --pipeline "cuonts": the local stack has no such pipeline; did you mean "counts"? (its pipelines: counts, sums)',
    ]);
    for (const answer of others) {
      expect(answer.code, answer.stderr).toBe(2);
      expect(lines(answer.stderr)).toEqual([
        'panes: --pipeline "nope": the local stack has no such pipeline (its pipelines: counts, sums)',
      ]);
      expect(answer.stdout).toBe("");
    }
    expect([known.code, unreadable.code]).toEqual([0, 0]);
    expect(known.stderr).toMatch(/^1 of 1 dead letter, newest first /m);
    expect(unreadable.stderr).toMatch(/^0 of 0 dead letters, newest first /m);
  });
});
