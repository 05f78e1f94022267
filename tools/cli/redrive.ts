// `panes dlq redrive`: puts dead-lettered records back on the source stream (after the cause was
// fixed: a pipeline corrected and deployed, a producer repaired), then removes every dead letter of
// those records — every pipeline reads a redriven record again. A record some pipeline already counted
// is left alone unless --force: it would count twice there. It only ever writes to the deployment's
// source stream.
import { deleteDeadLetters, listDeadLetters } from "../../shared/aws/dynamodb/dead-letters.ts";
import { putRecordsWithRetry } from "../../shared/aws/kinesis/put-records.ts";
import type { DeadLetter, DeadLetterKind } from "../../shared/core/types.ts";
import { counted } from "../local/plural.ts";
import {
  CliError,
  checkPipelineName,
  connect,
  type DeploymentTarget,
  required,
  resolveTarget,
  runCommand,
  streamNameOf,
  type TargetFlags,
} from "./connection.ts";

/** The stream to put records back on: the deployment's source stream, never another. */
function sourceStreamOf(target: DeploymentTarget, given: string | undefined): string {
  const known = target.sourceStream;
  if (given !== undefined && known !== undefined && streamNameOf(given) !== streamNameOf(known))
    throw new CliError(`--stream ${given} is not this deployment's source stream (${known}): redrive only writes to the source stream`);
  if (given !== undefined && target.outputStream !== undefined && streamNameOf(given) === streamNameOf(target.outputStream))
    throw new CliError(`--stream ${given} is the output stream: redrive only writes to the source stream`);
  const stream = given ?? known;
  if (!stream)
    throw new CliError("the source stream is not known: pass --stack NAME, run this beside `panes start`, or pass --stream NAME");
  return stream;
}

const recordOf = (l: DeadLetter) => `${l.shardId}/${l.sequenceNumber}/${l.subSequenceNumber ?? ""}`;

export function runRedrive(
  options: TargetFlags & { kind?: DeadLetterKind; pipeline?: string; stream?: string; force?: boolean; dryRun?: boolean },
) {
  return runCommand(async () => {
    const connection = await connect(options);
    const target = await resolveTarget(connection, { ...options, table: undefined, deadLetterTable: options.table });
    checkPipelineName(options.pipeline, target, ["*"]);
    const table = required(target.deadLetterTable, "the dead-letter table (--table)");
    const stream = sourceStreamOf(target, options.stream);
    const letters = await listDeadLetters(connection.dynamodb, table);

    // Every letter of a record, whatever the filters: a redriven record is read by every pipeline again.
    const byRecord = new Map<string, DeadLetter[]>();
    for (const l of letters) byRecord.set(recordOf(l), [...(byRecord.get(recordOf(l)) ?? []), l]);
    const chosen = [...byRecord.values()].filter((group) =>
      group.some((l) => (!options.kind || l.kind === options.kind) && (!options.pipeline || l.pipeline === options.pipeline)),
    );
    const redrive: DeadLetter[][] = [];
    let skipped = 0;
    let truncated = 0;
    for (const group of chosen) {
      const first = group[0] as DeadLetter;
      if ((first.size ?? first.data.byteLength) > first.data.byteLength) {
        truncated++;
        continue;
      }
      if (!options.force && group.some((l) => (l.acceptedBy?.length ?? 0) > 0)) {
        skipped++;
        continue;
      }
      redrive.push(group);
    }
    const say = (m: string) => process.stderr.write(`redrive: ${m}\n`);
    if (skipped > 0) say(`${counted(skipped, "record")} left alone: already counted by a pipeline (--force redrives such records too)`);
    if (truncated > 0)
      say(`${counted(truncated, "record")} left alone: only the first bytes were kept (read each from the stream by its sequence number)`);
    if (options.dryRun) {
      say(`would put ${counted(redrive.length, "record")} back on ${stream} (--dry-run)`);
      return;
    }
    await putRecordsWithRetry(
      connection.kinesis,
      stream.startsWith("arn:") ? { streamArn: stream } : { streamName: stream },
      redrive.map((group) => ({ PartitionKey: (group[0] as DeadLetter).partitionKey || "redrive", Data: (group[0] as DeadLetter).data })),
    );
    await deleteDeadLetters(connection.dynamodb, table, redrive.flat());
    say(
      `put ${counted(redrive.length, "record")} back on ${stream} and removed ${counted(redrive.flat().length, "dead letter")} (${connection.describe})`,
    );
  });
}
