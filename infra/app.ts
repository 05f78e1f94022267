// The CDK app: `npx cdk synth` / `cdk deploy`. Configuration comes from the "panes" context key.
import { App } from "aws-cdk-lib";
import { loadPipelinesFile } from "#shared/pipelines/load.ts";
import { parseDeploymentConfig } from "./config.ts";
import { PanesStack } from "./panes-stack.ts";
import { readPipelinesInput } from "./pipelines-input.ts";

const app = new App();
const config = parseDeploymentConfig(app.node.tryGetContext("panes"));
await loadPipelinesFile(config.pipelinesFile); // fails the synth naming the pipeline and field
new PanesStack(app, app.node.tryGetContext("stackName") ?? "Panes", {
  config,
  pipelinesJson: await readPipelinesInput(config.pipelinesFile),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
app.synth();
