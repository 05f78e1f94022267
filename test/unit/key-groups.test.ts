// Key groups against Flink's own code: the reference values in test/conformance/key-groups/key-groups.json
// were computed by running Flink's MathUtils.murmurHash and KeyGroupRangeAssignment (copied verbatim
// into KeyGroups.java beside it) with java.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  javaStringHashCode,
  keyGroupOf,
  keyGroupRangeOf,
  keyGroupRanges,
  murmurHash,
  unitOfKeyGroup,
} from "../../shared/core/keygroups.ts";

interface Reference {
  keys: { key: string; hashCode: number; murmur: number; groups: Record<string, number> }[];
  ints: [number, number][];
  ranges: { keyGroups: number; units: number; ranges: [number, number][] }[];
}

const reference = JSON.parse(readFileSync(new URL("../conformance/key-groups/key-groups.json", import.meta.url), "utf8")) as Reference;

describe("key groups (Flink's KeyGroupRangeAssignment)", () => {
  it("hash a key as Java's String.hashCode does, UTF-16 code units included", () => {
    for (const { key, hashCode } of reference.keys) expect(javaStringHashCode(key), JSON.stringify(key)).toBe(hashCode);
  });

  it("mix the hash with Flink's murmurHash, bit for bit, extreme ints included", () => {
    for (const [code, murmur] of reference.ints) expect(murmurHash(code), String(code)).toBe(murmur);
    for (const { key, murmur } of reference.keys) expect(murmurHash(javaStringHashCode(key))).toBe(murmur);
  });

  it("put every key in the group Flink puts it in, for 1 to 32,768 groups", () => {
    for (const { key, groups } of reference.keys)
      for (const [g, group] of Object.entries(groups)) expect(keyGroupOf(key, Number(g)), `${JSON.stringify(key)} of ${g}`).toBe(group);
  });

  it("give each unit Flink's range of groups", () => {
    for (const { keyGroups, units, ranges } of reference.ranges)
      expect(keyGroupRanges(keyGroups, units).map((r) => [r.first, r.last])).toEqual(ranges);
  });

  it("cover every group exactly once, and a group's unit owns it (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 32_768 }).chain((g) => fc.tuple(fc.constant(g), fc.integer({ min: 1, max: Math.min(g, 2_000) }))),
        ([keyGroups, units]) => {
          const ranges = keyGroupRanges(keyGroups, units);
          let next = 0;
          for (const [i, r] of ranges.entries()) {
            if (r.first !== next || r.last < r.first) return false;
            if (unitOfKeyGroup(keyGroups, units, r.first) !== i || unitOfKeyGroup(keyGroups, units, r.last) !== i) return false;
            next = r.last + 1;
          }
          return next === keyGroups;
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuse more units than groups, and a unit that is not one of them", () => {
    expect(() => keyGroupRangeOf(16, 17, 0)).toThrow(RangeError);
    expect(() => keyGroupRangeOf(16, 4, 4)).toThrow(RangeError);
  });

  it("spread keys evenly: 100,000 host names over 128 groups stay within 15% of the mean", () => {
    const counts = new Array<number>(128).fill(0);
    for (let i = 0; i < 100_000; i++) counts[keyGroupOf(`host-${i}`, 128)] = (counts[keyGroupOf(`host-${i}`, 128)] ?? 0) + 1;
    const mean = 100_000 / 128;
    for (const n of counts) expect(Math.abs(n - mean) / mean).toBeLessThan(0.15);
  });
});
