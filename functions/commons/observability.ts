// Logger and metrics, one of each per container (Powertools for AWS Lambda: structured JSON logs, EMF metrics).
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";

export const logger = new Logger({ serviceName: "panes" });
export const metrics = new Metrics({ namespace: "Panes", serviceName: "panes" });
