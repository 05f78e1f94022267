// cdk-nag (AwsSolutions) findings that are expected for this stack, each acknowledged with its reason on
// the one resource it is about: the same finding anywhere else still fails the synth.
import { Validations } from "aws-cdk-lib";
import type * as iam from "aws-cdk-lib/aws-iam";
import type * as sqs from "aws-cdk-lib/aws-sqs";

export interface ExpectedFindings {
  /** the functions' X-Ray policies (constructs/execution-role.ts), which hold nothing else */
  tracingPolicies: readonly iam.Policy[];
  /** queues that are themselves dead-letter destinations: the ingest mapping's on-failure queue, the closing units' DLQ */
  deadLetterQueues: readonly sqs.IQueue[];
}

export function suppressExpectedFindings({ tracingPolicies, deadLetterQueues }: ExpectedFindings): void {
  for (const policy of tracingPolicies) {
    Validations.of(policy).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason:
        "Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions, so they take Resource * (this policy holds only them).",
    });
  }
  for (const queue of deadLetterQueues)
    Validations.of(queue).acknowledge({
      id: "AwsSolutions-SQS3",
      reason:
        "This queue is itself a dead-letter destination (the ingest mapping's on-failure queue, or the closing units' redrive target).",
    });
}
