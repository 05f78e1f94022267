// Where CLI commands connect: AWS_ENDPOINT_URL (LocalStack-compatible) when set, else the local stack
// that `panes start` is running (it leaves its details in .panes/local.json), else AWS itself.
import { readFile } from "node:fs/promises";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import { createDynamoDbClient, createKinesisClient } from "../aws/clients.ts";
import { LOCAL_CREDENTIALS, type LocalConnection } from "../local/stack.ts";

export const LOCAL_STATE_FILE = ".panes/local.json";

export interface CliConnection {
  dynamodb: DynamoDBClient;
  kinesis: KinesisClient;
  local?: LocalConnection;
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

export async function connect(): Promise<CliConnection> {
  if (process.env.AWS_ENDPOINT_URL) {
    return {
      dynamodb: createDynamoDbClient(),
      kinesis: createKinesisClient(),
      describe: `AWS_ENDPOINT_URL=${process.env.AWS_ENDPOINT_URL}`,
    };
  }
  const local = await readLocalConnection();
  if (local) {
    const common = { region: local.region, credentials: LOCAL_CREDENTIALS };
    return {
      dynamodb: createDynamoDbClient({ ...common, endpoint: local.dynamodbEndpoint }),
      kinesis: createKinesisClient({ ...common, endpoint: local.kinesisEndpoint }),
      local,
      describe: `local stack (pid ${local.pid})`,
    };
  }
  return { dynamodb: createDynamoDbClient(), kinesis: createKinesisClient(), describe: "AWS" };
}

export function tableOrLocal(given: string | undefined, connection: CliConnection, pick: (c: LocalConnection) => string): string {
  if (given) return given;
  if (connection.local) return pick(connection.local);
  throw new CliError("no table given and no local stack running: pass --table (see the stack outputs of `cdk deploy`)");
}

/** Runs a command body, turning known errors into a message and an exit code. */
export async function runCommand(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    const e = error as Error & { exitCode?: number };
    const known = ["CliError", "PipelinesConfigError", "InputFileError", "InvalidArgumentError"].includes(e.name);
    process.stderr.write(`panes: ${known ? e.message : (e.stack ?? String(e))}\n`);
    process.exitCode = e.exitCode ?? (known ? 2 : 1);
  }
}
