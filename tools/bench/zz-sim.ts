import { readFileSync } from "node:fs";
import { parsePipelines } from "../../shared/core/pipelines/parse.ts";
import { startDynalite } from "../local/emulators.ts";
import { simulateSeed } from "./seed.ts";
const keys = Number(process.argv[2] ?? 10000);
const minutes = Number(process.argv[3] ?? 6);
const warmupMinutes = Number(process.argv[4] ?? Math.floor(minutes / 2));
const dyn = await startDynalite({});
try {
  const pipelines = parsePipelines(JSON.parse(readFileSync("examples/monitoring.pipelines.json", "utf8")));
  const t = performance.now();
  const run = await simulateSeed({ endpoint: dyn.endpoint, pipelines, eventsPerSecond: 1000, keys, shards: 4, minutes, warmupMinutes, batchSize: 500, batchingWindowMs: 1000, scheduleMs: 60000, latencyMs: 4, label: `k${keys}` });
  const secs = run.measuredMinutes * 60;
  const wcu = (run.ingest.writeUnits + run.watermark.writeUnits) / secs;
  const rcu = (run.ingest.readUnits + run.watermark.readUnits) / secs;
  const month = 2_628_000;
  const ddb = ((wcu * 0.625 + rcu * 0.125) * month) / 1e6;
  const lambda = (u: { invocations: number; billedMs: number }) => ((u.invocations / secs) * month * 0.2) / 1e6 + (u.billedMs / 1000 / secs) * month * 0.0000133334;
  const lam = lambda(run.ingest) + lambda(run.watermark);
  const sorted = [...run.closingRunsMs].sort((a, b) => a - b);
  const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  const bytes = (run.ingest.bytesWritten + run.watermark.bytesWritten) / 1024 / run.events;
  console.log(JSON.stringify({ keys, minutes, measured: run.measuredMinutes, wcuPerEvent: ((wcu * secs) / run.events).toFixed(5), byteFloorWcuPerEvent: bytes.toFixed(5), wcu: wcu.toFixed(2), rcu: rcu.toFixed(2), ddb: ddb.toFixed(2), lambda: lam.toFixed(2), total: (ddb + lam).toFixed(2), vsFlink: ((ddb + lam) / 160.6).toFixed(3), closingRunsMs: { p50: p(0.5)?.toFixed(0), p99: p(0.99)?.toFixed(0), n: sorted.length }, wallS: ((performance.now() - t) / 1000).toFixed(0), byName: run.unitsByName, results: run.results, events: run.events }));
} finally {
  await dyn.stop();
}
