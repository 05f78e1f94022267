// A pipeline written in Flink SQL and its twin written in the JSON form give identical results (issue
// 22): random windows (tumbling, sliding, cumulating, sessions), keys of none, one or two columns,
// aggregates of columns and of expressions, with and without FILTER, COUNT(x) and COUNT(DISTINCT x),
// AVG of an INT, a WHERE, over random events with NULLs — each written both ways by the generator below
// (the JSON twin spells out what SQL implies: the key's columns, computed values, the select list) and
// run through the same window core in memory.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadPipelinesFile } from "../../shared/app/pipelines-file.ts";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import { MemoryEngine } from "../helpers/memory-engine.ts";

type Op = "COUNT*" | "COUNT" | "SUM" | "MIN" | "MAX" | "AVG" | "DISTINCT";

interface AggregateDraft {
  op: Op;
  /** the argument: a column or an expression (none for COUNT(*)) */
  argument: string;
  filter?: string;
}

interface Draft {
  window: "tumble" | "hop" | "cumulate" | "session";
  keys: string[];
  aggregates: AggregateDraft[];
  where?: string;
}

const ARGUMENTS = ["x", "i", "x * 2 + i", "CASE WHEN i > 2 THEN x END", "COALESCE(x, 0)"];
const FILTERS = ["i >= 2", "a = 'p' OR x > 0.5", "x IS NULL"];

const draftArb: fc.Arbitrary<Draft> = fc.record(
  {
    window: fc.constantFrom("tumble", "hop", "cumulate", "session"),
    keys: fc.constantFrom([], ["a"], ["b"], ["a", "b"], ["b", "a"]),
    aggregates: fc.array(
      fc.record(
        {
          op: fc.constantFrom<Op>("COUNT*", "COUNT", "SUM", "MIN", "MAX", "AVG", "DISTINCT"),
          argument: fc.constantFrom(...ARGUMENTS),
          filter: fc.constantFrom(...FILTERS),
        },
        { requiredKeys: ["op", "argument"] },
      ),
      { minLength: 1, maxLength: 4 },
    ),
    where: fc.constantFrom("x > 0.2 OR a = 'q'", "i <> 3"),
  },
  { requiredKeys: ["window", "keys", "aggregates"] },
);

const TABLE = `CREATE TABLE t (a STRING, b STRING, i INT, x DOUBLE, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'kinesis', 'format' = 'json');
`;

const call = (g: AggregateDraft) =>
  g.op === "COUNT*" ? "COUNT(*)" : g.op === "DISTINCT" ? `COUNT(DISTINCT ${g.argument})` : `${g.op}(${g.argument})`;

/** The draft in Flink SQL, as a user writes it. */
function sqlOf(d: Draft): string {
  const aggregates = d.aggregates.map((g, i) => `${call(g)}${g.filter ? ` FILTER (WHERE ${g.filter})` : ""} AS g${i}`);
  const where = d.where ? ` WHERE ${d.where}` : "";
  if (d.window === "session") {
    const columns = [
      ...d.keys,
      "SESSION_START(ts, INTERVAL '5' SECOND) AS window_start",
      "SESSION_END(ts, INTERVAL '5' SECOND) AS window_end",
    ];
    return `${TABLE}INSERT INTO p SELECT ${[...columns, ...aggregates].join(", ")} FROM t${where} GROUP BY ${["SESSION(ts, INTERVAL '5' SECOND)", ...d.keys].join(", ")};`;
  }
  const tvf = {
    tumble: "TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '20' SECOND)",
    hop: "HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND, INTERVAL '30' SECOND)",
    cumulate: "CUMULATE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND, INTERVAL '30' SECOND)",
  }[d.window];
  return `${TABLE}INSERT INTO p SELECT ${["window_start", "window_end", ...d.keys, ...aggregates].join(", ")} FROM TABLE(${tvf})${where} GROUP BY ${["window_start", "window_end", ...d.keys].join(", ")};`;
}

/** The same pipeline in the JSON form: what SQL implies, written out. */
function jsonOf(d: Draft): object {
  const computed: Record<string, string> = {};
  const aggregates: Record<string, object> = {};
  d.aggregates.forEach((g, i) => {
    let field: string | undefined;
    if (g.op !== "COUNT*" || g.filter) {
      const argument = g.op === "COUNT*" ? "1" : g.argument;
      const expression = g.filter ? `CASE WHEN ${g.filter} THEN ${argument} END` : argument;
      field = ["x", "i"].includes(expression) ? expression : `v${i}`;
      if (field !== expression) computed[field] = expression;
    }
    const op = { "COUNT*": "count", COUNT: "count", SUM: "sum", MIN: "min", MAX: "max", AVG: "avg", DISTINCT: "distinct" }[g.op];
    aggregates[`g${i}`] = field === undefined ? { count: true } : { [op]: field };
  });
  const window = {
    tumble: { type: "tumbling", size: "20s" },
    hop: { type: "sliding", size: "30s", slide: "10s" },
    cumulate: { type: "cumulate", size: "30s", step: "10s" },
    session: { type: "session", gap: "5s" },
  }[d.window];
  return {
    name: "p",
    key: d.keys.length === 1 ? d.keys[0] : d.keys,
    eventTime: "ts",
    columns: { a: "STRING", b: "STRING", i: "INT", x: "DOUBLE", ts: "TIMESTAMP" },
    ...(d.where ? { where: d.where } : {}),
    ...(Object.keys(computed).length > 0 ? { computed } : {}),
    window,
    aggregates,
    select: Object.fromEntries(["window_start", "window_end", ...d.keys, ...d.aggregates.map((_, i) => `g${i}`)].map((c) => [c, c])),
    outOfOrderness: "2s",
  };
}

const eventArb = fc.record({
  a: fc.constantFrom("p", "q", null),
  b: fc.constantFrom("r", "s"),
  i: fc.option(fc.integer({ min: 1, max: 4 }), { nil: null }),
  x: fc.option(
    fc.integer({ min: 0, max: 1000 }).map((n) => n / 1000),
    { nil: null },
  ),
  dt: fc.integer({ min: 0, max: 3000 }),
});

async function load(dir: string, name: string, text: string): Promise<Pipeline> {
  const path = join(dir, name);
  await writeFile(path, text);
  const [pipeline] = await loadPipelinesFile(path);
  return pipeline as Pipeline;
}

function run(pipeline: Pipeline, events: readonly object[]) {
  const engine = new MemoryEngine(pipeline, { keyGroups: 3 });
  engine.now = Date.parse("2030-01-01T00:00:00Z");
  for (let i = 0; i < events.length; i += 7) engine.ingest(events.slice(i, i + 7));
  engine.advanceWatermark(Number.MAX_SAFE_INTEGER);
  engine.close();
  return {
    results: engine
      .finalResults()
      .map(({ key, start, end, count, values }) => ({ key, start, end, count, values }))
      .sort((x, y) => x.start - y.start || x.end - y.end || (x.key < y.key ? -1 : 1)),
    letters: engine.letters.map((l) => l.reason).sort(),
  };
}

describe("a Flink SQL pipeline and its JSON twin", () => {
  it("give identical results and dead letters, whatever the query and the events", async () => {
    const dir = await mkdtemp(join(tmpdir(), "panes-sql-twin-"));
    let withResults = 0;
    await fc.assert(
      fc.asyncProperty(draftArb, fc.array(eventArb, { minLength: 1, maxLength: 60 }), async (draft, drafts) => {
        // Prepare: events a few seconds apart from one start, some NULLs, a NULL key now and then
        let t = Date.parse("2026-05-04T00:00:00Z");
        const events = drafts.map(({ dt, ...e }) => {
          t += dt;
          return { ...Object.fromEntries(Object.entries(e).filter(([, v]) => v !== null)), ts: new Date(t).toISOString() };
        });
        const sql = await load(dir, "p.sql", sqlOf(draft));
        const json = await load(dir, "p.json", JSON.stringify({ pipelines: [jsonOf(draft)] }));

        // Act
        const fromSql = run(sql, events);
        const fromJson = run(json, events);

        // Assess
        if (fromSql.results.length > 0) withResults++;
        expect(fromSql).toEqual(fromJson);
      }),
      { numRuns: 150 },
    );
    // the runs compared something: most queries over most event lists give windows
    expect(withResults).toBeGreaterThan(100);
  });
});
