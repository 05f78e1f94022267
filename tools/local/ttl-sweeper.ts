// DynamoDB deletes an item some time after its TTL attribute passes; dynalite never does (it has no
// UpdateTimeToLive), so a long-running local stack would keep every expired pane, log entry, result and
// dead letter. The local stack runs this sweeper instead: every so often it scans each table for items
// whose TTL attribute (the one the CDK stack enables, from the shared table definitions) has passed, and
// deletes each one on the condition that it is still expired — a write that renewed the item wins, as
// it does against DynamoDB's own TTL process. Deleting soon after expiry is one of the behaviours
// DynamoDB allows, so nothing may depend on an expired item still being there. Dev-only.
import { DeleteItemCommand, type DynamoDBClient, paginateScan } from "@aws-sdk/client-dynamodb";
import { isConditionalFailure, N } from "../../shared/aws/dynamodb/attributes.ts";
import type { TableDefinition } from "../../shared/aws/dynamodb/tables.ts";

export interface SweptTable {
  name: string;
  definition: TableDefinition;
}

export interface TtlSweeper {
  /** items deleted so far, by table */
  readonly deleted: Map<string, number>;
  /** one pass over every table now; resolves with the items it deleted */
  sweep(): Promise<number>;
  stop(): Promise<void>;
}

export function startTtlSweeper(
  dynamodb: DynamoDBClient,
  tables: readonly SweptTable[],
  options: { everyMs: number; now?: () => number; onError?: (error: Error) => void },
): TtlSweeper {
  const deleted = new Map<string, number>(tables.map((t) => [t.name, 0]));
  const now = options.now ?? Date.now;

  const sweepTable = async ({ name, definition }: SweptTable): Promise<number> => {
    const { partitionKey, sortKey, ttlAttribute } = definition;
    const names = { "#ttl": ttlAttribute };
    const values = { ":now": N(Math.floor(now() / 1000)) };
    let count = 0;
    const pages = paginateScan(
      { client: dynamodb },
      {
        TableName: name,
        ProjectionExpression: "#pk, #sk",
        FilterExpression: "#ttl < :now",
        ExpressionAttributeNames: { ...names, "#pk": partitionKey, "#sk": sortKey },
        ExpressionAttributeValues: values,
      },
    );
    for await (const page of pages) {
      for (const key of page.Items ?? []) {
        try {
          await dynamodb.send(
            new DeleteItemCommand({
              TableName: name,
              Key: key,
              ConditionExpression: "#ttl < :now",
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
            }),
          );
          count++;
        } catch (error) {
          if (!isConditionalFailure(error)) throw error;
        }
      }
    }
    deleted.set(name, (deleted.get(name) ?? 0) + count);
    return count;
  };

  let running: Promise<number> = Promise.resolve(0);
  const sweep = () => {
    running = running.catch(() => 0).then(async () => (await Promise.all(tables.map(sweepTable))).reduce((a, b) => a + b, 0));
    return running;
  };
  const timer = setInterval(() => {
    void sweep().catch((error: Error) => options.onError?.(error));
  }, options.everyMs);
  timer.unref();

  return {
    deleted,
    sweep,
    async stop() {
      clearInterval(timer);
      await running.catch(() => undefined);
    },
  };
}
