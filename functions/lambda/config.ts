// The functions' configuration, parsed once from the environment at cold start; a missing or bad
// variable fails the cold start naming the variable. Domain code never reads process.env.
import { join } from "node:path";
import { z } from "zod";

const configSchema = z.object({
  PANES_STATE_TABLE: z.string().min(3),
  PANES_RESULTS_TABLE: z.string().min(3),
  PANES_DEAD_LETTER_TABLE: z.string().min(3),
  PANES_SOURCE_STREAM_ARN: z.string().startsWith("arn:"),
  PANES_OUTPUT_STREAM_ARN: z.string().startsWith("arn:").optional(),
  PANES_PIPELINES_FILE: z.string().optional(),
  PANES_WRITE_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
  PANES_RESULT_RETENTION_DAYS: z.coerce.number().int().min(0).default(0),
  PANES_DEAD_LETTER_RETENTION_DAYS: z.coerce.number().int().min(0).default(14),
  PANES_TOMBSTONE_RETENTION_DAYS: z.coerce.number().int().min(1).default(7),
  LAMBDA_TASK_ROOT: z.string().default(process.cwd()),
});

export class FunctionConfigError extends Error {
  override name = "FunctionConfigError";
}

export interface FunctionConfig {
  stateTable: string;
  resultsTable: string;
  deadLetterTable: string;
  sourceStreamArn: string;
  outputStreamArn?: string;
  pipelinesFile: string;
  writeConcurrency: number;
  resultRetentionSeconds?: number;
  deadLetterRetentionSeconds?: number;
  tombstoneRetentionMs: number;
}

const DAY_SECONDS = 86_400;

export function loadFunctionConfig(env: NodeJS.ProcessEnv): FunctionConfig {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new FunctionConfigError(`invalid function environment: ${problems}`);
  }
  const c = parsed.data;
  return {
    stateTable: c.PANES_STATE_TABLE,
    resultsTable: c.PANES_RESULTS_TABLE,
    deadLetterTable: c.PANES_DEAD_LETTER_TABLE,
    sourceStreamArn: c.PANES_SOURCE_STREAM_ARN,
    outputStreamArn: c.PANES_OUTPUT_STREAM_ARN,
    pipelinesFile: c.PANES_PIPELINES_FILE ?? join(c.LAMBDA_TASK_ROOT, "pipelines.json"),
    writeConcurrency: c.PANES_WRITE_CONCURRENCY,
    resultRetentionSeconds: c.PANES_RESULT_RETENTION_DAYS > 0 ? c.PANES_RESULT_RETENTION_DAYS * DAY_SECONDS : undefined,
    deadLetterRetentionSeconds: c.PANES_DEAD_LETTER_RETENTION_DAYS > 0 ? c.PANES_DEAD_LETTER_RETENTION_DAYS * DAY_SECONDS : undefined,
    tombstoneRetentionMs: c.PANES_TOMBSTONE_RETENTION_DAYS * DAY_SECONDS * 1000,
  };
}
