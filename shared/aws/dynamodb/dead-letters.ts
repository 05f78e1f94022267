// The dead-letter store: records that are invalid for a pipeline (with the reason and the original
// bytes) and events that arrived too late for any window. Keyed by shard and sequence number, so a
// redelivered batch writes the same items again rather than new ones.
import type { DynamoDBClient, WriteRequest } from "@aws-sdk/client-dynamodb";
import type { DeadLetter, DeadLetterKind } from "../../core/types.ts";
import { type Item, N, num, S, str } from "./attributes.ts";
import { padSequence } from "./keys.ts";
import { batchWriteAll, scanAll } from "./requests.ts";
import { STUCK_PREFIX } from "./stuck.ts";

/** DynamoDB items are at most 400 KB: larger records keep their first bytes (the stream keeps the rest for its retention). */
export const MAX_STORED_BYTES = 300_000;

function letterKey(letter: DeadLetter): { pk: Item[string]; sk: Item[string] } {
  const sub = letter.subSequenceNumber === undefined ? "" : `.${String(letter.subSequenceNumber).padStart(10, "0")}`;
  return { pk: S(`${letter.kind}#${letter.shardId}`), sk: S(`${padSequence(letter.sequenceNumber)}${sub}#${letter.pipeline}`) };
}

function encodeDeadLetter(letter: DeadLetter, ttlSeconds: number | undefined): Item {
  const item: Item = {
    ...letterKey(letter),
    kind: S(letter.kind),
    pipeline: S(letter.pipeline),
    reason: S(letter.reason),
    shardId: S(letter.shardId),
    seq: S(letter.sequenceNumber),
    ...(letter.subSequenceNumber === undefined ? {} : { subSeq: N(letter.subSequenceNumber) }),
    partitionKey: S(letter.partitionKey),
    data: { B: letter.data.byteLength > MAX_STORED_BYTES ? letter.data.subarray(0, MAX_STORED_BYTES) : letter.data },
    size: N(letter.data.byteLength),
    acceptedBy: { L: (letter.acceptedBy ?? []).map((p) => S(p)) },
    arrivedAt: N(letter.arrivedAt),
    recordedAt: N(letter.recordedAt),
    ...(letter.windows === undefined ? {} : { windows: { L: letter.windows.map((w) => ({ M: { start: N(w.start), end: N(w.end) } })) } }),
  };
  if (ttlSeconds !== undefined) item.ttl = N(Math.floor(letter.recordedAt / 1000) + ttlSeconds);
  return item;
}

function decodeDeadLetter(item: Item): DeadLetter {
  return {
    kind: (str(item, "kind") ?? "invalid") as DeadLetterKind,
    pipeline: str(item, "pipeline") ?? "*",
    reason: str(item, "reason") ?? "",
    shardId: str(item, "shardId") ?? "",
    sequenceNumber: str(item, "seq") ?? "",
    subSequenceNumber: num(item, "subSeq"),
    partitionKey: str(item, "partitionKey") ?? "",
    data: item.data?.B ?? new Uint8Array(),
    arrivedAt: num(item, "arrivedAt") ?? 0,
    recordedAt: num(item, "recordedAt") ?? 0,
    acceptedBy: (item.acceptedBy?.L ?? []).map((v) => v.S ?? ""),
    size: num(item, "size"),
    ...(item.windows?.L === undefined
      ? {}
      : { windows: item.windows.L.map((w) => ({ start: Number(w.M?.start?.N ?? 0), end: Number(w.M?.end?.N ?? 0) })) }),
  };
}

export async function putDeadLetters(
  client: DynamoDBClient,
  tableName: string,
  letters: readonly DeadLetter[],
  ttlSeconds?: number,
): Promise<void> {
  // One item per (shard, sequence number, pipeline): a record refused twice in one batch is stored once.
  const unique = new Map(letters.map((l) => [`${l.kind}/${l.shardId}/${l.sequenceNumber}/${l.subSequenceNumber ?? ""}/${l.pipeline}`, l]));
  const requests: WriteRequest[] = [...unique.values()].map((l) => ({ PutRequest: { Item: encodeDeadLetter(l, ttlSeconds) } }));
  await batchWriteAll(client, tableName, requests);
}

/** Every dead letter, oldest shard position first (parked keys, see stuck.ts, are not letters). An operator's tool: it scans. */
export async function listDeadLetters(client: DynamoDBClient, tableName: string, kind?: DeadLetterKind): Promise<DeadLetter[]> {
  const letters = (await scanAll(client, { TableName: tableName, ConsistentRead: true }))
    .filter((item) => !(str(item, "pk") ?? "").startsWith(STUCK_PREFIX))
    .map(decodeDeadLetter);
  return letters
    .filter((l) => kind === undefined || l.kind === kind)
    .sort((a, b) => a.shardId.localeCompare(b.shardId) || (BigInt(a.sequenceNumber) < BigInt(b.sequenceNumber) ? -1 : 1));
}

/** Removes dead letters (after a redrive). */
export async function deleteDeadLetters(client: DynamoDBClient, tableName: string, letters: readonly DeadLetter[]): Promise<void> {
  const requests: WriteRequest[] = letters.map((l) => ({
    DeleteRequest: { Key: letterKey(l) },
  }));
  await batchWriteAll(client, tableName, requests);
}
