// The pipelines a function runs: the file shipped inside its bundle (pipelines.json, written at synth
// with any SQL already compiled: pipelines-file.ts), validated at cold start. No SQL parser here.
import { readFile } from "node:fs/promises";
import { PipelinesConfigError, parsePipelines } from "../core/pipelines/parse.ts";
import type { Pipeline } from "../core/pipelines/schema.ts";

export async function loadBundledPipelines(path: string): Promise<Pipeline[]> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new PipelinesConfigError(path, [`cannot read the file: ${(error as Error).message}`]);
  }
  return parsePipelines(raw, path);
}
