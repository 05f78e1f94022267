// Reads a pipelines file (JSON, or a JS/TS module whose default export is the same shape) and validates
// it (core/pipelines/parse.ts). Every problem is reported at load with the pipeline's name and the field.
import { access, readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { PipelinesConfigError, parsePipelines } from "../core/pipelines/parse.ts";
import type { Pipeline } from "../core/pipelines/schema.ts";
import { parseExpression, SqlSyntaxError } from "../core/sql/parse-expression.ts";
import { compilePipelinesSqlAt } from "../core/sql/parse-pipelines.ts";

/** Reads a pipelines file: `.json`, Flink SQL (`.sql`), or a module (`.js`, `.mjs`, `.ts`) with a default export. */
export async function loadPipelinesFile(path: string): Promise<Pipeline[]> {
  if (!/\.sql$/i.test(path)) return parsePipelines(await readPipelinesInput(path), path);
  const { compiled, at } = await readSql(path);
  try {
    return parsePipelines(compiled, path);
  } catch (error) {
    if (!(error instanceof PipelinesConfigError)) throw error;
    // a problem of the compiled pipelines is told where its query is written
    throw new PipelinesConfigError(
      path,
      error.problems.map((problem) => {
        const found = problem.match(/^pipeline (.*?) \(pipelines\[(\d+)\]\), (.*)$/s);
        const position = found && at[Number(found[2])];
        return position ? `line ${position.line}, column ${position.column}: the query of ${found[1]}, ${found[3]}` : problem;
      }),
    );
  }
}

/** A `.sql` file compiled, with where each pipeline's query starts; a syntax error or refusal fails in one line with its position. */
async function readSql(path: string): Promise<ReturnType<typeof compilePipelinesSqlAt>> {
  let sql: string;
  try {
    sql = await readFile(resolve(path), "utf8");
  } catch (error) {
    throw new PipelinesConfigError(path, [`cannot read the file: ${(error as Error).message}`]);
  }
  try {
    return compilePipelinesSqlAt(sql);
  } catch (error) {
    if (!(error instanceof SqlSyntaxError)) throw error;
    throw new PipelinesConfigError(path, [`line ${error.at.line}, column ${error.at.column}: ${error.message}`]);
  }
}

/**
 * A pipelines file's content as the functions read it: SQL text compiled (a `where` condition becomes
 * its expression tree), everything else as written. This is what travels inside the bundles, so the
 * SQL parser never does. Not yet validated: parsePipelines does that.
 */
export async function readPipelinesInput(path: string): Promise<unknown> {
  if (/\.sql$/i.test(path)) return (await readSql(path)).compiled;
  return compileSqlText(await readRaw(path), path);
}

/**
 * Every pipeline's SQL texts parsed (`where`, and each of `computed` and `select`); a text that does
 * not parse fails naming the pipeline, the field, its line and column.
 */
function compileSqlText(raw: unknown, path: string): unknown {
  const pipelines = (raw as { pipelines?: unknown })?.pipelines;
  if (!Array.isArray(pipelines)) return raw;
  const problems: string[] = [];
  const compiled = pipelines.map((pipeline, index) => {
    if (pipeline === null || typeof pipeline !== "object") return pipeline;
    const name = (pipeline as { name?: unknown }).name;
    const parse = (text: unknown, field: string): unknown => {
      if (typeof text !== "string") return text;
      try {
        return parseExpression(text);
      } catch (error) {
        if (!(error instanceof SqlSyntaxError)) throw error;
        problems.push(
          `pipeline ${typeof name === "string" ? `"${name}"` : "(unnamed)"} (pipelines[${index}]), field ${field}: ${error.at.line}:${error.at.column}: ${error.message}`,
        );
        return text;
      }
    };
    const out: Record<string, unknown> = { ...pipeline };
    for (const field of ["where", "having"] as const) if (field in out) out[field] = parse(out[field], field);
    for (const part of ["computed", "select"] as const) {
      const texts = out[part];
      if (texts === null || typeof texts !== "object" || Array.isArray(texts) || Object.hasOwn(texts, "__proto__")) continue;
      out[part] = Object.fromEntries(Object.entries(texts).map(([k, v]) => [k, parse(v, `${part}.${k}`)]));
    }
    return out;
  });
  if (problems.length > 0) throw new PipelinesConfigError(path, problems);
  return { ...(raw as object), pipelines: compiled };
}

async function readRaw(path: string): Promise<unknown> {
  const absolute = resolve(path);
  let raw: unknown;
  if (/\.(m?js|m?ts)$/.test(absolute)) {
    // A module that is not there fails as a JSON file that is not there does: one line, not an import's stack.
    await access(absolute).catch((error: Error) => {
      throw new PipelinesConfigError(path, [`cannot read the file: ${error.message}`]);
    });
    const module = (await import(pathToFileURL(absolute).href)) as { default?: unknown };
    raw = module.default;
  } else {
    let text: string;
    try {
      text = await readFile(absolute, "utf8");
    } catch (error) {
      throw new PipelinesConfigError(path, [`cannot read the file: ${(error as Error).message}`]);
    }
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new PipelinesConfigError(path, [`not valid JSON: ${(error as Error).message}`]);
    }
  }
  return raw;
}
