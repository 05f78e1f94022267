// The synthesized CloudFormation template, checked with aws-cdk-lib/assertions.
import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { DeploymentConfigError, parseDeploymentConfig } from "../../infra/config.ts";
import { PanesStack } from "../../infra/panes-stack.ts";
import { readPipelinesInput } from "../../infra/pipelines-input.ts";
import { TABLES } from "../../shared/state/tables.ts";

let template: Template;

beforeAll(async () => {
  const app = new App();
  const config = parseDeploymentConfig({ pipelinesFile: "examples/monitoring.pipelines.json" });
  const stack = new PanesStack(app, "PanesTest", { config, pipelinesJson: await readPipelinesInput(config.pipelinesFile) });
  template = Template.fromStack(stack);
});

describe("Panes stack", () => {
  it("has encrypted on-demand source and output streams", () => {
    template.resourceCountIs("AWS::Kinesis::Stream", 2);
    template.allResourcesProperties("AWS::Kinesis::Stream", {
      StreamEncryption: { EncryptionType: "KMS" },
      StreamModeDetails: { StreamMode: "ON_DEMAND" },
    });
  });

  it("builds every table from the shared definitions, encrypted, on demand, with TTL", () => {
    template.resourceCountIs("AWS::DynamoDB::Table", TABLES.length);
    for (const table of TABLES) {
      template.hasResourceProperties("AWS::DynamoDB::Table", {
        BillingMode: "PAY_PER_REQUEST",
        SSESpecification: { SSEEnabled: true },
        TimeToLiveSpecification: { AttributeName: table.ttlAttribute, Enabled: true },
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

  it("keeps results on stack deletion and with point-in-time recovery", () => {
    template.hasResource("AWS::DynamoDB::Table", {
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
      Properties: Match.objectLike({
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        GlobalSecondaryIndexes: Match.arrayWith([Match.objectLike({ IndexName: "outbox" })]),
      }),
    });
  });

  it("runs both functions on a current Node.js runtime on arm64", () => {
    template.resourcePropertiesCountIs("AWS::Lambda::Function", { Runtime: "nodejs22.x", Architectures: ["arm64"] }, 2);
  });

  it("maps the stream to the ingest function with partial batch responses, bisect, bounded retries and an on-failure queue", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      ParallelizationFactor: 1,
      StartingPosition: "TRIM_HORIZON",
      BatchSize: 500,
      DestinationConfig: {
        OnFailure: { Destination: Match.objectLike({ "Fn::GetAtt": Match.arrayWith([Match.stringLikeRegexp("IngestOnFailureQueue")]) }) },
      },
    });
    template.hasResourceProperties("AWS::SQS::Queue", { SqsManagedSseEnabled: true });
  });

  it("runs the watermark function every minute", () => {
    template.hasResourceProperties("AWS::Events::Rule", { ScheduleExpression: "rate(1 minute)", State: "ENABLED" });
  });

  it("lets the watermark function list shards and write the output stream", () => {
    template.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: "kinesis:ListShards", Effect: "Allow" })]) },
    });
  });
});

describe("deployment configuration", () => {
  it("fails at synth naming the field", () => {
    expect(() => parseDeploymentConfig({ batchSize: 0 })).toThrowError(DeploymentConfigError);
    expect(() => parseDeploymentConfig({ batchSize: 0 })).toThrowError(/batchSize/);
    expect(() => parseDeploymentConfig({ watermarkSchedule: "often" })).toThrowError(/watermarkSchedule: must be a duration/);
    expect(() => parseDeploymentConfig({ surprise: true })).toThrowError(/surprise/);
  });
});
