// The `panes` command as users run it: help, replay's errors and output format, produce and results.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runPanes } from "../helpers/processes.ts";

const pipelinesFile = join(import.meta.dirname, "../../examples/monitoring.pipelines.json");

describe("panes CLI", () => {
  it("documents every command in --help", async () => {
    const { code, stdout } = await runPanes(["--help"]);
    expect(code).toBe(0);
    for (const command of ["start", "replay", "produce", "results", "dlq", "generate"])
      expect(stdout).toMatch(new RegExp(`^\\s+${command}\\b`, "m"));
    const replayHelp = await runPanes(["replay", "--help"]);
    for (const option of ["--pipelines", "--input", "--output", "--shards"]) expect(replayHelp.stdout).toContain(option);
  });

  it("refuses an invalid pipelines file with a message naming the pipeline and field", async () => {
    const dir = await mkdtemp(join(tmpdir(), "panes-cli-"));
    const bad = join(dir, "bad.json");
    await writeFile(
      bad,
      JSON.stringify({
        pipelines: [
          { name: "x", key: "host", eventTime: "ts", window: { type: "tumbling", size: "5 min" }, aggregates: { n: { count: true } } },
        ],
      }),
    );
    const { code, stderr } = await runPanes(["replay", "--pipelines", bad, "--input", bad, "--output", join(dir, "out.jsonl")]);
    expect(code).toBe(2);
    expect(stderr).toContain('pipeline "x" (pipelines[0]), field window.size: invalid duration "5 min"');
  });

  it("refuses an input file that is not JSON lines, naming the line", async () => {
    const dir = await mkdtemp(join(tmpdir(), "panes-cli-"));
    const input = join(dir, "events.jsonl");
    await writeFile(input, '{"host":"a","metric":"cpu","ts":1,"value":1}\nnot json\n');
    const { code, stderr } = await runPanes(["replay", "--pipelines", pipelinesFile, "--input", input, "--output", join(dir, "out.jsonl")]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/events\.jsonl:2: not JSON/);
  });

  it("replays generated events and writes one JSON line per window", async () => {
    const dir = await mkdtemp(join(tmpdir(), "panes-cli-"));
    const input = join(dir, "events.jsonl");
    const output = join(dir, "results.jsonl");
    expect((await runPanes(["generate", "--events", "600", "--hosts", "3", "--output", input])).code).toBe(0);
    const { code, stderr } = await runPanes([
      "replay",
      "--pipelines",
      pipelinesFile,
      "--input",
      input,
      "--output",
      output,
      "--shards",
      "1",
    ]);
    expect(code).toBe(0);
    expect(stderr).toMatch(/replay: 600 events → \d+ windows/);
    const lines = (await readFile(output, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) {
      expect(line).toMatchObject({
        pipeline: expect.any(String),
        key: expect.any(String),
        start: expect.any(Number),
        end: expect.any(Number),
        values: expect.any(Object),
      });
      expect(line.end).toBeGreaterThan(line.start);
    }
  });
});
