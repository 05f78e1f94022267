// The producer and consumer examples the README points to, run against the emulators with the real
// SDK: the producer's events all arrive once, a key's on one shard, though Kinesis refuses
// part of a request; the consumer keeps each window's latest version from output records the real
// output sink packs, however often and in whatever order they come.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CreateTableCommand, type DynamoDBClient, ScanCommand, waitUntilTableExists } from "@aws-sdk/client-dynamodb";
import type { EventBridgeClient, PutEventsCommand, PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import type { PutRecordsCommandOutput } from "@aws-sdk/client-kinesis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handler } from "../../examples/consumer.ts";
import { putEvents, requestsOf } from "../../examples/producer.ts";
import { eventBusResultSink } from "../../shared/aws/outputs/event-bus.ts";
import { outputRecordsOf, resultsOfRecord } from "../../shared/aws/outputs/kinesis.ts";
import type { WindowResult } from "../../shared/core/types.ts";
import { kinesisEvent, pipeline } from "../helpers/builders.ts";
import { emulatedDeployment, readAllRecords } from "../helpers/emulated.ts";

let deployment: Awaited<ReturnType<typeof emulatedDeployment>>;

beforeAll(async () => {
  deployment = await emulatedDeployment("examples", 2);
});

afterAll(() => {
  deployment.dynamodb.destroy();
  deployment.kinesis.destroy();
});

/** Kinesis refuses every other record of the first PutRecords request (as it does when a shard is throttled). */
function refuseHalfOnce(): { refused: () => number } {
  let refused = 0;
  let first = true;
  deployment.kinesis.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== "PutRecordsCommand" || !first) return next(args);
      first = false;
      const input = args.input as { Records: unknown[] };
      const kept = input.Records.filter((_, i) => i % 2 === 0);
      const answer = await next({ ...args, input: { ...input, Records: kept } });
      const accepted = (answer.output as PutRecordsCommandOutput).Records ?? [];
      const records = input.Records.map((_, i) =>
        i % 2 === 0 ? accepted[i / 2] : { ErrorCode: "ProvisionedThroughputExceededException", ErrorMessage: "Rate exceeded" },
      );
      refused = Math.floor(input.Records.length / 2);
      return { ...answer, output: { ...answer.output, FailedRecordCount: refused, Records: records } };
    },
    { step: "initialize", name: "refuseHalfOnce" },
  );
  return { refused: () => refused };
}

describe("the producer example", () => {
  it("splits requests at 500 records or 5 MiB", () => {
    const record = (bytes: number) => ({ PartitionKey: "k", Data: Buffer.alloc(bytes) });
    const small = requestsOf(Array.from({ length: 1_201 }, () => record(10)));
    const large = requestsOf(Array.from({ length: 30 }, () => record(1024 * 1024 - 1)));
    expect(small.map((r) => r.length)).toEqual([500, 500, 201]);
    expect(large.map((r) => r.length)).toEqual([5, 5, 5, 5, 5, 5]);
  });

  it("puts every event once, a key's events on one shard, though Kinesis refused part of a request", async () => {
    // Prepare
    const refusals = refuseHalfOnce();
    const events = Array.from({ length: 700 }, (_, i) => ({ host: `h${i % 7}`, ts: 1_000 + i, v: i }));

    // Act
    await putEvents(deployment.kinesis, deployment.names.sourceStream, events, "host");

    // Assess
    expect(refusals.refused()).toBe(250);
    const byShard = await readAllRecords(deployment.kinesis, deployment.names.sourceStream);
    const read = [...byShard.values()].flatMap((records) =>
      records.map(({ shardId, record }) => ({ shardId, event: JSON.parse(Buffer.from(record.Data ?? []).toString("utf8")) })),
    );
    expect(read.map((r) => r.event.v).sort((a, b) => a - b)).toEqual(events.map((e) => e.v));
    for (const host of new Set(events.map((e) => e.host))) {
      const mine = read.filter((r) => r.event.host === host);
      expect(new Set(mine.map((r) => r.shardId)).size, host).toBe(1);
    }
  });
});

describe("the consumer example", () => {
  async function latestTable(client: DynamoDBClient): Promise<string> {
    const table = `${deployment.names.stateTable}-latest`;
    await client.send(
      new CreateTableCommand({
        TableName: table,
        KeySchema: [{ AttributeName: "window", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "window", AttributeType: "S" }],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
    // the emulator, as DynamoDB, creates a table in the background: a write before it is ACTIVE is refused
    await waitUntilTableExists({ client, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { TableName: table });
    return table;
  }

  it("keeps each window's latest version, dropping repeats and versions older than what it holds", async () => {
    // Prepare: output records as the output stream carries them (packed by the real sink's function)
    const p = pipeline({ keyGroups: 4 });
    const result = (key: string, version: number, count: number): WindowResult => ({
      pipeline: p.name,
      key,
      start: 0,
      end: 60_000,
      values: { n: count },
      count,
      version,
      firedAt: version,
      final: true,
    });
    const deliveries = [
      [result("a", 1, 1), result("b", 1, 5)],
      [result("a", 2, 2)],
      [result("a", 2, 2), result("b", 1, 5)], // published again (at least once)
      [result("a", 1, 1)], // an older version, late
    ];
    const event = kinesisEvent(
      deliveries.flatMap((results, i) =>
        outputRecordsOf(results, [p]).map((r, j) => ({
          shardId: "shardId-000000000000",
          record: { Data: r.Data as Uint8Array, PartitionKey: r.PartitionKey, SequenceNumber: `${i}${j}` },
        })),
      ),
    );
    const table = await latestTable(deployment.dynamodb);

    // Act
    process.env.LATEST_TABLE = table;
    const outcome = await handler(event, deployment.dynamodb).finally(() => delete process.env.LATEST_TABLE);

    // Assess
    expect(outcome).toEqual({ kept: 3, dropped: 3 });
    const { Items } = await deployment.dynamodb.send(new ScanCommand({ TableName: table }));
    const kept = (Items ?? []).map((item) => [item.window?.S, Number(item.version?.N), JSON.parse(item.result?.S ?? "{}").count]).sort();
    expect(kept).toEqual([
      [`${p.name}/a/0`, 2, 2],
      [`${p.name}/b/0`, 1, 5],
    ]);
  });
});

describe("the README's description of the outputs", () => {
  const readme = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("### Reading results"), readme.indexOf("### Security"));
  const blocks = [...section.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1] as string));

  it("shows an output line as the output stream's records carry it", () => {
    // Prepare: the result the README's line describes
    const [line] = blocks;
    const result: WindowResult = { ...line, endInKey: false };

    // Act
    const [record] = outputRecordsOf([result], []);

    // Assess: the same fields, in the same order
    expect(Object.keys(line)).toEqual(Object.keys(resultsOfRecord(record?.Data as Uint8Array)[0] ?? {}));
    expect(resultsOfRecord(record?.Data as Uint8Array)).toEqual([line]);
  });

  it("gives a rule that matches the bus's entries: their source, detail type and detail", async () => {
    // Prepare
    const [line, rule] = blocks;
    const sent: PutEventsRequestEntry[] = [];
    const client = {
      send: async (command: PutEventsCommand) => {
        sent.push(...(command.input.Entries ?? []));
        return {};
      },
    };

    // Act
    await eventBusResultSink(client as unknown as EventBridgeClient, "bus").publish([{ ...line, values: { ...line.values, avg: 95 } }]);

    // Assess
    const [entry] = sent;
    expect([entry?.Source, entry?.DetailType]).toEqual([rule.source[0], rule["detail-type"][0]]);
    const detail = JSON.parse(entry?.Detail ?? "{}");
    expect([detail.pipeline, detail.final, detail.values.avg > rule.detail.values.avg[0].numeric[1]]).toEqual([
      rule.detail.pipeline[0],
      rule.detail.final[0],
      true,
    ]);
  });
});
