// A cascade's partials on the emulated DynamoDB: one source results item's contribution to a reader key
// group is written in as many parts as its state needs (an item holds 400 KB), and read back whole; a
// newer version of the source item replaces the older's parts, however many each had.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCascadePartials, writeCascadePartial } from "../../shared/aws/dynamodb/cascade.ts";
import { type AggregateState, addEvent, emptyState } from "../../shared/core/aggregates/state.ts";
import { emulatedDeployment } from "../helpers/emulated.ts";

let deployment: Awaited<ReturnType<typeof emulatedDeployment>>;

beforeAll(async () => {
  deployment = await emulatedDeployment("cascade-partials", 1);
});

afterAll(() => {
  deployment.dynamodb.destroy();
  deployment.kinesis.destroy();
});

/** Reader keys that do not compress (random text), each a state of one row. */
function keysOf(count: number, keyBytes: number, value: number): Map<string, AggregateState> {
  const keys = new Map<string, AggregateState>();
  for (let i = 0; i < count; i++) {
    const state = emptyState();
    addEvent(state, 1_000, { total: value + i });
    keys.set(randomBytes(keyBytes).toString("base64"), state);
  }
  return keys;
}

const totals = (keys: ReadonlyMap<string, AggregateState>) =>
  [...keys].map(([key, state]) => [key, state.n, state.fields.total?.sum] as const).sort(([a], [b]) => (a < b ? -1 : 1));

describe("cascade partials", () => {
  it("writes a partial larger than an item in parts, reads it whole, and a newer version's parts replace the older's", async () => {
    // Prepare: about 900 KB of keys that do not compress — three items' worth
    const { dynamodb, names } = deployment;
    const at = { reader: "r", group: 3, bucket: 60_000, source: { group: 7, end: 120_000, version: 1 } };
    const large = keysOf(3_000, 300, 0);

    // Act
    expect(await writeCascadePartial(dynamodb, names.stateTable, at, large, {})).toBe(true);
    const read = await readCascadePartials(dynamodb, names.stateTable, "r", 3, { from: 0, to: 120_000 });

    // Assess: several parts, every key once with its state
    expect(read.length).toBeGreaterThan(2);
    expect(read.every((p) => p.bucket === 60_000)).toBe(true);
    const merged = new Map(read.flatMap((p) => [...p.keys]));
    expect(read.reduce((n, p) => n + p.keys.size, 0)).toBe(large.size);
    expect(totals(merged)).toEqual(totals(large));

    // Act: the same item written again (a unit taken up again) changes nothing; a newer version with fewer keys replaces it
    expect(await writeCascadePartial(dynamodb, names.stateTable, at, large, {})).toBe(true);
    const small = keysOf(10, 8, 100);
    expect(await writeCascadePartial(dynamodb, names.stateTable, { ...at, source: { ...at.source, version: 2 } }, small, {})).toBe(true);
    // an older computation arriving late does not overwrite the newer
    expect(await writeCascadePartial(dynamodb, names.stateTable, at, large, {})).toBe(false);
    const after = await readCascadePartials(dynamodb, names.stateTable, "r", 3, { from: 0, to: 120_000 });

    // Assess
    expect(after).toHaveLength(1);
    expect(totals(after[0]?.keys ?? new Map())).toEqual(totals(small));
  });
});
