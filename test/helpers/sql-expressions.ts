// Random well-typed SQL expressions over a few columns of each type, and rows for them with NULLs: the
// generators of the expression tests (issue 22).
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
