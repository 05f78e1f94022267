// Where CLI commands connect: AWS_ENDPOINT_URL (LocalStack-compatible) when set, else the local stack
// that `panes start` is running (it leaves its details in .panes/local.json), else AWS itself.
import { readFile } from "node:fs/promises";
import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import { createDynamoDbClient, createKinesisClient } from "../../shared/aws/clients.ts";
import { nearest } from "../../shared/core/config-issues.ts";
import { PipelinesConfigError } from "../../shared/core/pipelines/parse.ts";
import { LOCAL_CREDENTIALS, type LocalConnection } from "../local/stack.ts";

export const LOCAL_STATE_FILE = ".panes/local.json";

export interface CliConnection {
  dynamodb: DynamoDBClient;
  kinesis: KinesisClient;
  local?: LocalConnection;
  /** requests go to AWS itself (billed), not to an emulator or another endpoint */
  aws: boolean;
  describe: string;
}

export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

async function readLocalConnection(): Promise<LocalConnection | undefined> {
  try {
    const connection = JSON.parse(await readFile(LOCAL_STATE_FILE, "utf8")) as LocalConnection;
    process.kill(connection.pid, 0); // still running?
    return connection;
  } catch {
    return undefined;
  }
}

export interface AwsFlags {
  region?: string;
  profile?: string;
}

export async function connect(flags: AwsFlags = {}): Promise<CliConnection> {
  const endpoint = process.env.AWS_ENDPOINT_URL ?? process.env.AWS_ENDPOINT_URL_DYNAMODB ?? process.env.AWS_ENDPOINT_URL_KINESIS;
  if (endpoint) {
    // The SDK reads AWS_ENDPOINT_URL and the per-service AWS_ENDPOINT_URL_<SERVICE> itself. An emulator
    // takes any region: without one configured, sign for us-east-1 rather than refuse.
    const configured = flags.region ?? process.env.AWS_REGION ?? flags.profile ?? process.env.AWS_PROFILE;
    const at = configured === undefined ? { ...flags, region: "us-east-1" } : flags;
    return { dynamodb: createDynamoDbClient(at), kinesis: createKinesisClient(at), aws: false, describe: `endpoint ${endpoint}` };
  }
  const local = await readLocalConnection();
  if (local) {
    const common = { region: local.region, credentials: LOCAL_CREDENTIALS };
    return {
      dynamodb: createDynamoDbClient({ ...common, endpoint: local.dynamodbEndpoint }),
      kinesis: createKinesisClient({ ...common, endpoint: local.kinesisEndpoint }),
      local,
      aws: false,
      describe: `local stack (pid ${local.pid})`,
    };
  }
  return {
    dynamodb: createDynamoDbClient(flags),
    kinesis: createKinesisClient(flags),
    aws: true,
    describe: `AWS${flags.region ? ` ${flags.region}` : ""}${flags.profile ? ` (profile ${flags.profile})` : ""}`,
  };
}

/** The tables and pipelines of a deployment: given as flags, read from a CloudFormation stack's outputs, or the local stack's. */
export interface DeploymentTarget {
  stateTable?: string;
  resultsTable?: string;
  deadLetterTable?: string;
  pipelines?: string[];
  /**
   * Where `pipelines` came from ("stack Panes", "the local stack"), when they are the pipelines of the
   * tables the command reads; undefined when they are not known to be (a table named by flag, no --stack).
   */
  pipelinesOf?: string;
  /** the stream producers write to (ARN from the stack, name on the local stack) */
  sourceStream?: string;
  outputStream?: string;
}

export interface TargetFlags extends AwsFlags {
  stack?: string;
  stateTable?: string;
  table?: string;
  deadLetterTable?: string;
}

export async function resolveTarget(connection: CliConnection, flags: TargetFlags): Promise<DeploymentTarget> {
  let fromStack: DeploymentTarget = {};
  if (flags.stack) {
    const client = new CloudFormationClient({ region: flags.region, profile: flags.profile });
    const { Stacks } = await client.send(new DescribeStacksCommand({ StackName: flags.stack }));
    const outputs = new Map((Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
    fromStack = {
      stateTable: outputs.get("StateTableName"),
      resultsTable: outputs.get("ResultsTableName"),
      deadLetterTable: outputs.get("DeadLetterTableName"),
      pipelines: outputs.get("PipelineNames")?.split(",").filter(Boolean),
      sourceStream: outputs.get("SourceStreamArn"),
      outputStream: outputs.get("OutputStreamArn"),
    };
  }
  const local = connection.local;
  // The local stack's pipelines are those of its own tables, not of a table named by flag.
  const ownTables = flags.table === undefined && flags.stateTable === undefined && flags.deadLetterTable === undefined;
  return {
    stateTable: flags.stateTable ?? fromStack.stateTable ?? local?.names.stateTable,
    resultsTable: flags.table ?? fromStack.resultsTable ?? local?.names.resultsTable,
    deadLetterTable: flags.deadLetterTable ?? fromStack.deadLetterTable ?? local?.names.deadLetterTable,
    pipelines: fromStack.pipelines ?? local?.pipelines,
    pipelinesOf: fromStack.pipelines ? `stack ${flags.stack}` : local?.pipelines && ownTables ? "the local stack" : undefined,
    sourceStream: fromStack.sourceStream ?? local?.names.sourceStream,
    outputStream: fromStack.outputStream ?? local?.names.outputStream,
  };
}

/** A stream's name, from a name or an ARN (`arn:aws:kinesis:…:stream/NAME`). */
export const streamNameOf = (stream: string) => (stream.startsWith("arn:") ? stream.slice(stream.lastIndexOf("/") + 1) : stream);

export function required<T>(value: T | undefined, what: string): T {
  if (value === undefined)
    throw new CliError(`${what} is not known: pass it, or --stack NAME (the deployed stack), or run this beside \`panes start\``);
  return value;
}

/**
 * A --pipeline the deployment does not run is a usage error (exit 2), not an empty answer: one line
 * naming the known pipelines, with a did-you-mean. Unchecked when the pipelines are not known (an
 * endpoint or a table given without --stack). `also`: other names the command accepts ("*").
 */
export function checkPipelineName(given: string | undefined, target: DeploymentTarget, also: readonly string[] = []): void {
  const known = target.pipelines ?? [];
  if (given === undefined || target.pipelinesOf === undefined || known.length === 0 || known.includes(given) || also.includes(given))
    return;
  const near = nearest(given, known);
  throw new CliError(
    `--pipeline ${JSON.stringify(given)}: ${target.pipelinesOf} has no such pipeline${near ? `; did you mean ${JSON.stringify(near)}?` : ""} (its pipelines: ${known.join(", ")})`,
    2,
  );
}

/** What the user can do about an error from the AWS SDK or the network, in one line; undefined when it is not one of those. */
export function explainAwsError(
  error: Error & { code?: string; address?: string; port?: number; $metadata?: unknown },
): string | undefined {
  const message = error.message.split("\n")[0] ?? "";
  if (error.name === "CredentialsProviderError" || /Could not load credentials/i.test(message))
    return "no AWS credentials: pass --profile NAME, or set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or run `aws configure`; for the local stack, run this beside `npm start`";
  if (/Region is missing/i.test(message)) return "no AWS region: pass --region REGION or set AWS_REGION";
  if (error.code === "ECONNREFUSED" || error.code === "ENOTFOUND" || error.code === "ECONNRESET") {
    const where = error.address ? `${error.address}${error.port ? `:${error.port}` : ""}` : "the endpoint";
    return `cannot reach ${where} (${error.code}): is AWS_ENDPOINT_URL right, or is \`npm start\` still running?`;
  }
  if (error.name === "ResourceNotFoundException")
    return `${message} — is the stack deployed in this region and account? (--stack NAME, --region, --profile)`;
  if (error.name === "ValidationError" && /does not exist/.test(message)) return `${message} (--stack NAME, --region)`;
  if (
    ["UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException", "ExpiredToken", "AccessDeniedException"].includes(
      error.name,
    )
  )
    return `AWS refused the request (${error.name}): ${message}`;
  if (error.$metadata !== undefined) return `AWS: ${error.name}: ${message}`;
  return undefined;
}

/**
 * Runs a command body. Every error ends as one line on standard error: a user's mistake (flags, files,
 * configuration) exits 2; anything else (AWS, the network, a failed run) exits 1, with the stack only
 * when PANES_DEBUG is set.
 */
export async function runCommand(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    const e = error as Error & { exitCode?: number };
    const known = ["CliError", "PipelinesConfigError", "InputFileError", "InvalidArgumentError"].includes(e.name);
    if (known) {
      const lines = e instanceof PipelinesConfigError ? e.lines() : [e.message];
      for (const line of lines) process.stderr.write(`panes: ${line}\n`);
      process.exitCode = e.exitCode ?? 2;
      return;
    }
    const explained = explainAwsError(e);
    const line = explained ?? `${e.name}: ${e.message.split("\n")[0]}`;
    process.stderr.write(`panes: ${line}${process.env.PANES_DEBUG ? `\n${e.stack}` : explained ? "" : " (PANES_DEBUG=1 shows where)"}\n`);
    process.exitCode = e.exitCode ?? 1;
  }
}
