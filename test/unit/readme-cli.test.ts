// The README's command table tells the truth about the command line: every command the program
// declares has a row, and the row names every option the command takes (the AWS options every
// AWS-facing command shares are explained once, under the table).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { program } from "../../tools/cli/program.ts";

const README = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8");
/** Options shared by the AWS-facing commands, explained in the paragraph after the table. */
const SHARED = ["--stack", "--region", "--profile"];

/** Every runnable command, by its path (`dlq redrive`), with its long options. */
function commandsOf(command: Command, path: string[] = []): { path: string; options: string[] }[] {
  return command.commands.flatMap((sub) => {
    const here = [...path, sub.name()];
    const options = sub.options.map((o) => o.long).filter((flag): flag is string => flag !== undefined);
    return sub.commands.length > 0 ? commandsOf(sub, here) : [{ path: here.join(" "), options }];
  });
}

/** The README's command table: each row's text, by the command its first cell starts with. */
function tableRows(): Map<string, string> {
  const section = README.slice(README.indexOf("## Command line"), README.indexOf("### `panes replay`"));
  const rows = new Map<string, string>();
  for (const line of section.split("\n")) {
    const match = /^\| `panes ([a-z]+(?: [a-z]+)?)/.exec(line);
    if (match) rows.set(match[1] as string, line);
  }
  return rows;
}

describe("the README's command table", () => {
  const commands = commandsOf(program);
  const rows = tableRows();

  it("has a row for every command", () => {
    // Assess: the program was read, and every command of it has a row
    expect(commands.map((c) => c.path)).toContain("dlq redrive");
    expect(commands.map((c) => c.path).filter((path) => !rows.has(path))).toEqual([]);
  });

  it("names every option of each command in its row", () => {
    // Act
    const missing = commands.flatMap(({ path, options }) =>
      options
        .filter((flag) => !SHARED.includes(flag))
        .filter((flag) => !new RegExp(`${flag}(?![a-z-])`).test(rows.get(path) ?? ""))
        .map((flag) => `${path} ${flag}`),
    );

    // Assess
    expect(missing).toEqual([]);
  });

  it("explains the shared AWS options in the same section", () => {
    const section = README.slice(README.indexOf("## Command line"), README.indexOf("### `panes replay`"));
    for (const flag of SHARED) expect(section).toContain(`\`${flag}`);
  });
});
