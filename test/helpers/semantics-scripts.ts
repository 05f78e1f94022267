// Random window scripts and their check against the reference model of Flink's WindowOperator, shared
// by the property test of the pure core (in memory, thousands of runs) and the one through the real
// handlers on the emulators (fewer runs). A system under test ingests batches, takes an explicit
// watermark (Panes' = Flink's + 1), runs closing at a processing time, and reports what it emitted.
import fc from "fast-check";
import { expect } from "vitest";
import { parsePipelines } from "../../shared/core/pipelines/parse.ts";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import { parseExpression } from "../../shared/core/sql/parse-expression.ts";
import type { DeadLetter } from "../../shared/core/types.ts";
import { END_OF_TIME } from "../../shared/core/windows/watermark.ts";
import { type ModelFiring, type ModelWindowSpec, WindowOperatorModel } from "../../tools/local/flink-model.ts";
import { valuesOfElements } from "./conformance.ts";

/** Where a script's times start: its elements' `ts` and its watermarks are played from here on. */
const TIME_BASE = 10_000;

export const SCRIPT_AGGREGATES = { n: { count: true }, sum: { sum: "value" }, max: { max: "value" } };

/** A window's offset, or none (half the time): shorter than `bound` (its period), of either sign. */
const offsetWithin = (bound: number) =>
  fc.oneof(
    fc.constant(undefined),
    fc.integer({ min: -(bound - 1), max: bound - 1 }).filter((o) => o !== 0),
  );
const shifted = <T extends object>(spec: T, offset: number | undefined): T => (offset === undefined ? spec : { ...spec, offset });

export const windowSpec: fc.Arbitrary<ModelWindowSpec> = fc.oneof(
  fc.integer({ min: 1, max: 8 }).chain((k) => offsetWithin(k * 10).map((o) => shifted({ type: "tumbling" as const, size: k * 10 }, o))),
  fc
    .tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }))
    .chain(([size, slide]) =>
      offsetWithin(slide * 10).map((o) => shifted({ type: "sliding" as const, size: size * 10, slide: slide * 10 }, o)),
    ),
  fc
    .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }))
    .chain(([step, n]) =>
      offsetWithin(step * n * 10).map((o) => shifted({ type: "cumulate" as const, size: step * n * 10, step: step * 10 }, o)),
    ),
  fc.integer({ min: 1, max: 40 }).map((gap) => ({ type: "session" as const, gap })),
);

export interface ScriptElement {
  [field: string]: string | number;
  key: string;
  ts: number;
  value: number;
}

/** A batch of elements (one shard batch), a watermark advance (Flink's, by `watermark`), or processing time passing. */
export type ScriptStep = { batch: ScriptElement[] } | { watermark: number } | { tick: number };

export interface Script {
  window: ModelWindowSpec;
  allowedLateness: number;
  early: number | undefined;
  steps: ScriptStep[];
  /** HAVING sum > this: a window's row is kept only while its sum is above it */
  having?: number;
}

const element = fc.record({
  key: fc.constantFrom("a", "b"),
  ts: fc.integer({ min: 0, max: 200 }),
  value: fc.integer({ min: -5, max: 9 }),
});

/**
 * Random scripts; `having`: with a HAVING on the sum, where a late element, a merge of sessions or the
 * final result after an early one can make a window's row stop (or start) passing.
 */
export function scripts(options: { maxSteps: number; maxBatch: number; having?: boolean }): fc.Arbitrary<Script> {
  const step: fc.Arbitrary<ScriptStep> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ batch: fc.array(element, { minLength: 1, maxLength: options.maxBatch }) }) },
    { weight: 2, arbitrary: fc.record({ watermark: fc.integer({ min: 0, max: 40 }) }) },
    { weight: 1, arbitrary: fc.record({ tick: fc.integer({ min: 1, max: 30 }) }) },
  );
  const common = {
    allowedLateness: fc.constantFrom(0, 0, 1, 7, 25, 500),
    early: fc.option(fc.constantFrom(5, 20), { nil: undefined }),
    steps: fc.array(step, { minLength: 1, maxLength: options.maxSteps }),
  };
  if (!options.having) return fc.record({ window: windowSpec, ...common });
  return fc.record({
    window: windowSpec,
    ...common,
    having: fc.integer({ min: -2, max: 8 }),
  });
}

export function pipelineOfScript(script: Script, name = "p", more: Record<string, unknown> = {}): Pipeline {
  const [pipeline] = parsePipelines({
    pipelines: [
      {
        ...more,
        name,
        key: "key",
        eventTime: "ts",
        window: script.window,
        aggregates: SCRIPT_AGGREGATES,
        allowedLateness: script.allowedLateness,
        outOfOrderness: 1_000_000_000_000_000,
        ...(script.early === undefined ? {} : { early: script.early }),
        ...(script.having === undefined ? {} : { having: parseExpression(`\`sum\` > ${script.having}`) }),
      },
    ],
  });
  if (pipeline === undefined) throw new Error("no pipeline");
  return pipeline;
}

export interface Emission {
  key: string;
  start: number;
  end: number;
  version: number;
  final: boolean;
  values: Record<string, number>;
  /** HAVING withdrew the window's row */
  retracted?: true;
}

/** What the check needs of Panes: the memory engine or the real handlers. */
export interface SystemUnderTest {
  ingest(events: readonly ScriptElement[]): Promise<void>;
  advanceWatermark(to: number): Promise<void>;
  close(now: number): Promise<void>;
  emitted(): Emission[];
  letters(): Promise<DeadLetter[]>;
  finalResults(): Promise<Emission[]>;
}

export function emissionOf(r: {
  key: string;
  start: number;
  end: number;
  version: number;
  final: boolean;
  values: Record<string, unknown>;
  retracted?: true;
}): Emission {
  return {
    key: r.key,
    start: r.start,
    end: r.end,
    version: r.version,
    final: r.final,
    values: Object.fromEntries(Object.keys(SCRIPT_AGGREGATES).map((n) => [n, r.values[n] as number])),
    ...(r.retracted ? { retracted: true as const } : {}),
  };
}

/**
 * HAVING over the model's firings, as Flink's retract stream has it: a firing whose row passes is
 * emitted; one whose row does not pass retracts the row the window — or a session it merged or grew
 * from — last showed, if one shows; else nothing. Either way the sessions it supersedes show nothing
 * more. `shown` holds, per window, whether it shows a row (kept across steps).
 */
function withHaving(
  firings: readonly ModelFiring[],
  emissionOf: (f: ModelFiring) => Emission,
  having: number,
  shown: Map<string, boolean>,
): Emission[] {
  const out: Emission[] = [];
  for (const f of firings) {
    const e = emissionOf(f);
    const id = `${f.key}\u0000${f.window.start}/${f.window.end}`;
    const olds = f.supersedes.map((w) => `${f.key}\u0000${w.start}/${w.end}`);
    if ((e.values.sum as number) > having) out.push(e);
    else if (shown.get(id) || olds.some((old) => shown.get(old))) out.push({ ...e, retracted: true });
    else continue;
    shown.set(id, !e.retracted && (e.values.sum as number) > having);
    for (const old of olds) shown.set(old, false);
  }
  return out;
}

const canonical = (emissions: readonly Emission[]) => emissions.map((e) => JSON.stringify(e)).sort();
const lateId = (e: ScriptElement, windows: readonly { start: number; end: number }[]) =>
  JSON.stringify([e.key, e.ts, e.value, [...windows].sort((a, b) => a.start - b.start || a.end - b.end).map((w) => [w.start, w.end])]);

/**
 * What Panes emits for one step of the model: Flink fires a late window once per late element, Panes
 * once per batch, with the same contents; so per step, the last firing of each window, leaving out
 * session windows that a later element of the same batch merged into another session.
 */
function coalesced(firings: readonly ModelFiring[], absorbed: ReadonlySet<string>): ModelFiring[] {
  const id = (key: string, w: { start: number; end: number }) => `${key}\u0000${w.start}/${w.end}`;
  const superseded = new Set(firings.flatMap((f) => f.supersedes.map((w) => id(f.key, w))));
  const last = new Map(firings.map((f) => [id(f.key, f.window), f]));
  return [...last.entries()].filter(([k]) => !superseded.has(k) && !absorbed.has(k)).map(([, f]) => f);
}

/**
 * Plays a script's steps on the model and on the system from Flink's watermark `from` — a batch to
 * both, a watermark advance (Panes' is Flink's + 1), processing time passing — and settles after each
 * (closing at the processing time then, and checking). Returns the processing time reached.
 */
async function playSteps(
  script: Script,
  model: WindowOperatorModel,
  system: Pick<SystemUnderTest, "ingest" | "advanceWatermark">,
  from: number,
  settle: (label: string, now: number) => Promise<void>,
): Promise<number> {
  let flinkWatermark = from;
  let now = 0;
  for (const [i, step] of script.steps.entries()) {
    if ("batch" in step) {
      const batch = step.batch.map((e) => ({ ...e, ts: e.ts + TIME_BASE }));
      for (const e of batch) model.processElement({ key: e.key, ts: e.ts, data: e });
      await system.ingest(batch);
    } else if ("watermark" in step) {
      flinkWatermark += step.watermark;
      model.processWatermark(flinkWatermark);
      await system.advanceWatermark(flinkWatermark + 1);
    } else {
      now += step.tick;
    }
    await settle(`after step ${i}: ${JSON.stringify(step)}`, now);
  }
  return now;
}

/**
 * Plays the script on the model and on the system: after every step the firings emitted (window,
 * contents, early or final) are the model's — with the same versions when every batch holds one
 * element, else coalesced per batch with versions counting up by one; every refusal is reported late
 * for exactly the windows that refused; at the end of input the current result of every window agrees.
 */
export async function checkAgainstModel(script: Script, system: SystemUnderTest): Promise<void> {
  const model = new WindowOperatorModel(script.window, script.allowedLateness);
  const fromModel = (f: ModelFiring): Emission => ({
    key: f.key,
    start: f.window.start,
    end: f.window.end,
    version: f.version,
    final: f.final,
    values: valuesOfElements(
      SCRIPT_AGGREGATES,
      f.elements.map((e) => e.data as ScriptElement),
    ),
  });
  // Both start at a watermark no window of these scripts is behind (Panes has none before a checkpoint).
  // Times run from TIME_BASE: a window with an offset that holds a time near 0 would start before 1970,
  // where Panes keeps no pane (it refuses such an event) and Flink's formula needs no negative remainder.
  const flinkWatermark = TIME_BASE - 1;
  model.processWatermark(flinkWatermark);
  await system.advanceWatermark(flinkWatermark + 1);
  let seenModel = 0;
  let seenSystem = 0;
  const exact = script.steps.every((s) => !("batch" in s) || s.batch.length === 1);
  // HAVING leaves firings out, so versions count the emissions that remain: compared as written, not as numbered
  const withoutVersion = (xs: Emission[]) => (exact && script.having === undefined ? xs : xs.map((x) => ({ ...x, version: 0 })));
  const shown = new Map<string, boolean>();
  const settle = async (label: string, now: number) => {
    if (script.early !== undefined) model.earlyFire(now, script.early);
    await system.close(now);
    const step = model.firings.slice(seenModel);
    const fired = exact ? step : coalesced(step, model.absorbed());
    const expected = script.having === undefined ? fired.map(fromModel) : withHaving(fired, fromModel, script.having, shown);
    const actual = system.emitted().slice(seenSystem);
    expect(canonical(withoutVersion(actual)), label).toEqual(canonical(withoutVersion(expected)));
    seenModel = model.firings.length;
    seenSystem = system.emitted().length;
  };
  const now = await playSteps(script, model, system, flinkWatermark, settle);
  const modelLate = model.late.map((l) => lateId(l.element.data as ScriptElement, l.windows));
  const systemLate = (await system.letters())
    .filter((l) => l.kind === "late")
    .map((l) => lateId(JSON.parse(new TextDecoder().decode(l.data)) as ScriptElement, l.windows ?? []));
  expect(systemLate.sort(), "late events and the windows that refused them").toEqual(modelLate.sort());
  model.processWatermark(Number.MAX_SAFE_INTEGER);
  await system.advanceWatermark(END_OF_TIME);
  await settle("end of input", now);
  const current = (xs: Emission[]) => canonical(xs.map((x) => ({ ...x, version: 0 })));
  // the current result of every window: with HAVING, of those whose current row passes it (a retracted window has none)
  const currentRows = model
    .finalFirings()
    .map(fromModel)
    .filter((e) => script.having === undefined || (e.values.sum as number) > script.having);
  expect(current(await system.finalResults()), "current results").toEqual(current(currentRows));
  // Versions of a window count up by one, in the order they were emitted (with HAVING they rise: a
  // firing whose row neither passes nor retracts one is kept in the ledger, not published).
  const versions = new Map<string, number>();
  for (const e of system.emitted()) {
    const id = `${e.key}/${e.start}/${e.end}`;
    if (script.having === undefined) expect(e.version, `version of ${id}`).toBe((versions.get(id) ?? 0) + 1);
    else expect(e.version, `version of ${id}`).toBeGreaterThan(versions.get(id) ?? 0);
    versions.set(id, e.version);
  }
}

/** A Window Top-N of a script's keys: each window's first `n` by sum (descending, then by key). */
export const scriptRank = (n: number) => ({ rank: { n, order: [{ field: "sum", desc: true }] } });

export interface RankingEmission {
  start: number;
  end: number;
  version: number;
  final: boolean;
  /** events of the window over every key, those whose row HAVING drops included */
  count: number;
  /** each ranked row: its key (the key's column, `key`), the aggregates and the row number */
  rows: Record<string, number | string>[];
  retracted?: true;
}

export function rankingOf(r: {
  start: number;
  end: number;
  version: number;
  final: boolean;
  count: number;
  values: Record<string, unknown>;
  retracted?: true;
}): RankingEmission {
  const rows = (r.values.rows ?? []) as Record<string, number | string>[];
  return {
    start: r.start,
    end: r.end,
    version: r.version,
    final: r.final,
    count: r.count,
    rows: rows.map((row) => ({
      key: row.key as unknown as string,
      ...Object.fromEntries(Object.keys(SCRIPT_AGGREGATES).map((n) => [n, row[n] as number])),
      rownum: row.rownum as number,
    })),
    ...(r.retracted ? { retracted: true as const } : {}),
  };
}

/** What a ranked pipeline's system under test must do: the keyed one's steps, emitting rankings. */
export interface RankedSystemUnderTest extends Omit<SystemUnderTest, "emitted" | "finalResults"> {
  emitted(): RankingEmission[];
  finalResults(): Promise<RankingEmission[]>;
}

/**
 * Window Top-N over the model's firings, as Flink's Top-N over an updating aggregate has it: after
 * every step, each window a firing touched (early or final, late or not, kept by HAVING or not) is
 * ranked again from the current row of each of its keys — the first `n` rows HAVING keeps, by sum
 * descending then by key — and given as one ranking: early while any key's current row is early, its
 * count the events of every key. A window left with no row retracts the ranking it gave, if it gave one.
 */
export async function checkRankingsAgainstModel(script: Script, n: number, system: RankedSystemUnderTest): Promise<void> {
  const model = new WindowOperatorModel(script.window, script.allowedLateness);
  const passes = (values: Record<string, number>) => script.having === undefined || (values.sum as number) > script.having;
  /** per window: each key's current row, its events, and whether it is final */
  const current = new Map<string, Map<string, { values: Record<string, number>; final: boolean }>>();
  const shown = new Map<string, boolean>();
  const rankingOfWindow = (id: string, start: number, end: number): Omit<RankingEmission, "version"> => {
    const keys = [...(current.get(id) ?? new Map()).entries()];
    const rows = keys
      .filter(([, k]) => passes(k.values))
      .sort(([a, x], [b, y]) => (y.values.sum as number) - (x.values.sum as number) || (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, n)
      .map(([key, k], i) => ({ key, ...k.values, rownum: i + 1 }));
    return {
      start,
      end,
      final: keys.every(([, k]) => k.final),
      count: keys.reduce((sum, [, k]) => sum + (k.values.n as number), 0),
      rows,
    };
  };
  const flinkWatermark = TIME_BASE - 1;
  model.processWatermark(flinkWatermark);
  await system.advanceWatermark(flinkWatermark + 1);
  let seenModel = 0;
  let seenSystem = 0;
  const withoutVersion = (xs: readonly Omit<RankingEmission, "version">[]) =>
    xs.map(({ start, end, final, count, rows, retracted }) => JSON.stringify({ start, end, final, count, rows, retracted })).sort();
  const settle = async (label: string, now: number) => {
    if (script.early !== undefined) model.earlyFire(now, script.early);
    await system.close(now);
    const touched = new Map<string, { start: number; end: number }>();
    for (const f of model.firings.slice(seenModel)) {
      const id = `${f.window.start}/${f.window.end}`;
      const values = valuesOfElements(
        SCRIPT_AGGREGATES,
        f.elements.map((e) => e.data as ScriptElement),
      ) as Record<string, number>;
      const keys = current.get(id) ?? new Map();
      keys.set(f.key, { values, final: f.final });
      current.set(id, keys);
      touched.set(id, f.window);
    }
    const expected: Omit<RankingEmission, "version">[] = [];
    for (const [id, w] of touched) {
      const ranking = rankingOfWindow(id, w.start, w.end);
      if (ranking.rows.length > 0) expected.push(ranking);
      else if (shown.get(id)) expected.push({ ...ranking, retracted: true });
      shown.set(id, ranking.rows.length > 0);
    }
    const actual = system.emitted().slice(seenSystem);
    expect(withoutVersion(actual), label).toEqual(withoutVersion(expected));
    seenModel = model.firings.length;
    seenSystem = system.emitted().length;
  };
  const now = await playSteps(script, model, system, flinkWatermark, settle);
  model.processWatermark(Number.MAX_SAFE_INTEGER);
  await system.advanceWatermark(END_OF_TIME);
  await settle("end of input", now);
  // every window's current ranking: those with a row to give
  const rankings = [...current.keys()]
    .map((id) => {
      const [start, end] = id.split("/").map(Number) as [number, number];
      return rankingOfWindow(id, start, end);
    })
    .filter((r) => r.rows.length > 0);
  expect(withoutVersion(await system.finalResults()), "current rankings").toEqual(withoutVersion(rankings));
  // a window's rankings come in rising versions
  const versions = new Map<string, number>();
  for (const e of system.emitted()) {
    const id = `${e.start}/${e.end}`;
    expect(e.version, `version of ${id}`).toBeGreaterThan(versions.get(id) ?? 0);
    versions.set(id, e.version);
  }
}
