// Scalar SQL expressions as Flink SQL evaluates them, over one event: the WHERE and HAVING conditions,
// the computed values of a select list and the arguments of aggregates (issue 22). Pure.
//
// Types are checked once, when a pipelines file loads (`typeOf`): an expression Flink would refuse
// (comparing a STRING with an INT, adding a BOOLEAN) is refused there, naming its line and column.
// Evaluation then follows Flink's rules:
// - NULL: an operator or function with a NULL operand gives NULL (COALESCE, CASE, IS [NOT] NULL and the
//   three-valued AND / OR aside); a condition keeps an event only when it is TRUE.
// - Order: operands are evaluated left to right; AND stops at the first FALSE and OR at the first TRUE
//   (as Flink's generated code does), BETWEEN and IN as the AND / OR Calcite expands them to, CASE and
//   COALESCE at the first branch taken. It matters only for which events fail (a bad CAST not reached).
// - Exact numbers (INT, BIGINT, …) stay whole: `/` truncates toward zero, `%` takes the dividend's
//   sign; with a DOUBLE or DECIMAL operand the result is a DOUBLE.
// - What Flink fails a job for fails the one event instead (an EvaluationError, so the event is
//   dead-lettered with the reason): division by zero, an invalid CAST, a whole number past ±2^53.
// Where Panes departs from Flink: DECIMAL is computed as DOUBLE (binary floating point), and whole numbers
// are exact to 2^53 rather than wrapping at 2^31 / 2^63 (an event whose arithmetic leaves that range is
// dead-lettered, not given a wrapped value).

/** Where a construct starts in the source text: 1-based line and column. */
export interface Position {
  line: number;
  column: number;
}

/** The types an expression can have. TIMESTAMP values are epoch milliseconds. */
export type SqlType = "BOOLEAN" | "INT" | "BIGINT" | "DOUBLE" | "STRING" | "TIMESTAMP" | "NULL";

/** A value: JavaScript's own, with `null` for SQL's NULL. */
export type SqlValue = number | string | boolean | null;

export type ArithmeticOp = "+" | "-" | "*" | "/" | "%";
export type ComparisonOp = "=" | "<>" | "<" | "<=" | ">" | ">=";

export type Expr = { at: Position } & (
  | { kind: "literal"; value: SqlValue; type: SqlType }
  | { kind: "column"; name: string }
  | { kind: "arithmetic"; op: ArithmeticOp; left: Expr; right: Expr }
  | { kind: "negate"; operand: Expr }
  | { kind: "concat"; left: Expr; right: Expr }
  | { kind: "compare"; op: ComparisonOp; left: Expr; right: Expr }
  | { kind: "and" | "or"; operands: Expr[] }
  | { kind: "not"; operand: Expr }
  | { kind: "isNull"; operand: Expr; negated: boolean }
  | { kind: "in"; operand: Expr; list: Expr[]; negated: boolean }
  | { kind: "between"; operand: Expr; low: Expr; high: Expr; negated: boolean }
  | { kind: "like"; operand: Expr; pattern: Expr; escape?: string; negated: boolean }
  | { kind: "case"; operand?: Expr; whens: { when: Expr; result: Expr }[]; otherwise?: Expr }
  | { kind: "cast"; operand: Expr; to: SqlType }
  | { kind: "call"; name: CallName; args: Expr[] }
);

/** The scalar functions Panes computes (Flink's built-ins of those names). */
export const CALL_NAMES = ["COALESCE", "ABS", "UPPER", "LOWER", "POWER", "ROUND", "FLOOR", "CEIL", "CEILING", "MOD"] as const;
export type CallName = (typeof CALL_NAMES)[number];

/** An expression Flink would refuse, found when the pipelines file loads. */
export class SqlTypeError extends Error {
  override name = "SqlTypeError";
  constructor(
    readonly at: Position,
    message: string,
  ) {
    super(message);
  }
}

/** What makes one event fail where Flink would fail the job: the event is dead-lettered with this reason. */
export class EvaluationError extends Error {
  override name = "EvaluationError";
}

const EXACT = new Set<SqlType>(["INT", "BIGINT"]);
const NUMERIC = new Set<SqlType>(["INT", "BIGINT", "DOUBLE"]);
const isNumeric = (t: SqlType) => NUMERIC.has(t) || t === "NULL";

/** The wider of two numeric types (INT < BIGINT < DOUBLE). */
function widerNumeric(a: SqlType, b: SqlType): SqlType {
  if (a === "NULL") return b;
  if (b === "NULL") return a;
  if (a === "DOUBLE" || b === "DOUBLE") return "DOUBLE";
  if (a === "BIGINT" || b === "BIGINT") return "BIGINT";
  return "INT";
}

/** Two types a comparison, IN, BETWEEN, CASE or COALESCE may mix: the type they share, or undefined. */
export function commonType(a: SqlType, b: SqlType): SqlType | undefined {
  if (a === b) return a;
  if (a === "NULL") return b;
  if (b === "NULL") return a;
  if (NUMERIC.has(a) && NUMERIC.has(b)) return widerNumeric(a, b);
  return undefined;
}

/** The type of an expression over columns of these types, or a SqlTypeError naming what Flink would refuse. */
export function typeOf(expr: Expr, columns: (name: string) => SqlType | undefined, record?: WeakMap<Expr, SqlType>): SqlType {
  const type = (e: Expr) => typeOf(e, columns, record);
  const t = typeOfNode(expr, columns, type);
  record?.set(expr, t);
  return t;
}

function typeOfNode(expr: Expr, columns: (name: string) => SqlType | undefined, type: (e: Expr) => SqlType): SqlType {
  const need = (e: Expr, ok: (t: SqlType) => boolean, what: string): SqlType => {
    const t = type(e);
    if (!ok(t)) throw new SqlTypeError(e.at, `${what}, got ${t}`);
    return t;
  };
  const shared = (exprs: Expr[], what: string): SqlType => {
    let common: SqlType = "NULL";
    for (const e of exprs) {
      const t = type(e);
      const next = commonType(common, t);
      if (next === undefined) throw new SqlTypeError(e.at, `${what} mixes ${common} and ${t}; CAST one of them`);
      common = next;
    }
    return common;
  };
  const condition = (e: Expr) => need(e, (t) => t === "BOOLEAN" || t === "NULL", "a condition must be BOOLEAN");
  switch (expr.kind) {
    case "literal":
      return expr.type;
    case "column": {
      const t = columns(expr.name);
      if (t === undefined) throw new SqlTypeError(expr.at, `unknown column ${expr.name}`);
      return t;
    }
    case "arithmetic": {
      const left = need(expr.left, isNumeric, `${expr.op} takes numbers`);
      const right = need(expr.right, isNumeric, `${expr.op} takes numbers`);
      return widerNumeric(left, right) === "NULL" ? "INT" : widerNumeric(left, right);
    }
    case "negate": {
      const t = need(expr.operand, isNumeric, "unary - takes a number");
      return t === "NULL" ? "INT" : t;
    }
    case "concat":
      need(expr.left, (t) => t === "STRING" || t === "NULL", "|| joins strings");
      need(expr.right, (t) => t === "STRING" || t === "NULL", "|| joins strings");
      return "STRING";
    case "compare":
      shared([expr.left, expr.right], `${expr.op}`);
      return "BOOLEAN";
    case "and":
    case "or":
      for (const e of expr.operands) condition(e);
      return "BOOLEAN";
    case "not":
      condition(expr.operand);
      return "BOOLEAN";
    case "isNull":
      type(expr.operand);
      return "BOOLEAN";
    case "in":
      shared([expr.operand, ...expr.list], "IN");
      return "BOOLEAN";
    case "between":
      shared([expr.operand, expr.low, expr.high], "BETWEEN");
      return "BOOLEAN";
    case "like":
      need(expr.operand, (t) => t === "STRING" || t === "NULL", "LIKE matches a STRING");
      need(expr.pattern, (t) => t === "STRING" || t === "NULL", "a LIKE pattern must be a STRING");
      return "BOOLEAN";
    case "case": {
      if (expr.operand) shared([expr.operand, ...expr.whens.map((w) => w.when)], "CASE");
      else for (const w of expr.whens) condition(w.when);
      const results = [...expr.whens.map((w) => w.result), ...(expr.otherwise ? [expr.otherwise] : [])];
      return shared(results, "the results of CASE");
    }
    case "cast": {
      const from = type(expr.operand);
      const ok =
        from === "NULL" ||
        from === expr.to ||
        expr.to === "STRING" ||
        from === "STRING" ||
        (NUMERIC.has(from) && NUMERIC.has(expr.to)) ||
        (from === "BOOLEAN" && NUMERIC.has(expr.to)) ||
        (NUMERIC.has(from) && expr.to === "BOOLEAN");
      if (!ok) throw new SqlTypeError(expr.at, `cannot CAST ${from} AS ${expr.to}`);
      return expr.to;
    }
    case "call":
      switch (expr.name) {
        case "COALESCE":
          if (expr.args.length === 0) throw new SqlTypeError(expr.at, "COALESCE takes at least one argument");
          return shared(expr.args, "COALESCE");
        case "ABS": {
          if (expr.args.length !== 1) throw new SqlTypeError(expr.at, "ABS takes one argument");
          const t = need(expr.args[0] as Expr, isNumeric, "ABS takes a number");
          return t === "NULL" ? "INT" : t;
        }
        case "UPPER":
        case "LOWER":
          if (expr.args.length !== 1) throw new SqlTypeError(expr.at, `${expr.name} takes one argument`);
          need(expr.args[0] as Expr, (t) => t === "STRING" || t === "NULL", `${expr.name} takes a STRING`);
          return "STRING";
        case "FLOOR":
        case "CEIL":
        case "CEILING": {
          if (expr.args.length !== 1) throw new SqlTypeError(expr.at, `${expr.name} takes one argument`);
          const t = need(expr.args[0] as Expr, isNumeric, `${expr.name} takes a number`);
          return t === "NULL" ? "INT" : t;
        }
        case "ROUND": {
          // ROUND(x [, places]): of x's type, as Flink's (SqlFunctionUtils.sround)
          if (expr.args.length !== 1 && expr.args.length !== 2) throw new SqlTypeError(expr.at, "ROUND takes one or two arguments");
          const t = need(expr.args[0] as Expr, isNumeric, "ROUND takes a number");
          if (expr.args[1]) need(expr.args[1], (u) => EXACT.has(u) || u === "NULL", "ROUND's places are a whole number");
          return t === "NULL" ? "INT" : t;
        }
        case "MOD": {
          // exact numbers only, as Calcite types MOD
          if (expr.args.length !== 2) throw new SqlTypeError(expr.at, "MOD takes two arguments");
          const whole = (u: SqlType) => EXACT.has(u) || u === "NULL";
          const left = need(expr.args[0] as Expr, whole, "MOD takes whole numbers (INT, BIGINT)");
          const right = need(expr.args[1] as Expr, whole, "MOD takes whole numbers (INT, BIGINT)");
          const t = widerNumeric(left, right);
          return t === "NULL" ? "INT" : t;
        }
        case "POWER": {
          if (expr.args.length !== 2) throw new SqlTypeError(expr.at, "POWER takes two arguments");
          for (const arg of expr.args) need(arg, isNumeric, "POWER takes numbers");
          // as Flink types it (Java's Math.pow)
          return "DOUBLE";
        }
      }
  }
}

/** A whole number within ±2^53, or the reason it is not one. */
function whole(value: number, what: string): number {
  if (!Number.isSafeInteger(value))
    throw new EvaluationError(`${what} gives ${value}, beyond the whole numbers Panes computes exactly (±2^53)`);
  return value === 0 ? 0 : value; // no -0
}

function arithmetic(op: ArithmeticOp, a: number, b: number, exact: boolean): number {
  if ((op === "/" || op === "%") && b === 0) throw new EvaluationError(`division by zero (${a} ${op} 0)`);
  let r: number;
  switch (op) {
    case "+":
      r = a + b;
      break;
    case "-":
      r = a - b;
      break;
    case "*":
      r = a * b;
      break;
    case "/":
      r = exact ? Math.trunc(a / b) : a / b;
      break;
    case "%":
      r = a % b;
      break;
  }
  if (exact) return whole(r, `${a} ${op} ${b}`);
  if (!Number.isFinite(r)) throw new EvaluationError(`${a} ${op} ${b} is not a finite number`);
  return r === 0 ? 0 : r;
}

/**
 * ROUND as Flink's SqlFunctionUtils.sround: BigDecimal.valueOf(x).setScale(places, HALF_UP) — the
 * number's shortest decimal text rounded half away from zero at `places` digits after the point
 * (before it, for a negative `places`), exactly, in decimal.
 */
export function roundHalfUp(x: number, places: number): number {
  if (!Number.isFinite(x)) return x;
  const [mantissa = "0", exponent = "0"] = String(Math.abs(x)).toLowerCase().split("e");
  const [whole = "0", fraction = ""] = mantissa.split(".");
  // |x| = digits × 10^scale
  const digits = BigInt(`${whole}${fraction}`);
  const scale = Number(exponent) - fraction.length;
  const target = -Math.trunc(places);
  if (scale >= target) return x;
  // rounding at a place above every digit (a double has at most ~800 of them) gives 0: no power of 10 that large is built
  if (target - scale > String(digits).length + 1) return 0;
  const unit = 10n ** BigInt(target - scale);
  let kept = digits / unit;
  if ((digits % unit) * 2n >= unit) kept += 1n;
  const r = Number(`${kept}e${target}`) * Math.sign(x);
  // a rounding up past the largest double (ROUND(1.7e308, -308)) is no number a result holds
  if (!Number.isFinite(r)) throw new EvaluationError(`ROUND(${x}, ${places}) is not a finite number`);
  return r === 0 ? 0 : r;
}

/** Comparison of two non-NULL values of one type family: negative, zero or positive. */
function compare(a: Exclude<SqlValue, null>, b: Exclude<SqlValue, null>): number {
  if (typeof a === "number" && typeof b === "number") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b);
  // Java's String.compareTo: UTF-16 code units, as JavaScript's < does
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

const comparisons: Record<ComparisonOp, (c: number) => boolean> = {
  "=": (c) => c === 0,
  "<>": (c) => c !== 0,
  "<": (c) => c < 0,
  "<=": (c) => c <= 0,
  ">": (c) => c > 0,
  ">=": (c) => c >= 0,
};

const likeCache = new Map<string, RegExp>();

/** SQL LIKE as a regular expression: `%` any run, `_` one character, the escape character making either literal. */
export function likePattern(pattern: string, escapeChar?: string): RegExp {
  const cacheKey = `${escapeChar ?? ""}\u0000${pattern}`;
  const cached = likeCache.get(cacheKey);
  if (cached) return cached;
  let source = "";
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (escapeChar !== undefined && c === escapeChar) {
      const next = chars[i + 1];
      if (next === undefined || (next !== "%" && next !== "_" && next !== escapeChar)) {
        throw new EvaluationError(`LIKE pattern ${JSON.stringify(pattern)}: the escape character must precede %, _ or itself`);
      }
      source += next.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      i++;
    } else if (c === "%") source += "[^]*";
    else if (c === "_") source += "[^]";
    else source += c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  const regex = new RegExp(`^${source}$`, "u");
  if (likeCache.size < 1000) likeCache.set(cacheKey, regex);
  return regex;
}

/** Java's Double.toString, which Flink's CAST(DOUBLE AS STRING) gives: `1.0`, `0.001`, `1.0E7`, `1.5E-4`. */
export function javaDoubleString(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  const magnitude = Math.abs(value);
  if (magnitude >= 1e-3 && magnitude < 1e7) {
    const text = String(value);
    return text.includes(".") ? text : `${text}.0`;
  }
  const [mantissa, exponent] = value.toExponential().split("e") as [string, string];
  return `${mantissa.includes(".") ? mantissa : `${mantissa}.0`}E${Number(exponent)}`;
}

function castValue(value: Exclude<SqlValue, null>, from: SqlType, to: SqlType): SqlValue {
  if (to === "STRING") {
    if (typeof value === "boolean") return value ? "TRUE" : "FALSE";
    if (typeof value === "number")
      return from === "DOUBLE" ? javaDoubleString(value) : from === "TIMESTAMP" ? timestampString(value) : String(value);
    return value;
  }
  if (to === "BOOLEAN") {
    if (typeof value === "boolean") return value;
    if (typeof value === "number") return value !== 0;
    const text = value.trim().toUpperCase();
    if (text === "TRUE") return true;
    if (text === "FALSE") return false;
    throw new EvaluationError(`cannot CAST ${JSON.stringify(value)} AS BOOLEAN`);
  }
  if (to === "TIMESTAMP") {
    if (typeof value === "number") return value;
    const ms = Date.parse(`${String(value).trim().replace(" ", "T")}Z`);
    if (Number.isNaN(ms)) throw new EvaluationError(`cannot CAST ${JSON.stringify(value)} AS TIMESTAMP`);
    return ms;
  }
  // numbers
  let n: number;
  if (typeof value === "boolean") n = value ? 1 : 0;
  else if (typeof value === "number") n = value;
  else {
    const text = value.trim();
    n = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) ? Number(text) : Number.NaN;
    if (Number.isNaN(n) || (EXACT.has(to) && !/^[+-]?\d+$/.test(text))) {
      throw new EvaluationError(`cannot CAST ${JSON.stringify(value)} AS ${to}`);
    }
  }
  if (EXACT.has(to)) return whole(Math.trunc(n), `CAST(${n} AS ${to})`);
  return n;
}

function timestampString(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "");
}

/**
 * Evaluates an expression whose types `typeOf` accepted, reading columns from `row`. Throws an
 * EvaluationError where Flink would fail: the caller dead-letters the event with its message.
 */
export function evaluate(expr: Expr, row: (name: string) => SqlValue, types: (e: Expr) => SqlType): SqlValue {
  const ev = (e: Expr) => evaluate(e, row, types);
  switch (expr.kind) {
    case "literal":
      return expr.value;
    case "column":
      return row(expr.name);
    case "arithmetic": {
      const a = ev(expr.left);
      const b = ev(expr.right);
      if (a === null || b === null) return null;
      return arithmetic(expr.op, a as number, b as number, EXACT.has(types(expr)));
    }
    case "negate": {
      const a = ev(expr.operand);
      return a === null ? null : arithmetic("-", 0, a as number, EXACT.has(types(expr)));
    }
    case "concat": {
      const a = ev(expr.left);
      const b = ev(expr.right);
      return a === null || b === null ? null : `${a}${b}`;
    }
    case "compare": {
      const a = ev(expr.left);
      const b = ev(expr.right);
      if (a === null || b === null) return null;
      return comparisons[expr.op](compare(a, b));
    }
    case "and": {
      let unknown = false;
      for (const e of expr.operands) {
        const v = ev(e);
        if (v === false) return false;
        if (v === null) unknown = true;
      }
      return unknown ? null : true;
    }
    case "or": {
      let unknown = false;
      for (const e of expr.operands) {
        const v = ev(e);
        if (v === true) return true;
        if (v === null) unknown = true;
      }
      return unknown ? null : false;
    }
    case "not": {
      const v = ev(expr.operand);
      return v === null ? null : !v;
    }
    case "isNull":
      return (ev(expr.operand) === null) !== expr.negated;
    case "in": {
      // Calcite expands IN to a = x1 OR a = x2 …: elements evaluated in order, up to the first match
      const a = ev(expr.operand);
      let unknown = a === null;
      for (const e of expr.list) {
        const v = ev(e);
        if (a === null || v === null) unknown = true;
        else if (compare(a, v) === 0) return !expr.negated;
      }
      return unknown ? null : expr.negated;
    }
    case "between": {
      // a BETWEEN l AND h is a >= l AND a <= h (NOT BETWEEN: a < l OR a > h), short-circuited as Flink does
      const a = ev(expr.operand);
      const low = ev(expr.low);
      const above = a === null || low === null ? null : compare(a, low) >= 0;
      if (above === false) return expr.negated;
      const high = ev(expr.high);
      const below = a === null || high === null ? null : compare(a, high) <= 0;
      const inside = below === false ? false : above === null || below === null ? null : true;
      return inside === null ? null : inside !== expr.negated;
    }
    case "like": {
      const a = ev(expr.operand);
      const p = ev(expr.pattern);
      if (a === null || p === null) return null;
      return likePattern(String(p), expr.escape).test(String(a)) !== expr.negated;
    }
    case "case": {
      const subject = expr.operand ? ev(expr.operand) : undefined;
      for (const { when, result } of expr.whens) {
        const w = ev(when);
        const hit = expr.operand ? subject !== null && w !== null && compare(subject as Exclude<SqlValue, null>, w) === 0 : w === true;
        if (hit) return ev(result);
      }
      return expr.otherwise ? ev(expr.otherwise) : null;
    }
    case "cast": {
      const v = ev(expr.operand);
      return v === null ? null : castValue(v, types(expr.operand), expr.to);
    }
    case "call": {
      switch (expr.name) {
        case "COALESCE":
          for (const e of expr.args) {
            const v = ev(e);
            if (v !== null) return v;
          }
          return null;
        case "ABS": {
          const v = ev(expr.args[0] as Expr);
          return v === null ? null : arithmetic("+", 0, Math.abs(v as number), EXACT.has(types(expr)));
        }
        case "UPPER":
        case "LOWER": {
          const v = ev(expr.args[0] as Expr);
          if (v === null) return null;
          return expr.name === "UPPER" ? String(v).toUpperCase() : String(v).toLowerCase();
        }
        case "FLOOR":
        case "CEIL":
        case "CEILING": {
          const v = ev(expr.args[0] as Expr);
          if (v === null) return null;
          const r = expr.name === "FLOOR" ? Math.floor(v as number) : Math.ceil(v as number);
          return r === 0 ? 0 : r;
        }
        case "ROUND": {
          const v = ev(expr.args[0] as Expr);
          const places = expr.args[1] ? ev(expr.args[1]) : 0;
          if (v === null || places === null) return null;
          return roundHalfUp(v as number, places as number);
        }
        case "MOD": {
          const a = ev(expr.args[0] as Expr);
          const b = ev(expr.args[1] as Expr);
          if (a === null || b === null) return null;
          return arithmetic("%", a as number, b as number, true);
        }
        case "POWER": {
          const [a, b] = expr.args.map(ev);
          if (a === null || b === null || a === undefined || b === undefined) return null;
          const r = (a as number) ** (b as number);
          // NaN (a negative's root) or an overflow: no number a result can hold
          if (!Number.isFinite(r)) throw new EvaluationError(`POWER(${a}, ${b}) is not a finite number`);
          return r === 0 ? 0 : r;
        }
      }
    }
  }
}

/** Types of every node of an expression, computed once at load, for `evaluate`. */
export function typesOf(expr: Expr, columns: (name: string) => SqlType | undefined): (e: Expr) => SqlType {
  const types = new WeakMap<Expr, SqlType>();
  typeOf(expr, columns, types);
  return (e) => {
    const t = types.get(e);
    if (t === undefined) throw new Error("an expression node typesOf did not see");
    return t;
  };
}

/** The direct sub-expressions of a node. */
export function children(e: Expr): Expr[] {
  switch (e.kind) {
    case "literal":
    case "column":
      return [];
    case "arithmetic":
    case "concat":
    case "compare":
      return [e.left, e.right];
    case "negate":
    case "not":
    case "isNull":
    case "cast":
      return [e.operand];
    case "and":
    case "or":
      return e.operands;
    case "in":
      return [e.operand, ...e.list];
    case "between":
      return [e.operand, e.low, e.high];
    case "like":
      return [e.operand, e.pattern];
    case "case":
      return [...(e.operand ? [e.operand] : []), ...e.whens.flatMap((w) => [w.when, w.result]), ...(e.otherwise ? [e.otherwise] : [])];
    case "call":
      return e.args;
  }
}

const quoteString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** An expression as Flink SQL text, every compound parenthesised: for messages, and what parses back to it. */
export function formatExpression(e: Expr): string {
  const f = formatExpression;
  const not = (negated: boolean) => (negated ? "NOT " : "");
  switch (e.kind) {
    case "literal":
      if (e.value === null) return "NULL";
      if (typeof e.value === "string") return quoteString(e.value);
      if (typeof e.value === "boolean") return e.value ? "TRUE" : "FALSE";
      if (e.type === "DOUBLE") return e.value < 0 ? `-(${javaDoubleString(-e.value)})` : javaDoubleString(e.value);
      return String(e.value);
    case "column":
      // backquoted, as Flink prints identifiers: a column may be named like a keyword (`value`)
      return e.name
        .split(".")
        .map((part) => `\`${part.replaceAll("`", "``")}\``)
        .join(".");
    case "arithmetic":
      return `(${f(e.left)} ${e.op} ${f(e.right)})`;
    case "negate":
      return `-(${f(e.operand)})`;
    case "concat":
      return `(${f(e.left)} || ${f(e.right)})`;
    case "compare":
      return `(${f(e.left)} ${e.op} ${f(e.right)})`;
    case "and":
    case "or":
      return `(${e.operands.map(f).join(` ${e.kind.toUpperCase()} `)})`;
    case "not":
      return `(NOT ${f(e.operand)})`;
    case "isNull":
      return `(${f(e.operand)} IS ${not(e.negated)}NULL)`;
    case "in":
      return `(${f(e.operand)} ${not(e.negated)}IN (${e.list.map(f).join(", ")}))`;
    case "between":
      return `(${f(e.operand)} ${not(e.negated)}BETWEEN ${f(e.low)} AND ${f(e.high)})`;
    case "like":
      return `(${f(e.operand)} ${not(e.negated)}LIKE ${f(e.pattern)}${e.escape === undefined ? "" : ` ESCAPE ${quoteString(e.escape)}`})`;
    case "case":
      return `CASE ${e.operand ? `${f(e.operand)} ` : ""}${e.whens.map((w) => `WHEN ${f(w.when)} THEN ${f(w.result)}`).join(" ")}${e.otherwise ? ` ELSE ${f(e.otherwise)}` : ""} END`;
    case "cast":
      return `CAST(${f(e.operand)} AS ${e.to})`;
    case "call":
      return `${e.name}(${e.args.map(f).join(", ")})`;
  }
}

/** A declared or CAST type, as Panes computes it; undefined for a type Panes has not got. */
export function sqlTypeOf(type: string): SqlType | undefined {
  const base = type
    .toUpperCase()
    .replace(/\(.*\)/, "")
    .replace(/\s+/g, " ")
    .trim();
  if (base === "BOOLEAN") return "BOOLEAN";
  if (base === "TINYINT" || base === "SMALLINT" || base === "INT" || base === "INTEGER") return "INT";
  if (base === "BIGINT") return "BIGINT";
  if (base === "FLOAT" || base === "DOUBLE" || base === "DOUBLE PRECISION" || base === "DECIMAL" || base === "DEC" || base === "NUMERIC")
    return "DOUBLE";
  if (base === "STRING" || base === "VARCHAR" || base === "CHAR") return "STRING";
  if (
    base === "TIMESTAMP" ||
    base === "TIMESTAMP WITHOUT TIME ZONE" ||
    base === "TIMESTAMP_LTZ" ||
    base === "TIMESTAMP WITH LOCAL TIME ZONE"
  )
    return "TIMESTAMP";
  return undefined;
}

/**
 * A JSON field's value as a column of `type`, converted as Flink's JSON format does
 * (JsonToRowDataConverters): a missing field or null is NULL; a STRING column takes any value (text as
 * is, anything else as its JSON); numbers and booleans may also come as text. TIMESTAMP reads epoch
 * milliseconds or an ISO-8601 time (`parseTime`). Returns the reason when the value cannot be one.
 */
export function readColumn(
  value: unknown,
  type: SqlType,
  parseTime: (value: unknown) => number | string,
): { value: SqlValue } | { reason: string } {
  if (value === undefined || value === null) return { value: null };
  const shown = () =>
    typeof value === "string"
      ? JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)
      : typeof value === "object"
        ? "an object"
        : String(value);
  switch (type) {
    case "STRING":
      return { value: typeof value === "string" ? value : JSON.stringify(value) };
    case "BOOLEAN":
      if (typeof value === "boolean") return { value };
      // Flink: Boolean.parseBoolean(text) — "true" in any case is TRUE, anything else FALSE
      if (typeof value === "string") return { value: value.toLowerCase() === "true" };
      return { reason: `must be a BOOLEAN, got ${shown()}` };
    case "INT":
    case "BIGINT": {
      const n =
        typeof value === "number" ? value : typeof value === "string" && /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : Number.NaN;
      const limit = type === "INT" ? 2 ** 31 : 2 ** 53;
      if (!Number.isInteger(n) || n < -limit || n >= limit)
        return { reason: `must be ${type === "INT" ? "an INT" : "a BIGINT"}, got ${shown()}` };
      return { value: n === 0 ? 0 : n };
    }
    case "DOUBLE": {
      const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : Number.NaN;
      if (!Number.isFinite(n)) return { reason: `must be a finite DOUBLE, got ${shown()}` };
      return { value: n };
    }
    case "TIMESTAMP": {
      const ms = parseTime(value);
      return typeof ms === "string" ? { reason: ms } : { value: ms };
    }
    case "NULL":
      return { value: null };
  }
}

/** The columns an expression reads, each once. */
export function columnsOf(e: Expr, into = new Set<string>()): Set<string> {
  if (e.kind === "column") into.add(e.name);
  for (const child of children(e)) columnsOf(child, into);
  return into;
}

/** A node with its direct sub-expressions replaced (in the order `children` lists them). */
function withChildren(e: Expr, c: Expr[]): Expr {
  const at = (i: number) => c[i] as Expr;
  switch (e.kind) {
    case "literal":
    case "column":
      return e;
    case "arithmetic":
    case "concat":
    case "compare":
      return { ...e, left: at(0), right: at(1) };
    case "negate":
    case "not":
    case "isNull":
    case "cast":
      return { ...e, operand: at(0) };
    case "and":
    case "or":
      return { ...e, operands: c };
    case "in":
      return { ...e, operand: at(0), list: c.slice(1) };
    case "between":
      return { ...e, operand: at(0), low: at(1), high: at(2) };
    case "like":
      return { ...e, operand: at(0), pattern: at(1) };
    case "case": {
      let i = 0;
      const operand = e.operand ? at(i++) : undefined;
      const whens = e.whens.map(() => ({ when: at(i++), result: at(i++) }));
      return { ...e, operand, whens, otherwise: e.otherwise ? at(i) : undefined };
    }
    case "call":
      return { ...e, args: c };
  }
}

const isNullLiteral = (e: Expr) => e.kind === "literal" && e.value === null;

/**
 * What Flink's planner makes of an expression before it runs (Calcite's RexSimplify and constant
 * reduction), as far as it decides which events fail: a sub-expression without columns is computed once
 * (one that fails stays, to fail each event); an operator that is NULL whenever an operand is NULL
 * (Calcite's `Strong`: arithmetic, comparisons, LIKE, CAST, NOT, ABS …; IN by its tested operand, or when
 * every element is) is NULL when that operand is the NULL literal, without evaluating the others; BETWEEN
 * is the AND (NOT BETWEEN the OR) of two comparisons; AND is FALSE with a FALSE term, OR TRUE with a TRUE
 * one, and both drop the terms that cannot decide; CASE drops the branches that cannot be taken. So
 * `CAST(s AS INT) = CAST(NULL AS INT)` is NULL for every event, never a failed CAST.
 */
export function simplify(expr: Expr, columns: (name: string) => SqlType | undefined): Expr {
  const types = typesOf(expr, columns);
  const typeAt = (x: Expr) => (x.kind === "literal" ? x.type : typeOf(x, columns));
  const literal = (value: SqlValue, type: SqlType, at: Position): Expr => ({ kind: "literal", value, type, at });
  // what stands for a node keeps the node's type (Calcite adds the CAST too)
  const typedAs = (x: Expr, type: SqlType): Expr =>
    typeAt(x) === type || type === "NULL" ? x : x.kind === "literal" ? { ...x, type } : { kind: "cast", operand: x, to: type, at: x.at };
  const fold = (node: Expr, type: SqlType): Expr => {
    const c = children(node);
    if (strongOperands(node).some(isNullLiteral)) return literal(null, type, node.at);
    if (node.kind === "in" && node.list.every(isNullLiteral)) return literal(null, type, node.at);
    if (node.kind === "between") {
      const [x, low, high] = [node.operand, node.low, node.high];
      const [op1, op2, join]: [ComparisonOp, ComparisonOp, "and" | "or"] = node.negated ? ["<", ">", "or"] : [">=", "<=", "and"];
      const terms = [
        fold({ kind: "compare", op: op1, left: x, right: low, at: node.at }, "BOOLEAN"),
        fold({ kind: "compare", op: op2, left: x, right: high, at: node.at }, "BOOLEAN"),
      ];
      return fold({ kind: join, operands: terms, at: node.at }, type);
    }
    if (node.kind === "and" || node.kind === "or") {
      const decisive = node.kind === "or";
      if (node.operands.some((t) => t.kind === "literal" && t.value === decisive)) return literal(decisive, type, node.at);
      const operands = node.operands.filter((t) => !(t.kind === "literal" && t.value === !decisive));
      if (operands.length === 0) return literal(!decisive, type, node.at);
      if (operands.every(isNullLiteral)) return literal(null, type, node.at);
      if (operands.length === 1) return typedAs(operands[0] as Expr, type);
      if (operands.length < node.operands.length) return { ...node, operands };
    }
    if (node.kind === "case" && [...node.whens.map((w) => w.result), node.otherwise].every((r) => r === undefined || isNullLiteral(r)))
      // every branch NULL (ELSE absent is NULL): the CASE is NULL, as Calcite's simplifyCase drops a CASE whose branches are all one value
      return literal(null, type, node.at);
    if (node.kind === "case" && node.operand === undefined) {
      // a WHEN that is FALSE or NULL is never taken; one that is TRUE ends the CASE
      const whens = node.whens.filter(({ when }) => !(when.kind === "literal" && when.value !== true));
      const first = whens[0];
      if (first === undefined) return node.otherwise ? typedAs(node.otherwise, type) : literal(null, type, node.at);
      if (first.when.kind === "literal") return typedAs(first.result, type);
      // the branches left all NULL: the CASE is NULL (as above, once the WHENs never taken are gone)
      if ([...whens.map((w) => w.result), node.otherwise].every((r) => r === undefined || isNullLiteral(r)))
        return literal(null, type, node.at);
      if (whens.length < node.whens.length) return typedAs({ ...node, whens }, type);
    }
    if (node.kind !== "literal" && node.kind !== "column" && c.every((x) => x.kind === "literal")) {
      try {
        return literal(
          evaluate(
            node,
            () => null,
            (x) => (x === node ? type : typeAt(x)),
          ),
          type,
          node.at,
        );
      } catch (error) {
        if (!(error instanceof EvaluationError)) throw error;
      }
    }
    return node;
  };
  const go = (e: Expr): Expr => fold(withChildren(e, children(e).map(go)), types(e));
  return go(expr);
}

/** The operands whose NULL makes a node NULL, whatever the others are (Calcite's `Strong`). */
function strongOperands(e: Expr): Expr[] {
  switch (e.kind) {
    case "arithmetic":
    case "negate":
    case "concat":
    case "compare":
    case "not":
    case "cast":
    case "like":
      return children(e);
    case "call":
      return e.name === "COALESCE" ? [] : e.args;
    case "in":
    case "between":
      return [e.operand];
    default:
      return [];
  }
}
