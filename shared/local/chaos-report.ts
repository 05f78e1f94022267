// `npm run chaos`: replays generated data through the local stack with faults injected (and, in every
// other run, resharding), then checks every window against an independent brute-force computation.
// Anomalies are reported the way Jepsen and Kafka's EOS tests report them: lost, duplicated, wrong
// value, nonmonotonic version.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pipeline } from "../pipelines/schema.ts";
import { Chaos, FAULT_KINDS, type FaultKind } from "./chaos.ts";
import type { KinesisEmulator } from "./emulators.ts";
import { generateMetrics } from "./generate.ts";
import { type ReferencePipeline, referenceWindows } from "./reference.ts";
import { replay } from "./replay.ts";

export interface ChaosRun {
  run: number;
  seed: number;
  probability: number;
  events: number;
  shards: number;
  reshardAt?: number;
  faults: Record<FaultKind, number>;
  faultsInjected: number;
  windowsChecked: number;
  lost: number;
  duplicated: number;
  wrongValue: number;
  nonmonotonic: number;
  seconds: number;
}

export interface ChaosReportOptions {
  pipelines: readonly Pipeline[];
  runs: number;
  events: number;
  probability: number;
  shards: number;
  seed: number;
  kinesisEmulator?: KinesisEmulator;
  endpoints?: { kinesis: string; dynamodb: string };
  progress?: (message: string) => void;
}

const close = (a: number, b: number) => a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));

export async function runChaosReport(options: ChaosReportOptions): Promise<ChaosRun[]> {
  const dir = await mkdtemp(join(tmpdir(), "panes-chaos-"));
  const runs: ChaosRun[] = [];
  try {
    for (let run = 1; run <= options.runs; run++) {
      const seed = options.seed + run;
      const events = [
        ...generateMetrics({
          hosts: 25,
          events: options.events,
          start: Date.parse("2026-06-01T00:00:00Z"),
          stepMs: 400,
          disorderMs: 15_000,
          seed,
        }),
      ];
      const input = join(dir, `events-${run}.jsonl`);
      await writeFile(input, events.map((e) => JSON.stringify(e)).join("\n"));
      const chaos = new Chaos(options.probability, seed);
      const reshardAt = run % 2 === 0 ? Math.floor(options.events / 3) : undefined;
      options.progress?.(
        `run ${run}/${options.runs}: ${options.events} events, p=${options.probability}${reshardAt ? `, reshard at ${reshardAt}` : ""}`,
      );
      const summary = await replay({
        pipelines: options.pipelines,
        input,
        shards: options.shards,
        kinesisEmulator: options.kinesisEmulator,
        endpoints: options.endpoints,
        batchSize: 250,
        chaos,
        reshardAt,
        collectOutput: true,
      });

      // Every window against the reference: lost, duplicated, wrong value.
      const expected = referenceWindows(options.pipelines as readonly ReferencePipeline[], events as unknown as Record<string, unknown>[]);
      const id = (w: { pipeline: string; key: string; start: number }) => `${w.pipeline}/${w.key}/${w.start}`;
      const actual = new Map(summary.results.map((r) => [id(r), r]));
      let lost = 0;
      let duplicated = 0;
      let wrongValue = 0;
      for (const e of expected) {
        const a = actual.get(id(e));
        actual.delete(id(e));
        if (!a || a.count < e.count) lost++;
        else if (a.count > e.count) duplicated++;
        else if (a.end !== e.end || Object.keys(e.values).some((k) => !close(e.values[k] as number, a.values[k] as number))) wrongValue++;
      }
      duplicated += actual.size; // windows no reference has
      // Versions on the output stream never go back for a window.
      let nonmonotonic = 0;
      const highest = new Map<string, number>();
      for (const p of summary.published) {
        const seen = highest.get(id(p)) ?? 0;
        if (p.version < seen) nonmonotonic++;
        highest.set(id(p), Math.max(seen, p.version));
      }
      for (const r of summary.results) if ((highest.get(id(r)) ?? 0) !== r.version) nonmonotonic++;

      runs.push({
        run,
        seed,
        probability: options.probability,
        events: options.events,
        shards: options.shards,
        reshardAt,
        faults: Object.fromEntries(FAULT_KINDS.map((k) => [k, chaos.counts.get(k) ?? 0])) as Record<FaultKind, number>,
        faultsInjected: chaos.total,
        windowsChecked: expected.length,
        lost,
        duplicated,
        wrongValue,
        nonmonotonic,
        seconds: Math.round(summary.elapsedMs / 100) / 10,
      });
      options.progress?.(
        `run ${run}: ${chaos.summary()}; ${expected.length} windows checked, ${lost} lost, ${duplicated} duplicated, ${wrongValue} wrong`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return runs;
}
