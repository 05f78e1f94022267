// Lambda entry point of the closer function (SQS-triggered closing units): configuration and clients once per container.
import { loadBundledPipelines } from "#shared/app/bundled-pipelines.ts";
import { createDynamoDbClient, createKinesisClient } from "#shared/aws/clients.ts";
import { createCloserHandler } from "./commons/closer-handler.ts";
import { loadFunctionConfig } from "./commons/config.ts";
import { resultSinksOf } from "./commons/sinks.ts";

const config = loadFunctionConfig(process.env);
const pipelines = await loadBundledPipelines(config.pipelinesFile);

export const handler = createCloserHandler({
  dynamodb: createDynamoDbClient({ cacheMiddleware: true }),
  stateTable: config.stateTable,
  resultsTable: config.resultsTable,
  pipelines,
  sink: resultSinksOf(config, createKinesisClient({ cacheMiddleware: true }), pipelines),
  concurrency: 16,
  resultRetentionSeconds: config.resultRetentionSeconds,
  deadLetterTable: config.deadLetterTable,
  tombstoneRetentionMs: config.tombstoneRetentionMs,
  logRetentionSeconds: config.logRetentionSeconds,
});
