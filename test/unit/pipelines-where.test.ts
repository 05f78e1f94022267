// A pipeline's `where` condition (Flink SQL's WHERE) in the JSON form (issue 22): compiled when the file
// loads, typed against the pipeline's `columns`, and applied to every event — kept when TRUE, not taken
// when FALSE or NULL, dead-lettered with the reason when a field is not of its column's type or the
// condition fails (division by zero). The events a pipeline takes match DuckDB's WHERE over the same rows.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPipelinesFile, readPipelinesInput } from "../../shared/app/pipelines-file.ts";
import { readPipelineEvent } from "../../shared/core/pipelines/events.ts";
import { parsePipelines } from "../../shared/core/pipelines/parse.ts";
import { formatExpression, simplify, typesOf } from "../../shared/core/sql/expressions.ts";
import { pipelinesFileWith, refusalOf } from "../helpers/pipelines-file.ts";
import { COLUMNS, duck, exprOf, openReference, rowArb } from "../helpers/sql-expressions.ts";

const base = {
  name: "errors-5m",
  key: "service",
  eventTime: "ts",
  window: { type: "tumbling", size: "5m" },
  aggregates: { n: { count: true } },
};

async function problemsOf(pipelines: unknown[]): Promise<string[]> {
  const { path, error } = await refusalOf(pipelines);
  return error.lines().map((line) => line.replace(path, "F"));
}

describe("a pipeline's where condition", () => {
  it("is compiled at load, shipped compiled, and keeps only the events it is TRUE for", async () => {
    // Prepare
    const spec = { ...base, columns: { status: "INT", region: "STRING" }, where: "status >= 500 AND region IN ('eu', 'us')" };
    const path = await pipelinesFileWith([spec]);

    // Act
    const [pipeline] = await loadPipelinesFile(path);
    const shipped = (await readPipelinesInput(path)) as { pipelines: { where: unknown }[] };
    const read = (event: object) =>
      readPipelineEvent(pipeline as NonNullable<typeof pipeline>, { service: "api", ts: 1000, ...event }).kind;

    // Assess
    expect(formatExpression(pipeline?.where as NonNullable<typeof pipeline>["where"] & object)).toBe(
      "((`status` >= 500) AND (`region` IN ('eu', 'us')))",
    );
    // the functions read the compiled tree: the same pipeline, without a parser
    expect(parsePipelines(shipped)).toEqual([pipeline]);
    expect(read({ status: 503, region: "eu" })).toBe("event");
    expect(read({ status: "503", region: "us" })).toBe("event"); // Flink's JSON format reads a number from text
    expect(read({ status: 404, region: "eu" })).toBe("skipped");
    expect(read({ status: 503, region: "ap" })).toBe("skipped");
    expect(read({ region: "eu" })).toBe("skipped"); // a missing field is NULL: the condition is not TRUE
  });

  it("dead-letters an event whose field is not of its column's type, or whose condition fails", async () => {
    const [pipeline] = parsePipelines(
      (await readPipelinesInput(
        await pipelinesFileWith([{ ...base, columns: { status: "INT", n: "INT" }, where: "status / n > 1" }]),
      )) as object,
    );
    const read = (event: object) => readPipelineEvent(pipeline as NonNullable<typeof pipeline>, { service: "api", ts: 1000, ...event });
    expect(read({ status: "teapot", n: 1 })).toEqual({
      kind: "invalid",
      reason: 'field "status" (an INT column of where) must be an INT, got "teapot"',
    });
    expect(read({ status: 2.5, n: 1 })).toMatchObject({ kind: "invalid", reason: expect.stringContaining("must be an INT, got 2.5") });
    expect(read({ status: 500, n: 0 })).toEqual({ kind: "invalid", reason: "where: division by zero (500 / 0)" });
    expect(read({ status: 500, n: 100 })).toMatchObject({ kind: "event" });
  });

  it("refuses at load, in one line naming the pipeline, the field, the line and the column", async () => {
    expect(await problemsOf([{ ...base, columns: { status: "INT" }, where: "status >= = 500" }])).toEqual([
      expect.stringMatching(/^invalid pipelines in F: pipeline "errors-5m" \(pipelines\[0\]\), field where: 1:11: /),
    ]);
    expect(await problemsOf([{ ...base, columns: { status: "INT" }, where: "status >= 500 AND regoin = 'eu'" }])).toEqual([
      'invalid pipelines in F: pipeline "errors-5m" (pipelines[0]), field where: 1:19: unknown column regoin (declare its type in "columns", e.g. "columns": { "status": "INT" })',
    ]);
    expect(await problemsOf([{ ...base, columns: { status: "INT" }, where: "status + 1" }])).toEqual([
      'invalid pipelines in F: pipeline "errors-5m" (pipelines[0]), field where: must be a condition (BOOLEAN), not INT',
    ]);
    expect(await problemsOf([{ ...base, columns: { status: "INT", region: "STRING" }, where: "status = region" }])).toEqual([
      'invalid pipelines in F: pipeline "errors-5m" (pipelines[0]), field where: 1:10: = mixes INT and STRING; CAST one of them',
    ]);
    expect(await problemsOf([{ ...base, columns: { status: "INTEGR" }, where: "status > 1" }])).toEqual([
      'invalid pipelines in F: pipeline "errors-5m" (pipelines[0]), field columns.status: unknown SQL type "INTEGR": BOOLEAN, INT, BIGINT, DOUBLE, DECIMAL, STRING or TIMESTAMP',
    ]);
    expect(await problemsOf([{ ...base, columns: { s: "STRING" }, where: "s RLIKE 'x'" }])).toEqual([
      "invalid pipelines in F: pipeline \"errors-5m\" (pipelines[0]), field where: 1:3: this expression is not supported: RLIKE 'x'",
    ]);
  });
});

describe("the events a where condition takes", () => {
  let reference: Awaited<ReturnType<typeof openReference>>;
  beforeAll(async () => {
    reference = await openReference();
  });
  afterAll(() => reference?.close());

  it("are those DuckDB's WHERE keeps; those it fails on are dead-lettered", async () => {
    const columns = Object.fromEntries(Object.entries(COLUMNS).map(([name, type]) => [name, type === "INT" ? "INT" : type]));
    await fc.assert(
      fc.asyncProperty(exprOf("BOOLEAN", 3), fc.array(rowArb, { minLength: 1, maxLength: 5 }), async (where, rows) => {
        const [pipeline] = parsePipelines({ pipelines: [{ ...base, columns, where }] });
        const p = pipeline as NonNullable<typeof pipeline>;
        // a pipeline runs the condition as Flink's planner leaves it (`simplify`: NULL literals folded)
        const declared = (name: string) => p.columns?.[name];
        const planned = simplify(where, declared);
        const sql = duck(planned, typesOf(planned, declared));
        for (const row of rows) {
          // a NULL column is a missing field half the time, a JSON null the other half
          const event = Object.fromEntries(Object.entries(row).filter(([, v], i) => v !== null || i % 2 === 0));
          const ours = readPipelineEvent(p, { service: "api", ts: 1000, ...event }).kind;
          const theirs = await reference.evaluate(sql, row);
          const expected = "error" in theirs ? "invalid" : theirs.value === true ? "event" : "skipped";
          expect(ours, `${formatExpression(where)} on ${JSON.stringify(row)}: DuckDB ${JSON.stringify(theirs)}`).toBe(expected);
        }
      }),
      {
        numRuns: 300,
        examples: [
          // (-0 + CASE WHEN b1 THEN CAST(NULL AS INT) END) IN (ABS(CAST(s1 AS INT)), …) with s1 '': the CASE of
          // NULL branches is NULL to the planner (Calcite's simplifyCase), so the IN is never evaluated and
          // the failing CAST never runs; Panes evaluated it and dead-lettered the event
          [
            JSON.parse(
              '{"at":{"line":1,"column":1},"kind":"in","operand":{"at":{"line":1,"column":1},"kind":"arithmetic","op":"+","left":{"at":{"line":1,"column":1},"kind":"negate","operand":{"at":{"line":1,"column":1},"kind":"literal","value":0,"type":"INT"}},"right":{"at":{"line":1,"column":1},"kind":"case","whens":[{"when":{"at":{"line":1,"column":1},"kind":"column","name":"b1"},"result":{"at":{"line":1,"column":1},"kind":"cast","operand":{"at":{"line":1,"column":1},"kind":"literal","value":null,"type":"NULL"},"to":"INT"}}]}},"list":[{"at":{"line":1,"column":1},"kind":"call","name":"ABS","args":[{"at":{"line":1,"column":1},"kind":"cast","operand":{"at":{"line":1,"column":1},"kind":"column","name":"s1"},"to":"INT"}]},{"at":{"line":1,"column":1},"kind":"cast","operand":{"at":{"line":1,"column":1},"kind":"literal","value":null,"type":"NULL"},"to":"INT"}],"negated":false}',
            ),
            [{ i1: null, i2: null, d1: null, s1: "", s2: null, b1: null }],
          ],
        ],
      },
    );
  }, 600_000);
});
