// Soak: does `npm start` run in bounded memory? Runs `npm start` (the demo at its default speed, the
// dashboard served) as a user would, and every 30 s sums the resident memory of every process it
// started — npm, the panes process, dynalite, kinesalite — from /proc. Prints one line per sample
// (each process's share too) and, at the end, a JSON summary: the figure at minute 3, the least and
// the most from minute 3 on, and whether the sum stayed under 1 GB and within 10% of its least.
// Exits 1 if it did not. Usage: npm run soak -- [minutes] (default 60)
import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const minutes = Number(process.argv.slice(2).find((a) => /^\d+(\.\d+)?$/.test(a)) ?? 60);
const everyMs = 30_000;
const root = fileURLToPath(new URL("../..", import.meta.url));

interface Proc {
  pid: number;
  ppid: number;
  name: string;
  rssKb: number;
}

async function processes(): Promise<Proc[]> {
  const all: Proc[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = await readFile(`/proc/${entry}/status`, "utf8");
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, "utf8")).split("\0").filter(Boolean);
      const field = (name: string) => status.match(new RegExp(`^${name}:\\s+(\\S+)`, "m"))?.[1] ?? "";
      // a process that has exited but not been reaped has no command line: its name, from the status
      const name = cmdline.length > 0 ? nameOf(cmdline) : `${field("Name")} (exited)`;
      all.push({ pid: Number(entry), ppid: Number(field("PPid")), name, rssKb: Number(field("VmRSS") || 0) });
    } catch {
      // gone meanwhile
    }
  }
  return all;
}

function nameOf(cmdline: string[]): string {
  const text = cmdline.join(" ");
  for (const name of ["dynalite", "kinesalite", "kinesis-local", "panes.js start"])
    if (text.includes(name)) return name.split(" ")[0] as string;
  if (/\bnpm\b/.test(text)) return "npm";
  return (cmdline[0] ?? "?").split("/").at(-1) ?? "?";
}

/** The process and all its descendants. */
function tree(all: readonly Proc[], rootPid: number): Proc[] {
  const found = all.filter((p) => p.pid === rootPid);
  for (let i = 0; i < found.length; i++) found.push(...all.filter((p) => p.ppid === found[i]?.pid));
  return found;
}

const npm = spawn("npm", ["start"], { cwd: root, stdio: ["ignore", "pipe", "pipe"], detached: true });
let output = "";
const keep = (d: Buffer) => {
  output = (output + d.toString()).slice(-20_000);
};
npm.stdout.on("data", keep);
npm.stderr.on("data", keep);
const stopAll = () => {
  try {
    process.kill(-(npm.pid as number), "SIGINT");
  } catch {
    // already gone
  }
};
process.once("SIGINT", () => {
  stopAll();
  process.exit(130);
});

const started = Date.now();
const samples: { minute: number; totalMb: number; parts: Record<string, number> }[] = [];
process.stdout.write(`npm start; every ${everyMs / 1000} s for ${minutes} min: resident memory of every process it started (MB)\n`);
for (;;) {
  await new Promise((r) => setTimeout(r, samples.length === 0 ? 15_000 : everyMs - ((Date.now() - started) % everyMs)));
  if (npm.exitCode !== null) throw new Error(`npm start exited with ${npm.exitCode}:\n${output}`);
  const procs = tree(await processes(), npm.pid as number);
  const parts: Record<string, number> = {};
  for (const p of procs) parts[p.name] = Math.round(((parts[p.name] ?? 0) + p.rssKb / 1024) * 10) / 10;
  const totalMb = Math.round(procs.reduce((sum, p) => sum + p.rssKb, 0) / 102.4) / 10;
  const sample = { minute: Math.round((Date.now() - started) / 6000) / 10, totalMb, parts };
  samples.push(sample);
  process.stdout.write(
    `${sample.minute.toFixed(1).padStart(5)}  total ${String(totalMb).padStart(7)}  ${Object.entries(parts)
      .map(([k, v]) => `${k} ${v}`)
      .join("  ")}\n`,
  );
  if (Date.now() - started >= minutes * 60_000) break;
}
stopAll();
await new Promise((r) => npm.once("exit", r));

const steady = samples.filter((s) => s.minute >= 3);
const atMinute3 = steady[0];
const least = Math.min(...steady.map((s) => s.totalMb));
const most = Math.max(...steady.map((s) => s.totalMb));
const summary = {
  minutes,
  samples: samples.length,
  atMinute3: atMinute3?.totalMb,
  leastFromMinute3: least,
  mostFromMinute3: most,
  mostOverLeast: Math.round((most / least) * 1000) / 1000,
  last: samples.at(-1),
  underOneGb: most < 1024,
  flatWithin10Percent: most <= least * 1.1,
};
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exit(summary.underOneGb && summary.flatWithin10Percent ? 0 : 1);
