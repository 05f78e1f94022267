// Lambda entry point of the watermark function: configuration and clients once per container.
import { createDynamoDbClient, createKinesisClient } from "#shared/aws/clients.ts";
import { loadPipelinesFile } from "#shared/pipelines/load.ts";
import { kinesisResultSink } from "#shared/streams/output.ts";
import { listOpenShardIds } from "#shared/streams/shards.ts";
import { createWatermarkHandler } from "../watermark.ts";
import { loadFunctionConfig } from "./config.ts";

const config = loadFunctionConfig(process.env);
const pipelines = await loadPipelinesFile(config.pipelinesFile);
const kinesis = createKinesisClient();

export const handler = createWatermarkHandler({
  dynamodb: createDynamoDbClient(),
  stateTable: config.stateTable,
  resultsTable: config.resultsTable,
  pipelines,
  listOpenShards: () => listOpenShardIds(kinesis, { streamArn: config.sourceStreamArn }),
  sink: config.outputStreamArn ? kinesisResultSink(kinesis, { streamArn: config.outputStreamArn }) : undefined,
  concurrency: 16,
  resultRetentionSeconds: config.resultRetentionSeconds,
  tombstoneRetentionMs: config.tombstoneRetentionMs,
});
