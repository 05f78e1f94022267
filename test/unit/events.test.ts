import { describe, expect, it } from "vitest";
import { parseEventTime, readPipelineEvent } from "../../shared/core/pipelines/events.ts";
import { parsePipelines } from "../../shared/core/pipelines/parse.ts";

const pipelineJson = {
  name: "p",
  key: "tags.host",
  eventTime: "ts",
  filter: { metric: "cpu" },
  window: { type: "tumbling", size: "1m" },
  aggregates: { avg: { avg: "value" }, n: { count: true } },
};
const [pipeline] = parsePipelines({ pipelines: [pipelineJson] });
if (!pipeline) throw new Error("no pipeline");

describe("reading an event for a pipeline", () => {
  it("reads key, time (ISO-8601 or epoch ms) and aggregated fields through dot paths", () => {
    expect(readPipelineEvent(pipeline, { metric: "cpu", tags: { host: "a" }, ts: "2026-01-01T00:00:30.250Z", value: 3 })).toEqual({
      kind: "event",
      key: "a",
      ts: Date.parse("2026-01-01T00:00:30.250Z"),
      values: { value: 3 },
      keys: {},
    });
    expect(readPipelineEvent(pipeline, { metric: "cpu", tags: { host: 7 }, ts: 1000, value: 1 })).toMatchObject({
      kind: "event",
      key: "7",
      ts: 1000,
    });
  });

  it("skips events the filter does not match", () => {
    expect(readPipelineEvent(pipeline, { metric: "mem", tags: { host: "a" }, ts: 1, value: 1 })).toEqual({ kind: "skipped" });
    expect(readPipelineEvent(pipeline, { tags: { host: "a" }, ts: 1, value: 1 })).toEqual({ kind: "skipped" });
  });

  it("gives a reason for every way a matching event can be unusable", () => {
    const reasonOf = (event: object) => {
      const read = readPipelineEvent(pipeline, { metric: "cpu", tags: { host: "a" }, ts: 1, value: 1, ...event });
      return read.kind === "invalid" ? read.reason : "";
    };
    expect(reasonOf({ tags: {} })).toMatch(/key field "tags.host" .* missing/);
    expect(reasonOf({ tags: { host: "" } })).toMatch(/key field/);
    expect(reasonOf({ ts: "yesterday" })).toMatch(/event time field "ts" must be epoch milliseconds or an ISO-8601/);
    expect(reasonOf({ ts: "2026-01-01T00:00:00" })).toMatch(/ISO-8601 time with a zone/);
    expect(reasonOf({ ts: -5 })).toMatch(/out of range/);
    // a window offset puts the window of a time in 1970's first hours before 1970, where no pane is kept
    const [shifted] = parsePipelines({ pipelines: [{ ...pipelineJson, window: { type: "tumbling", size: "1d", offset: "-8h" } }] });
    if (!shifted) throw new Error("no pipeline");
    const read = (ts: number) => readPipelineEvent(shifted, { metric: "cpu", tags: { host: "a" }, ts, value: 1 });
    expect(read(3_600_000)).toEqual({
      kind: "invalid",
      reason:
        "event time 1970-01-01T01:00:00.000Z falls in a window starting before 1970-01-01 (the window's offset), which Panes cannot keep",
    });
    expect(read(16 * 3_600_000)).toMatchObject({ kind: "event", ts: 16 * 3_600_000 });
    expect(reasonOf({ value: "12" })).toMatch(/field "value" \(aggregate "avg"\) must be a finite number, got "12"/);
  });

  it("parses times with offsets", () => {
    expect(parseEventTime("2026-01-01T01:00:00+01:00")).toBe(Date.parse("2026-01-01T00:00:00Z"));
    expect(parseEventTime(1.9)).toBe(1);
  });
});

describe("the event-time unit", () => {
  const withUnit = (eventTimeUnit: string) =>
    parsePipelines({
      pipelines: [
        {
          name: "u",
          key: "k",
          eventTime: "ts",
          eventTimeUnit,
          window: { type: "tumbling", size: "1m" },
          aggregates: { n: { count: true } },
        },
      ],
    })[0] as NonNullable<typeof pipeline>;

  it("reads numbers as the pipeline's unit and ISO-8601 strings as what they say", () => {
    const jan1 = Date.parse("2026-01-01T00:00:00Z");
    expect(readPipelineEvent(withUnit("seconds"), { k: "a", ts: jan1 / 1000 })).toMatchObject({ kind: "event", ts: jan1 });
    expect(readPipelineEvent(withUnit("seconds"), { k: "a", ts: jan1 / 1000 + 0.25 })).toMatchObject({ ts: jan1 + 250 });
    expect(readPipelineEvent(withUnit("microseconds"), { k: "a", ts: jan1 * 1000 + 999 })).toMatchObject({ ts: jan1 });
    expect(readPipelineEvent(withUnit("milliseconds"), { k: "a", ts: jan1 })).toMatchObject({ ts: jan1 });
    expect(readPipelineEvent(withUnit("seconds"), { k: "a", ts: "2026-01-01T00:00:00Z" })).toMatchObject({ ts: jan1 });
    expect(parseEventTime("soon", "seconds")).toBe('must be epoch seconds or an ISO-8601 time with a zone, got "soon"');
  });

  it("marks milliseconds that read like epoch seconds (1970-01-12 to 1970-04-27), and nothing else", () => {
    const seconds = Date.parse("2026-01-01T00:00:00Z") / 1000;
    expect(readPipelineEvent(withUnit("milliseconds"), { k: "a", ts: seconds })).toMatchObject({ ts: seconds, secondsLike: true });
    for (const ts of [0, 1000, 999_999_999, 10_000_000_000, Date.parse("2026-01-01T00:00:00Z")])
      expect(readPipelineEvent(withUnit("milliseconds"), { k: "a", ts })).not.toHaveProperty("secondsLike");
    // a string is what it says, and a pipeline that reads seconds reads them as seconds
    expect(readPipelineEvent(withUnit("milliseconds"), { k: "a", ts: "1970-01-21T10:33:45Z" })).not.toHaveProperty("secondsLike");
    expect(readPipelineEvent(withUnit("seconds"), { k: "a", ts: seconds })).not.toHaveProperty("secondsLike");
  });

  it("refuses a unit it does not know, naming the field", () => {
    expect(() => withUnit("hours")).toThrow(/eventTimeUnit/);
  });
});
