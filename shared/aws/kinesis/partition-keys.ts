// Kinesis partition keys from event fields: a usable string or number, cut to Kinesis's 256
// characters on a character boundary; never a structure walked, never an ill-formed string.

export const MAX_PARTITION_KEY_CHARACTERS = 256;

/** The field's value as a partition key, or undefined when it cannot be one. */
export function partitionKeyFrom(value: unknown): string | undefined {
  const text = typeof value === "string" ? value : typeof value === "number" && Number.isFinite(value) ? String(value) : "";
  const cut = Array.from(text).slice(0, MAX_PARTITION_KEY_CHARACTERS).join("");
  return cut.length > 0 && cut.isWellFormed() ? cut : undefined;
}
