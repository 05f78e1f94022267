// Flink SQL expressions through dt-sql-parser (issue 22): what parses is the expression written (a
// random expression printed and parsed back is the same tree), and what Panes cannot run is refused in
// one line naming the construct, its line and its column.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Expr, formatExpression } from "../../shared/core/sql/expressions.ts";
import { parseExpression, SqlSyntaxError } from "../../shared/core/sql/parse-expression.ts";
import { exprOf } from "../helpers/sql-expressions.ts";

/** The tree without positions, AND / OR flattened and negative literals folded: what the text says. */
function shape(e: Expr): unknown {
  const { at: _at, ...rest } = e;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) out[k] = v.map((x) => (typeof x === "object" && x !== null && "kind" in x ? shape(x as Expr) : shapeWhen(x)));
    else if (typeof v === "object" && v !== null && "kind" in v) out[k] = shape(v as Expr);
    else out[k] = v;
  }
  if ((e.kind === "and" || e.kind === "or") && Array.isArray(out.operands)) {
    out.operands = (out.operands as Record<string, unknown>[]).flatMap((o) => (o.kind === e.kind ? (o.operands as unknown[]) : [o]));
  }
  const operand = out.operand as { kind?: string; value?: unknown; type?: string } | undefined;
  if (e.kind === "negate" && operand?.kind === "literal" && typeof operand.value === "number") {
    return { kind: "literal", value: operand.value === 0 ? 0 : -operand.value, type: operand.type };
  }
  return out;
}
const shapeWhen = (w: unknown) => {
  const { when, result } = w as { when: Expr; result: Expr };
  return { when: shape(when), result: shape(result) };
};

function refusal(text: string): string {
  try {
    parseExpression(text);
  } catch (error) {
    if (error instanceof SqlSyntaxError) return `${error.at.line}:${error.at.column}: ${error.message}`;
    throw error;
  }
  throw new Error(`${text} parsed`);
}

describe("SQL expressions parse to what they say", () => {
  for (const type of ["BOOLEAN", "INT", "DOUBLE", "STRING"] as const) {
    it(`${type}: a random expression printed and parsed back is the same tree`, () => {
      fc.assert(
        fc.property(exprOf(type, 3), (expr) => {
          const text = formatExpression(expr);
          expect(shape(parseExpression(text)), text).toEqual(shape(expr));
        }),
        { numRuns: 200 },
      );
    });
  }

  it("reads Flink's spellings: != and <>, IS TRUE, backquoted and nested names, + signs, mixed case keywords", () => {
    expect(formatExpression(parseExpression("a != 1 and `order`.`id` <> +2"))).toBe("((`a` <> 1) AND (`order`.`id` <> 2))");
    expect(formatExpression(parseExpression("x is not true"))).toBe("(NOT ((`x` IS NOT NULL) AND (`x` = TRUE)))");
    expect(formatExpression(parseExpression("`my col` Like 'a!%%' escape '!'"))).toBe("(`my col` LIKE 'a!%%' ESCAPE '!')");
    expect(formatExpression(parseExpression("CASE status WHEN 500 THEN 'e' ELSE 'ok' END"))).toBe(
      "CASE `status` WHEN 500 THEN 'e' ELSE 'ok' END",
    );
    expect(parseExpression("3000000000")).toMatchObject({ kind: "literal", value: 3e9, type: "BIGINT" });
    expect(parseExpression("'it''s'")).toMatchObject({ kind: "literal", value: "it's", type: "STRING" });
  });

  it("refuses what Panes cannot run in one line naming it, its line and its column", () => {
    expect(refusal("a RLIKE 'x'")).toBe("1:3: this expression is not supported: RLIKE 'x'");
    expect(refusal("UPPER(a) = 'X' AND SIGN(b) > 1")).toBe("1:20: the function SIGN is not supported: SIGN(b)");
    expect(refusal("a IN (SELECT b FROM c)")).toBe("1:3: IN with a subquery is not supported: IN (SELECT b FROM c)");
    expect(refusal("a BETWEEN SYMMETRIC 1 AND 2")).toBe("1:3: BETWEEN SYMMETRIC is not supported: BETWEEN SYMMETRIC 1 AND 2");
    expect(refusal("a & 1 = 1")).toBe("1:1: the operator & is not supported: a & 1");
    expect(refusal("CAST(a AS ARRAY<INT>)")).toBe(
      "1:11: the type ARRAY<INT> is not supported (BOOLEAN, INT, BIGINT, DOUBLE, DECIMAL, STRING, TIMESTAMP are)",
    );
    expect(refusal("a,\n b")).toMatch(/^1:2: /);
    expect(refusal("x LIKE 'a' ESCAPE '!!'")).toBe("1:3: a LIKE escape must be one character, got '!!'");
    expect(refusal("a = = 1")).toMatch(/^1:5: /);
    // a column named like a Flink keyword needs backquotes, as in Flink; the message says which
    expect(refusal("value >= 50 AND host IN ('a') OR value < 2")).toBe(
      "1:1: value is a reserved word in Flink SQL: write it in backquotes, `value`",
    );
    // a function whose name the grammar keeps as a keyword is refused as the function, not as a word to backquote
    expect(refusal("v > 1 AND SQRT(v) > 2")).toBe("1:11: the function SQRT is not supported: SQRT(…)");
    expect(refusal("timestamp > 1 AND `value` < 2 AND value > 0")).toMatch(
      /^1:\d+: timestamp is a reserved word in Flink SQL: write it in backquotes, `timestamp`; value is a reserved word in Flink SQL: write it in backquotes, `value` \(/,
    );
    expect(formatExpression(parseExpression("`value` >= 50 AND `timestamp` > 1"))).toBe("((`value` >= 50) AND (`timestamp` > 1))");
    expect(refusal("a = 1 AND\n  b = = 2")).toMatch(/^2:7: /);
  });

  it("takes as names the words only dt-sql-parser reserves, and names the column and text as written after them", () => {
    // `comment` is a name in Flink SQL but a keyword of the grammar: backquoted for the parser, never for the user
    expect(formatExpression(parseExpression("comment = 'x' AND n > 1"))).toBe("((`comment` = 'x') AND (`n` > 1))");
    const text = "comment = 'x' AND SIGN(b) > 1";
    expect(refusal(text)).toBe(`1:${text.indexOf("SIGN") + 1}: the function SIGN is not supported: SIGN(b)`);
    expect(refusal("a = 1 AND\n comment <> 'x' AND comment LIKE 'y%' AND SIGN(b) > 1")).toBe(
      `2:${" comment <> 'x' AND comment LIKE 'y%' AND ".length + 1}: the function SIGN is not supported: SIGN(b)`,
    );
  });
});
