// Starts the local emulators from npm as child processes on free loopback ports: kinesalite or
// kinesis-local (LocalStack's Kinesis engine) and dynalite. Every child is stopped when its handle
// stops, and on process exit, so nothing is left behind. Dev-only.
import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import getPort from "get-port";

const require = createRequire(import.meta.url);

export type KinesisEmulator = "kinesalite" | "kinesis-local";
export const KINESIS_EMULATORS: readonly KinesisEmulator[] = ["kinesalite", "kinesis-local"];

export interface Emulator {
  name: string;
  endpoint: string;
  pid: number;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const child of running) child.kill("SIGKILL");
  });
}

async function waitForPort(port: number, child: ChildProcess, name: string, output: () => string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}:\n${output()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ port, host: "127.0.0.1" });
      socket.once("connect", () => {
        socket.end();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} did not listen on port ${port} within ${timeoutMs} ms:\n${output()}`);
}

/** heapMb: the child's V8 old-space limit (node's default lets a long-running emulator's heap fill with garbage before it collects) */
async function startChild(name: string, args: string[], env: NodeJS.ProcessEnv, port: number, heapMb?: number): Promise<Emulator> {
  installExitHook();
  // Through a small launcher that exits with its parent (see emulator-process.cjs).
  const launcher = fileURLToPath(new URL("./emulator-process.cjs", import.meta.url));
  // With a small young generation too: the emulators' live data is small and V8 otherwise keeps what it grew to.
  const heap = heapMb ? [`--max-old-space-size=${heapMb}`, "--max-semi-space-size=4"] : [];
  // A process group of its own: a terminal's Ctrl-C reaches only the command, which stops its emulators
  // after its functions, instead of the emulators dying under batches still being delivered.
  const child = spawn(process.execPath, [...heap, launcher, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  running.add(child);
  let log = "";
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  child.once("exit", () => running.delete(child));
  try {
    await waitForPort(port, child, name, () => log);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  return {
    name,
    endpoint: `http://127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill("SIGTERM");
      }),
  };
}

export async function startDynalite(options: { heapMb?: number } = {}): Promise<Emulator> {
  const port = await getPort({ host: "127.0.0.1" });
  // dynalite's own command line, with global secondary indexes' write units added to ConsumedCapacity (AWS bills them).
  const cli = fileURLToPath(new URL("./dynalite-billed.cjs", import.meta.url));
  return startChild(
    "dynalite",
    [cli, "--host", "127.0.0.1", "--port", String(port), "--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"],
    {},
    port,
    options.heapMb,
  );
}

/** retentionMs: kinesalite drops records older than this (kinesalite-trimmed.cjs); kinesis-local keeps Kinesis's 24 hours */
export async function startKinesis(
  kind: KinesisEmulator,
  options: { retentionMs?: number; trimEveryMs?: number; heapMb?: number } = {},
): Promise<Emulator> {
  const port = await getPort({ host: "127.0.0.1" });
  if (kind === "kinesalite") {
    const cli = fileURLToPath(new URL("./kinesalite-trimmed.cjs", import.meta.url));
    const retention = options.retentionMs
      ? ["--retentionMs", String(options.retentionMs), ...(options.trimEveryMs ? ["--trimEveryMs", String(options.trimEveryMs)] : [])]
      : [];
    return startChild(
      "kinesalite",
      [
        cli,
        ...retention,
        "--port",
        String(port),
        "--createStreamMs",
        "0",
        "--deleteStreamMs",
        "0",
        "--updateStreamMs",
        "0",
        "--shardLimit",
        "1000",
      ],
      {},
      port,
      options.heapMb,
    );
  }
  const main = require.resolve("kinesis-local/main.js");
  const tlsPort = await getPort({ host: "127.0.0.1" });
  const zero = "0ms";
  return startChild(
    "kinesis-local",
    [main],
    {
      KINESIS_MOCK_PLAIN_PORT: String(port),
      KINESIS_MOCK_TLS_PORT: String(tlsPort),
      KINESIS_MOCK_CERT_PATH: join(dirname(main), "server.json"),
      CREATE_STREAM_DURATION: zero,
      DELETE_STREAM_DURATION: zero,
      MERGE_SHARDS_DURATION: zero,
      SPLIT_SHARD_DURATION: zero,
      UPDATE_SHARD_COUNT_DURATION: zero,
      SHARD_LIMIT: "1000",
      LOG_LEVEL: "WARN",
      ROOT_LOG_LEVEL: "ERROR",
    },
    port,
  );
}
