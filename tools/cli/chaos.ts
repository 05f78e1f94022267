// `panes chaos` (npm run chaos): the reliability report, as a table or one JSON object.

import { logger } from "../../functions/commons/observability.ts";
import { loadPipelinesFile } from "../../shared/app/pipelines-file.ts";
import { FAULT_KINDS } from "../local/chaos.ts";
import { runChaosReport } from "../local/chaos-report.ts";
import type { KinesisEmulator } from "../local/emulators.ts";
import { fuzzIngestAndClosing } from "../local/fuzz.ts";
import { counted } from "../local/plural.ts";
import { startLocalStack } from "../local/stack.ts";
import { CliError, runCommand } from "./connection.ts";
import { printTable } from "./results.ts";

export function runChaos(options: {
  pipelines: string;
  runs: number;
  events: number;
  p: number;
  shards: number;
  seed: number;
  kinesis: KinesisEmulator;
  json?: boolean;
  fuzzRuns: number;
}) {
  return runCommand(async () => {
    const pipelines = await loadPipelinesFile(options.pipelines);
    // bin/panes.js sets the functions' log level to CRITICAL for this command unless POWERTOOLS_LOG_LEVEL is set.
    process.stderr.write(`chaos: the functions log at ${logger.getLevelName()} and above; injected faults are counted by kind\n`);
    const runs = await runChaosReport({
      pipelines,
      runs: options.runs,
      events: options.events,
      probability: options.p,
      shards: options.shards,
      seed: options.seed,
      kinesisEmulator: options.kinesis,
      progress: (m) => process.stderr.write(`chaos: ${m}\n`),
    });
    const sum = (pick: (r: (typeof runs)[number]) => number) => runs.reduce((n, r) => n + pick(r), 0);
    const totals = {
      runs: runs.length,
      faultsInjected: sum((r) => r.faultsInjected),
      faults: Object.fromEntries(FAULT_KINDS.map((k) => [k, sum((r) => r.faults[k])])),
      windowsChecked: sum((r) => r.windowsChecked),
      lost: sum((r) => r.lost),
      duplicated: sum((r) => r.duplicated),
      wrongValue: sum((r) => r.wrongValue),
      nonmonotonic: sum((r) => r.nonmonotonic),
      acceptedButAbsent: sum((r) => r.acceptedButAbsent),
      late: sum((r) => r.late),
    };
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ runs, totals })}\n`);
    } else {
      printTable(
        [
          "run",
          "events",
          "reshard",
          "faults",
          "windows",
          "late",
          "lost",
          "duplicated",
          "wrong",
          "nonmonotonic",
          "accepted but absent",
          "seconds",
        ],
        [
          ...runs.map((r) => [
            String(r.run),
            String(r.events),
            r.reshardAt ? `at ${r.reshardAt}` : "—",
            String(r.faultsInjected),
            String(r.windowsChecked),
            String(r.late),
            String(r.lost),
            String(r.duplicated),
            String(r.wrongValue),
            String(r.nonmonotonic),
            String(r.acceptedButAbsent),
            String(r.seconds),
          ]),
          [
            "all",
            String(sum((r) => r.events)),
            "",
            String(totals.faultsInjected),
            String(totals.windowsChecked),
            String(totals.late),
            String(totals.lost),
            String(totals.duplicated),
            String(totals.wrongValue),
            String(totals.nonmonotonic),
            String(totals.acceptedButAbsent),
            "",
          ],
        ],
      );
      process.stdout.write(
        `\nfaults by kind: ${Object.entries(totals.faults)
          .map(([k, n]) => `${k}=${n}`)
          .join(", ")}\n`,
      );
    }
    if (totals.lost + totals.duplicated + totals.wrongValue + totals.nonmonotonic + totals.acceptedButAbsent > 0)
      throw new CliError("anomalies found", 1);
    if (options.fuzzRuns > 0) await fuzz(options.fuzzRuns, pipelines);
  });
}

/** The fuzz of the whole ingest and closing path (tools/local/fuzz.ts), on emulators of its own. */
async function fuzz(runs: number, pipelines: Awaited<ReturnType<typeof loadPipelinesFile>>): Promise<void> {
  process.stderr.write(`chaos: fuzzing ingest and closing with ${counted(runs, "random input")}\n`);
  const stack = await startLocalStack({ pipelines, startPaused: true, watermarkIntervalMs: 0, prefix: "fuzz" });
  try {
    const { names } = stack.connection;
    await fuzzIngestAndClosing({
      tables: {
        dynamodb: stack.dynamodb,
        stateTable: names.stateTable,
        resultsTable: names.resultsTable,
        deadLetterTable: names.deadLetterTable,
      },
      runs,
    });
  } catch (error) {
    throw new CliError(`fuzz: ${(error as Error).message.split("\n").slice(0, 3).join(" ")}`, 1);
  } finally {
    await stack.stop();
  }
  process.stderr.write(
    `chaos: fuzz: ${counted(runs, "random input")}, every batch completed and every record was counted or dead-lettered exactly once\n`,
  );
}
