// The house rules (README "Where things live"), checked by `npm run check`: the arrows point one way.
// core is pure (no SDK, no I/O); aws adapts core to AWS; app orchestrates core and aws; functions wire
// app, aws and core; nothing imports tools.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "core-is-pure",
      comment: "shared/core imports only shared/core and pure libraries (no AWS SDK, no file or network I/O; node's crypto only hashes)",
      severity: "error",
      from: { path: "^shared/core/" },
      to: {
        pathNot: ["^shared/core/", "^node_modules/(zod|@datadog/sketches-js|fastest-levenshtein|dt-sql-parser)/", "^crypto$"],
        dependencyTypesNot: ["type-only"],
      },
    },
    {
      name: "core-types-stay-in-core",
      comment: "shared/core does not even name types from outside it",
      severity: "error",
      from: { path: "^shared/core/" },
      to: { path: "^(shared/(aws|app)|functions|tools|infra)/" },
    },
    {
      name: "aws-imports-core-only",
      comment: "adapters know the core's types and nothing of orchestration, handlers or tools",
      severity: "error",
      from: { path: "^shared/aws/" },
      to: { path: "^(shared/app|functions|tools|infra)/" },
    },
    {
      name: "app-imports-core-and-aws",
      severity: "error",
      from: { path: "^shared/app/" },
      to: { path: "^(functions|tools|infra)/" },
    },
    {
      name: "functions-do-not-import-tools-or-infra",
      severity: "error",
      from: { path: "^functions/" },
      to: { path: "^(tools|infra)/" },
    },
    {
      name: "functions-do-not-reach-the-sql-parser",
      comment:
        "SQL pipelines are compiled when the pipelines file loads (CLI, cdk synth); dt-sql-parser (800 KB), which only the parse modules import, stays out of the bundles",
      severity: "error",
      from: { path: "^functions/" },
      to: { path: "^shared/core/sql/parse", reachable: true },
    },
    {
      name: "nothing-imports-tools",
      comment: "tools are never bundled into Lambda or synthesized; only tools and tests use them",
      severity: "error",
      from: { pathNot: "^(tools|test|bin)/" },
      to: { path: "^tools/" },
    },
    {
      name: "no-cycles",
      severity: "error",
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    // TypeScript 7 has no compiler API: swc parses, and still sees type-only imports.
    parser: "swc",
    tsPreCompilationDeps: false,
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|cdk\\.out)/" },
    moduleSystems: ["es6"],
  },
};
