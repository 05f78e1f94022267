// `panes bench` (npm run bench): the benchmark report as a table, or one JSON object with --json.
import { runBench } from "../bench/bench.ts";
import { runCommand } from "./connection.ts";

export function runBenchCommand(options: { json?: boolean; quick?: boolean }) {
  return runCommand(async () => {
    const report = await runBench((m) => process.stderr.write(`bench: ${m}\n`), { quick: options.quick === true });
    if (options.json) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
      return;
    }
    const { details: _details, ...figures } = report;
    process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
  });
}
