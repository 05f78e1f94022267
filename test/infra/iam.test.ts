// Least privilege, checked three ways: each function's role holds exactly the statements written for it;
// the actions it holds are exactly those its bundled code sends plus what Lambda does with the role; and
// cdk-nag's acknowledgements cover only the resources they name.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type CfnResource, Validations } from "aws-cdk-lib";
import { Match } from "aws-cdk-lib/assertions";
import * as iam from "aws-cdk-lib/aws-iam";
import { describe, expect, it } from "vitest";
import type { DeploymentConfigInput } from "../../infra/config.ts";
import { PROJECT_ROOT } from "../../infra/constructs/bundling.ts";
import type { PanesStack } from "../../infra/panes-stack.ts";
import { actionsByResource, allowedActions, grantsOfFunction, textOfToken } from "./policies.ts";
import { type Entry, sdkActionsOf } from "./sdk-actions.ts";
import { synth } from "./synth.ts";

const SOURCE_ARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/clickstream";
const SOURCE_KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
/** every optional permission on: an imported stream under a customer managed key, the output stream and a bus */
const EVERYTHING: DeploymentConfigInput = {
  stream: { import: { arn: SOURCE_ARN, encryptionKeyArn: SOURCE_KEY_ARN } },
  outputs: { stream: true, eventBus: "results" },
};

/** What Lambda does with every function's role here: logs to the function's log group, X-Ray segments (active tracing). */
const LAMBDA_ITSELF = ["logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTelemetryRecords", "xray:PutTraceSegments"];
/**
 * What the ingest function's event source mapping does with its role: read the stream with a standard
 * iterator (the Kinesis actions AWS documents for a Kinesis event source, without SubscribeToShard, which
 * only enhanced fan-out uses) and send a discarded batch's metadata to the SQS on-failure destination.
 */
const INGEST_EVENT_SOURCE = [
  "kinesis:DescribeStream",
  "kinesis:DescribeStreamSummary",
  "kinesis:GetRecords",
  "kinesis:GetShardIterator",
  "kinesis:ListShards",
  "kinesis:ListStreams",
  "sqs:SendMessage",
];
/**
 * What the closer function's SQS event source mapping does with its role: poll the closing units' queue,
 * delete what it handled, read the queue's attributes (the actions AWS documents for an SQS event source).
 */
const CLOSER_EVENT_SOURCE = ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"];
/** Reading records of a stream encrypted with a customer managed key needs that key. */
const READS_ENCRYPTED_STREAM = ["kms:Decrypt"];

const ENTRIES = {
  ingest: { file: join(PROJECT_ROOT, "functions/ingest.ts") },
  watermark: { file: join(PROJECT_ROOT, "functions/watermark.ts") },
  closer: { file: join(PROJECT_ROOT, "functions/closer.ts") },
} satisfies Record<string, Entry>;

const logicalId = (stack: PanesStack, construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as CfnResource);

async function grantsOf(input: DeploymentConfigInput, extra?: (stack: PanesStack) => void) {
  const { stack, template } = await synth(input, { extra });
  const synthesized = template();
  return {
    stack,
    ingest: grantsOfFunction(synthesized, logicalId(stack, stack.ingest)),
    watermark: grantsOfFunction(synthesized, logicalId(stack, stack.watermark)),
    closer: grantsOfFunction(synthesized, logicalId(stack, stack.closer)),
  };
}

/** Actions granted but never used, and used but not granted. */
function compareActions(granted: readonly string[], used: Iterable<string>) {
  const usedSet = new Set(used);
  return {
    unused: granted.filter((a) => !usedSet.has(a)).sort(),
    missing: [...usedSet].filter((a) => !granted.includes(a)).sort(),
  };
}

/** What a function uses: its code's actions, what Lambda does with its role, and what reading an encrypted stream implies. */
async function usedActions(fn: keyof typeof ENTRIES, input: DeploymentConfigInput, entry: Entry = ENTRIES[fn]) {
  const code = await sdkActionsOf(entry);
  const readsStream = fn === "ingest" || code.includes("kinesis:GetRecords");
  const encrypted = input.stream !== undefined && "import" in input.stream && input.stream.import.encryptionKeyArn !== undefined;
  return [
    ...code,
    ...LAMBDA_ITSELF,
    ...(fn === "ingest" ? INGEST_EVENT_SOURCE : []),
    ...(fn === "closer" ? CLOSER_EVENT_SOURCE : []),
    ...(readsStream && encrypted ? READS_ENCRYPTED_STREAM : []),
  ];
}

describe("execution roles", () => {
  it("give the ingest function only its state reads and writes, dead-letter batches, the nudge, its event source and its logs", async () => {
    // Prepare
    const { stack, ingest } = await grantsOf({});
    const arn = (token: string) => textOfToken(stack, token);

    // Act
    const granted = actionsByResource(ingest);

    // Assess
    expect(granted).toEqual({
      [arn(stack.storage.state.tableArn)]: ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
      [arn(stack.storage.deadLetters.tableArn)]: ["dynamodb:BatchWriteItem"],
      [arn(stack.watermark.functionArn)]: ["lambda:InvokeFunction"],
      [arn(stack.sourceStream.streamArn)]: [
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:ListShards",
        "kinesis:ListStreams",
      ],
      [arn(stack.onFailureQueue.queueArn)]: ["sqs:SendMessage"],
      [arn(stack.ingest.logGroup.logGroupArn)]: ["logs:CreateLogStream", "logs:PutLogEvents"],
      "*": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
    });
    expect(ingest.managedPolicies).toEqual([]);
  });

  it("give the watermark function its state (not the due index: the closers find session sets), a ledger it cannot delete from, only its own items among the dead letters, the shards and the output", async () => {
    // Prepare
    const { stack, watermark } = await grantsOf({});
    const arn = (token: string) => textOfToken(stack, token);

    // Act
    const granted = actionsByResource(watermark);

    // Assess
    expect(granted).toEqual({
      [arn(stack.storage.state.tableArn)]: [
        "dynamodb:BatchGetItem",
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
      ],
      [arn(stack.storage.results.tableArn)]: ["dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:Query"],
      [arn(stack.storage.deadLetters.tableArn)]: [
        "dynamodb:BatchWriteItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
      ],
      [arn(stack.sourceStream.streamArn)]: ["kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"],
      [arn(stack.outputStream?.streamArn ?? "")]: ["kinesis:PutRecords"],
      [arn(stack.unitsQueue.queueArn)]: ["sqs:SendMessage"],
      [arn(stack.watermark.logGroup.logGroupArn)]: ["logs:CreateLogStream", "logs:PutLogEvents"],
      "*": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
    });
    expect(watermark.managedPolicies).toEqual([]);
    // On the dead-letter table, only its own items: letters about events a pane could not store, and
    // the keys it parked — never the records' dead letters.
    const onDeadLetters = watermark.statements.filter((s) =>
      JSON.stringify(s.Resource).includes(logicalId(stack, stack.storage.deadLetters)),
    );
    expect(onDeadLetters.map((s) => [s.Action, s.Condition])).toEqual([
      ["dynamodb:BatchWriteItem", { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["state#*"] } }],
      [
        ["dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
        { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["parked#*"] } },
      ],
    ]);
  });

  it("give the closer function its state and the due index, a ledger it cannot delete from, only its own items among the dead letters, the output and its queue — not the source stream", async () => {
    // Prepare
    const { stack, closer, watermark } = await grantsOf({});
    const arn = (token: string) => textOfToken(stack, token);

    // Act
    const granted = actionsByResource(closer);

    // Assess
    const shared = actionsByResource(watermark);
    expect(granted).toEqual({
      [arn(stack.storage.state.tableArn)]: shared[arn(stack.storage.state.tableArn)],
      [arn(`${stack.storage.state.tableArn}/index/due`)]: ["dynamodb:Query"],
      [arn(stack.storage.results.tableArn)]: shared[arn(stack.storage.results.tableArn)],
      [arn(stack.storage.deadLetters.tableArn)]: shared[arn(stack.storage.deadLetters.tableArn)],
      [arn(stack.outputStream?.streamArn ?? "")]: ["kinesis:PutRecords"],
      [arn(stack.unitsQueue.queueArn)]: ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
      [arn(stack.closer.logGroup.logGroupArn)]: ["logs:CreateLogStream", "logs:PutLogEvents"],
      "*": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
    });
    expect(granted[arn(stack.sourceStream.streamArn)]).toBeUndefined();
    expect(closer.managedPolicies).toEqual([]);
  });

  it("add the imported stream's key (decrypt) to both functions and the result bus (PutEvents) to the watermark function", async () => {
    // Prepare
    const { stack, ingest, watermark } = await grantsOf({ ...EVERYTHING, outputs: { stream: false, eventBus: "results" } });

    // Act
    const ingestGranted = actionsByResource(ingest);
    const watermarkGranted = actionsByResource(watermark);

    // Assess
    expect(ingestGranted[SOURCE_KEY_ARN]).toEqual(["kms:Decrypt"]);
    expect(watermarkGranted[SOURCE_KEY_ARN]).toEqual(["kms:Decrypt"]);
    expect(ingestGranted[SOURCE_ARN]).toContain("kinesis:GetRecords");
    expect(
      watermarkGranted[textOfToken(stack, stack.formatArn({ service: "events", resource: "event-bus", resourceName: "results" }))],
    ).toEqual(["events:PutEvents"]);
    expect(allowedActions(watermark)).not.toContain("kinesis:PutRecords");
  });

  it("ignore CDK grants to the functions: every permission is a statement written in the stack", async () => {
    // Prepare
    const before = await grantsOf({});

    // Act
    const after = await grantsOf({}, (stack) => {
      stack.storage.results.grantFullAccess(stack.watermark);
      stack.sourceStream.grantReadWrite(stack.ingest);
    });

    // Assess
    expect(actionsByResource(after.watermark)).toEqual(actionsByResource(before.watermark));
    expect(actionsByResource(after.ingest)).toEqual(actionsByResource(before.ingest));
  });
});

describe("granted actions against the code", () => {
  it.each([
    { config: "the default configuration", input: {}, watermarkMissing: ["events:PutEvents"] },
    { config: "every optional output and an encrypted imported stream", input: EVERYTHING, watermarkMissing: [] },
  ])(
    "are exactly what each function's bundled code sends, plus what Lambda does with its role ($config)",
    async ({ input, watermarkMissing }) => {
      // Prepare
      const granted = await grantsOf(input);

      // Act
      const ingest = compareActions(allowedActions(granted.ingest), await usedActions("ingest", input));
      const watermark = compareActions(allowedActions(granted.watermark), await usedActions("watermark", input));
      const closer = compareActions(allowedActions(granted.closer), await usedActions("closer", input));

      // Assess
      expect(ingest).toEqual({ unused: [], missing: [] });
      // Without a bus the code's PutEvents is never sent, so it is not granted.
      expect(watermark).toEqual({ unused: [], missing: watermarkMissing });
      expect(closer).toEqual({ unused: [], missing: watermarkMissing });
    },
  );

  it("report an action no code sends (dynamodb:DeleteTable added to the ingest role)", async () => {
    // Prepare
    const granted = await grantsOf({}, (stack) =>
      stack.roles.ingest.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ["dynamodb:DeleteTable"], resources: [stack.storage.state.tableArn] }),
      ),
    );

    // Act
    const ingest = compareActions(allowedActions(granted.ingest), await usedActions("ingest", {}));

    // Assess
    expect(ingest).toEqual({ unused: ["dynamodb:DeleteTable"], missing: [] });
  });

  it("report an action the code sends but no statement grants (a command added to the watermark function's code)", async () => {
    // Prepare
    const granted = await grantsOf({});
    const withNewCommand: Entry = {
      source: [
        'import { DeleteTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";',
        'export { handler } from "./functions/watermark.ts";',
        'export const dropState = (client: DynamoDBClient) => client.send(new DeleteTableCommand({ TableName: "state" }));',
      ].join("\n"),
    };

    // Act
    const watermark = compareActions(allowedActions(granted.watermark), await usedActions("watermark", {}, withNewCommand));

    // Assess
    expect(watermark.missing).toContain("dynamodb:DeleteTable");
  });

  it("count only the commands the bundle keeps: a command imported by shared code but never called is not an action", async () => {
    // Prepare
    const requests = readFileSync(join(PROJECT_ROOT, "shared/aws/dynamodb/requests.ts"), "utf8");

    // Act
    const [ingest, watermark] = await Promise.all([sdkActionsOf(ENTRIES.ingest), sdkActionsOf(ENTRIES.watermark)]);

    // Assess
    expect(requests).toMatch(/paginateScan\(/); // scanAll, for the CLI's dead-letter listing
    expect(ingest).not.toContain("dynamodb:Scan");
    expect(watermark).not.toContain("dynamodb:Scan");
    expect(ingest).toContain("lambda:InvokeFunction");
  });
});

describe("cdk-nag acknowledgements", () => {
  it("name only X-Ray's Resource::* on the tracing policies and SQS3 on the two dead-letter queues, each with its reason", async () => {
    // Prepare
    const { app, stack } = await synth();

    // Act
    const acknowledged = app.node.findAll().flatMap((construct) =>
      construct.node.metadata
        .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((entry) =>
          Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
            path: construct.node.path,
            id: id.replace(/^annotation::/i, ""),
            reason,
          })),
        ),
    );

    // Assess
    const xray = { id: "AwsSolutions-IAM5[Resource::*]", reason: expect.stringMatching(/xray:PutTraceSegments.*no resource-level/) };
    expect(acknowledged).toEqual(
      expect.arrayContaining([
        { path: stack.roles.ingest.tracing.node.path, ...xray },
        { path: stack.roles.watermark.tracing.node.path, ...xray },
        { path: stack.roles.closer.tracing.node.path, ...xray },
        { path: stack.onFailureQueue.node.path, id: "AwsSolutions-SQS3", reason: expect.stringMatching(/on-failure/) },
        { path: stack.unitsDeadLetterQueue.node.path, id: "AwsSolutions-SQS3", reason: expect.stringMatching(/closing units/) },
      ]),
    );
    expect(acknowledged).toHaveLength(5);
  });

  it("fail the synth for Resource::* in any statement but X-Ray's", async () => {
    // Prepare
    const { app } = await synth({}, { nag: true, extra: (stack) => stack.roles.ingest.allow("Extra", ["dynamodb:DeleteTable"], ["*"]) });

    // Act
    const synthesize = () => app.synth();

    // Assess
    expect(synthesize).toThrowError(/PanesTest\/IngestRole\/Permissions\/Resource[\s\S]*AwsSolutions-IAM5\[Resource::\*\]/);
  });
});

describe("alarm topic", () => {
  it("lets CloudWatch publish and use the topic's key only for alarms of this account and region", async () => {
    // Prepare
    const { template } = await synth();
    const fromThisAccountsAlarms = {
      StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } },
      ArnLike: {
        "aws:SourceArn": {
          "Fn::Join": [
            "",
            ["arn:", { Ref: "AWS::Partition" }, ":cloudwatch:", { Ref: "AWS::Region" }, ":", { Ref: "AWS::AccountId" }, ":alarm:*"],
          ],
        },
      },
    };

    // Act
    const synthesized = template();

    // Assess
    synthesized.hasResourceProperties("AWS::KMS::Key", {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: "cloudwatch.amazonaws.com" },
            Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
            Condition: fromThisAccountsAlarms,
          }),
        ]),
      },
    });
    synthesized.hasResourceProperties("AWS::SNS::TopicPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: "cloudwatch.amazonaws.com" },
            Action: "sns:Publish",
            Condition: fromThisAccountsAlarms,
          }),
        ]),
      },
    });
    const keyStatements = Object.values(synthesized.findResources("AWS::KMS::Key")).flatMap(
      (key) => key.Properties.KeyPolicy.Statement as { Principal: { Service?: string }; Condition?: unknown }[],
    );
    expect(keyStatements.filter((s) => s.Principal.Service !== undefined && s.Condition === undefined)).toEqual([]);
  });
});
