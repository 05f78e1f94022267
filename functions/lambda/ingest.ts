// Lambda entry point of the ingest function: configuration and clients once per container.
import { createDynamoDbClient } from "#shared/aws/clients.ts";
import { loadPipelinesFile } from "#shared/pipelines/load.ts";
import { createIngestHandler } from "../ingest.ts";
import { loadFunctionConfig } from "./config.ts";

const config = loadFunctionConfig(process.env);
const pipelines = await loadPipelinesFile(config.pipelinesFile);

export const handler = createIngestHandler({
  dynamodb: createDynamoDbClient(),
  stateTable: config.stateTable,
  deadLetterTable: config.deadLetterTable,
  pipelines,
  writeConcurrency: config.writeConcurrency,
  deadLetterRetentionSeconds: config.deadLetterRetentionSeconds,
  maxRecordBytes: config.maxRecordBytes,
});
