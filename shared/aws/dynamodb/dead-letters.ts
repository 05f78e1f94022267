// The dead-letter store: records that are invalid for a pipeline (with the reason and the original
// bytes) and events that arrived too late for any window. Keyed by shard and sequence number, so a
// redelivered batch writes the same items again rather than new ones.
import type { DynamoDBClient, WriteRequest } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import type { DeadLetter, DeadLetterKind } from "../../core/types.ts";
import { type Item, str } from "./attributes.ts";
import { padSequence } from "./keys.ts";
import { PARKED_PREFIX } from "./parked.ts";
import { batchWriteAll, scanAll } from "./requests.ts";

/** Partition prefix of letters about state the closing logic could not store (not records). */
export const STATE_LETTER_PREFIX = "state#";

/** DynamoDB items are at most 400 KB: larger records keep their first bytes (the stream keeps the rest for its retention). */
export const MAX_STORED_BYTES = 300_000;

function letterKey(letter: DeadLetter): { pk: string; sk: string } {
  const sub = letter.subSequenceNumber === undefined ? "" : `.${String(letter.subSequenceNumber).padStart(10, "0")}`;
  // Letters about state (not records) have partitions of their own: the closing logic may write only those.
  const partition = letter.origin === "state" ? `${STATE_LETTER_PREFIX}${letter.shardId}` : `${letter.kind}#${letter.shardId}`;
  return { pk: partition, sk: `${padSequence(letter.sequenceNumber)}${sub}#${letter.pipeline}` };
}

/** A letter as its item holds it: the record's fields, `seq` and `subSeq` for its place, the first bytes of a large record. */
interface StoredLetter extends Omit<DeadLetter, "sequenceNumber" | "subSequenceNumber"> {
  seq: string;
  subSeq?: number;
}

function encodeDeadLetter(letter: DeadLetter, ttlSeconds: number | undefined): Item {
  const { sequenceNumber, subSequenceNumber, ...rest } = letter;
  const stored: StoredLetter & { pk: string; sk: string; ttl?: number } = {
    ...letterKey(letter),
    ...rest,
    seq: sequenceNumber,
    subSeq: subSequenceNumber,
    data: letter.data.byteLength > MAX_STORED_BYTES ? letter.data.subarray(0, MAX_STORED_BYTES) : letter.data,
    size: letter.data.byteLength,
    acceptedBy: letter.acceptedBy ?? [],
    ttl: ttlSeconds === undefined ? undefined : Math.floor(letter.recordedAt / 1000) + ttlSeconds,
  };
  return marshall(stored, { removeUndefinedValues: true });
}

function decodeDeadLetter(item: Item): DeadLetter {
  const { pk: _pk, sk: _sk, ttl: _ttl, seq, subSeq, ...rest } = unmarshall(item) as StoredLetter & { pk: string; sk: string; ttl?: number };
  return { ...rest, sequenceNumber: seq, ...(subSeq === undefined ? {} : { subSequenceNumber: subSeq }) };
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

/** Every dead letter, oldest shard position first (parked keys, see parked.ts, are not letters). An operator's tool: it scans. */
export async function listDeadLetters(client: DynamoDBClient, tableName: string, kind?: DeadLetterKind): Promise<DeadLetter[]> {
  const letters = (await scanAll(client, { TableName: tableName, ConsistentRead: true }))
    .filter((item) => !(str(item, "pk") ?? "").startsWith(PARKED_PREFIX))
    .map(decodeDeadLetter);
  return letters
    .filter((l) => kind === undefined || l.kind === kind)
    .sort((a, b) => a.shardId.localeCompare(b.shardId) || (BigInt(a.sequenceNumber) < BigInt(b.sequenceNumber) ? -1 : 1));
}

/** Removes dead letters (after a redrive). */
export async function deleteDeadLetters(client: DynamoDBClient, tableName: string, letters: readonly DeadLetter[]): Promise<void> {
  const requests: WriteRequest[] = letters.map((l) => ({
    DeleteRequest: { Key: marshall(letterKey(l)) },
  }));
  await batchWriteAll(client, tableName, requests);
}
