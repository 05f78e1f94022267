// Where the functions that close windows publish results: the output stream and the event bus the
// configuration names (either, both or none; the results table holds every result either way).
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import { allSinks, eventBusResultSink } from "#shared/aws/outputs/event-bus.ts";
import { kinesisResultSink } from "#shared/aws/outputs/kinesis.ts";
import type { Pipeline } from "#shared/core/pipelines/schema.ts";
import type { ResultSink } from "#shared/core/types.ts";
import type { FunctionConfig } from "./config.ts";

export function resultSinksOf(config: FunctionConfig, kinesis: KinesisClient, pipelines: readonly Pipeline[]): ResultSink | undefined {
  const sinks: ResultSink[] = [];
  if (config.outputStreamArn) sinks.push(kinesisResultSink(kinesis, { streamArn: config.outputStreamArn }, pipelines));
  if (config.eventBusName) sinks.push(eventBusResultSink(new EventBridgeClient({}), config.eventBusName));
  return allSinks(sinks);
}
