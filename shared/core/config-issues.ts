// Configuration problems as users read them: one line each, naming the field by its full path, saying
// what was given and what is allowed, with a "did you mean" for a misspelt key or value. Used for the
// pipelines file, the deployment configuration (cdk.json) and the functions' environment. Zod's own
// messages say "Invalid input" for a union without saying which field, and "Unrecognized key" without
// a suggestion; this walks the schema to do better. Pure.
import { closest, distance } from "fastest-levenshtein";
import type { z } from "zod";

type Path = readonly PropertyKey[];
type Issue = z.core.$ZodIssue;

/** The schema's definition, as far as walking it needs. */
interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  options?: z.ZodType[];
  element?: z.ZodType;
}
const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The schemas a wrapper stands for (a default's inner schema, a union's options…); none for anything else. */
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
      return def.in ? [def.in] : [];
    case "union":
      return def.options ?? [];
    default:
      return [];
  }
}

/** The object schemas a value at `path` may be checked against (several under a union). */
function objectsAt(schema: z.ZodType, path: Path): Def[] {
  const def = defOf(schema);
  if (def.type === "array") return typeof path[0] === "number" && def.element ? objectsAt(def.element, path.slice(1)) : [];
  if (def.type === "object") {
    if (path.length === 0) return [def];
    const next = def.shape?.[String(path[0])];
    return next ? objectsAt(next, path.slice(1)) : [];
  }
  return innerSchemas(def).flatMap((inner) => objectsAt(inner, path));
}

/** Every key path the schema knows (array elements as `[]`). */
function keyPaths(schema: z.ZodType, prefix: string[] = [], seen = new Set<unknown>()): string[][] {
  const def = defOf(schema);
  if (seen.has(def)) return [];
  seen.add(def);
  if (def.type === "array") return def.element ? keyPaths(def.element, [...prefix, "[]"], seen) : [];
  if (def.type === "object")
    return Object.entries(def.shape ?? {}).flatMap(([key, value]) => [[...prefix, key], ...keyPaths(value, [...prefix, key], seen)]);
  return innerSchemas(def).flatMap((inner) => keyPaths(inner, prefix, seen));
}

/** A near candidate, if one is near enough to be what was meant (a few edits, relative to length). */
export function nearest(given: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const lower = given.toLowerCase();
  const exact = candidates.find((c) => c.toLowerCase() === lower);
  if (exact !== undefined) return exact;
  const best = closest(given, [...candidates]);
  return distance(given.toLowerCase(), best.toLowerCase()) <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

function valueAt(raw: unknown, path: Path): unknown {
  let value = raw;
  for (const key of path) value = value !== null && typeof value === "object" ? (value as Record<PropertyKey, unknown>)[key] : undefined;
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

/** Each problem with its field's path (for callers that name fields their own way); `root` prefixes suggested paths. */
export function explainIssues(schema: z.ZodType, raw: unknown, issues: readonly Issue[], root = ""): Explained[] {
  return issues.flatMap((issue) => describeOne(schema, raw, issue, [], root));
}

function describeUnknownKeys(schema: z.ZodType, issue: Issue & { keys: string[] }, path: Path, root: string): Found[] {
  const siblings = [...new Set(objectsAt(schema, path).flatMap((def) => Object.keys(def.shape ?? {})))];
  const everywhere = keyPaths(schema);
  return issue.keys.map((key) => {
    const near = nearest(key, siblings);
    const elsewhere = near
      ? undefined
      : everywhere.find((p) => p.at(-1)?.toLowerCase() === key.toLowerCase() && p.length !== path.length + 1);
    const hint = near
      ? `; did you mean "${near}"?`
      : elsewhere
        ? `; did you mean ${[root, ...elsewhere].filter(Boolean).join(".").replaceAll(".[]", "[]")}?`
        : siblings.length > 0
          ? `; known keys here: ${siblings.join(", ")}`
          : "";
    return { path: [...path, key], message: `unknown key${hint}` };
  });
}

function describeValue(raw: unknown, path: Path, values: readonly unknown[]): Found {
  const given = valueAt(raw, path);
  const near =
    typeof given === "string"
      ? nearest(
          given,
          values.filter((v): v is string => typeof v === "string"),
        )
      : undefined;
  const allowed = values.map(show).join(" or ");
  return { path, message: `${show(given)} is not allowed; expected ${allowed}${near ? `; did you mean "${near}"?` : ""}` };
}

function describeOne(schema: z.ZodType, raw: unknown, issue: Issue, base: Path, root: string): Found[] {
  const path = [...base, ...issue.path];
  switch (issue.code) {
    case "unrecognized_keys":
      return describeUnknownKeys(schema, issue, path, root);
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
      return best.flatMap((inner) => describeOne(schema, raw, inner, path, root));
    }
    case "invalid_type": {
      const given = valueAt(raw, path);
      return [{ path, message: given === undefined ? `required (${issue.expected})` : `expected ${issue.expected}, got ${show(given)}` }];
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
  const lines = explainIssues(schema, raw, issues, root).map(({ path, message }) => {
    const where = [root, formatPath(path)].filter(Boolean).join(path.length > 0 && typeof path[0] === "number" ? "" : ".");
    return `${where || "(top level)"}: ${message}`;
  });
  return [...new Set(lines)];
}
