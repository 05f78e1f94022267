// The README's "your own events" example, exactly as printed (taken from the README's text, never
// retyped): `npm start -- --no-demo` in one shell, the AWS CLI loop in another, then the results
// command the README names — with Debian's AWS CLI (2.9, which ignores AWS_ENDPOINT_URL and needs
// --cli-binary-format), in a fresh shell environment with no AWS settings of its own.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, readdir, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { AWS_CLI } from "../helpers/aws-cli.ts";
import { REPO } from "../helpers/processes.ts";
import { readmeBlock, readmeText } from "../helpers/readme.ts";

const run = promisify(execFile);

/** A copy of the project as a user has it (symlinks), without anything a running `npm start` left behind. */
async function projectFolder(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), "panes-readme-"));
  for (const entry of await readdir(REPO)) {
    if (entry === ".panes" || entry === ".git") continue;
    await symlink(join(REPO, entry), join(folder, entry));
  }
  return folder;
}

/** A shell's environment as a new terminal has it: no AWS settings, Debian's AWS CLI first on the PATH. */
function freshShellEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith("AWS_") && !name.startsWith("npm_")) env[name] = value;
  return { ...env, PATH: `${dirname(AWS_CLI)}:${process.env.PATH ?? ""}`, HOME: process.env.HOME };
}

let started: ChildProcess | undefined;
afterAll(async () => {
  if (!started || started.exitCode !== null) return;
  const exited = new Promise((r) => started?.once("exit", r));
  process.kill(-(started.pid as number), "SIGINT");
  await exited;
});

describe("the README's producer example", () => {
  it("puts events with the AWS CLI as printed and finds their window with the command it names", async () => {
    // Prepare: the README's start command, as printed, in a project folder of its own
    const startBlock = readmeBlock("npm start -- --no-demo").code.trim();
    expect(startBlock).toBe("npm start -- --no-demo --shards 1");
    const producer = readmeBlock("aws kinesis put-record").code;
    const resultsCommand = readmeText().match(/`(npx panes results --pipeline cpu-avg-5m --key web-1)`/)?.[1];
    expect(resultsCommand).toBeDefined();
    const cwd = await projectFolder();
    const env = freshShellEnv();
    started = spawn("bash", ["-c", startBlock], { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let output = "";
    started.stdout?.on("data", (d) => {
      output += d.toString();
    });
    started.stderr?.on("data", (d) => {
      output += d.toString();
    });
    for (let i = 0; !output.includes("Ctrl-C stops everything"); i++) {
      if (i > 900 || started.exitCode !== null) throw new Error(`npm start -- --no-demo did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }

    // Act: the producer block in another shell, as printed
    const put = await run("bash", ["-e", "-c", producer], { cwd, env });

    // Assess: each put answered with a sequence number, and the README's results command shows the
    // window long before any shard could count as idle (the README says "a second later": the one
    // shard's own events move the watermark, nothing waits for the 1-minute idleTimeout)
    expect(put.stdout.match(/"SequenceNumber"/g)?.length).toBe(2);
    const putAt = Date.now();
    let shown = "";
    // 55 s: still before the 1-minute idleTimeout could move the watermark instead, on a busy machine too
    while (Date.now() - putAt < 55_000) {
      shown = (await run("bash", ["-c", resultsCommand as string], { cwd, env })).stdout;
      if (shown.includes("2026-01-01T10:00:00.000Z")) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const row = shown.split("\n").find((line) => line.includes("2026-01-01T10:00:00.000Z"));
    expect(row?.trim().split(/\s+/)).toEqual(["web-1", "2026-01-01T10:00:00.000Z", "2026-01-01T10:05:00.000Z", "42", "42", "1", "1", "1"]);
  });
});
