// Per-test resources on the emulators started by the global setup: unique names, real clients.
import { type _Record, GetRecordsCommand, GetShardIteratorCommand, type KinesisClient } from "@aws-sdk/client-kinesis";
import { inject } from "vitest";
import { createDynamoDbClient, createKinesisClient } from "../../shared/aws/clients.ts";
import { listShards } from "../../shared/aws/kinesis/shards.ts";
import { createResources, type LocalNames, localNames } from "../../tools/local/resources.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../tools/local/stack.ts";
import type { ShardRecord } from "./builders.ts";

let counter = 0;

export function uniquePrefix(label: string): string {
  counter++;
  return `t-${label}-${process.pid}-${counter}-${Date.now().toString(36)}`;
}

export type KinesisKind = "kinesalite" | "kinesisLocal";

export function emulatorEndpoints(kind: KinesisKind = "kinesalite"): { kinesis: string; dynamodb: string } {
  const emulators = inject("emulators");
  return { kinesis: emulators[kind], dynamodb: emulators.dynamodb };
}

export async function emulatedDeployment(label: string, shards: number, kind: KinesisKind = "kinesalite") {
  const endpoints = emulatorEndpoints(kind);
  const common = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const dynamodb = createDynamoDbClient({ ...common, endpoint: endpoints.dynamodb });
  const kinesis = createKinesisClient({ ...common, endpoint: endpoints.kinesis });
  const names: LocalNames = localNames(uniquePrefix(label));
  const arns = await createResources(dynamodb, kinesis, names, shards);
  return { dynamodb, kinesis, names, endpoints, ...arns };
}

/** Every record of every shard, in shard order. */
export async function readAllRecords(kinesis: KinesisClient, streamName: string): Promise<Map<string, ShardRecord[]>> {
  const byShard = new Map<string, ShardRecord[]>();
  for (const shard of await listShards(kinesis, { streamName })) {
    const shardId = shard.ShardId ?? "";
    const records: ShardRecord[] = [];
    let iterator = (
      await kinesis.send(new GetShardIteratorCommand({ StreamName: streamName, ShardId: shardId, ShardIteratorType: "TRIM_HORIZON" }))
    ).ShardIterator;
    while (iterator) {
      const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      const got: _Record[] = page.Records ?? [];
      records.push(...got.map((record) => ({ shardId, record })));
      if (got.length === 0) break;
      iterator = page.NextShardIterator;
    }
    byShard.set(shardId, records);
  }
  return byShard;
}
