// What a deployment is configured with — the "panes" key of the CDK context (cdk.json, or
// `-c panes='{...}'`), validated at synth so a bad value fails `cdk synth` naming the field.
import { z } from "zod";
import { describeIssues } from "#shared/core/config-issues.ts";
import { parseDuration } from "#shared/core/windows/duration.ts";

const duration = (example: string) =>
  z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: `must be a duration such as "${example}" (units ms, s, m, h, d)` });
      return z.NEVER;
    }
    return ms;
  });

const streamSchema = z.union([
  z.strictObject({ create: z.strictObject({ mode: z.literal("on-demand") }) }),
  z.strictObject({ create: z.strictObject({ mode: z.literal("provisioned"), shards: z.number().int().min(1).max(500) }) }),
  z.strictObject({
    import: z.strictObject({
      arn: z
        .string()
        .regex(/^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream\/[A-Za-z0-9_.-]+$/, { message: "must be a Kinesis stream ARN" }),
      /** the customer managed KMS key of an imported stream encrypted with one */
      encryptionKeyArn: z.string().startsWith("arn:").optional(),
    }),
  }),
]);

export const deploymentConfigSchema = z.strictObject({
  pipelinesFile: z.string().default("examples/monitoring.pipelines.json"),
  stream: streamSchema.default({ create: { mode: "on-demand" } }),
  eventSource: z
    .strictObject({
      batchSize: z.number().int().min(1).max(10_000).default(500),
      maxBatchingWindow: duration("1s").prefault("1s"),
      retryAttempts: z.number().int().min(0).max(10_000).default(10),
      maxRecordAge: duration("1d").prefault("1d"),
      parallelizationFactor: z
        .number()
        .int()
        .min(1)
        .max(1, {
          message:
            "must be 1: checkpoints and fences are per shard and assume one ordered batch per shard at a time (with a higher factor Lambda orders records only per partition key; see the README)",
        })
        .default(1),
      startingPosition: z.enum(["TRIM_HORIZON", "LATEST"]).default("TRIM_HORIZON"),
    })
    .prefault({}),
  outputs: z
    .strictObject({
      /** an output Kinesis stream (created by the stack, provisioned: results are a small fraction of the input) */
      stream: z.boolean().default(true),
      streamShards: z.number().int().min(1).max(100).default(1),
      /** put results on an EventBridge bus ("default" or a bus name); omit for none */
      eventBus: z.string().min(1).optional(),
    })
    .prefault({}),
  watermarkSchedule: duration("1m").prefault("1m"),
  /** memory of each function, MB (CPU comes with it: 1,769 MB is one vCPU) */
  memory: z
    .strictObject({
      ingest: z.number().int().min(128).max(10_240).default(1024),
      watermark: z.number().int().min(128).max(10_240).default(1024),
    })
    .prefault({}),
  /**
   * How the state and results tables are billed: on demand (per request; nothing to plan, the default),
   * or provisioned with auto scaling (per capacity-hour; about 3.5× cheaper per unit at steady load, but
   * a burst above what is provisioned is throttled until scaling catches up — minutes).
   */
  capacity: z
    .discriminatedUnion("mode", [
      z.strictObject({ mode: z.literal("on-demand") }),
      z.strictObject({
        mode: z.literal("provisioned"),
        minWrite: z.number().int().min(1).default(5),
        maxWrite: z.number().int().min(1).default(4000),
        minRead: z.number().int().min(1).default(5),
        maxRead: z.number().int().min(1).default(4000),
        targetUtilization: z.number().int().min(20).max(90).default(70),
      }),
    ])
    .default({ mode: "on-demand" }),
  writeConcurrency: z.number().int().min(1).max(256).default(16),
  /** records larger than this are dead-lettered unread */
  maxRecordBytes: z
    .number()
    .int()
    .min(1024)
    .max(10 * 1024 * 1024)
    .default(256 * 1024),
  retention: z
    .strictObject({
      /** results TTL; "0d" keeps them */
      results: duration("90d").prefault("0d"),
      deadLetters: duration("14d").prefault("14d"),
      tombstones: duration("7d").prefault("7d"),
      /** shard-log entries: folded into pane state within a closing run, kept this long after (TTL) */
      log: duration("7d").prefault("7d"),
    })
    .prefault({}),
  alarms: z
    .strictObject({
      /** alarm when the ingest function's iterator age exceeds this */
      iteratorAge: duration("5m").prefault("5m"),
      /** alarm when a pipeline's watermark lags wall clock by more than this */
      watermarkLag: duration("15m").prefault("15m"),
      /** subscribe this address to the alarm topic */
      email: z.email().optional(),
    })
    .prefault({}),
});

export type DeploymentConfig = z.output<typeof deploymentConfigSchema>;
export type DeploymentConfigInput = z.input<typeof deploymentConfigSchema>;

/** One line per problem, each naming the field (`panes.eventSource.batchSize: …`). */
export class DeploymentConfigError extends Error {
  override name = "DeploymentConfigError";
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
  }
}

export function parseDeploymentConfig(raw: unknown): DeploymentConfig {
  let value = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw new DeploymentConfigError([`panes: the context value is not JSON (${(error as Error).message})`]);
    }
  }
  const parsed = deploymentConfigSchema.safeParse(value ?? {});
  if (!parsed.success) throw new DeploymentConfigError(describeIssues(deploymentConfigSchema, value ?? {}, parsed.error.issues, "panes"));
  return parsed.data;
}
