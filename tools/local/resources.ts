// Creates the stream(s) and tables of a Panes deployment on an endpoint (emulator or LocalStack),
// from the same table definitions the CDK stack uses.
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  ResourceInUseException as StreamInUse,
} from "@aws-sdk/client-kinesis";
import { TABLES, type TableDefinition } from "../../shared/aws/dynamodb/tables.ts";

export interface LocalNames {
  sourceStream: string;
  outputStream: string;
  stateTable: string;
  resultsTable: string;
  deadLetterTable: string;
  /** the closing units' queue (in-process: unit-queue.ts) */
  unitsQueue: string;
}

export function localNames(prefix: string): LocalNames {
  return {
    sourceStream: `${prefix}-events`,
    outputStream: `${prefix}-results`,
    stateTable: `${prefix}-state`,
    resultsTable: `${prefix}-results`,
    deadLetterTable: `${prefix}-dead-letters`,
    unitsQueue: `${prefix}-closing-units`,
  };
}

function tableNameOf(names: LocalNames, table: TableDefinition): string {
  return table.id === "State" ? names.stateTable : table.id === "Results" ? names.resultsTable : names.deadLetterTable;
}

async function createTable(client: DynamoDBClient, name: string, table: TableDefinition): Promise<void> {
  const attributes = new Map<string, "S" | "N">([
    [table.partitionKey, "S"],
    [table.sortKey, "S"],
  ]);
  for (const index of table.indexes) {
    attributes.set(index.partitionKey, "S");
    attributes.set(index.sortKey, index.sortKeyType);
  }
  const indexes: GlobalSecondaryIndex[] = table.indexes.map((index) => ({
    IndexName: index.name,
    KeySchema: [
      { AttributeName: index.partitionKey, KeyType: "HASH" },
      { AttributeName: index.sortKey, KeyType: "RANGE" },
    ],
    Projection: { ProjectionType: index.projection },
  }));
  try {
    await client.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [...attributes].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType })),
        KeySchema: [
          { AttributeName: table.partitionKey, KeyType: "HASH" },
          { AttributeName: table.sortKey, KeyType: "RANGE" },
        ],
        GlobalSecondaryIndexes: indexes.length > 0 ? indexes : undefined,
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  for (let i = 0; i < 600; i++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
    if (Table?.TableStatus === "ACTIVE") break;
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    await client.send(
      new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: table.ttlAttribute, Enabled: true } }),
    );
  } catch {
    // dynalite has no TTL API; TTL only saves cost in AWS, correctness never depends on it.
  }
}

export async function createStream(client: KinesisClient, name: string, shards: number): Promise<string> {
  try {
    await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  } catch (error) {
    if (!(error instanceof StreamInUse)) throw error;
  }
  for (let i = 0; i < 600; i++) {
    const { StreamDescriptionSummary } = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (StreamDescriptionSummary?.StreamStatus === "ACTIVE") return StreamDescriptionSummary.StreamARN ?? "";
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`stream ${name} did not become ACTIVE`);
}

/** The tables of a local deployment with their definitions (the TTL sweeper needs both). */
export function localTables(names: LocalNames): { name: string; definition: TableDefinition }[] {
  return TABLES.map((definition) => ({ name: tableNameOf(names, definition), definition }));
}

export async function createTables(dynamodb: DynamoDBClient, names: LocalNames): Promise<void> {
  await Promise.all(TABLES.map((table) => createTable(dynamodb, tableNameOf(names, table), table)));
}

export async function createResources(
  dynamodb: DynamoDBClient,
  kinesis: KinesisClient,
  names: LocalNames,
  shards: number,
): Promise<{ sourceStreamArn: string; outputStreamArn: string }> {
  await createTables(dynamodb, names);
  const sourceStreamArn = await createStream(kinesis, names.sourceStream, shards);
  const outputStreamArn = await createStream(kinesis, names.outputStream, 1);
  return { sourceStreamArn, outputStreamArn };
}
