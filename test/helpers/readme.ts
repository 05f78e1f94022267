// The README's own text, for tests that run its commands exactly as printed.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./processes.ts";

export interface CodeBlock {
  language: string;
  code: string;
  /** 1-based line of the opening fence */
  line: number;
}

export function readmeText(): string {
  return readFileSync(join(REPO, "README.md"), "utf8");
}

/** Every fenced code block of the README, in order. */
export function readmeBlocks(): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = readmeText().split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = lines[i]?.match(/^```(\w*)\s*$/);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]?.startsWith("```"); i++) body.push(lines[i] ?? "");
    blocks.push({ language: open[1] ?? "", code: body.join("\n"), line: start + 1 });
  }
  return blocks;
}

/** The one block that contains `marker` (fails the test when none or several do). */
export function readmeBlock(marker: string): CodeBlock {
  const found = readmeBlocks().filter((b) => b.code.includes(marker));
  if (found.length !== 1) throw new Error(`README: ${found.length} code blocks contain ${JSON.stringify(marker)}, expected 1`);
  return found[0] as CodeBlock;
}
