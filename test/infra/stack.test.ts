// The synthesized CloudFormation template, checked with aws-cdk-lib/assertions, and cdk-nag's
// AwsSolutions checks with every acknowledgement carrying its reason.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Match, type Template } from "aws-cdk-lib/assertions";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { beforeAll, describe, expect, it } from "vitest";
import { DeploymentConfigError, parseDeploymentConfig } from "../../infra/config.ts";
import { TABLES } from "../../shared/aws/dynamodb/tables.ts";
import { synth } from "./synth.ts";

let template: Template;
beforeAll(async () => {
  template = (await synth()).template();
});

describe("Panes stack", () => {
  it("has an encrypted on-demand source stream and an encrypted one-shard output stream", () => {
    template.resourceCountIs("AWS::Kinesis::Stream", 2);
    template.allResourcesProperties("AWS::Kinesis::Stream", { StreamEncryption: { EncryptionType: "KMS", KeyId: "alias/aws/kinesis" } });
    template.hasResourceProperties("AWS::Kinesis::Stream", { StreamModeDetails: { StreamMode: "ON_DEMAND" } });
    template.hasResourceProperties("AWS::Kinesis::Stream", { StreamModeDetails: { StreamMode: "PROVISIONED" }, ShardCount: 1 });
  });

  it("builds every table from the shared definitions: encrypted, on demand, TTL, point-in-time recovery", () => {
    template.resourceCountIs("AWS::DynamoDB::Table", TABLES.length);
    for (const table of TABLES) {
      template.hasResourceProperties("AWS::DynamoDB::Table", {
        BillingMode: "PAY_PER_REQUEST",
        SSESpecification: { SSEEnabled: true },
        TimeToLiveSpecification: { AttributeName: table.ttlAttribute, Enabled: true },
        PointInTimeRecoverySpecification: Match.objectLike({ PointInTimeRecoveryEnabled: true }),
        KeySchema: [
          { AttributeName: table.partitionKey, KeyType: "HASH" },
          { AttributeName: table.sortKey, KeyType: "RANGE" },
        ],
        ...(table.indexes.length > 0
          ? {
              GlobalSecondaryIndexes: Match.arrayWith(
                table.indexes.map((i) => Match.objectLike({ IndexName: i.name, Projection: { ProjectionType: i.projection } })),
              ),
            }
          : {}),
      });
    }
  });

  it("never deletes results or dead letters with the stack", () => {
    const retained = template.findResources("AWS::DynamoDB::Table", {
      DeletionPolicy: "Retain",
      Properties: { DeletionProtectionEnabled: true },
    });
    expect(Object.keys(retained)).toHaveLength(2);
  });

  it("runs the three functions on a current Node.js runtime on arm64, the watermark function one at a time", () => {
    template.resourcePropertiesCountIs("AWS::Lambda::Function", { Runtime: "nodejs24.x", Architectures: ["arm64"] }, 3);
    template.hasResourceProperties("AWS::Lambda::Function", {
      Description: Match.stringLikeRegexp("watermarks"),
      ReservedConcurrentExecutions: 1,
    });
  });

  it("feeds closing units to the closer function from a queue: one a batch, partial failures, bounded concurrency, a dead-letter queue after five receives", () => {
    const closer = Match.stringLikeRegexp("CloserFunction");
    template.hasResourceProperties("AWS::Lambda::Function", {
      Description: Match.stringLikeRegexp("closing unit"),
      Timeout: 120,
      MemorySize: 1024,
      ReservedConcurrentExecutions: Match.absent(),
    });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: closer },
      EventSourceArn: { "Fn::GetAtt": [Match.stringLikeRegexp("ClosingUnitsQueue"), "Arn"] },
      BatchSize: 1,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: 10 },
    });
    // Lambda asks for a visibility timeout of at least six times the function's timeout
    template.hasResourceProperties("AWS::SQS::Queue", {
      VisibilityTimeout: 720,
      RedrivePolicy: {
        deadLetterTargetArn: { "Fn::GetAtt": [Match.stringLikeRegexp("ClosingUnitsDeadLetterQueue"), "Arn"] },
        maxReceiveCount: 5,
      },
      SqsManagedSseEnabled: true,
    });
    template.hasResourceProperties("AWS::Lambda::Function", {
      Description: Match.stringLikeRegexp("watermarks"),
      Environment: {
        Variables: Match.objectLike({
          PANES_UNITS_QUEUE_URL: { Ref: Match.stringLikeRegexp("ClosingUnitsQueue") },
          PANES_GROUPS_PER_UNIT: "8",
        }),
      },
    });
  });

  it("maps the stream to the ingest function with partial batch responses, bisect, bounded retries and an on-failure queue", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 86_400,
      MaximumBatchingWindowInSeconds: 1,
      ParallelizationFactor: 1,
      StartingPosition: "TRIM_HORIZON",
      BatchSize: 500,
      DestinationConfig: { OnFailure: { Destination: { "Fn::GetAtt": [Match.stringLikeRegexp("IngestOnFailureQueue"), "Arn"] } } },
    });
    template.hasResourceProperties("AWS::SQS::Queue", { SqsManagedSseEnabled: true });
    template.hasResourceProperties("AWS::SQS::QueuePolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } })]),
      },
    });
  });

  it("runs the watermark function on the schedule, and at once when the ingest function asks", () => {
    template.hasResourceProperties("AWS::Events::Rule", { ScheduleExpression: "rate(1 minute)", State: "ENABLED" });
    template.hasResourceProperties("AWS::Lambda::Function", {
      Description: Match.stringLikeRegexp("shard.s log"),
      Environment: { Variables: Match.objectLike({ PANES_WATERMARK_FUNCTION_NAME: Match.anyValue() }) },
    });
    template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", { MaximumEventAgeInSeconds: 60, MaximumRetryAttempts: 0 });
    template.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: "lambda:InvokeFunction", Effect: "Allow" })]) },
    });
  });

  it("grants least privilege: no wildcard actions on data resources", () => {
    const policies = template.findResources("AWS::IAM::Policy");
    const statements = Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[] }[]);
    const actions = statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    expect(actions).toContain("kinesis:ListShards");
    expect(actions.filter((a) => a === "*" || /^(dynamodb|kinesis|sqs|sns|events):\*$/.test(a))).toEqual([]);
    template.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(["kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"]),
            Effect: "Allow",
          }),
        ]),
      },
    });
  });

  it("keeps secrets and pipelines out of environment variables", () => {
    const functions = Object.values(template.findResources("AWS::Lambda::Function"));
    for (const f of functions) {
      const names = Object.keys(f.Properties.Environment?.Variables ?? {});
      expect(names.filter((n) => /SECRET|PASSWORD|TOKEN|KEY$|PIPELINES/.test(n))).toEqual([]);
    }
  });

  it("alarms on iterator age, dead letters, function errors, the on-failure queue and each pipeline's watermark lag and parked keys, with a dashboard", () => {
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm"));
    const metricNames = alarms.map((a) => a.Properties.MetricName);
    expect(metricNames).toEqual(
      expect.arrayContaining(["IteratorAge", "RecordsDeadLettered", "Errors", "ApproximateNumberOfMessagesVisible", "WatermarkLag"]),
    );
    expect(metricNames.filter((m) => m === "WatermarkLag")).toHaveLength(2);
    expect(metricNames.filter((m) => m === "ParkedKeys")).toHaveLength(2);
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "WatermarkLag",
      Namespace: "Panes",
      TreatMissingData: "breaching",
      Dimensions: Match.arrayWith([{ Name: "pipeline", Value: "mem-max-60m" }]),
    });
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toHaveLength(1);
    // The README's idle-cost table counts them as the template has them.
    const readme = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8");
    const counted = /CloudWatch: (\d+) alarms \+ (\d+) per pipeline \((\d+) for the seed's two\)/.exec(readme);
    expect(counted?.slice(1).map(Number)).toEqual([alarms.length - 2 * 2, 2, alarms.length]);
    template.resourceCountIs("AWS::CloudWatch::Dashboard", 1);
    template.hasResourceProperties("AWS::SNS::Topic", { KmsMasterKeyId: Match.anyValue() });
  });

  it("imports an existing stream by ARN instead of creating one", async () => {
    const arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/clickstream";
    const imported = (await synth({ stream: { import: { arn } }, outputs: { stream: false, eventBus: "default" } })).template();
    imported.resourceCountIs("AWS::Kinesis::Stream", 0);
    imported.hasResourceProperties("AWS::Lambda::EventSourceMapping", { EventSourceArn: arn });
    imported.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: "events:PutEvents" })]) },
    });
  });

  it("creates a provisioned stream with the configured shard count", async () => {
    const provisioned = (await synth({ stream: { create: { mode: "provisioned", shards: 4 } } })).template();
    provisioned.hasResourceProperties("AWS::Kinesis::Stream", { ShardCount: 4, StreamModeDetails: { StreamMode: "PROVISIONED" } });
    provisioned.resourcePropertiesCountIs("AWS::Kinesis::Stream", { StreamModeDetails: { StreamMode: "ON_DEMAND" } }, 0);
  });
});

describe("what outlives the stack (keep)", () => {
  /** Per resource type, the deletion policies of its resources, and the tables' deletion protection, in template order. */
  const policies = (t: Template) => {
    const of = (type: string) => Object.values(t.findResources(type)).map((r) => r.DeletionPolicy ?? "Delete");
    const tables = Object.values(t.findResources("AWS::DynamoDB::Table"));
    return {
      tables: tables.map((r) => [r.DeletionPolicy ?? "Delete", r.Properties.DeletionProtectionEnabled === true]),
      streams: of("AWS::Kinesis::Stream"),
      keys: of("AWS::KMS::Key"),
      logs: of("AWS::Logs::LogGroup"),
    };
  };

  it("keeps the results and dead-letter tables, protected, and lets the streams, the state table, the key and the logs go", () => {
    expect(policies(template)).toEqual({
      tables: [
        ["Delete", false],
        ["Retain", true],
        ["Retain", true],
      ],
      streams: ["Delete", "Delete"],
      keys: ["Delete"],
      logs: ["Delete", "Delete", "Delete"],
    });
    template.hasResourceProperties("AWS::KMS::Key", { PendingWindowInDays: 7 });
  });

  it("keeps the streams when asked, and lets every table go when asked", async () => {
    const kept = (await synth({ keep: { streams: true, results: false, deadLetters: false } })).template();
    expect(policies(kept)).toMatchObject({
      tables: [
        ["Delete", false],
        ["Delete", false],
        ["Delete", false],
      ],
      streams: ["Retain", "Retain"],
    });
  });
});

describe("capacity and memory", () => {
  it("bills state and results provisioned with auto scaling on tables and indexes when asked, dead letters still on demand", async () => {
    const provisioned = (
      await synth({ capacity: { mode: "provisioned", minWrite: 10, maxWrite: 500, targetUtilization: 60 }, memory: { ingest: 512 } })
    ).template();
    provisioned.resourcePropertiesCountIs(
      "AWS::DynamoDB::Table",
      { BillingMode: Match.absent(), ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 10 } },
      2,
    );
    provisioned.resourcePropertiesCountIs("AWS::DynamoDB::Table", { BillingMode: "PAY_PER_REQUEST" }, 1);
    // reads and writes of two tables and their three indexes (due; byEnd, outbox)
    const indexes = TABLES.filter((t) => t.id !== "DeadLetters").reduce((n, t) => n + t.indexes.length, 0);
    provisioned.resourceCountIs("AWS::ApplicationAutoScaling::ScalableTarget", 2 * (2 + indexes));
    provisioned.hasResourceProperties("AWS::ApplicationAutoScaling::ScalableTarget", {
      ScalableDimension: "dynamodb:index:WriteCapacityUnits",
      MinCapacity: 10,
      MaxCapacity: 500,
    });
    provisioned.hasResourceProperties("AWS::ApplicationAutoScaling::ScalingPolicy", {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: 60 }),
    });
    provisioned.hasResourceProperties("AWS::Lambda::Function", { Description: Match.stringLikeRegexp("assigns events"), MemorySize: 512 });
    template.resourceCountIs("AWS::ApplicationAutoScaling::ScalableTarget", 0);
  });
});

describe("cdk-nag AwsSolutions checks", () => {
  it("report no unacknowledged finding", async () => {
    const { app } = await synth({}, { nag: true });
    const assembly = app.synth();
    const report = JSON.parse(readFileSync(join(assembly.directory, "validation-report.json"), "utf8"));
    expect(report.pluginReports.flatMap((r: { violations?: unknown[] }) => r.violations ?? [])).toEqual([]);
  });

  it("fail the synth for a finding nobody acknowledged", async () => {
    const { app } = await synth(
      {},
      { nag: true, extra: (stack) => new sqs.Queue(stack, "Unencrypted", { encryption: sqs.QueueEncryption.UNENCRYPTED }) },
    );
    expect(() => app.synth()).toThrowError(/Unencrypted[\s\S]*AwsSolutions-SQS2/);
  });
});

describe("deployment configuration", () => {
  it("fails at synth naming the field", () => {
    expect(() => parseDeploymentConfig({ eventSource: { batchSize: 0 } })).toThrowError(DeploymentConfigError);
    expect(() => parseDeploymentConfig({ eventSource: { batchSize: 0 } })).toThrowError(/panes\.eventSource\.batchSize/);
    expect(() => parseDeploymentConfig({ eventSource: { parallelizationFactor: 2 } })).toThrowError(/parallelizationFactor: must be 1/);
    expect(() => parseDeploymentConfig({ watermarkSchedule: "often" })).toThrowError(/panes\.watermarkSchedule: must be a duration/);
    expect(() => parseDeploymentConfig({ stream: { import: { arn: "clickstream" } } })).toThrowError(/panes\.stream/);
    expect(() => parseDeploymentConfig({ surprise: true })).toThrowError(/surprise/);
  });

  it("fills defaults for what is not given", () => {
    expect(parseDeploymentConfig({})).toMatchObject({
      stream: { create: { mode: "on-demand" } },
      eventSource: { batchSize: 500, maxBatchingWindow: 1000, retryAttempts: 10, maxRecordAge: 86_400_000, parallelizationFactor: 1 },
      watermarkSchedule: 60_000,
      retention: { results: 0, deadLetters: 14 * 86_400_000, tombstones: 7 * 86_400_000, log: 7 * 86_400_000 },
      memory: { ingest: 1024, watermark: 1024 },
      capacity: { mode: "on-demand" },
    });
  });
});
