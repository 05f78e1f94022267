// `npm run nexmark`: Nexmark's q5, q7 and q11 (examples/nexmark/*.sql) through the local stack, as
// `panes replay` runs an input (tools/local/replay.ts: the events put to the emulated stream, delivered
// in batches to the real ingest handler, closed by the real watermark and closer handlers), on events
// from Nexmark's generator (generator.ts), with events per second per core for each query beside a bare
// decode loop over the same records in the same run, and Flink 1.13's published figures per core.
//
// What is measured, per query (emulators started afresh for each, so nothing carries over):
// - handlers: this process's CPU (process.cpuUsage: every thread) from the first ingest invocation to
//   the end of the replay — the ingest, watermark and closer handlers with their SDK calls, and the
//   replay's final read of the results (small). The handlers run in this process, one at a time. Not
//   in it: generating and reading the input, putting it on the stream and the mapping's reads of it
//   (though replay() holds the parsed input until it returns, so the collector marks a larger heap
//   than a Lambda's would: an overstatement, if anything).
// - whole stack: the CPU of every process over the whole replay, this one (the producer, the mapping,
//   the handlers) and the emulators standing in for Kinesis and DynamoDB (child processes, read from
//   /proc).
// - ingest: the ingest handler's own invocations (exact: they run one at a time).
// - decode: JSON.parse of each record's data as the ingest handler receives it (base64), the same
//   records, fastest of three passes: the ceiling for anything that reads JSON events.
// Flink's figures (Nexmark's repository, https://github.com/nexmark/nexmark: its README's revisions of
// 2021-05 to 2024-11, "Flink version: 1.13"; its GUIDE_V1 guide since 2025-03, "1.13 ~ 2.0") are
// Throughput/Cores of 100 million events at 10 million events/s on 8 TaskManagers: q5 22.14 K/s, q7
// 12.33 K/s, q11 39.7 K/s. Flink ran Nexmark's q5 and q7 of the time (joins against the windows'
// maximum), not the Window Top-N forms here, and its source generated the events in the same cores
// (no broker, no JSON); at that rate its 100 million events span about 10 s of event time.
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadPipelinesFile } from "../../shared/app/pipelines-file.ts";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import { type Emulator, startDynalite, startKinesis } from "../local/emulators.ts";
import { replay } from "../local/replay.ts";
import { NEXMARK_DEFAULTS, type NexmarkOptions, nexmarkLines } from "./generator.ts";

export interface NexmarkQuery {
  name: string;
  /** in examples/nexmark */
  file: string;
  /** Flink 1.13, events/s per core (Nexmark's published table) */
  flinkPerCore: number;
}

export const NEXMARK_QUERIES: readonly NexmarkQuery[] = [
  { name: "q5", file: "q5.sql", flinkPerCore: 22_140 },
  { name: "q7", file: "q7.sql", flinkPerCore: 12_330 },
  { name: "q11", file: "q11.sql", flinkPerCore: 39_700 },
];

export const EXAMPLES_DIR = fileURLToPath(new URL("../../examples/nexmark/", import.meta.url));

/** A query's pipelines, from its file in examples/nexmark: loadPipelinesFile's PipelinesConfigError where it does not compile. */
export function compileQuery(query: NexmarkQuery): Promise<Pipeline[]> {
  return loadPipelinesFile(join(EXAMPLES_DIR, query.file));
}

export interface RunOptions {
  events: number;
  /** query names (NEXMARK_QUERIES) */
  queries: readonly string[];
  shards: number;
  batchSize: number;
  generator: Partial<NexmarkOptions>;
}

export const RUN_DEFAULTS: RunOptions = {
  events: 200_000,
  queries: ["q5", "q7", "q11"],
  shards: 2,
  batchSize: 1000,
  generator: {},
};

export interface QueryFigures {
  windows: number;
  deadLettered: number;
  late: number;
  onFailure: number;
  wallSeconds: number;
  cpuSeconds: { handlers: number; ingest: number; process: number; emulators: number | null };
  eventsPerCoreSecond: { handlers: number; ingest: number; wholeStack: number | null };
  /** peak resident memory of the emulators (MB), from /proc */
  emulatorPeakMb: number | null;
}

export type QueryReport =
  | ({ query: string; file: string; status: "ran"; flinkPerCore: number } & QueryFigures)
  | { query: string; file: string; status: "failed"; error: string; flinkPerCore: number };

export interface NexmarkReport {
  events: number;
  bids: number;
  eventTimeSeconds: number;
  generator: NexmarkOptions;
  shards: number;
  batchSize: number;
  decode: { cpuSeconds: number; eventsPerCoreSecond: number };
  queries: QueryReport[];
  wallSeconds: number;
  /** this process's peak resident memory over the whole run (MB) */
  processPeakMb: number;
}

/** Seconds to the millisecond. */
const ms = (seconds: number) => Math.round(seconds * 1000) / 1000;

function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** A process's CPU seconds (user + system, every thread) from /proc/PID/stat; undefined where there is no /proc. */
function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime (fields 14 and 15 of proc(5)), in clock ticks: 100 a second on Linux
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

function peakMb(pid: number): number | undefined {
  try {
    const kb = /^VmHWM:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

function emulatorsCpu(emulators: readonly Emulator[]): number | undefined {
  let sum = 0;
  for (const e of emulators) {
    const s = processCpuSeconds(e.pid);
    if (s === undefined) return undefined;
    sum += s;
  }
  return sum;
}

/** CPU seconds of decoding each record's data (base64, as Lambda delivers it) and JSON.parse: the fastest of `passes`. */
export function decodeLoop(lines: readonly string[], passes = 3): number {
  const data = lines.map((line) => Buffer.from(line).toString("base64"));
  let best = Number.POSITIVE_INFINITY;
  let sink = 0;
  for (let pass = 0; pass < passes; pass++) {
    const start = cpuSeconds();
    for (const d of data) sink += (JSON.parse(Buffer.from(d, "base64").toString("utf8")) as { event_type: number }).event_type;
    best = Math.min(best, cpuSeconds() - start);
  }
  if (sink < 0) throw new Error("unreachable");
  return best;
}

/** One query through the local stack, measured. */
export async function runQuery(
  pipelines: readonly Pipeline[],
  input: string,
  events: number,
  options: Pick<RunOptions, "shards" | "batchSize">,
  progress: (message: string) => void = () => undefined,
): Promise<QueryFigures> {
  const emulators = await Promise.all([startKinesis("kinesalite"), startDynalite()]);
  const [kinesis, dynamodb] = emulators as [Emulator, Emulator];
  try {
    const process0 = cpuSeconds();
    const emulators0 = emulatorsCpu(emulators);
    let handlers0: number | undefined;
    let ingest = 0;
    const summary = await replay({
      pipelines,
      input,
      shards: options.shards,
      batchSize: options.batchSize,
      endpoints: { kinesis: kinesis.endpoint, dynamodb: dynamodb.endpoint },
      // the stack only calls the handler (as Chaos.wrapHandler's wrapper is used)
      wrapIngest: (handler) =>
        (async (event: Parameters<typeof handler>[0], context: Parameters<typeof handler>[1]) => {
          const start = cpuSeconds();
          handlers0 ??= start;
          try {
            return await handler(event, context);
          } finally {
            ingest += cpuSeconds() - start;
          }
        }) as unknown as typeof handler,
      progress,
    });
    const process1 = cpuSeconds();
    const emulators1 = emulatorsCpu(emulators);
    const emulatorCpu = emulators0 === undefined || emulators1 === undefined ? null : emulators1 - emulators0;
    const handlers = process1 - (handlers0 ?? process1);
    const peaks = emulators.map((e) => peakMb(e.pid));
    const rate = (cpu: number) => Math.round(events / cpu);
    return {
      windows: summary.results.length,
      deadLettered: summary.deadLettered,
      late: summary.late,
      onFailure: summary.onFailure,
      wallSeconds: summary.elapsedMs / 1000,
      cpuSeconds: {
        handlers: ms(handlers),
        ingest: ms(ingest),
        process: ms(process1 - process0),
        emulators: emulatorCpu === null ? null : ms(emulatorCpu),
      },
      eventsPerCoreSecond: {
        handlers: rate(handlers),
        ingest: rate(ingest),
        wholeStack: emulatorCpu === null ? null : rate(process1 - process0 + emulatorCpu),
      },
      emulatorPeakMb: peaks.every((p) => p !== undefined) ? Math.round(peaks.reduce((a: number, b) => a + (b as number), 0)) : null,
    };
  } finally {
    await Promise.all(emulators.map((e) => e.stop()));
  }
}

export async function runNexmark(options: RunOptions, progress: (message: string) => void = () => undefined): Promise<NexmarkReport> {
  const started = performance.now();
  const generator: NexmarkOptions = { ...NEXMARK_DEFAULTS, ...options.generator };
  const known = new Map(NEXMARK_QUERIES.map((q) => [q.name, q]));
  for (const name of options.queries) if (!known.has(name)) throw new RangeError(`unknown query ${name} (${[...known.keys()].join(", ")})`);
  // every query compiled before anything runs: a file the compiler refuses ends the run with its error
  const compiled: { query: NexmarkQuery; pipelines: Pipeline[] }[] = [];
  for (const name of new Set(options.queries)) {
    const query = known.get(name) as NexmarkQuery;
    compiled.push({ query, pipelines: await compileQuery(query) });
  }

  progress(`generating ${options.events} events (seed ${generator.seed}, ${generator.eventsPerSecond} events/s of event time)`);
  const lines = [...nexmarkLines(options.events, generator)];
  const bids = lines.filter((l) => l.startsWith('{"event_type":2')).length;
  const dir = await mkdtemp(join(tmpdir(), "panes-nexmark-"));
  try {
    const input = join(dir, "events.jsonl");
    await writeFile(input, `${lines.join("\n")}\n`);
    progress("decode loop");
    const decodeCpu = decodeLoop(lines);
    lines.length = 0;

    const queries: QueryReport[] = [];
    for (const { query, pipelines } of compiled) {
      const base = { query: query.name, file: `examples/nexmark/${query.file}`, flinkPerCore: query.flinkPerCore };
      progress(`${query.name}: replaying ${options.events} events`);
      try {
        const figures = await runQuery(pipelines, input, options.events, options, (m) => progress(`${query.name}: ${m}`));
        queries.push({ ...base, status: "ran", ...figures });
      } catch (error) {
        progress(`${query.name}: failed: ${(error as Error).message}`);
        queries.push({ ...base, status: "failed", error: (error as Error).message.split("\n")[0] as string });
      }
    }
    return {
      events: options.events,
      bids,
      eventTimeSeconds: options.events / generator.eventsPerSecond,
      generator,
      shards: options.shards,
      batchSize: options.batchSize,
      decode: { cpuSeconds: ms(decodeCpu), eventsPerCoreSecond: Math.round(options.events / decodeCpu) },
      queries,
      wallSeconds: ms((performance.now() - started) / 1000),
      processPeakMb: Math.round(process.resourceUsage().maxRSS / 1024),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const thousands = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : n.toLocaleString("en-US"));

/** The report as a small table. */
export function formatReport(report: NexmarkReport): string {
  const g = report.generator;
  const head = [
    `Nexmark on the local stack: ${report.events.toLocaleString("en-US")} events (${report.bids.toLocaleString("en-US")} bids), ` +
      `${g.eventsPerSecond.toLocaleString("en-US")} events/s of event time (${report.eventTimeSeconds} s), seed ${g.seed}; ` +
      `${report.shards} shards, batches of ${report.batchSize}`,
    "events/s per core: handlers = this process's CPU from the first delivery on (the ingest, watermark and closer handlers);",
    "whole stack = every process over the whole replay (producer, mapping, handlers, kinesalite, dynalite); ingest = the ingest handler alone",
    "",
  ];
  const rows: string[][] = [["query", "windows", "wall s", "handlers", "whole stack", "ingest", "Flink 1.13"]];
  const notes: string[] = [];
  for (const q of report.queries) {
    if (q.status === "ran") {
      rows.push([
        q.query,
        String(q.windows),
        q.wallSeconds.toFixed(1),
        thousands(q.eventsPerCoreSecond.handlers),
        q.eventsPerCoreSecond.wholeStack === null ? "n/a" : thousands(q.eventsPerCoreSecond.wholeStack),
        thousands(q.eventsPerCoreSecond.ingest),
        thousands(q.flinkPerCore),
      ]);
      if (q.deadLettered + q.late + q.onFailure > 0)
        notes.push(`${q.query}: ${q.deadLettered} dead-lettered, ${q.late} late, ${q.onFailure} batches to the on-failure destination`);
    } else {
      rows.push([q.query, "-", "-", "-", "-", "-", thousands(q.flinkPerCore)]);
      notes.push(`${q.query}: ${q.status}: ${q.error}`);
    }
  }
  rows.push(["decode only", "", "", thousands(report.decode.eventsPerCoreSecond), "", "", ""]);
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  const table = rows.map((r) =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
  return [...head, ...table, "", ...notes, `(${report.wallSeconds.toFixed(0)} s in all)`].join("\n");
}
