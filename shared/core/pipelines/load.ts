// Loads and validates a pipelines file (JSON, or a JS/TS module whose default export is the same shape).
// Every problem is reported at load with the pipeline's name and the field's path.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { z } from "zod";
import { type Pipeline, pipelinesFileSchema } from "./schema.ts";

export class PipelinesConfigError extends Error {
  override name = "PipelinesConfigError";
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid pipelines in ${source}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  const path = [...issue.path];
  let where = "";
  if (path[0] === "pipelines" && typeof path[1] === "number") {
    const index = path[1];
    const entry = (raw as { pipelines?: unknown[] })?.pipelines?.[index] as { name?: unknown } | undefined;
    const name = typeof entry?.name === "string" ? `"${entry.name}"` : "(unnamed)";
    where = `pipeline ${name} (pipelines[${index}])`;
    path.splice(0, 2);
  }
  const field = path.map(String).join(".");
  const location = [where, field].filter(Boolean).join(", field ");
  return `${location || "file"}: ${issue.message}`;
}

/** Validates already-parsed input; `source` names it in errors. */
export function parsePipelines(raw: unknown, source = "pipelines"): Pipeline[] {
  const result = pipelinesFileSchema.safeParse(raw);
  if (!result.success) {
    throw new PipelinesConfigError(
      source,
      result.error.issues.map((issue) => describeIssue(issue, raw)),
    );
  }
  return result.data.pipelines;
}

/** Reads a pipelines file: `.json`, or a module (`.js`, `.mjs`, `.ts`) with a default export. */
export async function loadPipelinesFile(path: string): Promise<Pipeline[]> {
  const absolute = resolve(path);
  let raw: unknown;
  if (/\.(m?js|m?ts)$/.test(absolute)) {
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
  return parsePipelines(raw, path);
}
