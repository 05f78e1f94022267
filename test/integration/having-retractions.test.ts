// HAVING with allowed lateness under a Window Top-N, through `panes replay` (the real handlers on the
// emulators): late events make the rows of a fired window stop passing HAVING, one after the other, so
// the window's ranking is given again without them, then retracted when no row is left, then given again
// when a late row passes. The final rankings are a brute force's (HAVING over every accepted event, then
// the first N); the output stream carries each ranking as Flink's retract stream changes it.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadPipelinesFile } from "../../shared/app/pipelines-file.ts";
import type { WindowResult } from "../../shared/core/types.ts";
import { replay } from "../../tools/local/replay.ts";
import { emulatorEndpoints } from "../helpers/emulated.ts";

const SQL = `CREATE TABLE requests (service STRING, latency DOUBLE, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'kinesis', 'format' = 'json');
SET 'table.exec.emit.allow-lateness' = '1 min';
INSERT INTO top_busy
SELECT * FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY total DESC) AS rownum
  FROM (
    SELECT window_start, window_end, service, SUM(latency) AS total
    FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '10' SECOND))
    GROUP BY window_start, window_end, service
    HAVING SUM(latency) > 0
  )
) WHERE rownum <= 2;
`;

const T0 = Date.parse("2026-03-01T00:00:00Z");
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

/** In arrival order: the window [0 s, 10 s) fires at the event of 12 s; the events after it are late for it (within the minute). */
const EVENTS = [
  { service: "a", latency: 5, ts: at(1) },
  { service: "b", latency: 3, ts: at(2) },
  { service: "c", latency: 1, ts: at(3) },
  { service: "e", latency: 1, ts: at(12) },
  { service: "b", latency: -10, ts: at(4) }, // b stops passing: [a, c]
  { service: "c", latency: -5, ts: at(5) }, // c too: [a]
  { service: "a", latency: -6, ts: at(6) }, // no row passes: the ranking is retracted
  { service: "d", latency: 2, ts: at(7) }, // d passes: [d]
  { service: "e", latency: 1, ts: at(25) },
];

/** The brute force: per window, each service's total over every event, those above 0, the first two by total. */
function expectedRankings(): Map<number, { service: string; total: number; rownum: number }[]> {
  const totals = new Map<number, Map<string, number>>();
  for (const e of EVENTS) {
    const start = Math.floor((Date.parse(e.ts) - T0) / 10_000) * 10_000 + T0;
    const byService = totals.get(start) ?? new Map<string, number>();
    byService.set(e.service, (byService.get(e.service) ?? 0) + e.latency);
    totals.set(start, byService);
  }
  const rankings = new Map<number, { service: string; total: number; rownum: number }[]>();
  for (const [start, byService] of totals) {
    const rows = [...byService]
      .filter(([, total]) => total > 0)
      .sort(([s, a], [t, b]) => b - a || (s < t ? -1 : 1))
      .slice(0, 2)
      .map(([service, total], i) => ({ service, total, rownum: i + 1 }));
    if (rows.length > 0) rankings.set(start, rows);
  }
  return rankings;
}

const servicesOf = (r: WindowResult) => ((r.values.rows ?? []) as unknown as { service: string }[]).map((row) => row.service);

describe("HAVING with allowed lateness under a Window Top-N", () => {
  it("ranks the rows that pass, gives the ranking again as late rows stop (or start) passing, and retracts it when none is left", async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), "panes-having-"));
    const file = join(dir, "top.sql");
    const input = join(dir, "events.jsonl");
    await writeFile(file, SQL);
    await writeFile(input, EVENTS.map((e) => JSON.stringify(e)).join("\n"));

    // Act: one event per batch, so that the watermark moves after each
    const summary = await replay({
      pipelines: await loadPipelinesFile(file),
      input,
      shards: 1,
      endpoints: emulatorEndpoints(),
      batchSize: 1,
      collectOutput: true,
    });

    // Assess: the final rankings are the brute force's
    const expected = expectedRankings();
    expect(summary.results.map((r) => [r.start, servicesOf(r)]).sort(([a], [b]) => Number(a) - Number(b))).toEqual(
      [...expected].sort(([a], [b]) => a - b).map(([start, rows]) => [start, rows.map((row) => row.service)]),
    );
    for (const r of summary.results) {
      const rows = r.values.rows as unknown as { service: string; total: number; rownum: number }[];
      expect(rows.map(({ service, total, rownum }) => ({ service, total, rownum }))).toEqual(expected.get(r.start));
    }
    expect(summary.late).toBe(0);

    // the output stream: the first window's ranking as each late event changed it, versions rising
    const published = summary.published as unknown as WindowResult[];
    const first = published.filter((r) => r.pipeline === "top_busy" && r.start === T0);
    expect(first.map((r) => (r.retracted ? "retracted" : servicesOf(r).join(",")))).toEqual(["a,b", "a,c", "a", "retracted", "d"]);
    expect(first.map((r) => r.version)).toEqual([...first.map((r) => r.version)].sort((a, b) => a - b));
    expect(new Set(first.map((r) => r.version)).size).toBe(first.length);
  });
});
