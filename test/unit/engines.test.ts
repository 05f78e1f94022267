// The Node.js versions package.json declares are true: every package the install takes (optional,
// platform-specific ones aside) supports every one of them, so `npm ci` on a declared version warns of
// no unsupported engine.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import semver from "semver";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const read = (file: string) => JSON.parse(readFileSync(join(ROOT, file), "utf8"));

describe("the declared Node.js engines", () => {
  it("are within what every installed package supports", () => {
    // Prepare
    const declared: string = read("package.json").engines.node;
    const lock: { packages: Record<string, { optional?: boolean; engines?: { node?: string } }> } = read("package-lock.json");
    const required = Object.entries(lock.packages).filter(
      (entry): entry is [string, { engines: { node: string } }] =>
        entry[0] !== "" && entry[1].optional !== true && typeof entry[1].engines?.node === "string",
    );

    // Act
    const narrower = required.filter(([, p]) => !semver.subset(declared, p.engines.node)).map(([path, p]) => `${path}: ${p.engines.node}`);

    // Assess: packages were read, and none supports less than is declared
    expect(required.length).toBeGreaterThan(100);
    expect(narrower).toEqual([]);
  });

  it("include the Node.js the npm scripts and Lambda run (node@24) and this machine's Node 20, that installs", () => {
    const declared: string = read("package.json").engines.node;
    expect(semver.satisfies("24.0.0", declared)).toBe(true);
    expect(semver.satisfies("20.20.2", declared)).toBe(true);
  });
});
