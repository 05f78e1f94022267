// Reads a pipelines file (JSON, or a JS/TS module whose default export is the same shape) and validates
// it (core/pipelines/parse.ts). Every problem is reported at load with the pipeline's name and the field.
import { access, readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { PipelinesConfigError, parsePipelines } from "../core/pipelines/parse.ts";
import type { Pipeline } from "../core/pipelines/schema.ts";

/** Reads a pipelines file: `.json`, or a module (`.js`, `.mjs`, `.ts`) with a default export. */
export async function loadPipelinesFile(path: string): Promise<Pipeline[]> {
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
  return parsePipelines(raw, path);
}
