// The CDK app: `npx cdk synth` / `cdk deploy`. Configuration is the "panes" context key; the
// pipelines file is validated here, so a bad one fails the synth naming the pipeline and field —
// one line per problem, no stack trace, exit code 2 (README, "Command line").
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { loadPipelinesFile, readPipelinesInput } from "../shared/app/pipelines-file.ts";
import { PipelinesConfigError } from "../shared/core/pipelines/parse.ts";
import { DeploymentConfigError, parseDeploymentContext } from "./config.ts";
import { PanesStack } from "./panes-stack.ts";

/** The user's mistake in one line per problem; anything else is ours and keeps its stack. */
function explain(error: unknown): string[] | undefined {
  if (error instanceof DeploymentConfigError) return error.problems.map((p) => `invalid configuration: ${p}`);
  if (error instanceof PipelinesConfigError) return error.lines();
  return undefined;
}

try {
  const app = new App();
  const { config, stackName } = parseDeploymentContext({
    panes: app.node.tryGetContext("panes"),
    stackName: app.node.tryGetContext("stackName"),
  });
  new PanesStack(app, stackName, {
    config,
    pipelines: await loadPipelinesFile(config.pipelinesFile),
    pipelinesJson: await readPipelinesInput(config.pipelinesFile),
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  // cdk-nag: an unacknowledged AwsSolutions finding fails the synth (acknowledgements: nag-suppressions.ts).
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth();
} catch (error) {
  const lines = explain(error);
  if (!lines) throw error;
  for (const line of lines) process.stderr.write(`panes: ${line}\n`);
  process.exit(2);
}
