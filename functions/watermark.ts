// Lambda entry point of the watermark function: configuration and clients once per container.
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { loadPipelinesFile } from "#shared/app/pipelines-file.ts";
import { createDynamoDbClient, createKinesisClient } from "#shared/aws/clients.ts";
import { kinesisSourceStream } from "#shared/aws/kinesis/probe.ts";
import { allSinks, eventBusResultSink } from "#shared/aws/outputs/event-bus.ts";
import { kinesisResultSink } from "#shared/aws/outputs/kinesis.ts";
import type { ResultSink } from "#shared/core/types.ts";
import { loadFunctionConfig } from "./commons/config.ts";
import { createWatermarkHandler } from "./commons/watermark-handler.ts";

const config = loadFunctionConfig(process.env);
const pipelines = await loadPipelinesFile(config.pipelinesFile);
const kinesis = createKinesisClient({ cacheMiddleware: true });
const sinks: ResultSink[] = [];
if (config.outputStreamArn) sinks.push(kinesisResultSink(kinesis, { streamArn: config.outputStreamArn }));
if (config.eventBusName) sinks.push(eventBusResultSink(new EventBridgeClient({}), config.eventBusName));

export const handler = createWatermarkHandler({
  dynamodb: createDynamoDbClient({ cacheMiddleware: true }),
  stateTable: config.stateTable,
  resultsTable: config.resultsTable,
  pipelines,
  stream: kinesisSourceStream(kinesis, { streamArn: config.sourceStreamArn }),
  sink: allSinks(sinks),
  concurrency: 16,
  resultRetentionSeconds: config.resultRetentionSeconds,
  deadLetterTable: config.deadLetterTable,
  tombstoneRetentionMs: config.tombstoneRetentionMs,
  logRetentionSeconds: config.logRetentionSeconds,
});
