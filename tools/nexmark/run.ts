// `npm run nexmark -- [--events N] [--queries q5,q7,q11] [--rate N] [--seed N] [--shards N] [--batch-size N] [--json]`:
// Nexmark's q5, q7 and q11 through the local stack, events/s per core beside a bare decode loop and
// Flink 1.13's published figures (nexmark.ts says what is measured). Progress on stderr; the table (or
// with --json one JSON object) on stdout. A query file the SQL compiler refuses ends the run before any
// event is generated, with the loader's one-line error on stderr and exit status 2, as every command that
// takes a pipelines file (tools/cli/connection.ts, runCommand); exit status 1 when a query failed to run.
// The logging defaults are bin/panes.js's, set before the handlers' modules load (hence the import below).
process.env.POWERTOOLS_METRICS_DISABLED ??= "true";
process.env.POWERTOOLS_LOG_LEVEL ??= "WARN";
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const { Command, InvalidArgumentError } = await import("commander");
const { RUN_DEFAULTS, NEXMARK_QUERIES, formatReport, runNexmark } = await import("./nexmark.ts");
const { NEXMARK_DEFAULTS } = await import("./generator.ts");
const { runCommand } = await import("../cli/connection.ts");

function integer(min: number, max: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}

const names = NEXMARK_QUERIES.map((q) => q.name);
const program = new Command("nexmark")
  .description("Nexmark q5, q7 and q11 through the local stack: events/s per core, beside a decode loop and Flink 1.13's figures")
  .option("--events <n>", "events to generate", integer(1000, 10_000_000), RUN_DEFAULTS.events)
  .option(
    "--queries <list>",
    `queries, comma-separated (${names.join(", ")})`,
    (v: string) => {
      const list = v.split(",").map((s) => s.trim());
      const unknown = list.filter((q) => !names.includes(q));
      if (unknown.length > 0) throw new InvalidArgumentError(`unknown ${unknown.join(", ")} (${names.join(", ")})`);
      return list;
    },
    [...RUN_DEFAULTS.queries],
  )
  .option(
    "--rate <n>",
    "events per second of event time (Nexmark's first-event.rate)",
    integer(1, 100_000_000),
    NEXMARK_DEFAULTS.eventsPerSecond,
  )
  .option("--seed <n>", "generator seed", integer(0, 2 ** 31), NEXMARK_DEFAULTS.seed)
  .option("--shards <n>", "shards of the emulated stream", integer(1, 64), RUN_DEFAULTS.shards)
  .option("--batch-size <n>", "records per ingest invocation (panes replay's --batch-size)", integer(1, 10_000), RUN_DEFAULTS.batchSize)
  .option("--json", "one JSON object on stdout")
  .parse();

const o = program.opts<{
  events: number;
  queries: string[];
  rate: number;
  seed: number;
  shards: number;
  batchSize: number;
  json?: boolean;
}>();
await runCommand(async () => {
  const report = await runNexmark(
    {
      events: o.events,
      queries: o.queries,
      shards: o.shards,
      batchSize: o.batchSize,
      generator: { eventsPerSecond: o.rate, seed: o.seed },
    },
    (message) => process.stderr.write(`nexmark: ${message}\n`),
  );
  process.stdout.write(o.json ? `${JSON.stringify(report)}\n` : `${formatReport(report)}\n`);
  if (report.queries.some((q) => q.status === "failed")) process.exitCode = 1;
});
