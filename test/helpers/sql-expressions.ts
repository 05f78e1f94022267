// Random well-typed SQL expressions over a few columns of each type, and rows for them with NULLs: the
// generators of the expression tests (issue 22).
import { DuckDBInstance } from "@duckdb/node-api";
import fc from "fast-check";
import type { ArithmeticOp, ComparisonOp, Expr, SqlType, SqlValue } from "../../shared/core/sql/expressions.ts";

export const at = { line: 1, column: 1 };
export const COLUMNS: Record<string, SqlType> = { i1: "INT", i2: "INT", d1: "DOUBLE", s1: "STRING", s2: "STRING", b1: "BOOLEAN" };
const columnsOf = (t: SqlType) => Object.keys(COLUMNS).filter((c) => COLUMNS[c] === t);

export const texts = fc.stringMatching(/^[ab1%_-]{0,4}$/);
const nullable = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null, freq: 4 });
export const rowArb = fc.record({
  i1: nullable(fc.integer({ min: -20, max: 20 })),
  i2: nullable(fc.integer({ min: -3, max: 3 })),
  d1: nullable(fc.integer({ min: -400, max: 400 }).map((n) => n / 8)),
  s1: nullable(texts),
  s2: nullable(fc.constantFrom("1", "-2", "12", "a", "1.5", "ab", "")),
  b1: nullable(fc.boolean()),
});
export type Row = Record<string, SqlValue>;

const lit = (value: SqlValue, type: SqlType): Expr => ({ at, kind: "literal", value, type });

/** A random expression of the given type, at most `depth` levels deep. */
export function exprOf(type: "INT" | "DOUBLE" | "STRING" | "BOOLEAN", depth: number): fc.Arbitrary<Expr> {
  const column = fc.constantFrom(...columnsOf(type)).map((name): Expr => ({ at, kind: "column", name }));
  // a NULL is typed, as Flink asks (`CAST(NULL AS INT)`)
  const leaves: fc.Arbitrary<Expr>[] = [column, fc.constant<Expr>({ at, kind: "cast", operand: lit(null, "NULL"), to: type })];
  if (type === "INT") leaves.push(fc.integer({ min: -5, max: 9 }).map((n) => lit(n, "INT")));
  if (type === "DOUBLE") leaves.push(fc.integer({ min: -40, max: 40 }).map((n) => lit(n / 4, "DOUBLE")));
  if (type === "STRING") leaves.push(texts.map((s) => lit(s, "STRING")));
  if (type === "BOOLEAN") leaves.push(fc.boolean().map((b) => lit(b, "BOOLEAN")));
  if (depth <= 0) return fc.oneof(...leaves);
  const sub = (t: "INT" | "DOUBLE" | "STRING" | "BOOLEAN") => exprOf(t, depth - 1);
  const numeric = fc.oneof(sub("INT"), sub("DOUBLE"));
  const branches: fc.Arbitrary<Expr>[] = [
    // CASE and COALESCE of the type itself
    fc
      .tuple(fc.array(fc.tuple(sub("BOOLEAN"), sub(type)), { minLength: 1, maxLength: 2 }), fc.option(sub(type), { nil: undefined }))
      .map(([whens, otherwise]): Expr => ({ at, kind: "case", whens: whens.map(([when, then]) => ({ when, result: then })), otherwise })),
    fc.array(sub(type), { minLength: 1, maxLength: 3 }).map((args): Expr => ({ at, kind: "call", name: "COALESCE", args })),
  ];
  if (type === "INT" || type === "DOUBLE") {
    const operand = type === "INT" ? sub("INT") : numeric;
    branches.push(
      fc
        .tuple(fc.constantFrom<ArithmeticOp>("+", "-", "*", "/", "%"), operand, type === "INT" ? sub("INT") : sub("DOUBLE"))
        .map(([op, left, right]): Expr => ({ at, kind: "arithmetic", op, left, right })),
      sub(type).map((operand): Expr => ({ at, kind: "negate", operand })),
      sub(type).map((a): Expr => ({ at, kind: "call", name: "ABS", args: [a] })),
    );
  }
  if (type === "INT") {
    branches.push(
      fc.oneof(sub("DOUBLE"), sub("STRING"), sub("BOOLEAN")).map((operand): Expr => ({ at, kind: "cast", operand, to: "INT" })),
    );
  }
  if (type === "DOUBLE") branches.push(sub("INT").map((operand): Expr => ({ at, kind: "cast", operand, to: "DOUBLE" })));
  if (type === "STRING") {
    branches.push(
      fc.tuple(sub("STRING"), sub("STRING")).map(([left, right]): Expr => ({ at, kind: "concat", left, right })),
      fc.tuple(fc.constantFrom("UPPER", "LOWER" as const), sub("STRING")).map(([name, a]): Expr => ({ at, kind: "call", name, args: [a] })),
      fc.oneof(sub("INT"), sub("BOOLEAN")).map((operand): Expr => ({ at, kind: "cast", operand, to: "STRING" })),
    );
  }
  if (type === "BOOLEAN") {
    const comparable = fc.oneof(
      fc.tuple(numeric, numeric),
      fc.tuple(sub("STRING"), sub("STRING")),
      fc.tuple(sub("BOOLEAN"), sub("BOOLEAN")),
    );
    branches.push(
      fc
        .tuple(fc.constantFrom<ComparisonOp>("=", "<>", "<", "<=", ">", ">="), comparable)
        .map(([op, [left, right]]): Expr => ({ at, kind: "compare", op, left, right })),
      fc
        .tuple(fc.constantFrom("and", "or" as const), fc.array(sub("BOOLEAN"), { minLength: 2, maxLength: 3 }))
        .map(([kind, operands]): Expr => ({ at, kind, operands })),
      sub("BOOLEAN").map((operand): Expr => ({ at, kind: "not", operand })),
      fc
        .tuple(fc.oneof(sub("INT"), sub("STRING")), fc.boolean())
        .map(([operand, negated]): Expr => ({ at, kind: "isNull", operand, negated })),
      fc
        .tuple(
          fc.oneof(
            fc.tuple(sub("INT"), fc.array(sub("INT"), { minLength: 1, maxLength: 3 })),
            fc.tuple(sub("STRING"), fc.array(sub("STRING"), { minLength: 1, maxLength: 3 })),
          ),
          fc.boolean(),
        )
        .map(([[operand, list], negated]): Expr => ({ at, kind: "in", operand, list, negated })),
      fc
        .tuple(numeric, numeric, numeric, fc.boolean())
        .map(([operand, low, high, negated]): Expr => ({ at, kind: "between", operand, low, high, negated })),
      fc
        .tuple(
          sub("STRING"),
          fc.oneof(
            texts.map((s) => lit(s, "STRING")),
            sub("STRING"),
          ),
          fc.boolean(),
        )
        .map(([operand, pattern, negated]): Expr => ({ at, kind: "like", operand, pattern, negated })),
      fc
        .tuple(sub("STRING"), fc.stringMatching(/^([ab%_]|![%_!])*$/), fc.boolean())
        .map(([operand, pattern, negated]): Expr => ({ at, kind: "like", operand, pattern: lit(pattern, "STRING"), escape: "!", negated })),
    );
  }
  return fc.oneof({ depthSize: "small" }, ...leaves, ...branches);
}

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** The expression in DuckDB's SQL, asking what Flink would (see the header). */
export function duck(e: Expr, types: (e: Expr) => SqlType): string {
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

export type Outcome = { value: SqlValue } | { error: string };

/**
 * DuckDB in process, as the reference: `evaluate(sql, row)` runs `SELECT sql` over one row of the
 * COLUMNS (and typed NULL columns for `null_<type>`), giving its value or its error.
 */
export async function openReference(): Promise<{ evaluate(sql: string, row: Row): Promise<Outcome>; close(): void }> {
  const db = await DuckDBInstance.create(":memory:");
  const connection = await db.connect();
  return {
    async evaluate(sql, row) {
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
    },
    close() {
      connection.closeSync();
      db.closeSync();
    },
  };
}
