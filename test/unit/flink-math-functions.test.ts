// ROUND, FLOOR, CEIL/CEILING, MOD (and %), POWER and ABS against Apache Flink's own assertions on them
// (ScalarFunctionsTest, SqlExpressionTest, DecimalTypeTest, MathFunctionsITCase), kept as data in
// test/conformance/flink-sql/math-functions.json: each case's SQL (Flink's, its test-row fields written as
// CASTs of their values to their declared types) is parsed, typed and evaluated as a pipeline's expression
// is, and must give the value Flink's test expects — a number within 1e-12 relative, or NULL. Every
// mismatch is collected, so one run shows them all. A listed difference is where Panes knowingly computes
// something other than Flink: it must still differ, so a fix shows up as a failure asking for the entry to go.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { evaluate, type SqlValue, typeOf } from "../../shared/core/sql/expressions.ts";
import { parseExpression } from "../../shared/core/sql/parse-expression.ts";

interface Source {
  repo: string;
  path: string;
  commit: string;
}

interface Case {
  source: number;
  test: string;
  sql: string;
  expected: number | null;
}

interface Difference {
  source: number;
  test: string;
  sql: string;
  /** Flink's value; NaN and the infinities, which JSON cannot hold, as their Java names. */
  expected: number | null | "NaN" | "Infinity" | "-Infinity";
  panes: string;
  explanation: string;
}

interface MathFunctionsFile {
  sources: Source[];
  cases: Case[];
  skipped: { source: number; test: string; sql: string; reason: string }[];
  differences: Difference[];
}

const FILE = join(import.meta.dirname, "../conformance/flink-sql/math-functions.json");
const data = JSON.parse(readFileSync(FILE, "utf8")) as MathFunctionsFile;

/** The expression's value as a pipeline computes it: no columns, every node typed as at load. */
function run(sql: string): SqlValue {
  const noColumns = () => undefined;
  const e = parseExpression(sql);
  typeOf(e, noColumns);
  return evaluate(
    e,
    () => null,
    (x) => typeOf(x, noColumns),
  );
}

/** Whether `actual` is Flink's `expected`: NULL as null, a number within 1e-12 relative (NaN as NaN). */
function matches(actual: SqlValue, expected: Difference["expected"]): boolean {
  if (expected === null) return actual === null;
  if (typeof actual !== "number") return false;
  const want = typeof expected === "number" ? expected : Number(expected);
  if (Number.isNaN(want)) return Number.isNaN(actual);
  if (!Number.isFinite(want)) return actual === want;
  return Math.abs(actual - want) <= 1e-12 * Math.max(Math.abs(want), Number.MIN_VALUE);
}

/** What Panes gives, for a message: the value, or the error it throws. */
function outcome(sql: string): { value?: SqlValue; error?: string } {
  try {
    return { value: run(sql) };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

describe("Flink's math function assertions", () => {
  it("name their sources and every case's source", () => {
    expect(data.sources.length).toBeGreaterThan(0);
    for (const s of data.sources) expect(s.commit).toMatch(/^[0-9a-f]{40}$/);
    const indices = [...data.cases, ...data.skipped, ...data.differences].map((c) => c.source);
    expect(indices.filter((i) => data.sources[i] === undefined)).toEqual([]);
  });

  it("give in Panes the values Flink's tests expect", () => {
    expect(data.cases.length).toBeGreaterThan(0);
    const mismatches = data.cases.flatMap((c) => {
      const got = outcome(c.sql);
      if (got.error === undefined && matches(got.value as SqlValue, c.expected)) return [];
      return [{ test: c.test, sql: c.sql, expected: c.expected, ...got }];
    });
    expect(mismatches).toEqual([]);
  });

  it("still differ where Panes is known to differ from Flink", () => {
    const fixed = data.differences.flatMap((d) => {
      const got = outcome(d.sql);
      return got.error === undefined && matches(got.value as SqlValue, d.expected) ? [{ test: d.test, sql: d.sql, ...got }] : [];
    });
    // a difference that agrees with Flink now belongs in `cases`
    expect(fixed).toEqual([]);
  });
});
