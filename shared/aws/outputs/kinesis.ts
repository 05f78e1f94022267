// Publishes window results to the output Kinesis stream, at least once, each carrying its idempotency
// key (pipeline/key/start/version; start-end for cumulating windows and sessions) so consumers can drop repeats.
import { createHash } from "node:crypto";
import type { KinesisClient } from "@aws-sdk/client-kinesis";
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

export function kinesisResultSink(client: KinesisClient, target: PutRecordsTarget): ResultSink {
  return {
    async publish(results) {
      await putRecordsWithRetry(
        client,
        target,
        results.map((r) => ({ PartitionKey: outputPartitionKeyOf(r), Data: Buffer.from(JSON.stringify(outputRecordOf(r))) })),
      );
    },
  };
}
