// Small, explicit conversions between DynamoDB attribute values and our numbers and strings.
import type { AttributeValue } from "@aws-sdk/client-dynamodb";

export type Item = Record<string, AttributeValue>;

export const S = (value: string): AttributeValue => ({ S: value });
export const N = (value: number): AttributeValue => ({ N: String(value) });

export function str(item: Item | undefined, name: string): string | undefined {
  return item?.[name]?.S;
}

export function num(item: Item | undefined, name: string): number | undefined {
  const value = item?.[name]?.N;
  return value === undefined ? undefined : Number(value);
}

export function isConditionalFailure(error: unknown): error is Error & { Item?: Item } {
  return (error as Error | undefined)?.name === "ConditionalCheckFailedException";
}
