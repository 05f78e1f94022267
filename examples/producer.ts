// A producer for Panes, with nothing but the AWS SDK: events (JSON objects) to the source stream with
// PutRecords. Copy it into your service. What it does, and why:
// - one record per event, the event's JSON as UTF-8 (what every pipeline reads);
// - the partition key is the event's key field (a pipeline's `key`): a key's events land on one shard,
//   in the order they were put — but for records put again after a refusal, which come after the
//   request's others (event time and the pipeline's `outOfOrderness` absorb that; strict order per key
//   would need PutRecord one at a time with SequenceNumberForOrdering);
// - requests of at most 500 records and 5 MiB (PutRecords' limits);
// - the records Kinesis refused in a request that partly failed (throttling: ProvisionedThroughput-
//   Exceeded) are put again, with exponential backoff and jitter; a record Kinesis accepted is never
//   put twice by this code (a retried request whose answer was lost can still repeat one: give events
//   an id and the pipeline a `dedupe` setting when that matters).
//
// Run it: AWS_REGION=eu-west-1 node --import tsx examples/producer.ts --stream ARN --key host events.jsonl
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { KinesisClient, PutRecordsCommand, type PutRecordsRequestEntry } from "@aws-sdk/client-kinesis";

const MAX_RECORDS = 500;
const MAX_REQUEST_BYTES = 5 * 1024 * 1024;
const MAX_ATTEMPTS = 8;

/** The stream, by ARN (what the stack outputs: SourceStreamArn) or by name. */
export type StreamTarget = { StreamARN: string } | { StreamName: string };

export function targetOf(stream: string): StreamTarget {
  return stream.startsWith("arn:") ? { StreamARN: stream } : { StreamName: stream };
}

/** Splits records into PutRecords requests: at most 500 records and 5 MiB (data and partition keys) each. */
export function requestsOf(records: readonly PutRecordsRequestEntry[]): PutRecordsRequestEntry[][] {
  const requests: PutRecordsRequestEntry[][] = [];
  let current: PutRecordsRequestEntry[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = (record.Data?.byteLength ?? 0) + Buffer.byteLength(record.PartitionKey ?? "");
    if (current.length === MAX_RECORDS || (current.length > 0 && bytes + size > MAX_REQUEST_BYTES)) {
      requests.push(current);
      current = [];
      bytes = 0;
    }
    current.push(record);
    bytes += size;
  }
  if (current.length > 0) requests.push(current);
  return requests;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Puts events, keyed by `keyField`; resolves once Kinesis has accepted every one. */
export async function putEvents(
  client: KinesisClient,
  stream: string,
  events: readonly Record<string, unknown>[],
  keyField: string,
): Promise<void> {
  const records = events.map((event) => ({
    // Kinesis partition keys are 1 to 256 characters
    PartitionKey: String(event[keyField] ?? "none").slice(0, 256) || "none",
    Data: Buffer.from(JSON.stringify(event)),
  }));
  for (const request of requestsOf(records)) {
    let pending = request;
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > MAX_ATTEMPTS) throw new Error(`${pending.length} records still refused after ${MAX_ATTEMPTS} attempts`);
      if (attempt > 1) await sleep(Math.random() * Math.min(5_000, 100 * 2 ** attempt));
      const answer = await client.send(new PutRecordsCommand({ ...targetOf(stream), Records: pending }));
      // The answer's records are in the request's order; a refused one has an ErrorCode.
      pending = answer.FailedRecordCount ? pending.filter((_, i) => answer.Records?.[i]?.ErrorCode !== undefined) : [];
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({ options: { stream: { type: "string" }, key: { type: "string" } }, allowPositionals: true });
  const [file] = positionals;
  if (!values.stream || !values.key || !file) {
    process.stderr.write("usage: producer.ts --stream ARN|NAME --key FIELD FILE.jsonl\n");
    process.exit(2);
  }
  const lines = (await readFile(file, "utf8")).split("\n").filter((line) => line.trim() !== "");
  const client = new KinesisClient({});
  await putEvents(
    client,
    values.stream,
    lines.map((line) => JSON.parse(line)),
    values.key,
  );
  process.stderr.write(`put ${lines.length} events to ${values.stream}\n`);
}
