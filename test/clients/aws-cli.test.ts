// The AWS CLI (Debian's awscli, a real client) against \`npm start\`'s stack: events it puts close their
// window. Runs where the CLI is installed (.ci/run installs it; vitest.config.ts says when it is not).
import { execFile } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { AWS_CLI, awsCliMajorVersion } from "../helpers/aws-cli.ts";
import { runPanes, startPanes } from "../helpers/processes.ts";

const run = promisify(execFile);
const pipelinesFile = join(import.meta.dirname, "../../examples/monitoring.pipelines.json");

describe("the AWS CLI", () => {
  it("takes events from the AWS CLI and closes their window", async () => {
    // Prepare
    const cwd = await mkdtemp(join(tmpdir(), "panes-awscli-"));
    const panes = startPanes(["start", "--pipelines", pipelinesFile, "--no-demo", "--shards", "1"], cwd);
    try {
      const endpoint = (await panes.waitFor(/Kinesis (http:\/\/127\.0\.0\.1:\d+)/))[1] as string;
      await panes.waitFor(/Ctrl-C stops everything/);
      const binary = awsCliMajorVersion() === 2 ? ["--cli-binary-format", "raw-in-base64-out"] : [];
      const put = (event: object) =>
        run(
          AWS_CLI,
          [
            "--endpoint-url",
            endpoint,
            "--region",
            "us-east-1",
            "kinesis",
            "put-record",
            "--stream-name",
            "panes-events",
            "--partition-key",
            "h1",
            "--data",
            JSON.stringify(event),
            ...binary,
          ],
          {
            env: { ...process.env, AWS_ACCESS_KEY_ID: "000000000000", AWS_SECRET_ACCESS_KEY: "x" },
          },
        );

      // Act: two samples in one 5-minute window, then one ten minutes later moves the watermark past it
      await put({ host: "h1", metric: "cpu", ts: "2026-02-01T10:01:00Z", value: 40 });
      await put({ host: "h1", metric: "cpu", ts: "2026-02-01T10:02:00Z", value: 60 });
      await put({ host: "h1", metric: "cpu", ts: "2026-02-01T10:12:00Z", value: 10 });

      // Assess
      await panes.waitFor(/^window cpu-avg-5m {2}h1 {2}\[2026-02-01T10:00:00\.000Z, 2026-02-01T10:05:00\.000Z\) {2}avg=50 max=60 n=2/m);
      const json = await runPanes(["results", "--pipeline", "cpu-avg-5m", "--key", "h1", "--json"], { cwd });
      expect(JSON.parse(json.stdout.trim().split("\n")[0] ?? "{}")).toMatchObject({
        key: "h1",
        values: { avg: 50, max: 60, n: 2 },
        count: 2,
        version: 1,
      });
    } finally {
      panes.child.kill("SIGINT");
      await panes.exited;
    }
  });
});
