// Distinct counts: exact (a set of 64-bit hashes) up to EXACT_LIMIT values, then HyperLogLog with 2^p
// registers (standard error 1.04/√(2^p); p = 12 gives 1.6% in 4 KiB). Both merge, so panes and
// session fragments combine. Pure: hashing only, no I/O.
import { createHash } from "node:crypto";

export const EXACT_LIMIT = 256;

export interface DistinctState {
  precision: number;
  /** hashes (16 hex digits) while few; absent once switched to registers */
  exact?: string[];
  /** 2^precision registers, once more than EXACT_LIMIT distinct values were seen */
  registers?: Uint8Array;
}

export function emptyDistinct(precision: number): DistinctState {
  return { precision, exact: [] };
}

function hash64(value: string): bigint {
  return createHash("sha256").update(value).digest().readBigUInt64BE(0);
}

function addHash(state: DistinctState, h: bigint): void {
  const p = BigInt(state.precision);
  const registers = state.registers as Uint8Array;
  const index = Number(h >> (64n - p));
  const rest = (h << p) & 0xffff_ffff_ffff_ffffn;
  // rank: position of the first 1 bit in the remaining 64 − p bits
  let rank = 1;
  for (let bit = 63n; bit >= p && ((rest >> bit) & 1n) === 0n; bit--) rank++;
  if (rank > (registers[index] ?? 0)) registers[index] = rank;
}

function toRegisters(state: DistinctState): void {
  const hashes = state.exact ?? [];
  state.registers = new Uint8Array(2 ** state.precision);
  state.exact = undefined;
  for (const hex of hashes) addHash(state, BigInt(`0x${hex}`));
}

function addHex(state: DistinctState, hex: string): void {
  if (state.exact) {
    if (!state.exact.includes(hex)) state.exact.push(hex);
    if (state.exact.length > EXACT_LIMIT) toRegisters(state);
    return;
  }
  addHash(state, BigInt(`0x${hex}`));
}

export function addDistinct(state: DistinctState, value: string): void {
  addHex(state, hash64(value).toString(16).padStart(16, "0"));
}

export function mergeDistinct(into: DistinctState, other: Readonly<DistinctState>): void {
  if (other.exact) {
    for (const hex of other.exact) addHex(into, hex);
    return;
  }
  if (into.exact) toRegisters(into);
  const ours = into.registers as Uint8Array;
  const theirs = other.registers as Uint8Array;
  for (let i = 0; i < ours.length; i++) if ((theirs[i] ?? 0) > (ours[i] ?? 0)) ours[i] = theirs[i] ?? 0;
}

export function cardinality(state: Readonly<DistinctState>): number {
  if (state.exact) return state.exact.length;
  const registers = state.registers as Uint8Array;
  const m = registers.length;
  let sum = 0;
  let zeros = 0;
  for (const r of registers) {
    sum += 2 ** -r;
    if (r === 0) zeros++;
  }
  const alpha = 0.7213 / (1 + 1.079 / m);
  const estimate = (alpha * m * m) / sum;
  // Linear counting for small cardinalities (64-bit hashes need no large-range correction).
  return Math.round(estimate <= 2.5 * m && zeros > 0 ? m * Math.log(m / zeros) : estimate);
}

export function encodeDistinct(state: Readonly<DistinctState>): { p: number; x?: string[]; r?: string } {
  return state.exact
    ? { p: state.precision, x: state.exact }
    : { p: state.precision, r: Buffer.from(state.registers as Uint8Array).toString("base64") };
}

export function decodeDistinct(encoded: { p: number; x?: string[]; r?: string }): DistinctState {
  return encoded.x
    ? { precision: encoded.p, exact: [...encoded.x] }
    : { precision: encoded.p, registers: new Uint8Array(Buffer.from(encoded.r ?? "", "base64")) };
}
