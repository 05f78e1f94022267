// STDDEV_POP, STDDEV_SAMP, VAR_POP, VAR_SAMP (and STDDEV, VARIANCE) in a SQL pipeline, reduced as Flink
// reduces them (to SUM(x * x), SUM(x) and COUNT(x)): over random windows of DOUBLEs with NULLs, each is a
// textbook two-pass computation's value; a FILTER applies to all three sums; an INT argument is refused in
// one line; POWER is typed and evaluated as Flink's (Java's Math.pow).
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadPipelinesFile } from "../../shared/app/pipelines-file.ts";
import { addEvent, emptyState } from "../../shared/core/aggregates/state.ts";
import { readPipelineEvent } from "../../shared/core/pipelines/events.ts";
import { PipelinesConfigError } from "../../shared/core/pipelines/parse.ts";
import { windowValues } from "../../shared/core/pipelines/project.ts";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import { evaluate, typeOf } from "../../shared/core/sql/expressions.ts";
import { parseExpression } from "../../shared/core/sql/parse-expression.ts";
import { metricsOf } from "../../tools/dashboard/store.ts";

const TABLE = `CREATE TABLE m (host STRING, status INT, v DOUBLE, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
WITH ('connector' = 'kinesis', 'format' = 'json');
`;

async function load(sql: string): Promise<Pipeline[]> {
  const dir = await mkdtemp(join(tmpdir(), "panes-variance-"));
  const path = join(dir, "pipelines.sql");
  await writeFile(path, TABLE + sql);
  return loadPipelinesFile(path);
}

/** The textbook: the mean first, then the squared deviations from it. */
function twoPass(xs: readonly number[], sample: boolean): number | null {
  const n = xs.length;
  if (n === 0 || (sample && n === 1)) return null;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  return xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (sample ? n - 1 : n);
}

const close = (actual: unknown, expected: number | null) =>
  expected === null ? actual === null : typeof actual === "number" && Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected));

describe("the variance family in SQL", () => {
  it("gives the textbook deviations and variances of each window, NULLs skipped, a FILTER on all its sums", async () => {
    const [pipeline] = await load(`INSERT INTO spread
SELECT window_start, window_end, host,
  STDDEV_POP(v) AS sd_pop, STDDEV_SAMP(v) AS sd_samp, STDDEV(v) AS sd, VAR_POP(v) AS v_pop, VAR_SAMP(v) AS v_samp,
  VARIANCE(v) AS v_var, VAR_POP(v * 10) FILTER (WHERE status >= 500) AS v_err, COUNT(*) AS n
FROM TABLE(TUMBLE(TABLE m, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, host;`);
    if (pipeline === undefined) throw new Error("no pipeline");
    const row = fc.record({
      v: fc.option(
        fc.integer({ min: -1_000_000, max: 1_000_000 }).map((n) => n / 1000),
        { nil: null },
      ),
      status: fc.constantFrom(200, 500, 503),
    });
    fc.assert(
      fc.property(fc.array(row, { maxLength: 30 }), (rows) => {
        const state = emptyState();
        for (const r of rows) {
          const read = readPipelineEvent(pipeline, { host: "h", ts: 1000, ...r }, 2000);
          if (read.kind !== "event") throw new Error(JSON.stringify(read));
          addEvent(state, read.ts, read.values, pipeline.aggregates, read.keys);
        }
        const values = windowValues(pipeline, "h", { start: 0, end: 60_000 }, state);
        const xs = rows.flatMap((r) => (r.v === null ? [] : [r.v]));
        const errs = rows.flatMap((r) => (r.v === null || r.status < 500 ? [] : [r.v * 10]));
        const sqrt = (x: number | null) => (x === null ? null : Math.sqrt(Math.max(0, x)));
        // the reduction is over sums: where the two differ by rounding, its variance is near 0
        const near = (actual: unknown, expected: number | null, scale: number) =>
          close(actual, expected) ||
          (expected !== null && (actual === null || (typeof actual === "number" && Math.abs(actual - expected) <= 1e-9 * scale)));
        const scale = xs.reduce((a, x) => a + x * x, 0) + 1;
        expect(near(values.v_pop, twoPass(xs, false), scale), "VAR_POP").toBe(true);
        expect(near(values.v_samp, twoPass(xs, true), scale), "VAR_SAMP").toBe(true);
        expect(values.v_var).toEqual(values.v_samp);
        expect(near(values.sd_pop, sqrt(twoPass(xs, false)), Math.sqrt(scale)), "STDDEV_POP").toBe(true);
        expect(near(values.sd_samp, sqrt(twoPass(xs, true)), Math.sqrt(scale)), "STDDEV_SAMP").toBe(true);
        expect(values.sd).toEqual(values.sd_samp);
        expect(near(values.v_err, twoPass(errs, false), errs.reduce((a, x) => a + x * x, 0) + 1), "VAR_POP FILTER").toBe(true);
        expect(values.n).toBe(rows.length);
      }),
      {
        numRuns: 300,
        examples: [
          [[]],
          [[{ v: 2, status: 200 }]],
          [
            [
              { v: 2, status: 200 },
              { v: 4, status: 500 },
              { v: null, status: 503 },
              { v: 4, status: 503 },
            ],
          ],
        ],
      },
    );
    // the dashboard names a column Panes wrote by its name, not by its sums
    expect(metricsOf(pipeline).find((m) => m.id === "sd_pop")).toEqual({ id: "sd_pop", label: "sd_pop" });
  });

  it("refuses the variance of an INT in one line (cast it), and takes its cast", async () => {
    const refused = await load(`INSERT INTO x SELECT window_start, window_end, STDDEV_POP(status) AS sd
FROM TABLE(TUMBLE(TABLE m, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end;`).then(
      () => "",
      (error: unknown) => (error instanceof PipelinesConfigError ? error.problems.join("\n") : String(error)),
    );
    expect(refused).toMatch(
      /^line 3, column 48: STDDEV_POP of an INT \(write STDDEV_POP\(CAST\(x AS DOUBLE\)\)\) is not supported: STDDEV_POP\(status\)$/,
    );
    const [cast] = await load(`INSERT INTO x SELECT window_start, window_end, STDDEV_POP(CAST(status AS DOUBLE)) AS sd
FROM TABLE(TUMBLE(TABLE m, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end;`);
    expect(cast?.select?.sd).toBeDefined();
  });

  it("types POWER as a DOUBLE and evaluates it as Java does; NaN is no number a result holds", () => {
    const noColumns = () => undefined;
    const run = (text: string) => {
      const e = parseExpression(text);
      return evaluate(
        e,
        () => null,
        (x) => typeOf(x, noColumns),
      );
    };
    expect(typeOf(parseExpression("POWER(2, 10)"), noColumns)).toBe("DOUBLE");
    expect(() => typeOf(parseExpression("POWER('a', 2)"), noColumns)).toThrow("POWER takes numbers");
    expect(() => typeOf(parseExpression("POWER(2)"), noColumns)).toThrow("POWER takes two arguments");
    expect(run("POWER(2, 10)")).toBe(1024);
    expect(run("POWER(2.25, 0.5)")).toBe(1.5);
    expect(run("POWER(NULL, 2)")).toBeNull();
    expect(() => run("POWER(-1, 0.5)")).toThrow("is not a finite number");
  });
});
