// What DynamoDB would bill, measured: every request asks for its ConsumedCapacity (with the indexes'),
// and the units it reports are added up — read and write request units, per table and index. dynalite
// reports them like DynamoDB does (tools/local/dynalite-billed.cjs adds the indexes' write units, which
// it leaves out). Two things no answer carries are estimated the way AWS bills them: a write whose
// condition failed (the larger of 1 and the written item's 1 KB units; AWS counts the stored item's,
// which is the same size for every conditional write Panes makes), and BatchGetItem / BatchWriteItem,
// for which dynalite reports nothing (4 KB units per item read strongly consistently, 1 KB units per
// item written).
import type { AttributeValue, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { approximateItemBytes } from "../../shared/aws/dynamodb/panes.ts";

type Item = Record<string, AttributeValue>;

export interface CapacityMeter {
  readUnits: number;
  writeUnits: number;
  /** conditional writes whose condition failed (their units are in writeUnits) */
  failedConditionalWrites: number;
  requests: number;
  /**
   * Bytes the successful writes wrote: whole items put, and the values an update set — what a writer
   * that packed every byte into full 1 KB units would pay (the floor of write units).
   */
  bytesWritten: number;
  /** units by table or index name (index units under "table/index"), reads and writes */
  byName: Map<string, { read: number; write: number }>;
  reset(): void;
}

const READS = new Set(["GetItemCommand", "QueryCommand", "ScanCommand", "BatchGetItemCommand"]);
const WRITES = new Set(["PutItemCommand", "UpdateItemCommand", "DeleteItemCommand", "BatchWriteItemCommand"]);

interface Consumed {
  TableName?: string;
  CapacityUnits?: number;
  Table?: { CapacityUnits?: number };
  GlobalSecondaryIndexes?: Record<string, { CapacityUnits?: number }>;
}

const kb = (item: Item, size: number) => Math.max(1, Math.ceil(approximateItemBytes(item) / size));

/** The bytes a successful write request wrote (see CapacityMeter.bytesWritten). */
function bytesOf(command: string, input: Record<string, unknown>): number {
  if (command === "PutItemCommand") return approximateItemBytes(input.Item as Item);
  if (command === "UpdateItemCommand") return approximateItemBytes((input.ExpressionAttributeValues ?? {}) as Item);
  if (command !== "BatchWriteItemCommand") return 0;
  let bytes = 0;
  for (const writes of Object.values((input.RequestItems ?? {}) as Record<string, { PutRequest?: { Item: Item } }[]>))
    for (const w of writes) if (w.PutRequest) bytes += approximateItemBytes(w.PutRequest.Item);
  return bytes;
}

/** Counts what `client` consumes from now on (until reset). */
export function meterCapacity(client: DynamoDBClient): CapacityMeter {
  const meter: CapacityMeter = {
    readUnits: 0,
    writeUnits: 0,
    failedConditionalWrites: 0,
    requests: 0,
    bytesWritten: 0,
    byName: new Map(),
    reset() {
      meter.bytesWritten = 0;
      meter.readUnits = 0;
      meter.writeUnits = 0;
      meter.failedConditionalWrites = 0;
      meter.requests = 0;
      meter.byName.clear();
    },
  };
  const add = (name: string, units: number, kind: "read" | "write") => {
    if (units === 0) return;
    if (kind === "read") meter.readUnits += units;
    else meter.writeUnits += units;
    const entry = meter.byName.get(name) ?? { read: 0, write: 0 };
    entry[kind] += units;
    meter.byName.set(name, entry);
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? "";
      const kind = READS.has(command) ? "read" : WRITES.has(command) ? "write" : undefined;
      const input = args.input as Record<string, unknown>;
      if (kind === undefined) return next(args);
      meter.requests++;
      input.ReturnConsumedCapacity = "INDEXES";
      try {
        const result = await next(args);
        if (kind === "write") meter.bytesWritten += bytesOf(command, input);
        const output = result.output as { ConsumedCapacity?: Consumed | Consumed[]; Responses?: Record<string, Item[]> };
        const consumed = output.ConsumedCapacity === undefined ? [] : [output.ConsumedCapacity].flat();
        if (consumed.length > 0) {
          for (const c of consumed) {
            const table = c.TableName ?? String(input.TableName ?? "");
            const indexes = Object.entries(c.GlobalSecondaryIndexes ?? {});
            const onIndexes = indexes.reduce((n, [, i]) => n + (i.CapacityUnits ?? 0), 0);
            add(table, (c.CapacityUnits ?? 0) - onIndexes, kind);
            for (const [index, units] of indexes) add(`${table}/${index}`, units.CapacityUnits ?? 0, kind);
          }
        } else if (command === "BatchGetItemCommand") {
          for (const [table, items] of Object.entries(output.Responses ?? {}))
            add(
              table,
              items.reduce((n, item) => n + kb(item, 4096), 0),
              kind,
            );
        } else if (command === "BatchWriteItemCommand") {
          const requests = (input.RequestItems ?? {}) as Record<string, { PutRequest?: { Item: Item }; DeleteRequest?: unknown }[]>;
          for (const [table, writes] of Object.entries(requests))
            add(
              table,
              writes.reduce((n, w) => n + (w.PutRequest ? kb(w.PutRequest.Item, 1024) : 1), 0),
              kind,
            );
        }
        return result;
      } catch (error) {
        if ((error as Error).name === "ConditionalCheckFailedException") {
          meter.failedConditionalWrites++;
          add(String(input.TableName ?? ""), input.Item ? kb(input.Item as Item, 1024) : 1, "write");
        }
        throw error;
      }
    },
    { step: "initialize", name: "panesCapacityMeter" },
  );
  return meter;
}
