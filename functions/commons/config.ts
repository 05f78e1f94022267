// The functions' configuration, parsed once from the environment at cold start; a missing or bad
// variable fails the cold start naming the variable. Domain code never reads process.env.
import { join } from "node:path";
import { z } from "zod";
import { describeIssues } from "../../shared/core/config-issues.ts";

const seconds = z.coerce.number().int().min(0);

const configSchema = z
  .object({
    PANES_STATE_TABLE: z.string().min(3),
    PANES_RESULTS_TABLE: z.string().min(3),
    PANES_DEAD_LETTER_TABLE: z.string().min(3),
    PANES_SOURCE_STREAM_ARN: z.string().startsWith("arn:"),
    PANES_OUTPUT_STREAM_ARN: z.string().startsWith("arn:").optional(),
    PANES_EVENT_BUS_NAME: z.string().min(1).optional(),
    PANES_WATERMARK_FUNCTION_NAME: z.string().min(1).optional(),
    PANES_PIPELINES_FILE: z.string().optional(),
    /** the closer function's queue: without it the watermark function runs the closing units itself */
    PANES_UNITS_QUEUE_URL: z.url().optional(),
    PANES_GROUPS_PER_UNIT: z.coerce.number().int().min(1).max(32_768).default(8),
    PANES_WRITE_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
    /** TTLs in seconds; 0 keeps items forever */
    PANES_RESULT_TTL_SECONDS: seconds.default(0),
    PANES_DEAD_LETTER_TTL_SECONDS: seconds.default(14 * 86_400),
    PANES_TOMBSTONE_TTL_SECONDS: seconds.min(60).default(7 * 86_400),
    PANES_LOG_TTL_SECONDS: seconds.default(7 * 86_400),
    PANES_MAX_RECORD_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(10 * 1024 * 1024)
      .default(256 * 1024),
    LAMBDA_TASK_ROOT: z.string().default(process.cwd()),
  })
  // The names the code uses; the type is inferred from here, so it cannot drift from the variables.
  .transform((c) => ({
    stateTable: c.PANES_STATE_TABLE,
    resultsTable: c.PANES_RESULTS_TABLE,
    deadLetterTable: c.PANES_DEAD_LETTER_TABLE,
    sourceStreamArn: c.PANES_SOURCE_STREAM_ARN,
    outputStreamArn: c.PANES_OUTPUT_STREAM_ARN,
    eventBusName: c.PANES_EVENT_BUS_NAME,
    watermarkFunctionName: c.PANES_WATERMARK_FUNCTION_NAME,
    pipelinesFile: c.PANES_PIPELINES_FILE ?? join(c.LAMBDA_TASK_ROOT, "pipelines.json"),
    unitsQueueUrl: c.PANES_UNITS_QUEUE_URL,
    groupsPerUnit: c.PANES_GROUPS_PER_UNIT,
    writeConcurrency: c.PANES_WRITE_CONCURRENCY,
    resultRetentionSeconds: c.PANES_RESULT_TTL_SECONDS || undefined,
    deadLetterRetentionSeconds: c.PANES_DEAD_LETTER_TTL_SECONDS || undefined,
    tombstoneRetentionMs: c.PANES_TOMBSTONE_TTL_SECONDS * 1000,
    logRetentionSeconds: c.PANES_LOG_TTL_SECONDS || undefined,
    maxRecordBytes: c.PANES_MAX_RECORD_BYTES,
  }));

export type FunctionConfig = z.output<typeof configSchema>;

export class FunctionConfigError extends Error {
  override name = "FunctionConfigError";
}

export function loadFunctionConfig(env: NodeJS.ProcessEnv): FunctionConfig {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const problems = describeIssues(configSchema, env, parsed.error.issues).join("; ");
    throw new FunctionConfigError(`invalid function environment: ${problems}`);
  }
  return parsed.data;
}
