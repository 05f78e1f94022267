// A consumer of Panes' output stream, with nothing but the AWS SDK: a Lambda function on the output
// stream (an event source mapping, like any Kinesis consumer) that keeps each window's latest result in
// a DynamoDB table of yours. Copy it into your service. What it relies on:
// - a record holds JSON Lines: one window result a line (the results of one key group; a key's results
//   stay on one shard, in order);
// - results are published at least once: the same version can come twice (a retried publish), and a
//   window can have several versions (early results, re-fires of late events, a session that grew);
// - `idempotencyKey` is `pipeline/key/start/version` (`pipeline/key/start-end/version` for cumulating
//   windows and sessions): the window's identity, then its version.
// So the table keeps, per window, the highest version seen: a write conditional on the stored version
// being lower drops repeats and stale versions alike, whatever order they come in.
import { ConditionalCheckFailedException, DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import type { KinesisStreamEvent } from "aws-lambda";

/** One line of an output record. */
export interface WindowResultLine {
  type: "window";
  idempotencyKey: string;
  pipeline: string;
  key: string;
  start: number;
  end: number;
  values: Record<string, number | null>;
  count: number;
  version: number;
  final: boolean;
  firedAt: number;
  /** sessions: the results of this key this one replaces (the session grew, or merged them) */
  supersedes?: { start: number; end: number }[];
  /** HAVING: this version withdraws the window's row (the table then holds the withdrawal as the window's latest) */
  retracted?: true;
}

/** The results an output record holds. */
export function resultsOf(data: Uint8Array): WindowResultLine[] {
  return Buffer.from(data)
    .toString("utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as WindowResultLine);
}

/** The window a result is a version of: its idempotency key without the version. */
export const windowIdOf = (result: WindowResultLine) => result.idempotencyKey.slice(0, result.idempotencyKey.lastIndexOf("/"));

/** Keeps the result if it is newer than what the table holds for its window; false for a repeat or an older version. */
export async function keepLatest(client: DynamoDBClient, table: string, result: WindowResultLine): Promise<boolean> {
  try {
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          window: { S: windowIdOf(result) },
          version: { N: String(result.version) },
          final: { BOOL: result.final },
          result: { S: JSON.stringify(result) },
        },
        ConditionExpression: "attribute_not_exists(#w) OR #v < :v",
        ExpressionAttributeNames: { "#w": "window", "#v": "version" },
        ExpressionAttributeValues: { ":v": { N: String(result.version) } },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

const client = new DynamoDBClient({});

/** The Lambda handler: every result of every record, kept if newer. (LATEST_TABLE: a table keyed by `window`, a string.) */
export async function handler(event: KinesisStreamEvent, dynamodb: DynamoDBClient = client): Promise<{ kept: number; dropped: number }> {
  const table = process.env.LATEST_TABLE ?? "panes-latest";
  let kept = 0;
  let dropped = 0;
  for (const record of event.Records)
    for (const result of resultsOf(Buffer.from(record.kinesis.data, "base64"))) {
      if (await keepLatest(dynamodb, table, result)) kept++;
      else dropped++;
    }
  return { kept, dropped };
}
