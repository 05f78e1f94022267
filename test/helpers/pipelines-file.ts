// A pipelines file written for a test, and the refusal of one that must not load.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadPipelinesFile } from "../../shared/app/pipelines-file.ts";
import { PipelinesConfigError } from "../../shared/core/pipelines/parse.ts";

/** A JSON pipelines file holding these pipelines, in a fresh temporary directory: its path. */
export async function pipelinesFileWith(pipelines: unknown[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "panes-pipelines-"));
  const path = join(dir, "pipelines.json");
  await writeFile(path, JSON.stringify({ pipelines }));
  return path;
}

/** The error a file of these pipelines fails to load with (the test fails if it loads). */
export async function refusalOf(pipelines: unknown[]): Promise<{ path: string; error: PipelinesConfigError }> {
  const path = await pipelinesFileWith(pipelines);
  try {
    await loadPipelinesFile(path);
  } catch (error) {
    if (error instanceof PipelinesConfigError) return { path, error };
    throw error;
  }
  throw new Error("expected the pipelines to be refused");
}
