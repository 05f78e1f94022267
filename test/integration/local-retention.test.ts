// What bounds `npm start`'s memory, against the real emulators: the TTL sweeper deletes exactly the
// items whose TTL attribute has passed (an item renewed meanwhile stays), and a trimmed kinesalite
// drops the records older than its retention and keeps the rest.
import { PutItemCommand, ScanCommand } from "@aws-sdk/client-dynamodb";
import { PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { afterEach, describe, expect, it } from "vitest";
import { createKinesisClient } from "../../shared/aws/clients.ts";
import { N, S } from "../../shared/aws/dynamodb/attributes.ts";
import { type Emulator, startKinesis } from "../../tools/local/emulators.ts";
import { createStream, localTables } from "../../tools/local/resources.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../tools/local/stack.ts";
import { startTtlSweeper } from "../../tools/local/ttl-sweeper.ts";
import { emulatedDeployment, readAllRecords } from "../helpers/emulated.ts";

let kinesalite: Emulator | undefined;
afterEach(async () => {
  await kinesalite?.stop();
  kinesalite = undefined;
});

describe("the local stack's retention", () => {
  it("sweeps items whose TTL has passed, and only those, as DynamoDB's TTL deletes them", async () => {
    // Prepare: items expired, not yet expired, without TTL, in all three tables
    const { dynamodb, names } = await emulatedDeployment("ttl", 1);
    const now = 1_800_000_000_000;
    const tables = localTables(names);
    const expected = new Map<string, string[]>();
    for (const { name } of tables) {
      for (const [sk, ttl] of [
        ["expired", now / 1000 - 1],
        ["expired-long-ago", now / 1000 - 86_400],
        ["alive", now / 1000 + 60],
        ["forever", undefined],
      ] as const) {
        await dynamodb.send(
          new PutItemCommand({ TableName: name, Item: { pk: S("p"), sk: S(sk), ...(ttl === undefined ? {} : { ttl: N(ttl) }) } }),
        );
      }
      expected.set(name, ["alive", "forever"]);
    }
    const sweeper = startTtlSweeper(dynamodb, tables, { everyMs: 3_600_000, now: () => now });

    // Act
    const deleted = await sweeper.sweep();
    const again = await sweeper.sweep();
    await sweeper.stop();

    // Assess
    expect([deleted, again]).toEqual([2 * tables.length, 0]);
    for (const { name } of tables) {
      const { Items } = await dynamodb.send(new ScanCommand({ TableName: name, ConsistentRead: true }));
      expect((Items ?? []).map((i) => i.sk?.S).sort(), name).toEqual(expected.get(name));
    }
  });

  it("trims kinesalite's records older than the retention, keeping the newer ones", async () => {
    // Prepare: a kinesalite of its own, keeping records 2 s, trimmed every 200 ms
    kinesalite = await startKinesis("kinesalite", { retentionMs: 2_000, trimEveryMs: 200 });
    const kinesis = createKinesisClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: kinesalite.endpoint });
    await createStream(kinesis, "trimmed", 2);
    const put = (tag: string) =>
      kinesis.send(
        new PutRecordsCommand({
          StreamName: "trimmed",
          Records: Array.from({ length: 50 }, (_, i) => ({ PartitionKey: `k${i}`, Data: Buffer.from(`${tag}-${i}`) })),
        }),
      );
    await put("old");

    // Act: sequence numbers carry whole seconds, so wait until the old ones are surely past the retention
    await new Promise((r) => setTimeout(r, 3_500));
    await put("new");
    await new Promise((r) => setTimeout(r, 600));

    // Assess
    const texts = [...(await readAllRecords(kinesis, "trimmed")).values()].flat().map((r) => Buffer.from(r.record.Data ?? []).toString());
    expect(texts.filter((t) => t.startsWith("old"))).toEqual([]);
    expect(texts.filter((t) => t.startsWith("new")).sort()).toEqual(Array.from({ length: 50 }, (_, i) => `new-${i}`).sort());
    kinesis.destroy();
  });
});
