// Cascaded window aggregations in Flink SQL: a window aggregation over another's rows compiles to a
// pipeline `from` the other — a FROM subquery as the internal pipeline `<name>.from`, a view as itself —
// checked by the pipelines file's schema; what Panes cannot run yet is refused in one line naming it.
import { describe, expect, it } from "vitest";
import { loadPipelinesFile } from "../../shared/app/pipelines-file.ts";
import { addEvent, emptyState } from "../../shared/core/aggregates/state.ts";
import { cascadeEventOf } from "../../shared/core/pipelines/cascade.ts";
import { readPipelineEvent } from "../../shared/core/pipelines/events.ts";
import { windowValues } from "../../shared/core/pipelines/project.ts";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import { formatExpression } from "../../shared/core/sql/expressions.ts";
import { loadSql, sqlRefusal } from "../helpers/pipelines-file.ts";
import { readmeBlock } from "../helpers/readme.ts";

const WITH = "WITH ('connector' = 'kinesis', 'format' = 'json')";

const TABLE = `CREATE TABLE requests (
  service STRING,
  endpoint STRING,
  status INT,
  latency DOUBLE,
  ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) ${WITH};
`;

const printed = (exprs: Pipeline["select"]) =>
  Object.fromEntries(Object.entries(exprs ?? {}).map(([name, e]) => [name, formatExpression(e)]));

/** A window's row of a pipeline, as its results item holds it: the pipeline's events aggregated, then projected. */
function rowOf(pipeline: Pipeline, events: unknown[], window: { start: number; end: number }) {
  const state = emptyState();
  let key = "";
  for (const raw of events) {
    const event = readPipelineEvent(pipeline, raw, Number.MAX_SAFE_INTEGER);
    if (event.kind !== "event") throw new Error(`the event is not the pipeline's: ${JSON.stringify(event)}`);
    key = event.key;
    addEvent(state, event.ts, event.values, pipeline.aggregates, event.keys, event.rows);
  }
  return { key, ...window, values: windowValues(pipeline, key, window, state) };
}

/** The inner query every cascade below reads: each service's requests per minute, with the window's columns. */
const PER_MINUTE = `SELECT service, window_start, window_end, window_time, COUNT(*) AS n
    FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
    GROUP BY service, window_start, window_end, window_time`;

describe("cascaded window aggregations in Flink SQL", () => {
  it("regroups a window aggregation's rows in their own window (Flink's testCascadeEventTimeTumbleWindowWithOffset)", async () => {
    // Prepare
    const sql = `CREATE TABLE T1 (\`name\` STRING, \`string\` STRING, rowtime TIMESTAMP(3), WATERMARK FOR rowtime AS rowtime) ${WITH};
INSERT INTO counts
SELECT cnt, window_start, window_end, COUNT(*) AS c FROM (
  SELECT \`name\`, window_start, window_end, COUNT(DISTINCT \`string\`) AS cnt
  FROM TABLE(TUMBLE(TABLE T1, DESCRIPTOR(rowtime), INTERVAL '1' DAY, INTERVAL '8' HOUR))
  GROUP BY \`name\`, window_start, window_end
) GROUP BY cnt, window_start, window_end;`;

    // Act
    const [inner, outer, ...rest] = await loadSql(sql);

    // Assess
    expect(rest).toEqual([]);
    const window = { type: "tumbling", size: 86_400_000, offset: 28_800_000 };
    expect(inner).toMatchObject({ name: "counts.from", internal: true, key: "name", eventTime: "rowtime", window });
    expect(inner?.aggregates).toEqual([{ name: "cnt", op: "distinct", field: "string", precision: 12 }]);
    expect(outer).toMatchObject({
      name: "counts",
      from: { pipeline: "counts.from", sameWindow: true },
      key: "cnt",
      eventTime: "window_time",
      window,
      columns: { name: "STRING", window_start: "TIMESTAMP", window_end: "TIMESTAMP", cnt: "BIGINT" },
      outOfOrderness: 0,
      allowedLateness: 0,
    });
    expect(outer?.internal).toBeUndefined();
    expect(outer?.aggregates).toEqual([{ name: "c", op: "count" }]);
    expect(printed(outer?.select)).toEqual({ cnt: "`cnt`", window_start: "`window_start`", window_end: "`window_end`", c: "`c`" });
  });

  it("regroups by the window's columns under the subquery's aliases, qualified by its alias, and selects them as the window's", async () => {
    const [inner, outer] = await loadSql(`${TABLE}INSERT INTO busy
SELECT t.ws, t.we, n, COUNT(*) AS services FROM (
  SELECT window_start AS ws, window_end AS we, service, COUNT(*) AS n
  FROM TABLE(HOP(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '5' MINUTE))
  GROUP BY window_start, window_end, service
) AS t GROUP BY t.ws, t.we, n;`);
    const window = { type: "sliding", size: 300_000, slide: 60_000 };
    expect(inner).toMatchObject({ name: "busy.from", internal: true, window, outOfOrderness: 5000 });
    expect(outer).toMatchObject({ from: { pipeline: "busy.from", sameWindow: true }, key: "n", window, eventTime: "window_time" });
    expect(outer?.columns).toEqual({ ws: "TIMESTAMP", we: "TIMESTAMP", service: "STRING", n: "BIGINT" });
    expect(printed(outer?.select)).toEqual({ ws: "`window_start`", we: "`window_end`", n: "`n`", services: "`services`" });
  });

  it("windows a window aggregation's rows again on their rowtime (Flink's testCascadingTumbleWindow, legacy group windows)", async () => {
    const [inner, outer] = await loadSql(`CREATE TABLE testTable (
  \`int\` INT, \`string\` STRING, rowtime TIMESTAMP(3), WATERMARK FOR rowtime AS rowtime
) ${WITH};
INSERT INTO sums
SELECT SUM(cnt) AS s FROM (
  SELECT COUNT(1) AS cnt, TUMBLE_ROWTIME(rowtime, INTERVAL '10' SECOND) AS ts
  FROM testTable GROUP BY \`int\`, \`string\`, TUMBLE(rowtime, INTERVAL '10' SECOND)
) GROUP BY TUMBLE(ts, INTERVAL '10' SECOND);`);
    expect(inner).toMatchObject({ name: "sums.from", internal: true, key: ["int", "string"], window: { type: "tumbling", size: 10_000 } });
    expect(printed(inner?.select)).toEqual({ cnt: "`cnt`", ts: "`window_time`" });
    expect(outer).toMatchObject({
      name: "sums",
      from: { pipeline: "sums.from", sameWindow: false },
      key: [],
      eventTime: "ts",
      window: { type: "tumbling", size: 10_000 },
      columns: { cnt: "BIGINT", ts: "TIMESTAMP" },
    });
    expect(outer?.aggregates).toEqual([{ name: "s", op: "sum", field: "cnt" }]);
  });

  it("a compiled cascade reads its compiled source's rows: the rowtime is the source window's time, each column of its type", async () => {
    const [inner, outer] = await loadSql(`${TABLE}INSERT INTO peaks
SELECT MAX(n) AS peak, MAX(p) AS worst FROM (
  SELECT service, COUNT(*) AS n, APPROX_PERCENTILE(latency, 0.99) AS p, TUMBLE_ROWTIME(ts, INTERVAL '1' MINUTE) AS t
  FROM requests GROUP BY service, TUMBLE(ts, INTERVAL '1' MINUTE)
) GROUP BY TUMBLE(t, INTERVAL '1' HOUR);`);
    const source = inner as Pipeline;
    const reader = outer as Pipeline;
    expect(reader.columns).toEqual({ service: "STRING", n: "BIGINT", p: "DOUBLE", t: "TIMESTAMP" });
    const at = Date.UTC(2026, 0, 1, 12, 3);
    const events = [1, 2, 3].map((i) => ({ service: "checkout", latency: 10 * i, ts: at + i }));

    const row = rowOf(source, events, { start: at, end: at + 60_000 });
    const read = readPipelineEvent(reader, cascadeEventOf(source, row), Number.MAX_SAFE_INTEGER);

    expect(read).toMatchObject({ kind: "event", key: "[]", ts: at + 59_999, values: { n: 3 } });
  });

  it("windows a view's rows again through a window TVF on its rowtime (the cascading window TVF of Flink's docs)", async () => {
    const [window1, totals] = await loadSql(`CREATE TABLE Bid (
  supplier_id STRING, price DOUBLE, bidtime TIMESTAMP(3), WATERMARK FOR bidtime AS bidtime - INTERVAL '1' SECOND
) ${WITH};
CREATE VIEW window1 AS
SELECT window_start AS ws, window_end AS we, window_time AS rowtime, SUM(price) AS partial_price
  FROM TABLE(TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '5' MINUTES))
  GROUP BY supplier_id, window_start, window_end, window_time;
INSERT INTO totals SELECT window_start, window_end, SUM(partial_price) AS total_price
  FROM TABLE(TUMBLE(TABLE window1, DESCRIPTOR(rowtime), INTERVAL '10' MINUTES))
  GROUP BY window_start, window_end;`);
    // the view is a pipeline of its own, published as any view's (it is no subquery)
    expect(window1).toMatchObject({
      name: "window1",
      key: "supplier_id",
      window: { type: "tumbling", size: 300_000 },
      outOfOrderness: 1000,
    });
    expect(window1?.internal).toBeUndefined();
    expect(totals).toMatchObject({
      name: "totals",
      from: { pipeline: "window1", sameWindow: false },
      key: [],
      eventTime: "rowtime",
      window: { type: "tumbling", size: 600_000 },
      columns: { ws: "TIMESTAMP", we: "TIMESTAMP", rowtime: "TIMESTAMP", partial_price: "DOUBLE" },
      outOfOrderness: 0,
    });
    expect(printed(totals?.select)).toEqual({
      window_start: "`window_start`",
      window_end: "`window_end`",
      total_price: "`total_price`",
    });
  });

  it("reads a view's rows in their own window, or in a legacy group window on its rowtime, with a WHERE on its columns", async () => {
    const [perMinute, regrouped, hourly] = await loadSql(`${TABLE}CREATE VIEW per_minute AS ${PER_MINUTE};
INSERT INTO busy SELECT window_start, window_end, COUNT(*) AS services FROM per_minute
  WHERE n > 10 AND service <> 'health' GROUP BY window_start, window_end;
INSERT INTO hourly SELECT TUMBLE_START(window_time, INTERVAL '1' HOUR) AS hour_start, MAX(n) AS peak FROM per_minute
  WHERE service = 'checkout' GROUP BY TUMBLE(window_time, INTERVAL '1' HOUR);`);
    expect(perMinute?.name).toBe("per_minute");
    expect(regrouped).toMatchObject({ from: { pipeline: "per_minute", sameWindow: true }, key: [], window: perMinute?.window });
    expect(formatExpression(regrouped?.where as NonNullable<Pipeline["where"]>)).toBe("((`n` > 10) AND (`service` <> 'health'))");
    expect(hourly).toMatchObject({
      from: { pipeline: "per_minute", sameWindow: false },
      eventTime: "window_time",
      window: { type: "tumbling", size: 3_600_000 },
      filter: { service: "checkout" },
    });
    expect(printed(hourly?.select)).toEqual({ hour_start: "`window_start`", peak: "`peak`" });
  });

  it("ranks a cascade over a view: a Window Top-N after the window aggregation of the view's rows", async () => {
    const [perMinute, top] = await loadSql(`${TABLE}CREATE VIEW per_minute AS ${PER_MINUTE};
INSERT INTO top_counts
SELECT * FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY services DESC) AS rownum
  FROM (
    SELECT window_start, window_end, n, COUNT(*) AS services
    FROM per_minute
    GROUP BY window_start, window_end, n
  )
) WHERE rownum <= 2;`);
    expect(perMinute?.name).toBe("per_minute");
    expect(top).toMatchObject({
      name: "top_counts",
      from: { pipeline: "per_minute", sameWindow: true },
      key: "n",
      window: { type: "tumbling", size: 60_000 },
      rank: { n: 2, partition: [], order: [{ field: "services", desc: true }], rownum: "rownum" },
    });
  });

  it("ranks a view's rows windowed again: a Window Top-N over a window TVF on the view's time attribute", async () => {
    const [, busiest] = await loadSql(`${TABLE}CREATE VIEW per_minute AS ${PER_MINUTE};
INSERT INTO busiest_minutes
SELECT * FROM (
  SELECT window_start, window_end, service, n, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY n DESC) AS rownum
  FROM TABLE(TUMBLE(TABLE per_minute, DESCRIPTOR(window_time), INTERVAL '5' MINUTES))
) WHERE rownum <= 3;`);
    expect(busiest).toMatchObject({
      name: "busiest_minutes",
      from: { pipeline: "per_minute", sameWindow: false },
      key: [],
      eventTime: "window_time",
      window: { type: "tumbling", size: 300_000 },
      aggregates: [{ name: "rows", op: "top", n: 3, fields: ["service", "n"], order: [{ field: "n", desc: true }] }],
    });
  });

  it("compiles a cascade of three levels: each subquery the internal source of the query around it", async () => {
    const pipelines = await loadSql(`${TABLE}INSERT INTO x
SELECT SUM(c) AS total FROM (
  SELECT n, window_start, window_end, window_time AS t, COUNT(*) AS c FROM (${PER_MINUTE})
  GROUP BY n, window_start, window_end, window_time
) GROUP BY TUMBLE(t, INTERVAL '1' HOUR);`);
    expect(pipelines.map((p) => [p.name, p.from, p.internal, p.eventTime])).toEqual([
      ["x.from.from", undefined, true, "ts"],
      ["x.from", { pipeline: "x.from.from", sameWindow: true }, true, "window_time"],
      ["x", { pipeline: "x.from", sameWindow: false }, undefined, "t"],
    ]);
    expect(pipelines[2]?.window).toEqual({ type: "tumbling", size: 3_600_000 });
  });

  it("examples/cascade.sql compiles to a view's pipeline and its two readers: one regrouping in its window, one windowing again", async () => {
    // Act
    const pipelines = await loadPipelinesFile("examples/cascade.sql");

    // Assess
    expect(pipelines.map((p) => [p.name, p.from, p.internal])).toEqual([
      ["cpu_1m", undefined, undefined],
      ["hosts-by-samples-1m", { pipeline: "cpu_1m", sameWindow: true }, undefined],
      ["cpu-5m", { pipeline: "cpu_1m", sameWindow: false }, undefined],
    ]);
    const [view, regrouped, windowed] = pipelines;
    expect(view).toMatchObject({ key: "host", eventTime: "ts", window: { type: "tumbling", size: 60_000 }, filter: { metric: "cpu" } });
    expect(regrouped).toMatchObject({ key: "samples", eventTime: "window_time", window: view?.window });
    expect(printed(regrouped?.select)).toEqual({
      minute_start: "`window_start`",
      minute_end: "`window_end`",
      samples: "`samples`",
      hosts: "`hosts`",
    });
    expect(windowed).toMatchObject({ key: "host", eventTime: "window_time", window: { type: "tumbling", size: 300_000 } });
    expect(windowed?.aggregates).toEqual([
      { name: "samples", op: "sum", field: "samples" },
      { name: "busiest_minute", op: "max", field: "avg_cpu" },
    ]);
  });

  it("compiles the README's cascades as printed, over the README's metrics table", async () => {
    // Prepare: the README's CREATE TABLE (with the query printed beside it), then its cascade blocks
    const blocks = ["INSERT INTO `cpu-avg-5m`", "INSERT INTO hosts_by_events", "CREATE VIEW per_minute", "INSERT INTO busiest_hosts"].map(
      (m) => readmeBlock(m).code,
    );

    // Act
    const pipelines = await loadSql(blocks.join("\n"));

    // Assess
    expect(pipelines.map((p) => [p.name, p.from, p.internal])).toEqual([
      ["cpu-avg-5m", undefined, undefined],
      ["hosts_by_events.from", undefined, true],
      ["hosts_by_events", { pipeline: "hosts_by_events.from", sameWindow: true }, undefined],
      ["per_minute", undefined, undefined],
      ["events_5m", { pipeline: "per_minute", sameWindow: false }, undefined],
      ["busiest_hosts", { pipeline: "per_minute", sameWindow: false }, undefined],
    ]);
    expect(pipelines[5]).toMatchObject({ key: "host", rank: { n: 3, order: [{ field: "busiest_minute", desc: true }] } });
    expect(pipelines[2]).toMatchObject({ key: "events", window: { type: "tumbling", size: 60_000 } });
    expect(pipelines[4]).toMatchObject({ key: "host", eventTime: "window_time", window: { type: "tumbling", size: 300_000 } });
  });

  it("refuses what a cascade cannot be in one line naming it, its line and its column, and quoting it", async () => {
    /** A query over the per-minute subquery (written "(…)"), after the table and the SETs given. */
    const over = (outer: string, sets = "") => `${TABLE}${sets}INSERT INTO x ${outer.replace("(…)", `(${PER_MINUTE})`)};`;
    const view = `${TABLE}CREATE VIEW v AS ${PER_MINUTE};\n`;
    const cases: [sql: string, problem: string][] = [
      [
        // Flink refuses it too: window_start is no time attribute
        over("SELECT SUM(n) AS s FROM (…) GROUP BY TUMBLE(window_start, INTERVAL '5' MINUTE)"),
        "line 11, column 71: a window on a column other than window_time (the time attribute of the subquery's rows) is not supported: TUMBLE(window_start, INTERVAL '5' MINUTE)",
      ],
      [
        `${view}INSERT INTO x SELECT window_start, window_end, SUM(n) AS s FROM TABLE(TUMBLE(TABLE v, DESCRIPTOR(window_end), INTERVAL '5' MINUTE)) GROUP BY window_start, window_end;`,
        "line 12, column 87: a window on a column other than window_time (the time attribute of v's rows) is not supported: DESCRIPTOR(window_end)",
      ],
      [
        `${TABLE}INSERT INTO x SELECT SUM(n) AS s FROM (SELECT window_start, window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end) GROUP BY TUMBLE(window_end, INTERVAL '5' MINUTE);`,
        "line 9, column 203: a window over the subquery's rows, which have no time attribute (select its window_time, or TUMBLE_ROWTIME(…), and window on it) is not supported: TUMBLE(window_end, INTERVAL '5' MINUTE)",
      ],
      [
        over("SELECT window_start, n, COUNT(*) AS c FROM (…) GROUP BY window_start, n"),
        "line 11, column 62: a query over the subquery's rows without a window (GROUP BY its window_start and window_end, or a window on its time attribute) is not supported: GROUP BY window_start, n",
      ],
      [
        `${TABLE}INSERT INTO x SELECT we, COUNT(*) AS c FROM (SELECT window_start AS ws, window_end AS we, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end) GROUP BY we;`,
        "line 9, column 212: a query over the subquery's rows without a window (GROUP BY its ws and we, or a window on its time attribute) is not supported: GROUP BY we",
      ],
      [
        `${TABLE}INSERT INTO x SELECT SUM(n) AS s FROM (SELECT service, COUNT(*) AS n FROM requests GROUP BY service) GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE);`,
        "line 9, column 40: a subquery that aggregates without a window (a cascade reads a window aggregation's rows) is not supported: SELECT service, COUNT(*) AS n FROM requests GROUP BY service",
      ],
      [
        // a projection subquery is no cascade: refused as a relation other than the source table, as before
        `${TABLE}INSERT INTO x SELECT COUNT(*) AS n FROM (SELECT service, ts FROM requests) GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE);`,
        "line 9, column 41: a query over something other than requests is not supported: (SELECT service, ts FROM requests)",
      ],
      [
        `${TABLE}INSERT INTO x SELECT window_start, window_end, COUNT(*) AS c FROM (SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY latency DESC) AS rownum FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE))) WHERE rownum <= 3) GROUP BY window_start, window_end;`,
        "line 9, column 67: a window aggregation over a Window Top-N's rows (not yet) is not supported: (SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY...",
      ],
      [
        `${TABLE}CREATE VIEW top3 AS SELECT * FROM (SELECT window_start, window_end, window_time, service, latency, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY latency DESC) AS rownum FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE))) WHERE rownum <= 3;
INSERT INTO x SELECT window_start, window_end, COUNT(*) AS c FROM TABLE(TUMBLE(TABLE top3, DESCRIPTOR(window_time), INTERVAL '5' MINUTE)) GROUP BY window_start, window_end;`,
        "line 10, column 80: a window aggregation over a Window Top-N's rows (not yet) is not supported: TABLE top3",
      ],
      [
        `${TABLE}INSERT INTO x SELECT SUM(n) AS s FROM (SELECT COUNT(*) AS n, SESSION_ROWTIME(ts, INTERVAL '1' MINUTE) AS t FROM requests GROUP BY service, SESSION(ts, INTERVAL '1' MINUTE)) GROUP BY TUMBLE(t, INTERVAL '5' MINUTE);`,
        "line 9, column 39: a window aggregation over SESSION windows' rows (not yet) is not supported: (SELECT COUNT(*) AS n, SESSION_ROWTIME(ts, INTERVAL '1' M...",
      ],
      [
        over("SELECT SUM(n) AS s FROM (…) GROUP BY SESSION(window_time, INTERVAL '5' MINUTE)"),
        "line 11, column 71: SESSION windows over a window aggregation's rows (not yet) is not supported: SESSION(window_time, INTERVAL '5' MINUTE)",
      ],
      [
        `${view}INSERT INTO x SELECT window_start, window_end, SUM(n) AS s FROM TABLE(SESSION(TABLE v, DESCRIPTOR(window_time), INTERVAL '5' MINUTE)) GROUP BY window_start, window_end;`,
        "line 12, column 71: SESSION windows over a window aggregation's rows (not yet) is not supported: SESSION(TABLE v, DESCRIPTOR(window_time), INTERVAL '5' MI...",
      ],
      [
        over(
          "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY c DESC) AS rownum FROM (SELECT window_start, window_end, n, COUNT(*) AS c FROM (…) GROUP BY window_start, window_end, n)) WHERE rownum <= 3",
        ),
        "line 9, column 130: a Window Top-N of a window aggregation over a FROM subquery's rows (not yet: make the subquery a CREATE VIEW) is not supported: SELECT window_start, window_end, n, COUNT(*) AS c FROM (S...",
      ],
      [
        `${view}INSERT INTO x SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY n DESC) AS rownum FROM TABLE(TUMBLE(TABLE v, DESCRIPTOR(window_time), INTERVAL '5' MINUTE))) WHERE rownum <= 3;`,
        "line 12, column 37: * over v's rows, whose window_start column clashes with the window TVF's (rename it where the rows are selected, or list the columns) is not supported: *",
      ],
      [
        over(
          "SELECT SUM(n) AS s FROM (…) GROUP BY TUMBLE(window_time, INTERVAL '1' HOUR)",
          "SET 'table.exec.emit.allow-lateness' = '1 min';\n",
        ),
        "line 10, column 15: a cascaded window aggregation with table.exec.emit.allow-lateness (a cascade reads final rows) is not supported: SELECT SUM(n) AS s FROM (SELECT service, window_start, wi...",
      ],
      [
        `${view}INSERT INTO x SELECT window_start, window_end, SUM(n) AS s FROM TABLE(TUMBLE(TABLE v, DESCRIPTOR(window_time), INTERVAL '1' HOUR)) GROUP BY window_start, window_end;
SET 'table.exec.emit.early-fire.enabled' = 'true';
SET 'table.exec.emit.early-fire.delay' = '10 s';`,
        "line 12, column 15: a cascaded window aggregation with table.exec.emit.early-fire.enabled (a cascade reads final rows) is not supported: SELECT window_start, window_end, SUM(n) AS s FROM TABLE(T...",
      ],
      [
        `${TABLE}INSERT INTO x SELECT window_start, window_end, SUM(n) AS s FROM TABLE(TUMBLE(TABLE v, DESCRIPTOR(window_time), INTERVAL '1' HOUR)) GROUP BY window_start, window_end;\nCREATE VIEW v AS ${PER_MINUTE};`,
        "line 9, column 15: a query over the view v before its CREATE VIEW (define a view before the queries that read it) is not supported: SELECT window_start, window_end, SUM(n) AS s FROM TABLE(T...",
      ],
      [
        `${view}CREATE VIEW v AS ${PER_MINUTE};`,
        "line 12, column 1: a second table or view named v is not supported: CREATE VIEW v AS SELECT service, window_start, window_end...",
      ],
      [
        // the rows' window_time would be that count: no time to regroup them by
        `${TABLE}INSERT INTO x SELECT window_start, window_end, COUNT(*) AS c FROM (SELECT window_start, window_end, COUNT(*) AS window_time FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end) GROUP BY window_start, window_end;`,
        "line 9, column 67: a window aggregation over rows whose window_time column is not the window's time (name that column otherwise) is not supported: (SELECT window_start, window_end, COUNT(*) AS window_time...",
      ],
    ];
    for (const [sql, problem] of cases) expect(await sqlRefusal(sql), sql).toBe(problem);
  });
});
