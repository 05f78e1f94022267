// Loading the Flink conformance cases (test/conformance/flink/*.json) and what every runner of them
// shares: the case as a Panes pipeline, an independent computation of a window's values from its
// elements, and comparison of firings as multisets.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parsePipelines } from "../../shared/core/pipelines/parse.ts";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import type { ConformanceCase, ConformanceElement, ConformanceFile, ConformanceFiring } from "../conformance/case.ts";

const DIR = fileURLToPath(new URL("../conformance/flink/", import.meta.url));

export function conformanceFiles(): { file: string; content: ConformanceFile }[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((file) => ({ file, content: JSON.parse(readFileSync(join(DIR, file), "utf8")) as ConformanceFile }));
}

export function conformanceCases(): { file: string; testCase: ConformanceCase }[] {
  return conformanceFiles().flatMap(({ file, content }) => content.cases.map((testCase) => ({ file, testCase })));
}

/** The case as a pipeline: the watermark is driven by the case's steps, never derived from event times. */
export function pipelineOf(testCase: ConformanceCase, name = "conformance"): Pipeline {
  const [pipeline] = parsePipelines({
    pipelines: [
      {
        name,
        key: "key",
        eventTime: "ts",
        window: testCase.window,
        aggregates: testCase.aggregates as never,
        allowedLateness: testCase.allowedLateness,
        // Far larger than any case's times: the checkpoints never move the watermark, the steps do;
        // and the harness's processing-time clock starts at 0, decades before the cases' events.
        outOfOrderness: 1_000_000_000_000_000,
        maxFutureSkew: 1_000_000_000_000_000,
      },
    ],
  });
  return pipeline as Pipeline;
}

/** A window's values computed from its elements, by brute force (independent of Panes' aggregates). */
export function valuesOfElements(aggregates: Record<string, unknown>, elements: readonly ConformanceElement[]): Record<string, number> {
  const values: Record<string, number> = {};
  for (const [name, spec] of Object.entries(aggregates)) {
    const [op, field] = Object.entries(spec as Record<string, unknown>).find(([k]) => k !== "unit") ?? [];
    const path = typeof field === "string" ? field : ((field as { field?: string } | undefined)?.field ?? "");
    const xs = elements.map((e) => e[path]);
    if (op === "count") values[name] = elements.length;
    else if (op === "sum") values[name] = xs.reduce<number>((s, x) => s + Number(x), 0);
    else if (op === "min") values[name] = Math.min(...xs.map(Number));
    else if (op === "max") values[name] = Math.max(...xs.map(Number));
    else if (op === "avg") values[name] = xs.reduce<number>((s, x) => s + Number(x), 0) / xs.length;
    else if (op === "distinct") values[name] = new Set(xs.map(String)).size;
    else throw new Error(`the conformance runner has no reference for aggregate ${String(op)}`);
  }
  return values;
}

/** Firings in a canonical order, values rounded to 9 significant digits (sums are doubles). */
export function canonicalFirings(firings: readonly ConformanceFiring[]): string[] {
  const round = (x: number) => Number(x.toPrecision(9));
  return firings
    .map((f) =>
      JSON.stringify([
        f.key,
        f.start,
        f.end,
        Object.entries(f.values)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => [k, round(v)]),
      ]),
    )
    .sort();
}

/** An element as the JSON event a producer would send. */
export function eventOf(element: ConformanceElement): object {
  return { ...element };
}

/** Element identity for late-output comparison. */
export const elementId = (e: { key: unknown; ts: unknown; value?: unknown }) => JSON.stringify([e.key, e.ts, e.value ?? null]);
