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

/** Loads a `.sql` pipelines file as the CLI and cdk synth do: compiled, then checked by the file's schema. */
export async function loadSql(sql: string) {
  const dir = await mkdtemp(join(tmpdir(), "panes-sql-"));
  const path = join(dir, "pipelines.sql");
  await writeFile(path, sql);
  return loadPipelinesFile(path);
}

/** The one line a `.sql` pipelines file is refused with (the test fails if it loads, or is refused for several reasons). */
export async function sqlRefusal(sql: string): Promise<string> {
  try {
    await loadSql(sql);
  } catch (error) {
    if (!(error instanceof PipelinesConfigError)) throw error;
    if (error.problems.length !== 1) throw new Error(`expected one problem, got ${error.problems.length}: ${error.problems.join(" | ")}`);
    return error.problems[0] as string;
  }
  throw new Error("expected the SQL to be refused");
}
