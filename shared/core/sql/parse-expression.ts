// Flink SQL's scalar expressions, from dt-sql-parser's FlinkSQL parse tree (ANTLR4) to the expression
// tree `expressions.ts` evaluates (issue 22; the parser chosen in docs/design/sql-parser-evaluation.md).
// A construct outside the subset is refused naming it, with its line and column. Pure; used when a
// pipelines file loads (the CLI, cdk synth), never bundled into a function.
import { FlinkSQL, FlinkSqlParserVisitor } from "dt-sql-parser";
import { FlinkSqlLexer } from "dt-sql-parser/dist/lib/flink/FlinkSqlLexer.js";
import type {
  ArithmeticBinaryContext,
  ArithmeticUnaryContext,
  CastContext,
  ColumnReferenceContext,
  ColumnTypeContext,
  ComparisonContext,
  ConstantDefaultContext,
  DereferenceContext,
  ExpressionContext,
  FunctionCallContext,
  LogicalBinaryContext,
  LogicalNestedContext,
  LogicalNotContext,
  ParenthesizedExpressionContext,
  PredicatedContext,
  SearchedCaseContext,
  SimpleCaseContext,
  ValueExpressionDefaultContext,
} from "dt-sql-parser/dist/lib/flink/FlinkSqlParser.js";
import {
  type ArithmeticOp,
  CALL_NAMES,
  type CallName,
  type ComparisonOp,
  type Expr,
  type Position,
  type SqlType,
  sqlTypeOf,
} from "./expressions.ts";

/** A construct Panes cannot run, or SQL that does not parse: where it is and why, for one line of output. */
export class SqlSyntaxError extends Error {
  override name = "SqlSyntaxError";
  constructor(
    readonly at: Position,
    message: string,
    /** a refused construct: what it is, and where its text is in `source` (offsets, the end excluded) */
    readonly refused?: { what: string; source: string; start: number; end: number },
  ) {
    super(message);
  }
}

/** A refusal's message: what is refused, quoting the text (shortened to 60 characters, one line). */
export function refusalMessage(what: string, text: string): string {
  const flat = text.replace(/\s+/g, " ");
  return `${what} is not supported: ${flat.length > 60 ? `${flat.slice(0, 57)}...` : flat}`;
}

interface Node {
  start: { line: number; column: number; start: number } | null;
  stop: { stop: number } | null;
  getText(): string;
}

/** The 1-based position of a node (ANTLR's columns count from 0). */
export function positionOf(node: Node, offset: Position = { line: 1, column: 1 }): Position {
  return shifted({ line: node.start?.line ?? 1, column: (node.start?.column ?? 0) + 1 }, offset);
}

/** A position in a text that starts at `offset` of a larger one, as a position in the larger one. */
function shifted(at: Position, offset: Position): Position {
  return at.line === 1
    ? { line: offset.line, column: at.column + offset.column - 1 }
    : { line: at.line + offset.line - 1, column: at.column };
}

/** The source text of a node, as written (ANTLR's getText drops the spaces). */
export function sourceOf(node: Node, source: string): string {
  if (!node.start || !node.stop) return node.getText();
  return source.slice(node.start.start, node.stop.stop + 1);
}

/** A string literal's value: quotes removed, doubled quotes undone. */
export function stringValue(text: string): string {
  return text.slice(1, -1).replaceAll("''", "'");
}

/** An identifier as Flink reads it: backquotes removed (doubled backquotes undone), case kept. */
export function identifierValue(text: string): string {
  return text.startsWith("`") && text.endsWith("`") ? text.slice(1, -1).replaceAll("``", "`") : text;
}

/** A dotted name as written (`a.b`, `` `tags.host` ``, `` `a`.`b` ``): its parts, backquotes removed, joined by dots. */
export function identifierPath(text: string): string {
  return (text.match(/`(?:[^`]|``)*`|[^.\s`]+/g) ?? []).map(identifierValue).join(".");
}

const INT_MAX = 2 ** 31 - 1;

const ARITHMETIC: Record<string, ArithmeticOp> = { "+": "+", "-": "-", "*": "*", "/": "/", "%": "%" };
const COMPARISON: Record<string, ComparisonOp> = { "=": "=", "<>": "<>", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">=" };
const FUNCTIONS = new Set<string>(CALL_NAMES);
type FunctionName = CallName;

/**
 * Converts expression nodes of one source text. `offset` is where that text starts in the file the
 * user wrote, so that positions name the user's line and column.
 */
export class ExpressionBuilder extends FlinkSqlParserVisitor<Expr> {
  constructor(
    private readonly source: string,
    private readonly offset: Position = { line: 1, column: 1 },
    /** names that may qualify a column (`B.bidder` with FROM bid B): dropped from a column's name */
    readonly qualifiers: readonly string[] = [],
    /** the text as written, when `source` backquotes words of it: positions and quotes are the written text's */
    private readonly written?: WrittenText,
  ) {
    super();
  }

  /** A column's name without the table's name or alias that qualifies it. */
  unqualified(name: string): string {
    const dot = name.indexOf(".");
    return dot > 0 && this.qualifiers.includes(name.slice(0, dot)) ? name.slice(dot + 1) : name;
  }

  at(node: Node): Position {
    const read = positionOf(node);
    return shifted(this.written ? this.written.position(read) : read, this.offset);
  }

  /** Refuses a construct at its position, quoting its text (or `shown`). */
  refuse(node: Node, what = "this expression", shown?: string): never {
    const text =
      this.written && node.start && node.stop ? this.written.slice(node.start.start, node.stop.stop + 1) : sourceOf(node, this.source);
    const message = refusalMessage(what, shown ?? text);
    const span =
      shown === undefined && node.start && node.stop
        ? { what, source: this.source, start: node.start.start, end: node.stop.stop + 1 }
        : undefined;
    throw new SqlSyntaxError(this.at(node), message, span);
  }

  build(node: { accept(visitor: never): unknown } | null | undefined): Expr {
    if (!node) throw new Error("a parse tree node the grammar guarantees is missing");
    return (node as unknown as { accept(v: unknown): Expr }).accept(this);
  }

  protected override defaultResult(): Expr {
    return undefined as unknown as Expr;
  }

  override visitChildren = (node: unknown): Expr => this.refuse(node as Node);

  override visitExpression = (ctx: ExpressionContext): Expr => this.build(ctx.booleanExpression());

  override visitLogicalNot = (ctx: LogicalNotContext): Expr => ({
    at: this.at(ctx),
    kind: "not",
    operand: this.build(ctx.booleanExpression()),
  });

  override visitLogicalBinary = (ctx: LogicalBinaryContext): Expr => {
    const kind = ctx.KW_AND() ? "and" : "or";
    const operands: Expr[] = [];
    for (const side of [ctx._left, ctx._right]) {
      const e = this.build(side);
      // a AND b AND c as one node
      if (e.kind === kind) operands.push(...e.operands);
      else operands.push(e);
    }
    return { at: this.at(ctx), kind, operands };
  };

  override visitLogicalNested = (ctx: LogicalNestedContext): Expr => {
    const operand = this.build(ctx.booleanExpression());
    return this.isTest(ctx, operand, ctx.KW_NOT() !== null, ctx._kind?.text ?? "");
  };

  /** x IS [NOT] NULL / TRUE / FALSE / UNKNOWN */
  private isTest(ctx: Node, operand: Expr, negated: boolean, kind: string): Expr {
    const at = this.at(ctx);
    switch (kind.toUpperCase()) {
      case "NULL":
      case "UNKNOWN":
        return { at, kind: "isNull", operand, negated };
      case "TRUE":
      case "FALSE": {
        // x IS TRUE: TRUE when x is TRUE, never NULL
        const truth: Expr = { at, kind: "literal", value: kind.toUpperCase() === "TRUE", type: "BOOLEAN" };
        const is: Expr = {
          at,
          kind: "and",
          operands: [
            { at, kind: "isNull", operand, negated: true },
            { at, kind: "compare", op: "=", left: operand, right: truth },
          ],
        };
        return negated ? { at, kind: "not", operand: is } : is;
      }
      default:
        return this.refuse(ctx);
    }
  }

  override visitPredicated = (ctx: PredicatedContext): Expr => {
    const operand = this.build(ctx.valueExpression());
    const p = ctx.predicate();
    if (!p) return operand;
    const at = this.at(p);
    const negated = p.KW_NOT() !== null;
    if (p.KW_BETWEEN()) {
      if (p.KW_SYMMETRIC()) this.refuse(p, "BETWEEN SYMMETRIC");
      return { at, kind: "between", operand, low: this.build(p._lower), high: this.build(p._upper), negated };
    }
    if (p.KW_IN()) {
      if (p.queryStatement()) this.refuse(p, "IN with a subquery");
      return { at, kind: "in", operand, list: p.expression().map((e) => this.build(e)), negated };
    }
    const like = p.likePredicate();
    if (like) {
      if (like._quantifier) this.refuse(like, "LIKE ANY / ALL");
      const escapeText = like.stringLiteral()?.getText();
      const escapeChar = escapeText === undefined ? undefined : stringValue(escapeText);
      if (escapeChar !== undefined && [...escapeChar].length !== 1) {
        throw new SqlSyntaxError(this.at(like), `a LIKE escape must be one character, got '${escapeChar}'`);
      }
      const pattern = this.build(like._pattern);
      return { at: this.at(like), kind: "like", operand, pattern, escape: escapeChar, negated: like.KW_NOT() !== null };
    }
    if (p.KW_IS() && !p.KW_DISTINCT()) return this.isTest(p, operand, negated, p._kind?.text ?? "");
    return this.refuse(p);
  };

  override visitValueExpressionDefault = (ctx: ValueExpressionDefaultContext): Expr => this.build(ctx.primaryExpression());

  override visitArithmeticBinary = (ctx: ArithmeticBinaryContext): Expr => {
    const op = ctx._operator?.text ?? "";
    const left = this.build(ctx._left);
    const right = this.build(ctx._right);
    if (op === "||") return { at: this.at(ctx), kind: "concat", left, right };
    const arithmetic = ARITHMETIC[op];
    if (!arithmetic) return this.refuse(ctx, `the operator ${op}`);
    return { at: this.at(ctx), kind: "arithmetic", op: arithmetic, left, right };
  };

  override visitArithmeticUnary = (ctx: ArithmeticUnaryContext): Expr => {
    const op = ctx._operator?.text;
    const operand = this.build(ctx.valueExpression());
    if (op === "+") return operand;
    if (op === "-") return { at: this.at(ctx), kind: "negate", operand };
    return this.refuse(ctx, `the operator ${op}`);
  };

  override visitComparison = (ctx: ComparisonContext): Expr => {
    const text = ctx.comparisonOperator().getText();
    const op = COMPARISON[text];
    if (!op) return this.refuse(ctx, `the comparison ${text}`);
    return { at: this.at(ctx), kind: "compare", op, left: this.build(ctx._left), right: this.build(ctx._right) };
  };

  override visitParenthesizedExpression = (ctx: ParenthesizedExpressionContext): Expr => this.build(ctx.expression());

  override visitColumnReference = (ctx: ColumnReferenceContext): Expr => this.column(this.columnName(ctx), ctx);

  override visitDereference = (ctx: DereferenceContext): Expr => this.column(this.columnName(ctx), ctx);

  /** A column reference (a subclass may check or rename it). */
  protected column(name: string, ctx: Node): Expr {
    return { at: this.at(ctx), kind: "column", name: this.unqualified(name) };
  }

  /** A column, or a field of a nested JSON object (`a.b`), by its name as written. */
  columnName(ctx: Node): string {
    return identifierPath(sourceOf(ctx, this.source));
  }

  override visitConstantDefault = (ctx: ConstantDefaultContext): Expr => {
    const c = ctx.constant();
    const at = this.at(ctx);
    if (c.KW_NULL()) return c.KW_NOT() ? this.refuse(ctx) : { at, kind: "literal", value: null, type: "NULL" };
    const s = c.stringLiteral();
    // the grammar lexes a backquoted name as a string; Flink reads it as a column
    if (s?.getText().startsWith("`")) return { at, kind: "column", name: identifierValue(s.getText()) };
    if (s) return { at, kind: "literal", value: stringValue(s.getText()), type: "STRING" };
    const b = c.booleanLiteral();
    if (b) return { at, kind: "literal", value: b.getText().toUpperCase() === "TRUE", type: "BOOLEAN" };
    const d = c.decimalLiteral();
    if (d) {
      const value = Number(d.getText()) * (c.HYPHEN_SIGN() ? -1 : 1);
      if (!Number.isSafeInteger(value))
        throw new SqlSyntaxError(at, `the number ${d.getText()} is beyond what Panes computes exactly (±2^53)`);
      return { at, kind: "literal", value: value === 0 ? 0 : value, type: Math.abs(value) <= INT_MAX ? "INT" : "BIGINT" };
    }
    const real = c.REAL_LITERAL();
    if (real) return { at, kind: "literal", value: Number(real.getText()), type: "DOUBLE" };
    return this.refuse(ctx, "this literal");
  };

  override visitCast = (ctx: CastContext): Expr => {
    const to = this.typeOf(ctx.columnType());
    return { at: this.at(ctx), kind: "cast", operand: this.build(ctx.expression()), to };
  };

  typeOf(ctx: ColumnTypeContext): SqlType {
    const text = sourceOf(ctx, this.source);
    const type = sqlTypeOf(text);
    if (!type)
      throw new SqlSyntaxError(
        this.at(ctx),
        `the type ${text} is not supported (BOOLEAN, INT, BIGINT, DOUBLE, DECIMAL, STRING, TIMESTAMP are)`,
      );
    return type;
  }

  override visitSearchedCase = (ctx: SearchedCaseContext): Expr => ({
    at: this.at(ctx),
    kind: "case",
    whens: ctx.whenClause().map((w) => ({ when: this.build(w._condition), result: this.build(w._result) })),
    otherwise: ctx._elseExpression ? this.build(ctx._elseExpression) : undefined,
  });

  override visitSimpleCase = (ctx: SimpleCaseContext): Expr => ({
    at: this.at(ctx),
    kind: "case",
    operand: this.build(ctx._value),
    whens: ctx.whenClause().map((w) => ({ when: this.build(w._condition), result: this.build(w._result) })),
    otherwise: ctx._elseExpression ? this.build(ctx._elseExpression) : undefined,
  });

  override visitFunctionCall = (ctx: FunctionCallContext): Expr => this.functionCall(ctx);

  /** A function call (a subclass may take aggregate calls). */
  protected functionCall(ctx: FunctionCallContext): Expr {
    const call = ctx.functionCallExpression();
    const nameNode = call.functionNameWithParams();
    if (!nameNode || !call.LR_BRACKET()) return this.refuse(ctx, "this function");
    const name = nameNode.getText().toUpperCase();
    if (!FUNCTIONS.has(name as FunctionName)) return this.refuse(ctx, `the function ${name}`);
    if (call.setQuantifier()) return this.refuse(ctx, `${name}(DISTINCT …)`);
    const args = call.functionParam().map((p) => {
      const e = p.expression();
      return e ? this.build(e) : this.refuse(p, "this argument");
    });
    return { at: this.at(ctx), kind: "call", name: name as FunctionName, args };
  }
}

const flink = new FlinkSQL();

/** Syntax errors of a text, first one first, as a SqlSyntaxError (line and column 1-based). */
export function syntaxErrorOf(sql: string, offset: Position = { line: 1, column: 1 }): SqlSyntaxError | undefined {
  const errors = flink.validate(sql);
  const first = errors[0];
  if (!first) return undefined;
  const line = first.startLine;
  const column = first.startColumn;
  const at = line === 1 ? { line: offset.line, column: column + offset.column - 1 } : { line: line + offset.line - 1, column };
  // a call of a function whose name the grammar keeps as a keyword (SQRT, LN) fails inside the parser's
  // rules: said as the function it is, not as the rule that failed
  const lines = sql.split("\n");
  const called = lines[line - 1]?.slice(column - 1).match(/^([A-Za-z_][A-Za-z0-9_]*)\s*\(/)?.[1];
  if (called !== undefined && KEYWORDS.has(called.toUpperCase()) && !FUNCTIONS.has(called.toUpperCase())) {
    // only where the keyword is what failed: with a plain name in its place, the text parses past it
    const renamed = lines.map((text, i) => (i === line - 1 ? `${text.slice(0, column - 1)}f_${text.slice(column - 1)}` : text)).join("\n");
    const after = flink.validate(renamed)[0];
    const past = !after || after.startLine > line || (after.startLine === line && after.startColumn > column + called.length + 2);
    if (past) return new SqlSyntaxError(at, refusalMessage(`the function ${called.toUpperCase()}`, `${called}(…)`));
  }
  return new SqlSyntaxError(at, first.message);
}

/**
 * One scalar expression written on its own (`status >= 500 AND region IN ('eu', 'us')`), as the
 * JSON form's filters and computed values are. Positions count within the text.
 */
export function parseExpression(text: string, at: Position = { line: 1, column: 1 }): Expr {
  // The text as a WHERE condition, which the grammar takes as any expression (of any type), with the
  // names Flink reads as names where the grammar has keywords backquoted (found in that statement)
  const prefix = "SELECT x FROM t WHERE ";
  const statement = `${prefix}${text}\n`;
  const quoted = quoteWords(statement, flinkNamesIn(statement));
  const sql = quoted.text;
  const written = new WrittenText(statement, sql, quoted.added);
  const offset = { line: at.line, column: at.column - prefix.length };
  const readError = syntaxErrorOf(sql);
  const error = readError && new SqlSyntaxError(shifted(written.position(readError.at), offset), readError.message);
  if (error) {
    // a function the grammar keeps as a keyword (SQRT): no backquotes make it a function
    if (error.message.startsWith("the function ")) throw error;
    // the reserved words that, backquoted, make the text parse: each one needed once all are quoted
    const candidates = reservedWordsIn(text);
    const quoted = (words: string[]) => quoteWords(text, words).text;
    const parses = (words: string[]) => !syntaxErrorOf(`${prefix}${quoted(words)}\n`);
    const reserved = parses(candidates) ? candidates.filter((word) => !parses(candidates.filter((w) => w !== word))) : [];
    if (reserved.length > 0) {
      throw new SqlSyntaxError(
        error.at,
        // the parser's own words ("rule columnName failed predicate") tell a user nothing
        `${reserved.map((w) => `${w} is a reserved word in Flink SQL: write it in backquotes, \`${w}\``).join("; ")}${/^rule \w+ failed predicate/.test(error.message) ? "" : ` (${error.message})`}`,
      );
    }
    throw error;
  }
  const where = flink.parse(sql).singleStatement(0)?.sqlStatement()?.dmlStatement()?.queryStatement()?.selectStatement()?.whereClause();
  const builder = new ExpressionBuilder(sql, offset, [], written);
  const condition = where?.booleanExpression();
  if (condition) return builder.build(condition);
  const column = where?.columnNamePathAllowEmpty();
  if (column) return { at: builder.at(column), kind: "column", name: builder.columnName(column) };
  throw new SqlSyntaxError({ line: 1, column: 1 }, "write one expression");
}

/** Flink SQL's keywords (the lexer's KW_ tokens), upper case. */
const KEYWORDS = new Set(
  (FlinkSqlLexer.symbolicNames as (string | null)[]).flatMap((name) => (name?.startsWith("KW_") ? [name.slice(3)] : [])),
);

/** The keywords an expression of the subset is written with: never a column's name in disguise. */
const SYNTAX = new Set(
  (
    "AND OR NOT IN BETWEEN SYMMETRIC ASYMMETRIC IS NULL TRUE FALSE UNKNOWN LIKE ESCAPE CASE WHEN THEN ELSE END CAST AS " +
    "COALESCE ABS UPPER LOWER DISTINCT FROM BOOLEAN TINYINT SMALLINT INT INTEGER BIGINT FLOAT DOUBLE PRECISION DECIMAL DEC NUMERIC " +
    "VARCHAR CHAR"
  ).split(" "),
);

/**
 * Flink SQL's keywords, as its documentation lists them (the SQL overview's "Reserved Keywords",
 * https://nightlies.apache.org/flink/flink-docs-stable/docs/dev/table/sql/overview/, apache/flink at
 * 0ff55c17745afb476db588d2e55bebc28c2a82db): a word dt-sql-parser's grammar
 * takes as a keyword but Flink does not (`dateTime`, which Nexmark's queries use as a column) is a name.
 */
const FLINK_KEYWORDS = new Set(
  (
    "A ABS ABSOLUTE ACTION ADA ADD ADMIN AFTER ALL ALLOCATE ALLOW ALTER ALWAYS AND ANY ARE ARRAY AS ASC ASENSITIVE ASSERTION " +
    "ASSIGNMENT ASYMMETRIC AT ATOMIC ATTRIBUTE ATTRIBUTES AUTHORIZATION AVG BEFORE BEGIN BERNOULLI BETWEEN BIGINT BINARY BIT BLOB " +
    "BOOLEAN BOTH BREADTH BY BYTES C CALL CALLED CARDINALITY CASCADE CASCADED CASE CAST CATALOG CATALOG_NAME CEIL CEILING CENTURY " +
    "CHAIN CHAR CHARACTER CHARACTERISTICS CHARACTERS CHARACTER_LENGTH CHARACTER_SET_CATALOG CHARACTER_SET_NAME " +
    "CHARACTER_SET_SCHEMA CHAR_LENGTH CHECK CLASS_ORIGIN CLOB CLOSE COALESCE COBOL COLLATE COLLATION COLLATION_CATALOG " +
    "COLLATION_NAME COLLATION_SCHEMA COLLECT COLUMN COLUMNS COLUMN_NAME COMMAND_FUNCTION COMMAND_FUNCTION_CODE COMMIT COMMITTED " +
    "CONDITION CONDITION_NUMBER CONNECT CONNECTION CONNECTION_NAME CONSTRAINT CONSTRAINTS CONSTRAINT_CATALOG CONSTRAINT_NAME " +
    "CONSTRAINT_SCHEMA CONSTRUCTOR CONTAINS CONTINUE CONVERT CORR CORRESPONDING COUNT COVAR_POP COVAR_SAMP CREATE CROSS CUBE " +
    "CUME_DIST CURRENT CURRENT_CATALOG CURRENT_DATE CURRENT_DEFAULT_TRANSFORM_GROUP CURRENT_PATH CURRENT_ROLE CURRENT_SCHEMA " +
    "CURRENT_TIME CURRENT_TIMESTAMP CURRENT_TRANSFORM_GROUP_FOR_TYPE CURRENT_USER CURSOR CURSOR_NAME CYCLE DATA DATABASE DATE " +
    "DATETIME_INTERVAL_CODE DATETIME_INTERVAL_PRECISION DAY DEALLOCATE DEC DECADE DECIMAL DECLARE DEFAULT DEFAULTS DEFERRABLE " +
    "DEFERRED DEFINED DEFINER DEGREE DELETE DENSE_RANK DEPTH DEREF DERIVED DESC DESCRIBE DESCRIPTION DESCRIPTOR DETERMINISTIC " +
    "DIAGNOSTICS DISALLOW DISCONNECT DISPATCH DISTINCT DOMAIN DOUBLE DOW DOY DROP DYNAMIC DYNAMIC_FUNCTION DYNAMIC_FUNCTION_CODE " +
    "EACH ELEMENT ELSE END END-EXEC EPOCH EQUALS ESCAPE EVERY EXCEPT EXCEPTION EXCLUDE EXCLUDING EXEC EXECUTE EXISTS EXP EXPLAIN " +
    "EXTEND EXTERNAL EXTRACT FALSE FETCH FILTER FINAL FIRST FIRST_VALUE FLOAT FLOOR FOLLOWING FOR FOREIGN FORTRAN FOUND " +
    "FRAC_SECOND FREE FROM FULL FUNCTION FUSION G GENERAL GENERATED GET GLOBAL GO GOTO GRANT GRANTED GROUP GROUPING HAVING " +
    "HIERARCHY HOLD HOUR IDENTITY IMMEDIATE IMPLEMENTATION IMPORT IN INCLUDING INCREMENT INDICATOR INITIALLY INNER INOUT INPUT " +
    "INSENSITIVE INSERT INSTANCE INSTANTIABLE INT INTEGER INTERSECT INTERSECTION INTERVAL INTO INVOKER IS ISOLATION JAVA JOIN K " +
    "KEY KEY_MEMBER KEY_TYPE LABEL LANGUAGE LARGE LAST LAST_VALUE LATERAL LEADING LEFT LENGTH LEVEL LIBRARY LIKE LIMIT LN LOCAL " +
    "LOCALTIME LOCALTIMESTAMP LOCATOR LOWER M MAP MATCH MATCHED MAX MAXVALUE MEMBER MERGE MESSAGE_LENGTH MESSAGE_OCTET_LENGTH " +
    "MESSAGE_TEXT METHOD MICROSECOND MILLENNIUM MIN MINUTE MINVALUE MOD MODIFIES MODULE MODULES MONTH MORE MULTISET MUMPS NAME " +
    "NAMES NATIONAL NATURAL NCHAR NCLOB NESTING NEW NEXT NO NONE NORMALIZE NORMALIZED NOT NULL NULLABLE NULLIF NULLS NUMBER " +
    "NUMERIC OBJECT OCTETS OCTET_LENGTH OF OFFSET OLD ON ONLY OPEN OPTION OPTIONS OR ORDER ORDERING ORDINALITY OTHERS OUT OUTER " +
    "OUTPUT OVER OVERLAPS OVERLAY OVERRIDING PAD PARAMETER PARAMETER_MODE PARAMETER_NAME PARAMETER_ORDINAL_POSITION " +
    "PARAMETER_SPECIFIC_CATALOG PARAMETER_SPECIFIC_NAME PARAMETER_SPECIFIC_SCHEMA PARTIAL PARTITION PASCAL PASSTHROUGH PATH " +
    "PERCENTILE_CONT PERCENTILE_DISC PERCENT_RANK PLACING PLAN PLI POSITION POWER PRECEDING PRECISION PREPARE PRESERVE PRIMARY " +
    "PRIOR PRIVILEGES PROCEDURE PUBLIC QUARTER RANGE RANK RAW READ READS REAL RECURSIVE REF REFERENCES REFERENCING REGR_AVGX " +
    "REGR_AVGY REGR_COUNT REGR_INTERCEPT REGR_R2 REGR_SLOPE REGR_SXX REGR_SXY REGR_SYY RELATIVE RELEASE REPEATABLE RESET RESTART " +
    "RESTRICT RESULT RETURN RETURNED_CARDINALITY RETURNED_LENGTH RETURNED_OCTET_LENGTH RETURNED_SQLSTATE RETURNS REVOKE RIGHT ROLE " +
    "ROLLBACK ROLLUP ROUTINE ROUTINE_CATALOG ROUTINE_NAME ROUTINE_SCHEMA ROW ROWS ROW_COUNT ROW_NUMBER SAVEPOINT SCALE SCHEMA " +
    "SCHEMA_NAME SCOPE SCOPE_CATALOGS SCOPE_NAME SCOPE_SCHEMA SCROLL SEARCH SECOND SECTION SECURITY SELECT SELF SENSITIVE SEQUENCE " +
    "SERIALIZABLE SERVER SERVER_NAME SESSION SESSION_USER SET SETS SIMILAR SIMPLE SIZE SMALLINT SOME SOURCE SPACE SPECIFIC " +
    "SPECIFICTYPE SPECIFIC_NAME SQL SQLEXCEPTION SQLSTATE SQLWARNING SQL_TSI_DAY SQL_TSI_FRAC_SECOND SQL_TSI_HOUR " +
    "SQL_TSI_MICROSECOND SQL_TSI_MINUTE SQL_TSI_MONTH SQL_TSI_QUARTER SQL_TSI_SECOND SQL_TSI_WEEK SQL_TSI_YEAR SQRT START STATE " +
    "STATEMENT STATIC STDDEV_POP STDDEV_SAMP STREAM STRING STRUCTURE STYLE SUBCLASS_ORIGIN SUBMULTISET SUBSTITUTE SUBSTRING SUM " +
    "SYMMETRIC SYSTEM SYSTEM_USER TABLE TABLESAMPLE TABLE_NAME TEMPORARY THEN TIES TIME TIMESTAMP TIMESTAMPADD TIMESTAMPDIFF " +
    "TIMEZONE_HOUR TIMEZONE_MINUTE TINYINT TO TOP_LEVEL_COUNT TRAILING TRANSACTION TRANSACTIONS_ACTIVE TRANSACTIONS_COMMITTED " +
    "TRANSACTIONS_ROLLED_BACK TRANSFORM TRANSFORMS TRANSLATE TRANSLATION TREAT TRIGGER TRIGGER_CATALOG TRIGGER_NAME TRIGGER_SCHEMA " +
    "TRIM TRUE TYPE UESCAPE UNBOUNDED UNCOMMITTED UNDER UNION UNIQUE UNKNOWN UNNAMED UNNEST UPDATE UPPER UPSERT USAGE USER " +
    "USER_DEFINED_TYPE_CATALOG USER_DEFINED_TYPE_CODE USER_DEFINED_TYPE_NAME USER_DEFINED_TYPE_SCHEMA USING VALUE VALUES VARBINARY " +
    "VARCHAR VARYING VAR_POP VAR_SAMP VERSION VIEW WEEK WHEN WHENEVER WHERE WIDTH_BUCKET WINDOW WITH WITHIN WITHOUT WORK WRAPPER " +
    "WRITE XML YEAR ZONE"
  ).split(" "),
);

/**
 * The names in a statement that Flink reads as names but dt-sql-parser's grammar as keywords: each one
 * whose backquoting moves the first syntax error later or removes it (a keyword of Flink's own grammar,
 * such as WATERMARK, is not one). `quoteWords` backquotes them; `WrittenText` maps positions back.
 */
export function flinkNamesIn(text: string): string[] {
  let error = syntaxErrorOf(text);
  if (!error) return [];
  let current = text;
  const words: string[] = [];
  const later = (a: Position, b: Position) => a.line > b.line || (a.line === b.line && a.column > b.column);
  for (const word of reservedWordsIn(text)) {
    if (FLINK_KEYWORDS.has(word.toUpperCase())) continue;
    const next = quoteWords(current, [word]).text;
    const nextError = syntaxErrorOf(next);
    if (!nextError || later(nextError.at, error.at)) {
      current = next;
      error = nextError;
      words.push(word);
      if (!error) break;
    }
  }
  return words;
}

/** The words of a text, outside its string literals, backquotes and comments, that are Flink SQL keywords and could be column names. */
function reservedWordsIn(text: string): string[] {
  const bare = text.replace(/'(?:[^']|'')*'|`(?:[^`]|``)*`|--[^\n]*|\/\*[\s\S]*?\*\//g, " ");
  return [...new Set(bare.match(/\b[A-Za-z_][A-Za-z0-9_]*\b/g) ?? [])].filter(
    (word) => KEYWORDS.has(word.toUpperCase()) && !SYNTAX.has(word.toUpperCase()),
  );
}

/** Backquotes every bare occurrence of the words: the text, and the offsets in it of the backquotes added. */
export function quoteWords(text: string, words: readonly string[]): { text: string; added: number[] } {
  const wanted = new Set(words);
  const added: number[] = [];
  let out = "";
  let copied = 0;
  // string literals, backquoted names and comments are left as they are
  for (const m of text.matchAll(/('(?:[^']|'')*'|`(?:[^`]|``)*`|--[^\n]*|\/\*[\s\S]*?\*\/)|\b([A-Za-z_][A-Za-z0-9_]*)\b/g)) {
    const bare = m[2];
    if (bare === undefined || !wanted.has(bare)) continue;
    out += text.slice(copied, m.index);
    added.push(out.length, out.length + bare.length + 1);
    out += `\`${bare}\``;
    copied = m.index + bare.length;
  }
  return { text: out + text.slice(copied), added };
}

/**
 * The text a user wrote and the text the parser reads: the same but for backquotes added (`quoteWords`;
 * the other rewrites keep every position). Maps the parser's positions and offsets back to the user's.
 */
export class WrittenText {
  private readonly readLines: number[];
  private readonly writtenLines: number[];

  constructor(
    readonly written: string,
    readonly read: string,
    /** offsets in `read` of the characters that are not in `written`, ascending */
    private readonly added: readonly number[],
  ) {
    this.readLines = lineStarts(read);
    this.writtenLines = lineStarts(written);
  }

  /** The offset in the written text of an offset in the text read (an added backquote maps to what follows it). */
  offset(read: number): number {
    let low = 0;
    let high = this.added.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((this.added[mid] as number) < read) low = mid + 1;
      else high = mid;
    }
    return read - low;
  }

  /** The written text of a span of the text read (offsets; the end excluded). */
  slice(start: number, end: number): string {
    return this.written.slice(this.offset(start), this.offset(end));
  }

  /** The written line and column (1-based) of a line and column in the text read. */
  position(at: Position): Position {
    const start = this.readLines[at.line - 1];
    if (start === undefined) return at;
    const offset = this.offset(start + at.column - 1);
    let line = 0;
    while (line + 1 < this.writtenLines.length && (this.writtenLines[line + 1] as number) <= offset) line++;
    return { line: line + 1, column: offset - (this.writtenLines[line] as number) + 1 };
  }

  /** A SqlSyntaxError about the text read, told about the written text: its position, and the text a refusal quotes. */
  error(error: SqlSyntaxError): SqlSyntaxError {
    const at = this.position(error.at);
    const refused = error.refused;
    if (refused?.source !== this.read) return new SqlSyntaxError(at, error.message);
    return new SqlSyntaxError(at, refusalMessage(refused.what, this.slice(refused.start, refused.end)));
  }
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}
