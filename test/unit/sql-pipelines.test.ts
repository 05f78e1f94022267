// Pipelines written in Flink SQL (issue 22): a CREATE TABLE, SET statements and windowed queries compile
// to the JSON form's pipelines; the seed's SQL twin is the seed; every construct outside the subset is
// refused in one line naming it, with its line and column.
import { describe, expect, it } from "vitest";
import { loadPipelinesFile } from "../../shared/app/pipelines-file.ts";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import { formatExpression } from "../../shared/core/sql/expressions.ts";
import { loadSql, sqlRefusal } from "../helpers/pipelines-file.ts";
import { readmeBlock } from "../helpers/readme.ts";

const TABLE = `CREATE TABLE requests (
  service STRING,
  endpoint STRING,
  status INT,
  latency DOUBLE,
  ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH ('connector' = 'kinesis', 'format' = 'json');
`;

/** The engine's part of a pipeline: what it computes, not how results name it (units, the select list, column types). */
const withoutUnits = (pipelines: Pipeline[]) =>
  pipelines.map(({ select: _select, columns: _columns, ...p }) => ({ ...p, aggregates: p.aggregates.map(({ unit: _unit, ...a }) => a) }));

const printed = (exprs: Record<string, Parameters<typeof formatExpression>[0]> | undefined) =>
  Object.fromEntries(Object.entries(exprs ?? {}).map(([name, e]) => [name, formatExpression(e)]));

describe("a pipelines file in Flink SQL", () => {
  it("examples/monitoring.sql is the seed's pipelines (examples/monitoring.pipelines.json), units aside", async () => {
    const sql = await loadPipelinesFile("examples/monitoring.sql");
    const json = await loadPipelinesFile("examples/monitoring.pipelines.json");
    expect(withoutUnits(sql)).toEqual(withoutUnits(json));
    // the results carry the select list: the window's bounds, the key column and the aggregates
    expect(printed(sql[0]?.select)).toEqual({
      window_start: "`window_start`",
      window_end: "`window_end`",
      host: "`host`",
      avg: "`avg`",
      max: "`max`",
      n: "`n`",
    });
  });

  it("examples/top-hosts.sql compiles to both forms of Window Top-N over the demo's events", async () => {
    const [busiest, peaks] = await loadPipelinesFile("examples/top-hosts.sql");
    expect(busiest).toMatchObject({
      name: "busiest-hosts-5m",
      key: "host",
      window: { type: "tumbling", size: 300_000 },
      rank: { n: 3, partition: [], order: [{ field: "avg_cpu", desc: true }] },
    });
    expect(peaks).toMatchObject({ name: "peak-mem-10m", key: [], window: { type: "tumbling", size: 600_000 } });
    expect(peaks?.aggregates).toMatchObject([{ op: "top", n: 2, fields: ["host", "value"], order: [{ field: "value", desc: true }] }]);
  });

  it("compiles composite keys, a global window, expressions in and around aggregates, COUNT(x), COUNT(DISTINCT x) and FILTER", async () => {
    const [errors, total] = await loadSql(`${TABLE}
INSERT INTO errors SELECT window_start, window_end, service, endpoint, COUNT(*) AS n,
    COUNT(*) FILTER (WHERE status >= 500) AS errors,
    SUM(latency * 1000) / COUNT(latency) AS mean_ms,
    COUNT(DISTINCT endpoint) AS endpoints, AVG(status) AS avg_status,
    MAX(CASE WHEN status >= 500 THEN latency END) AS worst_error,
    MIN(latency * 1000) FILTER (WHERE status < 500) AS best_ok_ms
  FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '5' MINUTES))
  GROUP BY window_start, window_end, service, endpoint;
INSERT INTO total SELECT window_start, COUNT(*) AS n, SUM(latency) AS s
  FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end;
`);
    expect(errors?.key).toEqual(["service", "endpoint"]);
    expect(errors?.aggregates).toEqual([
      { name: "n", op: "count" },
      { name: "errors", op: "count", field: "$1" },
      { name: "$a3", op: "sum", field: "$2" },
      { name: "$a4", op: "count", field: "latency" },
      { name: "endpoints", op: "distinct", field: "endpoint", precision: 12 },
      { name: "avg_status", op: "avg", field: "status" },
      { name: "worst_error", op: "max", field: "$3" },
      { name: "best_ok_ms", op: "min", field: "$4" },
    ]);
    expect(printed(errors?.computed)).toEqual({
      $1: "CASE WHEN (`status` >= 500) THEN 1 END",
      $2: "(`latency` * 1000)",
      $3: "CASE WHEN (`status` >= 500) THEN `latency` END",
      $4: "CASE WHEN (`status` < 500) THEN (`latency` * 1000) END",
    });
    expect(printed(errors?.select)).toMatchObject({ service: "`service`", endpoint: "`endpoint`", mean_ms: "(`$a3` / `$a4`)" });
    expect(total?.key).toEqual([]);
    const [having] = await loadSql(`${TABLE}
INSERT INTO busy SELECT window_start, window_end, service, COUNT(*) AS n
  FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
  GROUP BY window_start, window_end, service HAVING COUNT(*) > 10 AND MAX(latency) < 2;
`);
    expect(formatExpression(having?.having as NonNullable<Pipeline["having"]>)).toBe("((`n` > 10) AND (`$a2` < 2))");
    expect(having?.aggregates).toEqual([
      { name: "n", op: "count" },
      { name: "$a2", op: "max", field: "latency" },
    ]);
    expect(printed(total?.select)).toEqual({ window_start: "`window_start`", n: "`n`", s: "`s`" });
  });

  it("compiles every window of the subset, the lateness and early firing SET, and WHERE to a filter and a condition", async () => {
    const [tumble, hop, cumulate, legacy, session] = await loadSql(`${TABLE}
SET 'table.exec.emit.allow-lateness' = '1 min';
SET 'table.exec.emit.early-fire.enabled' = 'true';
SET 'table.exec.emit.early-fire.delay' = '10 s';
SET 'pipeline.max-parallelism' = '4096';
INSERT INTO errors SELECT window_start, window_end, service, COUNT(*) AS n, AVG(latency) AS avg_latency
  FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '5' MINUTES))
  WHERE endpoint = '/pay' AND status >= 500 AND (latency > 1 OR status = 503)
  GROUP BY window_start, window_end, service;
CREATE VIEW slow AS SELECT window_start, window_end, endpoint, MAX(latency) AS worst
  FROM TABLE(HOP(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '1' HOUR))
  GROUP BY window_start, window_end, endpoint;
INSERT INTO daily SELECT window_start, window_end, service, SUM(latency) AS total
  FROM TABLE(CUMULATE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' HOUR, INTERVAL '1' DAY))
  GROUP BY window_start, window_end, service;
INSERT INTO legacy SELECT service, TUMBLE_START(ts, INTERVAL '1' MINUTE) AS s, MIN(latency) AS best
  FROM requests GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE), service;
INSERT INTO visits SELECT service, SESSION_END(ts, INTERVAL '30' SECOND) AS e, COUNT(*) AS n
  FROM requests GROUP BY SESSION(ts, INTERVAL '30' SECOND), service;
`);
    // Flink's max parallelism is its number of key groups: every pipeline of the file takes it
    for (const p of [tumble, hop, cumulate, legacy, session]) expect(p?.keyGroups).toBe(4096);
    expect(tumble).toMatchObject({
      name: "errors",
      key: "service",
      eventTime: "ts",
      filter: { endpoint: "/pay" },
      window: { type: "tumbling", size: 300_000 },
      aggregates: [
        { name: "n", op: "count" },
        { name: "avg_latency", op: "avg", field: "latency" },
      ],
      outOfOrderness: 5000,
      allowedLateness: 60_000,
      early: 10_000,
    });
    expect(formatExpression(tumble?.where as NonNullable<Pipeline["where"]>)).toBe(
      "((`status` >= 500) AND ((`latency` > 1) OR (`status` = 503)))",
    );
    expect(tumble?.columns).toEqual({ service: "STRING", endpoint: "STRING", status: "INT", latency: "DOUBLE", ts: "TIMESTAMP" });
    expect(hop).toMatchObject({ name: "slow", key: "endpoint", window: { type: "sliding", size: 3_600_000, slide: 60_000 }, filter: {} });
    expect(hop?.where).toBeUndefined();
    expect(cumulate).toMatchObject({ name: "daily", window: { type: "cumulate", size: 86_400_000, step: 3_600_000 } });
    expect(legacy).toMatchObject({
      name: "legacy",
      window: { type: "tumbling", size: 60_000 },
      aggregates: [{ name: "best", op: "min", field: "latency" }],
    });
    expect(session).toMatchObject({ name: "visits", key: "service", window: { type: "session", gap: 30_000 } });
  });

  it("compiles Window Top-N over a window TVF's rows (Flink's documented query) to a top aggregate keyed by the PARTITION BY columns", async () => {
    const [top] = await loadSql(`${TABLE}
INSERT INTO slowest
SELECT *
  FROM (
    SELECT ts, latency, endpoint, service, window_start, window_end,
      ROW_NUMBER() OVER (PARTITION BY window_start, window_end, service ORDER BY latency DESC) as rownum
    FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '10' MINUTES))
    WHERE status >= 500
  ) WHERE rownum <= 3;
`);
    expect(top).toMatchObject({
      key: "service",
      window: { type: "tumbling", size: 600_000 },
      aggregates: [
        { name: "rows", op: "top", n: 3, fields: ["ts", "latency", "endpoint", "service"], order: [{ field: "latency", desc: true }] },
      ],
    });
    expect(printed(top?.select)).toEqual({
      window_start: "`window_start`",
      window_end: "`window_end`",
      service: "`service`",
      rows: "`rows`",
    });
    expect(formatExpression(top?.where as NonNullable<Pipeline["where"]>)).toBe("(`status` >= 500)");

    // after a window aggregation (Flink's documented form): the aggregation's pipeline, ranked
    const [ranked] = await loadSql(`${TABLE}
INSERT INTO top_services
SELECT *
  FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY total DESC) as rownum
    FROM (
      SELECT window_start, window_end, service, SUM(latency) as total, COUNT(*) as cnt
      FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '10' MINUTES))
      GROUP BY window_start, window_end, service
    )
  ) WHERE rownum <= 3;
`);
    expect(ranked).toMatchObject({
      key: "service",
      aggregates: [
        { name: "total", op: "sum", field: "latency" },
        { name: "cnt", op: "count" },
      ],
      rank: { n: 3, partition: [], order: [{ field: "total", desc: true }], rownum: "rownum" },
    });

    // with early firing (Flink's Top-N over an early-firing window aggregation): rankings early, then final
    const [early] = await loadSql(`${TABLE}
SET 'table.exec.emit.early-fire.enabled' = 'true';
SET 'table.exec.emit.early-fire.delay' = '5 s';
INSERT INTO top_services
SELECT * FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY total DESC) AS rownum
  FROM (
    SELECT window_start, window_end, service, SUM(latency) AS total
    FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '10' MINUTES))
    GROUP BY window_start, window_end, service
  )
) WHERE rownum <= 3;
`);
    expect(early).toMatchObject({ early: 5_000, rank: { n: 3, order: [{ field: "total", desc: true }] } });
  });

  it("reads through a view over the source and a table alias, and takes as names the words only dt-sql-parser reserves (Nexmark's q11 as written)", async () => {
    const [q11, renamed] = await loadSql(`CREATE TABLE datagen (
  event_type INT, auction BIGINT, bidder BIGINT, price BIGINT, dateTime TIMESTAMP(3), extra STRING,
  WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
) WITH ('connector' = 'kinesis', 'format' = 'json');
-- Nexmark's bid view, flattened (an apostrophe in a comment must not hide the names after it)
/* the columns of the view: auction, bidder, price, dateTime, extra */
CREATE VIEW bid AS SELECT auction, bidder, price, dateTime, extra FROM datagen WHERE event_type = 2;
CREATE VIEW cents AS SELECT bidder AS who, price * 100 AS cents, dateTime FROM datagen WHERE event_type = 2 AND price > 0;
INSERT INTO nexmark_q11
SELECT
    B.bidder,
    count(*) as bid_count,
    SESSION_START(B.dateTime, INTERVAL '10' SECOND) as starttime,
    SESSION_END(B.dateTime, INTERVAL '10' SECOND) as endtime
FROM bid B
GROUP BY B.bidder, SESSION(B.dateTime, INTERVAL '10' SECOND);
INSERT INTO spend SELECT window_start, who, SUM(cents) AS total
FROM TABLE(TUMBLE(TABLE cents, DESCRIPTOR(dateTime), INTERVAL '1' MINUTE)) WHERE who <> 7
GROUP BY window_start, window_end, who;
`);
    expect(q11).toMatchObject({
      name: "nexmark_q11",
      key: "bidder",
      eventTime: "dateTime",
      window: { type: "session", gap: 10_000 },
      aggregates: [{ name: "bid_count", op: "count" }],
      outOfOrderness: 4000,
    });
    expect(formatExpression(q11?.where as NonNullable<Pipeline["where"]>)).toBe("(`event_type` = 2)");
    expect(printed(q11?.select)).toEqual({
      bidder: "`bidder`",
      bid_count: "`bid_count`",
      starttime: "`window_start`",
      endtime: "`window_end`",
    });
    // a view's renamed and computed columns are computed values; its condition joins the query's
    expect(renamed).toMatchObject({ key: "who", aggregates: [{ name: "total", op: "sum", field: "cents" }] });
    expect(printed(renamed?.computed)).toEqual({ who: "`bidder`", cents: "(`price` * 100)" });
    expect(formatExpression(renamed?.where as NonNullable<Pipeline["where"]>)).toBe(
      "(((`event_type` = 2) AND (`price` > 0)) AND (`who` <> 7))",
    );
  });

  it("compiles the README's Window Top-N queries as printed, over the README's requests table", async () => {
    const queries = ["INSERT INTO slowest", "INSERT INTO top_endpoints"].map((marker) => readmeBlock(marker).code);
    const [slowest, top] = await loadSql(`${TABLE}${queries.join("\n")}`);
    expect(slowest?.aggregates[0]).toMatchObject({ op: "top", n: 3, order: [{ field: "latency", desc: true }] });
    expect(top?.rank).toMatchObject({ n: 3, partition: [], order: [{ field: "n", desc: true }] });
  });

  it("reads what a string or a comment says as text, not as a call (no ROW_NUMBER(), OVER ( or COUNT( there makes a Top-N or an aggregation)", async () => {
    const [plain, view, quoted] = await loadSql(`${TABLE}CREATE VIEW v AS SELECT * FROM requests WHERE endpoint <> 'COUNT(x)';
INSERT INTO plain
SELECT window_start, window_end, service, COUNT(*) AS n -- not OVER (x)
FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
WHERE service <> 'ROW_NUMBER()' /* nor RANK() */
GROUP BY window_start, window_end, service;
INSERT INTO through_view
SELECT window_start, window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE v, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end;
INSERT INTO quoted
SELECT window_start, window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
WHERE service <> "ROW_NUMBER()" GROUP BY window_start, window_end;`);
    expect(plain).toMatchObject({ name: "plain", key: "service", aggregates: [{ name: "n", op: "count" }] });
    expect(plain?.rank).toBeUndefined();
    expect(formatExpression(plain?.where as NonNullable<Pipeline["where"]>)).toBe("(`service` <> 'ROW_NUMBER()')");
    expect(view).toMatchObject({ name: "through_view", key: [] });
    // a double-quoted string too (Panes reads one as a string)
    expect(quoted?.rank).toBeUndefined();
  });

  it("reads a nested JSON field through a backquoted dotted column", async () => {
    const [pipeline] = await loadSql(`CREATE TABLE m (\`tags.host\` STRING, v DOUBLE, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
WITH ('connector' = 'kinesis', 'format' = 'json');
INSERT INTO per_host SELECT window_start, window_end, \`tags.host\`, MAX(v) AS top
FROM TABLE(TUMBLE(TABLE m, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) WHERE \`tags.host\` <> 'x'
GROUP BY window_start, window_end, \`tags.host\`;`);
    expect(pipeline).toMatchObject({ key: "tags.host", outOfOrderness: 0, aggregates: [{ name: "top", op: "max", field: "v" }] });
    expect(formatExpression(pipeline?.where as NonNullable<Pipeline["where"]>)).toBe("(`tags`.`host` <> 'x')");
  });

  it("refuses what Panes cannot run in one line naming it, its line and its column", async () => {
    const query = (select: string) => `${TABLE}INSERT INTO x ${select};`;
    const tumble = "FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '5' MINUTES))";
    const cases: [string, RegExp][] = [
      [
        TABLE.replace("'kinesis'", "'kafka'"),
        /^line 8, column 9: the connector 'kafka' \(Panes reads its Kinesis stream: 'kinesis'\) is not supported/,
      ],
      [TABLE.replace("'json'", "'csv'"), /^line 8, column 34: the format 'csv' \(Panes reads JSON: 'json'\) is not supported/],
      [TABLE.replace(",\n  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND", ""), /^line 1, column 1: a table without WATERMARK FOR/],
      [`${TABLE}SET 'parallelism.default' = '4';`, /^line 9, column 5: SET 'parallelism.default' \(Panes takes/],
      [
        query(`SELECT window_start, window_end, service, SUM(DISTINCT latency) AS n ${tumble} GROUP BY window_start, window_end, service`),
        /^line 9, column 57: SUM\(DISTINCT …\) \(COUNT\(DISTINCT x\) is supported\) is not supported/,
      ],
      [
        query(`SELECT window_start, window_end, service, SUM(MAX(latency)) AS n ${tumble} GROUP BY window_start, window_end, service`),
        /^line 9, column 61: an aggregate inside an aggregate is not supported: MAX\(latency\)/,
      ],
      [
        query(`SELECT window_start, window_end, service, MIN(service) AS n ${tumble} GROUP BY window_start, window_end, service`),
        /^line 9, column 57: MIN of a STRING \(it needs a number or a TIMESTAMP\) is not supported: MIN\(service\)/,
      ],
      [
        query(`SELECT window_start, window_end, service, AVG(latency) ${tumble} GROUP BY window_start, window_end, service`),
        /an expression without a name \(write AVG\(x\) AS avg_x\)/,
      ],
      [
        query(`SELECT window_start, service, COUNT(*) AS service ${tumble} GROUP BY window_start, window_end, service`),
        /^line 9, column 54: a second column named service/,
      ],
      [
        query(
          `SELECT TUMBLE_START(ts, INTERVAL '5' MINUTE) AS s, service, COUNT(*) AS n ${tumble} GROUP BY window_start, window_end, service`,
        ),
        /^line 9, column 22: TUMBLE_START in a window TVF query \(select window_start, window_end\)/,
      ],
      [
        query(`SELECT window_start, service, COUNT(*) FILTER (WHERE nope > 1) AS n ${tumble} GROUP BY window_start, window_end, service`),
        /^line 9, column 68: unknown column nope$/,
      ],
      [
        query("SELECT r.service, COUNT(*) AS n FROM requests r JOIN requests s ON r.service = s.service GROUP BY r.service"),
        /^line 9, column 52: a join is not supported: requests r JOIN requests s/,
      ],
      [
        query(`SELECT window_start, window_end, service, endpoint, COUNT(*) AS n ${tumble} GROUP BY window_start, window_end, service`),
        /the column endpoint, neither grouped nor aggregated/,
      ],
      [query("SELECT service, COUNT(*) AS n FROM requests GROUP BY service"), /^line 9, column 15: a query without a window/],
      [
        query(`SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start ORDER BY n DESC) AS r FROM t) WHERE r <= 3`),
        /^line 9, column 30: a Window Top-N that does not rank a window TVF's rows or a window aggregation's is not supported/,
      ],
      [
        query(`SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start ORDER BY latency DESC) AS r ${tumble}) WHERE r <= 3`),
        /a ranking that is not PARTITION BY window_start, window_end \[, columns\] is not supported/,
      ],
      [
        query(
          `SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY latency DESC) AS r ${tumble}) WHERE r > 3`,
        ),
        /a Window Top-N without WHERE r <= N \(N from 1 to 100; with r > M for an offset\) is not supported: WHERE r > 3/,
      ],
      [
        query(
          "SELECT window_start, window_end, endpoint, COUNT(*) AS n FROM TABLE(SESSION(TABLE requests PARTITION BY service, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, endpoint",
        ),
        /^line 9, column 166: a SESSION window grouped by other keys than its PARTITION BY keys \(service\) is not supported: GROUP BY window_start, window_end, endpoint$/,
      ],
      [
        query(
          "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY latency DESC) AS r FROM TABLE(SESSION(TABLE requests PARTITION BY service, DESCRIPTOR(ts), INTERVAL '1' MINUTE))) WHERE r <= 3",
        ),
        /^line 9, column 136: Window Top-N over SESSION windows \(rank TUMBLE, HOP or CUMULATE windows\) is not supported: SESSION\(TABLE requests PARTITION BY service, DESCRIPTOR\(t\.\.\.$/,
      ],
      [
        query("SELECT service, COUNT(*) AS n FROM requests GROUP BY HOP(ts, INTERVAL '5' MINUTE), service"),
        /^line 9, column 68: the group window HOP \(write HOP\(time, slide, size\)\) is not supported: HOP\(ts, INTERVAL '5' MINUTE\)$/,
      ],
      [
        query(
          "SELECT service, COUNT(*) AS n FROM requests GROUP BY HOP(ts, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE, INTERVAL '1' SECOND), service",
        ),
        /^line 9, column 68: HOP with 3 intervals \(write HOP\(time, slide, size\); an offset is not supported\) is not supported/,
      ],
    ];
    for (const [sql, expected] of cases) {
      const problem = await sqlRefusal(sql);
      expect(problem, sql).toMatch(expected);
      expect(problem).not.toContain("\n");
    }
  });

  describe("refuses every construct outside the subset in one line naming it, its line and its column, and quoting it", () => {
    const query = (select: string) => `${TABLE}INSERT INTO x ${select};`;
    const tumble = "FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '5' MINUTES))";
    const windows = "GROUP BY window_start, window_end";
    const counted = `INSERT INTO x SELECT window_start, window_end, COUNT(*) AS n ${tumble} ${windows};`;
    /** Each file is refused with exactly its one problem. */
    const expectRefusals = async (cases: [sql: string, problem: string][]) => {
      for (const [sql, problem] of cases) expect(await sqlRefusal(sql), sql).toBe(problem);
    };

    it("statements, source tables and SET options", async () => {
      await expectRefusals([
        [
          // a name an object's prototype answers to would vanish from the columns (it was dropped silently)
          TABLE.replace("service STRING,", "`__proto__` STRING, service STRING,"),
          "line 2, column 3: the column name __proto__ is not supported: `__proto__`",
        ],
        [
          TABLE.replace("endpoint STRING,", "endpoint STRING, service INT,"),
          "line 3, column 20: a second column named service is not supported: service",
        ],
        [
          `${TABLE}${TABLE}`,
          "line 9, column 1: a second CREATE TABLE (one source table per file) is not supported: CREATE TABLE requests ( service STRING, endpoint STRING, ...",
        ],
        [
          `CREATE VIEW v AS SELECT * FROM requests;\n${TABLE}`,
          "line 1, column 1: a view before the CREATE TABLE it reads is not supported: CREATE VIEW v AS SELECT * FROM requests",
        ],
        [
          `${TABLE}CREATE VIEW requests AS SELECT * FROM requests;`,
          "line 9, column 1: a second table or view named requests is not supported: CREATE VIEW requests AS SELECT * FROM requests",
        ],
        [`${TABLE}INSERT OVERWRITE x SELECT 1;`, "line 9, column 1: this INSERT is not supported: INSERT OVERWRITE x SELECT 1"],
        [`${TABLE}INSERT INTO x (a, b) SELECT 1, 2;`, "line 9, column 1: this INSERT is not supported: INSERT INTO x (a, b) SELECT 1, 2"],
        [
          `${TABLE}SET 'table.exec.emit.allow-lateness' = 'soon';`,
          "line 9, column 5: the duration 'soon' (write '30 s', '5 min', '1 h') is not supported: 'table.exec.emit.allow-lateness' = 'soon'",
        ],
        [
          `${TABLE}SET 'pipeline.max-parallelism' = '65536';`,
          "line 9, column 5: the max parallelism '65536' (a whole number from 1 to 32768: the key groups) is not supported: 'pipeline.max-parallelism' = '65536'",
        ],
        [
          `${TABLE}SET 'pipeline.max-parallelism' = 'many';`,
          "line 9, column 5: the max parallelism 'many' (a whole number from 1 to 32768: the key groups) is not supported: 'pipeline.max-parallelism' = 'many'",
        ],
        [
          `${TABLE}SET 'table.exec.emit.early-fire.delay' = '10 parsecs';`,
          "line 9, column 5: the duration '10 parsecs' (write '10 s', '1 min') is not supported: 'table.exec.emit.early-fire.delay' = '10 parsecs'",
        ],
        [`${TABLE}DROP TABLE requests;`, "line 9, column 1: this statement is not supported: DROP TABLE requests;"],
        ["INSERT INTO x SELECT 1;", "line 1, column 1: no CREATE TABLE: declare the source's columns and its WATERMARK"],
        [TABLE, "line 1, column 1: no query: write INSERT INTO name SELECT … or CREATE VIEW name AS SELECT …"],
        [
          `${TABLE}SET 'table.exec.emit.early-fire.enabled' = 'true';\n${counted}`,
          "line 9, column 5: early firing without table.exec.emit.early-fire.delay (SET it too) is not supported: 'table.exec.emit.early-fire.enabled' = 'true'",
        ],
        [
          TABLE.replace("latency DOUBLE,", "latency DOUBLE,\n  ms AS latency * 1000,"),
          "line 6, column 3: a computed or metadata column is not supported: ms AS latency * 1000",
        ],
        [
          TABLE.replace("latency DOUBLE,", "latency DOUBLE,\n  arrival TIMESTAMP(3) METADATA FROM 'timestamp',"),
          "line 6, column 3: a computed or metadata column is not supported: arrival TIMESTAMP(3) METADATA FROM 'timestamp'",
        ],
        [TABLE.replace("status INT", "status ARRAY<INT>"), "line 4, column 10: the column type ARRAY<INT> is not supported: ARRAY<INT>"],
        [
          TABLE.replace("FOR ts AS ts - INTERVAL '5' SECOND", "FOR status AS status"),
          "line 7, column 17: an event-time column that is not a TIMESTAMP (status) is not supported: status",
        ],
        [
          TABLE.replace("ts - INTERVAL '5' SECOND", "ts + INTERVAL '5' SECOND"),
          "line 7, column 23: this watermark (write WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) is not supported: ts + INTERVAL '5' SECOND",
        ],
      ]);
    });

    it("windows", async () => {
      const tvf = (call: string) => query(`SELECT window_start, window_end, COUNT(*) AS n FROM TABLE(${call}) ${windows}`);
      const legacy = (group: string) => query(`SELECT service, COUNT(*) AS n FROM requests GROUP BY ${group}, service`);
      await expectRefusals([
        [
          tvf("TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '0' MINUTE)"),
          "line 9, column 112: this interval (write INTERVAL '5' MINUTE) is not supported: INTERVAL '0' MINUTE",
        ],
        [
          legacy("TUMBLE(ts, INTERVAL '0' MINUTE)"),
          "line 9, column 79: this interval (write INTERVAL '5' MINUTE) is not supported: INTERVAL '0' MINUTE",
        ],
        [
          tvf("TUMBLE(TABLE other, DESCRIPTOR(ts), INTERVAL '1' MINUTE)"),
          "line 9, column 80: a window over something other than TABLE requests is not supported: TABLE other",
        ],
        [
          tvf("TUMBLE(TABLE requests, DESCRIPTOR(status), INTERVAL '1' MINUTE)"),
          "line 9, column 96: a window on a column other than the WATERMARK's (DESCRIPTOR(ts)) is not supported: DESCRIPTOR(status)",
        ],
        [
          tvf("TUMBLE(TABLE requests, DESCRIPTOR(ts), SIZE => INTERVAL '1' MINUTE)"),
          "line 9, column 112: a named window argument is not supported: SIZE => INTERVAL '1' MINUTE",
        ],
        [
          tvf("HOP(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE)"),
          "line 9, column 73: HOP with 1 interval is not supported: HOP(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE)",
        ],
        [
          legacy("HOP(ts, INTERVAL '1' MINUTE, INTERVAL '0' MINUTE)"),
          "line 9, column 68: the interval INTERVAL '0' MINUTE (write INTERVAL '5' MINUTE) is not supported: HOP(ts, INTERVAL '1' MINUTE, INTERVAL '0' MINUTE)",
        ],
        [
          query(`SELECT window_start, window_end, COUNT(*) AS n ${tumble} ${windows}, TUMBLE(ts, INTERVAL '1' MINUTE)`),
          "line 9, column 170: a group window beside a window TVF is not supported: TUMBLE(ts, INTERVAL '1' MINUTE)",
        ],
        [
          query(`SELECT window_start, window_end, COUNT(*) AS n ${tumble} ${windows}, HOP(ts, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE)`),
          "line 9, column 170: a group window beside a window TVF is not supported: HOP(ts, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE)",
        ],
        [
          legacy("TUMBLE(status, INTERVAL '1' MINUTE)"),
          "line 9, column 68: a window on a column other than ts is not supported: TUMBLE(status, INTERVAL '1' MINUTE)",
        ],
        [
          legacy("HOP(status, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE)"),
          "line 9, column 68: a window on a column other than ts is not supported: HOP(status, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE)",
        ],
      ]);
    });

    it("queries and their aggregates", async () => {
      const selecting = (items: string) => query(`SELECT window_start, window_end, ${items} ${tumble} ${windows}`);
      await expectRefusals([
        [
          query("SELECT service, SUM(latency) OVER (PARTITION BY service ORDER BY ts) AS s FROM requests"),
          "line 9, column 15: an OVER aggregation is not supported: SELECT service, SUM(latency) OVER (PARTITION BY service O...",
        ],
        [
          query(`SELECT window_start, window_end, COUNT(*) AS n ${tumble} ${windows} ORDER BY n`),
          "line 9, column 15: this query (one SELECT … FROM a window … GROUP BY) is not supported: SELECT window_start, window_end, COUNT(*) AS n FROM TABLE...",
        ],
        [
          query(
            "SELECT * FROM requests MATCH_RECOGNIZE (PARTITION BY service ORDER BY ts MEASURES A.status AS s PATTERN (A) DEFINE A AS A.status > 1)",
          ),
          "line 9, column 38: MATCH_RECOGNIZE is not supported: MATCH_RECOGNIZE (PARTITION BY service ORDER BY ts MEASURE...",
        ],
        [
          query("SELECT service, COUNT(*) AS n FROM requests GROUP BY service WINDOW w AS (PARTITION BY service)"),
          "line 9, column 76: a WINDOW clause is not supported: WINDOW w AS (PARTITION BY service)",
        ],
        [
          query("SELECT COUNT(*) AS n WHERE status > 1 GROUP BY service"),
          "line 9, column 15: a query without FROM is not supported: SELECT COUNT(*) AS n WHERE status > 1 GROUP BY service",
        ],
        [
          query(`SELECT COUNT(*) AS n ${tumble}`),
          "line 9, column 15: a query without GROUP BY (a window aggregation groups by the window and a key) is not supported: SELECT COUNT(*) AS n FROM TABLE(TUMBLE(TABLE requests, DE...",
        ],
        [
          query(`SELECT window_start, window_end, COUNT(*) AS n ${tumble} ${windows}, status + 1`),
          "line 9, column 170: this GROUP BY item (group by columns) is not supported: status + 1",
        ],
        [
          query(`SELECT service, COUNT(*) AS n ${tumble} GROUP BY service`),
          "line 9, column 118: a window TVF aggregation that does not GROUP BY window_start, window_end is not supported: GROUP BY service",
        ],
        [
          query(`SELECT window_start, window_end, nope, COUNT(*) AS n ${tumble} ${windows}, nope`),
          "line 9, column 176: the unknown column nope is not supported: nope",
        ],
        [selecting("1, COUNT(*) AS n"), "line 9, column 48: a constant without a name (write 1 AS one) is not supported: 1"],
        [query(`SELECT *, COUNT(*) AS n ${tumble} ${windows}`), "line 9, column 22: this select item is not supported: *"],
        [
          selecting("COUNT(*) AS `my-n`"),
          "line 9, column 57: the name my-n (a result value's name is an identifier) is not supported: AS `my-n`",
        ],
        [
          query(`SELECT window_start, window_end, service ${tumble} ${windows}, service`),
          "line 9, column 15: a query without aggregates is not supported: SELECT window_start, window_end, service",
        ],
        [
          selecting("APPROX_PERCENTILE(latency, 1.5) AS p"),
          "line 9, column 48: APPROX_PERCENTILE with the percentage 1.5 (write a number between 0 and 1) is not supported: APPROX_PERCENTILE(latency, 1.5)",
        ],
        [
          selecting("APPROX_PERCENTILE(latency, 0.5, 2) AS p"),
          "line 9, column 48: APPROX_PERCENTILE with the accuracy 2 (write a number between 0 and 1) is not supported: APPROX_PERCENTILE(latency, 0.5, 2)",
        ],
        [
          selecting("endpoint || 'x' AS e, COUNT(*) AS n"),
          "line 9, column 48: the column endpoint, neither grouped nor aggregated is not supported: endpoint",
        ],
        [selecting("SUM(latency, status) AS s"), "line 9, column 48: SUM with 2 arguments is not supported: SUM(latency, status)"],
        [selecting("SUM(*) AS s"), "line 9, column 48: SUM(*) is not supported: SUM(*)"],
        [selecting("COUNT(LEADING) AS s"), "line 9, column 54: this argument is not supported: LEADING"],
      ]);
    });

    it("Window Top-N forms", async () => {
      const rank = "ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY latency DESC) AS r";
      const top = (inner: string, outer = "SELECT *", where = "WHERE r <= 3") => query(`${outer} FROM (${inner}) ${where}`);
      const aggregation = `SELECT window_start, window_end, service, SUM(latency) AS total ${tumble} ${windows}, service`;
      const rankTotal = "ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY total DESC) AS r";
      await expectRefusals([
        [
          top(`SELECT *, ${rank} ${tumble}`, "SELECT *", "WHERE r <= 3 ORDER BY r"),
          "line 9, column 15: this Window Top-N (SELECT … FROM (SELECT …, ROW_NUMBER() OVER (…) AS rownum FROM TABLE(…)) WHERE rownum <= N) is not supported: SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY ...",
        ],
        [
          query(`SELECT *, ${rank} ${tumble}`),
          "line 9, column 15: this Window Top-N (the ranking goes in a subquery: FROM (SELECT …, ROW_NUMBER() OVER (…) AS rownum …)) is not supported: SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, w...",
        ],
        [
          top(`SELECT *, ${rank} ${tumble} ORDER BY latency`),
          "line 9, column 30: this Window Top-N subquery is not supported: SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, w...",
        ],
        [
          top(`SELECT window_start, window_end, service, ${rank} ${tumble} ${windows}, service`),
          "line 9, column 30: Window Top-N after a window aggregation (not yet) is not supported: SELECT window_start, window_end, service, ROW_NUMBER() OV...",
        ],
        [
          top(`SELECT *, ${rank}, ${rank.replace("AS r", "AS r2")} ${tumble}`),
          "line 9, column 126: a second ROW_NUMBER() is not supported: ROW_NUMBER() OVER (PARTITION BY window_start, window_end ...",
        ],
        [
          top(`SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, nope ORDER BY latency DESC) AS r ${tumble}`),
          "line 9, column 98: the unknown column nope is not supported: nope",
        ],
        [
          top(`SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY nope DESC) AS r ${tumble}`),
          "line 9, column 106: the unknown column nope is not supported: nope",
        ],
        [
          top(`SELECT service AS s, ${rank} ${tumble}`),
          "line 9, column 37: this ranked column (select the table's columns as they are) is not supported: service AS s",
        ],
        [top(`SELECT nope, ${rank} ${tumble}`), "line 9, column 37: the unknown column nope is not supported: nope"],
        [
          // a ranking function anywhere in the query's code makes it a Window Top-N
          top(`SELECT * ${tumble}`, "SELECT *", "WHERE ROW_NUMBER() > 0"),
          "line 9, column 30: a Window Top-N without ROW_NUMBER() OVER (…) AS rownum is not supported: SELECT * FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts)...",
        ],
        [
          top(`SELECT *, RANK() OVER (PARTITION BY window_start, window_end ORDER BY latency DESC) AS r ${tumble}`),
          "line 9, column 40: RANK() OVER (ROW_NUMBER() is) is not supported: RANK() OVER (PARTITION BY window_start, window_end ORDER ...",
        ],
        [
          top(`SELECT *, ROW_NUMBER() OVER w AS r ${tumble}`),
          "line 9, column 40: this OVER window (write OVER (PARTITION BY window_start, window_end ORDER BY …)) is not supported: ROW_NUMBER() OVER w AS r",
        ],
        [
          top(`SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end) AS r ${tumble}`),
          "line 9, column 58: a ranking without ORDER BY is not supported: (PARTITION BY window_start, window_end)",
        ],
        [
          top(`SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY latency DESC NULLS LAST) AS r ${tumble}`),
          "line 9, column 106: this ORDER BY item (order by a column, ASC or DESC) is not supported: latency DESC NULLS LAST",
        ],
        [
          top(`SELECT *, ${rank} ${tumble}`, "SELECT service AS s"),
          "line 9, column 22: this outer select item (SELECT * or the subquery's columns) is not supported: service AS s",
        ],
        [
          top(`SELECT service, ${rank} ${tumble}`, "SELECT service, latency"),
          "line 9, column 31: the column latency, which the subquery does not select is not supported: latency",
        ],
        [
          top(`SELECT *, ${rank} ${tumble}`, "SELECT r + 1 AS x"),
          "line 9, column 15: this outer select list (SELECT * or the subquery's columns) is not supported: SELECT r + 1 AS x",
        ],
        [
          top(`SELECT *, ${rankTotal} FROM (${aggregation}) WHERE total > 1`),
          "line 9, column 30: a condition or grouping around the ranked aggregation (rank the aggregation's rows as they are) is not supported: SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, w...",
        ],
        [
          top(
            `SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY n DESC) AS r FROM (SELECT window_start, window_end, service, COUNT(*) AS n FROM TABLE(SESSION(TABLE requests PARTITION BY service, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) ${windows}, service)`,
          ),
          "line 9, column 192: Window Top-N over SESSION windows (rank TUMBLE, HOP or CUMULATE windows) is not supported: SESSION(TABLE requests PARTITION BY service, DESCRIPTOR(t...",
        ],
        [
          top(`SELECT *, ${rankTotal}, ${rankTotal.replace("AS r", "AS r2")} FROM (${aggregation})`),
          "line 9, column 124: a second ROW_NUMBER() is not supported: ROW_NUMBER() OVER (PARTITION BY window_start, window_end ...",
        ],
        [
          top(`SELECT endpoint, ${rankTotal} FROM (${aggregation})`),
          "line 9, column 37: the column endpoint, which the aggregation does not select is not supported: endpoint",
        ],
        [
          top(`SELECT total * 2 AS t2, ${rankTotal} FROM (${aggregation})`),
          "line 9, column 37: this ranked column (select the aggregation's columns as they are) is not supported: total * 2 AS t2",
        ],
        [
          top(`SELECT * FROM (${aggregation})`, "SELECT *", "WHERE r <= 3 AND ROW_NUMBER() > 0"),
          "line 9, column 30: a Window Top-N without ROW_NUMBER() OVER (…) AS rownum is not supported: SELECT * FROM (SELECT window_start, window_end, service, ...",
        ],
      ]);
    });

    it("views", async () => {
      const view = (select: string) =>
        `${TABLE}CREATE VIEW v AS ${select};\nINSERT INTO x SELECT window_start, window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE v, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) ${windows};`;
      await expectRefusals([
        [
          view("SELECT * FROM requests ORDER BY ts"),
          "line 9, column 18: this view (a view selects columns of the source table, with a WHERE if need be) is not supported: SELECT * FROM requests ORDER BY ts",
        ],
        [
          view("SELECT * FROM requests a JOIN requests b ON a.service = b.service"),
          "line 9, column 18: this view's FROM (a view reads the source table) is not supported: SELECT * FROM requests a JOIN requests b ON a.service = b...",
        ],
        [
          view("SELECT * FROM elsewhere"),
          "line 9, column 32: a view over elsewhere (a view reads the source table requests) is not supported: elsewhere",
        ],
        [view("SELECT *, RANK() OVER w AS r FROM requests"), "line 9, column 28: this view column is not supported: RANK() OVER w AS r"],
        [
          view("SELECT *, latency * 2 FROM requests"),
          "line 9, column 28: a view column without a name (write … AS name) is not supported: latency * 2",
        ],
        [
          view("SELECT ts, service, endpoint AS service FROM requests"),
          "line 9, column 47: a second column named service is not supported: AS service",
        ],
        [
          view("SELECT service FROM requests"),
          "line 9, column 18: a view without the event-time column ts is not supported: SELECT service",
        ],
        [
          view("SELECT latency + 1 AS ts, * FROM requests"),
          "line 9, column 18: a view whose event time is computed is not supported: SELECT latency + 1 AS ts, *",
        ],
      ]);
    });

    it("expressions, and what does not parse or type", async () => {
      const where = (condition: string) => query(`SELECT window_start, window_end, COUNT(*) AS n ${tumble} WHERE ${condition} ${windows}`);
      await expectRefusals([
        [where("status = (SELECT 1)"), "line 9, column 150: this expression is not supported: (SELECT 1)"],
        // a FILTER after something that is not an aggregate: Calcite refuses it (it vanished)
        [
          query(
            `SELECT window_start, window_end, service, UPPER(service) FILTER (WHERE status > 1) AS u, COUNT(*) AS n ${tumble} ${windows}, service`,
          ),
          "line 9, column 85: FILTER (WHERE …) after something that is not an aggregate (write COUNT(*) FILTER (WHERE …))",
        ],
        // a FILTER whose condition is only a comment is empty too
        [
          query(`SELECT window_start, window_end, COUNT(*) FILTER (WHERE /* c */) AS n ${tumble} ${windows}`),
          "line 9, column 70: COUNT FILTER (WHERE) without a condition (write FILTER (WHERE status >= 500))",
        ],
        // a real syntax error next to a keyword call is told as the parser's error, not as an unsupported CAST
        [
          query(`SELECT window_start, window_end, service CAST(status AS INT) AS s, COUNT(*) AS n ${tumble} ${windows}, service`),
          "line 9, column 76: 'AS' is not valid at this position, expecting a keyword",
        ],
        // an empty FILTER: named where its condition is missing (it was told past the end of the file)
        [
          query(`SELECT window_start, window_end, COUNT(*) FILTER (WHERE ) AS n ${tumble} ${windows}`),
          "line 9, column 70: COUNT FILTER (WHERE) without a condition (write FILTER (WHERE status >= 500))",
        ],
        // a function whose name the grammar keeps as a keyword: named as the function (the parser said a rule failed)
        [where("SQRT(latency) > 1"), "line 9, column 141: the function SQRT is not supported: SQRT(…)"],
        [where("status = NOT NULL"), "line 9, column 150: this expression is not supported: NOT NULL"],
        [where("service LIKE ANY ('a%', 'b%')"), "line 9, column 149: LIKE ANY / ALL is not supported: LIKE ANY ('a%', 'b%')"],
        [where("~status = 1"), "line 9, column 141: the operator ~ is not supported: ~status"],
        [where("status < = > 1"), "line 9, column 141: the comparison <=> is not supported: status < = > 1"],
        [
          where("status = 99999999999999999999"),
          "line 9, column 150: the number 99999999999999999999 is beyond what Panes computes exactly (±2^53)",
        ],
        [where("ts > INTERVAL '1' MINUTE"), "line 9, column 146: this literal is not supported: INTERVAL '1' MINUTE"],
        [where("ts < CURRENT_TIMESTAMP"), "line 9, column 146: this function is not supported: CURRENT_TIMESTAMP"],
        [where("UPPER(DISTINCT service) = 'A'"), "line 9, column 141: UPPER(DISTINCT …) is not supported: UPPER(DISTINCT service)"],
        [where("ABS(SECOND) > 1"), "line 9, column 145: this argument is not supported: SECOND"],
        [
          where("status = = 1"),
          "line 9, column 150: '=' is not valid at this position, expecting an existing function or an existing column or a keyword",
        ],
        [where("service = 1"), "line 9, column 151: = mixes STRING and INT; CAST one of them"],
        [where("CAST(ts AS BOOLEAN)"), "line 9, column 141: cannot CAST TIMESTAMP AS BOOLEAN"],
        [where("ABS(1, 2) > 1"), "line 9, column 141: ABS takes one argument"],
        [where("status AND true"), "line 9, column 141: a condition must be BOOLEAN, got INT"],
      ]);
    });
  });

  it("refuses, naming the pipeline, the field and the line of its query, what the compiler passes on and the pipelines' schema refuses", async () => {
    const query = (select: string) => `${TABLE}INSERT INTO x ${select};`;
    const tumble = "FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '5' MINUTES))";
    const windows = "GROUP BY window_start, window_end";
    const counted = `INSERT INTO x SELECT window_start, window_end, COUNT(*) AS n ${tumble} ${windows};`;
    const tvf = (call: string) => query(`SELECT window_start, window_end, COUNT(*) AS n FROM TABLE(${call}) ${windows}`);
    const aggregation = `SELECT window_start, window_end, service, SUM(latency) AS total ${tumble} ${windows}, service`;
    const ranked = (over: string, alias = "r") =>
      query(`SELECT * FROM (SELECT *, ROW_NUMBER() OVER (${over}) AS ${alias} FROM (${aggregation})) WHERE ${alias} <= 3`);
    const cases: [string, string][] = [
      [
        `${TABLE}SET 'table.exec.emit.early-fire.enabled' = 'true';\nSET 'table.exec.emit.early-fire.delay' = '0 s';\n${counted}`,
        'pipeline "x" (pipelines[0]), field early: must be longer than 0',
      ],
      [
        `${TABLE}SET 'table.exec.emit.allow-lateness' = '99999999999999999999 d';\n${counted}`,
        'pipeline "x" (pipelines[0]), field allowedLateness: invalid duration 8.64e+27: write a whole number with a unit (ms, s, m, h, d), e.g. "30s", "5m", "1h30m"',
      ],
      [
        tvf("HOP(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '5' MINUTE, INTERVAL '99999999999999999' DAY)"),
        'pipeline "x" (pipelines[0]), field window.offset: invalid offset 8.64e+24: write a duration with a unit, "-" before it for a negative one, e.g. "8h", "-8h", "30m"',
      ],
      [
        tvf("CUMULATE(TABLE requests, DESCRIPTOR(ts), INTERVAL '7' MINUTE, INTERVAL '1' HOUR)"),
        'pipeline "x" (pipelines[0]), field window.step: must divide the size: 1h is not a whole number of 7m steps',
      ],
      [
        tvf("CUMULATE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '1' DAY)"),
        'pipeline "x" (pipelines[0]), field window.step: a 1d window by 1s combines 86400 panes; at most 1440 are allowed',
      ],
      [
        tvf("HOP(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '1' DAY)"),
        'pipeline "x" (pipelines[0]), field window.slide: a 1d window sliding every 1s combines 86400 panes of 1s; at most 1440 are allowed — choose a slide that divides the size more coarsely',
      ],
      [
        `${TABLE}${counted.replace("INSERT INTO x", "INSERT INTO `my pipeline`")}`,
        `pipeline "my pipeline" (pipelines[0]), field name: must be 1–64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit`,
      ],
      [`${TABLE}${counted}\n${counted}`, 'pipeline "x" (pipelines[1]), field name: duplicate pipeline name "x"'],
      [
        query(`SELECT window_start, window_end, service, COUNT(*) AS n ${tumble} ${windows}, service, service`),
        'pipeline "x" (pipelines[0]), field key: names a column twice',
      ],
      [
        query(`SELECT window_start, window_end, COUNT(*) AS n ${tumble} WHERE latency ${windows}`),
        'pipeline "x" (pipelines[0]), field where: must be a condition (BOOLEAN), not DOUBLE',
      ],
      [
        query(`SELECT window_start, window_end, COUNT(*) AS n ${tumble} ${windows} HAVING COUNT(*)`),
        'pipeline "x" (pipelines[0]), field having: must be a condition (BOOLEAN), not BIGINT',
      ],
      [
        query(`SELECT window_start, window_end, COUNT(*) + 'x' AS bad ${tumble} ${windows}`),
        'pipeline "x" (pipelines[0]), field select.bad: 9:59: + takes numbers, got STRING',
      ],
      [
        query(`SELECT window_start, window_end, COUNT(*) AS n ${tumble} ${windows} HAVING COUNT(*) = 'x'`),
        'pipeline "x" (pipelines[0]), field having: 9:187: = mixes BIGINT and STRING; CAST one of them',
      ],
      [
        TABLE.replace("endpoint STRING", "`end point` STRING") + counted,
        'pipeline "x" (pipelines[0]), field columns.end point: Invalid key in record',
      ],
      [
        ranked("PARTITION BY window_start, window_end, endpoint ORDER BY total DESC"),
        `pipeline "x" (pipelines[0]), field rank.partition[0]: "endpoint" must be one of the key's columns`,
      ],
      [
        ranked("PARTITION BY window_start, window_end ORDER BY latency DESC"),
        `pipeline "x" (pipelines[0]), field rank.order[0].field: "latency" must be one of the result's values (window_start, window_end, service, total)`,
      ],
      [
        ranked(`PARTITION BY window_start, window_end ORDER BY ${Array(9).fill("total").join(", ")}`),
        'pipeline "x" (pipelines[0]), field rank.order: Too big: expected array to have <=8 items',
      ],
      [
        ranked("PARTITION BY window_start, window_end ORDER BY total DESC", "`my-r`"),
        'pipeline "x" (pipelines[0]), field rank.rownum: names must be identifiers',
      ],
      [
        query(
          `SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY latency) AS r${"x".repeat(64)} ${tumble}) WHERE r${"x".repeat(64)} <= 3`,
        ),
        'pipeline "x" (pipelines[0]), field aggregates.rows.top.rownum: Too big: expected string to have <=64 characters',
      ],
      [
        TABLE.replace("status INT,", "status INT, a1 INT, a2 INT, a3 INT, a4 INT, a5 INT,") +
          `INSERT INTO x SELECT window_start, window_end, COUNT(*) AS n ${tumble} ${windows}, service, endpoint, status, a1, a2, a3, a4, a5, latency;`,
        'pipeline "x" (pipelines[0]), field key: expected string, got ["service","endpoint","status","a1","a2","a3","a4","a5","latency"]',
      ],
    ];
    // told where the pipeline's query is written: the line of its INSERT INTO (the Nth for pipelines[N]), column 1
    const told = (sql: string, problem: string) => {
      const found = problem.match(/^pipeline (".*?") \(pipelines\[(\d+)\]\), (.*)$/s);
      if (!found) return problem;
      const lines = sql.split("\n");
      const starts = lines.flatMap((text, i) => (/^INSERT INTO /.test(text) ? [i + 1] : []));
      return `line ${starts[Number(found[2])]}, column 1: the query of ${found[1]}, ${found[3]}`;
    };
    for (const [sql, problem] of cases) expect(await sqlRefusal(sql), sql).toBe(told(sql, problem));
  });

  it("names the line, column and text the user wrote, not the text Panes rewrites for the grammar", async () => {
    // `comment` is a name in Flink SQL but a keyword of the grammar: Panes backquotes it before parsing
    const withComment = TABLE.replace("endpoint STRING", "comment STRING");
    const line = `INSERT INTO x SELECT window_start, window_end, comment, SUM(DISTINCT latency) AS n FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '5' MINUTES)) GROUP BY window_start, window_end, comment;`;
    expect(await sqlRefusal(`${withComment}${line}`)).toBe(
      `line 9, column ${line.indexOf("SUM(") + 1}: SUM(DISTINCT …) (COUNT(DISTINCT x) is supported) is not supported: SUM(DISTINCT latency)`,
    );

    // Flink's testEventTimeSessionWindowWithTVFNotPullUpIntoWindowAgg: the SESSION TVF in a subquery is quoted as written
    const session = `INSERT INTO x SELECT service, window_start, window_end, COUNT(*) AS n FROM (SELECT * FROM TABLE(SESSION(TABLE requests PARTITION BY service, DESCRIPTOR(ts), INTERVAL '5' SECOND)) WHERE window_start > TIMESTAMP '2000-01-01 10:10:00.000') GROUP BY service, window_start, window_end;`;
    expect(await sqlRefusal(`${TABLE}${session}`)).toBe(
      `line 9, column ${session.indexOf("(SELECT") + 1}: a query over something other than requests is not supported: (SELECT * FROM TABLE(SESSION(TABLE requests PARTITION BY ...`,
    );

    // an aggregate's FILTER clause, which the grammar lacks, is quoted as written too
    const filtered = `${TABLE}INSERT INTO x SELECT service, COUNT(*) FILTER (WHERE status > 1) AS n FROM requests GROUP BY service;`;
    expect(await sqlRefusal(filtered)).toBe(
      "line 9, column 15: a query without a window (TUMBLE, HOP, CUMULATE or SESSION) is not supported: SELECT service, COUNT(*) FILTER (WHERE status > 1) AS n F...",
    );
  });

  it("takes a window TVF's offset, of either sign, as Flink does (TUMBLE's less than its size)", async () => {
    const query = (name: string, tvf: string) =>
      `INSERT INTO ${name} SELECT window_start, window_end, COUNT(*) AS n FROM TABLE(${tvf}) GROUP BY window_start, window_end;\n`;
    const [tumble, hop, cumulate, zero] = await loadSql(
      TABLE +
        query("t", "TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' DAY, INTERVAL '-8' HOUR)") +
        query("h", "HOP(TABLE requests, DESCRIPTOR(ts), INTERVAL '12' HOUR, INTERVAL '1' DAY, INTERVAL '8' HOUR)") +
        query("c", "CUMULATE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' HOUR, INTERVAL '1' DAY, INTERVAL '30' MINUTE)") +
        query("z", "TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '5' MINUTE, INTERVAL '0' SECOND)"),
    );
    expect(tumble?.window).toEqual({ type: "tumbling", size: 86_400_000, offset: -28_800_000 });
    expect(hop?.window).toEqual({ type: "sliding", slide: 43_200_000, size: 86_400_000, offset: 28_800_000 });
    expect(cumulate?.window).toEqual({ type: "cumulate", step: 3_600_000, size: 86_400_000, offset: 1_800_000 });
    expect(zero?.window).toEqual({ type: "tumbling", size: 300_000 });

    const line = query("t", "TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '5' MINUTE, INTERVAL '-5' MINUTE)").trim();
    expect(await sqlRefusal(TABLE + line)).toBe(
      `line 9, column ${line.indexOf("INTERVAL '-5'") + 1}: a TUMBLE offset as long as the window or longer (Flink requires abs(offset) < size) is not supported: INTERVAL '-5' MINUTE`,
    );
    expect(
      await sqlRefusal(TABLE + query("t", "TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '5' MINUTE, INTERVAL 'x' MINUTE)")),
    ).toMatch(/^line 9, column \d+: this offset \(write INTERVAL '8' HOUR or INTERVAL '-8' HOUR\) is not supported: INTERVAL 'x' MINUTE$/);
  });

  it("runs SESSION window TVFs (PARTITION BY as the key, none: one global session) and the legacy HOP group window", async () => {
    const session = (partition: string, keys: string) =>
      `${TABLE}INSERT INTO x SELECT window_start, window_end${keys}, COUNT(*) AS n FROM TABLE(SESSION(TABLE requests${partition}, DESCRIPTOR(ts), INTERVAL '0.5' SECOND)) GROUP BY window_start, window_end${keys};`;
    const [keyed] = await loadSql(session(" PARTITION BY service, endpoint", ", service, endpoint"));
    expect(keyed?.key).toEqual(["service", "endpoint"]);
    expect(keyed?.window).toEqual({ type: "session", gap: 500 });
    const [global] = await loadSql(session("", ""));
    expect(global?.key).toEqual([]);
    expect(global?.window).toEqual({ type: "session", gap: 500 });
    const [hop] = await loadSql(
      `${TABLE}INSERT INTO x SELECT HOP_START(ts, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE) AS s, HOP_END(ts, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE) AS e, service, COUNT(*) AS n FROM requests GROUP BY HOP(ts, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE), service;`,
    );
    expect(hop?.key).toBe("service");
    expect(hop?.window).toEqual({ type: "sliding", size: 300_000, slide: 60_000 });
    expect(Object.keys(hop?.select ?? {})).toEqual(["s", "e", "service", "n"]);
  });
});
