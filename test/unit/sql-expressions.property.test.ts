// Scalar SQL expressions (issue 22) against DuckDB as the reference: random well-typed expressions over
// random rows with NULLs, evaluated by Panes and by DuckDB (in process, from npm). Where Flink and DuckDB
// differ, the expression is written for DuckDB so that it asks what Flink would: integer division
// truncates (`//`), CAST to a whole number truncates, division by zero and an invalid CAST fail the row.
// Whole numbers beyond ±2^53 fail in Panes (documented); such rows are accepted as failing.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EvaluationError, type Expr, evaluate, type SqlType, typeOf, typesOf } from "../../shared/core/sql/expressions.ts";
import { COLUMNS, duck, exprOf, type Outcome, openReference, type Row, rowArb } from "../helpers/sql-expressions.ts";

function ours(e: Expr, types: (e: Expr) => SqlType, row: Row): Outcome {
  try {
    return { value: evaluate(e, (name) => row[name] ?? null, types) };
  } catch (error) {
    if (error instanceof EvaluationError) return { error: error.message };
    throw error;
  }
}

let reference: Awaited<ReturnType<typeof openReference>>;
beforeAll(async () => {
  reference = await openReference();
});
afterAll(() => reference?.close());

function agree(mine: Outcome, theirs: Outcome): boolean {
  if ("error" in mine && "error" in theirs) return true;
  if ("error" in mine) {
    // beyond ±2^53 Panes fails the event; DuckDB's BIGINT goes on to 2^63
    return (
      /beyond the whole numbers/.test(mine.error) &&
      "value" in theirs &&
      typeof theirs.value === "number" &&
      !Number.isSafeInteger(theirs.value)
    );
  }
  if ("error" in theirs) return false;
  const a = mine.value;
  const b = theirs.value;
  if (typeof a === "number" && typeof b === "number") return a === b || Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  return a === b;
}

describe("SQL expressions evaluate as a SQL engine does (DuckDB, asked Flink's questions)", () => {
  for (const type of ["BOOLEAN", "INT", "DOUBLE", "STRING"] as const) {
    it(`${type} expressions with NULLs, three-valued logic and failing rows`, async () => {
      await fc.assert(
        fc.asyncProperty(exprOf(type, 3), fc.array(rowArb, { minLength: 1, maxLength: 4 }), async (expr, rows) => {
          const columns = (name: string) => COLUMNS[name];
          expect(["NULL", type]).toContain(typeOf(expr, columns));
          const types = typesOf(expr, columns);
          const sql = duck(expr, types);
          for (const row of rows) {
            const mine = ours(expr, types, row);
            const theirs = await reference.evaluate(sql, row);
            if (!agree(mine, theirs)) {
              throw new Error(`${sql}\nrow ${JSON.stringify(row)}\nPanes ${JSON.stringify(mine)}\nDuckDB ${JSON.stringify(theirs)}`);
            }
          }
        }),
        { numRuns: Number(process.env.SQL_RUNS ?? 300) },
      );
    }, 600_000);
  }
});
