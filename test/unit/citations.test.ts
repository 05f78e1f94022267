// Whoever clones the project must find what its code cites: every Markdown file a source file names
// (README.md, docs/DESIGN.md §…, docs/design/…) is in the repository, at the path named from its root.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const SOURCES = ["shared", "functions", "tools", "infra", "bin", "test"];
const CODE = /\.(ts|js|cjs|mjs)$/;
/** A Markdown path as code writes it: words, dots and dashes, folders before it. */
const CITATION = /(?<![\w./-])((?:[\w-]+\/)*[\w.-]+\.md)\b/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : sourceFiles(path);
    return CODE.test(entry.name) ? [path] : [];
  });
}

/** Every Markdown path cited in the given files, with where it was cited. */
function citationsIn(files: readonly string[]): { cited: string; in: string }[] {
  return files.flatMap((file) =>
    [...readFileSync(file, "utf8").matchAll(CITATION)].map((m) => ({ cited: m[1] as string, in: relative(ROOT, file) })),
  );
}

describe("the documents the code cites", () => {
  it("are all in the repository", () => {
    // Prepare
    const citations = citationsIn(SOURCES.flatMap((dir) => sourceFiles(join(ROOT, dir))));

    // Act
    const missing = citations.filter((c) => !existsSync(join(ROOT, c.cited)));

    // Assess: something is cited (the scan works), and nothing cited is missing
    expect(citations.map((c) => c.cited)).toContain("docs/DESIGN.md");
    expect(missing).toEqual([]);
  });
});
