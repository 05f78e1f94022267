// What the `panes` command says, as pure functions: counts with their nouns, the dead-letter line of
// `npm start`'s footer (from letters the real planner makes), and an unknown --pipeline's usage error.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { describeDeadLetterCounts } from "../../shared/core/dead-letters.ts";
import { planBatch } from "../../shared/core/ingest/plan.ts";
import type { StreamRecord } from "../../shared/core/types.ts";
import { CliError, checkPipelineName } from "../../tools/cli/connection.ts";
import { countDeadLetters } from "../../tools/cli/dead-letters.ts";
import { unknownOptionIn } from "../../tools/cli/program.ts";
import { counted } from "../../tools/local/plural.ts";
import { pipeline } from "../helpers/builders.ts";

const T0 = Date.parse("2026-03-01T00:00:00Z");
const MINUTE = 60_000;

const recordOf = (n: number, payload: object | string): StreamRecord => ({
  shardId: "shardId-000000000000",
  sequenceNumber: `4959${String(n).padStart(52, "0")}`,
  partitionKey: "a",
  data: Buffer.from(typeof payload === "string" ? payload : JSON.stringify(payload)),
  arrivedAt: T0,
});

describe("counts in messages", () => {
  it("says one of a noun in the singular and any other count in the plural", () => {
    expect([0, 1, 2, 1000].map((n) => counted(n, "window"))).toEqual(["0 windows", "1 window", "2 windows", "1000 windows"]);
    expect([1, 3].map((n) => counted(n, "batch", "batches"))).toEqual(["1 batch", "3 batches"]);
    expect(counted(1, "dead letter")).toBe("1 dead letter");
  });
});

describe("the dead-letter line of npm start's footer", () => {
  it("tells events late for every window (dropped) from events late for some windows only (counted in the others)", () => {
    // Prepare: 10-minute windows sliding by a minute; the watermark at T0 + 10 min
    const sliding = pipeline({ name: "p", window: { type: "sliding", size: "10m", slide: "1m" } });
    const plan = planBatch(
      [sliding],
      [
        recordOf(1, { host: "a", ts: T0 - 5 * MINUTE }), // every window ended before the watermark
        recordOf(2, { host: "a", ts: T0 + 5 * MINUTE }), // windows from T0 - 4 min ended; later ones take it
        recordOf(3, { ts: T0 + 5 * MINUTE }), // no key: invalid
        recordOf(4, { host: "a", ts: T0 + 15 * MINUTE }), // on time
      ],
      new Map([["p", T0 + 10 * MINUTE]]),
      T0,
    );
    const letters = [
      ...plan.deadLetters,
      ...[...plan.tooLate, ...plan.panes].flatMap(({ letters: byPosition }) => [...byPosition.values()]),
    ];

    // Act
    const counts = countDeadLetters(letters);

    // Assess
    expect(letters.map((l) => l.kind).sort()).toEqual(["invalid", "late", "late"]);
    expect(counts).toEqual({ invalid: 1, late: 2, partlyLate: 1 });
    expect(describeDeadLetterCounts(counts)).toBe(
      "dead letters (all pipelines): 1 invalid, 2 late (1 too late for every window, dropped; 1 for some windows only, counted in the others)",
    );
    expect(describeDeadLetterCounts({ invalid: 40, late: 70, partlyLate: 0 })).toBe(
      "dead letters (all pipelines): 40 invalid, 70 late (too late for every window, dropped)",
    );
    expect(describeDeadLetterCounts({ invalid: 0, late: 3, partlyLate: 3 })).toBe(
      "dead letters (all pipelines): 0 invalid, 3 late (too late for some windows only, counted in the others)",
    );
    expect(describeDeadLetterCounts({ invalid: 2, late: 0, partlyLate: 0 })).toBe("dead letters (all pipelines): 2 invalid, 0 late");
  });

  it("is the line the README quotes", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const quoted = readme.match(/`(dead letters \(all pipelines\): (\d+) invalid, (\d+) late[^`]*)`/);
    expect(quoted, "the README quotes the dead-letter line").not.toBeNull();
    const [, line, invalid, late] = quoted as RegExpMatchArray;
    const partlyLate = Number(line?.match(/; (\d+) for some windows only/)?.[1] ?? 0);
    expect(describeDeadLetterCounts({ invalid: Number(invalid), late: Number(late), partlyLate })).toBe(line);
  });
});

describe("an unknown --pipeline", () => {
  const local = { pipelines: ["cpu-avg-5m", "mem-max-60m"], pipelinesOf: "the local stack" };

  it("is a usage error naming the known pipelines, with a did-you-mean when one is close", () => {
    const refusal = (given: string) => {
      try {
        checkPipelineName(given, local);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(refusal("cpu-avg-5")).toBeInstanceOf(CliError);
    expect(refusal("cpu-avg-5")).toMatchObject({
      exitCode: 2,
      message:
        '--pipeline "cpu-avg-5": the local stack has no such pipeline; did you mean "cpu-avg-5m"? (its pipelines: cpu-avg-5m, mem-max-60m)',
    });
    expect(refusal("nope")).toMatchObject({
      exitCode: 2,
      message: '--pipeline "nope": the local stack has no such pipeline (its pipelines: cpu-avg-5m, mem-max-60m)',
    });
  });

  it("passes a known name, an accepted extra name, and anything when the pipelines are not known", () => {
    expect(() => checkPipelineName("mem-max-60m", local)).not.toThrow();
    expect(() => checkPipelineName("*", local, ["*"])).not.toThrow();
    expect(() => checkPipelineName(undefined, local)).not.toThrow();
    expect(() => checkPipelineName("nope", { pipelines: local.pipelines })).not.toThrow();
    expect(() => checkPipelineName("nope", {})).not.toThrow();
  });
});

describe("an option the command does not take", () => {
  it("is named, with a did-you-mean, before a required option it misspells reads as missing", () => {
    expect(unknownOptionIn(["results", "--pipline", "x"])?.message).toBe("unknown option '--pipline' (did you mean --pipeline?)");
    expect(unknownOptionIn(["dlq", "redrive", "--dryrun"])?.message).toBe("unknown option '--dryrun' (did you mean --dry-run?)");
    expect(unknownOptionIn(["produce", "--stream", "s", "--nothing-like-it"])?.message).toBe("unknown option '--nothing-like-it'");
    expect(unknownOptionIn(["results", "--pipline", "x"])?.command.name()).toBe("results");
  });

  it("is nothing when every option is the command's (values, negations, --opt=value and what follows -- included)", () => {
    expect(unknownOptionIn(["results", "--pipeline=x", "--key", "--weird-key", "--json"])).toBeUndefined();
    expect(unknownOptionIn(["start", "--no-demo", "--no-dashboard", "--shards", "1"])).toBeUndefined();
    expect(unknownOptionIn(["produce", "--stream", "s", "--", "--file-named-like-an-option"])).toBeUndefined();
    expect(unknownOptionIn(["results", "--help"])).toBeUndefined();
    expect(unknownOptionIn(["nope", "--x"])).toBeUndefined();
  });
});
