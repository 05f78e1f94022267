// cdk-nag (AwsSolutions) findings that are expected for this stack, each acknowledged with its reason.
import { type CfnResource, type Stack, Validations } from "aws-cdk-lib";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import type * as lambda from "aws-cdk-lib/aws-lambda";

export function suppressExpectedFindings(stack: Stack, tables: readonly dynamodb.Table[], invoked: readonly lambda.IFunction[]): void {
  const acknowledge = (id: string, reason: string) => Validations.of(stack).acknowledge({ id, reason });
  acknowledge(
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
    "AWSLambdaBasicExecutionRole only lets a function write its own CloudWatch Logs; it is the policy AWS documents for Lambda logging.",
  );
  acknowledge(
    "AwsSolutions-IAM5[Resource::*]",
    "X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) supports no resource-level permissions; every other statement names this stack's resources.",
  );
  for (const table of tables) {
    const logicalId = stack.getLogicalId(table.node.defaultChild as CfnResource);
    acknowledge(
      `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/index/*]`,
      "CDK table grants cover the table's own global secondary indexes (the due-pane, results-by-end and outbox indexes), and only those.",
    );
  }
  for (const fn of invoked) {
    const logicalId = stack.getLogicalId(fn.node.defaultChild as CfnResource);
    acknowledge(
      `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>:*]`,
      "The ingest function may invoke the watermark function (low-latency closing); CDK's grantInvoke covers that one function's versions and aliases.",
    );
  }
  acknowledge("AwsSolutions-SQS3", "IngestOnFailureQueue is itself the dead-letter (on-failure) destination of the event source mapping.");
}
