import { listDeadLetters } from "../../shared/aws/dynamodb/dead-letters.ts";
import { countLetters, type DeadLetterCounts, totalOf } from "../../shared/core/dead-letters.ts";
import type { DeadLetter, DeadLetterKind } from "../../shared/core/types.ts";
import { counted } from "../local/plural.ts";
import { checkPipelineName, connect, required, resolveTarget, runCommand, type TargetFlags } from "./connection.ts";
import { printTable } from "./results.ts";

export interface DeadLetterFilter {
  kind?: DeadLetterKind;
  pipeline?: string;
  /** recorded at or after this time (epoch ms) */
  since?: number;
  /** at most this many, newest first; 0 for all */
  limit: number;
}

/** The letters the filter selects, newest first, and how many matched before the limit. */
export function selectDeadLetters(letters: readonly DeadLetter[], filter: DeadLetterFilter): { shown: DeadLetter[]; matched: number } {
  const matching = letters
    .filter((l) => filter.kind === undefined || l.kind === filter.kind)
    .filter((l) => filter.pipeline === undefined || l.pipeline === filter.pipeline)
    .filter((l) => filter.since === undefined || l.recordedAt >= filter.since)
    .sort((a, b) => b.recordedAt - a.recordedAt);
  return { shown: filter.limit > 0 ? matching.slice(0, filter.limit) : matching, matched: matching.length };
}

/** Every letter's counts added up (all pipelines), for the one-line summaries. */
export const countDeadLetters = (letters: readonly DeadLetter[]): DeadLetterCounts => totalOf(countLetters(letters).values());

export function runDeadLetters(options: DeadLetterFilter & { json?: boolean; table?: string } & TargetFlags) {
  return runCommand(async () => {
    const connection = await connect(options);
    const target = await resolveTarget(connection, { ...options, table: undefined, deadLetterTable: options.table });
    checkPipelineName(options.pipeline, target, ["*"]);
    const table = required(target.deadLetterTable, "the dead-letter table (--table)");
    const { shown, matched } = selectDeadLetters(await listDeadLetters(connection.dynamodb, table), options);
    if (options.json) {
      for (const l of shown) {
        process.stdout.write(
          `${JSON.stringify({ ...l, data: undefined, text: Buffer.from(l.data).toString("utf8"), base64: Buffer.from(l.data).toString("base64") })}\n`,
        );
      }
    } else {
      printTable(
        ["recorded", "kind", "pipeline", "shard", "sequence", "reason", "data"],
        shown.map((l) => [
          new Date(l.recordedAt).toISOString().slice(0, 19),
          l.kind,
          l.pipeline,
          l.shardId,
          `…${l.sequenceNumber.slice(-8)}`,
          l.reason,
          Buffer.from(l.data).toString("utf8").slice(0, 60),
        ]),
      );
    }
    const more = shown.length < matched ? `; --limit 0 shows all ${matched}` : "";
    process.stderr.write(`${shown.length} of ${counted(matched, "dead letter")}, newest first${more} (${connection.describe})\n`);
  });
}
