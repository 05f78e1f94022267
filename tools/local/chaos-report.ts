// `npm run chaos`: replays generated data through the local stack with faults injected (and, in every
// other run, resharding), then checks every window against an independent brute-force computation
// that leaves out exactly the events the late output says a window refused. Anomalies are reported the
// way Jepsen and Kafka's EOS tests report them — lost, duplicated, wrong value, nonmonotonic version —
// plus "accepted but absent": an event neither dead-lettered nor refused as late by a window that
// contains it, yet missing from that window's final result.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import type { DeadLetter, WindowResult } from "../../shared/core/types.ts";
import { Chaos, FAULT_KINDS, type FaultKind } from "./chaos.ts";
import type { KinesisEmulator } from "./emulators.ts";
import { generateMetrics } from "./generate.ts";
import { counted } from "./plural.ts";
import {
  cascadeReferenceWindows,
  eventsOf,
  fieldOf,
  keyOf,
  type ReferenceCascade,
  type ReferencePipeline,
  referenceWindows,
  timeOfEvent,
} from "./reference.ts";
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
  /** event-in-window pairs missing from final results although the event was neither dead-lettered nor refused as late */
  acceptedButAbsent: number;
  /** events refused as late by at least one window (not an anomaly: the late output has them) */
  late: number;
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
          disorderMs: 60_000,
          seed,
        }),
      ];
      const input = join(dir, `events-${run}.jsonl`);
      await writeFile(input, events.map((e) => JSON.stringify(e)).join("\n"));
      const chaos = new Chaos(options.probability, seed);
      const reshardAt = run % 2 === 0 ? Math.floor(options.events / 3) : undefined;
      options.progress?.(
        `run ${run}/${options.runs}: ${counted(options.events, "event")}, p=${options.probability}${reshardAt ? `, reshard at ${reshardAt}` : ""}`,
      );
      const summary = await replay({
        pipelines: options.pipelines,
        input,
        shards: options.shards,
        kinesisEmulator: options.kinesisEmulator,
        endpoints: options.endpoints,
        batchSize: 50,
        chaos,
        reshardAt,
        collectOutput: true,
      });

      const check = checkRun(options.pipelines, events as unknown as Record<string, unknown>[], summary.results, summary.letters);
      const { lost, duplicated, wrongValue, acceptedButAbsent, windowsChecked } = check;
      // Versions on the output stream never go back for a window, and the ledger's version was published.
      const id = (w: { pipeline: string; key: string; start: number; end: number }) => `${w.pipeline}/${w.key}/${w.start}/${w.end}`;
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
        windowsChecked,
        lost,
        duplicated,
        wrongValue,
        nonmonotonic,
        acceptedButAbsent,
        late: summary.letters.filter((l) => l.kind === "late").length,
        seconds: Math.round(summary.elapsedMs / 100) / 10,
      });
      options.progress?.(
        `run ${run}: ${chaos.summary()}; ${counted(windowsChecked, "window")} checked, ${lost} lost, ${duplicated} duplicated, ${wrongValue} wrong, ${acceptedButAbsent} accepted but absent`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return runs;
}

interface RunCheck {
  windowsChecked: number;
  lost: number;
  duplicated: number;
  wrongValue: number;
  acceptedButAbsent: number;
}

/**
 * Checks a replay's final results against the events and its late output. Fixed windows: each window's
 * events by brute force, minus those its late letters say it refused. Sessions (which windows exist
 * depends on when the watermark moved): every accepted event lies in a final session of its key, and
 * per key the final sessions hold exactly the accepted events (counts, sums, maxima).
 */
export function checkRun(
  pipelines: readonly Pipeline[],
  events: readonly Record<string, unknown>[],
  results: readonly WindowResult[],
  letters: readonly DeadLetter[],
): RunCheck {
  const check: RunCheck = { windowsChecked: 0, lost: 0, duplicated: 0, wrongValue: 0, acceptedButAbsent: 0 };
  // Late letters as a multiset of (pipeline, event bytes, window).
  const refusals = new Map<string, number>();
  const text = (data: Uint8Array) => Buffer.from(data).toString();
  for (const l of letters) {
    if (l.kind !== "late") continue;
    for (const w of l.windows ?? []) {
      const k = `${l.pipeline}\u0000${text(l.data)}\u0000${w.start}/${w.end}`;
      refusals.set(k, (refusals.get(k) ?? 0) + 1);
    }
  }
  const take = (k: string) => {
    const n = refusals.get(k) ?? 0;
    if (n > 0) refusals.set(k, n - 1);
    return n > 0;
  };
  const fixed = pipelines.filter((p) => p.window.type !== "session");
  const expected = referenceWindows(
    fixed.filter((p) => p.from === undefined) as unknown as ReferencePipeline[],
    events,
    (pipeline, event, w) => take(`${pipeline}\u0000${JSON.stringify(event)}\u0000${w.start}/${w.end}`),
  );
  // the cascades, each from its source's reference rows (a source before the cascades reading it)
  const cascades = fixed.filter((p) => p.from !== undefined);
  for (let done = new Set(fixed.filter((p) => p.from === undefined).map((p) => p.name)); cascades.some((p) => !done.has(p.name)); ) {
    const ready = cascades.filter((p) => !done.has(p.name) && done.has(p.from?.pipeline as string));
    if (ready.length === 0) break; // a source the check does not compute (sessions: the schema refuses them)
    for (const p of ready) {
      const source = pipelines.find((q) => q.name === p.from?.pipeline) as unknown as ReferencePipeline;
      expected.push(...cascadeReferenceWindows(p as unknown as ReferenceCascade, source, expected));
    }
    done = new Set([...done, ...ready.map((p) => p.name)]);
  }
  const id = (w: { pipeline: string; key: string; start: number; end: number }) => `${w.pipeline}/${w.key}/${w.start}/${w.end}`;
  const actual = new Map(results.filter((r) => fixed.some((p) => p.name === r.pipeline)).map((r) => [id(r), r]));
  const close = (a: number, b: number) => a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
  for (const e of expected) {
    check.windowsChecked++;
    const a = actual.get(id(e));
    actual.delete(id(e));
    if (!a || a.count < e.count) {
      check.lost++;
      check.acceptedButAbsent += e.count - (a?.count ?? 0);
    } else if (a.count > e.count) check.duplicated++;
    else if (Object.keys(e.values).some((k) => !close(e.values[k] as number, a.values[k] as number))) check.wrongValue++;
  }
  check.duplicated += actual.size; // windows no reference has

  for (const pipeline of pipelines.filter((p) => p.window.type === "session")) {
    const reference = pipeline as unknown as ReferencePipeline;
    const gap = pipeline.window.type === "session" ? pipeline.window.gap : 0;
    const refusedEvents = new Map<string, number>();
    for (const l of letters)
      if (l.kind === "late" && l.pipeline === pipeline.name) refusedEvents.set(text(l.data), (refusedEvents.get(text(l.data)) ?? 0) + 1);
    const accepted = eventsOf(reference, events).filter((e) => {
      const n = refusedEvents.get(JSON.stringify(e)) ?? 0;
      if (n > 0) refusedEvents.set(JSON.stringify(e), n - 1);
      return n === 0;
    });
    const byKey = new Map<string, Record<string, unknown>[]>();
    for (const e of accepted) byKey.set(keyOf(reference, e), [...(byKey.get(keyOf(reference, e)) ?? []), e]);
    const sessions = results.filter((r) => r.pipeline === pipeline.name);
    for (const [key, mine] of byKey) {
      const theirs = sessions.filter((s) => s.key === key);
      check.windowsChecked += theirs.length;
      const uncovered = mine.filter(
        (e) => !theirs.some((s) => timeOfEvent(reference, e) >= s.start && timeOfEvent(reference, e) <= s.end - gap),
      );
      const held = theirs.reduce((n, s) => n + s.count, 0);
      check.acceptedButAbsent += Math.max(uncovered.length, mine.length - held);
      if (uncovered.length > 0 || held < mine.length) check.lost++;
      else if (held > mine.length) check.duplicated++;
      else {
        // Per key, the sessions' values add up to the accepted events' (sums, averages × counts, maxima).
        for (const spec of pipeline.aggregates) {
          if (spec.op !== "max" && spec.op !== "sum" && spec.op !== "avg") continue;
          const xs = mine.map((e) => Number(fieldOf(e, spec.field)));
          const ys = theirs.map((s) => s.values[spec.name] as number);
          const right =
            spec.op === "max"
              ? close(Math.max(...xs), Math.max(...ys))
              : Math.abs(
                  xs.reduce((a, b) => a + b, 0) -
                    theirs.reduce((a, s, i) => a + (spec.op === "avg" ? (ys[i] as number) * s.count : (ys[i] as number)), 0),
                ) <=
                1e-6 * Math.max(1, ...xs.map(Math.abs)) * xs.length;
          if (!right) check.wrongValue++;
        }
      }
    }
    check.duplicated += sessions.filter((s) => !byKey.has(s.key)).length;
  }
  return check;
}
