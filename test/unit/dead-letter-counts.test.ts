// Dead letters counted for the screen, the dashboard and `panes status`: reasons grouped by what they
// say (the reasons the ingest code itself writes, for different values of the same mistake), counts by
// pipeline checked against a brute-force count over random letters.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { countLetters, type LetterFacts, reasonGroup, totalOf } from "../../shared/core/dead-letters.ts";
import { decodeRecord } from "../../shared/core/ingest/plan.ts";
import { readPipelineEvent } from "../../shared/core/pipelines/events.ts";
import { parsePipelines } from "../../shared/core/pipelines/parse.ts";

const [pipeline] = parsePipelines({
  pipelines: [
    {
      name: "p",
      key: "host",
      eventTime: "ts",
      maxFutureSkew: "1m",
      window: { type: "tumbling", size: "1m" },
      aggregates: { avg: { avg: "value" }, n: { count: true } },
    },
  ],
});
if (!pipeline) throw new Error("no pipeline");
const NOW = Date.parse("2026-12-04T12:00:00Z");

function reasonOf(event: object): string {
  const read = readPipelineEvent(pipeline as NonNullable<typeof pipeline>, event, NOW);
  if (read.kind !== "invalid") throw new Error(`not invalid: ${JSON.stringify(event)}`);
  return read.reason;
}

const unreadable = (text: string) => {
  const decoded = decodeRecord(new TextEncoder().encode(text));
  if (decoded.ok) throw new Error(`readable: ${text}`);
  return decoded.reason;
};

describe("reason groups", () => {
  it("put the same mistake with different values together, and different mistakes apart", () => {
    // each row: the same mistake made with different values
    const mistakes: string[][] = [
      [reasonOf({ host: "a", ts: NOW, value: "n/a" }), reasonOf({ host: "b", ts: NOW, value: null }), reasonOf({ host: "c", ts: NOW })],
      [reasonOf({ ts: NOW, value: 1 }), reasonOf({ host: "", ts: NOW, value: 1 }), reasonOf({ host: { a: 1 }, ts: NOW, value: 1 })],
      [reasonOf({ host: "a", ts: "yesterday", value: 1 }), reasonOf({ host: "a", ts: true, value: 1 })],
      [reasonOf({ host: "a", ts: "2026-13-01T00:00:00Z", value: 1 }), reasonOf({ host: "a", ts: "2026-02-30T00:00:00Z", value: 1 })],
      [reasonOf({ host: "a", ts: NOW + 3_600_000, value: 1 }), reasonOf({ host: "a", ts: NOW + 7_200_000, value: 2 })],
      [unreadable("{oops"), unreadable('{"a": 1,,}'), unreadable("not json")],
      [unreadable("[1, 2]"), unreadable("42")],
    ];
    const groups = mistakes.map((reasons) => new Set(reasons.map(reasonGroup)));
    for (const [i, group] of groups.entries()) expect(group.size, `${mistakes[i]?.join(" | ")}`).toBe(1);
    const distinct = new Set(groups.map((g) => [...g][0]));
    expect(distinct.size).toBe(mistakes.length);
    // what they read like: the field named, the value left out
    expect([...(groups[0] ?? [])][0]).toBe('field "value" (aggregate "avg") must be a finite number');
    expect([...(groups[1] ?? [])][0]).toBe('key field "host" must be a non-empty string or a number');
    expect([...(groups[5] ?? [])][0]).toBe("record data is not JSON");
  });
});

describe("counting letters", () => {
  const letter: fc.Arbitrary<LetterFacts> = fc.record({
    kind: fc.constantFrom("invalid" as const, "late" as const),
    pipeline: fc.constantFrom("a", "b", "*"),
    reason: fc.constantFrom(
      'field "v" must be a finite number, got "x"',
      'field "v" must be a finite number, got null',
      "record data is not JSON: at 3",
    ),
    acceptedBy: fc.subarray(["a", "b"]),
  });

  it("counts each pipeline's letters, late ones split by whether their own pipeline took the event, as a brute-force count does", () => {
    fc.assert(
      fc.property(fc.array(letter, { maxLength: 60 }), (letters) => {
        const counts = countLetters(letters, 10);
        for (const name of ["a", "b", "*"]) {
          const own = letters.filter((l) => l.pipeline === name);
          const got = counts.get(name);
          if (own.length === 0) {
            expect(got).toBeUndefined();
            continue;
          }
          expect(got?.invalid).toBe(own.filter((l) => l.kind === "invalid").length);
          expect(got?.late).toBe(own.filter((l) => l.kind === "late").length);
          expect(got?.partlyLate).toBe(own.filter((l) => l.kind === "late" && (l.acceptedBy ?? []).includes(name)).length);
          const finite = own.filter((l) => l.kind === "invalid" && l.reason.startsWith("field")).length;
          const json = own.filter((l) => l.kind === "invalid" && l.reason.startsWith("record")).length;
          const expected = [
            { reason: 'field "v" must be a finite number', count: finite },
            { reason: "record data is not JSON", count: json },
          ]
            .filter((r) => r.count > 0)
            .sort((x, y) => y.count - x.count || x.reason.localeCompare(y.reason));
          expect(got?.reasons).toEqual(expected);
        }
        expect(totalOf(counts.values())).toEqual({
          invalid: letters.filter((l) => l.kind === "invalid").length,
          late: letters.filter((l) => l.kind === "late").length,
          partlyLate: letters.filter((l) => l.kind === "late" && (l.acceptedBy ?? []).includes(l.pipeline)).length,
        });
      }),
    );
  });

  it("keeps the most frequent reasons only", () => {
    const letters = Array.from({ length: 8 }, (_, i) =>
      Array.from({ length: i + 1 }, () => ({ kind: "invalid" as const, pipeline: "a", reason: `r${i}` })),
    ).flat();
    expect(countLetters(letters, 3).get("a")?.reasons).toEqual([
      { reason: "r7", count: 8 },
      { reason: "r6", count: 7 },
      { reason: "r5", count: 6 },
    ]);
  });
});
