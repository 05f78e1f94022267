// Apache Flink's own SQL window ITCases (WindowAggregateITCase, WindowDistinctAggregateITCase, WindowRankITCase, GroupWindowITCase), kept as data in
// test/conformance/flink-sql/*.json and run as Flink SQL text through Panes' real handlers: each case's
// pipelines file (the test's CREATE TABLE and query, changed only where Panes must differ, every change
// in its notes) is loaded as a user's would be and replayed with `panes replay` on the emulators, one
// event per Kinesis batch on one shard, so that the watermark (max event time − 1 s) moves after every
// element as Flink's WatermarkAssignerOperator moves it in those tests; the final results must be the
// test's expected rows, as a multiset. A case marked `knownDifference` documents where Panes computes
// something other than Flink: it is reported on its own and checked to still differ (exactly in the
// columns it names, every other value still as Flink has it), so a fix shows up as a failure asking
// for the mark to go.
import { readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadPipelinesFile } from "../../shared/app/pipelines-file.ts";
import type { DeadLetter, WindowResult } from "../../shared/core/types.ts";
import { replay } from "../../tools/local/replay.ts";
import { emulatorEndpoints } from "../helpers/emulated.ts";

type Value = string | number | boolean | null | Value[] | { [name: string]: Value };
type Values = Record<string, Value>;

interface ExpectedResult {
  pipeline: string;
  /** the selected columns by name; `rows` (Window Top-N) holds the ranked rows, each with the columns the test asserts */
  values: Values;
}

/** Where a file was ported from: its commit, or (when the index that holds it does not expose the commit) a description of the revision. */
type Source = { repo: "apache/flink"; path: string } & ({ commit: string } | { commit: null; revision: string });

interface SqlCase {
  name: string;
  source: Source & { method: string };
  /** every change from the Flink test, and why */
  notes: string;
  /** a whole Panes pipelines file in Flink SQL */
  sql: string;
  /** the test's rows, in arrival order */
  events: Record<string, unknown>[];
  /** the test's expected rows as Panes' results: one per window (and key) */
  expected: ExpectedResult[];
  /** the late-data letters: per pipeline, the late row's event time and the windows that refused it */
  late: LateLetter[];
  /** pipelines of the file whose rows the test does not assert (a view the query reads is a pipeline of its own in Panes) */
  unasserted?: string[];
  /** where Panes differs from Flink on this case, exactly */
  knownDifference?: string;
  /** the value names that differ (the rest of the case is still asserted); absent: the case as a whole differs */
  differingColumns?: string[];
}

interface LateLetter {
  pipeline: string;
  rowtime: string;
  windows: { start: string; end: string }[];
}

interface SqlCaseFile {
  source: Source;
  data: { repo: "apache/flink"; commit: string; path: string; value: string };
  /** every test method of the source file (less those of `base`) */
  methods: string[];
  /** a port of an earlier revision of the same file that holds the rest of this revision's methods */
  base?: { file: (typeof FILES)[number]; why: string };
  cases: SqlCase[];
  skipped: { method: string; reason: string }[];
}

const FILES = [
  "window-aggregate-itcase.json",
  "window-aggregate-itcase-session.json",
  "window-distinct-aggregate-itcase.json",
  "window-rank-itcase.json",
  "group-window-itcase.json",
] as const;

function load(file: string): SqlCaseFile {
  return JSON.parse(readFileSync(join(import.meta.dirname, "../conformance/flink-sql", file), "utf8")) as SqlCaseFile;
}

/** Numbers within 1e-9 relative (DECIMAL columns are doubles in Panes); anything else exactly. */
function sameScalar(actual: unknown, expected: Value): boolean {
  if (typeof actual === "number" && typeof expected === "number")
    return Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected));
  return actual === expected;
}

/** A ranked row: the test's outer select list's columns, in its order, each value equal. */
function sameRow(actual: unknown, expected: Value): boolean {
  if (actual === null || typeof actual !== "object" || expected === null || typeof expected !== "object" || Array.isArray(expected))
    return false;
  if (JSON.stringify(Object.keys(actual)) !== JSON.stringify(Object.keys(expected))) return false;
  return Object.entries(expected).every(([name, value]) => sameScalar((actual as Record<string, unknown>)[name], value));
}

/** Two lists of rows as multisets. */
function sameRows(actual: unknown, expected: Value[]): boolean {
  if (!Array.isArray(actual) || actual.length !== expected.length) return false;
  const left = [...actual];
  return expected.every((row) => {
    const at = left.findIndex((candidate) => sameRow(candidate, row));
    if (at < 0) return false;
    left.splice(at, 1);
    return true;
  });
}

/** A result's values against the test's: the same names (less those ignored), each value equal. */
function sameValues(actual: Record<string, unknown>, expected: Values, ignored: ReadonlySet<string>): boolean {
  const names = (values: object) =>
    Object.keys(values)
      .filter((n) => !ignored.has(n))
      .sort();
  if (JSON.stringify(names(actual)) !== JSON.stringify(names(expected))) return false;
  return names(expected).every((name) => {
    const value = expected[name] as Value;
    return Array.isArray(value) ? sameRows(actual[name], value) : sameScalar(actual[name], value);
  });
}

interface Comparison {
  missing: ExpectedResult[];
  unexpected: { pipeline: string; values: Record<string, unknown> }[];
}

/** The final results against the expected ones as multisets. */
function compare(actual: readonly WindowResult[], expected: readonly ExpectedResult[], ignored: ReadonlySet<string>): Comparison {
  const left = actual.map((r) => ({ pipeline: r.pipeline, values: r.values as Record<string, unknown> }));
  const missing: ExpectedResult[] = [];
  for (const e of expected) {
    const at = left.findIndex((a) => a.pipeline === e.pipeline && sameValues(a.values, e.values, ignored));
    if (at < 0) missing.push(e);
    else left.splice(at, 1);
  }
  return { missing, unexpected: left };
}

/** The last version of every window: what Flink's append sink holds for an insert-only window query. */
function finalResults(results: readonly WindowResult[]): WindowResult[] {
  const last = new Map<string, WindowResult>();
  for (const r of results) {
    const id = `${r.pipeline}/${r.key}/${r.start}/${r.end}`;
    const seen = last.get(id);
    if (seen === undefined || r.version > seen.version) last.set(id, r);
  }
  return [...last.values()].filter((r) => r.final);
}

/** The late letters a replay wrote, as cases state them. */
function lateLetters(letters: readonly DeadLetter[]): LateLetter[] {
  return letters
    .filter((l) => l.kind === "late")
    .map((l) => ({
      pipeline: l.pipeline,
      rowtime: (JSON.parse(Buffer.from(l.data).toString("utf8")) as { rowtime: string }).rowtime,
      windows: (l.windows ?? []).map((w) => ({ start: new Date(w.start).toISOString(), end: new Date(w.end).toISOString() })),
    }));
}

const sortedJson = (letters: readonly LateLetter[]) => letters.map((l) => JSON.stringify(l)).sort();

/** What every case asserts beside the rows: no dead letter (a NULL key is a group, as in Flink), the late letters, no failed invocation. */
function expectLetters(c: SqlCase, summary: Awaited<ReturnType<typeof replay>>): void {
  expect(summary.deadLettered).toBe(0);
  expect(sortedJson(lateLetters(summary.letters))).toEqual(sortedJson(c.late));
  expect(summary.onFailure).toBe(0);
}

async function run(c: SqlCase) {
  const dir = await mkdtemp(join(tmpdir(), "panes-flink-sql-"));
  const file = join(dir, "pipelines.sql");
  const input = join(dir, "events.jsonl");
  await writeFile(file, c.sql);
  await writeFile(input, c.events.map((e) => JSON.stringify(e)).join("\n"));
  // batchSize 1 on one shard: the closing run after every batch moves the watermark after every
  // element, and each element's lateness is judged against the watermark of the elements before it.
  const summary = await replay({
    pipelines: await loadPipelinesFile(file),
    input,
    shards: 1,
    endpoints: emulatorEndpoints(),
    batchSize: 1,
  });
  const unasserted = new Set(c.unasserted ?? []);
  return { summary, results: finalResults(summary.results).filter((r) => !unasserted.has(r.pipeline)) };
}

const describeCase = (c: SqlCase) => `${c.source.method}${c.name === c.source.method ? "" : ` (${c.name})`}`;

const show = (comparison: Comparison) =>
  JSON.stringify(
    { missing: comparison.missing, unexpected: comparison.unexpected.map(({ pipeline, values }) => ({ pipeline, values })) },
    null,
    1,
  );

for (const fileName of FILES) {
  const file = load(fileName);

  describe(`Flink's ${file.source.path.split("/").pop()} as Flink SQL through panes replay`, () => {
    it("ports or skips every test method of the file, each once", () => {
      const ported = file.cases.map((c) => c.source.method);
      const skipped = file.skipped.map((s) => s.method);
      expect(new Set(file.methods).size).toBe(file.methods.length);
      expect(new Set(skipped).size).toBe(skipped.length);
      expect([...new Set([...ported, ...skipped])].sort()).toEqual([...file.methods].sort());
      expect(ported.filter((m) => skipped.includes(m))).toEqual([]);
      expect(file.skipped.length).toBe(file.methods.length - new Set(ported).size);
      for (const s of file.skipped) expect(s.reason.length, s.method).toBeGreaterThan(20);
      if (file.base !== undefined) {
        const base = load(file.base.file);
        expect(base.source.path).toBe(file.source.path);
        expect(file.methods.filter((m) => base.methods.includes(m))).toEqual([]);
      }
      for (const c of file.cases) {
        const { method: _, ...source } = c.source;
        expect(source).toEqual(file.source);
        expect(c.expected.length, c.name).toBeGreaterThan(0);
      }
    });

    for (const c of file.cases.filter((k) => k.knownDifference === undefined)) {
      it(`${describeCase(c)}: Flink's expected rows`, async () => {
        // Act
        const { summary, results } = await run(c);

        // Assess
        const comparison = compare(results, c.expected, new Set());
        expect(comparison.missing.length + comparison.unexpected.length, show(comparison)).toBe(0);
        expectLetters(c, summary);
      });
    }

    const differing = file.cases.filter((k) => k.knownDifference !== undefined);
    if (differing.length > 0)
      describe("known differences from Flink (reported on their own, checked to persist)", () => {
        for (const c of differing) {
          const where = c.differingColumns === undefined ? "the case as a whole" : `only ${c.differingColumns.join(", ")}`;
          it(`${describeCase(c)}: Flink's expected rows but for ${where}`, async () => {
            // Act
            const { summary, results } = await run(c);

            // Assess: Flink's rows differ, and (when the difference names its columns) only in those columns
            const whole = compare(results, c.expected, new Set());
            console.log(`panes: known difference from Flink, ${fileName} ${c.name}: ${c.knownDifference}`);
            expect(
              whole.missing.length + whole.unexpected.length,
              "Panes now gives Flink's rows: remove the knownDifference mark",
            ).toBeGreaterThan(0);
            if (c.differingColumns !== undefined) {
              const rest = compare(results, c.expected, new Set(c.differingColumns));
              expect(rest.missing.length + rest.unexpected.length, show(rest)).toBe(0);
            }
            expectLetters(c, summary);
          });
        }
      });
  });
}
