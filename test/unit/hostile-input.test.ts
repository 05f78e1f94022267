// Inputs an attacker or a careless producer sends: each is refused with a reason a person can act on
// (and so dead-lettered), never thrown, never silently merged into another key, never stored in a form
// DynamoDB would refuse later, when a closing run could no longer refuse it.
import { describe, expect, it } from "vitest";
import { partitionKeyFrom } from "../../shared/aws/kinesis/partition-keys.ts";
import { decodeRecord, planBatch } from "../../shared/core/ingest/plan.ts";
import { maxKeyBytesOf, parseEventTime, readPipelineEvent } from "../../shared/core/pipelines/events.ts";
import { PipelinesConfigError } from "../../shared/core/pipelines/parse.ts";
import type { StreamRecord } from "../../shared/core/types.ts";
import { type GroupPane, windowsToFire } from "../../shared/core/windows/key-group.ts";
import { printable } from "../../tools/cli/results.ts";
import { pipeline } from "../helpers/builders.ts";

const pipelineOf = (definition: Parameters<typeof pipeline>[0] = {}) =>
  pipeline({ name: "p", aggregates: { s: { sum: "v" } }, ...definition });

const NOW = Date.parse("2026-06-01T00:00:00Z");
const event = (fields: Record<string, unknown>) => ({ host: "a", ts: NOW - 1000, v: 1, ...fields });
const reasonOf = (result: ReturnType<typeof readPipelineEvent>) =>
  result.kind === "invalid" ? result.reason : `not refused: ${result.kind}`;

describe("keys", () => {
  it("refuses a key with a lone surrogate instead of merging it with another key", () => {
    // Prepare: two keys that differ only in their lone surrogate encode to the same UTF-8 bytes
    const p = pipelineOf();

    // Act
    const first = readPipelineEvent(p, event({ host: "a\ud800" }), NOW);
    const second = readPipelineEvent(p, event({ host: "a\udbff" }), NOW);

    // Assess
    expect(reasonOf(first)).toMatch(/not well-formed Unicode/);
    expect(reasonOf(second)).toMatch(/not well-formed Unicode/);
    expect(readPipelineEvent(p, event({ host: "a\ud83d\ude00" }), NOW).kind).toBe("event");
  });

  it("refuses a key DynamoDB's key limit cannot hold, and takes a long one that fits", () => {
    const p = pipelineOf();
    const limit = maxKeyBytesOf(p);
    expect(limit).toBe(2048 - "P#p#".length);
    expect(readPipelineEvent(p, event({ host: "k".repeat(300) }), NOW).kind).toBe("event");
    expect(readPipelineEvent(p, event({ host: "é".repeat(limit / 2) }), NOW).kind).toBe("event");
    expect(reasonOf(readPipelineEvent(p, event({ host: "é".repeat(limit / 2 + 1) }), NOW))).toMatch(
      new RegExp(`is ${limit + 2} bytes in UTF-8; at most ${limit} fit`),
    );
  });

  it("refuses a dedupe id DynamoDB's key limit cannot hold", () => {
    const p = pipelineOf({ dedupe: { field: "id", within: "1h" } });
    expect(readPipelineEvent(p, event({ id: "x".repeat(2000) }), NOW).kind).toBe("event");
    expect(reasonOf(readPipelineEvent(p, event({ id: "x".repeat(2100) }), NOW))).toMatch(/dedupe field "id" is 2100 bytes/);
  });

  it("reads own fields only: a field named after an Object member is an ordinary field", () => {
    const p = pipelineOf({ key: "constructor", aggregates: { s: { sum: "toString" } } });
    expect(reasonOf(readPipelineEvent(p, { ts: NOW, toString: 1 }, NOW))).toMatch(/key field "constructor" must be .* got nothing/);
    expect(readPipelineEvent(p, { constructor: "k", ts: NOW, toString: 2 }, NOW)).toMatchObject({
      kind: "event",
      key: "k",
      values: { toString: 2 },
    });
  });
});

describe("numbers", () => {
  it("refuses values DynamoDB cannot store, which would otherwise stop the closing of every pipeline", () => {
    const p = pipelineOf();
    for (const v of [1e200, -1e127, 1e-320, 5e-131])
      expect(reasonOf(readPipelineEvent(p, event({ v }), NOW))).toMatch(/DynamoDB stores numbers/);
    for (const v of [9.9e125, -1e125, 1e-130, 0, -0, 123.456]) expect(readPipelineEvent(p, event({ v }), NOW).kind).toBe("event");
  });
});

describe("event times", () => {
  it("refuses ISO-8601 times that are not calendar dates", () => {
    expect(parseEventTime("2026-02-30T00:00:00Z")).toMatch(/not a calendar date/);
    expect(parseEventTime("2023-02-29T12:00:00Z")).toMatch(/not a calendar date/);
    expect(parseEventTime("2026-01-01T24:00:00Z")).toMatch(/not a calendar date/);
    expect(parseEventTime("2024-02-29T12:00:00+01:00")).toBe(Date.parse("2024-02-29T11:00:00Z"));
  });

  it("refuses by default an event more than an hour ahead of the wall clock", () => {
    const p = pipelineOf();
    expect(readPipelineEvent(p, event({ ts: NOW + 59 * 60_000 }), NOW).kind).toBe("event");
    expect(reasonOf(readPipelineEvent(p, event({ ts: Date.parse("2099-01-01T00:00:00Z") }), NOW))).toMatch(/more than maxFutureSkew/);
  });
});

describe("structure", () => {
  it("refuses JSON nested deeper than 64 levels without walking it, and describes any value briefly", () => {
    // Prepare: 5,000 levels in the key field
    const deep = `{"host":${"[".repeat(5000)}${"]".repeat(5000)},"ts":1,"v":1}`;
    const record: StreamRecord = {
      shardId: "s",
      sequenceNumber: "1",
      partitionKey: "k",
      data: new TextEncoder().encode(deep),
      arrivedAt: 0,
    };

    // Act
    const plan = planBatch([pipelineOf()], [record], new Map(), NOW);

    // Assess
    expect(plan.deadLetters.map((l) => l.reason)).toEqual(["record data nests deeper than 64 levels"]);
    expect(decodeRecord(new TextEncoder().encode(`{"a":${"[".repeat(64)}${"]".repeat(64)}}`)).ok).toBe(false);
    expect(decodeRecord(new TextEncoder().encode(`{"a":${"[".repeat(63)}${"]".repeat(63)}}`)).ok).toBe(true);
    expect(decodeRecord(new TextEncoder().encode(`{"a":"${"[".repeat(100)}"}`)).ok).toBe(true);
    const nested = readPipelineEvent(pipelineOf(), event({ host: { a: [[[{ b: 1 }]]] } }), NOW);
    expect(reasonOf(nested)).toBe('key field "host" must be a non-empty string or a number, got an object');
  });

  it("refuses __proto__ as an aggregate, field or filter name at load, naming it", () => {
    const load = (definition: Record<string, unknown>) => () => pipelineOf(definition);
    expect(load(JSON.parse('{"aggregates":{"__proto__":{"sum":"v"}}}'))).toThrow(PipelinesConfigError);
    expect(load(JSON.parse('{"aggregates":{"__proto__":{"sum":"v"}}}'))).toThrow(/"__proto__" cannot name an aggregate/);
    expect(load({ key: "a.__proto__" })).toThrow(/field key: "__proto__" cannot name a field/);
    expect(load(JSON.parse('{"filter":{"__proto__":"x"}}'))).toThrow(/"__proto__" cannot name a field/);
  });
});

describe("what tools print and send", () => {
  it("shows control characters and lone surrogates from events as escapes, never sends them to the terminal", () => {
    expect(printable("web-1\u001b[2J\u0007\n")).toBe("web-1\\u001b[2J\\u0007\\u000a");
    expect(printable("\u009b31m\ud800")).toBe("\\u009b31m\\ud800");
    expect(printable("café 😀 ok")).toBe("café 😀 ok");
  });

  it("derives Kinesis partition keys from any field without walking it, within 256 characters", () => {
    const deep = JSON.parse(`${"[".repeat(5000)}${"]".repeat(5000)}`);
    expect(partitionKeyFrom(deep)).toBeUndefined();
    expect(partitionKeyFrom({ host: "a" })).toBeUndefined();
    expect(partitionKeyFrom("a\ud800")).toBeUndefined();
    expect(partitionKeyFrom(42)).toBe("42");
    expect(partitionKeyFrom("😀".repeat(300))).toBe("😀".repeat(256));
  });
});

describe("a key with very many panes to close", () => {
  it("is closed without spreading its panes into one call (200,000 panes)", () => {
    const panes = new Map(
      Array.from({ length: 200_000 }, (_, i): [number, GroupPane] => [
        i * 1000,
        { paneStart: i * 1000, epoch: 1, keys: new Map([["k", []]]), cleared: false },
      ]),
    );
    const due = windowsToFire({ type: "tumbling", size: 1000 }, panes, {
      firedThrough: undefined,
      watermark: 250_000_000,
      refire: new Map(),
      withOpen: false,
    });
    expect(due).toHaveLength(200_000);
    expect(due[0]?.window).toEqual({ start: 0, end: 1000 });
  });
});
