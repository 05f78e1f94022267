// How the functions are built: ESM bundles by the local esbuild (no Docker), for the Lambda runtime
// the project's own scripts run on, the AWS SDK inside, with the validated pipelines file copied in.
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";

export const PROJECT_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const LAMBDA_RUNTIME = lambda.Runtime.NODEJS_24_X;

/**
 * `outdir`: the cloud assembly's folder (cdk.out), where the pipelines file is staged for the bundles
 * (named by its content, so synths leave nothing behind elsewhere and never share a stale copy).
 */
export function bundlingWithPipelines(pipelinesJson: unknown, outdir: string): nodejs.BundlingOptions {
  // The pipelines travel inside the bundle: environment variables are limited to 4 KB.
  const text = JSON.stringify(pipelinesJson);
  mkdirSync(outdir, { recursive: true });
  const pipelinesPath = join(outdir, `panes-pipelines-${createHash("sha256").update(text).digest("hex").slice(0, 16)}.json`);
  writeFileSync(pipelinesPath, text);
  return {
    format: nodejs.OutputFormat.ESM,
    target: "node24",
    minify: true,
    // The SDK the tests ran, tree-shaken into the bundle, not whichever the runtime ships: measured
    // (`npm run cold-start`) it also loads faster than the runtime's copy from node_modules.
    bundleAwsSDK: true,
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
