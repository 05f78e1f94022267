// Records written by the Kinesis Producer Library pack many user records into one Kinesis record
// (magic bytes, protobuf, MD5). The ingest function unpacks them; each user record keeps the Kinesis
// sequence number and gets its sub-sequence number, so fences work per user record.
import { createRequire } from "node:module";
import type { StreamRecord } from "../../core/types.ts";

const require = createRequire(import.meta.url);

interface UserRecord {
  partitionKey: string;
  sequenceNumber: string;
  subSequenceNumber: number;
  data: string;
}

interface KplModule {
  deaggregateSync(record: object, computeChecksums: boolean, done: (error: Error | null, records?: UserRecord[]) => void): void;
  aggregate(
    records: { partitionKey: string; data: Buffer }[],
    onEncoded: (encoded: { partitionKey: string; data: Buffer }, done: (error?: Error) => void) => void,
    afterAll: () => void,
    onError: (error: Error) => void,
  ): void;
}

// The package is CommonJS and its type declarations need the v2 SDK; it is used through this narrow interface.
const kpl = require("aws-kinesis-agg") as KplModule;

/** The KPL's magic bytes, 0xF3 0x89 0x9A 0xC2, compared in place (every record is asked). */
export function isAggregated(data: Uint8Array): boolean {
  return data.byteLength > 20 && data[0] === 0xf3 && data[1] === 0x89 && data[2] === 0x9a && data[3] === 0xc2;
}

/** The user records inside a KPL-aggregated record, or the record itself; a corrupt one stays whole (and is dead-lettered as not JSON). */
export function deaggregateRecord(record: StreamRecord): StreamRecord[] {
  if (!isAggregated(record.data)) return [record];
  let users: UserRecord[] | undefined;
  kpl.deaggregateSync(
    { data: Buffer.from(record.data).toString("base64"), sequenceNumber: record.sequenceNumber, partitionKey: record.partitionKey },
    true,
    (error, records) => {
      users = error ? undefined : records;
    },
  );
  if (!users) return [record];
  return users.map((u) => ({
    ...record,
    partitionKey: u.partitionKey,
    data: Buffer.from(u.data, "base64"),
    subSequenceNumber: u.subSequenceNumber,
  }));
}

/** Packs user records KPL-style (at most ~1 MB per Kinesis record); the aggregation keeps their order. */
export function aggregateRecords(
  records: readonly { partitionKey: string; data: Uint8Array }[],
): Promise<{ partitionKey: string; data: Uint8Array }[]> {
  return new Promise((resolve, reject) => {
    const encoded: { partitionKey: string; data: Uint8Array }[] = [];
    kpl.aggregate(
      records.map((r) => ({ partitionKey: r.partitionKey, data: Buffer.from(r.data) })),
      (record, done) => {
        encoded.push({ partitionKey: record.partitionKey, data: record.data });
        done();
      },
      () => resolve(encoded),
      reject,
    );
  });
}
