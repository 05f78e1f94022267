// Validates a pipelines file's content: every problem is reported with the pipeline's name and the
// field's path. Pure: reading the file is shared/app/pipelines-file.ts.
import { type Explained, explainIssues, formatPath, type Path } from "../config-issues.ts";
import { type Pipeline, pipelinesFileSchema } from "./schema.ts";

export class PipelinesConfigError extends Error {
  override name = "PipelinesConfigError";
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid pipelines in ${source}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }

  /** One self-contained line per problem, naming the file. */
  lines(): string[] {
    return this.problems.map((p) => `invalid pipelines in ${this.source}: ${p}`);
  }
}

function describeProblem({ path: fullPath, message }: Explained, raw: unknown): string {
  const path = [...fullPath];
  let where = "";
  if (path[0] === "pipelines" && typeof path[1] === "number") {
    const index = path[1];
    const entry = (raw as { pipelines?: unknown[] })?.pipelines?.[index] as { name?: unknown } | undefined;
    const name = typeof entry?.name === "string" ? `"${entry.name}"` : "(unnamed)";
    where = `pipeline ${name} (pipelines[${index}])`;
    path.splice(0, 2);
  }
  const field = formatPath(path);
  const location = [where, field].filter(Boolean).join(", field ");
  return `${location || "file"}: ${message}`;
}

/** A field a message suggests: within the problem's own pipeline (the only one it can name), as the problem's field is named. */
const nameInPipeline = (path: Path) => formatPath(path[0] === "pipelines" && typeof path[1] === "number" ? path.slice(2) : path);

/** Validates already-parsed input; `source` names it in errors. */
export function parsePipelines(raw: unknown, source = "pipelines"): Pipeline[] {
  const result = pipelinesFileSchema.safeParse(raw);
  if (!result.success) {
    throw new PipelinesConfigError(source, [
      ...new Set(
        explainIssues(pipelinesFileSchema, raw, result.error.issues, nameInPipeline).map((problem) => describeProblem(problem, raw)),
      ),
    ]);
  }
  return result.data.pipelines;
}
