import type { AggregateValue } from "../aggregates/state.ts";
import { queryResults } from "../state/results.ts";
import { connect, required, resolveTarget, runCommand, type TargetFlags } from "./connection.ts";

export function runResults(
  options: { pipeline: string; key?: string; from?: number; to?: number; json?: boolean; superseded?: boolean } & TargetFlags,
) {
  return runCommand(async () => {
    const connection = await connect(options);
    const table = required((await resolveTarget(connection, options)).resultsTable, "the results table (--table)");
    const results = await queryResults(connection.dynamodb, table, {
      pipeline: options.pipeline,
      key: options.key,
      from: options.from,
      to: options.to,
      superseded: options.superseded,
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
      ...names.map((n) => formatValue(r.values[n])),
      String(r.count),
      String(r.version),
      ...(options.superseded
        ? [r.supersededBy ? `by ${new Date(r.supersededBy.start).toISOString()}–${new Date(r.supersededBy.end).toISOString()}` : ""]
        : []),
    ]);
    printTable(["key", "start", "end", ...names, "events", "version", ...(options.superseded ? ["superseded"] : [])], rows);
    process.stderr.write(`${results.length} windows of ${options.pipeline} (${connection.describe})\n`);
  });
}

export function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Math.round(n * 100) / 100);
}

/** A number, or quantiles as `p50=… p99=…`; "n/a" for a value the window cannot give (see AggregateValue). */
export function formatValue(value: AggregateValue | undefined): string {
  if (value === undefined) return "";
  if (value === null) return "n/a";
  if (typeof value === "number") return formatNumber(value);
  return Object.entries(value)
    .map(([q, v]) => `${q}=${formatNumber(v)}`)
    .join(" ");
}

export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ");
  process.stdout.write(`${line(header)}\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
}
