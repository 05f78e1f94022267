// Apache Flink's own window tests (test/conformance/flink), end to end through the real handlers: each
// element is put on the emulated stream (kinesalite) and delivered to the real ingest handler in its
// own batch, each Flink watermark is stored as Panes' watermark (Flink's + 1), and the real watermark
// handler runs after every step, as Flink fires late windows on arrival. State, ledger and dead letters
// live in dynalite; what the handler publishes is what the case's firings are checked against.
import { PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIngestHandler } from "../../functions/ingest.ts";
import { createWatermarkHandler } from "../../functions/watermark.ts";
import type { ResultSink } from "../../shared/closing/close-windows.ts";
import { advanceWatermark } from "../../shared/state/checkpoints.ts";
import { listDeadLetters } from "../../shared/state/dead-letters.ts";
import { queryResults, type WindowResult } from "../../shared/state/results.ts";
import { END_OF_TIME } from "../../shared/windows/watermark.ts";
import type { ConformanceCase, ConformanceElement, ConformanceFiring } from "../conformance/case.ts";
import { canonicalFirings, conformanceCases, elementId, eventOf, pipelineOf } from "../helpers/conformance.ts";
import { emulatedDeployment } from "../helpers/emulated.ts";
import { kinesisEvent, testContext } from "../helpers/kinesis-events.ts";

let deployment: Awaited<ReturnType<typeof emulatedDeployment>>;

beforeAll(async () => {
  deployment = await emulatedDeployment("flink", 1);
});

afterAll(() => {
  deployment.dynamodb.destroy();
  deployment.kinesis.destroy();
});

async function playEndToEnd(testCase: ConformanceCase, index: number): Promise<void> {
  const { dynamodb, kinesis, names, sourceStreamArn } = deployment;
  const pipeline = pipelineOf(testCase, `flink-${index}`);
  const names$ = Object.keys(testCase.aggregates);
  const published: WindowResult[] = [];
  const sink: ResultSink = {
    async publish(results) {
      published.push(...results);
    },
  };
  const ingest = createIngestHandler({
    dynamodb,
    stateTable: names.stateTable,
    deadLetterTable: names.deadLetterTable,
    pipelines: [pipeline],
    writeConcurrency: 4,
  });
  const close = createWatermarkHandler({
    dynamodb,
    stateTable: names.stateTable,
    resultsTable: names.resultsTable,
    pipelines: [pipeline],
    sink,
    concurrency: 4,
    tombstoneRetentionMs: 86_400_000,
  });
  const closingRun = async () => {
    await close(undefined, testContext());
  };

  // Every element on the stream, in arrival order (one shard keeps it).
  const elements = testCase.steps.flatMap((s) => ("element" in s ? [s.element] : []));
  const put =
    elements.length === 0
      ? []
      : ((
          await kinesis.send(
            new PutRecordsCommand({
              StreamName: names.sourceStream,
              Records: elements.map((e) => ({ PartitionKey: e.key, Data: Buffer.from(JSON.stringify(eventOf(e))) })),
            }),
          )
        ).Records ?? []);
  const asFiring = (r: WindowResult): ConformanceFiring => ({
    key: r.key,
    start: r.start,
    end: r.end,
    values: Object.fromEntries(names$.map((n) => [n, r.values[n] as number])),
  });

  let next = 0;
  let seen = 0;
  for (const [stepIndex, step] of testCase.steps.entries()) {
    if ("element" in step) {
      const record = put[next];
      const element = elements[next] as ConformanceElement;
      next++;
      const event = kinesisEvent(
        [
          {
            shardId: record?.ShardId ?? "",
            record: {
              SequenceNumber: record?.SequenceNumber,
              PartitionKey: element.key,
              Data: Buffer.from(JSON.stringify(eventOf(element))),
              ApproximateArrivalTimestamp: new Date(),
            },
          },
        ],
        sourceStreamArn,
      );
      const answer = await ingest(event, testContext());
      expect(answer?.batchItemFailures ?? []).toEqual([]);
      await closingRun();
    } else if ("watermark" in step) {
      await advanceWatermark(dynamodb, names.stateTable, pipeline.name, step.watermark + 1, Date.now());
      await closingRun();
    } else {
      expect(canonicalFirings(published.slice(seen).map(asFiring)), `firings up to step ${stepIndex}`).toEqual(
        canonicalFirings(step.expect),
      );
      seen = published.length;
    }
  }

  const letters = (await listDeadLetters(dynamodb, names.deadLetterTable)).filter((l) => l.pipeline === pipeline.name);
  expect(letters.filter((l) => l.kind === "invalid")).toEqual([]);
  const sideOutput = letters
    .filter((l) => l.kind === "late" && !(l.acceptedBy ?? []).includes(pipeline.name))
    .map((l) => JSON.parse(Buffer.from(l.data).toString()) as ConformanceElement);
  if (testCase.expected?.late !== undefined) expect(sideOutput.map(elementId).sort()).toEqual(testCase.expected.late.map(elementId).sort());
  if (testCase.expected?.lateDropped !== undefined) expect(sideOutput).toHaveLength(testCase.expected.lateDropped);
  if (testCase.expected?.final !== undefined) {
    await advanceWatermark(dynamodb, names.stateTable, pipeline.name, END_OF_TIME, Date.now());
    await closingRun();
    const finals = await queryResults(dynamodb, names.resultsTable, { pipeline: pipeline.name });
    expect(canonicalFirings(finals.map(asFiring))).toEqual(canonicalFirings(testCase.expected.final));
  }
}

describe("Flink's window tests, end to end through the real handlers", () => {
  conformanceCases().forEach(({ file, testCase }, index) => {
    it(`${file} ${testCase.name}`, () => playEndToEnd(testCase, index));
  });
});
