// The scheduled watermark handler: read checkpoints → due windows → merge → ledger → publish → purge.
// An invocation with {"drain": true} moves every watermark to +∞ (the end of a bounded input).
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import { type ClosingDependencies, closeWindows, type PipelineClosing } from "#shared/closing/close-windows.ts";
import { logger, metrics } from "./observability.ts";

export interface WatermarkEvent {
  drain?: boolean;
}

export function createWatermarkHandler(deps: ClosingDependencies) {
  return middy<WatermarkEvent | undefined, PipelineClosing[]>()
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics))
    .handler(async (event) => {
      metrics.addMetric("ClosingRuns", MetricUnit.Count, 1);
      const reports = await closeWindows(deps, { drain: event?.drain === true });
      const now = deps.now?.() ?? Date.now();
      metrics.addMetric("PipelinesClosed", MetricUnit.Count, reports.length);
      for (const report of reports) {
        const perPipeline = (name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number) => {
          const single = metrics.singleMetric();
          single.addDimension("pipeline", report.pipeline);
          single.addMetric(name, unit, value);
        };
        perPipeline("WindowsFired", MetricUnit.Count, report.fired + report.refired);
        perPipeline("LedgerConflicts", MetricUnit.Count, report.conflicts);
        perPipeline("StatePurged", MetricUnit.Count, report.purged);
        if (report.watermark !== undefined) perPipeline("WatermarkLag", MetricUnit.Milliseconds, Math.max(0, now - report.watermark));
        // Conflicts mean another run (overlapping, or retried) got there first: expected, and harmless.
        if (report.conflicts > 0) logger.info("ledger conflicts (a concurrent or repeated run)", { ...report });
      }
      return reports;
    });
}
