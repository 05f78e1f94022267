// How both functions are built: ESM bundles by the local esbuild (no Docker), for the Lambda runtime
// the project's own scripts run on, with the validated pipelines file copied into the bundle.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";

export const PROJECT_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const LAMBDA_RUNTIME = lambda.Runtime.NODEJS_24_X;

export function bundlingWithPipelines(pipelinesJson: unknown): nodejs.BundlingOptions {
  // The pipelines travel inside the bundle: environment variables are limited to 4 KB.
  const staging = mkdtempSync(join(tmpdir(), "panes-pipelines-"));
  const pipelinesPath = join(staging, "pipelines.json");
  writeFileSync(pipelinesPath, JSON.stringify(pipelinesJson));
  return {
    format: nodejs.OutputFormat.ESM,
    target: "node24",
    minify: true,
    sourceMap: true,
    mainFields: ["module", "main"],
    // ESM bundles still meet CommonJS dependencies that call require().
    banner: "import { createRequire as __panesCreateRequire } from 'module'; const require = __panesCreateRequire(import.meta.url);",
    commandHooks: {
      beforeBundling: () => [],
      beforeInstall: () => [],
      afterBundling: (_input: string, outputDir: string) => [`cp "${pipelinesPath}" "${outputDir}/pipelines.json"`],
    },
  };
}
