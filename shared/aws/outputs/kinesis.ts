// Publishes window results to the output Kinesis stream, at least once, each carrying its idempotency
// key (pipeline/key/start/version; start-end for cumulating windows and sessions) so consumers can drop
// repeats. Kinesis bills a record by 25 KB PUT payload units, so a record packs results: JSON Lines, one
// result a line, the results of one key group (partition key `pipeline/g<group>`: a key's results stay
// on one shard, in order), up to 25 KB a record.
import { createHash } from "node:crypto";
import type { KinesisClient, PutRecordsRequestEntry } from "@aws-sdk/client-kinesis";
import { keyGroupOf } from "../../core/keygroups.ts";
import type { Pipeline } from "../../core/pipelines/schema.ts";
import type { ResultSink, WindowResult } from "../../core/types.ts";
import { idempotencyKeyOf } from "../dynamodb/results.ts";
import { type PutRecordsTarget, putRecordsWithRetry } from "../kinesis/put-records.ts";

export function outputRecordOf(result: WindowResult): Record<string, unknown> {
  return {
    type: "window",
    idempotencyKey: idempotencyKeyOf(result),
    pipeline: result.pipeline,
    key: result.key,
    start: result.start,
    end: result.end,
    values: result.values,
    count: result.count,
    version: result.version,
    final: result.final,
    firedAt: result.firedAt,
    ...(result.supersedes && result.supersedes.length > 0 ? { supersedes: result.supersedes } : {}),
    ...(result.retracted ? { retracted: true } : {}),
  };
}

/** Kinesis partition keys hold at most 256 characters. */
const MAX_PARTITION_KEY = 256;

/**
 * The output record's partition key: `pipeline/key`, or for a key too long for Kinesis,
 * `pipeline/sha256:<hex of the key>` — deterministic, so a window's versions stay in order on one shard.
 */
export function outputPartitionKeyOf(result: Pick<WindowResult, "pipeline" | "key">): string {
  const plain = `${result.pipeline}/${result.key}`;
  if (plain.length <= MAX_PARTITION_KEY) return plain;
  return `${result.pipeline}/sha256:${createHash("sha256").update(result.key).digest("hex")}`;
}

/** What one PUT payload unit holds: an output record packs results up to this many bytes (one larger result goes alone). */
export const OUTPUT_RECORD_BYTES = 25 * 1024;

/**
 * The output records for results, in order: per key group of a pipeline the sink knows (else per key),
 * the results' JSON lines packed up to OUTPUT_RECORD_BYTES a record.
 */
export function outputRecordsOf(results: readonly WindowResult[], pipelines: readonly Pipeline[]): PutRecordsRequestEntry[] {
  const keyGroups = new Map(pipelines.map((p) => [p.name, p.keyGroups]));
  const lines = new Map<string, Buffer[]>();
  for (const result of results) {
    const groups = keyGroups.get(result.pipeline);
    const partitionKey = groups === undefined ? outputPartitionKeyOf(result) : `${result.pipeline}/g${keyGroupOf(result.key, groups)}`;
    const line = Buffer.from(`${JSON.stringify(outputRecordOf(result))}\n`);
    const list = lines.get(partitionKey);
    if (list) list.push(line);
    else lines.set(partitionKey, [line]);
  }
  const records: PutRecordsRequestEntry[] = [];
  for (const [partitionKey, list] of lines) {
    let packed: Buffer[] = [];
    let bytes = 0;
    const flush = () => {
      if (packed.length > 0) records.push({ PartitionKey: partitionKey, Data: Buffer.concat(packed) });
      packed = [];
      bytes = 0;
    };
    for (const line of list) {
      if (bytes + line.byteLength > OUTPUT_RECORD_BYTES) flush();
      packed.push(line);
      bytes += line.byteLength;
    }
    flush();
  }
  return records;
}

/** The results an output record holds (JSON Lines), as a consumer reads them. */
export function resultsOfRecord(data: Uint8Array): Record<string, unknown>[] {
  return Buffer.from(data)
    .toString("utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

export function kinesisResultSink(client: KinesisClient, target: PutRecordsTarget, pipelines: readonly Pipeline[]): ResultSink {
  return {
    async publish(results) {
      await putRecordsWithRetry(client, target, outputRecordsOf(results, pipelines));
    },
  };
}
