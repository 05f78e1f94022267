// Two edges a review found: a ranking partitioned by one column of a composite key keys its NULL
// partition and its empty-text partition apart (they shared the key "", one ledger entry); and ROUND to
// a place far above or below a number's digits answers at once, without building a power of ten of
// billions of digits (an event's places could stall a shard).
import { describe, expect, it } from "vitest";
import { keyColumnValues } from "../../shared/core/pipelines/project.ts";
import { type RankCandidates, rankedResult } from "../../shared/core/pipelines/rank.ts";
import { EvaluationError, roundHalfUp } from "../../shared/core/sql/expressions.ts";

const rank = { n: 3, partition: ["region"], order: [{ field: "n", desc: true }], rownum: "rownum" };
const candidates = (region: string | null): RankCandidates => ({
  start: 0,
  end: 60_000,
  partition: [region],
  count: 1,
  rows: [{ key: JSON.stringify([region, "web-1"]), values: { region, host: "web-1", n: 1 } }],
});

describe("a ranking's key", () => {
  it("is the partition's JSON array when the partition is one column of a composite key: NULL and '' apart", () => {
    const composite = { columns: ["region", "host"] };
    const keys = [null, "", "eu", "null", '[""]'].map((r) => rankedResult("p", rank, candidates(r), 0, composite).key);
    expect(keys).toEqual(["[null]", '[""]', '["eu"]', '["null"]', '["[\\"\\"]"]']);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("is the bare value when the partition is the pipeline's one key column (whose empty text is refused): NULL is ''", () => {
    const single = { columns: ["region"], inRows: (key: string) => keyColumnValues({ key: "region", aggregates: [] }, key) };
    expect([null, "eu"].map((r) => rankedResult("p", rank, candidates(r), 0, single).key)).toEqual(["", "eu"]);
    // a row of a pipeline without a select list holds its key's columns first
    expect(rankedResult("p", rank, candidates("eu"), 0, single).values.rows).toEqual([{ region: "eu", host: "web-1", n: 1, rownum: 1 }]);
    // a declared key column shows as its type (it showed an INT key as text)
    const typed = { key: "id", aggregates: [], columns: { id: "INT" as const } };
    expect(keyColumnValues(typed, "42")).toEqual({ id: 42 });
    expect(keyColumnValues(typed, "")).toEqual({ id: null });
    expect(
      keyColumnValues({ key: ["id", "ok"], aggregates: [], columns: { id: "INT" as const, ok: "BOOLEAN" as const } }, "[7,true]"),
    ).toEqual({ id: 7, ok: true });
  });
});

describe("ROUND's places", () => {
  it("far above a number's digits give 0 at once, far below give the number; an overflow is no result", () => {
    // it threw RangeError (a BigInt of two billion digits), failing the batch of the event that asked
    expect(roundHalfUp(1.5, -2_000_000_000)).toBe(0);
    expect(roundHalfUp(-1e300, -400)).toBe(0);
    expect(roundHalfUp(1.5, 2_000_000_000)).toBe(1.5);
    expect(roundHalfUp(5e-324, 400)).toBe(5e-324);
    expect(() => roundHalfUp(1.7976931348623157e308, -308)).toThrow(EvaluationError);
    expect(roundHalfUp(1234.5, -2)).toBe(1200);
    expect(roundHalfUp(-2.5, 0)).toBe(-3);
  });
});
