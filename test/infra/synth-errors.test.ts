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

/** Runs `cdk synth -c panes=<panes>` (and any other `-c`), expecting it to fail: its exit code and the lines it printed. */
async function synthFailing(panes: unknown, context: string[] = []) {
  const out = await mkdtemp(join(tmpdir(), "panes-synth-"));
  const args = ["synth", "-o", out, "-c", `panes=${JSON.stringify(panes)}`, ...context.flatMap((c) => ["-c", c])];
  const failed = await run(join(REPO, "node_modules/.bin/cdk"), args, { cwd: REPO }).then(
    () => undefined,
    (error: { code: number; stderr: string }) => error,
  );
  const lines = (failed?.stderr ?? "").split("\n").filter((line) => line.trim() !== "" && !line.startsWith("npm warn"));
  return { code: failed?.code, lines };
}

const exitedWithTwo = expect.stringMatching(/Subprocess exited with error 2$/);

describe("cdk synth with a bad configuration", () => {
  it("says what is wrong in one line per problem, with no stack trace", async () => {
    const { code, lines } = await synthFailing({ stream: { create: { mode: "provisoned" } }, batchSize: 5 });
    expect(code).toBe(1);
    expect(lines).toEqual([
      'panes: invalid configuration: panes.stream.create.mode: "provisoned" is not allowed; expected "on-demand" or "provisioned"; did you mean "provisioned"?',
      "panes: invalid configuration: panes.batchSize: unknown key; did you mean panes.eventSource.batchSize?",
      exitedWithTwo,
    ]);
  });

  it("refuses, naming the field, every setting the stack's resources cannot take, instead of a CDK stack trace", async () => {
    const { code, lines } = await synthFailing({
      stream: { import: { arn: "arn:aws:kinesis:eu-west-1:123456789012:stream/events", encryptionKeyArn: "arn:" } },
      eventSource: { maxBatchingWindow: "1500ms", maxRecordAge: "8d" },
      watermarkSchedule: "30s",
      capacity: { mode: "provisioned", minWrite: 100, maxWrite: 5, minRead: 5000 },
      retention: { tombstones: "30s" },
    });
    expect(code).toBe(1);
    expect(lines).toEqual([
      "panes: invalid configuration: panes.stream.import.encryptionKeyArn: must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)",
      'panes: invalid configuration: panes.eventSource.maxBatchingWindow: "1500ms" is not a whole number of seconds (Lambda\'s batching window is a whole number of seconds, at most 300); use "1s" or "2s"',
      'panes: invalid configuration: panes.eventSource.maxRecordAge: "8d" is more than "7d" (Lambda\'s maximum record age is a whole number of seconds, from 60 to 604800)',
      'panes: invalid configuration: panes.watermarkSchedule: "30s" is less than "1m" (an EventBridge schedule runs every whole number of minutes, at least one)',
      "panes: invalid configuration: panes.capacity.minWrite: 100 is more than maxWrite (5); auto scaling needs minWrite ≤ maxWrite",
      "panes: invalid configuration: panes.capacity.minRead: 5000 is more than maxRead (4000, the default); auto scaling needs minRead ≤ maxRead",
      'panes: invalid configuration: panes.retention.tombstones: "30s" is less than "1m" (the functions refuse a shorter one at their cold start)',
      exitedWithTwo,
    ]);
  });

  it("refuses a schedule of a fraction of minutes and a stack name CloudFormation refuses, in one line each", async () => {
    const { code, lines } = await synthFailing({ watermarkSchedule: "90s" }, ["stackName=my stack"]);
    expect(code).toBe(1);
    expect(lines).toEqual([
      "panes: invalid configuration: stackName: \"my stack\" is not a stack name: letters, digits and '-', starting with a letter, at most 128 characters",
      'panes: invalid configuration: panes.watermarkSchedule: "90s" is not a whole number of minutes (an EventBridge schedule runs every whole number of minutes, at least one); use "1m" or "2m"',
      exitedWithTwo,
    ]);
  });

  it("says in one line that a pipelines module is not there, as for a JSON file", async () => {
    const { code, lines } = await synthFailing({ pipelinesFile: "missing.pipelines.ts" });
    expect(code).toBe(1);
    expect(lines).toEqual([
      `panes: invalid pipelines in missing.pipelines.ts: cannot read the file: ENOENT: no such file or directory, access '${join(REPO, "missing.pipelines.ts")}'`,
      exitedWithTwo,
    ]);
  });

  it("says which fields a stream mode requires or refuses", async () => {
    const missing = await synthFailing({ stream: { create: { mode: "provisioned" } } });
    expect(missing.code).toBe(1);
    expect(missing.lines).toEqual([
      'panes: invalid configuration: panes.stream.create.shards: required for mode "provisioned" (number)',
      exitedWithTwo,
    ]);
    const refused = await synthFailing({ stream: { create: { mode: "on-demand", shards: 2 } } });
    expect(refused.code).toBe(1);
    expect(refused.lines).toEqual([
      'panes: invalid configuration: panes.stream.create.shards: not allowed with mode "on-demand" (only with "provisioned")',
      exitedWithTwo,
    ]);
  });
});
