// Shard listing for a Kinesis stream (by name or ARN), following NextToken.
import { type KinesisClient, ListShardsCommand, type Shard } from "@aws-sdk/client-kinesis";
import type { PutRecordsTarget } from "./put-records.ts";

export async function listShards(client: KinesisClient, target: PutRecordsTarget): Promise<Shard[]> {
  const shards: Shard[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      token
        ? new ListShardsCommand({ NextToken: token })
        : new ListShardsCommand({ StreamName: target.streamName, StreamARN: target.streamArn }),
    );
    shards.push(...(page.Shards ?? []));
    token = page.NextToken;
  } while (token);
  return shards;
}

/** Shards still accepting records (no ending sequence number). */
export async function listOpenShardIds(client: KinesisClient, target: PutRecordsTarget): Promise<string[]> {
  return (await listShards(client, target))
    .filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined)
    .map((s) => s.ShardId ?? "");
}
