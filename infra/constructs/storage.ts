// The three tables, built from shared/aws/dynamodb/tables.ts (as the local stack builds them): encrypted,
// on demand, with TTL and point-in-time recovery. Results and dead letters survive stack deletion.
import { RemovalPolicy } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import { Construct } from "constructs";
import { DEAD_LETTER_TABLE, RESULTS_TABLE, STATE_TABLE, type TableDefinition } from "#shared/aws/dynamodb/tables.ts";

function tableFrom(scope: Construct, definition: TableDefinition, removalPolicy: RemovalPolicy): dynamodb.Table {
  const table = new dynamodb.Table(scope, definition.id, {
    partitionKey: { name: definition.partitionKey, type: dynamodb.AttributeType.STRING },
    sortKey: { name: definition.sortKey, type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    encryption: dynamodb.TableEncryption.AWS_MANAGED,
    timeToLiveAttribute: definition.ttlAttribute,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true, recoveryPeriodInDays: 35 },
    deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
    removalPolicy,
  });
  for (const index of definition.indexes) {
    table.addGlobalSecondaryIndex({
      indexName: index.name,
      partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: index.sortKey, type: index.sortKeyType === "N" ? dynamodb.AttributeType.NUMBER : dynamodb.AttributeType.STRING },
      projectionType: index.projection === "ALL" ? dynamodb.ProjectionType.ALL : dynamodb.ProjectionType.KEYS_ONLY,
    });
  }
  return table;
}

export class Storage extends Construct {
  /** panes, checkpoints, watermarks: rebuilt by replaying the stream, so it goes with the stack */
  readonly state: dynamodb.Table;
  /** the results ledger: retained and deletion-protected */
  readonly results: dynamodb.Table;
  /** invalid and too-late records with their bytes: retained and deletion-protected */
  readonly deadLetters: dynamodb.Table;

  private readonly definitions = new Map<dynamodb.Table, TableDefinition>();

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.state = tableFrom(this, STATE_TABLE, RemovalPolicy.DESTROY);
    this.results = tableFrom(this, RESULTS_TABLE, RemovalPolicy.RETAIN);
    this.deadLetters = tableFrom(this, DEAD_LETTER_TABLE, RemovalPolicy.RETAIN);
    this.definitions.set(this.state, STATE_TABLE).set(this.results, RESULTS_TABLE).set(this.deadLetters, DEAD_LETTER_TABLE);
  }

  /** The ARN of one index of one of these tables, for a statement that queries that index and no other. */
  indexArn(table: dynamodb.Table, indexName: string): string {
    const definition = this.definitions.get(table);
    if (!definition?.indexes.some((index) => index.name === indexName)) {
      throw new Error(`table ${definition?.id ?? table.node.path} has no index "${indexName}"`);
    }
    return `${table.tableArn}/index/${indexName}`;
  }
}
