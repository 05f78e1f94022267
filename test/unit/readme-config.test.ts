// The README's configuration table tells the truth: every setting the deployment's schema takes (and
// the stack's name) has a row.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { deploymentConfigSchema } from "../../infra/config.ts";

const README = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8");

interface SchemaNode {
  _zod: { def: { type: string; innerType?: SchemaNode; in?: SchemaNode; shape?: Record<string, SchemaNode> } };
}

/** The settings of a schema, by dotted path: an object's fields, each down to what is not an object. */
function settingsOf(node: SchemaNode, path: string[] = []): string[] {
  let def = node._zod.def;
  while (def.innerType !== undefined || def.type === "pipe") def = ((def.innerType ?? def.in) as SchemaNode)._zod.def;
  if (def.type !== "object" || def.shape === undefined) return [path.join(".")];
  return Object.entries(def.shape).flatMap(([name, child]) => settingsOf(child, [...path, name]));
}

describe("the README's configuration table", () => {
  it("has a row for every setting, and for the stack's name", () => {
    // Prepare
    const section = README.slice(README.indexOf("### Configuration"), README.indexOf("### What it costs when idle"));
    const settings = [...settingsOf(deploymentConfigSchema as unknown as SchemaNode), "stackName"];

    // Act
    const missing = settings.filter((setting) => !section.includes(`\`${setting}`));

    // Assess: the schema was read (nested settings included), and none is missing
    expect(settings).toContain("eventSource.batchSize");
    expect(missing).toEqual([]);
  });
});
