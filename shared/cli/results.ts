import { queryResults } from "../state/results.ts";
import { connect, required, resolveTarget, runCommand, type TargetFlags } from "./connection.ts";

export function runResults(options: { pipeline: string; key?: string; from?: number; to?: number; json?: boolean } & TargetFlags) {
  return runCommand(async () => {
    const connection = await connect(options);
    const table = required((await resolveTarget(connection, options)).resultsTable, "the results table (--table)");
    const results = await queryResults(connection.dynamodb, table, {
      pipeline: options.pipeline,
      key: options.key,
      from: options.from,
      to: options.to,
    });
    if (options.json) {
      for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
      return;
    }
    const names = [...new Set(results.flatMap((r) => Object.keys(r.values)))];
    const rows = results.map((r) => [
      r.key,
      new Date(r.start).toISOString(),
      new Date(r.end).toISOString(),
      ...names.map((n) => (r.values[n] === undefined ? "" : formatNumber(r.values[n] as number))),
      String(r.count),
      String(r.version),
    ]);
    printTable(["key", "start", "end", ...names, "events", "version"], rows);
    process.stderr.write(`${results.length} windows of ${options.pipeline} (${connection.describe})\n`);
  });
}

export function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Math.round(n * 100) / 100);
}

export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ");
  process.stdout.write(`${line(header)}\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
}
