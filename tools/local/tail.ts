// Follows a Kinesis stream from its beginning (every shard, polled), handing each record's bytes to a
// callback: how the local demo watches the output stream, as a downstream consumer would.
import { type _Record, GetRecordsCommand, GetShardIteratorCommand, type KinesisClient } from "@aws-sdk/client-kinesis";
import { listShards } from "../../shared/aws/kinesis/shards.ts";

export interface StreamTail {
  stop(): Promise<void>;
}

/** Every record a shard holds now, in order: read until a closed shard ends or an open one is caught up. */
export async function readShardRecords(client: KinesisClient, streamName: string, shardId: string): Promise<_Record[]> {
  const records: _Record[] = [];
  let { ShardIterator: iterator } = await client.send(
    new GetShardIteratorCommand({ StreamName: streamName, ShardId: shardId, ShardIteratorType: "TRIM_HORIZON" }),
  );
  while (iterator) {
    const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
    records.push(...(page.Records ?? []));
    if ((page.Records?.length ?? 0) === 0 && (page.MillisBehindLatest ?? 0) === 0) break;
    iterator = page.NextShardIterator;
  }
  return records;
}

/** Every record's data in a stream, shard by shard in order (a bounded read for tests and reports). */
export async function readAllRecordData(client: KinesisClient, streamName: string): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const shard of await listShards(client, { streamName })) {
    for (const record of await readShardRecords(client, streamName, shard.ShardId ?? "")) out.push(record.Data ?? new Uint8Array());
  }
  return out;
}

export function tailStream(client: KinesisClient, streamName: string, onRecord: (data: Uint8Array) => void, pollMs = 250): StreamTail {
  let stopped = false;
  const iterators = new Map<string, string | undefined>();
  const loop = (async () => {
    while (!stopped) {
      try {
        for (const shard of await listShards(client, { streamName })) {
          const id = shard.ShardId ?? "";
          if (!iterators.has(id)) {
            const start = await client.send(
              new GetShardIteratorCommand({ StreamName: streamName, ShardId: id, ShardIteratorType: "TRIM_HORIZON" }),
            );
            iterators.set(id, start.ShardIterator);
          }
          const iterator = iterators.get(id);
          if (!iterator) continue;
          const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator }));
          iterators.set(id, page.NextShardIterator);
          for (const record of page.Records ?? []) onRecord(record.Data ?? new Uint8Array());
        }
      } catch {
        if (stopped) break;
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
