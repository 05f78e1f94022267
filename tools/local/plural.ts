// Counts as users read them: "1 window", "3 windows", "0 batches". Every count the CLI and the local
// tools print with a noun goes through here, so none says "1 windows". English only, as all messages are.
const rules = new Intl.PluralRules("en");

/** The count and its noun in the number English wants: `counted(1, "window")` is "1 window", `counted(2, "batch", "batches")` "2 batches". */
export function counted(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${rules.select(n) === "one" ? noun : plural}`;
}
