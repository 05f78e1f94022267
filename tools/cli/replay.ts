import { writeFile } from "node:fs/promises";
import { loadPipelinesFile } from "../../shared/app/pipelines-file.ts";
import type { DeadLetter, WindowResult } from "../../shared/core/types.ts";
import { Chaos } from "../local/chaos.ts";
import type { KinesisEmulator } from "../local/emulators.ts";
import { counted } from "../local/plural.ts";
import { replay } from "../local/replay.ts";
import { CliError, runCommand } from "./connection.ts";
import { countDeadLetters } from "./dead-letters.ts";

export function resultLine(r: WindowResult): string {
  return JSON.stringify({
    pipeline: r.pipeline,
    key: r.key,
    start: r.start,
    end: r.end,
    values: r.values,
    count: r.count,
    version: r.version,
  });
}

/**
 * A dead letter as a JSON line: what was refused, by which pipeline and why, and the record (as text
 * when it is UTF-8). Nothing that varies from run to run (sequence numbers, times) is in it.
 */
export function deadLetterLine(l: DeadLetter): string {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(l.data);
  const utf8 = Buffer.from(text).equals(Buffer.from(l.data));
  return JSON.stringify({
    kind: l.kind,
    pipeline: l.pipeline,
    reason: l.reason,
    ...(l.windows === undefined ? {} : { windows: l.windows }),
    ...(l.acceptedBy && l.acceptedBy.length > 0 ? { acceptedBy: l.acceptedBy } : {}),
    ...(utf8 ? { data: text } : { dataBase64: Buffer.from(l.data).toString("base64") }),
    ...((l.size ?? l.data.byteLength) > l.data.byteLength ? { size: l.size } : {}),
  });
}

async function writeLines(target: string, lines: readonly string[]): Promise<void> {
  const text = lines.map((line) => `${line}\n`).join("");
  if (target === "-") process.stdout.write(text);
  else await writeFile(target, text);
}

export function runReplay(options: {
  pipelines: string;
  input: string;
  output: string;
  shards: number;
  batchSize: number;
  partitionKey?: string;
  kinesis: KinesisEmulator;
  strict?: boolean;
  deadLetters?: string;
  chaos?: number;
  chaosSeed: number;
  reshardAt?: number;
}) {
  return runCommand(async () => {
    const pipelines = await loadPipelinesFile(options.pipelines);
    const chaos = options.chaos === undefined ? undefined : new Chaos(options.chaos, options.chaosSeed);
    const summary = await replay({
      chaos,
      reshardAt: options.reshardAt,
      pipelines,
      input: options.input,
      shards: options.shards,
      batchSize: options.batchSize,
      partitionKeyField: options.partitionKey,
      kinesisEmulator: options.kinesis,
      endpoint: process.env.AWS_ENDPOINT_URL,
      progress: (message) => process.stderr.write(`replay: ${message}\n`),
    });
    const sorted = [...summary.results].sort(
      (a, b) => a.pipeline.localeCompare(b.pipeline) || a.key.localeCompare(b.key) || a.start - b.start,
    );
    await writeLines(options.output, sorted.map(resultLine));
    if (options.deadLetters !== undefined) await writeLines(options.deadLetters, summary.letters.map(deadLetterLine).sort());
    const rate = Math.round(summary.events / (summary.elapsedMs / 1000));
    // Late as Flink's side output counts it (every window refused the event: dropped) apart from late
    // for only some of its windows (the others counted it).
    const { late, partlyLate } = countDeadLetters(summary.letters);
    const dropped = late - partlyLate;
    process.stderr.write(
      `replay: ${counted(summary.events, "event")} → ${counted(sorted.length, "window")} in ${(summary.elapsedMs / 1000).toFixed(1)} s (${counted(rate, "event")}/s); ${summary.deadLettered} dead-lettered, ${dropped} late${partlyLate > 0 ? ` (and ${partlyLate} late for some windows only, counted in the others)` : ""}, ${counted(summary.onFailure, "batch", "batches")} to the on-failure destination\n`,
    );
    if (chaos) process.stderr.write(`${chaos.summary()}\n`);
    if (summary.onFailure > 0)
      throw new CliError(`${counted(summary.onFailure, "batch", "batches")} ran out of retries; results are incomplete`, 1);
    if (options.strict && summary.deadLettered + dropped > 0)
      throw new CliError(`${summary.deadLettered} dead-lettered, ${dropped} late for every window (--strict)`, 3);
  });
}
