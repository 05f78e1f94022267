// The `panes` command line, declared: each command is a small module calling shared/. main.ts runs it;
// the tests read it (every command and option is in the README).
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import { nearest } from "../../shared/core/config-issues.ts";
import { parseDuration } from "../../shared/core/windows/duration.ts";
import { runBenchCommand } from "./bench.ts";
import { runChaos } from "./chaos.ts";
import { runDashboard } from "./dashboard.ts";
import { runDeadLetters } from "./dead-letters.ts";
import { runGenerate } from "./generate.ts";
import { runProduce } from "./produce.ts";
import { runRedrive } from "./redrive.ts";
import { runReplay } from "./replay.ts";
import { runResults } from "./results.ts";
import { runStart } from "./start.ts";
import { runStatus } from "./status.ts";
import { runWatermark } from "./watermark.ts";

function integer(min: number, max: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}

export function parseTime(value: string): number {
  if (/^\d+$/.test(value)) return Number(value);
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new InvalidArgumentError("must be epoch milliseconds or an ISO-8601 time");
  return ms;
}

/** A time, or a duration before now ("15m": the last 15 minutes). */
function sinceTime(value: string): number {
  const ago = parseDuration(value);
  return ago === undefined ? parseTime(value) : Date.now() - ago;
}

function probability(value: string): number {
  const p = Number(value);
  if (!(p >= 0 && p < 1)) throw new InvalidArgumentError("must be a probability at least 0 and below 1");
  return p;
}

function duration(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError('must be a duration such as "30s" or "5m"');
  return ms;
}

/** Example files ship with the package: defaults resolve from it, not from the working directory. */
const example = (name: string) => fileURLToPath(new URL(`../../examples/${name}`, import.meta.url));

const kinesisOption = () =>
  new Option("--kinesis <emulator>", "Kinesis emulator to start").choices(["kinesalite", "kinesis-local"]).default("kinesalite");

const awsOptions = (command: Command) =>
  command
    .option("--stack <name>", "a deployed Panes stack: table and pipeline names come from its outputs")
    .option("--region <region>", "AWS region")
    .option("--profile <profile>", "AWS profile (shared config files)");

export const program = new Command("panes")
  .description("Serverless event-time windowing on AWS: Flink's windows on Kinesis, Lambda and DynamoDB.")
  // A usage error is one line and exit code 2 (subcommands inherit both).
  .exitOverride()
  .configureOutput({
    outputError: (text, write) =>
      write(
        `panes: ${text
          .replace(/^error: /, "")
          .trim()
          .replace(/\s*\n\s*/g, " ")} (--help shows the usage)\n`,
      ),
  })
  .addHelpText(
    "after",
    "\nEndpoints: commands that talk to AWS use AWS_ENDPOINT_URL when set (LocalStack-compatible),\notherwise the local stack started by `panes start` (npm start) when it is running, otherwise AWS.",
  );

program
  .command("start")
  .description("run the local pipeline: emulators, stream and tables, ingest and watermark functions, and a demo producer")
  .option("--pipelines <file>", "pipelines file (JSON, Flink SQL or a TS module); default: the demo's", example("demo.pipelines.json"))
  .addOption(kinesisOption())
  .option("--shards <n>", "shards of the source stream", integer(1, 64), 2)
  .option("--no-demo", "do not run the demo producer (produce your own events with `panes produce`)")
  .option("--speed <x>", "demo event clock speed-up over wall time", integer(1, 100_000), 300)
  .option("--hosts <n>", "demo hosts", integer(1, 1000), 6)
  .option("--dashboard-port <port>", "port of the web dashboard on 127.0.0.1 (0: a free port)", integer(0, 65_535), 0)
  .option("--no-dashboard", "do not serve the web dashboard")
  .action(runStart);

program
  .command("replay")
  .description("run a bounded input through the whole local stack and write every final window as JSON lines")
  .requiredOption("--pipelines <file>", "pipelines file (JSON, Flink SQL or a TS module)")
  .requiredOption("--input <file>", "events, one JSON object per line")
  .requiredOption("--output <file>", "results, one JSON object per line ('-' for stdout)")
  .option("--shards <n>", "shards of the emulated stream", integer(1, 64), 2)
  .option("--batch-size <n>", "event source mapping BatchSize", integer(1, 10_000), 1000)
  .option("--partition-key <field>", "event field used as the Kinesis partition key (default: the first pipeline's key)")
  .addOption(kinesisOption())
  .option("--dead-letters <file>", "write what was dead-lettered or late, with the reasons, as JSON lines ('-' for stdout)")
  .option("--strict", "exit with status 3 when any record was dead-lettered or late")
  .option(
    "--chaos <p>",
    "inject faults with probability p per invocation (crashes, timeouts, throttling, redelivery, faulty watermark runs)",
    probability,
  )
  .option("--chaos-seed <n>", "seed of the fault injection", integer(0, 2 ** 31), 1)
  .option("--reshard-at <k>", "split every shard after k records, and merge two back after 2k", integer(1, 100_000_000))
  .action(runReplay);

const produce = program
  .command("produce")
  .description("write JSON lines to a Kinesis stream with PutRecords batching and retry of refused records")
  .argument("[file]", "JSON lines file, or '-' for standard input", "-")
  .option("--stream <name>", "stream name or ARN (default: the source stream of --stack, or of the local stack)")
  .option("--partition-key <field>", "event field used as the partition key (default: a random key per record)")
  .option("--aggregate", "pack records KPL-style (Kinesis Producer Library aggregation), as high-volume producers do");
awsOptions(produce).action(runProduce);

const results = program
  .command("results")
  .description("read window results from the results table")
  .requiredOption("--pipeline <name>", "pipeline name")
  .option("--key <key>", "only this key")
  .option("--from <time>", "windows ending at or after this time (epoch ms or ISO-8601)", parseTime)
  .option("--to <time>", "windows ending at or before this time (epoch ms or ISO-8601)", parseTime)
  .option("--json", "one JSON object per line instead of a table")
  .option("--superseded", "also session results that a later result of a grown or merged session replaced")
  .option("--retracted", "also windows whose row HAVING retracted (a late event or the final result stopped it passing)")
  .option("--table <name>", "results table (default: the stack's or the local stack's)");
awsOptions(results).action(runResults);

awsOptions(
  program
    .command("status")
    .description("watermarks and their lag, shard checkpoints (last sequence number, max event time, idle) and dead-letter counts")
    .option("--pipelines <file>", "pipelines file (default: the stack's or the local stack's pipeline names)")
    .option("--state-table <name>", "state table (default: the stack's or the local stack's)")
    .option("--dead-letter-table <name>", "dead-letter table (default: the stack's or the local stack's)")
    .option("--json", "one JSON object")
    .option("--watch", "refresh every 2 seconds until Ctrl-C"),
).action(runStatus);

awsOptions(
  program
    .command("watermark")
    .description("a pipeline's watermark and shard checkpoints; --reset-to T --yes sets it back after something moved it too far")
    .requiredOption("--pipeline <name>", "pipeline name")
    .option(
      "--reset-to <time>",
      "set the watermark back to this time (epoch ms or ISO-8601), clamping the shards' max event times",
      parseTime,
    )
    .option("--yes", "confirm the reset")
    .option("--state-table <name>", "state table (default: the stack's or the local stack's)"),
).action(runWatermark);

awsOptions(
  program
    .command("dashboard")
    .description("serve the live web dashboard (results per key, watermarks, shards, dead letters) on 127.0.0.1")
    .option("--pipelines <file>", "the deployment's pipelines file (default: the local stack's, else cdk.json's panes.pipelinesFile)")
    .option("--port <port>", "port on 127.0.0.1 (0: a free port)", integer(0, 65_535), 0)
    .option("--refresh <duration>", "how often to read the tables (default 5s against AWS, 1s otherwise)", duration)
    .option(
      "--dead-letters-every <duration>",
      "how often to count dead letters, a table scan (default 1m against AWS, 5s otherwise)",
      duration,
    )
    .option("--state-table <name>", "state table (default: the stack's or the local stack's)")
    .option("--table <name>", "results table (default: the stack's or the local stack's)")
    .option("--dead-letter-table <name>", "dead-letter table (default: the stack's or the local stack's)"),
).action(runDashboard);

const dlq = program
  .command("dlq")
  .description("inspect and redrive the dead-letter store: invalid records and too-late events, with reasons");
const dlqList = dlq
  .command("list")
  .description("list dead letters, newest first")
  .addOption(new Option("--kind <kind>", "only this kind").choices(["invalid", "late"]))
  .option("--pipeline <name>", 'only letters of this pipeline ("*": records no pipeline could read)')
  .option("--since <time>", 'only letters recorded at or after this time: ISO-8601, epoch ms, or a duration ago ("1h")', sinceTime)
  .option("--limit <n>", "at most this many (0: all)", integer(0, 100_000_000), 50)
  .option("--json", "one JSON object per line (data as UTF-8 text and base64)")
  .option("--table <name>", "dead-letter table (default: the stack's or the local stack's)");
awsOptions(dlqList).action(runDeadLetters);
awsOptions(
  dlq
    .command("redrive")
    .description("put dead-lettered records back on the source stream (after fixing the cause) and remove their dead letters")
    .addOption(new Option("--kind <kind>", "only this kind").choices(["invalid", "late"]))
    .option("--pipeline <name>", "only records this pipeline refused")
    .option("--stream <name>", "source stream name or ARN (default: the stack's or the local stack's; refused if it is another stream)")
    .option("--table <name>", "dead-letter table (default: the stack's or the local stack's)")
    .option("--force", "also redrive records that other pipelines already applied (they would count twice there)")
    .option("--dry-run", "say what would be redriven, change nothing"),
).action(runRedrive);

program
  .command("chaos")
  .description(
    "reliability report: replays generated data with injected faults and resharding, checks every window against a brute-force reference and the late output",
  )
  .option(
    "--pipelines <file>",
    "pipelines file; default: tumbling, sliding, cumulating and session examples with lateness and early results",
    example("all-windows.pipelines.json"),
  )
  .option("--runs <n>", "replays (every other one reshards)", integer(1, 1000), 4)
  .option("--events <n>", "events per replay", integer(100, 10_000_000), 8000)
  .option("--p <p>", "fault probability per invocation", probability, 0.3)
  .option("--shards <n>", "shards of the emulated stream", integer(1, 64), 2)
  .option("--seed <n>", "first seed", integer(0, 2 ** 31), 100)
  .option("--fuzz-runs <n>", "then fuzz ingest and closing with this many random inputs (0: none)", integer(0, 1_000_000), 200)
  .addOption(kinesisOption())
  .option("--json", "one JSON object on stdout")
  .action(runChaos);

program
  .command("bench")
  .description(
    "measure speed and cost on the local stack at the default configuration, against baselines in the same run (see BENCHMARKS.md)",
  )
  .option("--json", "one JSON object on stdout")
  .option("--quick", "leave out the scaling table (the slowest part)")
  .action(runBenchCommand);

program
  .command("generate")
  .description("write generated cpu/mem monitoring events as JSON lines (for replay and demos)")
  .option("--events <n>", "number of events", integer(1, 100_000_000), 10_000)
  .option("--hosts <n>", "number of hosts", integer(1, 100_000), 10)
  .option("--start <time>", "first event time (epoch ms or ISO-8601)", parseTime, Date.parse("2026-01-01T00:00:00Z"))
  .option("--step <duration>", "mean event-time step between events", duration, 1000)
  .option("--disorder <duration>", "how far an event may lag the latest one", duration, 20_000)
  .option("--seed <n>", "random seed", integer(0, 2 ** 31), 1)
  .option("--output <file>", "output file ('-' for stdout)", "-")
  .action(runGenerate);

/**
 * An option the command the arguments name does not take, as commander would report it ("unknown
 * option", with a did-you-mean): commander checks required options first, so a misspelt required
 * option (`results --pipline X`) would read as a missing one. Undefined when every option is known.
 */
export function unknownOptionIn(args: readonly string[], root: Command = program): { command: Command; message: string } | undefined {
  let command = root;
  let at = 0;
  for (; at < args.length; at++) {
    const sub = command.commands.find((c) => c.name() === args[at] || c.aliases().includes(args[at] as string));
    if (sub === undefined) break;
    command = sub;
  }
  if (command === root) return undefined;
  const takesValue = new Map(command.options.flatMap((o) => [o.long, o.short].filter((f) => f !== undefined).map((f) => [f, o.required])));
  const known = [...takesValue.keys(), "--help", "-h"] as string[];
  for (let i = at; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--") break;
    const [flag, inline] = arg.split("=", 2) as [string, string | undefined];
    if (takesValue.get(flag) && inline === undefined) i++; // its value, whatever it looks like
    if (!arg.startsWith("--") || known.includes(flag)) continue;
    const near = nearest(flag, known);
    return { command, message: `unknown option '${flag}'${near ? ` (did you mean ${near}?)` : ""}` };
  }
  return undefined;
}
