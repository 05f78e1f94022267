// The compiled form of an expression in a pipelines file (what the loader makes of `"where": "…"`, and
// what travels inside the function bundles): checked by shape here, by type against the pipeline's
// columns where the pipeline is checked. Pure.
import { z } from "zod";
import { CALL_NAMES, type Expr, type SqlType } from "./expressions.ts";

const position = z.strictObject({ line: z.number().int().min(1), column: z.number().int() });
const sqlType = z.enum(["BOOLEAN", "INT", "BIGINT", "DOUBLE", "STRING", "TIMESTAMP", "NULL"]) satisfies z.ZodType<SqlType>;

export const exprSchema: z.ZodType<Expr> = z.lazy(() =>
  z.discriminatedUnion("kind", [
    z.strictObject({
      at: position,
      kind: z.literal("literal"),
      value: z.union([z.number(), z.string(), z.boolean(), z.null()]),
      type: sqlType,
    }),
    z.strictObject({ at: position, kind: z.literal("column"), name: z.string().min(1) }),
    z.strictObject({
      at: position,
      kind: z.literal("arithmetic"),
      op: z.enum(["+", "-", "*", "/", "%"]),
      left: exprSchema,
      right: exprSchema,
    }),
    z.strictObject({ at: position, kind: z.literal("negate"), operand: exprSchema }),
    z.strictObject({ at: position, kind: z.literal("concat"), left: exprSchema, right: exprSchema }),
    z.strictObject({
      at: position,
      kind: z.literal("compare"),
      op: z.enum(["=", "<>", "<", "<=", ">", ">="]),
      left: exprSchema,
      right: exprSchema,
    }),
    z.strictObject({ at: position, kind: z.literal("and"), operands: z.array(exprSchema).min(1) }),
    z.strictObject({ at: position, kind: z.literal("or"), operands: z.array(exprSchema).min(1) }),
    z.strictObject({ at: position, kind: z.literal("not"), operand: exprSchema }),
    z.strictObject({ at: position, kind: z.literal("isNull"), operand: exprSchema, negated: z.boolean() }),
    z.strictObject({ at: position, kind: z.literal("in"), operand: exprSchema, list: z.array(exprSchema).min(1), negated: z.boolean() }),
    z.strictObject({
      at: position,
      kind: z.literal("between"),
      operand: exprSchema,
      low: exprSchema,
      high: exprSchema,
      negated: z.boolean(),
    }),
    z.strictObject({
      at: position,
      kind: z.literal("like"),
      operand: exprSchema,
      pattern: exprSchema,
      escape: z.string().length(1).optional(),
      negated: z.boolean(),
    }),
    z.strictObject({
      at: position,
      kind: z.literal("case"),
      operand: exprSchema.optional(),
      whens: z.array(z.strictObject({ when: exprSchema, result: exprSchema })).min(1),
      otherwise: exprSchema.optional(),
    }),
    z.strictObject({ at: position, kind: z.literal("cast"), operand: exprSchema, to: sqlType }),
    z.strictObject({
      at: position,
      kind: z.literal("call"),
      name: z.enum(CALL_NAMES),
      args: z.array(exprSchema),
    }),
  ]),
) as z.ZodType<Expr>;
