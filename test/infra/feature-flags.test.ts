// The CDK's feature flags: every one set in cdk.json to its recommended value, so `cdk synth` and
// `cdk deploy` warn about none (they once listed 85 unconfigured flags). Asked of the real CDK CLI.
import { execFile } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { REPO } from "../helpers/processes.ts";

const run = promisify(execFile);

describe("the CDK app's feature flags", () => {
  it("are all set to what the CDK recommends: no unconfigured flag to warn about", async () => {
    const out = await mkdtemp(join(tmpdir(), "panes-flags-"));
    const { stdout, stderr } = await run(join(REPO, "node_modules/.bin/cdk"), ["flags", "--unstable=flags", "-o", out], { cwd: REPO });
    expect(`${stdout}${stderr}`).toContain("All feature flags are already set to their recommended values");
  });
});
