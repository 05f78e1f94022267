// The dashboard's server on a real local stack: what it holds and serves after full and incremental
// reads equals a brute-force computation of the closed windows, dead letters are counted, and the
// HTTP surface (page, script, snapshot, live events) answers only on its own address.
import { mkdtemp, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { QueryCommandOutput } from "@aws-sdk/client-dynamodb";
import { afterEach, describe, expect, it } from "vitest";
import { loadPipelinesFile } from "../../shared/app/pipelines-file.ts";
import { createDynamoDbClient } from "../../shared/aws/clients.ts";
import { parsePipelines } from "../../shared/core/pipelines/parse.ts";
import type { DashboardSnapshot } from "../../tools/dashboard/model.ts";
import { type DashboardServer, startDashboardServer } from "../../tools/dashboard/server.ts";
import { DashboardSource, type DashboardSourceOptions } from "../../tools/dashboard/source.ts";
import { referenceWindows } from "../../tools/local/reference.ts";
import type { LocalStack } from "../../tools/local/stack.ts";
import { sendAndClose, useLocalStack } from "../helpers/local-stack.ts";
import { REPO, runPanes, startPanes } from "../helpers/processes.ts";

const start = useLocalStack("dash");
const T0 = Date.parse("2026-06-01T00:00:00Z");

const pipelines = parsePipelines({
  pipelines: [
    {
      name: "cpu",
      key: "host",
      eventTime: "ts",
      filter: { metric: "cpu" },
      window: { type: "tumbling", size: "1m" },
      aggregates: { avg: { avg: "value", unit: "%" }, peak: { max: "value", unit: "%" }, n: { count: true } },
    },
  ],
});

/** Deterministic events: 8 hosts, one sample every 2 s of event time, a little disorder. */
function events(fromSecond: number, toSecond: number, seed: number): Record<string, unknown>[] {
  let state = seed;
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const out: Record<string, unknown>[] = [];
  for (let s = fromSecond; s < toSecond; s += 2)
    for (let h = 1; h <= 8; h++)
      out.push({ host: `h${h}`, metric: "cpu", ts: T0 + (s - Math.floor(random() * 5)) * 1000, value: Math.round(random() * 1000) / 10 });
  return out;
}

/** A source over the stack's tables that refreshes only when a test asks it to. */
function sourceOptions(stack: LocalStack): DashboardSourceOptions {
  const names = stack.connection.names;
  return {
    dynamodb: stack.dynamodb,
    tables: { stateTable: names.stateTable, resultsTable: names.resultsTable, deadLetterTable: names.deadLetterTable },
    pipelines,
    describe: "test",
    refreshMs: 60_000,
    deadLettersEveryMs: 0,
    fullReadEveryMs: 0,
  };
}

function get(server: DashboardServer, path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
    const url = new URL(path, server.url);
    const req = request(url, { headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"] ?? "", body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** The first server-sent snapshot of /api/events that shows a closed window (the feed is live: the first ones may not). */
function firstWindows(server: DashboardServer, sel: string): Promise<{ snapshot: DashboardSnapshot; events: number }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(`/api/events?sel=${encodeURIComponent(sel)}`, server.url), (res) => {
      let text = "";
      let events = 0;
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        text += chunk;
        for (let end = text.indexOf("\n\n"); end >= 0; end = text.indexOf("\n\n")) {
          const message = text.slice(0, end);
          text = text.slice(end + 2);
          const data = message.match(/^event: snapshot\ndata: (.*)$/m)?.[1];
          if (data === undefined) continue;
          events++;
          const snapshot = JSON.parse(data) as DashboardSnapshot;
          if ((snapshot.pipelines[0]?.latest.length ?? 0) > 0) {
            req.destroy();
            resolve({ snapshot, events });
          }
        }
      });
    });
    req.on("error", reject);
    req.end();
  });
}

describe("dashboard server", () => {
  let server: DashboardServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("holds the newest closed windows exactly as a brute-force computation has them, after full and incremental reads", async () => {
    // Prepare
    const stack = await start(pipelines);
    let hoursLater = 0;
    const source = new DashboardSource({
      ...sourceOptions(stack),
      fullReadEveryMs: 3_600_000, // the second read is incremental, the third (an hour later) full again
      limits: { ends: 10, windows: 60 },
      now: () => Date.now() + hoursLater * 3_600_000,
    });
    const first = events(0, 600, 7);
    const second = events(600, 900, 8);
    const everything = [...first, ...second];
    const all = { top: 50, pipelines: {} };

    // Act
    await sendAndClose(stack, [...first, { metric: "cpu", ts: T0, value: 1 }]); // the last one has no host: dead-lettered
    expect(await source.refresh()).toBeUndefined();
    const afterFirst = source.snapshot(all);
    await sendAndClose(stack, [...second, { host: "h1", metric: "cpu", ts: T0 + 30_000, value: 99 }]); // far too late
    expect(await source.refresh()).toBeUndefined();
    const view = source.snapshot(all).pipelines[0];
    const queried: number[] = []; // the window ends the full re-read fetches
    stack.dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        // the results of a key group for one window end are one item (sort key: the end)
        if (context.commandName === "QueryCommand")
          for (const item of (out.output as QueryCommandOutput).Items ?? [])
            if (item.pk?.S?.startsWith("R#")) queried.push(Number(item.sk?.S));
        return out;
      },
      { step: "initialize", name: "recordQueriedEnds" },
    );
    hoursLater = 1;
    expect(await source.refresh()).toBeUndefined();
    stack.dynamodb.middlewareStack.remove("recordQueriedEnds");
    const afterFullRead = source.snapshot(all).pipelines[0];

    // Assess
    if (!view || view.watermark === undefined) throw new Error("no watermark");
    const closed = referenceWindows(pipelines, everything).filter((w) => w.end <= (view.watermark as number));
    const newestEnds = [...new Set(closed.map((w) => w.end))].sort((a, b) => b - a).slice(0, 10);
    // 8 hosts × 10 ends would be 80 windows: the 60-window bound keeps the 7 newest ends whole
    const kept = closed.filter((w) => w.end >= (newestEnds[6] as number));
    expect(source.snapshot(all).held.windows).toBe(kept.length);
    // the full re-read fetches only the ends the bound lets in, and changes nothing
    expect([...new Set(queried)].sort((a, b) => a - b)).toEqual([...new Set(kept.map((w) => w.end))].sort((a, b) => a - b));
    expect(Math.min(...queried)).toBe(newestEnds[6]);
    expect(afterFullRead?.chart).toEqual(view.chart);
    expect(view.chart.ends).toEqual([...new Set(kept.map((w) => w.end))].sort((a, b) => a - b));
    expect(view.chart.keys.toSorted()).toEqual([...new Set(kept.map((w) => w.key))].sort());
    for (const w of kept) {
      const k = view.chart.keys.indexOf(w.key);
      const i = view.chart.ends.indexOf(w.end);
      expect(view.chart.values[k]?.[i], `${w.key} ${w.end}`).toBeCloseTo(w.values.avg as number, 9);
    }
    // top keys: ranked by the latest window's value
    const newest = kept.filter((w) => w.end === newestEnds[0]);
    expect(view.keys.slice(0, 3)).toEqual(
      newest
        .toSorted((a, b) => (b.values.avg as number) - (a.values.avg as number))
        .slice(0, 3)
        .map((w) => w.key),
    );
    expect(view.latest.map((r) => [r.key, r.end, r.values.peak, r.count])).toEqual(
      kept
        .toSorted((a, b) => b.end - a.end || a.key.localeCompare(b.key, undefined, { numeric: true }))
        .map((w) => [w.key, w.end, w.values.peak, w.count])
        .slice(0, 12),
    );
    expect(view.metrics).toEqual([
      { id: "avg", label: "avg of value", unit: "%" },
      { id: "peak", label: "max of value", unit: "%" },
      { id: "n", label: "count", unit: "events", countsEvents: true },
    ]);
    expect([view.deadLettered, view.late, view.partlyLate, view.reasons]).toEqual([
      1,
      1,
      0,
      [{ reason: 'key field "host" must be a non-empty string or a number', count: 1 }],
    ]);
    // the live screen's line, the same counts
    expect(source.snapshot(all).deadLetters).toBe("dead letters (all pipelines): 1 invalid, 1 late (too late for every window, dropped)");
    expect(afterFirst.pipelines[0]?.deadLettered).toBe(1);
    expect(view.shards.map((s) => s.maxEventTime)).toEqual([Math.max(...everything.map((e) => e.ts as number))]);
    expect(view.progress.watermark).toHaveLength(2);
  });

  it("holds a Window Top-N's rankings as places — the row numbers charted over the window ends, the rows listed with their host — as a brute force ranks them", async () => {
    // Prepare: the top 3 hosts by average CPU of each minute, in Flink SQL
    const dir = await mkdtemp(join(tmpdir(), "panes-dash-top-"));
    const file = join(dir, "top.sql");
    await writeFile(
      file,
      `CREATE TABLE metrics (host STRING, metric STRING, \`value\` DOUBLE, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
  WITH ('connector' = 'kinesis', 'format' = 'json');
INSERT INTO top_hosts
SELECT * FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY avg_cpu DESC) AS rownum
  FROM (SELECT window_start, window_end, host, AVG(\`value\`) AS avg_cpu, COUNT(*) AS n
        FROM TABLE(TUMBLE(TABLE metrics, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
        WHERE metric = 'cpu'
        GROUP BY window_start, window_end, host)
) WHERE rownum <= 3;
INSERT INTO peak_readings
SELECT * FROM (
  SELECT host, \`value\`, window_start, window_end,
    ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY \`value\` DESC) AS rownum
  FROM TABLE(TUMBLE(TABLE metrics, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
  WHERE metric = 'cpu'
) WHERE rownum <= 2;`,
    );
    const ranked = await loadPipelinesFile(file);
    const stack = await start(ranked);
    const source = new DashboardSource({ ...sourceOptions(stack), pipelines: ranked, limits: { ends: 6, windows: 100 } });
    const everything = events(0, 600, 11);

    // Act
    await sendAndClose(stack, everything);
    expect(await source.refresh()).toBeUndefined();
    const [view, peaks] = source.snapshot({ top: 5, pipelines: {} }).pipelines;

    // Assess against a brute force: per closed minute, each host's average, the first 3 by it (then by host)
    if (!view || view.watermark === undefined) throw new Error("no watermark");
    const byWindow = new Map<number, Map<string, number[]>>();
    for (const e of everything) {
      const end = Math.floor((e.ts as number) / 60_000) * 60_000 + 60_000;
      const hosts = byWindow.get(end) ?? new Map<string, number[]>();
      hosts.set(e.host as string, [...(hosts.get(e.host as string) ?? []), e.value as number]);
      byWindow.set(end, hosts);
    }
    const ends = [...byWindow.keys()]
      .filter((end) => end <= (view.watermark as number))
      .sort((a, b) => a - b)
      .slice(-6);
    const places = ends.flatMap((end) =>
      [...(byWindow.get(end) ?? new Map<string, number[]>())]
        .map(([host, values]) => ({ host, avg: values.reduce((a, b) => a + b, 0) / values.length }))
        .sort((a, b) => b.avg - a.avg || (a.host < b.host ? -1 : 1))
        .slice(0, 3)
        .map((row, i) => ({ end, key: `#${i + 1}`, ...row })),
    );
    expect(ends.length).toBe(6);
    expect(view.keyField).toBe("rank");
    expect(view.metrics.map((m) => m.id)).toEqual(["avg_cpu", "n"]);
    expect(view.chart.keys).toEqual(["#1", "#2", "#3"]);
    expect(view.chart.ends).toEqual(ends);
    for (const p of places)
      expect(view.chart.values[view.chart.keys.indexOf(p.key)]?.[ends.indexOf(p.end)], `${p.key} ${p.end}`).toBeCloseTo(p.avg, 9);
    const newestFirst = places.toSorted((a, b) => b.end - a.end || (a.key < b.key ? -1 : 1)).slice(0, 12);
    expect(view.latest.map((r) => [r.key, r.end, r.labels?.host])).toEqual(newestFirst.map((p) => [p.key, p.end, p.host]));
    for (const [i, r] of view.latest.entries()) expect(r.values.avg_cpu).toBeCloseTo(newestFirst[i]?.avg as number, 9);
    // over a window's rows: the two highest readings of each minute, charted by their numbers
    const readings = ends.flatMap((end) =>
      [...(byWindow.get(end) ?? new Map<string, number[]>())]
        .flatMap(([host, values]) => values.map((value) => ({ host, value })))
        .sort((a, b) => b.value - a.value)
        .slice(0, 2)
        .map((row, i) => ({ end, key: `#${i + 1}`, ...row })),
    );
    expect(peaks?.metrics.map((m) => m.id)).toEqual(["value"]);
    expect(peaks?.chart.keys).toEqual(["#1", "#2"]);
    for (const p of readings) expect(peaks?.chart.values[peaks.chart.keys.indexOf(p.key)]?.[ends.indexOf(p.end)]).toBe(p.value);
    expect(peaks?.latest.slice(0, 4).map((r) => [r.key, r.end, r.values.value])).toEqual(
      readings
        .toSorted((a, b) => b.end - a.end || (a.key < b.key ? -1 : 1))
        .slice(0, 4)
        .map((p) => [p.key, p.end, p.value]),
    );
  });

  it("serves the page, its script, snapshots and live events on its own address only", async () => {
    // Prepare
    const stack = await start(pipelines);
    await sendAndClose(stack, events(0, 300, 3));
    const source = new DashboardSource({ ...sourceOptions(stack), refreshMs: 200, deadLettersEveryMs: 1000, fullReadEveryMs: 1000 });

    // Act
    server = await startDashboardServer({ source, port: 0 });
    const sel = JSON.stringify({ top: 2, pipelines: { cpu: { metric: "peak" } } });
    const { snapshot: live } = await firstWindows(server, sel);
    const page = await get(server, "/");
    const script = await get(server, "/app.js");
    const snapshot = await get(server, `/api/snapshot?sel=${encodeURIComponent(sel)}`);
    const badSelection = await get(server, `/api/snapshot?sel=${encodeURIComponent('{"top":0}')}`);
    const otherHost = await get(server, "/", { host: "attacker.example:80" });
    const missing = await get(server, "/nope");

    // Assess
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<script type="module" src="/app.js">');
    expect([script.status, script.type]).toEqual([200, "text/javascript; charset=utf-8"]);
    expect(script.body.length).toBeGreaterThan(20_000); // uPlot is bundled in
    expect(snapshot.status).toBe(200);
    const body = JSON.parse(snapshot.body) as DashboardSnapshot;
    for (const s of [body, live]) {
      expect(s.pipelines[0]?.chart.metric).toBe("peak");
      expect(s.pipelines[0]?.chart.keys).toHaveLength(2);
      expect(s.pipelines[0]?.chart.chosen).toBe("top");
    }
    expect(badSelection).toMatchObject({ status: 400, body: expect.stringContaining("sel: top") });
    expect(otherHost.status).toBe(421);
    expect(missing.status).toBe(404);
  });

  it("refuses live connections beyond its limit and builds one snapshot per refresh for all pages showing the same view", async () => {
    // Prepare: a server for at most 3 live pages; count the snapshots it builds
    const stack = await start(pipelines);
    await sendAndClose(stack, events(0, 300, 3));
    const source = new DashboardSource({ ...sourceOptions(stack), refreshMs: 100, deadLettersEveryMs: 1000, fullReadEveryMs: 1000 });
    const build = source.snapshot.bind(source);
    let built = 0;
    source.snapshot = (selection) => {
      built++;
      return build(selection);
    };
    server = await startDashboardServer({ source, port: 0, maxLiveConnections: 3 });
    const sel = encodeURIComponent(JSON.stringify({ top: 2, pipelines: {} }));
    const open: ReturnType<typeof request>[] = [];
    const statuses: number[] = [];
    const live = server;

    // Act: four pages open the live feed; then one refresh
    for (let i = 0; i < 4; i++) {
      await new Promise<void>((resolve) => {
        const req = request(new URL(`/api/events?sel=${sel}`, live.url), (res) => {
          statuses.push(res.statusCode ?? 0);
          res.resume();
          resolve();
        });
        req.end();
        open.push(req);
      });
    }
    // Listeners run in the order they came: this one runs after every page's, so two calls bracket a refresh.
    const counts: number[] = [];
    await new Promise<void>((resolve) => {
      const stop = source.onRefresh(() => {
        counts.push(built);
        if (counts.length < 2) return;
        stop();
        resolve();
      });
    });
    const perRefresh = (counts[1] ?? 0) - (counts[0] ?? 0);
    for (const req of open) req.destroy();

    // Assess
    expect(statuses).toEqual([200, 200, 200, 503]);
    expect(perRefresh).toBe(1);
  });

  it("keeps the last good data and says why when a refresh fails", async () => {
    // Prepare: a table that does not exist stands for a deployment that cannot be read
    const stack = await start(pipelines);
    const options = sourceOptions(stack);
    await sendAndClose(stack, events(0, 300, 5));
    const source = new DashboardSource(options);
    expect(await source.refresh()).toBeUndefined();
    const good = source.snapshot({ top: 5, pipelines: {} });
    (options.tables as { resultsTable: string }).resultsTable = "no-such-table";

    // Act
    const error = await source.refresh();
    const bad = source.snapshot({ top: 5, pipelines: {} });

    // Assess
    expect(error?.name).toBe("ResourceNotFoundException");
    expect(bad.error).toBe(error?.message);
    expect(bad.pipelines[0]?.latest).toEqual(good.pipelines[0]?.latest);
    expect(good.error).toBeUndefined();
  });

  it("reports a refresh that never answers as failed, and starts the next one afresh", async () => {
    // Prepare: a DynamoDB endpoint that accepts connections and never answers
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const endpoint = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    const source = new DashboardSource({
      dynamodb: createDynamoDbClient({ endpoint, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } }),
      tables: { stateTable: "s", resultsTable: "r" },
      pipelines,
      describe: "test",
      refreshMs: 100,
      refreshTimeoutMs: 300,
      deadLettersEveryMs: 0,
      fullReadEveryMs: 0,
    });
    try {
      // Act
      const first = await source.refresh();
      const second = await source.refresh();

      // Assess
      expect(first?.message).toBe("a refresh took longer than 0.3 s");
      expect(second?.message).toBe("a refresh took longer than 0.3 s");
      expect(source.snapshot({ top: 5, pipelines: {} }).error).toBe("a refresh took longer than 0.3 s");
    } finally {
      silent.close();
      silent.unref();
    }
  });

  it("panes dashboard finds the running local stack and its pipelines file; a busy port stops panes start with the reason", async () => {
    // Prepare
    const cwd = await mkdtemp(join(tmpdir(), "panes-dashboard-cli-"));
    const panes = startPanes(["start", "--no-demo", "--no-dashboard"], cwd);
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const busyPort = (busy.address() as { port: number }).port;
    try {
      await panes.waitFor(/Ctrl-C stops everything/);
      expect(panes.output()).not.toMatch(/Dashboard:/);

      // Act
      const dashboard = startPanes(["dashboard"], cwd);
      const url = (await dashboard.waitFor(/^Dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/m))[1] as string;
      const snapshot = (await (await fetch(new URL("/api/snapshot", url))).json()) as DashboardSnapshot;
      dashboard.child.kill("SIGINT");
      const dashboardExit = await dashboard.exited;
      // the same against an endpoint (LocalStack-style), from elsewhere: tables and pipelines as flags
      const dynamodb = (panes.output().match(/DynamoDB (http:\/\/127\.0\.0\.1:\d+)/) ?? [])[1] as string;
      const viaEndpoint = startPanes(
        [
          "dashboard",
          ...["--pipelines", join(REPO, "examples/demo.pipelines.json")],
          ...["--state-table", "panes-state", "--table", "panes-results", "--dead-letter-table", "panes-dead-letters"],
        ],
        await mkdtemp(join(tmpdir(), "panes-endpoint-")),
        { AWS_ENDPOINT_URL: dynamodb, AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "000000000000", AWS_SECRET_ACCESS_KEY: "x" },
      );
      const endpointUrl = (await viaEndpoint.waitFor(/^Dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/m))[1] as string;
      let viaEndpointSnapshot = (await (await fetch(new URL("/api/snapshot", endpointUrl))).json()) as DashboardSnapshot;
      // until its first refresh is done (it counts dead letters first)
      for (const deadline = Date.now() + 20_000; viaEndpointSnapshot.deadLettersCountedAt === undefined && Date.now() < deadline; )
        viaEndpointSnapshot = (await (await fetch(new URL("/api/snapshot", endpointUrl))).json()) as DashboardSnapshot;
      viaEndpoint.child.kill("SIGINT");
      await viaEndpoint.exited;
      const second = await runPanes(["start", "--no-demo", "--dashboard-port", String(busyPort)], {
        cwd: await mkdtemp(join(tmpdir(), "panes-busy-")),
      });

      // Assess
      expect(snapshot.source).toMatch(/^local stack \(pid \d+\)$/);
      expect(snapshot.pipelines.map((p) => [p.name, p.window])).toEqual([
        ["cpu-avg-5m", "tumbling 5m"],
        ["mem-max-60m", "sliding 1h every 1m"],
      ]);
      expect(dashboardExit.code).toBe(0);
      expect(viaEndpointSnapshot.source).toBe(`endpoint ${dynamodb}`);
      expect(viaEndpointSnapshot.error).toBeUndefined();
      expect(viaEndpointSnapshot.deadLettersCountedAt).toBeGreaterThan(0);
      expect(viaEndpointSnapshot.pipelines.map((p) => p.name)).toEqual(["cpu-avg-5m", "mem-max-60m"]);
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(new RegExp(`panes: the dashboard could not listen on 127\\.0\\.0\\.1:${busyPort}: .*EADDRINUSE`));
    } finally {
      busy.close();
      panes.child.kill("SIGINT");
      await panes.exited;
    }
  });
});
