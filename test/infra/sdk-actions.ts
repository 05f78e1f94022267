// The AWS actions a function's code can send, read from the code itself: esbuild bundles the entry point
// as the stack does (ESM, tree-shaken) but leaves every package outside, so the bundle holds only the
// application's own code (functions/, shared/) that the entry point reaches. Each command class of an
// @aws-sdk/client-* package that this code still references is one IAM action.
import { build } from "esbuild";
import { PROJECT_ROOT } from "../../infra/constructs/bundling.ts";

/** IAM service prefix of each SDK client package the functions may use. */
const SERVICE_PREFIXES: Record<string, string> = {
  "@aws-sdk/client-dynamodb": "dynamodb",
  "@aws-sdk/client-eventbridge": "events",
  "@aws-sdk/client-kinesis": "kinesis",
  "@aws-sdk/client-lambda": "lambda",
  "@aws-sdk/client-sqs": "sqs",
  "@aws-sdk/client-sns": "sns",
  "@aws-sdk/client-cloudwatch": "cloudwatch",
};

/** Operations whose IAM action is not named after the operation. */
const ACTIONS_OF_OPERATIONS: Record<string, string> = {
  "lambda:Invoke": "lambda:InvokeFunction",
  "lambda:InvokeWithResponseStream": "lambda:InvokeFunction",
  // SendMessageBatch is authorized by sqs:SendMessage (the SQS API reference's permissions table)
  "sqs:SendMessageBatch": "sqs:SendMessage",
};

export class UnreadableBundleError extends Error {
  override name = "UnreadableBundleError";
}

export type Entry = { file: string } | { source: string };

/** The bundle of the application code an entry point reaches, every package left as an import. */
export async function applicationBundleOf(entry: Entry): Promise<string> {
  const result = await build({
    ...("file" in entry
      ? { entryPoints: [entry.file] }
      : { stdin: { contents: entry.source, resolveDir: PROJECT_ROOT, sourcefile: "entry.ts", loader: "ts" as const } }),
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    write: false,
    format: "esm",
    platform: "node",
    target: "node24",
    mainFields: ["module", "main"],
    packages: "external",
    treeShaking: true,
    logLevel: "silent",
  });
  const [output] = result.outputFiles;
  if (!output) throw new UnreadableBundleError("esbuild wrote no bundle");
  return output.text;
}

const NAMED_IMPORT = /^import\s*\{([^}]*)\}\s*from\s*"(@aws-sdk\/[^"]+)";?$/gm;
const NAMESPACE_IMPORT = /^import\s*\*\s*as\s+([\w$]+)\s+from\s*"(@aws-sdk\/[^"]+)";?$/gm;
const SIDE_EFFECT_IMPORT = /^import\s*"(@aws-sdk\/[^"]+)";?$/gm;

function actionOf(pkg: string, exported: string): string | undefined {
  const operation = exported.endsWith("Command") ? exported.slice(0, -"Command".length) : undefined;
  const paginated = exported.startsWith("paginate") ? exported.slice("paginate".length) : undefined;
  const name = operation ?? paginated;
  if (name === undefined) return undefined;
  const prefix = SERVICE_PREFIXES[pkg];
  if (prefix === undefined) throw new UnreadableBundleError(`the code uses ${pkg}: give sdk-actions.ts its IAM service prefix`);
  const action = `${prefix}:${name}`;
  return ACTIONS_OF_OPERATIONS[action] ?? action;
}

const referenced = (body: string, name: string) => new RegExp(`(?<![\\w$.])${name.replace(/\$/g, "\\$")}(?![\\w$])`).test(body);

/** The IAM actions of the SDK commands (and paginators) the bundled application code references, sorted. */
export function sdkActionsInBundle(bundle: string): string[] {
  const actions = new Set<string>();
  const imports = [...bundle.matchAll(NAMED_IMPORT), ...bundle.matchAll(NAMESPACE_IMPORT), ...bundle.matchAll(SIDE_EFFECT_IMPORT)];
  // Every mention of an SDK package must be one of the import shapes read here: a require() or a dynamic
  // import of a client would otherwise go unseen.
  const mentions = bundle.match(/["']@aws-sdk\//g)?.length ?? 0;
  if (mentions !== imports.length) {
    throw new UnreadableBundleError(
      `the bundle names @aws-sdk packages ${mentions} times but imports them ${imports.length} times in ways read here`,
    );
  }
  let body = bundle;
  for (const match of imports) body = body.replace(match[0], "");
  for (const [, specifiers = "", pkg = ""] of bundle.matchAll(NAMED_IMPORT)) {
    if (!pkg.startsWith("@aws-sdk/client-")) {
      if (/Command\b/.test(specifiers))
        throw new UnreadableBundleError(`the code imports commands from ${pkg}: teach sdk-actions.ts its actions`);
      continue;
    }
    for (const specifier of specifiers
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)) {
      const [exported = "", local = exported] = specifier.split(/\s+as\s+/);
      const action = actionOf(pkg, exported);
      // esbuild keeps the names a module imported even when the code that used them was shaken out.
      if (action !== undefined && referenced(body, local)) actions.add(action);
    }
  }
  for (const [, namespace = "", pkg = ""] of bundle.matchAll(NAMESPACE_IMPORT)) {
    for (const [, member = ""] of body.matchAll(new RegExp(`(?<![\\w$])${namespace}\\.([\\w$]+)`, "g"))) {
      const action = actionOf(pkg, member);
      if (action !== undefined) actions.add(action);
    }
  }
  return [...actions].sort();
}

export async function sdkActionsOf(entry: Entry): Promise<string[]> {
  return sdkActionsInBundle(await applicationBundleOf(entry));
}
