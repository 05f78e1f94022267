// The Panes stack: source stream → ingest function (event source mapping with partial batch
// responses, bisect, bounded retries, SQS on-failure) → DynamoDB state; a scheduled watermark function
// → results ledger and output stream. Tables are built from shared/state/tables.ts, as the local stack is.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as kinesis from "aws-cdk-lib/aws-kinesis";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { KinesisEventSource, SqsDlq } from "aws-cdk-lib/aws-lambda-event-sources";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { TABLES, type TableDefinition } from "#shared/state/tables.ts";
import { parseDuration } from "#shared/windows/duration.ts";
import type { DeploymentConfig } from "./config.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

export interface PanesStackProps extends StackProps {
  config: DeploymentConfig;
  /** the pipelines file's content, already validated */
  pipelinesJson: unknown;
}

const ms = (text: string) => Duration.millis(parseDuration(text) ?? 0);

function tableFrom(
  scope: Construct,
  definition: TableDefinition,
  options: { retain: boolean; pointInTimeRecovery: boolean },
): dynamodb.Table {
  const table = new dynamodb.Table(scope, `${definition.id}Table`, {
    partitionKey: { name: definition.partitionKey, type: dynamodb.AttributeType.STRING },
    sortKey: { name: definition.sortKey, type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    encryption: dynamodb.TableEncryption.AWS_MANAGED,
    timeToLiveAttribute: definition.ttlAttribute,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: options.pointInTimeRecovery },
    removalPolicy: options.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
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

export class PanesStack extends Stack {
  constructor(scope: Construct, id: string, props: PanesStackProps) {
    super(scope, id, props);
    const { config } = props;

    const source = new kinesis.Stream(this, "SourceStream", {
      streamMode: kinesis.StreamMode.ON_DEMAND,
      encryption: kinesis.StreamEncryption.MANAGED,
    });
    const output = new kinesis.Stream(this, "OutputStream", {
      streamMode: kinesis.StreamMode.ON_DEMAND,
      encryption: kinesis.StreamEncryption.MANAGED,
    });

    const [stateDef, resultsDef, deadLetterDef] = TABLES;
    const state = tableFrom(this, stateDef, { retain: false, pointInTimeRecovery: false });
    const results = tableFrom(this, resultsDef, { retain: true, pointInTimeRecovery: true });
    const deadLetters = tableFrom(this, deadLetterDef, { retain: true, pointInTimeRecovery: false });

    const onFailure = new sqs.Queue(this, "IngestOnFailureQueue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    // The validated pipelines travel inside the bundle (environment variables are limited to 4 KB).
    const staging = mkdtempSync(join(tmpdir(), "panes-pipelines-"));
    const pipelinesPath = join(staging, "pipelines.json");
    writeFileSync(pipelinesPath, JSON.stringify(props.pipelinesJson));
    const bundling: nodejs.BundlingOptions = {
      format: nodejs.OutputFormat.ESM,
      target: "node22",
      minify: true,
      sourceMap: true,
      mainFields: ["module", "main"],
      // ESM bundles still meet CommonJS dependencies that call require().
      banner: "import { createRequire as __panesCreateRequire } from 'module'; const require = __panesCreateRequire(import.meta.url);",
      commandHooks: {
        beforeBundling: () => [],
        beforeInstall: () => [],
        afterBundling: (_input: string, outputDir: string) => [`cp "${pipelinesPath}" "${outputDir}/pipelines.json"`],
      },
    };
    const environment = {
      PANES_STATE_TABLE: state.tableName,
      PANES_RESULTS_TABLE: results.tableName,
      PANES_DEAD_LETTER_TABLE: deadLetters.tableName,
      PANES_SOURCE_STREAM_ARN: source.streamArn,
      PANES_OUTPUT_STREAM_ARN: output.streamArn,
      PANES_WRITE_CONCURRENCY: String(config.writeConcurrency),
      PANES_RESULT_RETENTION_DAYS: String(config.resultRetentionDays),
      POWERTOOLS_SERVICE_NAME: "panes",
      POWERTOOLS_METRICS_NAMESPACE: "Panes",
      NODE_OPTIONS: "--enable-source-maps",
    };
    const functionDefaults = {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 1024,
      bundling,
      environment,
      depsLockFilePath: join(root, "package-lock.json"),
      projectRoot: root,
      tracing: lambda.Tracing.ACTIVE,
    };

    const ingest = new nodejs.NodejsFunction(this, "IngestFunction", {
      ...functionDefaults,
      description: "Panes: assigns events to panes and applies fenced, exactly-once state updates",
      entry: join(root, "functions/lambda/ingest.ts"),
      timeout: Duration.minutes(1),
      logGroup: new logs.LogGroup(this, "IngestLogs", { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY }),
    });
    state.grantReadWriteData(ingest);
    deadLetters.grantWriteData(ingest);
    ingest.addEventSource(
      new KinesisEventSource(source, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: config.batchSize,
        maxBatchingWindow: ms(config.maxBatchingWindow),
        reportBatchItemFailures: true,
        bisectBatchOnError: true,
        retryAttempts: config.retryAttempts,
        maxRecordAge: ms(config.maxRecordAge),
        parallelizationFactor: 1,
        onFailure: new SqsDlq(onFailure),
      }),
    );

    const watermark = new nodejs.NodejsFunction(this, "WatermarkFunction", {
      ...functionDefaults,
      description: "Panes: advances watermarks, fires due windows once into the results ledger, publishes them",
      entry: join(root, "functions/lambda/watermark.ts"),
      timeout: Duration.minutes(5),
      logGroup: new logs.LogGroup(this, "WatermarkLogs", { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY }),
    });
    state.grantReadWriteData(watermark);
    results.grantReadWriteData(watermark);
    source.grant(watermark, "kinesis:ListShards");
    output.grantWrite(watermark);
    new events.Rule(this, "WatermarkSchedule", {
      description: "Panes: runs the watermark function (the backstop that closes windows of idle streams)",
      schedule: events.Schedule.rate(ms(config.watermarkSchedule)),
      targets: [new targets.LambdaFunction(watermark, { retryAttempts: 2 })],
    });

    new CfnOutput(this, "SourceStreamName", { value: source.streamName, description: "point producers here" });
    new CfnOutput(this, "OutputStreamName", { value: output.streamName });
    new CfnOutput(this, "ResultsTableName", { value: results.tableName, description: "panes results --table" });
    new CfnOutput(this, "DeadLetterTableName", { value: deadLetters.tableName, description: "panes dlq list --table" });
    new CfnOutput(this, "StateTableName", { value: state.tableName });
  }
}
