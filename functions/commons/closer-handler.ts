// The closer handler: SQS delivers closing-unit messages from the watermark function (batch size 1 in
// the deployment); each brings its key-group range to its epoch (shared/app/closer.ts). A unit that
// fails is reported as the batch item that failed: SQS delivers it again after the visibility timeout
// and moves it to the dead-letter queue after five receives (alarmed). Redeliveries are safe: every
// write of a unit is conditional.
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { z } from "zod";
import { type CloserDependencies, closeUnitMessage, MAX_SHIPPED_CHARS, UnitMessageError } from "#shared/app/closer.ts";
import { addPipelineMetric, logger, metrics } from "./observability.ts";

const groupIndex = z.number().int().min(0).max(32_767);
const unitMessageSchema = z
  .strictObject({
    pipeline: z.string().min(1),
    epoch: z.number().int().min(1),
    unit: groupIndex,
    units: z.number().int().min(1).max(32_768),
    first: groupIndex,
    last: groupIndex,
    reset: z.strictObject({ generation: z.number().int().min(1), to: z.number().int() }).optional(),
    shipped: z
      .strictObject({
        after: z.array(z.tuple([z.string().min(1), z.number().int().min(0)])),
        portions: z.base64().max(MAX_SHIPPED_CHARS),
      })
      .optional(),
  })
  .refine((m) => m.unit < m.units && m.first <= m.last, "unit must be below units, and first at most last");

export function createCloserHandler(deps: CloserDependencies) {
  const closeRecord = async (record: SQSRecord) => {
    let body: unknown;
    try {
      body = JSON.parse(record.body);
    } catch {
      throw new UnitMessageError("a closing-unit message must be JSON");
    }
    const parsed = unitMessageSchema.safeParse(body);
    if (!parsed.success) throw new UnitMessageError(`not a closing-unit message: ${parsed.error.issues[0]?.message ?? "invalid"}`);
    const message = parsed.data;
    const report = await closeUnitMessage(deps, message);
    metrics.addMetric("ClosingUnits", MetricUnit.Count, 1);
    if (report === undefined) {
      logger.warn("a closing unit for a pipeline that is not deployed: nothing to close", { pipeline: message.pipeline });
      return;
    }
    const perPipeline = (name: string, value: number) => addPipelineMetric(report.pipeline, name, MetricUnit.Count, value);
    perPipeline("WindowsFired", report.fired + report.refired);
    perPipeline("LedgerConflicts", report.conflicts);
    perPipeline("StatePurged", report.cleared);
    perPipeline("ParkedKeys", report.parked.length);
    perPipeline("UnpublishedResults", report.unpublished);
    metrics.addMetric("PanesFolded", MetricUnit.Count, report.panesWritten);
    if (report.parked.length > 0)
      logger.error("key groups parked: their windows could not be closed", {
        pipeline: report.pipeline,
        parked: report.parked.slice(0, 10),
      });
    if (report.unstorable > 0) logger.error("panes could not store all their events (see the dead letters)", { panes: report.unstorable });
  };
  return middy<SQSEvent, SQSBatchResponse>()
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics))
    .handler(async (event, context) => {
      // A processor holds one batch's records and failures: one per invocation, so invocations that run at
      // once in one process (the local stack's closers) never report each other's failures.
      const processor = new BatchProcessor(EventType.SQS);
      const answer = await processPartialResponse(event, closeRecord, processor, { context, throwOnFullBatchFailure: false });
      if (answer.batchItemFailures.length > 0)
        logger.error("closing units failed (SQS delivers them again)", {
          messageIds: answer.batchItemFailures.map((f) => f.itemIdentifier),
          errors: processor.errors.slice(0, 3).map(String),
        });
      return answer as SQSBatchResponse;
    });
}
