// `npm run cold-start`: what bundling the AWS SDK into the functions costs or saves at a cold start,
// measured here as Lambda's init phase does its part: a fresh Node process loading the function's
// bundle (module evaluation, configuration, clients; no request). Each function is built twice the
// way `cdk synth` builds it (esbuild, ESM, minified, node24): with the SDK (`@aws-sdk/*`, `@smithy/*`)
// left out, as CDK's default does, so the runtime's own copy is loaded from node_modules (here: the
// project's, the same files Lambda's runtime ships, one file at a time); and with the SDK in the
// bundle, tree-shaken. Runs alternate, and the medians are reported with the bundles' sizes.
// What it cannot measure here: Lambda's own init (the runtime, the code download); both are the
// same either way but for the size of the code, which the bundle sizes show.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const FUNCTIONS = ["ingest", "watermark", "closer"] as const;
const RUNS = Number(process.env.COLD_START_RUNS ?? 15);

const ENVIRONMENT = {
  PANES_STATE_TABLE: "state",
  PANES_RESULTS_TABLE: "results",
  PANES_DEAD_LETTER_TABLE: "letters",
  PANES_SOURCE_STREAM_ARN: "arn:aws:kinesis:us-east-1:000000000000:stream/events",
  PANES_OUTPUT_STREAM_ARN: "arn:aws:kinesis:us-east-1:000000000000:stream/results",
  PANES_UNITS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/units",
  PANES_WATERMARK_FUNCTION_NAME: "watermark",
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "x",
  AWS_SECRET_ACCESS_KEY: "y",
  POWERTOOLS_METRICS_DISABLED: "true",
};

async function bundle(fn: string, dir: string, sdkInBundle: boolean): Promise<string> {
  const outfile = join(dir, `${fn}-${sdkInBundle ? "bundled" : "external"}.mjs`);
  await build({
    entryPoints: [join(ROOT, "functions", `${fn}.ts`)],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    minify: true,
    mainFields: ["module", "main"],
    external: sdkInBundle ? [] : ["@aws-sdk/*", "@smithy/*"],
    banner: {
      js: "import { createRequire as __panesCreateRequire } from 'module'; const require = __panesCreateRequire(import.meta.url);",
    },
    logLevel: "error",
  });
  return outfile;
}

/** Milliseconds a fresh process takes to load the bundle (measured inside it, from before the import). */
function initMs(file: string, pipelinesFile: string): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(file)}); process.stdout.write(String(performance.now() - t));`;
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: ROOT,
    env: { ...process.env, ...ENVIRONMENT, PANES_PIPELINES_FILE: pipelinesFile, LAMBDA_TASK_ROOT: ROOT },
    encoding: "utf8",
  });
  if (run.status !== 0) throw new Error(`loading ${file} failed: ${run.stderr}`);
  return Number(run.stdout);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

export interface ColdStartRow {
  function: string;
  externalMs: number;
  bundledMs: number;
  externalKb: number;
  bundledKb: number;
}

export async function measureColdStart(say: (m: string) => void = () => undefined): Promise<ColdStartRow[]> {
  // Inside the project, so that a bundle that leaves the SDK out finds it in node_modules.
  const dir = mkdtempSync(join(ROOT, ".cold-start-"));
  try {
    const pipelinesFile = join(dir, "pipelines.json");
    copyFileSync(join(ROOT, "examples/monitoring.pipelines.json"), pipelinesFile);
    const rows: ColdStartRow[] = [];
    for (const fn of FUNCTIONS) {
      const external = await bundle(fn, dir, false);
      const bundled = await bundle(fn, dir, true);
      const times = { external: [] as number[], bundled: [] as number[] };
      for (let i = 0; i < RUNS; i++) {
        times.external.push(initMs(external, pipelinesFile));
        times.bundled.push(initMs(bundled, pipelinesFile));
      }
      const row = {
        function: fn,
        externalMs: Math.round(median(times.external)),
        bundledMs: Math.round(median(times.bundled)),
        externalKb: Math.round(statSync(external).size / 1024),
        bundledKb: Math.round(statSync(bundled).size / 1024),
      };
      say(
        `${fn}: SDK left out ${row.externalMs} ms (${row.externalKb} KB of bundle), SDK bundled ${row.bundledMs} ms (${row.bundledKb} KB)`,
      );
      rows.push(row);
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await measureColdStart((m) => process.stderr.write(`cold start: ${m}\n`));
  process.stdout.write(`${JSON.stringify({ runs: RUNS, node: process.version, rows }, null, 2)}\n`);
}
