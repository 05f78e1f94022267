// The `panes` command as users run it: help, replay's errors and output format, produce and results.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { PANES, runPanes } from "../helpers/processes.ts";

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

  it("refuses an input file that is not JSON lines, naming every bad line in one line", async () => {
    const dir = await mkdtemp(join(tmpdir(), "panes-cli-"));
    const input = join(dir, "events.jsonl");
    await writeFile(input, '{"host":"a","metric":"cpu","ts":1,"value":1}\nnot json\n[{"host":"a"}]\n\n7\n');
    const { code, stderr } = await runPanes(["replay", "--pipelines", pipelinesFile, "--input", input, "--output", join(dir, "out.jsonl")]);
    expect(code).toBe(2);
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toMatch(
      /^panes: 3 lines are not events: .*events\.jsonl:2: not JSON .*events\.jsonl:3: not a JSON object \(an array\).*events\.jsonl:5: not a JSON object \(a number\)/,
    );
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

  it('counts in the singular where there is one: a replay of one event says "1 event → 1 window"', async () => {
    // Prepare: one cpu event, so one 5-minute window
    const dir = await mkdtemp(join(tmpdir(), "panes-cli-"));
    const input = join(dir, "events.jsonl");
    await writeFile(input, `${JSON.stringify({ host: "a", metric: "cpu", ts: Date.parse("2026-01-01T00:00:00Z"), value: 5 })}\n`);

    // Act
    const { code, stderr } = await runPanes(["replay", "--pipelines", pipelinesFile, "--input", input, "--output", "-", "--shards", "1"]);

    // Assess
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/^replay: read 1 event from /m);
    expect(stderr).toMatch(
      /^replay: 1 event → 1 window in [\d.]+ s \(\d+ events?\/s\); 0 dead-lettered, 0 late, 0 batches to the on-failure/m,
    );
  });

  it("tells events late for every window (Flink's side output; --strict fails on them) from events late for some windows only", async () => {
    // Prepare: a 3 s window sliding by 1 s, one event a round. 2400 comes after [0, 3000) fired: late
    // for it, taken by [1000, 4000) and [2000, 5000). 3001 comes after all three of its windows fired.
    const dir = await mkdtemp(join(tmpdir(), "panes-cli-"));
    const pipelines = join(dir, "sliding.json");
    const window = { type: "sliding", size: "3s", slide: "1s" };
    const pipeline = { name: "s", key: "k", eventTime: "ts", outOfOrderness: "0s", window, aggregates: { n: { count: true } } };
    await writeFile(pipelines, JSON.stringify({ pipelines: [pipeline] }));
    const input = join(dir, "events.jsonl");
    const times = [1000, 3500, 2400, 10_000, 3001];
    await writeFile(input, times.map((ts) => JSON.stringify({ k: "a", ts })).join("\n"));
    const args = ["replay", "--pipelines", pipelines, "--input", input, "--output", "-", "--shards", "1", "--batch-size", "1"];

    // Act
    const plain = await runPanes(args);
    const strict = await runPanes([...args, "--strict"]);

    // Assess
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toMatch(/; 0 dead-lettered, 1 late \(and 1 late for some windows only, counted in the others\), 0 batches/);
    expect(strict.code).toBe(3);
    expect(strict.stderr).toMatch(/^panes: 0 dead-lettered, 1 late for every window \(--strict\)$/m);
  });

  it("ends every error in one line: usage (exit 2: a bad value, an unknown or misspelt option, a missing input file), missing credentials and unreachable endpoints (exit 1)", async () => {
    const cwd = await mkdtemp(join(tmpdir(), "panes-cli-"));
    // a fresh machine: no credentials anywhere, no instance metadata to ask
    const bare = { HOME: cwd, AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "", AWS_PROFILE: "", AWS_EC2_METADATA_DISABLED: "true" };
    const usage = await runPanes(["dlq", "list", "--limit", "many"], { cwd });
    const unknown = await runPanes(["status", "--stak", "Panes"], { cwd });
    const credentials = await runPanes(["status", "--stack", "Panes", "--region", "eu-west-1"], { cwd, env: bare });
    const unreachable = await runPanes(["results", "--pipeline", "p", "--table", "t", "--region", "us-east-1"], {
      cwd,
      env: { AWS_ENDPOINT_URL: "http://127.0.0.1:9", AWS_ACCESS_KEY_ID: "x", AWS_SECRET_ACCESS_KEY: "y" },
    });
    const misspelt = await runPanes(["results", "--pipline", "x"], { cwd });
    const noFile = await runPanes(["produce", "--stream", "s", join(cwd, "missing.jsonl")], { cwd, env: bare });
    const oneLine = (stderr: string) => stderr.split("\n").filter((line) => line.trim() !== "");
    expect([usage.code, unknown.code, credentials.code, unreachable.code, misspelt.code, noFile.code]).toEqual([2, 2, 1, 1, 2, 2]);
    expect(oneLine(misspelt.stderr)).toEqual(["panes: unknown option '--pipline' (did you mean --pipeline?) (--help shows the usage)"]);
    expect(oneLine(noFile.stderr)).toEqual([expect.stringMatching(/^panes: cannot read .*missing\.jsonl: ENOENT/)]);
    expect(oneLine(usage.stderr)).toEqual([
      expect.stringMatching(/^panes: option '--limit <n>' argument 'many' is invalid\. must be a whole number/),
    ]);
    expect(oneLine(unknown.stderr)).toEqual([expect.stringMatching(/^panes: unknown option '--stak'.*\(--help shows the usage\)$/)]);
    expect(oneLine(credentials.stderr)).toEqual([
      expect.stringMatching(/^panes: no AWS credentials: pass --profile NAME, or set AWS_PROFILE/),
    ]);
    expect(oneLine(unreachable.stderr)).toEqual([expect.stringMatching(/^panes: cannot reach 127\.0\.0\.1:9 \(ECONNREFUSED\)/)]);
  });

  it("stops quietly when the reader of its output does (panes … | head)", async () => {
    const { stdout, stderr } = await promisify(execFile)(
      "bash",
      ["-o", "pipefail", "-c", `"${process.execPath}" "${PANES}" generate --events 200000 | head -2; echo "exit \${PIPESTATUS[0]}"`],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    expect(stdout.trim().split("\n")).toHaveLength(3);
    expect(stdout.trim().split("\n").at(-1)).toBe("exit 0");
    expect(stderr).not.toMatch(/EPIPE|Error/);
  });
});
