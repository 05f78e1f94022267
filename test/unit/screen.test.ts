// `npm start`'s live view fits its terminal: an 80×24 terminal never scrolls (at most 23 lines, none
// wider than 80 columns, so none wraps), the header and footer always show, and a block's rows are cut
// with a line saying how many are hidden.
import { describe, expect, it } from "vitest";
import { clip, fitScreen, type ScreenBlock, visibleLength } from "../../tools/local/screen.ts";

const BOLD = "\x1b[1m";
const RESET = "\x1b[0m";

function view(keys: number): ScreenBlock[] {
  const pipeline = (name: string): ScreenBlock => ({
    head: [`${BOLD}${name}${RESET}  tumbling 5m, avg per host   watermark 12:00:00`, "  key      10:00–10:05"],
    rows: Array.from({ length: keys }, (_, i) => `  host-${i}   ${"42.0 (30)".padStart(13)}`),
    more: (hidden) => `  … and ${hidden} more keys`,
    tail: [""],
  });
  return [
    {
      head: [
        `${BOLD}Panes${RESET} local pipeline — Kinesis http://127.0.0.1:45678 (kinesalite), DynamoDB http://127.0.0.1:45679 (dynalite), stream panes-events (2 shards)`,
        "Dashboard: http://127.0.0.1:41234/",
        "",
      ],
      rows: [],
      tail: [],
    },
    pipeline("cpu-avg-5m"),
    pipeline("mem-max-60m"),
    { head: ["events produced 1200   dead letters: 0 invalid, 3 late", "Ctrl-C stops everything."], rows: [], tail: [] },
  ];
}

describe("the live view", () => {
  it("takes at most rows − 1 lines of at most the terminal's columns, whatever it holds", () => {
    for (const [rows, columns] of [
      [24, 80],
      [10, 40],
      [50, 200],
    ] as const)
      for (const keys of [0, 6, 20]) {
        const lines = fitScreen(view(keys), rows, columns);
        expect(lines.length, `${keys} keys in ${rows}×${columns}`).toBeLessThanOrEqual(rows - 1);
        expect(Math.max(...lines.map(visibleLength)), `${keys} keys in ${rows}×${columns}`).toBeLessThanOrEqual(columns);
      }
  });

  it("shows the demo's six keys of both pipelines in 80×24, and says how many it hides when they do not fit", () => {
    const six = fitScreen(view(6), 24, 80);
    expect(six.filter((l) => l.includes("host-")).length).toBe(12);
    expect(six.some((l) => l.includes("more keys"))).toBe(false);

    const twenty = fitScreen(view(20), 24, 80);
    expect(twenty.filter((l) => l.includes("… and 15 more keys"))).toHaveLength(2);
    expect(twenty.at(-1)).toBe("Ctrl-C stops everything.");
    expect(twenty[1]).toBe("Dashboard: http://127.0.0.1:41234/");
  });

  it("clips a line with colour codes at the visible width, and leaves a short one as it is", () => {
    const line = `${BOLD}Panes${RESET} local pipeline`;
    expect(clip(line, 80)).toBe(line);
    const cut = clip(line, 8);
    expect(visibleLength(cut)).toBe(8);
    expect(cut.startsWith(`${BOLD}Panes${RESET} l`)).toBe(true);
    expect(cut.endsWith(`…${RESET}`)).toBe(true);
  });
});
