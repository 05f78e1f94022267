// The live view of `npm start` fitted to its terminal: redrawn in place (no scrolling), at most the
// terminal's rows, every line clipped to its columns (a wrapped line would take two rows). Pure.
import { stripVTControlCharacters } from "node:util";

/** A block of the view: lines always shown, then rows shown as far as room allows (the rest summed up). */
export interface ScreenBlock {
  head: string[];
  rows: string[];
  /** what a cut block says in place of its last shown row: "… and 3 more keys" */
  more?: (hidden: number) => string;
  tail: string[];
}

/** An ANSI colour code (ESC [ … m), matched where a line is being read. */
const COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "y");

/** The visible width of a line (ANSI colour codes take none). */
export function visibleLength(line: string): number {
  return stripVTControlCharacters(line).length;
}

/** The line cut to `columns` visible characters (colour codes kept, reset at the cut). */
export function clip(line: string, columns: number): string {
  if (visibleLength(line) <= columns) return line;
  let out = "";
  let shown = 0;
  for (let i = 0; i < line.length && shown < columns; ) {
    COLOUR.lastIndex = i;
    const colour = COLOUR.exec(line);
    if (colour) {
      out += colour[0];
      i += colour[0].length;
      continue;
    }
    out += shown === columns - 1 ? "…" : line[i];
    shown++;
    i++;
  }
  return `${out}\x1b[0m`;
}

/**
 * The lines of the view for a terminal of `rows` × `columns`: every block's head and tail, and its rows
 * shared out so the whole takes at most rows − 1 lines (the cursor stays on the last).
 */
export function fitScreen(blocks: readonly ScreenBlock[], rows: number, columns: number): string[] {
  const fixed = blocks.reduce((n, b) => n + b.head.length + b.tail.length, 0);
  let room = Math.max(0, rows - 1 - fixed);
  const wanted = blocks.map((b) => b.rows.length);
  const given = wanted.map(() => 0);
  // One row at a time to each block that wants more: a short block leaves its room to the others.
  while (room > 0 && given.some((g, i) => g < (wanted[i] as number))) {
    for (let i = 0; i < blocks.length && room > 0; i++) {
      if ((given[i] as number) < (wanted[i] as number)) {
        given[i] = (given[i] as number) + 1;
        room--;
      }
    }
  }
  const lines: string[] = [];
  blocks.forEach((block, i) => {
    const shown = given[i] as number;
    const hidden = block.rows.length - shown;
    const rowsShown =
      hidden > 0 && shown > 0 && block.more ? [...block.rows.slice(0, shown - 1), block.more(hidden + 1)] : block.rows.slice(0, shown);
    lines.push(...block.head, ...rowsShown, ...block.tail);
  });
  return lines.slice(0, Math.max(1, rows - 1)).map((line) => clip(line, columns));
}

/** Redraws the view in place: cursor home, each line cleared to its end, then everything below cleared. */
export function redraw(lines: readonly string[]): string {
  return `\x1b[H${lines.map((line) => `${line}\x1b[K`).join("\n")}\n\x1b[J`;
}
