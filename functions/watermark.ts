// Lambda entry point of the watermark function (the coordinator of closing): configuration and clients once per container.
import { SQSClient } from "@aws-sdk/client-sqs";
import { loadBundledPipelines } from "#shared/app/bundled-pipelines.ts";
import { createDynamoDbClient, createKinesisClient } from "#shared/aws/clients.ts";
import { kinesisSourceStream } from "#shared/aws/kinesis/probe.ts";
import { sqsUnitDispatcher } from "#shared/aws/sqs/units.ts";
import { loadFunctionConfig } from "./commons/config.ts";
import { resultSinksOf } from "./commons/sinks.ts";
import { createWatermarkHandler } from "./commons/watermark-handler.ts";

const config = loadFunctionConfig(process.env);
const pipelines = await loadBundledPipelines(config.pipelinesFile);
const kinesis = createKinesisClient({ cacheMiddleware: true });

export const handler = createWatermarkHandler({
  dynamodb: createDynamoDbClient({ cacheMiddleware: true }),
  stateTable: config.stateTable,
  resultsTable: config.resultsTable,
  pipelines,
  stream: kinesisSourceStream(kinesis, { streamArn: config.sourceStreamArn }),
  sink: resultSinksOf(config, kinesis, pipelines),
  concurrency: 16,
  resultRetentionSeconds: config.resultRetentionSeconds,
  deadLetterTable: config.deadLetterTable,
  tombstoneRetentionMs: config.tombstoneRetentionMs,
  logRetentionSeconds: config.logRetentionSeconds,
  ...(config.unitsQueueUrl
    ? { dispatchUnits: sqsUnitDispatcher(new SQSClient({}), config.unitsQueueUrl), groupsPerUnit: config.groupsPerUnit }
    : {}),
});
