// What a deployment is configured with: read from CDK context (cdk.json or `-c key=value`), validated
// at synth so a bad value fails `cdk synth` naming the field.
import { z } from "zod";
import { parseDuration } from "#shared/windows/duration.ts";

const durationText = z.string().refine((v) => parseDuration(v) !== undefined, { message: 'must be a duration such as "1m"' });

export const deploymentConfigSchema = z.strictObject({
  pipelinesFile: z.string().default("examples/monitoring.pipelines.json"),
  batchSize: z.coerce.number().int().min(1).max(10_000).default(500),
  maxBatchingWindow: durationText.default("1s"),
  retryAttempts: z.coerce.number().int().min(0).max(10_000).default(10),
  maxRecordAge: durationText.default("1d"),
  watermarkSchedule: durationText.default("1m"),
  writeConcurrency: z.coerce.number().int().min(1).max(256).default(16),
  resultRetentionDays: z.coerce.number().int().min(0).default(0),
});

export type DeploymentConfig = z.output<typeof deploymentConfigSchema>;

export class DeploymentConfigError extends Error {
  override name = "DeploymentConfigError";
}

export function parseDeploymentConfig(raw: unknown): DeploymentConfig {
  const parsed = deploymentConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new DeploymentConfigError(
      `invalid Panes configuration (cdk.json context "panes"): ${parsed.error.issues.map((i) => `${i.path.join(".") || "panes"}: ${i.message}`).join("; ")}`,
    );
  }
  return parsed.data;
}
