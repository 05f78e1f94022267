// The dashboard's window store against a brute-force model: whatever results arrive, in whatever order
// and versions, it holds the highest final version of each window of the newest ends, within its bounds;
// a window whose highest version is a retraction (HAVING) holds no row.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadPipelinesFile } from "../../shared/app/pipelines-file.ts";
import type { WindowResult } from "../../shared/core/types.ts";
import { metricsOf, ProgressRecorder, partitionLabel, rankingPlaces, rankingShapeOf, WindowStore } from "../../tools/dashboard/store.ts";

const resultArb = fc.record({
  key: fc.constantFrom("a", "b", "c", "d", "e"),
  slot: fc.integer({ min: 0, max: 30 }),
  version: fc.integer({ min: 1, max: 4 }),
  final: fc.boolean(),
  value: fc.integer({ min: -1000, max: 1000 }),
});

const toResult = (r: { key: string; slot: number; version: number; final: boolean; value: number }): WindowResult => ({
  pipeline: "p",
  key: r.key,
  start: r.slot * 60_000,
  end: (r.slot + 1) * 60_000,
  values: { v: r.value, q: { p50: r.value / 2, p99: r.value } },
  count: r.version,
  version: r.version,
  firedAt: 0,
  final: r.final,
  // a version is a retraction or not whatever the order it arrives in
  ...((r.slot + r.version) % 3 === 0 ? { retracted: true as const } : {}),
});

describe("dashboard window store", () => {
  it("keeps the highest final version of each window of the newest ends, and no more than its bounds", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(resultArb, { maxLength: 40 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 40 }),
        (batches, ends, windows) => {
          // Act
          const store = new WindowStore({ ends, windows });
          for (const batch of batches) store.add(batch.map(toResult));

          // Assess against the model: best final version per window, then newest ends while they fit whole
          const best = new Map<string, WindowResult>();
          for (const r of batches.flat().map(toResult)) {
            if (!r.final) continue;
            const id = `${r.key}/${r.end}`;
            const held = best.get(id);
            if (!held || r.version > held.version) best.set(id, r);
          }
          for (const [id, r] of best) if (r.retracted) best.delete(id);
          // eviction happens per batch, so a window evicted earlier is not brought back by an older end later:
          // compare with the model only when everything came in one batch
          if (batches.length === 1) {
            const byEnd = [...new Set([...best.values()].map((r) => r.end))].sort((a, b) => b - a).slice(0, ends);
            let total = 0;
            const keptEnds = new Set<number>();
            let cutAt: number | undefined;
            for (const end of byEnd) {
              const n = [...best.values()].filter((r) => r.end === end).length;
              if (total + n > windows && total > 0) {
                cutAt = Math.min(...keptEnds);
                break;
              }
              total += n;
              keptEnds.add(end);
            }
            const expected = [...best.values()].filter((r) => keptEnds.has(r.end));
            expect(store.size).toBe(expected.length);
            expect(store.cutAt).toBe(cutAt);
            // the table's newest windows: by end, newest first, then key
            const sorted = expected.sort((x, y) => y.end - x.end || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
            for (const n of [1, 3, 7])
              expect(store.latest(n).map((r) => `${r.key}/${r.end}`)).toEqual(sorted.slice(0, n).map((r) => `${r.key}/${r.end}`));
            const chart = store.chart("v", ["a", "b", "c", "d", "e"], "viewer");
            for (const r of expected) expect(chart.values["abcde".indexOf(r.key)]?.[chart.ends.indexOf(r.end)]).toBe(r.values.v);
            expect(store.chart("q.p99", ["a"], "viewer").values[0]?.filter((v) => v !== null)).toEqual(
              expected
                .filter((r) => r.key === "a")
                .sort((x, y) => x.end - y.end)
                .map((r) => r.values.v),
            );
          }
          // the bounds hold after any sequence: at most `ends` ends, and `windows` windows unless one end alone has more
          const heldEnds = store.chart("v", [], "viewer").ends;
          expect(heldEnds.length).toBeLessThanOrEqual(ends);
          expect(store.size).toBeLessThanOrEqual(Math.max(windows, 5));
          // every held window is a final version of it (the best one when nothing was evicted in between)
          const latest = store.latest(1000);
          for (const row of latest) expect(best.has(`${row.key}/${row.end}`)).toBe(true);
          if (batches.length === 1) for (const row of latest) expect(row.version).toBe(best.get(`${row.key}/${row.end}`)?.version);
          // ranking: by the latest window's value, largest first
          const ranked = store.rankKeys("v");
          const lastValue = (key: string) => latest.filter((r) => r.key === key).sort((x, y) => y.end - x.end)[0]?.values.v ?? 0;
          for (let i = 1; i < ranked.length; i++)
            expect(lastValue(ranked[i - 1] as string)).toBeGreaterThanOrEqual(lastValue(ranked[i] as string));
        },
      ),
      {
        numRuns: 300,
        examples: [
          // a retraction (d/9 v3) in a store not yet full, then an older version of that window: still no row
          [
            [
              [
                { key: "d", slot: 9, version: 3, final: true, value: 0 },
                { key: "a", slot: 10, version: 1, final: true, value: 0 },
              ],
              [{ key: "d", slot: 9, version: 1, final: true, value: 0 }],
            ],
            2,
            2,
          ],
        ],
      },
    );
  });

  it("holds a ranking as its places: each window's rows of its highest final version, by row number, whatever arrives in whatever order", async () => {
    // a Window Top-N after an aggregation (the first 3 services by total, from the 2nd: rows #2 and #3)
    const dir = await mkdtemp(join(tmpdir(), "panes-ranking-"));
    const file = join(dir, "top.sql");
    await writeFile(
      file,
      `CREATE TABLE requests (service STRING, latency DOUBLE, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
  WITH ('connector' = 'kinesis', 'format' = 'json');
INSERT INTO top_services
SELECT * FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY total DESC) AS rownum
  FROM (SELECT window_start, window_end, service, SUM(latency) AS total, COUNT(*) AS n
        FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
        GROUP BY window_start, window_end, service)
) WHERE rownum > 1 AND rownum <= 3;`,
    );
    const [pipeline] = await loadPipelinesFile(file);
    const shape = pipeline && rankingShapeOf(pipeline);
    if (shape === undefined) throw new Error("no ranking");
    expect(shape).toMatchObject({ column: "rows", rownum: "rownum", from: 2, n: 3, partition: [] });

    const ranking = fc.record({
      slot: fc.integer({ min: 0, max: 6 }),
      version: fc.integer({ min: 1, max: 5 }),
      final: fc.boolean(),
      rows: fc.array(fc.record({ service: fc.constantFrom("api", "web", "db"), total: fc.integer({ min: 0, max: 99 }) }), { maxLength: 2 }),
    });
    fc.assert(
      fc.property(fc.array(fc.array(ranking, { maxLength: 12 }), { minLength: 1, maxLength: 4 }), (batches) => {
        // the same version of a window is the same ranking, whatever batch it comes in
        const first = new Map<string, (typeof batches)[0][0]>();
        for (const r of batches.flat()) if (!first.has(`${r.slot}/${r.version}`)) first.set(`${r.slot}/${r.version}`, r);
        const resultOf = (r: (typeof batches)[0][0]): WindowResult => {
          const { rows, final } = first.get(`${r.slot}/${r.version}`) ?? r;
          return {
            pipeline: "top_services",
            key: "[]",
            start: r.slot * 60_000,
            end: (r.slot + 1) * 60_000,
            values: {
              window_start: new Date(r.slot * 60_000).toISOString(),
              rows: rows.map((row, i) => ({ window_start: "…", service: row.service, total: row.total, rownum: i + 2 })) as never,
            },
            count: r.version,
            version: r.version,
            firedAt: 0,
            final,
            ...(rows.length === 0 ? { retracted: true as const } : {}),
          };
        };
        // Act
        const store = new WindowStore({ ends: 100, windows: 1000 });
        for (const batch of batches) store.add(batch.map(resultOf).flatMap((r) => rankingPlaces(shape, r)));

        // Assess against the model: per window, the rows of its highest final version, placed #2 and #3
        const best = new Map<number, WindowResult>();
        for (const r of batches.flat().map(resultOf)) if (r.final && (best.get(r.start)?.version ?? 0) < r.version) best.set(r.start, r);
        const expected = [...best.values()]
          .flatMap((r) =>
            (r.values.rows as unknown as { service: string; total: number }[]).map((row, i) => ({
              key: `#${i + 2}`,
              end: r.end,
              labels: { service: row.service },
              values: { total: row.total },
              version: r.version,
            })),
          )
          .sort((a, b) => b.end - a.end || (a.key < b.key ? -1 : 1));
        expect(store.latest(1000).map(({ key, end, labels, values, version }) => ({ key, end, labels, values, version }))).toEqual(
          expected,
        );
      }),
      { numRuns: 300 },
    );
  });

  it("labels each ranking partition with a text of its own: the NULL group as NULL, a text that reads like it quoted", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        if (a !== b) expect(partitionLabel(a)).not.toBe(partitionLabel(b));
      }),
      {
        numRuns: 2000,
        examples: [
          ["", "NULL"],
          ["NULL", "'NULL'"],
          ["'x", "''x"],
        ],
      },
    );
    expect([partitionLabel(""), partitionLabel("NULL"), partitionLabel("eu")]).toEqual(["NULL", "'NULL'", "eu"]);
  });

  it("names metrics with their units, one per quantile", () => {
    expect(
      metricsOf({
        key: "host",
        aggregates: [
          { name: "n", op: "count" },
          { name: "lat", op: "quantiles", field: "ms", q: [0.5, 0.999], accuracy: 0.01, unit: "ms" },
          { name: "users", op: "distinct", field: "user", precision: 12 },
          { name: "cpu", op: "avg", field: "value", unit: "%" },
        ],
      }),
    ).toEqual([
      { id: "n", label: "count", unit: "events", countsEvents: true },
      { id: "lat.p50", label: "p50 of ms", unit: "ms" },
      { id: "lat.p99.9", label: "p99.9 of ms", unit: "ms" },
      { id: "users", label: "distinct of user", unit: "distinct values" },
      { id: "cpu", label: "avg of value", unit: "%" },
    ]);
  });

  it("plots a SQL pipeline's numeric selected columns under their names: aggregates as themselves, expressions by their SQL", async () => {
    const dir = await mkdtemp(join(tmpdir(), "panes-metrics-"));
    const file = join(dir, "errors.sql");
    await writeFile(
      file,
      `CREATE TABLE requests (service STRING, status INT, latency DOUBLE, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
  WITH ('connector' = 'kinesis', 'format' = 'json');
INSERT INTO errors
SELECT window_start, window_end, service, status, COUNT(*) AS n, COUNT(latency) AS timed,
       COUNT(*) FILTER (WHERE status >= 500) AS failed, CAST(COUNT(*) FILTER (WHERE status >= 500) AS DOUBLE) / COUNT(*) AS error_share,
       APPROX_PERCENTILE(latency, 0.99) AS p99, UPPER(service) AS label
FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, service, status;`,
    );
    const [pipeline] = await loadPipelinesFile(file);
    if (pipeline === undefined) throw new Error("no pipeline");

    const metrics = metricsOf(pipeline);

    // the window columns (TIMESTAMP), the key columns (service, and status though an INT) and a STRING are no lines
    expect(metrics.map((m) => m.id)).toEqual(["n", "timed", "failed", "error_share", "p99"]);
    expect(metrics.find((m) => m.id === "n")).toEqual({ id: "n", label: "count", unit: "events", countsEvents: true });
    expect(metrics.find((m) => m.id === "timed")).toEqual({ id: "timed", label: "count of latency", unit: "events" });
    expect(metrics.find((m) => m.id === "error_share")?.label).toMatch(/CAST\(.* AS DOUBLE\) \/ `?n`?/);
  });

  it("keeps a bounded ring of progress samples", () => {
    const ring = new ProgressRecorder(3);
    for (let i = 0; i < 5; i++)
      ring.record(i, i * 10, i === 4 ? [{ shardId: "s2", maxEventTime: 45 }] : [{ shardId: "s1", maxEventTime: i * 11 }]);
    expect(ring.history()).toEqual({
      at: [2, 3, 4],
      watermark: [20, 30, 40],
      shards: [
        { shardId: "s1", maxEventTime: [22, 33, null] },
        { shardId: "s2", maxEventTime: [null, null, 45] },
      ],
    });
  });
});
