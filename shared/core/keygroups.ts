// Key groups, as Flink assigns them (KeyGroupRangeAssignment, MathUtils.murmurHash): a key belongs to
// group murmur(hashCode(key)) mod G, and a unit of work i of n owns a contiguous range of groups. Ported
// bit for bit so a key lands in the group Flink would put it in. Pure; G never changes for a deployment.

/** Flink's bounds for the number of key groups (its max parallelism). */
export const MIN_KEY_GROUPS = 1;
export const MAX_KEY_GROUPS = 32_768;

/** Java's String.hashCode over UTF-16 code units (what Flink hashes for a String key). */
export function javaStringHashCode(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (Math.imul(31, h) + text.charCodeAt(i)) | 0;
  return h;
}

const rotateLeft = (x: number, r: number) => (x << r) | (x >>> (32 - r));

function bitMix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** Flink's MathUtils.murmurHash: one 32-bit murmur3 round and finaliser, made non-negative. */
export function murmurHash(code: number): number {
  let h = Math.imul(code | 0, 0xcc9e2d51);
  h = rotateLeft(h, 15);
  h = Math.imul(h, 0x1b873593);
  h = rotateLeft(h, 13);
  h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  h ^= 4;
  h = bitMix(h);
  if (h >= 0) return h;
  return h !== -2147483648 ? -h : 0;
}

/** The key group of a key (Flink's assignToKeyGroup for a String key). */
export function keyGroupOf(key: string, keyGroups: number): number {
  return murmurHash(javaStringHashCode(key)) % keyGroups;
}

/** An inclusive range of key groups. */
export interface KeyGroupRange {
  first: number;
  last: number;
}

/** The groups unit `index` of `units` owns (Flink's computeKeyGroupRangeForOperatorIndex). */
export function keyGroupRangeOf(keyGroups: number, units: number, index: number): KeyGroupRange {
  if (units < 1 || units > keyGroups) throw new RangeError(`units must be between 1 and the ${keyGroups} key groups, not ${units}`);
  if (index < 0 || index >= units) throw new RangeError(`unit ${index} is not one of ${units}`);
  return {
    first: Math.floor((index * keyGroups + units - 1) / units),
    last: Math.floor(((index + 1) * keyGroups - 1) / units),
  };
}

/** The unit of `units` that owns a group (Flink's computeOperatorIndexForKeyGroup). */
export function unitOfKeyGroup(keyGroups: number, units: number, group: number): number {
  return Math.floor((group * units) / keyGroups);
}

/** Every unit's range, in order: together they cover 0 … keyGroups − 1 once. */
export function keyGroupRanges(keyGroups: number, units: number): KeyGroupRange[] {
  return Array.from({ length: units }, (_, i) => keyGroupRangeOf(keyGroups, units, i));
}
