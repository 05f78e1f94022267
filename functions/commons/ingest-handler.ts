// The Kinesis-triggered ingest handler: decode → assign → pre-aggregate → one shard-log entry (fenced).
// A bad record is data (dead letter), a failing dependency is an exception (Lambda retries, fences make
// the retry safe); a partial failure answers with the sequence number to resume from.
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from "aws-lambda";
import { applyShardBatch, type IngestDependencies } from "#shared/app/ingest.ts";
import { deaggregateRecord } from "#shared/aws/kinesis/kpl.ts";
import { toStreamRecord } from "#shared/aws/kinesis/records.ts";
import { logger, metrics } from "./observability.ts";

export function createIngestHandler(deps: IngestDependencies) {
  return middy<KinesisStreamEvent, KinesisStreamBatchResponse>()
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics))
    .handler(async (event) => {
      const records = event.Records.flatMap((record) => deaggregateRecord(toStreamRecord(record)));
      metrics.addMetric("RecordsIn", MetricUnit.Count, records.length);
      const outcome = await applyShardBatch(deps, records);
      const { counts } = outcome;
      metrics.addMetric("EventsAccepted", MetricUnit.Count, counts.events);
      metrics.addMetric("RecordsDeadLettered", MetricUnit.Count, counts.invalid);
      metrics.addMetric("LateEventsDropped", MetricUnit.Count, counts.late);
      metrics.addMetric("LateEventsAccepted", MetricUnit.Count, counts.lateAccepted);
      // Read, but probably not what the producer meant: a misspelt field, seconds given as milliseconds.
      metrics.addMetric("RecordsUnmatched", MetricUnit.Count, counts.unmatched);
      metrics.addMetric("EventTimesLikeSeconds", MetricUnit.Count, counts.secondsLike);
      metrics.addMetric("StateWrites", MetricUnit.Count, counts.stateWrites);
      metrics.addMetric("WriteConflictsRetried", MetricUnit.Count, counts.conflicts);
      metrics.addMetric("DuplicateEventsDropped", MetricUnit.Count, counts.duplicates);
      metrics.addMetric("RedeliveredRecordsSkipped", MetricUnit.Count, counts.alreadyApplied);
      if (outcome.resumeFrom === undefined) return { batchItemFailures: [] };
      logger.error("session writes failed; asking Lambda to resume the shard", {
        resumeFrom: outcome.resumeFrom,
        failedWrites: counts.failedWrites,
        errors: outcome.errors.slice(0, 3).map(String),
      });
      return { batchItemFailures: [{ itemIdentifier: outcome.resumeFrom }] };
    });
}
