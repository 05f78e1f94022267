// `panes dlq redrive`: puts dead-lettered records back on the source stream (after the cause was
// fixed: a pipeline corrected and deployed, a producer repaired), then removes their dead letters.
// A record some other pipeline already applied is left alone unless --force: it would count twice there.
import type { DeadLetter, DeadLetterKind } from "../state/dead-letters.ts";
import { deleteDeadLetters, listDeadLetters } from "../state/dead-letters.ts";
import { putRecordsWithRetry } from "../streams/put-records.ts";
import { CliError, connect, required, resolveTarget, runCommand, type TargetFlags } from "./connection.ts";

export function runRedrive(
  options: TargetFlags & { kind?: DeadLetterKind; pipeline?: string; stream?: string; force?: boolean; dryRun?: boolean },
) {
  return runCommand(async () => {
    const connection = await connect(options);
    const target = await resolveTarget(connection, { ...options, table: undefined, deadLetterTable: options.table });
    const table = required(target.deadLetterTable, "the dead-letter table (--table)");
    const stream = options.stream ?? connection.local?.names.sourceStream;
    if (!stream) throw new CliError("the source stream is not known: pass --stream NAME (or ARN)");
    const letters = (await listDeadLetters(connection.dynamodb, table, options.kind)).filter(
      (l) => !options.pipeline || l.pipeline === options.pipeline,
    );

    // One put per record, however many pipelines refused it.
    const byRecord = new Map<string, DeadLetter[]>();
    for (const l of letters)
      byRecord.set(`${l.shardId}/${l.sequenceNumber}`, [...(byRecord.get(`${l.shardId}/${l.sequenceNumber}`) ?? []), l]);
    const redrive: DeadLetter[][] = [];
    let skipped = 0;
    let truncated = 0;
    for (const group of byRecord.values()) {
      const first = group[0] as DeadLetter;
      if ((first.size ?? first.data.byteLength) > first.data.byteLength) {
        truncated++;
        continue;
      }
      if (!options.force && (first.acceptedBy?.length ?? 0) > 0) {
        skipped++;
        continue;
      }
      redrive.push(group);
    }
    const say = (m: string) => process.stderr.write(`redrive: ${m}\n`);
    if (skipped > 0) say(`${skipped} records left alone: other pipelines already counted them (--force redrives them anyway)`);
    if (truncated > 0)
      say(`${truncated} records left alone: only their first bytes were kept (read them from the stream by sequence number)`);
    if (options.dryRun) {
      say(`would put ${redrive.length} records back on ${stream} (--dry-run)`);
      return;
    }
    const streamTarget = stream.startsWith("arn:") ? { streamArn: stream } : { streamName: stream };
    await putRecordsWithRetry(
      connection.kinesis,
      streamTarget,
      redrive.map((group) => ({ PartitionKey: (group[0] as DeadLetter).partitionKey || "redrive", Data: (group[0] as DeadLetter).data })),
    );
    await deleteDeadLetters(connection.dynamodb, table, redrive.flat());
    say(`put ${redrive.length} records back on ${stream} and removed their ${redrive.flat().length} dead letters (${connection.describe})`);
  });
}
