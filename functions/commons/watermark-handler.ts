// The scheduled watermark handler, the coordinator of closing: watermarks from the checkpoints → an
// epoch → closing units for the key groups (sent to the closer function, or run here) → notices.
// Its payload is validated: the schedule's event, the ingest function's nudge, or nothing. `{"drain":
// true}` (watermark → +∞: the end of a bounded input) is honoured only where the local stack or replay
// turns it on, never in AWS, where it would end a deployment.
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import { z } from "zod";
import { type ClosingDependencies, closeWindows, type PipelineClosing } from "#shared/app/closing.ts";
import { addPipelineMetric, logger, metrics } from "./observability.ts";

const watermarkEventSchema = z.union([
  z.null(),
  z.undefined(),
  // EventBridge's scheduled event
  z.looseObject({ source: z.literal("aws.events"), "detail-type": z.literal("Scheduled Event") }),
  z.strictObject({ nudge: z.literal(true).optional(), drain: z.literal(true).optional() }),
]);

export type WatermarkEvent = z.infer<typeof watermarkEventSchema>;

export class WatermarkEventError extends Error {
  override name = "WatermarkEventError";
}

export class ClosingFailedError extends Error {
  override name = "ClosingFailedError";
}

export interface WatermarkHandlerOptions {
  /** honour {"drain": true}: only the local stack and replay, never a deployment */
  allowDrain?: boolean;
}

export function createWatermarkHandler(deps: ClosingDependencies, options: WatermarkHandlerOptions = {}) {
  return middy<unknown, PipelineClosing[]>()
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics))
    .handler(async (input) => {
      const parsed = watermarkEventSchema.safeParse(input);
      if (!parsed.success) throw new WatermarkEventError('the watermark function takes the schedule\'s event, {"nudge": true}, or nothing');
      const drain = parsed.data !== null && parsed.data !== undefined && "drain" in parsed.data && parsed.data.drain === true;
      if (drain && !options.allowDrain)
        throw new WatermarkEventError('"drain" is only for the local stack and replay: it would move every watermark to the end of time');
      metrics.addMetric("ClosingRuns", MetricUnit.Count, 1);
      const reports = await closeWindows(deps, {
        drain,
        onFold: (fold) => {
          metrics.addMetric("LogEntriesFolded", MetricUnit.Count, fold.entries);
          metrics.addMetric("PanesFolded", MetricUnit.Count, fold.panes);
          metrics.addMetric("FoldFailures", MetricUnit.Count, fold.failed.length);
          // A pipeline whose entries cannot be folded holds its watermark (the WatermarkLag alarm); the others go on.
          if (fold.failed.length > 0)
            logger.error("shard-log entries could not be folded (retried next run)", { failed: fold.failed, reasons: fold.reasons });
          if (fold.unstorable > 0)
            logger.error("panes could not store all their events (see the dead letters)", { panes: fold.unstorable });
        },
      });
      const now = deps.now?.() ?? Date.now();
      metrics.addMetric("PipelinesClosed", MetricUnit.Count, reports.length);
      for (const report of reports) {
        const perPipeline = (name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number) =>
          addPipelineMetric(report.pipeline, name, unit, value);
        perPipeline("WindowsFired", MetricUnit.Count, report.fired + report.refired);
        perPipeline("LedgerConflicts", MetricUnit.Count, report.conflicts);
        perPipeline("StatePurged", MetricUnit.Count, report.purged);
        perPipeline("ParkedKeys", MetricUnit.Count, report.parked.length);
        perPipeline("UnpublishedResults", MetricUnit.Count, report.unpublished);
        perPipeline("ClosingUnitsSent", MetricUnit.Count, report.dispatched);
        if (report.watermark !== undefined) perPipeline("WatermarkLag", MetricUnit.Milliseconds, Math.max(0, now - report.watermark));
        // Conflicts mean another run (overlapping, or retried) got there first: expected, and harmless.
        if (report.conflicts > 0)
          logger.info("ledger conflicts (a concurrent or repeated run)", { pipeline: report.pipeline, conflicts: report.conflicts });
        if (report.parked.length > 0)
          logger.error("keys parked: their windows could not be closed", { pipeline: report.pipeline, parked: report.parked.slice(0, 10) });
        if (report.unpublished > 0)
          logger.warn("results whose publishing failed, published again by a later unit", {
            pipeline: report.pipeline,
            unpublished: report.unpublished,
          });
      }
      // Every pipeline had its turn; one that could not close at all fails the invocation (alarmed).
      const failed = reports.filter((r) => r.error !== undefined);
      if (failed.length > 0) throw new ClosingFailedError(failed.map((r) => `${r.pipeline}: ${r.error}`).join("; "));
      return reports;
    });
}
