// `panes status`: watermarks, shard checkpoints and dead-letter counts of a deployment.

import { loadPipelinesFile } from "../../shared/app/pipelines-file.ts";
import { readStatus } from "../../shared/app/status.ts";
import { describeDeadLetterCounts } from "../../shared/core/dead-letters.ts";
import { formatDuration } from "../../shared/core/windows/duration.ts";
import { counted } from "../local/plural.ts";
import { CliError, connect, required, resolveTarget, runCommand, type TargetFlags } from "./connection.ts";
import { printTable } from "./results.ts";

const DEFAULT_IDLE_TIMEOUT = 60_000;

function ago(ms: number): string {
  const sign = ms < 0 ? "-" : "";
  const abs = Math.abs(Math.round(ms));
  return abs < 1000 ? `${sign}${abs}ms` : `${sign}${formatDuration(Math.round(abs / 1000) * 1000)}`;
}

/** The one line status prints for events whose time reads like seconds. */
export function secondsLikeLine(pipeline: string, { count, sample }: { count: number; sample?: number }): string {
  const example = sample === undefined ? "" : ` (the newest: ${sample} ms, ${new Date(sample).toISOString()})`;
  return `${counted(count, "event time")} read like epoch seconds given as milliseconds${example}: if the producers send seconds, set "eventTimeUnit": "seconds" on pipeline ${pipeline}`;
}

/** The one line status prints for records no pipeline's filter took. */
export function unmatchedLine({ count, sample }: { count: number; sample?: string }): string {
  return `records no pipeline's filter took: ${count}${count > 0 && sample !== undefined ? ` (the newest: ${sample}) — a field a filter reads missing or misspelt?` : ""}`;
}

export function runStatus(options: TargetFlags & { pipelines?: string; json?: boolean; watch?: boolean }) {
  return runCommand(async () => {
    const connection = await connect(options);
    const target = await resolveTarget(connection, options);
    const stateTable = required(target.stateTable, "the state table (--state-table)");
    const pipelines = options.pipelines
      ? (await loadPipelinesFile(options.pipelines)).map((p) => ({ name: p.name, idleTimeout: p.idleTimeout }))
      : (target.pipelines ?? []).map((name) => ({ name, idleTimeout: DEFAULT_IDLE_TIMEOUT }));
    if (pipelines.length === 0) throw new CliError("no pipelines known: pass --pipelines FILE or --stack NAME");

    const show = async () => {
      const now = Date.now();
      const status = await readStatus(connection.dynamodb, { stateTable, deadLetterTable: target.deadLetterTable }, pipelines, now);
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ at: now, ...status })}\n`);
        return;
      }
      if (options.watch && process.stdout.isTTY) process.stdout.write("\x1b[H\x1b[2J");
      process.stdout.write(`Panes status (${connection.describe}) at ${new Date(now).toISOString()}\n\n`);
      for (const p of status.pipelines) {
        const watermark =
          p.watermark === undefined
            ? "none yet"
            : `${new Date(p.watermark).toISOString()} (${(p.lagMs ?? 0) >= 0 ? `${ago(p.lagMs ?? 0)} behind` : `${ago(-(p.lagMs ?? 0))} ahead of`} wall clock)`;
        process.stdout.write(
          `${p.pipeline}: watermark ${watermark}\n  ${describeDeadLetterCounts({ ...p, invalid: p.deadLettered }, p.pipeline)}\n`,
        );
        for (const r of p.reasons) process.stdout.write(`    ${r.count} × ${r.reason}\n`);
        if (p.secondsLike.count > 0) process.stdout.write(`  ${secondsLikeLine(p.pipeline, p.secondsLike)}\n`);
        printTable(
          ["  shard", "last sequence number", "max event time", "updated", "state"],
          p.shards.map((s) => [
            `  ${s.shardId}`,
            s.sequenceNumber ?? "—",
            s.maxEventTime === undefined ? "—" : new Date(s.maxEventTime).toISOString(),
            `${ago(now - s.updatedAt)} ago`,
            s.idle ? "idle" : "active",
          ]),
        );
        process.stdout.write("\n");
      }
      process.stdout.write(`records no pipeline could read (not JSON): ${status.unreadable}\n`);
      for (const r of status.unreadableReasons) process.stdout.write(`    ${r.count} × ${r.reason}\n`);
      process.stdout.write(`${describeDeadLetterCounts(status.deadLetters)}; \`panes dlq list\` lists them\n`);
      process.stdout.write(`${unmatchedLine(status.unmatched)}\n`);
    };
    await show();
    if (!options.watch) return;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => void show().catch((e) => process.stderr.write(`${(e as Error).message}\n`)), 2000);
      process.once("SIGINT", () => {
        clearInterval(timer);
        resolve();
      });
    });
  });
}
