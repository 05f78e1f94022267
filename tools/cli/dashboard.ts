// `panes dashboard`: the live web dashboard against a deployment (AWS, AWS_ENDPOINT_URL) or the running
// local stack. `panes start` serves the same page itself.
import { readFile } from "node:fs/promises";
import { loadPipelinesFile } from "../../shared/app/pipelines-file.ts";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import { startDashboardServer } from "../dashboard/server.ts";
import { CADENCE, DashboardSource } from "../dashboard/source.ts";
import { type CliConnection, CliError, connect, required, resolveTarget, runCommand, type TargetFlags } from "./connection.ts";

export interface DashboardFlags extends TargetFlags {
  pipelines?: string;
  port: number;
  refresh?: number;
  deadLettersEvery?: number;
}

/** The deployment's pipelines file: the flag, else the local stack's, else the CDK app's (cdk.json context panes.pipelinesFile). */
async function pipelinesFileOf(flags: DashboardFlags, connection: CliConnection): Promise<string> {
  if (flags.pipelines) return flags.pipelines;
  if (connection.local?.pipelinesFile) return connection.local.pipelinesFile;
  try {
    const cdk = JSON.parse(await readFile("cdk.json", "utf8")) as { context?: { panes?: { pipelinesFile?: string } } };
    const file = cdk.context?.panes?.pipelinesFile;
    if (file) return file;
  } catch {
    // no CDK app here
  }
  throw new CliError("the pipelines are not known: pass --pipelines FILE (the file the stack was deployed with)");
}

export function runDashboard(flags: DashboardFlags) {
  return runCommand(async () => {
    const connection = await connect(flags);
    const target = await resolveTarget(connection, flags);
    let pipelines: Pipeline[] = await loadPipelinesFile(await pipelinesFileOf(flags, connection));
    if (target.pipelines) {
      const deployed = new Set(target.pipelines);
      const missing = pipelines.filter((p) => !deployed.has(p.name)).map((p) => p.name);
      if (missing.length > 0) process.stderr.write(`panes: not deployed, left out: ${missing.join(", ")}\n`);
      pipelines = pipelines.filter((p) => deployed.has(p.name));
      if (pipelines.length === 0) throw new CliError(`none of the file's pipelines is deployed (deployed: ${target.pipelines.join(", ")})`);
    }
    // Against AWS every refresh is billed: slower defaults there than on an emulator.
    const cadence = connection.aws ? CADENCE.aws : CADENCE.local;
    const source = new DashboardSource({
      dynamodb: connection.dynamodb,
      tables: {
        stateTable: required(target.stateTable, "the state table (--state-table)"),
        resultsTable: required(target.resultsTable, "the results table (--table)"),
        deadLetterTable: target.deadLetterTable,
      },
      pipelines,
      describe: connection.describe,
      refreshMs: flags.refresh ?? cadence.refreshMs,
      deadLettersEveryMs: flags.deadLettersEvery ?? cadence.deadLettersEveryMs,
      fullReadEveryMs: cadence.fullReadEveryMs,
    });
    const server = await startDashboardServer({ source, port: flags.port });
    process.stdout.write(`Dashboard: ${server.url}\n`);
    process.stderr.write(`Reading ${connection.describe}. Ctrl-C stops.\n`);
    await new Promise<void>((resolve) => {
      const stop = () => void server.close().then(resolve, resolve);
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
  });
}
