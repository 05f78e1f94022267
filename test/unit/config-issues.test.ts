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

  it("suggest only what is near", () => {
    expect(nearest("provisoned", ["on-demand", "provisioned"])).toBe("provisioned");
    expect(nearest("BATCHSIZE", ["batchSize"])).toBe("batchSize");
    expect(nearest("forever", ["results", "deadLetters", "tombstones", "log"])).toBeUndefined();
    expect(nearest("x", [])).toBeUndefined();
  });
});
