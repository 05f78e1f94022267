// The pipelines file as written (JSON, or a module's default export), to ship inside the bundles.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

export async function readPipelinesInput(path: string): Promise<unknown> {
  const absolute = resolve(path);
  if (/\.(m?js|m?ts)$/.test(absolute)) return ((await import(pathToFileURL(absolute).href)) as { default: unknown }).default;
  return JSON.parse(await readFile(absolute, "utf8"));
}
