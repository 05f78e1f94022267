// The three tables, built from shared/aws/dynamodb/tables.ts (as the local stack builds them): encrypted,
// with TTL and point-in-time recovery. Results and dead letters survive stack deletion. State and
// results are billed on demand, or provisioned with auto scaling (tables and their indexes) when the
// deployment asks; dead letters, rare, always on demand.
import { RemovalPolicy } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import { Construct } from "constructs";
import { DEAD_LETTER_TABLE, RESULTS_TABLE, STATE_TABLE, type TableDefinition } from "#shared/aws/dynamodb/tables.ts";

export type TableCapacity =
  | { mode: "on-demand" }
  | { mode: "provisioned"; minWrite: number; maxWrite: number; minRead: number; maxRead: number; targetUtilization: number };

function tableFrom(scope: Construct, definition: TableDefinition, removalPolicy: RemovalPolicy, capacity: TableCapacity): dynamodb.Table {
  const provisioned = capacity.mode === "provisioned" ? capacity : undefined;
  const table = new dynamodb.Table(scope, definition.id, {
    partitionKey: { name: definition.partitionKey, type: dynamodb.AttributeType.STRING },
    sortKey: { name: definition.sortKey, type: dynamodb.AttributeType.STRING },
    ...(provisioned
      ? { billingMode: dynamodb.BillingMode.PROVISIONED, readCapacity: provisioned.minRead, writeCapacity: provisioned.minWrite }
      : { billingMode: dynamodb.BillingMode.PAY_PER_REQUEST }),
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
      ...(provisioned ? { readCapacity: provisioned.minRead, writeCapacity: provisioned.minWrite } : {}),
    });
  }
  if (provisioned) {
    const target = { targetUtilizationPercent: provisioned.targetUtilization };
    const reads = { minCapacity: provisioned.minRead, maxCapacity: provisioned.maxRead };
    const writes = { minCapacity: provisioned.minWrite, maxCapacity: provisioned.maxWrite };
    table.autoScaleReadCapacity(reads).scaleOnUtilization(target);
    table.autoScaleWriteCapacity(writes).scaleOnUtilization(target);
    for (const index of definition.indexes) {
      table.autoScaleGlobalSecondaryIndexReadCapacity(index.name, reads).scaleOnUtilization(target);
      table.autoScaleGlobalSecondaryIndexWriteCapacity(index.name, writes).scaleOnUtilization(target);
    }
  }
  return table;
}

/** Which tables outlive the stack (`keep` in the configuration): kept ones are retained and deletion-protected. */
export interface KeptTables {
  results: boolean;
  deadLetters: boolean;
}

const removalOf = (kept: boolean) => (kept ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY);

export class Storage extends Construct {
  /** panes, checkpoints, watermarks: rebuilt by replaying the stream, so it always goes with the stack */
  readonly state: dynamodb.Table;
  /** the results ledger: by default retained and deletion-protected */
  readonly results: dynamodb.Table;
  /** invalid and too-late records with their bytes: by default retained and deletion-protected */
  readonly deadLetters: dynamodb.Table;

  private readonly definitions = new Map<dynamodb.Table, TableDefinition>();

  constructor(
    scope: Construct,
    id: string,
    capacity: TableCapacity = { mode: "on-demand" },
    keep: KeptTables = { results: true, deadLetters: true },
  ) {
    super(scope, id);
    this.state = tableFrom(this, STATE_TABLE, RemovalPolicy.DESTROY, capacity);
    this.results = tableFrom(this, RESULTS_TABLE, removalOf(keep.results), capacity);
    this.deadLetters = tableFrom(this, DEAD_LETTER_TABLE, removalOf(keep.deadLetters), { mode: "on-demand" });
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
