// Synthesizes the stack as `cdk synth` does, with the example pipelines; `nag` adds cdk-nag's AwsSolutions
// checks (their findings fail app.synth()), `extra` changes the stack before synthesis.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Validations } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { type DeploymentConfigInput, parseDeploymentConfig } from "../../infra/config.ts";
import { PanesStack } from "../../infra/panes-stack.ts";
import { loadPipelinesFile, readPipelinesInput } from "../../shared/app/pipelines-file.ts";

export const PIPELINES = "examples/monitoring.pipelines.json";

export async function synth(
  input: DeploymentConfigInput = {},
  { nag = false, extra }: { nag?: boolean; extra?: (stack: PanesStack) => void } = {},
) {
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), "panes-cdk-")) });
  const config = parseDeploymentConfig({ pipelinesFile: PIPELINES, ...input });
  const stack = new PanesStack(app, "PanesTest", {
    config,
    pipelines: await loadPipelinesFile(PIPELINES),
    pipelinesJson: await readPipelinesInput(PIPELINES),
  });
  extra?.(stack);
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, template: () => Template.fromStack(stack) };
}
