// Logger and metrics, one of each per container (Powertools for AWS Lambda: structured JSON logs, EMF metrics).
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, type MetricUnit } from "@aws-lambda-powertools/metrics";

export const logger = new Logger({ serviceName: "panes" });

/**
 * Powertools warns when an invocation publishes no metrics. In Lambda every invocation adds some; where
 * metrics are switched off (the local stack and the CLI, POWERTOOLS_METRICS_DISABLED) the handlers of one
 * process share this instance and run concurrently, so one invocation's publish empties another's: the
 * warning would then be noise about metrics nobody publishes. It is left out there, and only there.
 */
const metricsDisabled = process.env.POWERTOOLS_METRICS_DISABLED === "true";
const EMPTY_METRICS_NOTICE = "No application metrics to publish";
const metricsLogger = {
  ...console,
  warn: (...args: unknown[]) => {
    if (metricsDisabled && typeof args[0] === "string" && args[0].startsWith(EMPTY_METRICS_NOTICE)) return;
    console.warn(...args);
  },
};

export const metrics = new Metrics({ namespace: "Panes", serviceName: "panes", logger: metricsLogger });

/** A metric with the pipeline as its dimension (alarms are per pipeline). */
export function addPipelineMetric(pipeline: string, name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number): void {
  const single = metrics.singleMetric();
  single.addDimension("pipeline", pipeline);
  single.addMetric(name, unit, value);
}
