// Flink SQL pipelines through `panes replay` (the real handlers on the emulators) against DuckDB running
// the same aggregations over the same events: composite keys, a global window, a single INT key,
// expressions inside aggregates, COUNT(column), COUNT(DISTINCT), FILTER (WHERE …), NULLs skipped, AVG of
// an INT as an INT, STDDEV and VARIANCE (their _POP and _SAMP), ROUND, FLOOR, CEIL and MOD, computed
// select columns and the window columns in every result's values; and a Window Top-N over a window
// TVF's rows against DuckDB's ROW_NUMBER(); a view with renamed and computed columns and a condition,
// read through a table alias; SESSION window TVFs, keyed by their PARTITION BY columns and global,
// against sessions DuckDB cuts with LAG() (a gap longer than the session gap); cascades — a FROM
// subquery's rows regrouped in their window, a view's windowed again on its window_time by HOP, a legacy
// TUMBLE over a subquery's TUMBLE_ROWTIME, a Window Top-N of a view's rows regrouped, and one over a view's
// rows windowed again — against DuckDB's
// nested aggregations.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { describe, expect, it } from "vitest";
import { loadPipelinesFile } from "../../shared/app/pipelines-file.ts";
import type { WindowResult } from "../../shared/core/types.ts";
import { Chaos } from "../../tools/local/chaos.ts";
import { replay } from "../../tools/local/replay.ts";
import { emulatorEndpoints } from "../helpers/emulated.ts";

const SQL = `CREATE TABLE requests (
  service STRING,
  endpoint STRING,
  status INT,
  latency DOUBLE,
  user_id STRING,
  ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH ('connector' = 'kinesis', 'format' = 'json');

INSERT INTO by_endpoint
SELECT window_start, window_end, service, endpoint,
       COUNT(*) AS n,
       COUNT(*) FILTER (WHERE status >= 500) AS errors,
       COUNT(latency) AS timed,
       SUM(latency * 1000) / COUNT(latency) AS mean_ms,
       COUNT(DISTINCT user_id) AS users,
       AVG(status) AS avg_status,
       MAX(CASE WHEN status >= 500 THEN latency END) AS worst_error,
       MIN(latency) FILTER (WHERE endpoint = '/a') AS best_a
FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
WHERE service <> 'batch' OR status IS NOT NULL
GROUP BY window_start, window_end, service, endpoint;

INSERT INTO spread
SELECT window_start, window_end, service,
       STDDEV_POP(latency) AS sd_pop, STDDEV_SAMP(latency) AS sd_samp, VAR_POP(latency) AS v_pop,
       VARIANCE(latency * 1000) FILTER (WHERE status >= 500) AS var_err_ms, STDDEV(latency) / AVG(latency) AS cv,
       ROUND(AVG(latency), 3) AS avg_r, FLOOR(AVG(latency) * 10) AS tenths, CEIL(MAX(latency)) AS ceiling_s,
       MOD(COUNT(*), 7) AS n_mod
FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, service;

INSERT INTO everything
SELECT window_start, window_end, COUNT(*) AS n, SUM(COALESCE(status, 0)) AS status_sum
FROM TABLE(HOP(TABLE requests, DESCRIPTOR(ts), INTERVAL '30' SECOND, INTERVAL '2' MINUTE))
GROUP BY window_start, window_end;

INSERT INTO legacy
SELECT service, TUMBLE_START(ts, INTERVAL '2' MINUTE) AS wstart, TUMBLE_END(ts, INTERVAL '2' MINUTE) AS wend,
       COUNT(*) AS n, AVG(latency) AS lat
FROM requests
GROUP BY TUMBLE(ts, INTERVAL '2' MINUTE), service;

INSERT INTO slowest
SELECT * FROM (
  SELECT window_start, window_end, service, endpoint, latency, ts,
         ROW_NUMBER() OVER (PARTITION BY window_start, window_end, service ORDER BY latency DESC, endpoint) AS rownum
  FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
  WHERE latency IS NOT NULL
) WHERE rownum <= 3;

CREATE VIEW slow_requests AS SELECT service AS svc, latency * 1000 AS ms, ts FROM requests WHERE latency > 1;

INSERT INTO slow_by_service
SELECT S.svc, TUMBLE_START(S.ts, INTERVAL '1' MINUTE) AS window_start, COUNT(*) AS n, MAX(S.ms) AS worst
FROM slow_requests S
GROUP BY TUMBLE(S.ts, INTERVAL '1' MINUTE), S.svc;

INSERT INTO busy
SELECT window_start, window_end, service, COUNT(*) AS n
FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, service
HAVING COUNT(*) > 130 AND AVG(latency) < 1.05;

INSERT INTO visits
SELECT user_id, SESSION_START(ts, INTERVAL '5' SECOND) AS s, SESSION_END(ts, INTERVAL '5' SECOND) AS e, COUNT(*) AS n
FROM requests WHERE user_id IS NOT NULL
GROUP BY SESSION(ts, INTERVAL '5' SECOND), user_id
HAVING COUNT(*) >= 2;

INSERT INTO top_endpoints
SELECT * FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, service ORDER BY n DESC) AS rownum
  FROM (
    SELECT window_start, window_end, service, endpoint, COUNT(*) AS n, MAX(latency) AS worst
    FROM TABLE(HOP(TABLE requests, DESCRIPTOR(ts), INTERVAL '30' SECOND, INTERVAL '2' MINUTE))
    GROUP BY window_start, window_end, service, endpoint
  )
) WHERE rownum <= 2;

INSERT INTO worst_pairs
SELECT * FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY worst DESC) AS rownum
  FROM (
    SELECT window_start, window_end, service, endpoint, MAX(latency) AS worst
    FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
    GROUP BY window_start, window_end, service, endpoint
  )
) WHERE rownum <= 3;

INSERT INTO spans
SELECT window_start, window_end, window_time, service, MIN(ts) AS first_seen, MAX(ts) AS last_seen, 1 AS one
FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, window_time, service;

INSERT INTO latency_p90
SELECT window_start, window_end, service, APPROX_PERCENTILE(latency * 1000, 0.9) AS p90_ms
FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, service;

INSERT INTO runner_up
SELECT * FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY n DESC) AS rownum
  FROM (
    SELECT window_start, window_end, service, COUNT(*) AS n
    FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
    GROUP BY window_start, window_end, service
  )
) WHERE rownum > 1 AND rownum <= 2;

INSERT INTO by_status
SELECT window_start, window_end, status, COUNT(*) AS n, MAX(latency) - MIN(latency) AS spread
FROM TABLE(CUMULATE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '3' MINUTE))
GROUP BY window_start, window_end, status;

INSERT INTO third_service
SELECT * FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY n DESC) AS rownum
  FROM (
    SELECT window_start, window_end, service, COUNT(*) AS n
    FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' SECOND))
    GROUP BY window_start, window_end, service
  )
) WHERE rownum > 2 AND rownum <= 3;

INSERT INTO user_sessions
SELECT window_start, window_end, user_id, endpoint, COUNT(*) AS n, MAX(latency) AS worst, COUNT(DISTINCT service) AS services
FROM TABLE(SESSION(TABLE requests PARTITION BY user_id, endpoint, DESCRIPTOR(ts), INTERVAL '20' SECOND))
WHERE user_id IS NOT NULL
GROUP BY window_start, window_end, user_id, endpoint;

INSERT INTO bursts
SELECT window_start, window_end, COUNT(*) AS n, SUM(latency) AS total
FROM TABLE(SESSION(TABLE requests, DESCRIPTOR(ts), INTERVAL '0.4' SECOND))
GROUP BY window_start, window_end;

INSERT INTO per_count
SELECT window_start, window_end, n, COUNT(*) AS services, SUM(worst) AS worst_total
FROM (
  SELECT window_start, window_end, service, COUNT(*) AS n, MAX(latency) AS worst
  FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' SECOND))
  GROUP BY window_start, window_end, service
) GROUP BY window_start, window_end, n;

CREATE VIEW per_minute AS
SELECT window_time AS rowtime, service, COUNT(*) AS n, MAX(latency) AS worst
FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, window_time, service;

INSERT INTO per_3min
SELECT window_start, window_end, COUNT(*) AS rows_n, SUM(n) AS n, MAX(worst) AS worst
FROM TABLE(HOP(TABLE per_minute, DESCRIPTOR(rowtime), INTERVAL '1' MINUTE, INTERVAL '3' MINUTE))
GROUP BY window_start, window_end;

INSERT INTO busiest_minutes
SELECT * FROM (
  SELECT window_start, window_end, service, n, rowtime,
         ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY n DESC, service, rowtime) AS rownum
  FROM TABLE(TUMBLE(TABLE per_minute, DESCRIPTOR(rowtime), INTERVAL '3' MINUTE))
) WHERE rownum <= 2;

CREATE VIEW per_second AS
SELECT window_start, window_end, service, COUNT(*) AS n
FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY window_start, window_end, service;

INSERT INTO top_counts
SELECT * FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY services DESC) AS rownum
  FROM (
    SELECT window_start, window_end, n, COUNT(*) AS services
    FROM per_second
    GROUP BY window_start, window_end, n
  )
) WHERE rownum <= 2;

INSERT INTO legacy_cascade
SELECT TUMBLE_START(rt, INTERVAL '2' MINUTE) AS ws, COUNT(*) AS groups_n, SUM(n) AS n
FROM (
  SELECT endpoint, TUMBLE_ROWTIME(ts, INTERVAL '30' SECOND) AS rt, COUNT(*) AS n
  FROM requests
  GROUP BY TUMBLE(ts, INTERVAL '30' SECOND), endpoint
) GROUP BY TUMBLE(rt, INTERVAL '2' MINUTE);
`;

/**
 * Session windows in DuckDB, as Flink merges them: an event at most the gap after the partition's
 * previous one joins its session (Flink's TimeWindow.intersects merges [a, b) with [b, c): windows that
 * touch); `columns` are selected after the window's start and size.
 */
function sessions(partition: string[], gapMs: number, columns: string, where = "TRUE"): string {
  const by = partition.length === 0 ? "" : `PARTITION BY ${partition.join(", ")}`;
  return `SELECT MIN(t) AS ws, MAX(t) + ${gapMs} - MIN(t) AS size, ${columns} FROM (
      SELECT *, SUM(CASE WHEN prev IS NULL OR t - prev > ${gapMs} THEN 1 ELSE 0 END)
        OVER (${by} ORDER BY t ROWS UNBOUNDED PRECEDING) AS session
      FROM (SELECT *, LAG(t) OVER (${by} ORDER BY t) AS prev FROM ev WHERE ${where}))
    GROUP BY ${[...partition, "session"].join(", ")}`;
}

/** The same queries in DuckDB's SQL over a table `ev` with the event time `t` in epoch ms. */
const REFERENCE: Record<string, { sql: string; key: (row: Record<string, unknown>) => string }> = {
  // DuckDB's own deviations and variances (a stable algorithm; Flink's formula is over sums, as Panes')
  spread: {
    sql: `SELECT t // 60000 * 60000 AS ws, 60000 AS size, service,
        stddev_pop(latency) AS sd_pop, stddev_samp(latency) AS sd_samp, var_pop(latency) AS v_pop,
        var_samp(latency * 1000) FILTER (WHERE status >= 500) AS var_err_ms, stddev_samp(latency) / avg(latency) AS cv,
        round(avg(latency), 3) AS avg_r, floor(avg(latency) * 10) AS tenths, ceil(max(latency)) AS ceiling_s,
        count(*) % 7 AS n_mod
      FROM ev GROUP BY ALL`,
    key: (r) => String(r.service),
  },
  by_endpoint: {
    sql: `SELECT t // 60000 * 60000 AS ws, 60000 AS size, service, endpoint,
        COUNT(*) AS n,
        COUNT(*) FILTER (WHERE status >= 500) AS errors,
        COUNT(latency) AS timed,
        SUM(latency * 1000) / COUNT(latency) AS mean_ms,
        COUNT(DISTINCT user_id) AS users,
        SUM(status) // COUNT(status) AS avg_status,
        MAX(CASE WHEN status >= 500 THEN latency END) AS worst_error,
        MIN(latency) FILTER (WHERE endpoint = '/a') AS best_a
      FROM ev WHERE service <> 'batch' OR status IS NOT NULL
      GROUP BY ALL`,
    key: (r) => JSON.stringify([r.service, r.endpoint]),
  },
  everything: {
    sql: `SELECT ws, 120000 AS size, COUNT(*) AS n, SUM(COALESCE(status, 0)) AS status_sum
      FROM (SELECT *, unnest(range(t // 30000 * 30000 - 90000, t // 30000 * 30000 + 1, 30000)) AS ws FROM ev)
      GROUP BY ALL`,
    key: () => "[]",
  },
  legacy: {
    sql: `SELECT t // 120000 * 120000 AS ws, 120000 AS size, service, COUNT(*) AS n, AVG(latency) AS lat FROM ev GROUP BY ALL`,
    key: (r) => String(r.service),
  },
  slow_by_service: {
    sql: `SELECT t // 60000 * 60000 AS ws, 60000 AS size, service AS svc, COUNT(*) AS n, MAX(latency * 1000) AS worst
      FROM ev WHERE latency > 1 GROUP BY ALL`,
    key: (r) => String(r.svc),
  },
  busy: {
    sql: `SELECT t // 60000 * 60000 AS ws, 60000 AS size, service, COUNT(*) AS n FROM ev
      GROUP BY ALL HAVING COUNT(*) > 130 AND AVG(latency) < 1.05`,
    key: (r) => String(r.service),
  },
  visits: {
    sql: `${sessions(["user_id"], 5000, "user_id, COUNT(*) AS n", "user_id IS NOT NULL")} HAVING COUNT(*) >= 2`,
    key: (r) => String(r.user_id),
  },
  user_sessions: {
    sql: sessions(
      ["user_id", "endpoint"],
      20_000,
      "user_id, endpoint, COUNT(*) AS n, MAX(latency) AS worst, COUNT(DISTINCT service) AS services",
      "user_id IS NOT NULL",
    ),
    key: (r) => JSON.stringify([r.user_id, r.endpoint]),
  },
  bursts: {
    sql: sessions([], 400, "COUNT(*) AS n, SUM(latency) AS total"),
    key: () => "[]",
  },
  spans: {
    sql: `SELECT t // 60000 * 60000 AS ws, 60000 AS size, service, MIN(t) AS first_seen, MAX(t) AS last_seen FROM ev GROUP BY ALL`,
    key: (r) => String(r.service),
  },
  latency_p90: {
    // the exact lower quantile (rank ⌊q·(n−1)⌋), which DDSketch's estimate stays within 1% of
    sql: `SELECT t // 60000 * 60000 AS ws, 60000 AS size, service,
        list_sort(list(latency * 1000) FILTER (WHERE latency IS NOT NULL))[floor(0.9 * (count(latency) - 1))::INTEGER + 1] AS p90_ms
      FROM ev GROUP BY ALL`,
    key: (r) => String(r.service),
  },
  // cascades: a window aggregation over another's rows, regrouped in their window and windowed again
  per_count: {
    sql: `SELECT ws, 1000 AS size, n, COUNT(*) AS services, SUM(worst) AS worst_total FROM (
        SELECT t // 1000 * 1000 AS ws, service, COUNT(*) AS n, MAX(latency) AS worst FROM ev GROUP BY ALL)
      GROUP BY ws, n`,
    key: (r) => String(r.n),
  },
  per_minute: {
    sql: `SELECT t // 60000 * 60000 AS ws, 60000 AS size, service, COUNT(*) AS n, MAX(latency) AS worst FROM ev GROUP BY ALL`,
    key: (r) => String(r.service),
  },
  per_3min: {
    // each minute's rows at their window_time (the minute's end - 1 ms), in the three 3-minute windows holding it
    sql: `SELECT ws, 180000 AS size, COUNT(*) AS rows_n, SUM(n) AS n, MAX(worst) AS worst FROM (
        SELECT *, unnest(range(rt // 60000 * 60000 - 120000, rt // 60000 * 60000 + 1, 60000)) AS ws FROM (
          SELECT t // 60000 * 60000 + 59999 AS rt, service, COUNT(*) AS n, MAX(latency) AS worst FROM ev GROUP BY ALL))
      GROUP BY ws`,
    key: () => "[]",
  },
  per_second: {
    sql: `SELECT t // 1000 * 1000 AS ws, 1000 AS size, service, COUNT(*) AS n FROM ev GROUP BY ALL`,
    key: (r) => String(r.service),
  },
  legacy_cascade: {
    sql: `SELECT rt // 120000 * 120000 AS ws, 120000 AS size, COUNT(*) AS groups_n, SUM(n) AS n FROM (
        SELECT t // 30000 * 30000 + 29999 AS rt, endpoint, COUNT(*) AS n FROM ev GROUP BY ALL)
      GROUP BY ALL`,
    key: () => "[]",
  },
  by_status: {
    // the events whose status is NULL are a group of their own, as in Flink (and DuckDB): its key text is ""
    sql: `SELECT t // 180000 * 180000 AS ws, size, status, COUNT(*) AS n, MAX(latency) - MIN(latency) AS spread
      FROM (SELECT *, unnest([60000, 120000, 180000]) AS size FROM ev)
      WHERE t < t // 180000 * 180000 + size
      GROUP BY ALL`,
    key: (r) => (r.status === null ? "" : String(r.status)),
  },
};

/** Window Top-N in DuckDB: one row per rank (ties broken, as Panes breaks them, by the row's columns in order). */
const TOP_N = `SELECT ws, service, endpoint, latency, t, rownum FROM (
    SELECT t // 60000 * 60000 AS ws, service, endpoint, latency, t,
      ROW_NUMBER() OVER (PARTITION BY t // 60000, service ORDER BY latency DESC, endpoint, service, endpoint, latency, t) AS rownum
    FROM ev WHERE latency IS NOT NULL)
  WHERE rownum <= 3 ORDER BY ws, service, rownum`;

/** Window Top-N over a view's rows (a cascade): each 3 minutes' two per-minute rows with the most requests. */
const TOP_N_OF_ROWS = `SELECT ws, service, n, rt, rownum FROM (
    SELECT rt // 180000 * 180000 AS ws, service, n, rt,
      ROW_NUMBER() OVER (PARTITION BY rt // 180000 ORDER BY n DESC, service, rt) AS rownum
    FROM (SELECT t // 60000 * 60000 + 59999 AS rt, service, COUNT(*) AS n FROM ev GROUP BY ALL))
  WHERE rownum <= 2 ORDER BY ws, rownum`;

/**
 * Window Top-N after a window aggregation in DuckDB: the aggregation, then ROW_NUMBER() per window and
 * partition (ties broken, as Panes breaks them, by the key: the JSON array of the GROUP BY columns).
 */
const RANKED: Record<string, { sql: string; partition: string[]; size: number }> = {
  top_endpoints: {
    sql: `SELECT ws, service, endpoint, n, worst, ROW_NUMBER() OVER (PARTITION BY ws, service ORDER BY n DESC, k) AS rownum FROM (
        SELECT ws, service, endpoint, COUNT(*) AS n, MAX(latency) AS worst, '["' || service || '","' || endpoint || '"]' AS k
        FROM (SELECT *, unnest(range(t // 30000 * 30000 - 90000, t // 30000 * 30000 + 1, 30000)) AS ws FROM ev) GROUP BY ALL)
      QUALIFY rownum <= 2 ORDER BY ws, service, rownum`,
    partition: ["service"],
    size: 120_000,
  },
  runner_up: {
    sql: `SELECT ws, service, n, ROW_NUMBER() OVER (PARTITION BY ws ORDER BY n DESC, service) AS rownum FROM (
        SELECT t // 60000 * 60000 AS ws, service, COUNT(*) AS n FROM ev GROUP BY ALL)
      QUALIFY rownum > 1 AND rownum <= 2 ORDER BY ws, rownum`,
    partition: [],
    size: 60_000,
  },
  // a rank offset past the rows of the seconds that saw fewer than three services: no row, as in DuckDB (and Flink)
  third_service: {
    sql: `SELECT ws, service, n, ROW_NUMBER() OVER (PARTITION BY ws ORDER BY n DESC, service) AS rownum FROM (
        SELECT t // 1000 * 1000 AS ws, service, COUNT(*) AS n FROM ev GROUP BY ALL)
      QUALIFY rownum > 2 AND rownum <= 3 ORDER BY ws, rownum`,
    partition: [],
    size: 1_000,
  },
  // a Window Top-N of a cascade: the view's rows regrouped in their window, ranked (ties by the key's text)
  top_counts: {
    sql: `SELECT ws, n, services, ROW_NUMBER() OVER (PARTITION BY ws ORDER BY services DESC, CAST(n AS VARCHAR)) AS rownum FROM (
        SELECT ws, n, COUNT(*) AS services FROM (SELECT t // 1000 * 1000 AS ws, service, COUNT(*) AS n FROM ev GROUP BY ALL) GROUP BY ALL)
      QUALIFY rownum <= 2 ORDER BY ws, rownum`,
    partition: [],
    size: 1_000,
  },
  worst_pairs: {
    sql: `SELECT ws, service, endpoint, worst, ROW_NUMBER() OVER (PARTITION BY ws ORDER BY worst DESC NULLS LAST, k) AS rownum FROM (
        SELECT t // 60000 * 60000 AS ws, service, endpoint, MAX(latency) AS worst, '["' || service || '","' || endpoint || '"]' AS k
        FROM ev GROUP BY ALL)
      QUALIFY rownum <= 3 ORDER BY ws, rownum`,
    partition: [],
    size: 60_000,
  },
};

/** The selected values each reference row stands for, as Panes' results carry them. */
function expectedValues(pipeline: string, r: Record<string, unknown>): Record<string, unknown> {
  const start = new Date(Number(r.ws)).toISOString();
  const end = new Date(Number(r.ws) + Number(r.size)).toISOString();
  const { ws: _ws, size: _size, ...rest } = r;
  if (pipeline === "legacy") return { service: r.service, wstart: start, wend: end, n: r.n, lat: r.lat };
  if (pipeline === "spans") {
    const iso = (ms: unknown) => new Date(Number(ms)).toISOString();
    const window_time = iso(Number(r.ws) + Number(r.size) - 1);
    return {
      window_start: start,
      window_end: end,
      window_time,
      service: r.service,
      first_seen: iso(r.first_seen),
      last_seen: iso(r.last_seen),
      one: 1,
    };
  }
  if (pipeline === "visits") return { user_id: r.user_id, s: start, e: end, n: r.n };
  if (pipeline === "slow_by_service") return { svc: r.svc, window_start: start, n: r.n, worst: r.worst };
  if (pipeline === "per_minute")
    return { rowtime: new Date(Number(r.ws) + Number(r.size) - 1).toISOString(), service: r.service, n: r.n, worst: r.worst };
  if (pipeline === "legacy_cascade") return { ws: start, groups_n: r.groups_n, n: r.n };
  return { window_start: start, window_end: end, ...rest };
}

/** A small, seeded pseudo-random sequence (the events must be the same on every run). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

interface RequestEvent {
  service: string;
  endpoint: string;
  status?: number | null;
  latency?: number;
  user_id?: string;
  ts: string | number;
}

function generate(count: number): RequestEvent[] {
  const next = random(22);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)] as T;
  const start = Date.parse("2026-05-04T00:00:00Z");
  const events: RequestEvent[] = [];
  for (let i = 0; i < count; i++) {
    // in order but for up to 3 s of disorder: under the 5 s watermark bound, nothing is late
    const t = start + i * 150 + Math.floor(next() * 3000);
    const status = pick([200, 200, 200, 404, 500, 503, null, undefined]);
    const event: RequestEvent = {
      service: pick(["api", "web", "batch"]),
      endpoint: pick(["/a", "/b", "/c"]),
      ts: next() < 0.5 ? new Date(t).toISOString() : t,
    };
    if (status !== undefined) event.status = status;
    if (next() < 0.9) event.latency = Math.round(next() * 2_000_000) / 1_000_000;
    if (next() < 0.95) event.user_id = `u${Math.floor(next() * 40)}`;
    events.push(event);
  }
  return events;
}

async function reference(events: readonly RequestEvent[]): Promise<Map<string, Record<string, unknown>>> {
  const db = await DuckDBInstance.create(":memory:");
  const connection = await db.connect();
  try {
    await connection.run("CREATE TABLE ev (service VARCHAR, endpoint VARCHAR, status INTEGER, latency DOUBLE, user_id VARCHAR, t BIGINT)");
    const text = (v: string | undefined) => (v === undefined ? "NULL" : `'${v.replaceAll("'", "''")}'`);
    const rows = events.map(
      (e) =>
        `(${text(e.service)}, ${text(e.endpoint)}, ${e.status ?? "NULL"}, ${e.latency ?? "NULL"}, ${text(e.user_id)}, ${typeof e.ts === "number" ? e.ts : Date.parse(e.ts)})`,
    );
    await connection.run(`INSERT INTO ev VALUES ${rows.join(", ")}`);
    const expected = new Map<string, Record<string, unknown>>();
    for (const [pipeline, { sql, key }] of Object.entries(REFERENCE)) {
      const reader = await connection.runAndReadAll(sql);
      for (const raw of reader.getRowObjectsJS()) {
        const row = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : v]));
        const start = Number(row.ws);
        expected.set(`${pipeline}/${key(row)}/${start}/${start + Number(row.size)}`, expectedValues(pipeline, row));
      }
    }
    for (const [pipeline, { sql, partition, size }] of Object.entries(RANKED)) {
      for (const raw of (await connection.runAndReadAll(sql)).getRowObjectsJS()) {
        const row = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : v]));
        const start = Number(row.ws);
        const window_start = new Date(start).toISOString();
        const window_end = new Date(start + size).toISOString();
        const partitionValues = partition.map((c) => row[c]);
        // every partitioned ranking here is by one column of a composite key: keyed by the JSON array
        const key = JSON.stringify(partitionValues);
        const id = `${pipeline}/${key}/${start}/${start + size}`;
        const ranking = expected.get(id) ?? {
          window_start,
          window_end,
          ...Object.fromEntries(partition.map((c) => [c, row[c]])),
          rows: [],
        };
        const { ws: _ws, rownum, ...values } = row;
        (ranking.rows as unknown[]).push({ window_start, window_end, ...values, rownum });
        expected.set(id, ranking);
      }
    }
    for (const raw of (await connection.runAndReadAll(TOP_N)).getRowObjectsJS()) {
      const start = Number(raw.ws);
      const id = `slowest/${raw.service}/${start}/${start + 60_000}`;
      const window = expected.get(id) ?? {
        window_start: new Date(start).toISOString(),
        window_end: new Date(start + 60_000).toISOString(),
        service: raw.service,
        rows: [],
      };
      (window.rows as unknown[]).push({
        window_start: new Date(start).toISOString(),
        window_end: new Date(start + 60_000).toISOString(),
        service: raw.service,
        endpoint: raw.endpoint,
        latency: raw.latency,
        ts: new Date(Number(raw.t)).toISOString(),
        rownum: Number(raw.rownum),
      });
      expected.set(id, window);
    }
    for (const raw of (await connection.runAndReadAll(TOP_N_OF_ROWS)).getRowObjectsJS()) {
      const start = Number(raw.ws);
      const bounds = { window_start: new Date(start).toISOString(), window_end: new Date(start + 180_000).toISOString() };
      const id = `busiest_minutes/[]/${start}/${start + 180_000}`;
      const window = expected.get(id) ?? { ...bounds, rows: [] };
      (window.rows as unknown[]).push({
        ...bounds,
        service: raw.service,
        n: Number(raw.n),
        rowtime: new Date(Number(raw.rt)).toISOString(),
        rownum: Number(raw.rownum),
      });
      expected.set(id, window);
    }
    return expected;
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

/** APPROX_PERCENTILE's DDSketch: within its relative accuracy (1%) of the exact quantile. */
function withinSketchAccuracy(actual: unknown, expected: unknown): boolean {
  return (
    typeof actual === "number" && typeof expected === "number" && Math.abs(actual - expected) <= 0.01 * Math.abs(expected) * (1 + 1e-9)
  );
}

/** Equal, doubles within a relative 1e-9 (the two engines add in different orders). */
function close(actual: unknown, expected: unknown): boolean {
  if (typeof actual === "number" && typeof expected === "number")
    return Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected));
  if (Array.isArray(expected)) {
    // rows of values: equal column for column, doubles within the tolerance
    if (!Array.isArray(actual) || actual.length !== expected.length) return false;
    return expected.every((row, i) => {
      const got = actual[i] as Record<string, unknown>;
      const want = row as Record<string, unknown>;
      return (
        JSON.stringify(Object.keys(got)) === JSON.stringify(Object.keys(want)) && Object.keys(want).every((k) => close(got[k], want[k]))
      );
    });
  }
  return actual === expected;
}

describe("Flink SQL pipelines against DuckDB", () => {
  const events = generate(4000);
  const expected = reference(events);

  for (const faults of [undefined, new Chaos(0.2, 22)]) {
    it(`give DuckDB's rows, value for value, through panes replay${faults ? ", under injected faults (crashes, redeliveries, overlapping units)" : ""}`, async () => {
      // Prepare
      const dir = await mkdtemp(join(tmpdir(), "panes-sql-reference-"));
      const input = join(dir, "events.jsonl");
      const file = join(dir, "requests.sql");
      await writeFile(input, events.map((e) => JSON.stringify(e)).join("\n"));
      await writeFile(file, SQL);

      // Act
      const summary = await replay({
        pipelines: await loadPipelinesFile(file),
        input,
        shards: 2,
        endpoints: emulatorEndpoints(),
        batchSize: 250,
        ...(faults ? { chaos: faults } : {}),
      });

      // Assess
      const rows = await expected;
      const actual = new Map<string, WindowResult>();
      for (const r of summary.results) actual.set(`${r.pipeline}/${r.key}/${r.start}/${r.end}`, r);
      expect(rows.size).toBeGreaterThan(150);
      // the session pipelines cut many sessions, most of several events
      for (const pipeline of ["user_sessions", "bursts"]) {
        const cut = [...rows].filter(([id]) => id.startsWith(`${pipeline}/`)).map(([, values]) => Number(values.n));
        expect(cut.length, pipeline).toBeGreaterThan(200);
        expect(cut.filter((n) => n > 1).length, pipeline).toBeGreaterThan(cut.length / 2);
      }
      if (faults) expect(faults.total).toBeGreaterThan(20);
      expect([...actual.keys()].sort()).toEqual([...rows.keys()].sort());
      const wrong: string[] = [];
      for (const [id, values] of rows) {
        const got = actual.get(id)?.values ?? {};
        expect(Object.keys(got)).toEqual(Object.keys(values));
        for (const [name, value] of Object.entries(values))
          if (!(name === "p90_ms" ? withinSketchAccuracy(got[name], value) : close(got[name], value)))
            wrong.push(`${id} ${name}: got ${JSON.stringify(got[name])}, DuckDB ${JSON.stringify(value)}`);
      }
      expect(wrong).toEqual([]);
      // the events whose status is NULL were counted in their own group, none dead-lettered
      expect(events.some((e) => e.status === undefined || e.status === null)).toBe(true);
      expect([...actual.keys()].some((id) => id.startsWith("by_status//"))).toBe(true);
      expect(summary.late).toBe(0);
      expect(summary.deadLettered).toBe(0);
    });
  }
});
