// What operators watch: alarms on the ingest function's iterator age, dead letters, function errors,
// batches sent to the on-failure queue, closing units waiting or dead-lettered, and each pipeline's
// watermark lag and parked keys, sent to an encrypted SNS topic; and a dashboard with the same figures.
import { ArnFormat, Duration, Stack } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";

export const METRICS_NAMESPACE = "Panes";
export const SERVICE_NAME = "panes";

export interface OperationsProps {
  ingest: lambda.IFunction;
  watermark: lambda.IFunction;
  closer: lambda.IFunction;
  onFailureQueue: sqs.IQueue;
  unitsQueue: sqs.IQueue;
  unitsDeadLetters: sqs.IQueue;
  pipelineNames: readonly string[];
  key: kms.IKey;
  iteratorAgeThreshold: Duration;
  watermarkLagThreshold: Duration;
  email?: string;
}

export class Operations extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, "AlarmTopic", { displayName: "Panes alarms", masterKey: props.key, enforceSSL: true });
    // CloudWatch alarms publish to this topic only if its policy and its key let them (the topic policy that
    // enforces TLS replaces SNS's default one). Both allow CloudWatch acting for alarms of this account and
    // region only; not the alarms' own ARNs, which name the topic that names the key (a cycle).
    const stack = Stack.of(this);
    const fromThisAccountsAlarms = {
      StringEquals: { "aws:SourceAccount": stack.account },
      ArnLike: {
        "aws:SourceArn": stack.formatArn({
          service: "cloudwatch",
          resource: "alarm",
          resourceName: "*",
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    };
    const cloudwatchAlarms = new iam.ServicePrincipal("cloudwatch.amazonaws.com");
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "CloudWatchAlarmsPublish",
        principals: [cloudwatchAlarms],
        actions: ["sns:Publish"],
        resources: [this.topic.topicArn],
        conditions: fromThisAccountsAlarms,
      }),
    );
    // The actions AWS documents for a service that publishes to an encrypted topic.
    props.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "CloudWatchAlarmsPublishToAlarmTopic",
        principals: [cloudwatchAlarms],
        actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
        resources: ["*"],
        conditions: fromThisAccountsAlarms,
      }),
    );
    if (props.email) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));

    const panesMetric = (metricName: string, statistic: string, dimensions: Record<string, string> = {}) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        statistic,
        period: Duration.minutes(1),
        dimensionsMap: { service: SERVICE_NAME, ...dimensions },
      });
    const alarm = (
      name: string,
      metric: cloudwatch.IMetric,
      threshold: number,
      description: string,
      missing = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) => {
      const created = new cloudwatch.Alarm(this, name, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: missing,
        alarmDescription: description,
      });
      created.addAlarmAction(new actions.SnsAction(this.topic));
      created.addOkAction(new actions.SnsAction(this.topic));
      this.alarms.push(created);
      return created;
    };

    const iteratorAge = props.ingest.metric("IteratorAge", { statistic: "Maximum", period: Duration.minutes(1) });
    alarm(
      "IteratorAgeAlarm",
      iteratorAge,
      props.iteratorAgeThreshold.toMilliseconds(),
      "Panes ingest is falling behind the stream (iterator age).",
    );
    const deadLettered = panesMetric("RecordsDeadLettered", "Sum");
    alarm("DeadLettersAlarm", deadLettered, 1, "Records were dead-lettered as invalid: `panes dlq list` shows them with reasons.");
    alarm(
      "IngestErrorsAlarm",
      props.ingest.metricErrors({ period: Duration.minutes(1) }),
      1,
      "The Panes ingest function failed (Lambda retries; fences keep it exactly-once).",
    );
    alarm(
      "WatermarkErrorsAlarm",
      props.watermark.metricErrors({ period: Duration.minutes(5) }),
      1,
      "The Panes watermark function failed: windows are not closing.",
    );
    alarm(
      "CloserErrorsAlarm",
      props.closer.metricErrors({ period: Duration.minutes(5) }),
      1,
      "The Panes closer function failed: SQS delivers its closing unit again; its key groups wait.",
    );
    alarm(
      "ClosingUnitsDeadLetterAlarm",
      props.unitsDeadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: "Maximum" }),
      1,
      "Closing units failed five times and went to their dead-letter queue: the coordinator sends their key groups again; the closer's logs say why.",
    );
    const unitsAge = props.unitsQueue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: "Maximum" });
    alarm(
      "ClosingUnitsAgeAlarm",
      unitsAge,
      300,
      "Closing units have waited five minutes for a closer: raise closer.concurrency, or see why closers fail.",
    );
    const onFailure = props.onFailureQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: "Maximum" });
    alarm(
      "OnFailureQueueAlarm",
      onFailure,
      1,
      "Batches exhausted their retries and went to the on-failure queue: their records are not in any window.",
    );
    const lagMetrics = props.pipelineNames.map((pipeline) => ({ pipeline, metric: panesMetric("WatermarkLag", "Maximum", { pipeline }) }));
    for (const [index, { pipeline, metric }] of lagMetrics.entries()) {
      // Missing data breaches: a watermark function that stopped reporting is a watermark that stopped.
      alarm(
        `WatermarkLagAlarm${index}`,
        metric,
        props.watermarkLagThreshold.toMilliseconds(),
        `The watermark of pipeline ${pipeline} lags wall clock by more than ${props.watermarkLagThreshold.toHumanString()} (or is not reported).`,
        cloudwatch.TreatMissingData.BREACHING,
      );
      // Keys parked by closing runs (shared/aws/dynamodb/parked.ts): windows that cannot be closed, retried every run.
      alarm(
        `ParkedKeysAlarm${index}`,
        panesMetric("ParkedKeys", "Maximum", { pipeline }),
        1,
        `Pipeline ${pipeline} has keys whose windows cannot be closed: the closing logs and the dead-letter table (parked#${pipeline}) say why; every other key closes.`,
      );
    }

    const graph = (title: string, left: cloudwatch.IMetric[], width = 8) => new cloudwatch.GraphWidget({ title, left, width, height: 6 });
    this.dashboard = new cloudwatch.Dashboard(this, "Dashboard", { defaultInterval: Duration.hours(3) });
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: "Panes alarms", alarms: this.alarms, width: 24, height: 3 }),
      graph("Events", [panesMetric("RecordsIn", "Sum"), panesMetric("EventsAccepted", "Sum"), panesMetric("StateWrites", "Sum")]),
      graph("Dead-lettered and late", [deadLettered, panesMetric("LateEventsDropped", "Sum"), panesMetric("LateEventsAccepted", "Sum")]),
      graph("Ingest iterator age (ms)", [iteratorAge]),
      graph(
        "Watermark lag (ms)",
        lagMetrics.map((l) => l.metric.with({ label: l.pipeline })),
      ),
      graph(
        "Windows fired",
        props.pipelineNames.map((pipeline) => panesMetric("WindowsFired", "Sum", { pipeline }).with({ label: pipeline })),
      ),
      graph("Function errors and on-failure queue", [
        props.ingest.metricErrors(),
        props.watermark.metricErrors(),
        props.closer.metricErrors(),
        onFailure,
      ]),
      graph("Closing units: oldest waiting (s)", [unitsAge]),
      graph("Redelivery: conflicts retried, records skipped by fences", [
        panesMetric("WriteConflictsRetried", "Sum"),
        panesMetric("RedeliveredRecordsSkipped", "Sum"),
      ]),
    );
  }
}
