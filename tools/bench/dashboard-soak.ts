// Dashboard soak: does the dashboard keep up with `npm start`, and stay within bounded memory? Runs
// `panes start` (the demo at its default speed), opens the dashboard in Debian's headless Chromium, and
// samples for N minutes: the panes process's resident memory and heap (as the server reports them),
// the page's JS heap after a garbage collection and its DOM size, what the server holds, and how far the
// page's watermark trails the server's. With --control it runs `panes start --no-dashboard` instead and
// samples the process's resident memory only: the same load without the dashboard, for comparison.
// Usage: npm run soak:dashboard -- [minutes] [--control]   (default 10 minutes)
import { spawn } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import type { DashboardSnapshot } from "../dashboard/model.ts";

const control = process.argv.includes("--control");
const minutes = Number(process.argv.slice(2).find((a) => /^\d+(\.\d+)?$/.test(a)) ?? 10);
const everyMs = 30_000;
const panesBin = fileURLToPath(new URL("../../bin/panes.js", import.meta.url));
const cwd = await mkdtemp(join(tmpdir(), "panes-soak-"));

const panes = spawn(process.execPath, [panesBin, "start", ...(control ? ["--no-dashboard"] : [])], {
  cwd,
  stdio: ["ignore", "pipe", "inherit"],
});
let output = "";
panes.stdout.on("data", (d) => {
  output += d.toString();
  if (output.length > 100_000) output = output.slice(-10_000);
});
const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
const rssOf = async (pid: number) =>
  Number((await readFile(`/proc/${pid}/status`, "utf8")).match(/^VmRSS:\s+(\d+) kB$/m)?.[1] ?? Number.NaN) * 1024;

if (control) {
  const started = Date.now();
  await new Promise((r) => setTimeout(r, 5000));
  process.stdout.write(`panes start --no-dashboard; sampling every ${everyMs / 1000} s for ${minutes} min\nminute  rss-MB\n`);
  const samples: { minute: number; rssMb: number }[] = [];
  for (;;) {
    const sample = { minute: Math.round((Date.now() - started) / 6000) / 10, rssMb: mb(await rssOf(panes.pid as number)) };
    samples.push(sample);
    process.stdout.write(`${sample.minute}  ${sample.rssMb}\n`);
    if (Date.now() - started >= minutes * 60_000) break;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  panes.kill("SIGINT");
  await new Promise((r) => panes.once("exit", r));
  process.stdout.write(`${JSON.stringify({ control: true, minutes, first: samples.find((s) => s.minute >= 1), last: samples.at(-1) })}\n`);
  process.exit(0);
}

const url = await new Promise<string>((resolve, reject) => {
  const timer = setInterval(() => {
    const match = output.match(/^Dashboard: (\S+)$/m);
    if (match) {
      clearInterval(timer);
      resolve(match[1] as string);
    }
    if (panes.exitCode !== null) reject(new Error(`panes start exited:\n${output}`));
  }, 100);
});

const browser = await chromium.launch({
  executablePath: process.env.PANES_CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"],
});
const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
const cdp = await page.context().newCDPSession(page);
await cdp.send("Performance.enable");
await page.goto(url);

const samples: Record<string, number>[] = [];
const started = Date.now();
process.stdout.write(`Dashboard ${url}; sampling every ${everyMs / 1000} s for ${minutes} min\n`);
process.stdout.write(
  "minute  server-rss-MB  server-heap-MB  page-heap-MB  page-dom-nodes  held-windows  held-samples  snapshot-KB  page-watermark-lag-s\n",
);
for (;;) {
  await cdp.send("HeapProfiler.collectGarbage");
  const { metrics } = await cdp.send("Performance.getMetrics");
  const metric = (name: string) => metrics.find((m) => m.name === name)?.value ?? Number.NaN;
  const response = await fetch(new URL("/api/snapshot", url));
  const text = await response.text();
  const snapshot = JSON.parse(text) as DashboardSnapshot;
  const shown = await page.locator("section .stats dd time").first().getAttribute("datetime");
  const serverWatermark = snapshot.pipelines[0]?.watermark ?? Number.NaN;
  const sample = {
    minute: Math.round((Date.now() - started) / 6000) / 10,
    serverRssMb: mb(snapshot.memory.rss),
    serverHeapMb: mb(snapshot.memory.heapUsed),
    pageHeapMb: mb(metric("JSHeapUsedSize")),
    pageDomNodes: metric("Nodes"),
    heldWindows: snapshot.held.windows,
    heldSamples: snapshot.held.samples,
    snapshotKb: Math.round(text.length / 1024),
    // event time runs 300× the wall clock in the demo: a page one refresh behind trails by ~300 s of event time
    pageWatermarkLagS: shown ? Math.round((serverWatermark - Date.parse(shown)) / 1000) : Number.NaN,
  };
  samples.push(sample);
  process.stdout.write(`${Object.values(sample).map(String).join("  ")}\n`);
  if (Date.now() - started >= minutes * 60_000) break;
  await new Promise((r) => setTimeout(r, everyMs));
}

await browser.close();
panes.kill("SIGINT");
await new Promise((r) => panes.once("exit", r));
const first = samples.find((s) => (s.minute ?? 0) >= 1) ?? samples[0];
const last = samples.at(-1);
process.stdout.write(`${JSON.stringify({ minutes, first, last, samples: samples.length })}\n`);
