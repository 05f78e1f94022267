// Configuration problems as users read them: one line each, naming the field by its full path, saying
// what was given and what is allowed, with a "did you mean" for a misspelt key or value. Used for the
// pipelines file, the deployment configuration (cdk.json) and the functions' environment. Zod's own
// messages say "Invalid input" for a union without saying which field, and "Unrecognized key" without
// a suggestion; this walks the schema (and, under a discriminated union, only the option the given
// discriminator chose) to do better. Pure.
import { closest, distance } from "fastest-levenshtein";
import type { z } from "zod";

export type Path = readonly PropertyKey[];
type Issue = z.core.$ZodIssue;

/** The schema's definition, as far as walking it needs. */
interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  options?: z.ZodType[];
  /** set on a discriminated union */
  discriminator?: string;
  element?: z.ZodType;
  valueType?: z.ZodType;
}
const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The values of `key` that select this option of a discriminated union. */
const valuesSelecting = (option: z.ZodType, key: string): unknown[] => [
  ...((option as unknown as { _zod: { propValues?: Record<string, Set<unknown>> } })._zod.propValues?.[key] ?? []),
];

/** The schemas a wrapper stands for (a default's inner schema, a union's options, both ends of a pipe…); none for anything else. */
function innerSchemas(def: Def): z.ZodType[] {
  switch (def.type) {
    case "default":
    case "prefault":
    case "optional":
    case "nullable":
    case "readonly":
    case "catch":
      return def.innerType ? [def.innerType] : [];
    case "pipe":
      // `in` for a transform; `out` for a check before the schema (the pipelines file's named records)
      return [def.in, def.out].filter((schema) => schema !== undefined);
    case "union":
      return def.options ?? [];
    default:
      return [];
  }
}

/** The options of a discriminated union, each with the discriminator's values that select it and its keys. */
interface Variants {
  discriminator: string;
  /** the discriminator's value as given */
  given: unknown;
  options: { values: unknown[]; keys: string[] }[];
}

interface ObjectAt {
  def: Def;
  /** the discriminated union the given value chose this object from */
  variants?: Variants;
}

const keysOf = (objects: readonly ObjectAt[]) => [...new Set(objects.flatMap((o) => Object.keys(o.def.shape ?? {})))];

function child(value: unknown, key: PropertyKey): unknown {
  return value !== null && typeof value === "object" ? (value as Record<PropertyKey, unknown>)[key] : undefined;
}

/**
 * The object schemas the value at `path` is checked against: several under a union, only the chosen
 * option(s) under a discriminated union whose discriminator `value` gives (so its siblings are that option's keys).
 */
function objectsAt(schema: z.ZodType, path: Path, value: unknown): ObjectAt[] {
  const def = defOf(schema);
  const [head, ...rest] = path;
  if (def.type === "array") return typeof head === "number" && def.element ? objectsAt(def.element, rest, child(value, head)) : [];
  if (def.type === "record") return head !== undefined && def.valueType ? objectsAt(def.valueType, rest, child(value, head)) : [];
  if (def.type === "object") {
    if (head === undefined) return [{ def }];
    const next = def.shape?.[String(head)];
    return next ? objectsAt(next, rest, child(value, head)) : [];
  }
  if (def.type === "union" && def.discriminator !== undefined) {
    const discriminator = def.discriminator;
    const options = def.options ?? [];
    const given = child(value, discriminator);
    const chosen = options.filter((option) => valuesSelecting(option, discriminator).includes(given));
    const found = (chosen.length > 0 ? chosen : options).flatMap((option) => objectsAt(option, path, value));
    if (path.length > 0 || chosen.length === 0) return found;
    const variants: Variants = {
      discriminator,
      given,
      options: options.map((option) => ({ values: valuesSelecting(option, discriminator), keys: keysOf(objectsAt(option, [], value)) })),
    };
    return found.map((object) => ({ ...object, variants }));
  }
  return innerSchemas(def).flatMap((inner) => objectsAt(inner, path, value));
}

/** Every key path the schema knows (array elements as `[]`, a record's entries as `*`). */
function keyPaths(schema: z.ZodType, prefix: string[] = [], seen = new Set<unknown>()): string[][] {
  const def = defOf(schema);
  if (seen.has(def)) return [];
  seen.add(def);
  if (def.type === "array") return def.element ? keyPaths(def.element, [...prefix, "[]"], seen) : [];
  if (def.type === "record") return def.valueType ? keyPaths(def.valueType, [...prefix, "*"], seen) : [];
  if (def.type === "object")
    return Object.entries(def.shape ?? {}).flatMap(([key, value]) => [[...prefix, key], ...keyPaths(value, [...prefix, key], seen)]);
  return innerSchemas(def).flatMap((inner) => keyPaths(inner, prefix, seen));
}

const segmentMatches = (segment: string, actual: PropertyKey | undefined) =>
  segment === "[]" ? typeof actual === "number" : segment === "*" ? typeof actual === "string" : segment === actual;

/** A key path with its `[]` and `*` filled from `path` as far as the two agree (the same pipeline, the same aggregate). */
function resolveKeyPath(pattern: readonly string[], path: Path): PropertyKey[] {
  let agree = true;
  return pattern.map((segment, i) => {
    agree &&= segmentMatches(segment, path[i]);
    return agree ? (path[i] as PropertyKey) : segment;
  });
}

/** Adjacent letters swapped ("feild"): one slip, though edit distance counts it as two. */
function swapsTwoLetters(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  const differ = [...a].flatMap((letter, i) => (letter === b[i] ? [] : [i]));
  const [i, j] = differ;
  return differ.length === 2 && i !== undefined && j === i + 1 && a[i] === b[j] && a[j] === b[i];
}

/** A near candidate, if one is near enough to be what was meant (a few edits, relative to length). */
export function nearest(given: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const lower = given.toLowerCase();
  const exact = candidates.find((c) => c.toLowerCase() === lower);
  if (exact !== undefined) return exact;
  const swapped = candidates.find((c) => swapsTwoLetters(lower, c.toLowerCase()));
  if (swapped !== undefined) return swapped;
  const best = closest(given, [...candidates]);
  return distance(given.toLowerCase(), best.toLowerCase()) <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

function valueAt(raw: unknown, path: Path): unknown {
  let value = raw;
  for (const key of path) value = child(value, key);
  return value;
}

const show = (value: unknown) =>
  typeof value === "string" ? JSON.stringify(value) : value === undefined ? "nothing" : JSON.stringify(value);

/** The path as users write it: `a.b[2].c`. */
export function formatPath(path: Path): string {
  let out = "";
  for (const key of path) out += typeof key === "number" ? `[${key}]` : `${out ? "." : ""}${String(key)}`;
  return out;
}

export interface Explained {
  /** the field's full path */
  path: Path;
  message: string;
}
type Found = Explained;
/** How a message names another field it suggests (its full path). */
type NameOf = (path: Path) => string;

/** Each problem with its field's path (for callers that name fields their own way); `nameOf` names a field a message suggests. */
export function explainIssues(schema: z.ZodType, raw: unknown, issues: readonly Issue[], nameOf: NameOf = formatPath): Explained[] {
  return issues.flatMap((issue) => describeOne(schema, raw, issue, [], nameOf));
}

function describeUnknownKeys(schema: z.ZodType, raw: unknown, issue: Issue & { keys: string[] }, path: Path, nameOf: NameOf): Found[] {
  const objects = objectsAt(schema, path, raw);
  const siblings = keysOf(objects);
  const everywhere = keyPaths(schema);
  return issue.keys.map((key): Found => {
    // a key of another option of a discriminated union: which discriminator values allow it
    const variants = objects.map((o) => o.variants).find((v) => v?.options.some((option) => option.keys.includes(key)));
    if (variants) {
      const allowing = variants.options.filter((option) => option.keys.includes(key)).flatMap((option) => option.values);
      return {
        path: [...path, key],
        message: `not allowed with ${variants.discriminator} ${show(variants.given)} (only with ${allowing.map(show).join(" or ")})`,
      };
    }
    const near = nearest(key, siblings);
    // the same key at another place: where it belongs, when that is one place
    const elsewhere = near
      ? []
      : [
          ...new Set(
            everywhere
              .filter((p) => p.at(-1)?.toLowerCase() === key.toLowerCase())
              .filter((p) => !(p.length === path.length + 1 && p.slice(0, -1).every((segment, i) => segmentMatches(segment, path[i]))))
              .map((p) => nameOf(resolveKeyPath(p, path)).replaceAll(".[]", "[]").replaceAll("*", "<name>")),
          ),
        ];
    const hint = near
      ? `; did you mean "${near}"?`
      : elsewhere.length === 1
        ? `; did you mean ${elsewhere[0]}?`
        : siblings.length > 0
          ? `; known keys here: ${siblings.join(", ")}`
          : "";
    return { path: [...path, key], message: `unknown key${hint}` };
  });
}

function describeValue(raw: unknown, path: Path, values: readonly unknown[]): Found {
  const given = valueAt(raw, path);
  const allowed = values.map(show).join(" or ");
  if (given === undefined) return { path, message: `required; expected ${allowed}` };
  const near =
    typeof given === "string"
      ? nearest(
          given,
          values.filter((v): v is string => typeof v === "string"),
        )
      : undefined;
  return { path, message: `${show(given)} is not allowed; expected ${allowed}${near ? `; did you mean "${near}"?` : ""}` };
}

/** A missing field: which option of a discriminated union requires it, when not all of them do. */
function describeMissing(schema: z.ZodType, raw: unknown, path: Path, expected: string): Found {
  const key = path.at(-1);
  const variants =
    typeof key === "string"
      ? objectsAt(schema, path.slice(0, -1), raw)
          .map((o) => o.variants)
          .find((v) => v && !v.options.every((option) => option.keys.includes(key)))
      : undefined;
  return {
    path,
    message: variants ? `required for ${variants.discriminator} ${show(variants.given)} (${expected})` : `required (${expected})`,
  };
}

function describeOne(schema: z.ZodType, raw: unknown, issue: Issue, base: Path, nameOf: NameOf): Found[] {
  const path = [...base, ...issue.path];
  switch (issue.code) {
    case "unrecognized_keys":
      return describeUnknownKeys(schema, raw, issue, path, nameOf);
    case "invalid_value":
      return [describeValue(raw, path, issue.values)];
    case "invalid_union": {
      const branches = issue.errors;
      if (branches.length === 0) {
        // a discriminated union whose discriminator (at `path`) matched no option
        const options = (issue as { options?: unknown[] }).options;
        return [options ? describeValue(raw, path, options) : { path, message: issue.message }];
      }
      // Branches that fail only on one field's value (a literal) differ in that value: say which values are allowed.
      const literalPaths = new Map<string, { path: Path; values: unknown[]; branches: number }>();
      for (const branch of branches) {
        for (const inner of branch) {
          if (inner.code !== "invalid_value") continue;
          const at = [...path, ...inner.path];
          const key = formatPath(at);
          const entry = literalPaths.get(key) ?? { path: at, values: [], branches: 0 };
          entry.values.push(...inner.values);
          entry.branches++;
          literalPaths.set(key, entry);
        }
      }
      const shared = [...literalPaths.values()].find((entry) => entry.branches >= 2);
      if (shared) return [describeValue(raw, shared.path, [...new Set(shared.values)])];
      // Otherwise the branch that got furthest: fewest problems, then the deepest.
      const depth = (b: readonly Issue[]) => Math.max(...b.map((i) => i.path.length));
      const best = [...branches].sort((a, b) => a.length - b.length || depth(b) - depth(a))[0] ?? [];
      return best.flatMap((inner) => describeOne(schema, raw, inner, path, nameOf));
    }
    case "invalid_type": {
      const given = valueAt(raw, path);
      return [
        given === undefined
          ? describeMissing(schema, raw, path, issue.expected)
          : { path, message: `expected ${issue.expected}, got ${show(given)}` },
      ];
    }
    default:
      return [{ path, message: issue.message }];
  }
}

/**
 * One line per problem: `<root>.<path>: <what is wrong>`. `raw` is the input as given (to quote the
 * offending value), `schema` the schema it failed (to suggest keys and values).
 */
export function describeIssues(schema: z.ZodType, raw: unknown, issues: readonly Issue[], root = ""): string[] {
  const name = (path: Path) => [root, formatPath(path)].filter(Boolean).join(path.length > 0 && typeof path[0] === "number" ? "" : ".");
  const lines = explainIssues(schema, raw, issues, name).map(({ path, message }) => `${name(path) || "(top level)"}: ${message}`);
  return [...new Set(lines)];
}
