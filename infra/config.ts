// What a deployment is configured with — the "panes" key of the CDK context (cdk.json, or
// `-c panes='{...}'`), validated at synth so a bad value fails `cdk synth` naming the field.
import { z } from "zod";
import { describeIssues } from "#shared/core/config-issues.ts";
import { formatDuration, parseDuration } from "#shared/core/windows/duration.ts";

/**
 * What a resource accepts of a duration: at least `min`, at most `max`, a whole number of `step`
 * (ms each); `why` says who decides, in the message.
 */
interface DurationLimits {
  min?: number;
  max?: number;
  step?: { ms: number; name: string };
  why: string;
}

/** Why a duration does not fit its limits, if it does not: one sentence naming the nearest durations that do. */
function outsideLimits(text: string, ms: number, { min, max, step, why }: DurationLimits): string | undefined {
  if (min !== undefined && ms < min) return `"${text}" is less than "${formatDuration(min)}" (${why})`;
  if (max !== undefined && ms > max) return `"${text}" is more than "${formatDuration(max)}" (${why})`;
  if (step && ms % step.ms !== 0) {
    const below = Math.floor(ms / step.ms) * step.ms;
    const near = [below, below + step.ms].filter((d) => d >= (min ?? 0) && d <= (max ?? Number.POSITIVE_INFINITY));
    return `"${text}" is not a whole number of ${step.name} (${why}); use ${near.map((d) => `"${formatDuration(d)}"`).join(" or ")}`;
  }
  return undefined;
}

const duration = (example: string, limits?: DurationLimits) =>
  z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: `must be a duration such as "${example}" (units ms, s, m, h, d)` });
      return z.NEVER;
    }
    const outside = limits && outsideLimits(text, ms, limits);
    if (outside) {
      ctx.addIssue({ code: "custom", message: outside });
      return z.NEVER;
    }
    return ms;
  });

const SECOND = { ms: 1000, name: "seconds" };
const MINUTE = { ms: 60_000, name: "minutes" };
/** Retention by DynamoDB's TTL, which counts whole seconds (a fraction would round to 0, which keeps items forever). */
const TTL: DurationLimits = { step: SECOND, why: "DynamoDB's TTL counts whole seconds" };

const streamSchema = z.union([
  z.strictObject({
    create: z.discriminatedUnion("mode", [
      z.strictObject({ mode: z.literal("on-demand") }),
      z.strictObject({ mode: z.literal("provisioned"), shards: z.number().int().min(1).max(500) }),
    ]),
  }),
  z.strictObject({
    import: z.strictObject({
      arn: z
        .string()
        .regex(/^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream\/[A-Za-z0-9_.-]+$/, { message: "must be a Kinesis stream ARN" }),
      /** the customer managed KMS key of an imported stream encrypted with one */
      encryptionKeyArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/, {
          message: "must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)",
        })
        .optional(),
    }),
  }),
]);

/** Provisioned capacity's auto scaling range when not given, per table and per index. */
const CAPACITY_DEFAULTS = { minWrite: 5, maxWrite: 4000, minRead: 5, maxRead: 4000 } as const;

/**
 * Auto scaling's range of one capacity (reads or writes, of the tables and their indexes alike): the
 * minimum at most the maximum, as Application Auto Scaling requires. The upper limits are account
 * quotas (adjustable), so they are left to DynamoDB.
 */
function checkCapacityRange(
  capacity: Record<keyof typeof CAPACITY_DEFAULTS, number>,
  ctx: z.RefinementCtx,
  min: "minWrite" | "minRead",
  max: "maxWrite" | "maxRead",
) {
  if (capacity[min] <= capacity[max]) return;
  const needs = `auto scaling needs ${min} ≤ ${max}`;
  const shown = (key: keyof typeof CAPACITY_DEFAULTS) =>
    `${capacity[key]}${capacity[key] === CAPACITY_DEFAULTS[key] ? ", the default" : ""}`;
  // Name the field that was set: the schema sees defaults filled in, so a default value is taken as not set.
  if (capacity[min] === CAPACITY_DEFAULTS[min] && capacity[max] !== CAPACITY_DEFAULTS[max]) {
    ctx.addIssue({ code: "custom", path: [max], message: `${capacity[max]} is less than ${min} (${shown(min)}); ${needs}` });
  } else {
    ctx.addIssue({ code: "custom", path: [min], message: `${capacity[min]} is more than ${max} (${shown(max)}); ${needs}` });
  }
}

export const deploymentConfigSchema = z.strictObject({
  pipelinesFile: z.string().default("examples/monitoring.pipelines.json"),
  stream: streamSchema.default({ create: { mode: "on-demand" } }),
  eventSource: z
    .strictObject({
      batchSize: z.number().int().min(1).max(10_000).default(500),
      maxBatchingWindow: duration("1s", {
        max: 300_000,
        step: SECOND,
        why: "Lambda's batching window is a whole number of seconds, at most 300",
      }).prefault("1s"),
      retryAttempts: z.number().int().min(0).max(10_000).default(10),
      maxRecordAge: duration("1d", {
        min: 60_000,
        max: 604_800_000,
        step: SECOND,
        why: "Lambda's maximum record age is a whole number of seconds, from 60 to 604800",
      }).prefault("1d"),
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
      /** a bus of this account and region, by name (EventBridge's names: letters, digits, . - _ /) */
      eventBus: z
        .string()
        .regex(/^[A-Za-z0-9._/-]{1,256}$/, {
          message: 'must be an EventBridge bus name ("default", or up to 256 letters, digits and . - _ /), not an ARN',
        })
        .optional(),
    })
    .prefault({}),
  watermarkSchedule: duration("1m", {
    min: 60_000,
    step: MINUTE,
    why: "an EventBridge schedule runs every whole number of minutes, at least one",
  }).prefault("1m"),
  /** memory of each function, MB (CPU comes with it: 1,769 MB is one vCPU) */
  memory: z
    .strictObject({
      ingest: z.number().int().min(128).max(10_240).default(1024),
      watermark: z.number().int().min(128).max(10_240).default(1024),
      closer: z.number().int().min(128).max(10_240).default(1024),
    })
    .prefault({}),
  /**
   * Closing units (docs/design/key-groups.md): the watermark function sends each due pipeline's key
   * groups to the closer function through an SQS queue, `groupsPerUnit` key groups a message, and at
   * most `concurrency` closers run at once (the event source mapping's maximum concurrency).
   */
  closer: z
    .strictObject({
      groupsPerUnit: z.number().int().min(1).max(32_768).default(8),
      concurrency: z.number().int().min(2).max(1000).default(10),
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
      z
        .strictObject({
          mode: z.literal("provisioned"),
          minWrite: z.number().int().min(1).default(CAPACITY_DEFAULTS.minWrite),
          maxWrite: z.number().int().min(1).default(CAPACITY_DEFAULTS.maxWrite),
          minRead: z.number().int().min(1).default(CAPACITY_DEFAULTS.minRead),
          maxRead: z.number().int().min(1).default(CAPACITY_DEFAULTS.maxRead),
          targetUtilization: z.number().int().min(20).max(90).default(70),
        })
        .superRefine((capacity, ctx) => {
          checkCapacityRange(capacity, ctx, "minWrite", "maxWrite");
          checkCapacityRange(capacity, ctx, "minRead", "maxRead");
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
      results: duration("90d", TTL).prefault("0d"),
      deadLetters: duration("14d", TTL).prefault("14d"),
      tombstones: duration("7d", { min: 60_000, why: "the functions refuse a shorter one at their cold start" }).prefault("7d"),
      /** shard-log entries: folded into pane state within a closing run, kept this long after (TTL) */
      log: duration("7d", TTL).prefault("7d"),
    })
    .prefault({}),
  /**
   * What outlives `cdk destroy`: kept tables are retained with deletion protection on; the streams
   * (a day of events and results) go unless kept. The state table (rebuilt from the stream), the
   * queues, functions, log groups, alarms and the alarm topic's key always go.
   */
  keep: z
    .strictObject({
      results: z.boolean().default(true),
      deadLetters: z.boolean().default(true),
      streams: z.boolean().default(false),
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

/** The stack's name, the "stackName" context key (default "Panes"), as CloudFormation accepts one. */
function stackNameProblem(raw: unknown): string | undefined {
  if (raw === undefined || (typeof raw === "string" && /^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(raw))) return undefined;
  return `stackName: ${JSON.stringify(raw)} is not a stack name: letters, digits and '-', starting with a letter, at most 128 characters`;
}

/** The CDK context a synth reads (`panes`, `stackName`), every problem of both in one error. */
export function parseDeploymentContext(context: { panes: unknown; stackName: unknown }): { config: DeploymentConfig; stackName: string } {
  const problems = [stackNameProblem(context.stackName)].filter((p) => p !== undefined);
  let config: DeploymentConfig | undefined;
  try {
    config = parseDeploymentConfig(context.panes);
  } catch (error) {
    if (!(error instanceof DeploymentConfigError)) throw error;
    problems.push(...error.problems);
  }
  if (!config || problems.length > 0) throw new DeploymentConfigError(problems);
  return { config, stackName: typeof context.stackName === "string" ? context.stackName : "Panes" };
}
