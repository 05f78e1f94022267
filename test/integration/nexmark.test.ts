// Nexmark's q5, q7 and q11 (examples/nexmark/*.sql) through `panes replay` — the real handlers on the
// emulators — on events from the Nexmark generator, against DuckDB running the same queries over the
// same bids.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import { replay } from "../../tools/local/replay.ts";
import { type BidEvent, type NexmarkEvent, NexmarkGenerator } from "../../tools/nexmark/generator.ts";
import { compileQuery, NEXMARK_QUERIES } from "../../tools/nexmark/nexmark.ts";
import { emulatorEndpoints } from "../helpers/emulated.ts";

/** 5,000 events at 100 events/s of event time: 50 s, several windows of every kind. */
const EVENTS = 5000;
const GENERATOR = { seed: 7, eventsPerSecond: 100, startTime: Date.parse("2026-03-01T12:00:00Z") };

const iso = (ms: number) => new Date(ms).toISOString();
const num = (v: unknown) => (typeof v === "bigint" ? Number(v) : (v as number));

/** A query's pipelines, from its file in examples/nexmark. */
function pipelinesOf(name: string): Promise<Pipeline[]> {
  return compileQuery(NEXMARK_QUERIES.find((q) => q.name === name) as (typeof NEXMARK_QUERIES)[number]);
}

describe("Nexmark queries through panes replay, against DuckDB", () => {
  let events: NexmarkEvent[];
  let bids: BidEvent[];
  let input: string;
  let db: DuckDBInstance;
  let duck: DuckDBConnection;

  beforeAll(async () => {
    events = [...new NexmarkGenerator(GENERATOR).take(EVENTS)];
    bids = events.filter((e): e is BidEvent => e.event_type === 2);
    const dir = await mkdtemp(join(tmpdir(), "panes-nexmark-"));
    input = join(dir, "events.jsonl");
    await writeFile(input, events.map((e) => JSON.stringify(e)).join("\n"));
    db = await DuckDBInstance.create(":memory:");
    duck = await db.connect();
    await duck.run("CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, t BIGINT, extra VARCHAR)");
    const appender = await duck.createAppender("bid");
    for (const b of bids) {
      appender.appendBigInt(BigInt(b.auction));
      appender.appendBigInt(BigInt(b.bidder));
      appender.appendBigInt(BigInt(b.price));
      appender.appendVarchar(b.channel);
      appender.appendVarchar(b.url);
      appender.appendBigInt(BigInt(Date.parse(b.dateTime)));
      appender.appendVarchar(b.extra);
      appender.endRow();
    }
    appender.closeSync();
  });

  afterAll(() => {
    duck?.closeSync();
    db?.closeSync();
  });

  const rows = async (sql: string) =>
    (await duck.runAndReadAll(sql))
      .getRowObjectsJS()
      .map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : v])));

  async function run(pipelines: Pipeline[]) {
    const summary = await replay({ pipelines, input, shards: 2, endpoints: emulatorEndpoints(), batchSize: 250 });
    // the generator's events are in order: nothing is late, nothing is refused
    expect({ deadLettered: summary.deadLettered, late: summary.late, onFailure: summary.onFailure }).toEqual({
      deadLettered: 0,
      late: 0,
      onFailure: 0,
    });
    return summary.results;
  }

  it("q7 (highest bid, Window Top-N over TUMBLE 10 s over the bid view) gives DuckDB's rows", async () => {
    // Prepare
    const pipelines = await pipelinesOf("q7");

    // Act
    const results = await run(pipelines);

    // Assess: the highest bid of each 10 s tumbling window, ties broken as Panes breaks them (by the row's columns in order)
    const expected = await rows(`SELECT ws, auction, bidder, price, t, extra FROM (
        SELECT t // 10000 * 10000 AS ws, auction, bidder, price, t, extra,
          ROW_NUMBER() OVER (PARTITION BY t // 10000 ORDER BY price DESC, auction, bidder, price, t, extra) AS rownum
        FROM bid)
      WHERE rownum <= 1 ORDER BY ws`);
    expect(expected.length).toBeGreaterThanOrEqual(5);
    const actual = [...results].sort((a, b) => a.start - b.start);
    expect(actual.map((r) => ({ key: r.key, start: r.start, end: r.end }))).toEqual(
      expected.map((e) => ({ key: "[]", start: num(e.ws), end: num(e.ws) + 10_000 })),
    );
    expect(actual.map((r) => r.values)).toEqual(
      expected.map((e) => ({
        window_start: iso(num(e.ws)),
        window_end: iso(num(e.ws) + 10_000),
        rows: [
          {
            auction: e.auction,
            bidder: e.bidder,
            price: e.price,
            dateTime: iso(num(e.t)),
            extra: e.extra,
            window_start: iso(num(e.ws)),
            window_end: iso(num(e.ws) + 10_000),
            rownum: 1,
          },
        ],
      })),
    );
  });

  it("q11 (bidder sessions, Nexmark's q11.sql as written) gives DuckDB's sessions", async () => {
    // Prepare
    const pipelines = await pipelinesOf("q11");

    // Act
    const results = await run(pipelines);

    // Assess: sessions with a 10 s gap per bidder (a bid starts a new session when the bidder's previous one is 10 s or more before it)
    const expected = await rows(`WITH marked AS (
        SELECT bidder, t, CASE WHEN t - lag(t) OVER (PARTITION BY bidder ORDER BY t) < 10000 THEN 0 ELSE 1 END AS starts FROM bid),
      numbered AS (SELECT bidder, t, sum(starts) OVER (PARTITION BY bidder ORDER BY t ROWS UNBOUNDED PRECEDING) AS session FROM marked)
      SELECT bidder, count(*) AS bid_count, min(t) AS s, max(t) + 10000 AS e FROM numbered GROUP BY bidder, session ORDER BY bidder, s`);
    expect(expected.length).toBeGreaterThan(50);
    // sessions of one bid and of many
    expect(expected.some((e) => e.bid_count === 1) && expected.some((e) => num(e.bid_count) > 100)).toBe(true);
    const actual = [...results].sort((a, b) => Number(a.key) - Number(b.key) || a.start - b.start);
    expect(actual.map((r) => ({ key: r.key, start: r.start, end: r.end, values: r.values }))).toEqual(
      expected.map((e) => ({
        key: String(e.bidder),
        start: num(e.s),
        end: num(e.e),
        values: { bidder: e.bidder, bid_count: e.bid_count, starttime: iso(num(e.s)), endtime: iso(num(e.e)) },
      })),
    );
  });

  it("q5 (hot items, Window Top-N over HOP 10 s / 2 s after counting) gives DuckDB's hottest auction", async () => {
    // Prepare
    const pipelines = await pipelinesOf("q5");

    // Act
    const results = await run(pipelines);

    // Assess: each window's most-bid auction (where several tie, the first by its key, the auction id as text, as Panes ranks them)
    const expected = await rows(`SELECT ws, auction, num FROM (
        SELECT ws, auction, num,
          ROW_NUMBER() OVER (PARTITION BY ws ORDER BY num DESC, CAST(auction AS VARCHAR)) AS rownum
        FROM (
          SELECT ws, auction, count(*) AS num
          FROM (SELECT auction, unnest(range(t // 2000 * 2000 - 8000, t // 2000 * 2000 + 1, 2000)) AS ws FROM bid)
          GROUP BY ws, auction))
      WHERE rownum = 1 ORDER BY ws`);
    expect(expected.length).toBeGreaterThan(20);
    // the hot auctions take turns: the leader changes over the run
    expect(new Set(expected.map((e) => e.auction)).size).toBeGreaterThan(1);
    const actual = [...results].sort((a, b) => a.start - b.start);
    expect(actual.map((r) => ({ key: r.key, start: r.start, end: r.end, values: r.values }))).toEqual(
      expected.map((e) => {
        const window = { window_start: iso(num(e.ws)), window_end: iso(num(e.ws) + 10_000) };
        return {
          key: "[]",
          start: num(e.ws),
          end: num(e.ws) + 10_000,
          values: { ...window, rows: [{ auction: e.auction, num: e.num, ...window, rownum: 1 }] },
        };
      }),
    );
  });
});
