// Dead letters counted the one way every view shows them (the live screen, the dashboard, `panes status`,
// the replay summary): by pipeline and kind, late letters split into events too late for every window
// (dropped) and events only some windows refused (the others counted them), and invalid ones by what
// their reason says, without the value that varies from record to record.
import type { DeadLetter } from "./types.ts";

/** What counting needs of a letter (a scan projects only these). */
export type LetterFacts = Pick<DeadLetter, "kind" | "pipeline" | "reason" | "acceptedBy">;

/** A late letter whose own pipeline also took the record: only some of the event's windows refused it. */
export const isPartlyLate = (l: Pick<DeadLetter, "kind" | "pipeline" | "acceptedBy">) =>
  l.kind === "late" && (l.acceptedBy ?? []).includes(l.pipeline);

export interface DeadLetterCounts {
  invalid: number;
  /** every late letter (`panes dlq list --kind late` lists them) */
  late: number;
  /** late letters of events that other windows of the same pipeline took */
  partlyLate: number;
}

/** A reason shared by several invalid letters, and how many. */
export interface ReasonCount {
  reason: string;
  count: number;
}

export interface PipelineLetterCounts extends DeadLetterCounts {
  /** invalid letters by reason group, most frequent first */
  reasons: ReasonCount[];
}

const ISO_TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/g;

/**
 * A reason without the record's own value: `field "value" (aggregate "avg") must be a finite number`
 * for every value that was not one. Reasons name the value last (", got …", "(got …)", a parenthesis
 * holding it) and times in ISO-8601; a JSON parser's message names a position.
 */
export function reasonGroup(reason: string): string {
  return reason
    .replace(/^(record data is not JSON):[\s\S]*$/, "$1")
    .replace(/,? \(?got [\s\S]*$/, "")
    .replace(/ is (out of range|not a calendar date and time) \([\s\S]*\)$/, " is $1")
    .replace(ISO_TIME, "…")
    .trim();
}

/** Counts by pipeline ("*" for records no pipeline could read), reasons grouped, the `top` most frequent kept. */
export function countLetters(letters: Iterable<LetterFacts>, top = 5): Map<string, PipelineLetterCounts> {
  const counts = new Map<string, DeadLetterCounts & { byReason: Map<string, number> }>();
  for (const letter of letters) {
    let count = counts.get(letter.pipeline);
    if (count === undefined) {
      count = { invalid: 0, late: 0, partlyLate: 0, byReason: new Map() };
      counts.set(letter.pipeline, count);
    }
    if (letter.kind === "late") {
      count.late++;
      if (isPartlyLate(letter)) count.partlyLate++;
    } else {
      count.invalid++;
      const group = reasonGroup(letter.reason);
      count.byReason.set(group, (count.byReason.get(group) ?? 0) + 1);
    }
  }
  return new Map(
    [...counts].map(([pipeline, { byReason, ...count }]) => [
      pipeline,
      {
        ...count,
        reasons: [...byReason]
          .map(([reason, n]) => ({ reason, count: n }))
          .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason))
          .slice(0, top),
      },
    ]),
  );
}

/** Every pipeline's counts added up. */
export function totalOf(counts: Iterable<DeadLetterCounts>): DeadLetterCounts {
  const total: DeadLetterCounts = { invalid: 0, late: 0, partlyLate: 0 };
  for (const c of counts) {
    total.invalid += c.invalid;
    total.late += c.late;
    total.partlyLate += c.partlyLate;
  }
  return total;
}

/**
 * The counts in one line, the same wherever they are shown: "dead letters (all pipelines): 40 invalid,
 * 70 late (55 too late for every window, dropped; 15 for some windows only, counted in the others)".
 */
export function describeDeadLetterCounts({ invalid, late, partlyLate }: DeadLetterCounts, scope = "all pipelines"): string {
  const dropped = late - partlyLate;
  const split =
    late === 0
      ? ""
      : partlyLate === 0
        ? " (too late for every window, dropped)"
        : dropped === 0
          ? " (too late for some windows only, counted in the others)"
          : ` (${dropped} too late for every window, dropped; ${partlyLate} for some windows only, counted in the others)`;
  return `dead letters (${scope}): ${invalid} invalid, ${late} late${split}`;
}
