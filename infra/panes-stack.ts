// The Panes stack: source stream → ingest function (event source mapping with partial batch
// responses, bisect, bounded retries, SQS on-failure) → DynamoDB state; a scheduled watermark function
// (the coordinator) → closing units on an SQS queue → closer function → results ledger → output stream
// and/or EventBridge bus; alarms and a dashboard.
import { join } from "node:path";
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Stage } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as kinesis from "aws-cdk-lib/aws-kinesis";
import * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { KinesisEventSource, SqsDlq, SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { STATE_LETTER_PREFIX } from "#shared/aws/dynamodb/dead-letters.ts";
import { PARKED_PREFIX } from "#shared/aws/dynamodb/parked.ts";
import type { Pipeline } from "#shared/core/pipelines/schema.ts";
import type { DeploymentConfig } from "./config.ts";
import { bundlingWithPipelines, LAMBDA_RUNTIME, PROJECT_ROOT } from "./constructs/bundling.ts";
import { ExecutionRole } from "./constructs/execution-role.ts";
import { METRICS_NAMESPACE, Operations, SERVICE_NAME } from "./constructs/operations.ts";
import { Storage } from "./constructs/storage.ts";
import { suppressExpectedFindings } from "./nag-suppressions.ts";

export interface PanesStackProps extends StackProps {
  config: DeploymentConfig;
  /** the validated pipelines */
  pipelines: readonly Pipeline[];
  /** the pipelines file's content as written, shipped inside the bundles */
  pipelinesJson: unknown;
}

const seconds = (ms: number) => String(Math.floor(ms / 1000));

/**
 * What Lambda's event source mapping reads a Kinesis stream with (standard iterator, shared throughput): the
 * Kinesis actions of AWSLambdaKinesisExecutionRole without SubscribeToShard, which only enhanced fan-out uses.
 */
const KINESIS_EVENT_SOURCE_ACTIONS = [
  "kinesis:DescribeStream",
  "kinesis:DescribeStreamSummary",
  "kinesis:GetRecords",
  "kinesis:GetShardIterator",
  "kinesis:ListShards",
  "kinesis:ListStreams",
] as const;

export class PanesStack extends Stack {
  readonly operations: Operations;
  readonly storage: Storage;
  readonly sourceStream: kinesis.IStream;
  readonly outputStream?: kinesis.Stream;
  readonly onFailureQueue: sqs.Queue;
  readonly ingest: nodejs.NodejsFunction;
  readonly watermark: nodejs.NodejsFunction;
  readonly closer: nodejs.NodejsFunction;
  readonly unitsQueue: sqs.Queue;
  readonly unitsDeadLetterQueue: sqs.Queue;
  /** each function's execution role, every permission written out (see constructs/execution-role.ts) */
  readonly roles: { readonly ingest: ExecutionRole; readonly watermark: ExecutionRole; readonly closer: ExecutionRole };

  constructor(scope: Construct, id: string, props: PanesStackProps) {
    super(scope, id, props);
    const { config } = props;

    // Streams use the AWS managed key (aws/kinesis). The alarm topic needs a customer managed key:
    // CloudWatch alarms cannot publish to a topic encrypted with the AWS managed SNS key.
    // It encrypts nothing but alarm notifications in flight: it goes with the stack (deletion is
    // scheduled, the shortest waiting period KMS allows).
    const key = new kms.Key(this, "AlarmTopicKey", {
      description: "Panes: alarm topic encryption",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    // Streams carry events and results for a day: deleted with the stack unless `keep.streams`.
    const streamRemoval = config.keep.streams ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    // An imported stream may be encrypted with a customer managed key: then reading it needs kms:Decrypt on that key.
    const sourceKeyArn = "import" in config.stream ? config.stream.import.encryptionKeyArn : undefined;
    const source =
      "import" in config.stream
        ? kinesis.Stream.fromStreamArn(this, "SourceStream", config.stream.import.arn)
        : new kinesis.Stream(this, "SourceStream", {
            streamMode: config.stream.create.mode === "on-demand" ? kinesis.StreamMode.ON_DEMAND : kinesis.StreamMode.PROVISIONED,
            shardCount: config.stream.create.mode === "provisioned" ? config.stream.create.shards : undefined,
            encryption: kinesis.StreamEncryption.MANAGED,
            retentionPeriod: Duration.days(1),
            removalPolicy: streamRemoval,
          });
    const output = config.outputs.stream
      ? new kinesis.Stream(this, "OutputStream", {
          // Provisioned: one shard (1 MB/s, 1,000 records/s) costs about a third of an idle on-demand stream.
          streamMode: kinesis.StreamMode.PROVISIONED,
          shardCount: config.outputs.streamShards,
          encryption: kinesis.StreamEncryption.MANAGED,
          removalPolicy: streamRemoval,
        })
      : undefined;
    const bus = config.outputs.eventBus ? events.EventBus.fromEventBusName(this, "ResultBus", config.outputs.eventBus) : undefined;

    const storage = new Storage(this, "Tables", config.capacity, config.keep);
    this.storage = storage;
    this.sourceStream = source;
    this.outputStream = output;
    const onFailureQueue = new sqs.Queue(this, "IngestOnFailureQueue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.onFailureQueue = onFailureQueue;

    const bundling = bundlingWithPipelines(props.pipelinesJson, Stage.of(this)?.outdir ?? PROJECT_ROOT);
    const environment: Record<string, string> = {
      PANES_STATE_TABLE: storage.state.tableName,
      PANES_RESULTS_TABLE: storage.results.tableName,
      PANES_DEAD_LETTER_TABLE: storage.deadLetters.tableName,
      PANES_SOURCE_STREAM_ARN: source.streamArn,
      PANES_WRITE_CONCURRENCY: String(config.writeConcurrency),
      PANES_MAX_RECORD_BYTES: String(config.maxRecordBytes),
      PANES_RESULT_TTL_SECONDS: seconds(config.retention.results),
      PANES_DEAD_LETTER_TTL_SECONDS: seconds(config.retention.deadLetters),
      PANES_TOMBSTONE_TTL_SECONDS: seconds(config.retention.tombstones),
      PANES_LOG_TTL_SECONDS: seconds(config.retention.log),
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      NODE_OPTIONS: "--enable-source-maps",
    };
    if (output) environment.PANES_OUTPUT_STREAM_ARN = output.streamArn;
    if (bus) environment.PANES_EVENT_BUS_NAME = bus.eventBusName;
    const functionDefaults = {
      runtime: LAMBDA_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      bundling,
      environment,
      depsLockFilePath: join(PROJECT_ROOT, "package-lock.json"),
      projectRoot: PROJECT_ROOT,
      tracing: lambda.Tracing.ACTIVE,
    };

    // Each function gets only what its code sends (and what Lambda itself does for it), statement by statement
    // below; CDK grants to the functions add nothing (the roles are given without policy updates).
    const ingestLogs = new logs.LogGroup(this, "IngestLogs", {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const watermarkLogs = new logs.LogGroup(this, "WatermarkLogs", {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const closerLogs = new logs.LogGroup(this, "CloserLogs", {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const ingestRole = new ExecutionRole(this, "IngestRole", { logGroup: ingestLogs, description: "Panes ingest function" });
    const watermarkRole = new ExecutionRole(this, "WatermarkRole", { logGroup: watermarkLogs, description: "Panes watermark function" });
    const closerRole = new ExecutionRole(this, "CloserRole", { logGroup: closerLogs, description: "Panes closer function" });
    this.roles = { ingest: ingestRole, watermark: watermarkRole, closer: closerRole };

    // Ingest: one invocation per shard at a time (ParallelizationFactor 1), so no reserved concurrency:
    // reserving fewer than the shard count would throttle and iterator age would grow.
    const ingest = new nodejs.NodejsFunction(this, "IngestFunction", {
      ...functionDefaults,
      memorySize: config.memory.ingest,
      description: "Panes: assigns events to panes, pre-aggregates each batch into one entry of its shard's log, exactly once",
      entry: join(PROJECT_ROOT, "functions/ingest.ts"),
      // A batch is one log entry (and, for session pipelines, a write per key); two minutes leave room for throttling backoff.
      timeout: Duration.minutes(2),
      logGroup: ingestLogs,
      role: ingestRole.forFunction(),
    });
    this.ingest = ingest;
    ingest.addEventSource(
      new KinesisEventSource(source, {
        startingPosition: lambda.StartingPosition[config.eventSource.startingPosition],
        batchSize: config.eventSource.batchSize,
        maxBatchingWindow: Duration.millis(config.eventSource.maxBatchingWindow),
        reportBatchItemFailures: true,
        bisectBatchOnError: true,
        retryAttempts: config.eventSource.retryAttempts,
        maxRecordAge: Duration.millis(config.eventSource.maxRecordAge),
        parallelizationFactor: config.eventSource.parallelizationFactor,
        // SqsDlq's own grant (SendMessage, GetQueueAttributes, GetQueueUrl) is dropped: see OnFailureQueue below.
        onFailure: new SqsDlq(onFailureQueue),
      }),
    );

    // Closing units (shared/app/closer.ts): the watermark function sends each due pipeline's key groups,
    // a few a message, to this queue; the closer function brings each range to its epoch. A unit lasts
    // seconds; one that fails comes back after the visibility timeout (six times the closer's timeout, as
    // Lambda's SQS mapping asks), and after five receives goes to the dead-letter queue (alarmed).
    const closerTimeout = Duration.minutes(2);
    const unitsDeadLetters = new sqs.Queue(this, "ClosingUnitsDeadLetterQueue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const unitsQueue = new sqs.Queue(this, "ClosingUnitsQueue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(closerTimeout.toSeconds() * 6),
      retentionPeriod: Duration.days(1),
      deadLetterQueue: { queue: unitsDeadLetters, maxReceiveCount: 5 },
    });
    this.unitsQueue = unitsQueue;
    this.unitsDeadLetterQueue = unitsDeadLetters;
    const closer = new nodejs.NodejsFunction(this, "CloserFunction", {
      ...functionDefaults,
      memorySize: config.memory.closer,
      description:
        "Panes: a closing unit: folds a range of key groups' shard-log portions, fires their due windows once into the ledger, publishes",
      entry: join(PROJECT_ROOT, "functions/closer.ts"),
      timeout: closerTimeout,
      logGroup: closerLogs,
      role: closerRole.forFunction(),
    });
    this.closer = closer;
    closer.addEventSource(
      new SqsEventSource(unitsQueue, { batchSize: 1, maxConcurrency: config.closer.concurrency, reportBatchItemFailures: true }),
    );

    // Watermark: the coordinator, one run at a time. Overlapping runs are safe (epochs, marks and the ledger
    // are written under conditions, and the tests hold runs against each other), so the reserved concurrency
    // of 1 only bounds cost: nudges beyond it are dropped, and the closing capacity is the closers'.
    const watermark = new nodejs.NodejsFunction(this, "WatermarkFunction", {
      ...functionDefaults,
      memorySize: config.memory.watermark,
      description:
        "Panes: advances watermarks from the checkpoints, takes an epoch of the shard logs, sends due key groups to the closer function",
      entry: join(PROJECT_ROOT, "functions/watermark.ts"),
      timeout: Duration.minutes(5),
      reservedConcurrentExecutions: 1,
      logGroup: watermarkLogs,
      role: watermarkRole.forFunction(),
    });
    this.watermark = watermark;
    watermark.addEnvironment("PANES_UNITS_QUEUE_URL", unitsQueue.queueUrl);
    watermark.addEnvironment("PANES_GROUPS_PER_UNIT", String(config.closer.groupsPerUnit));
    // Low-latency closing: a batch that may close a window starts the watermark function at once.
    // Throttled nudges (reserved concurrency 1) are dropped, not queued: the next nudge or the schedule follows.
    watermark.configureAsyncInvoke({ maxEventAge: Duration.minutes(1), retryAttempts: 0 });
    ingest.addEnvironment("PANES_WATERMARK_FUNCTION_NAME", watermark.functionName);

    // Ingest (shared/app/ingest.ts, functions/ingest.ts): shard-log entries (and their head), session
    // sets, event-id claims and watermarks in the state table; dead letters in batches; the nudge; and what
    // its event source mapping does: read the stream, send a failed batch's metadata to the on-failure queue
    // (SSE-SQS: no key).
    ingestRole.allow(
      "State",
      ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem"],
      [storage.state.tableArn],
    );
    ingestRole.allow("DeadLetters", ["dynamodb:BatchWriteItem"], [storage.deadLetters.tableArn]);
    // Invoked by name, unqualified: no version or alias.
    ingestRole.allow("StartClosing", ["lambda:InvokeFunction"], [watermark.functionArn]);
    ingestRole.allow("EventSource", KINESIS_EVENT_SOURCE_ACTIONS, [source.streamArn]);
    ingestRole.allow("OnFailureQueue", ["sqs:SendMessage"], [onFailureQueue.queueArn]);

    // Watermark and closer (shared/app/closing.ts, closer.ts, closing-unit.ts, shard-logs.ts): shard logs
    // read, checkpoints, watermarks (and their notices), epochs, key groups' panes and marks in the state
    // table (the closer finds session sets through their key groups' due index, never a scan; a shard
    // read to its end is forgotten); the results ledger written per key group and window end under a condition on its
    // version, never deleted; the outputs. The watermark function also reads the source stream's shards
    // (idle probes) and sends closing units; the closer runs them (its mapping receives and deletes them).
    const closingState = ["dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"];
    for (const [role, state] of [
      // both read single items (the code decides: test/infra/iam.test.ts compares)
      [watermarkRole, ["dynamodb:GetItem", ...closingState]],
      [closerRole, ["dynamodb:GetItem", ...closingState]],
    ] as const) {
      role.allow("State", state, [storage.state.tableArn]);
      // Events a pane could not store (item size) are reported as dead letters, under partition keys of their own.
      role.allow("StateLetters", ["dynamodb:BatchWriteItem"], [storage.deadLetters.tableArn], {
        "ForAllValues:StringLike": { "dynamodb:LeadingKeys": [`${STATE_LETTER_PREFIX}*`] },
      });
      role.allow("Results", ["dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:Query"], [storage.results.tableArn]);
      // Keys it cannot close are parked in the dead-letter table under partition keys of their own
      // (shared/aws/dynamodb/parked.ts): the condition keeps it away from the records' dead letters, which are kept.
      role.allow("ParkedKeys", ["dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], [storage.deadLetters.tableArn], {
        "ForAllValues:StringLike": { "dynamodb:LeadingKeys": [`${PARKED_PREFIX}*`] },
      });
      if (output) role.allow("OutputStream", ["kinesis:PutRecords"], [output.streamArn]);
      if (bus) role.allow("ResultBus", ["events:PutEvents"], [bus.eventBusArn]);
    }
    closerRole.allow("DueIndex", ["dynamodb:Query"], [storage.indexArn(storage.state, "due")]);
    watermarkRole.allow("SourceShards", ["kinesis:ListShards", "kinesis:GetShardIterator", "kinesis:GetRecords"], [source.streamArn]);
    watermarkRole.allow("ClosingUnits", ["sqs:SendMessage"], [unitsQueue.queueArn]);
    closerRole.allow("ClosingUnits", ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], [unitsQueue.queueArn]);

    // Records of a stream under a customer managed key are decrypted with it (the output stream uses aws/kinesis).
    if (sourceKeyArn) {
      ingestRole.allow("SourceStreamKey", ["kms:Decrypt"], [sourceKeyArn]);
      watermarkRole.allow("SourceStreamKey", ["kms:Decrypt"], [sourceKeyArn]);
    }

    new events.Rule(this, "WatermarkSchedule", {
      description: "Panes: runs the watermark function (closes due windows, the backstop for idle streams)",
      schedule: events.Schedule.rate(Duration.millis(config.watermarkSchedule)),
      targets: [new targets.LambdaFunction(watermark, { retryAttempts: 2 })],
    });

    this.operations = new Operations(this, "Operations", {
      ingest,
      watermark,
      closer,
      onFailureQueue,
      unitsQueue,
      unitsDeadLetters,
      pipelineNames: props.pipelines.map((p) => p.name),
      key,
      iteratorAgeThreshold: Duration.millis(config.alarms.iteratorAge),
      watermarkLagThreshold: Duration.millis(config.alarms.watermarkLag),
      email: config.alarms.email,
    });

    new CfnOutput(this, "SourceStreamArn", { value: source.streamArn, description: "point producers here" });
    if (output) new CfnOutput(this, "OutputStreamArn", { value: output.streamArn, description: "window results, one record per version" });
    new CfnOutput(this, "StateTableName", { value: storage.state.tableName, description: "panes status --state-table" });
    new CfnOutput(this, "ResultsTableName", { value: storage.results.tableName, description: "panes results --table" });
    new CfnOutput(this, "DeadLetterTableName", { value: storage.deadLetters.tableName, description: "panes dlq list --table" });
    new CfnOutput(this, "PipelineNames", { value: props.pipelines.map((p) => p.name).join(","), description: "panes status --stack" });
    new CfnOutput(this, "AlarmTopicArn", { value: this.operations.topic.topicArn });
    new CfnOutput(this, "DashboardName", { value: this.operations.dashboard.dashboardName });

    suppressExpectedFindings({
      tracingPolicies: [ingestRole.tracing, watermarkRole.tracing, closerRole.tracing],
      deadLetterQueues: [onFailureQueue, unitsDeadLetters],
    });
  }
}
