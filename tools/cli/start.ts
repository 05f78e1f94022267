// `panes start` (npm start): the local pipeline with a demo producer and a live view of closed windows.

import { appendFile, writeFile } from "node:fs/promises";
import { loadPipelinesFile } from "../../shared/app/pipelines-file.ts";
import { readWatermarks } from "../../shared/aws/dynamodb/checkpoints.ts";
import { listDeadLetters } from "../../shared/aws/dynamodb/dead-letters.ts";
import { resultsOfRecord } from "../../shared/aws/outputs/kinesis.ts";
import { type DeadLetterCounts, describeDeadLetterCounts } from "../../shared/core/dead-letters.ts";
import { keyLabel } from "../../shared/core/pipelines/schema.ts";
import type { WindowResult } from "../../shared/core/types.ts";
import { formatDuration } from "../../shared/core/windows/duration.ts";
import { startDashboardServer } from "../dashboard/server.ts";
import { CADENCE, DashboardSource, describeWindow } from "../dashboard/source.ts";
import { Chaos } from "../local/chaos.ts";
import { startDemoProducer } from "../local/demo.ts";
import type { KinesisEmulator } from "../local/emulators.ts";
import { counted } from "../local/plural.ts";
import { fitScreen, redraw, type ScreenBlock } from "../local/screen.ts";
import { startLocalStack } from "../local/stack.ts";
import { tailStream } from "../local/tail.ts";
import { CliError, LOCAL_STATE_FILE, runCommand } from "./connection.ts";
import { countDeadLetters } from "./dead-letters.ts";
import { formatNumber, formatValue, printable } from "./results.ts";

const ON_FAILURE_FILE = ".panes/on-failure.jsonl";

const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);

function windowLine(r: WindowResult): string {
  const values = Object.entries(r.values)
    .map(([k, v]) => (typeof v === "number" ? `${k}=${formatNumber(v)}` : `${k}(${formatValue(v)})`))
    .join(" ");
  return `${r.pipeline}  ${printable(r.key)}  [${new Date(r.start).toISOString()}, ${new Date(r.end).toISOString()})  ${values}  events=${r.count}${r.version > 1 ? `  v${r.version}` : ""}${r.final === false ? "  (early)" : ""}${r.retracted ? "  (retracted: HAVING no longer holds)" : ""}`;
}

/** How far back the demo's event clock starts: at 300× it reaches wall time after 2.4 minutes. */
const DEMO_HISTORY_MS = 12 * 3_600_000;

/**
 * What `npm start` keeps. The emulators hold everything in memory and never expire anything, so the
 * local stack bounds it as AWS would, with shorter periods: DynamoDB's TTL (a sweeper), Kinesis's
 * retention (kinesalite trimmed). Memory then follows the event rate, not the time running.
 */
export const START_RETENTION = {
  resultsSeconds: 86_400,
  deadLettersSeconds: 86_400,
  tombstonesMs: 3_600_000,
  logSeconds: 3_600,
  sweepEveryMs: 30_000,
  streamMs: 5 * 60_000,
  emulatorHeapMb: 128,
} as const;

export function runStart(options: {
  pipelines: string;
  kinesis: KinesisEmulator;
  shards: number;
  demo: boolean;
  speed: number;
  hosts: number;
  dashboard: boolean;
  dashboardPort: number;
}) {
  return runCommand(async () => {
    const pipelines = await loadPipelinesFile(options.pipelines);
    const out = process.stdout;
    out.write(`Starting the local stack (${options.kinesis} + dynalite)…\n`);
    const chaos = process.env.PANES_CHAOS ? new Chaos(Number(process.env.PANES_CHAOS), Date.now() & 0x7fffffff) : undefined;
    const stack = await startLocalStack({
      chaos,
      pipelines,
      kinesisEmulator: options.kinesis,
      endpoint: process.env.AWS_ENDPOINT_URL,
      shards: options.shards,
      stateFile: LOCAL_STATE_FILE,
      pipelinesFile: options.pipelines,
      mapping: { batchSize: 500, maximumBatchingWindowMs: 200 },
      watermarkIntervalMs: 1000,
      closeOnIngestMs: 200,
      retention: START_RETENTION,
      // Lambda's on-failure destination: batches that exhausted their retries, as metadata.
      onFailure: (failure) => {
        process.stderr.write(`on-failure destination: ${JSON.stringify(failure.KinesisBatchInfo)} (also in ${ON_FAILURE_FILE})\n`);
        void appendFile(ON_FAILURE_FILE, `${JSON.stringify(failure)}\n`).catch(() => undefined);
      },
    });
    const c = stack.connection;
    out.write(
      `Kinesis ${c.kinesisEndpoint}  stream ${c.names.sourceStream} (${counted(options.shards, "shard")}), output stream ${c.names.outputStream}\n`,
    );
    out.write(`DynamoDB ${c.dynamodbEndpoint}  tables ${c.names.stateTable}, ${c.names.resultsTable}, ${c.names.deadLetterTable}\n`);
    for (const p of pipelines)
      out.write(`Pipeline ${p.name}: ${describeWindow(p)} by ${keyLabel(p)}, outOfOrderness ${formatDuration(p.outOfOrderness)}\n`);
    const dashboard = options.dashboard
      ? await startDashboardServer({
          port: options.dashboardPort,
          source: new DashboardSource({
            dynamodb: stack.dynamodb,
            tables: { stateTable: c.names.stateTable, resultsTable: c.names.resultsTable, deadLetterTable: c.names.deadLetterTable },
            pipelines,
            describe: `the local stack (${options.kinesis} + dynalite)`,
            ...CADENCE.local,
          }),
        }).catch(async (error: Error) => {
          await stack.stop();
          throw new CliError(`the dashboard could not listen on 127.0.0.1:${options.dashboardPort}: ${error.message}`);
        })
      : undefined;
    if (dashboard) {
      out.write(`Dashboard: ${dashboard.url}\n`);
      // Other commands (and people) find it where they find the endpoints.
      await writeFile(LOCAL_STATE_FILE, JSON.stringify({ ...c, dashboardUrl: dashboard.url }, null, 2));
    }

    // Hours back, at the speed-up: the clock reaches wall time after 12 h / speed (2.4 minutes at 300×).
    const start = Math.floor((Date.now() - DEMO_HISTORY_MS) / 3_600_000) * 3_600_000;
    const demo = options.demo
      ? startDemoProducer(stack.kinesis, {
          streamName: c.names.sourceStream,
          hosts: options.hosts,
          speed: options.speed,
          start,
          sampleEveryMs: 10_000,
          disorderMs: 20_000,
          tickMs: 100,
        })
      : undefined;
    out.write(
      demo
        ? `Demo producer: ${counted(options.hosts, "host")}, cpu and mem every 10 s of event time, clock ${options.speed}× from 12 hours ago until it reaches wall time (a 5-minute window every ${(300_000 / options.speed / 1000).toFixed(1)} s until then; wall time after ${formatDuration(Math.ceil(DEMO_HISTORY_MS / options.speed / 1000) * 1000)}). Ctrl-C stops everything.\n`
        : `No demo producer: write events (JSON lines) to ${c.names.sourceStream} with  npx panes produce FILE  beside this. Ctrl-C stops everything.\n`,
    );

    // The view follows the output stream, as a downstream consumer would: every result version arrives there.
    const latest = new Map<string, Map<string, WindowResult>>(pipelines.map((p) => [p.name, new Map()]));
    const tty = out.isTTY === true;
    const tail = tailStream(stack.kinesis, c.names.outputStream, (data) => {
      for (const result of resultsOfRecord(data) as unknown as WindowResult[]) {
        const windows = latest.get(result.pipeline);
        if (!windows) continue;
        windows.set(`${result.key}/${result.start}`, result);
        if (windows.size > 2000) windows.delete(windows.keys().next().value ?? "");
        if (!tty) out.write(`window ${windowLine(result)}\n`);
      }
    });
    let deadLetters: DeadLetterCounts = { invalid: 0, late: 0, partlyLate: 0 };
    let refreshes = 0;
    let printedDeadLetters = "";
    const refresh = async () => {
      if (!tty) {
        // Not a terminal (a log, a pipe): window lines as they come, and the dead-letter line when it changes.
        if (refreshes++ % 4 !== 0) return;
        const line = describeDeadLetterCounts(countDeadLetters(await listDeadLetters(stack.dynamodb, c.names.deadLetterTable)));
        if (line !== printedDeadLetters) out.write(`${line}\n`);
        printedDeadLetters = line;
        return;
      }
      refreshes++;
      const watermarks = await readWatermarks(
        stack.dynamodb,
        c.names.stateTable,
        pipelines.map((p) => p.name),
      );
      if (refreshes % 4 === 1) {
        deadLetters = countDeadLetters(await listDeadLetters(stack.dynamodb, c.names.deadLetterTable));
      }
      const blocks: ScreenBlock[] = [
        {
          head: [
            `\x1b[1mPanes\x1b[0m local pipeline — Kinesis ${c.kinesisEndpoint} (${options.kinesis}), DynamoDB ${c.dynamodbEndpoint} (dynalite), stream ${c.names.sourceStream} (${counted(options.shards, "shard")})`,
            ...(dashboard ? [`Dashboard: ${dashboard.url}`] : []),
            "",
          ],
          rows: [],
          tail: [],
        },
      ];
      for (const pipeline of pipelines) {
        const wm = watermarks.get(pipeline.name);
        // Closed windows only: early results of open windows are on the output stream (and in non-terminal output).
        const results = [...(latest.get(pipeline.name)?.values() ?? [])].filter((r) => r.final !== false && !r.retracted);
        const ends = [...new Set(results.map((r) => r.end))].sort((a, b) => a - b).slice(-4);
        const keys = [...new Set(results.map((r) => r.key))].sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).slice(0, 20);
        const firstAggregate = pipeline.aggregates[0]?.name ?? "";
        const header = [
          "key".padEnd(8),
          ...ends.map((e) => {
            const r = results.find((x) => x.end === e);
            return `${hhmm(r?.start ?? e)}–${hhmm(e)}`.padStart(13);
          }),
        ];
        blocks.push({
          head: [
            `\x1b[1m${pipeline.name}\x1b[0m  ${describeWindow(pipeline)}, ${firstAggregate} per ${keyLabel(pipeline)}   watermark ${wm === undefined ? "—" : new Date(wm).toISOString().slice(11, 19)}`,
            `  ${header.join(" ")}`,
          ],
          rows: keys.map((key) => {
            const cells = ends.map((e) => {
              const r = results.find((x) => x.key === key && x.end === e);
              return (r ? `${formatValue(r.values[firstAggregate])} (${r.count})` : "").padStart(13);
            });
            return `  ${printable(key).padEnd(8)} ${cells.join(" ")}`;
          }),
          more: (hidden) => `  … and ${counted(hidden, "more key")}`,
          tail: [""],
        });
      }
      const stats = demo?.stats;
      blocks.push({
        head: [
          `events produced ${stats?.produced ?? 0}   event clock ${demo ? new Date(demo.eventClock()).toISOString().slice(0, 19) : "—"}`,
          // the dashboard's header shows this same line; its pipeline panels, each pipeline's share
          describeDeadLetterCounts(deadLetters),
          "Ctrl-C stops everything.  `npx panes results --pipeline NAME` and `npx panes dlq list` work while this runs.",
        ],
        rows: [],
        tail: [],
      });
      out.write(redraw(fitScreen(blocks, out.rows ?? 24, out.columns ?? 80)));
    };

    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      clearInterval(timer);
      out.write(`\n${signal}: stopping the demo producer, the functions and the emulators…\n`);
      await demo?.stop();
      await dashboard?.close();
      await tail.stop();
      await stack.stop();
      if (chaos) out.write(`${chaos.summary()}\n`);
      out.write("Stopped.\n");
    };
    const timer = setInterval(() => {
      void refresh().catch((error) => process.stderr.write(`refresh failed: ${(error as Error).message}\n`));
    }, 1000);
    await new Promise<void>((resolve) => {
      const onSignal = (signal: NodeJS.Signals) => {
        void stop(signal).then(resolve, resolve);
      };
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
    });
  });
}
