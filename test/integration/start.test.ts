// `npm start` (panes start): both seed queries produce windows on screen, other commands reach the
// running stack (the AWS CLI too: test/clients), and Ctrl-C stops everything it started.
import { existsSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { interruptGroup, portIsOpen, runPanes, startPanes } from "../helpers/processes.ts";

const pipelinesFile = join(import.meta.dirname, "../../examples/monitoring.pipelines.json");

describe("panes start", () => {
  it("shows windows of both seed queries and stops every process on SIGINT", async () => {
    // Prepare / Act
    const cwd = await mkdtemp(join(tmpdir(), "panes-start-"));
    // the demo pipelines (early results on the 60-minute window), run as a terminal runs it
    const panes = startPanes(["start", "--speed", "600"], cwd, {}, { group: true });
    try {
      const kinesisPort = Number((await panes.waitFor(/Kinesis http:\/\/127\.0\.0\.1:(\d+)/))[1]);
      const dynamodbPort = Number((await panes.waitFor(/DynamoDB http:\/\/127\.0\.0\.1:(\d+)/))[1]);
      await panes.waitFor(/^window cpu-avg-5m {2}web-\d+ {2}\[.*\) {2}avg=[\d.]+ max=[\d.]+ n=\d+/m);
      await panes.waitFor(/^window mem-max-60m {2}web-\d+ {2}\[.*\) {2}max=\d+ n=\d+/m);
      // an early result of a window comes before its final one
      const early = await panes.waitFor(/^window mem-max-60m {2}(web-\d+) {2}(\[[^)]*\)) .*\(early\)$/m);
      const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      const finalOfSame = new RegExp(`^window mem-max-60m {2}${early[1]} {2}${escapeRegExp(early[2] ?? "")} .*v\\d+$`, "m");
      await panes.waitFor(finalOfSame);
      expect(panes.output().search(finalOfSame)).toBeGreaterThan(panes.output().indexOf(early[0]));
      const status = async () => JSON.parse((await runPanes(["status", "--json"], { cwd })).stdout);
      const first = await status();
      // live figures: poll until the watermark has moved on (with a deadline, no fixed sleep)
      let second = await status();
      const deadline = Date.now() + 300_000;
      while (!(second.pipelines[0].watermark > first.pipelines[0].watermark) && Date.now() < deadline) second = await status();
      expect(first.pipelines.map((p: { pipeline: string }) => p.pipeline)).toEqual(["cpu-avg-5m", "mem-max-60m"]);
      expect(first.pipelines[0].shards).toHaveLength(2);
      expect(first.pipelines[0].shards[0]).toMatchObject({
        shardId: "shardId-000000000000",
        idle: false,
        sequenceNumber: expect.stringMatching(/^\d+$/),
      });
      expect(second.pipelines[0].watermark).toBeGreaterThan(first.pipelines[0].watermark);
      const results = await runPanes(["results", "--pipeline", "cpu-avg-5m"], { cwd });
      expect(results.code).toBe(0);
      expect(results.stdout).toMatch(/^key\s+start\s+end\s+avg\s+max\s+n\s+events\s+version/m);
      interruptGroup(panes); // Ctrl-C: the whole process group, emulators included
      const exit = await panes.exited;

      // Assess: a clean stop — nothing reported lost for batches the stop cut off, no notices about metrics
      expect(exit.code).toBe(0);
      expect(panes.output()).toContain("Stopped.");
      expect(panes.output()).not.toMatch(/on-failure destination|No application metrics|Error/);
      expect(existsSync(join(cwd, ".panes/on-failure.jsonl"))).toBe(false);
      expect(await portIsOpen(kinesisPort)).toBe(false);
      expect(await portIsOpen(dynamodbPort)).toBe(false);
    } finally {
      panes.child.kill("SIGKILL");
    }
  });

  it("takes JSON lines from the produce command it prints (run from the screen's own text) and serves them to panes results", async () => {
    // Prepare
    const cwd = await mkdtemp(join(tmpdir(), "panes-produce-"));
    const panes = startPanes(["start", "--pipelines", pipelinesFile, "--no-demo", "--shards", "1"], cwd);
    try {
      const [, printed] = (await panes.waitFor(/with {2}npx panes (.+?) {2}beside this\. Ctrl-C stops everything/)) as string[];
      // The printed command, with standard input for its FILE placeholder
      const command = (printed as string).split(" ").map((word) => (word === "FILE" ? "-" : word));
      // The dashboard's address is where the endpoints are, for whoever did not see the screen
      const local = JSON.parse(await readFile(join(cwd, ".panes", "local.json"), "utf8"));
      expect(local.dashboardUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
      const lines = [
        { host: "p1", metric: "cpu", ts: "2026-02-01T10:00:10Z", value: 10 },
        { host: "p1", metric: "cpu", ts: "2026-02-01T10:04:50Z", value: 30 },
        { host: "p2", metric: "mem", ts: "2026-02-01T10:00:00Z", value: 2048 },
        { host: "p1", metric: "cpu", ts: "2026-02-01T11:30:00Z", value: 0 },
        { host: "p2", metric: "cpu", ts: "2026-02-01T11:30:00Z", value: 0 },
      ];

      // Act
      const produced = await runPanes(command, {
        cwd,
        input: lines.map((l) => JSON.stringify(l)).join("\n"),
      });

      // Assess
      expect(produced.code).toBe(0);
      expect(produced.stderr).toMatch(/produce: 5 records to panes-events \(local stack/);
      await panes.waitFor(/^window cpu-avg-5m {2}p1 {2}\[2026-02-01T10:00:00\.000Z, 2026-02-01T10:05:00\.000Z\) {2}avg=20 max=30 n=2/m);
      const json = await runPanes(["results", "--pipeline", "cpu-avg-5m", "--key", "p1", "--to", "2026-02-01T10:05:00Z", "--json"], {
        cwd,
      });
      expect(
        json.stdout
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l).values),
      ).toEqual([{ avg: 20, max: 30, n: 2 }]);
    } finally {
      panes.child.kill("SIGINT");
      await panes.exited;
    }
  });
});
