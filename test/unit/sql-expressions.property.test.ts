// Scalar SQL expressions (issue 22) against DuckDB as the reference: random well-typed expressions over
// random rows with NULLs, evaluated by Panes and by DuckDB (in process, from npm). Where Flink and DuckDB
// differ, the expression is written for DuckDB so that it asks what Flink would: integer division
// truncates (`//`), CAST to a whole number truncates, division by zero and an invalid CAST fail the row.
// Whole numbers beyond ±2^53 fail in Panes (documented); such rows are accepted as failing.
import { DuckDBInstance } from "@duckdb/node-api";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EvaluationError, type Expr, evaluate, type SqlType, type SqlValue, typeOf, typesOf } from "../../shared/core/sql/expressions.ts";
import { COLUMNS, exprOf, type Row, rowArb } from "../helpers/sql-expressions.ts";

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** The expression in DuckDB's SQL, asking what Flink would (see the header). */
function duck(e: Expr, types: (e: Expr) => SqlType): string {
  const d = (x: Expr) => duck(x, types);
  const exact = (x: Expr) => types(x) === "INT" || types(x) === "BIGINT";
  switch (e.kind) {
    case "literal":
      if (e.value === null) return "NULL";
      if (typeof e.value === "string") return quote(e.value);
      if (e.type === "DOUBLE") return `CAST(${e.value} AS DOUBLE)`;
      if (e.type === "INT") return `CAST(${e.value} AS BIGINT)`;
      return String(e.value).toUpperCase();
    case "column":
      return e.name;
    case "arithmetic": {
      // Flink checks its operands for NULL first: NULL / 0 is NULL
      const divisor =
        e.op === "/" || e.op === "%"
          ? `(CASE WHEN ${d(e.right)} = 0 AND ${d(e.left)} IS NOT NULL THEN error('division by zero') ELSE ${d(e.right)} END)`
          : d(e.right);
      const op = e.op === "/" && exact(e) ? "//" : e.op;
      return `(${d(e.left)} ${op} ${divisor})`;
    }
    case "negate":
      return `(- ${d(e.operand)})`;
    case "concat":
      return `(${d(e.left)} || ${d(e.right)})`;
    case "compare":
      return `(${d(e.left)} ${e.op} ${d(e.right)})`;
    case "and":
    case "or":
      return shortCircuit(e.kind, e.operands.map(d));
    case "not":
      return `(NOT ${d(e.operand)})`;
    case "isNull":
      return `(${d(e.operand)} IS ${e.negated ? "NOT " : ""}NULL)`;
    case "in": {
      const among = shortCircuit(
        "or",
        e.list.map((x) => `(${d(e.operand)} = ${d(x)})`),
      );
      return e.negated ? `(NOT ${among})` : among;
    }
    case "between": {
      const [a, low, high] = [d(e.operand), d(e.low), d(e.high)];
      return e.negated
        ? shortCircuit("or", [`(${a} < ${low})`, `(${a} > ${high})`])
        : shortCircuit("and", [`(${a} >= ${low})`, `(${a} <= ${high})`]);
    }
    case "like":
      return `(${d(e.operand)} ${e.negated ? "NOT " : ""}LIKE ${d(e.pattern)}${e.escape ? ` ESCAPE ${quote(e.escape)}` : ""})`;
    case "case":
      return `(CASE ${e.whens.map((w) => `WHEN ${d(w.when)} THEN ${d(w.result)}`).join(" ")}${e.otherwise ? ` ELSE ${d(e.otherwise)}` : ""} END)`;
    case "cast": {
      // a typed NULL as a column that holds NULL: DuckDB would fold a NULL constant and skip its other
      // operand, where Flink evaluates every operand (and fails on a bad CAST there)
      if (e.operand.kind === "literal" && e.operand.value === null) return `null_${e.to.toLowerCase()}`;
      const from = types(e.operand);
      const x = d(e.operand);
      if (e.to === "INT" && from === "DOUBLE") return `CAST(trunc(${x}) AS BIGINT)`;
      if (e.to === "INT" && from === "STRING")
        return `(CASE WHEN ${x} IS NULL THEN NULL WHEN regexp_full_match(trim(${x}), '[+-]?[0-9]+') THEN CAST(trim(${x}) AS BIGINT) ELSE error('invalid cast') END)`;
      if (e.to === "INT" && from === "BOOLEAN") return `CAST(${x} AS BIGINT)`;
      if (e.to === "STRING" && from === "BOOLEAN") return `upper(CAST(${x} AS VARCHAR))`;
      return `CAST(${x} AS ${e.to === "INT" ? "BIGINT" : e.to === "STRING" ? "VARCHAR" : e.to})`;
    }
    case "call":
      return `${e.name}(${e.args.map(d).join(", ")})`;
  }
}

/**
 * AND / OR as Flink evaluates them: left to right, stopping at the first FALSE (AND) or TRUE (OR). DuckDB
 * evaluates every operand of its AND, so the order is spelt out with CASE, which it evaluates lazily.
 */
function shortCircuit(kind: "and" | "or", operands: string[]): string {
  const [first, ...rest] = operands as [string, ...string[]];
  if (rest.length === 0) return first;
  const tail = shortCircuit(kind, rest);
  const stop = kind === "and" ? "FALSE" : "TRUE";
  return `(CASE WHEN ${first} = ${stop} THEN ${stop} WHEN ${tail} = ${stop} THEN ${stop} WHEN ${first} IS NULL OR ${tail} IS NULL THEN NULL ELSE ${kind === "and" ? "TRUE" : "FALSE"} END)`;
}

type Outcome = { value: SqlValue } | { error: string };

function ours(e: Expr, types: (e: Expr) => SqlType, row: Row): Outcome {
  try {
    return { value: evaluate(e, (name) => row[name] ?? null, types) };
  } catch (error) {
    if (error instanceof EvaluationError) return { error: error.message };
    throw error;
  }
}

let db: Awaited<ReturnType<typeof DuckDBInstance.create>>;
let connection: Awaited<ReturnType<(typeof db)["connect"]>>;

beforeAll(async () => {
  db = await DuckDBInstance.create(":memory:");
  connection = await db.connect();
});
afterAll(() => {
  connection?.closeSync();
  db?.closeSync();
});

async function reference(sql: string, row: Row): Promise<Outcome> {
  const values = Object.keys(COLUMNS)
    .map((c): string => {
      const v = row[c] ?? null;
      const type = COLUMNS[c] === "INT" ? "BIGINT" : COLUMNS[c] === "STRING" ? "VARCHAR" : COLUMNS[c];
      return `CAST(${v === null ? "NULL" : typeof v === "string" ? quote(v) : String(v).toUpperCase()} AS ${type}) AS ${c}`;
    })
    .concat([
      "CAST(NULL AS BIGINT) AS null_int",
      "CAST(NULL AS DOUBLE) AS null_double",
      "CAST(NULL AS VARCHAR) AS null_string",
      "CAST(NULL AS BOOLEAN) AS null_boolean",
    ])
    .join(", ");
  try {
    const reader = await connection.runAndReadAll(`SELECT ${sql} AS v FROM (SELECT ${values})`);
    const v = reader.getRowObjectsJS()[0]?.v;
    return { value: typeof v === "bigint" ? Number(v) : (v as SqlValue) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

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
            const theirs = await reference(sql, row);
            if (!agree(mine, theirs)) {
              throw new Error(`${sql}\nrow ${JSON.stringify(row)}\nPanes ${JSON.stringify(mine)}\nDuckDB ${JSON.stringify(theirs)}`);
            }
          }
        }),
        { numRuns: Number(process.env.SQL_RUNS ?? 300) },
      );
    }, 120_000);
  }
});
