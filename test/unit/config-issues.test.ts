// Configuration errors as users read them: one line per problem naming the field by its full path,
// what was given, what is allowed, and a "did you mean" for a misspelt key or value.
import { describe, expect, it } from "vitest";
import { DeploymentConfigError, parseDeploymentConfig } from "../../infra/config.ts";
import { nearest } from "../../shared/core/config-issues.ts";
import { PipelinesConfigError, parsePipelines } from "../../shared/core/pipelines/parse.ts";

function problemsOf(config: unknown): string[] {
  try {
    parseDeploymentConfig(config);
  } catch (error) {
    if (error instanceof DeploymentConfigError) return error.problems;
    throw error;
  }
  throw new Error("the configuration was accepted");
}

const pipeline = {
  name: "cpu",
  key: "host",
  eventTime: "ts",
  window: { type: "tumbling", size: "5m" },
  aggregates: { n: { count: true } },
};

describe("configuration problems", () => {
  it("name a misspelt value of a union with the values allowed and the nearest one", () => {
    expect(problemsOf({ stream: { create: { mode: "provisoned", shards: 2 } } })).toEqual([
      'panes.stream.create.mode: "provisoned" is not allowed; expected "on-demand" or "provisioned"; did you mean "provisioned"?',
    ]);
    expect(problemsOf({ capacity: { mode: "provisoned" } })).toEqual([
      'panes.capacity.mode: "provisoned" is not allowed; expected "on-demand" or "provisioned"; did you mean "provisioned"?',
    ]);
  });

  it("name an unknown key by its path, with the key it was probably meant to be", () => {
    expect(problemsOf({ eventSource: { batchsize: 100 } })).toEqual([
      'panes.eventSource.batchsize: unknown key; did you mean "batchSize"?',
    ]);
    // a key at the wrong level: where it belongs
    expect(problemsOf({ batchSize: 100 })).toEqual(["panes.batchSize: unknown key; did you mean panes.eventSource.batchSize?"]);
    // nothing near: the keys that are known there
    expect(problemsOf({ retention: { forever: true } })[0]).toMatch(
      /^panes\.retention\.forever: unknown key; known keys here: results, deadLetters, tombstones, log$/,
    );
  });

  it("report every problem, each on one line, and the value that was wrong", () => {
    const problems = problemsOf({ eventSource: { batchSize: 0 }, watermarkSchedule: "often", surprise: 1 });
    expect(problems).toHaveLength(3);
    for (const line of problems) expect(line).not.toContain("\n");
    expect(problems).toContainEqual(expect.stringMatching(/^panes\.eventSource\.batchSize: /));
    expect(problems).toContainEqual(expect.stringMatching(/^panes\.watermarkSchedule: must be a duration/));
    expect(problems).toContainEqual(expect.stringMatching(/^panes\.surprise: unknown key/));
  });

  it("name the pipeline and field in a pipelines file, with suggestions", () => {
    let problems: string[] = [];
    try {
      parsePipelines({ pipelines: [{ ...pipeline, window: { type: "tumblng", size: "5m" }, outOfOrdernes: "5s" }] });
    } catch (error) {
      if (!(error instanceof PipelinesConfigError)) throw error;
      problems = error.problems;
    }
    expect(problems).toContainEqual('pipeline "cpu" (pipelines[0]), field outOfOrdernes: unknown key; did you mean "outOfOrderness"?');
    expect(problems).toContainEqual(
      expect.stringMatching(/^pipeline "cpu" \(pipelines\[0\]\), field window\.type: "tumblng" .*did you mean "tumbling"\?$/),
    );
  });

  it("refuse a watermark schedule EventBridge cannot run: a whole number of minutes, at least one", () => {
    expect(problemsOf({ watermarkSchedule: "30s" })).toEqual([
      'panes.watermarkSchedule: "30s" is less than "1m" (an EventBridge schedule runs every whole number of minutes, at least one)',
    ]);
    expect(problemsOf({ watermarkSchedule: "0m" })).toEqual([
      'panes.watermarkSchedule: "0m" is less than "1m" (an EventBridge schedule runs every whole number of minutes, at least one)',
    ]);
    expect(problemsOf({ watermarkSchedule: "90s" })).toEqual([
      'panes.watermarkSchedule: "90s" is not a whole number of minutes (an EventBridge schedule runs every whole number of minutes, at least one); use "1m" or "2m"',
    ]);
    expect(parseDeploymentConfig({ watermarkSchedule: "2m" }).watermarkSchedule).toBe(120_000);
  });

  it("refuse a batching window or record age the event source mapping cannot take", () => {
    expect(problemsOf({ eventSource: { maxBatchingWindow: "1500ms", maxRecordAge: "8d" } })).toEqual([
      'panes.eventSource.maxBatchingWindow: "1500ms" is not a whole number of seconds (Lambda\'s batching window is a whole number of seconds, at most 300); use "1s" or "2s"',
      'panes.eventSource.maxRecordAge: "8d" is more than "7d" (Lambda\'s maximum record age is a whole number of seconds, from 60 to 604800)',
    ]);
    expect(problemsOf({ eventSource: { maxBatchingWindow: "301s", maxRecordAge: "59s" } })).toEqual([
      'panes.eventSource.maxBatchingWindow: "301s" is more than "5m" (Lambda\'s batching window is a whole number of seconds, at most 300)',
      'panes.eventSource.maxRecordAge: "59s" is less than "1m" (Lambda\'s maximum record age is a whole number of seconds, from 60 to 604800)',
    ]);
    const limits = parseDeploymentConfig({ eventSource: { maxBatchingWindow: "5m", maxRecordAge: "7d" } }).eventSource;
    expect([limits.maxBatchingWindow, limits.maxRecordAge]).toEqual([300_000, 604_800_000]);
  });

  it("refuse a capacity range whose minimum is above its maximum, naming the field that was set", () => {
    expect(problemsOf({ capacity: { mode: "provisioned", minWrite: 100, maxWrite: 5 } })).toEqual([
      "panes.capacity.minWrite: 100 is more than maxWrite (5); auto scaling needs minWrite ≤ maxWrite",
    ]);
    expect(problemsOf({ capacity: { mode: "provisioned", minWrite: 5000, minRead: 4500 } })).toEqual([
      "panes.capacity.minWrite: 5000 is more than maxWrite (4000, the default); auto scaling needs minWrite ≤ maxWrite",
      "panes.capacity.minRead: 4500 is more than maxRead (4000, the default); auto scaling needs minRead ≤ maxRead",
    ]);
    expect(problemsOf({ capacity: { mode: "provisioned", maxRead: 3 } })).toEqual([
      "panes.capacity.maxRead: 3 is less than minRead (5, the default); auto scaling needs minRead ≤ maxRead",
    ]);
    expect(parseDeploymentConfig({ capacity: { mode: "provisioned", minWrite: 40, maxWrite: 40 } }).capacity).toMatchObject({
      minWrite: 40,
      maxWrite: 40,
    });
  });

  it("refuse what the functions would refuse at their cold start, and a key ARN that is not one", () => {
    expect(problemsOf({ retention: { tombstones: "30s" } })).toEqual([
      'panes.retention.tombstones: "30s" is less than "1m" (the functions refuse a shorter one at their cold start)',
    ]);
    const stream = { import: { arn: "arn:aws:kinesis:eu-west-1:123456789012:stream/events", encryptionKeyArn: "arn:" } };
    expect(problemsOf({ stream })).toEqual([
      "panes.stream.import.encryptionKeyArn: must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)",
    ]);
  });

  it("refuse a retention TTL cannot count (a fraction of a second would keep items forever) and a bus given by ARN", () => {
    expect(problemsOf({ retention: { log: "1500ms", deadLetters: "1ms" } })).toEqual([
      'panes.retention.deadLetters: "1ms" is not a whole number of seconds (DynamoDB\'s TTL counts whole seconds); use "0s" or "1s"',
      'panes.retention.log: "1500ms" is not a whole number of seconds (DynamoDB\'s TTL counts whole seconds); use "1s" or "2s"',
    ]);
    expect(parseDeploymentConfig({ retention: { results: "0d", log: "2h" } }).retention).toMatchObject({ results: 0, log: 7_200_000 });
    expect(problemsOf({ outputs: { eventBus: "arn:aws:events:eu-west-1:123456789012:event-bus/results" } })).toEqual([
      'panes.outputs.eventBus: must be an EventBridge bus name ("default", or up to 256 letters, digits and . - _ /), not an ARN',
    ]);
    expect(parseDeploymentConfig({ outputs: { eventBus: "panes/results-1" } }).outputs.eventBus).toBe("panes/results-1");
  });

  it("say which fields a variant of a union requires or refuses, never suggesting the key itself", () => {
    expect(problemsOf({ stream: { create: { mode: "provisioned" } } })).toEqual([
      'panes.stream.create.shards: required for mode "provisioned" (number)',
    ]);
    expect(problemsOf({ stream: { create: { mode: "on-demand", shards: 2 } } })).toEqual([
      'panes.stream.create.shards: not allowed with mode "on-demand" (only with "provisioned")',
    ]);
    expect(problemsOf({ capacity: { mode: "on-demand", minWrite: 5 } })).toEqual([
      'panes.capacity.minWrite: not allowed with mode "on-demand" (only with "provisioned")',
    ]);
    expect(problemsOf({ stream: { create: {} } })).toEqual(['panes.stream.create.mode: required; expected "on-demand" or "provisioned"']);
  });

  it("suggest a key for an unknown key anywhere in a pipelines file, or list the known keys", () => {
    const problems = (extra: Record<string, unknown>) => {
      try {
        parsePipelines({ pipelines: [{ ...pipeline, ...extra }] });
      } catch (error) {
        if (error instanceof PipelinesConfigError) return error.problems;
        throw error;
      }
      throw new Error("the pipelines were accepted");
    };
    const at = 'pipeline "cpu" (pipelines[0]), field';
    expect(problems({ aggregates: { a: { avrg: "value" } } })).toContainEqual(`${at} aggregates.a.avrg: unknown key; did you mean "avg"?`);
    expect(problems({ aggregates: { q: { quantiles: { feild: "latency", q: [0.5] } } } })).toContainEqual(
      `${at} aggregates.q.quantiles.feild: unknown key; did you mean "field"?`,
    );
    expect(problems({ aggregates: { q: { quantiles: { field: "latency", q: [0.5], zzz: 1 } } } })).toEqual([
      `${at} aggregates.q.quantiles.zzz: unknown key; known keys here: field, q, accuracy`,
    ]);
    expect(problems({ aggregates: { d: { distinct: { field: "user", precison: 10 } } } })).toEqual([
      `${at} aggregates.d.distinct.precison: unknown key; did you mean "precision"?`,
    ]);
    // a key one level too high: where it belongs, in this pipeline
    expect(problems({ aggregates: { p: { quantiles: { field: "latency" }, q: [0.5] } } })).toContainEqual(
      `${at} aggregates.p.q: unknown key; did you mean aggregates.p.quantiles.q?`,
    );
    expect(problems({ size: "5m" })).toEqual([`${at} size: unknown key; did you mean window.size?`]);
    expect(problems({ window: { type: "tumbling", size: "5m", slide: "1m" } })).toEqual([
      `${at} window.slide: not allowed with type "tumbling" (only with "sliding")`,
    ]);
    expect(problems({ window: { type: "sliding", size: "5m" } })).toEqual([`${at} window.slide: required for type "sliding" (string)`]);
    expect(problems({ window: { type: "tumbling", size: "5m", offset: "-5m" } })).toEqual([
      `${at} window.offset: must be shorter than the size (5m), either sign, as Flink requires of a tumbling window's offset`,
    ]);
    expect(problems({ window: { type: "sliding", size: "1d", slide: "12h", offset: "8x" } })).toEqual([
      `${at} window.offset: invalid offset "8x": write a duration with a unit, "-" before it for a negative one, e.g. "8h", "-8h", "30m"`,
    ]);
    expect(problems({ window: { type: "session", gap: "5m", offset: "1m" } })).toEqual([
      `${at} window.offset: not allowed with type "session" (only with "tumbling" or "sliding" or "cumulate")`,
    ]);
    expect(problems({ dedupe: { field: "id", whithin: "1m" } })).toContainEqual(
      `${at} dedupe.whithin: unknown key; did you mean "within"?`,
    );
  });

  it("suggest only what is near", () => {
    expect(nearest("provisoned", ["on-demand", "provisioned"])).toBe("provisioned");
    expect(nearest("BATCHSIZE", ["batchSize"])).toBe("batchSize");
    expect(nearest("forever", ["results", "deadLetters", "tombstones", "log"])).toBeUndefined();
    expect(nearest("x", [])).toBeUndefined();
    // two letters swapped is one slip
    expect(nearest("feild", ["field", "q", "accuracy"])).toBe("field");
    expect(nearest("fdiel", ["field", "q", "accuracy"])).toBeUndefined();
  });
});
