// `cdk synth` with a bad configuration, through the real CDK CLI: one line per problem naming the
// field with a suggestion, no stack trace, a failed exit.
import { execFile } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { REPO } from "../helpers/processes.ts";

const run = promisify(execFile);

describe("cdk synth with a bad configuration", () => {
  it("says what is wrong in one line per problem, with no stack trace", async () => {
    const out = await mkdtemp(join(tmpdir(), "panes-synth-"));
    const context = JSON.stringify({ stream: { create: { mode: "provisoned" } }, batchSize: 5 });
    const failed = await run(join(REPO, "node_modules/.bin/cdk"), ["synth", "-o", out, "-c", `panes=${context}`], { cwd: REPO }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed?.code).toBe(1);
    const lines = (failed?.stderr ?? "").split("\n").filter((line) => line.trim() !== "" && !line.startsWith("npm warn"));
    expect(lines).toEqual([
      'panes: invalid configuration: panes.stream.create.mode: "provisoned" is not allowed; expected "on-demand" or "provisioned"; did you mean "provisioned"?',
      "panes: invalid configuration: panes.batchSize: unknown key; did you mean panes.eventSource.batchSize?",
      expect.stringMatching(/Subprocess exited with error 2$/),
    ]);
  });
});
