// What the closing logic asks the source stream: which shards exist (open or closed), and whether a
// shard still holds records beyond what its consumer applied — so a slow or failing consumer is never
// mistaken for an idle shard, and a closed parent stops counting once it was read to its end.
import { GetRecordsCommand, GetShardIteratorCommand, type KinesisClient } from "@aws-sdk/client-kinesis";
import type { PutRecordsTarget } from "./put-records.ts";
import { listShards } from "./shards.ts";

export type ShardProbe = "pending" | "caught-up" | "finished";

export interface SourceStream {
  listShards(): Promise<{ shardId: string; closed: boolean }[]>;
  /** records after `afterSequence` (or any record, without one)? */
  probe(shardId: string, afterSequence: string | undefined, closed: boolean): Promise<ShardProbe>;
}

/** Kinesis can answer an empty page while records lie further ahead; a few pages settle it. */
const PROBE_PAGES = 5;

export function kinesisSourceStream(client: KinesisClient, target: PutRecordsTarget): SourceStream {
  return {
    async listShards() {
      return (await listShards(client, target)).map((s) => ({
        shardId: s.ShardId ?? "",
        closed: s.SequenceNumberRange?.EndingSequenceNumber !== undefined,
      }));
    },
    async probe(shardId, afterSequence, closed) {
      let { ShardIterator: iterator } = await client.send(
        new GetShardIteratorCommand({
          StreamName: target.streamName,
          StreamARN: target.streamArn,
          ShardId: shardId,
          ...(afterSequence
            ? { ShardIteratorType: "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber: afterSequence }
            : { ShardIteratorType: "TRIM_HORIZON" }),
        }),
      );
      for (let page = 0; page < PROBE_PAGES && iterator; page++) {
        const answer = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1, StreamARN: target.streamArn }));
        if ((answer.Records?.length ?? 0) > 0) return "pending";
        if (!answer.NextShardIterator) return "finished";
        // An open shard at the tip is caught up; a closed one ends with a null iterator a page or two later.
        if (!answer.MillisBehindLatest && !closed) return "caught-up";
        iterator = answer.NextShardIterator;
      }
      return iterator ? "pending" : "finished";
    },
  };
}
