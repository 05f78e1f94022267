// The CDK app: `npx cdk synth` / `cdk deploy`. Configuration is the "panes" context key; the
// pipelines file is validated here, so a bad one fails the synth naming the pipeline and field.
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { loadPipelinesFile } from "../shared/app/pipelines-file.ts";
import { parseDeploymentConfig } from "./config.ts";
import { PanesStack } from "./panes-stack.ts";
import { readPipelinesInput } from "./pipelines-input.ts";

const app = new App();
const config = parseDeploymentConfig(app.node.tryGetContext("panes"));
new PanesStack(app, app.node.tryGetContext("stackName") ?? "Panes", {
  config,
  pipelines: await loadPipelinesFile(config.pipelinesFile),
  pipelinesJson: await readPipelinesInput(config.pipelinesFile),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
// cdk-nag: an unacknowledged AwsSolutions finding fails the synth (acknowledgements: nag-suppressions.ts).
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
