import { queryResults } from "../../shared/aws/dynamodb/results.ts";
import type { AggregateValue } from "../../shared/core/aggregates/state.ts";
import { counted } from "../local/plural.ts";
import { checkPipelineName, connect, required, resolveTarget, runCommand, type TargetFlags } from "./connection.ts";

export function runResults(
  options: {
    pipeline: string;
    key?: string;
    from?: number;
    to?: number;
    json?: boolean;
    superseded?: boolean;
    retracted?: boolean;
  } & TargetFlags,
) {
  return runCommand(async () => {
    const connection = await connect(options);
    const target = await resolveTarget(connection, options);
    checkPipelineName(options.pipeline, target);
    const table = required(target.resultsTable, "the results table (--table)");
    const results = await queryResults(connection.dynamodb, table, {
      pipeline: options.pipeline,
      key: options.key,
      from: options.from,
      to: options.to,
      superseded: options.superseded,
      retracted: options.retracted,
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
      ...(options.retracted ? [r.retracted ? "yes" : ""] : []),
    ]);
    printTable(
      [
        "key",
        "start",
        "end",
        ...names,
        "events",
        "version",
        ...(options.superseded ? ["superseded"] : []),
        ...(options.retracted ? ["retracted"] : []),
      ],
      rows,
    );
    process.stderr.write(`${counted(results.length, "window")} of ${options.pipeline} (${connection.describe})\n`);
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
  if (typeof value === "string") return printable(value);
  if (typeof value === "boolean") return String(value).toUpperCase();
  // a ranking's rows
  if (Array.isArray(value)) return printable(JSON.stringify(value));
  return Object.entries(value)
    .map(([q, v]) => `${q}=${formatNumber(v)}`)
    .join(" ");
}

/**
 * Text from events (keys, reasons, record data) made safe for a terminal: control characters (ESC,
 * BEL, newlines, C1 controls) and lone surrogates are shown as escapes instead of being obeyed.
 */
export function printable(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      out += text.slice(i, i + 2); // a surrogate pair: one character
      i++;
    } else if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xdfff)) {
      out += `\\u${c.toString(16).padStart(4, "0")}`;
    } else out += text[i];
  }
  return out;
}

export function printTable(header: string[], rows: string[][]): void {
  rows = rows.map((row) => row.map(printable));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ");
  process.stdout.write(`${line(header)}\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
}
