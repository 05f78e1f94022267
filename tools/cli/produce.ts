import { randomUUID } from "node:crypto";
import { constants, createReadStream } from "node:fs";
import { access } from "node:fs/promises";
import { createInterface } from "node:readline";
import { aggregateRecords } from "../../shared/aws/kinesis/kpl.ts";
import { partitionKeyFrom } from "../../shared/aws/kinesis/partition-keys.ts";
import { putRecordsWithRetry } from "../../shared/aws/kinesis/put-records.ts";
import { valueAt } from "../../shared/core/pipelines/events.ts";
import { counted } from "../local/plural.ts";
import { CliError, connect, resolveTarget, runCommand, type TargetFlags } from "./connection.ts";

export function runProduce(file: string, options: TargetFlags & { stream?: string; partitionKey?: string; aggregate?: boolean }) {
  return runCommand(async () => {
    // A file that cannot be opened is the user's input: a usage error (2), said before anything is sent.
    if (file !== "-")
      await access(file, constants.R_OK).catch((error: Error) => {
        throw new CliError(`cannot read ${file}: ${error.message}`, 2);
      });
    const connection = await connect(options);
    const stream = options.stream ?? (await resolveTarget(connection, options)).sourceStream;
    if (stream === undefined)
      throw new CliError(
        "no stream to write to: pass --stream NAME, or --stack NAME (a deployed stack), or run this beside `panes start`",
        2,
      );
    const target = stream.startsWith("arn:") ? { streamArn: stream } : { streamName: stream };
    const input = file === "-" ? process.stdin : createReadStream(file);
    input.on("error", () => undefined);
    const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    let batch: { PartitionKey: string; Data: Uint8Array }[] = [];
    let sent = 0;
    let lineNumber = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      const entries = options.aggregate
        ? (await aggregateRecords(batch.map((b) => ({ partitionKey: b.PartitionKey, data: b.Data })))).map((p) => ({
            PartitionKey: p.partitionKey,
            Data: p.data,
          }))
        : batch;
      await putRecordsWithRetry(connection.kinesis, target, entries).catch((error: Error) => {
        if (error.name !== "ResourceNotFoundException") throw error;
        throw new CliError(`${connection.describe} has no stream ${stream}: give its name or ARN (--stream)`);
      });
      sent += batch.length;
      batch = [];
    };
    try {
      for await (const line of lines) {
        lineNumber++;
        const text = line.trim();
        if (text === "") continue;
        let key: string = randomUUID();
        if (options.partitionKey) {
          let event: unknown;
          try {
            event = JSON.parse(text);
          } catch {
            event = undefined;
          }
          key = partitionKeyFrom(valueAt(event, options.partitionKey)) ?? key;
        }
        batch.push({ PartitionKey: key, Data: Buffer.from(text) });
        if (batch.length === 500) await flush();
      }
    } catch (error) {
      throw new CliError(`cannot read ${file === "-" ? "standard input" : file}: ${(error as Error).message}`);
    }
    await flush();
    process.stderr.write(
      `produce: ${counted(sent, "record")} to ${stream} (${connection.describe}), ${counted(lineNumber, "line")} read\n`,
    );
  });
}
