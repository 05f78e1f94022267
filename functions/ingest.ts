// Lambda entry point of the ingest function: configuration and clients once per container.
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { loadBundledPipelines } from "#shared/app/bundled-pipelines.ts";
import { createDynamoDbClient } from "#shared/aws/clients.ts";
import { loadFunctionConfig } from "./commons/config.ts";
import { createIngestHandler } from "./commons/ingest-handler.ts";
import { logger } from "./commons/observability.ts";

const config = loadFunctionConfig(process.env);
const pipelines = await loadBundledPipelines(config.pipelinesFile);
const lambda = new LambdaClient({});

/** Starts the watermark function at once (asynchronously), at most once a second per container. */
let lastNudge = 0;
async function requestClosing(functionName: string): Promise<void> {
  if (Date.now() - lastNudge < 1000) return;
  lastNudge = Date.now();
  try {
    await lambda.send(new InvokeCommand({ FunctionName: functionName, InvocationType: "Event", Payload: JSON.stringify({ nudge: true }) }));
  } catch (error) {
    // The schedule is the backstop: a lost nudge only delays closing until the next run.
    logger.warn("could not start the watermark function early", { error: String(error) });
  }
}

export const handler = createIngestHandler({
  dynamodb: createDynamoDbClient({ cacheMiddleware: true }),
  stateTable: config.stateTable,
  deadLetterTable: config.deadLetterTable,
  pipelines,
  writeConcurrency: config.writeConcurrency,
  deadLetterRetentionSeconds: config.deadLetterRetentionSeconds,
  maxRecordBytes: config.maxRecordBytes,
  logRetentionSeconds: config.logRetentionSeconds,
  requestClosing: config.watermarkFunctionName ? () => requestClosing(config.watermarkFunctionName as string) : undefined,
});
