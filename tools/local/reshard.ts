// Resharding a stream the way operators do: split a shard at the middle of its hash range, merge two
// adjacent shards back. Used by `panes replay --reshard-at K` to exercise parent/child lineage.
import {
  DescribeStreamSummaryCommand,
  type KinesisClient,
  MergeShardsCommand,
  type Shard,
  SplitShardCommand,
} from "@aws-sdk/client-kinesis";
import { listShards } from "../../shared/aws/kinesis/shards.ts";

async function waitActive(client: KinesisClient, streamName: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const { StreamDescriptionSummary } = await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    if (StreamDescriptionSummary?.StreamStatus === "ACTIVE") return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`stream ${streamName} did not become ACTIVE after resharding`);
}

const open = (shards: Shard[]) => shards.filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined);

/** Splits every open shard in two; returns the new shard ids. */
export async function splitAllShards(client: KinesisClient, streamName: string): Promise<string[]> {
  const before = new Set((await listShards(client, { streamName })).map((s) => s.ShardId));
  for (const shard of open(await listShards(client, { streamName }))) {
    const start = BigInt(shard.HashKeyRange?.StartingHashKey ?? "0");
    const end = BigInt(shard.HashKeyRange?.EndingHashKey ?? "0");
    await client.send(
      new SplitShardCommand({
        StreamName: streamName,
        ShardToSplit: shard.ShardId,
        NewStartingHashKey: ((start + end) / 2n + 1n).toString(),
      }),
    );
    await waitActive(client, streamName);
  }
  return (await listShards(client, { streamName })).map((s) => s.ShardId ?? "").filter((id) => !before.has(id));
}

/** Merges the first two adjacent open shards; returns the merged shard's id, or undefined if none are adjacent. */
export async function mergeTwoShards(client: KinesisClient, streamName: string): Promise<string | undefined> {
  const shards = open(await listShards(client, { streamName })).sort((a, b) =>
    BigInt(a.HashKeyRange?.StartingHashKey ?? "0") < BigInt(b.HashKeyRange?.StartingHashKey ?? "0") ? -1 : 1,
  );
  for (let i = 0; i + 1 < shards.length; i++) {
    const [left, right] = [shards[i], shards[i + 1]];
    if (BigInt(left?.HashKeyRange?.EndingHashKey ?? "-2") + 1n !== BigInt(right?.HashKeyRange?.StartingHashKey ?? "-1")) continue;
    const before = new Set((await listShards(client, { streamName })).map((s) => s.ShardId));
    await client.send(
      new MergeShardsCommand({ StreamName: streamName, ShardToMerge: left?.ShardId, AdjacentShardToMerge: right?.ShardId }),
    );
    await waitActive(client, streamName);
    return (await listShards(client, { streamName })).map((s) => s.ShardId ?? "").find((id) => !before.has(id));
  }
  return undefined;
}
