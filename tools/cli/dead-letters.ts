import { listDeadLetters } from "../../shared/aws/dynamodb/dead-letters.ts";
import type { DeadLetterKind } from "../../shared/core/types.ts";
import { connect, required, resolveTarget, runCommand, type TargetFlags } from "./connection.ts";
import { printTable } from "./results.ts";

export function runDeadLetters(options: { kind?: DeadLetterKind; json?: boolean; table?: string } & TargetFlags) {
  return runCommand(async () => {
    const connection = await connect(options);
    const table = required(
      (await resolveTarget(connection, { ...options, table: undefined, deadLetterTable: options.table })).deadLetterTable,
      "the dead-letter table (--table)",
    );
    const letters = await listDeadLetters(connection.dynamodb, table, options.kind);
    if (options.json) {
      for (const l of letters) {
        process.stdout.write(
          `${JSON.stringify({ ...l, data: undefined, text: Buffer.from(l.data).toString("utf8"), base64: Buffer.from(l.data).toString("base64") })}\n`,
        );
      }
      return;
    }
    printTable(
      ["kind", "pipeline", "shard", "sequence", "reason", "data"],
      letters.map((l) => [
        l.kind,
        l.pipeline,
        l.shardId,
        `…${l.sequenceNumber.slice(-8)}`,
        l.reason,
        Buffer.from(l.data).toString("utf8").slice(0, 60),
      ]),
    );
    process.stderr.write(`${letters.length} dead letters (${connection.describe})\n`);
  });
}
