// Publishes window results to the output Kinesis stream, at least once, each carrying its idempotency
// key (pipeline/key/start/version; start-end for cumulating windows and sessions) so consumers can drop repeats.
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import type { ResultSink } from "../closing/close-windows.ts";
import { idempotencyKeyOf, type WindowResult } from "../state/results.ts";
import { type PutRecordsTarget, putRecordsWithRetry } from "../streams/put-records.ts";

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

export function kinesisResultSink(client: KinesisClient, target: PutRecordsTarget): ResultSink {
  return {
    async publish(results) {
      await putRecordsWithRetry(
        client,
        target,
        results.map((r) => ({ PartitionKey: `${r.pipeline}/${r.key}`, Data: Buffer.from(JSON.stringify(outputRecordOf(r))) })),
      );
    },
  };
}
