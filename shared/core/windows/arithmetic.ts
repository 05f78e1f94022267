// Integer arithmetic on epoch milliseconds that stays correct for negative times.

export function floorDiv(a: number, b: number): number {
  return Math.floor(a / b) + 0; // + 0 turns -0 into 0
}

/** The largest multiple of `step` that is ≤ `t`. */
export function alignDown(t: number, step: number): number {
  return floorDiv(t, step) * step;
}

/** The smallest multiple of `step` that is ≥ `t`. */
export function alignUp(t: number, step: number): number {
  return Math.ceil(t / step) * step + 0; // + 0 turns -0 into 0
}

export function gcd(a: number, b: number): number {
  let x = Math.abs(a);
  let y = Math.abs(b);
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}
