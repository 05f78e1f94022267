// The Nexmark query files (examples/nexmark/*.sql) hold Nexmark's queries (q11 as Nexmark writes it, q5
// and q7 as Window Top-N) over its bid view, and compile to the pipelines they should: q5 a ranked
// aggregation over HOP 2 s / 10 s, q7 a top aggregate over TUMBLE 10 s, q11 sessions of 10 s per bidder.
// A file the compiler refuses is the loader's error (npm run nexmark ends with it), not a row of the report.
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { PipelinesConfigError } from "../../shared/core/pipelines/parse.ts";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import { formatExpression } from "../../shared/core/sql/expressions.ts";
import { NEXMARK_DEFAULTS } from "../../tools/nexmark/generator.ts";
import { compileQuery, EXAMPLES_DIR, formatReport, NEXMARK_QUERIES, type NexmarkReport } from "../../tools/nexmark/nexmark.ts";

const flat = (text: string) => text.replace(/\s+/g, " ").trim();
const read = (name: string) => readFile(join(EXAMPLES_DIR, name), "utf8");
/** Where a file's query starts: its INSERT INTO, at the start of a line. */
const queryStart = (text: string) => text.search(/^INSERT INTO /m);

/** Nexmark's q11.sql query, as nexmark-flink/src/main/resources/queries/q11.sql writes it (since 2024-12, `dateTime` quoted). */
const NEXMARK_Q11 = `INSERT INTO nexmark_q11
SELECT
    B.bidder,
    count(*) as bid_count,
    SESSION_START(B.\`dateTime\`, INTERVAL '10' SECOND) as starttime,
    SESSION_END(B.\`dateTime\`, INTERVAL '10' SECOND) as endtime
FROM bid B
GROUP BY B.bidder, SESSION(B.\`dateTime\`, INTERVAL '10' SECOND);`;

/** The flat datagen table's bid columns and watermark, dateTime a bare name as Nexmark's ddl files wrote it until 2024-12. */
const DATAGEN = `CREATE TABLE datagen (
  event_type INT,
  auction BIGINT,
  bidder BIGINT,
  price BIGINT,
  channel STRING,
  url STRING,
  dateTime TIMESTAMP(3),
  extra STRING,
  WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
) WITH (
  'connector' = 'kinesis',
  'format' = 'json'
);`;

/** Nexmark's bid view (ddl_views.sql), its nested ROW's fields flattened. */
const BID_VIEW = `CREATE VIEW bid AS
SELECT auction, bidder, price, channel, url, dateTime, extra FROM datagen WHERE event_type = 2;`;

/** What every query reads: the bids of the datagen table, on its watermark (4 s out of order). */
const OVER_BIDS = {
  eventTime: "dateTime",
  eventTimeUnit: "milliseconds",
  outOfOrderness: 4000,
  allowedLateness: 0,
  columns: {
    event_type: "INT",
    auction: "BIGINT",
    bidder: "BIGINT",
    price: "BIGINT",
    channel: "STRING",
    url: "STRING",
    dateTime: "TIMESTAMP",
    extra: "STRING",
  },
};

async function compiled(name: string): Promise<Pipeline> {
  const query = NEXMARK_QUERIES.find((q) => q.name === name);
  if (query === undefined) throw new Error(`no query ${name}`);
  const pipelines = await compileQuery(query);
  expect(pipelines.map((p) => p.name)).toEqual([`nexmark_${name}`]);
  const [pipeline] = pipelines as [Pipeline];
  expect(pipeline).toMatchObject(OVER_BIDS);
  expect(formatExpression(pipeline.where as NonNullable<Pipeline["where"]>)).toBe("(`event_type` = 2)");
  return pipeline;
}

describe("the Nexmark query files", () => {
  it("are q5, q7 and q11, one file each, all of them in the benchmark's list", async () => {
    // Assess
    expect((await readdir(EXAMPLES_DIR)).sort()).toEqual(["q11.sql", "q5.sql", "q7.sql"]);
    expect(NEXMARK_QUERIES.map((q) => [q.name, q.file])).toEqual([
      ["q5", "q5.sql"],
      ["q7", "q7.sql"],
      ["q11", "q11.sql"],
    ]);
  });

  it("declare the flat datagen table and Nexmark's bid view over it, dateTime a bare name", async () => {
    for (const query of NEXMARK_QUERIES) {
      // Act
      const text = await read(query.file);

      // Assess
      expect(text).toContain(DATAGEN);
      expect(text).toContain(BID_VIEW);
      // the DDL before the query (its comments aside) names dateTime bare
      expect(text.slice(0, queryStart(text)).replace(/^--.*$/gm, "")).not.toMatch(/`dateTime`/);
    }
  });

  it("end with Nexmark's q11 exactly as its q11.sql writes it", async () => {
    // Act
    const text = await read("q11.sql");

    // Assess
    expect(text.slice(queryStart(text)).trimEnd()).toBe(NEXMARK_Q11);
  });

  it("hold q5 and q7 as Window Top-N over the bid view", async () => {
    // Assess
    expect(flat(await read("q5.sql"))).toContain(
      flat(`INSERT INTO nexmark_q5
        SELECT auction, num, window_start, window_end, rownum FROM (
          SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY num DESC) AS rownum
          FROM (
            SELECT window_start, window_end, auction, COUNT(*) AS num
            FROM TABLE(HOP(TABLE bid, DESCRIPTOR(\`dateTime\`), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
            GROUP BY window_start, window_end, auction
          )
        ) WHERE rownum <= 1;`),
    );
    expect(flat(await read("q7.sql"))).toContain(
      flat(`INSERT INTO nexmark_q7
        SELECT * FROM (
          SELECT auction, bidder, price, \`dateTime\`, extra, window_start, window_end,
            ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) AS rownum
          FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(\`dateTime\`), INTERVAL '10' SECOND))
        ) WHERE rownum <= 1;`),
    );
  });
});

describe("the Nexmark queries compile", () => {
  it("q5 to a count per auction over HOP 2 s / 10 s, ranked: the first by num descending of each window", async () => {
    // Act
    const q5 = await compiled("q5");

    // Assess
    expect(q5).toMatchObject({
      key: "auction",
      window: { type: "sliding", size: 10_000, slide: 2000 },
      aggregates: [{ name: "num", op: "count" }],
      rank: {
        n: 1,
        partition: [],
        order: [{ field: "num", desc: true }],
        rownum: "rownum",
        columns: ["auction", "num", "window_start", "window_end", "rownum"],
      },
    });
    expect(q5.aggregates).toHaveLength(1);
  });

  it("q7 to one top aggregate over TUMBLE 10 s: the first bid by price descending of each window", async () => {
    // Act
    const q7 = await compiled("q7");

    // Assess
    expect(q7).toMatchObject({
      key: [],
      window: { type: "tumbling", size: 10_000 },
      aggregates: [
        {
          name: "rows",
          op: "top",
          n: 1,
          fields: ["auction", "bidder", "price", "dateTime", "extra"],
          order: [{ field: "price", desc: true }],
          rownum: "rownum",
          columns: ["auction", "bidder", "price", "dateTime", "extra", "window_start", "window_end", "rownum"],
        },
      ],
    });
    expect(q7.aggregates).toHaveLength(1);
    expect(q7.rank).toBeUndefined();
  });

  it("q11 to a count per bidder over sessions with a 10 s gap, the session's bounds as starttime and endtime", async () => {
    // Act
    const q11 = await compiled("q11");

    // Assess
    expect(q11).toMatchObject({
      key: "bidder",
      window: { type: "session", gap: 10_000 },
      aggregates: [{ name: "bid_count", op: "count" }],
      select: {
        bidder: { kind: "column", name: "bidder" },
        bid_count: { kind: "column", name: "bid_count" },
        starttime: { kind: "column", name: "window_start" },
        endtime: { kind: "column", name: "window_end" },
      },
    });
    expect(q11.aggregates).toHaveLength(1);
    expect(q11.rank).toBeUndefined();
  });

  it("or a file the compiler refuses is the loader's error, one line naming the file, line and column", async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), "panes-nexmark-"));
    const file = join(dir, "q.sql");
    await writeFile(file, `${DATAGEN}\n${BID_VIEW}\nINSERT INTO nexmark_q SELECT auction FROM bid ORDER BY price;\n`);

    // Act
    const error = await compileQuery({ name: "q", file: relative(EXAMPLES_DIR, file), flinkPerCore: 1 }).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(PipelinesConfigError);
    const lines = (error as PipelinesConfigError).lines();
    expect(lines).toHaveLength(1);
    expect(lines[0]?.startsWith(`invalid pipelines in ${file}: line `)).toBe(true);
    expect(lines[0]).toMatch(/: line \d+, column \d+: [^\n]+$/);
  });
});

describe("the nexmark report", () => {
  it("is a row of figures per query, a failed one with dashes and its error below, and the decode loop", () => {
    // Prepare
    const base = { file: "examples/nexmark/x.sql", flinkPerCore: 22_140 };
    const report: NexmarkReport = {
      events: 1000,
      bids: 920,
      eventTimeSeconds: 0.1,
      generator: { ...NEXMARK_DEFAULTS, startTime: 0 },
      shards: 2,
      batchSize: 1000,
      decode: { cpuSeconds: 0.002, eventsPerCoreSecond: 500_000 },
      queries: [
        { ...base, query: "q5", status: "failed", error: "kinesalite exited" },
        {
          ...base,
          query: "q7",
          flinkPerCore: 12_330,
          status: "ran",
          windows: 3,
          deadLettered: 0,
          late: 2,
          onFailure: 0,
          wallSeconds: 12.34,
          cpuSeconds: { handlers: 0.25, ingest: 0.1, process: 0.5, emulators: 0.3 },
          eventsPerCoreSecond: { handlers: 4000, ingest: 10_000, wholeStack: 1250 },
          emulatorPeakMb: 200,
        },
      ],
      wallSeconds: 20,
      processPeakMb: 300,
    };

    // Act
    const text = formatReport(report);

    // Assess
    const rows = text.split("\n").filter((l) => /^(query|q5|q7|decode only) /.test(l));
    expect(rows.map((r) => r.split(/\s{2,}/))).toEqual([
      ["query", "windows", "wall s", "handlers", "whole stack", "ingest", "Flink 1.13"],
      ["q5", "-", "-", "-", "-", "-", "22.1k"],
      ["q7", "3", "12.3", "4,000", "1,250", "10.0k", "12.3k"],
      ["decode only", "500.0k"],
    ]);
    expect(text).toContain("q5: failed: kinesalite exited");
    expect(text).toContain("q7: 0 dead-lettered, 2 late, 0 batches to the on-failure destination");
  });
});
