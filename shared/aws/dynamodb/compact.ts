// Compact text for pane layers, shared by the shard logs and the key groups' panes: names (pipelines,
// keys, fields) once in tables, times relative to the pane's start, a state's fields as flat numbers —
// then deflated by the caller. An item's size in 1 KB units is its write cost.
import { type StoredState, stateFromJson, stateToJson } from "../../core/aggregates/state.ts";
import type { PaneLayer } from "../../core/ingest/deltas.ts";

/** A layer as a row: its `from` relative to the pane, its count, [field index, sum, min, max]…, and sketches or distinct states if any. */
export type LayerRow = [from: number, n: number, fields: number[], rest?: Omit<StoredState, "n" | "tmin" | "tmax" | "fields">];

/** A table of names, each written once and referred to by its index. */
export class Names {
  readonly list: string[] = [];
  private readonly index = new Map<string, number>();
  of(name: string): number {
    let i = this.index.get(name);
    if (i === undefined) {
      i = this.list.length;
      this.list.push(name);
      this.index.set(name, i);
    }
    return i;
  }
}

/** A fixed window's layer as a row (its state needs no event-time bounds: sessions keep theirs elsewhere). */
export function layerRow(layer: PaneLayer, paneStart: number, fields: Names): LayerRow {
  const { n, tmin: _tmin, tmax: _tmax, fields: values, ...rest } = stateToJson(layer.state);
  const flat: number[] = [];
  for (const [name, f] of Object.entries(values)) flat.push(fields.of(name), f.sum, f.min, f.max);
  const row: LayerRow = [layer.from - paneStart, n, flat];
  if (Object.keys(rest).length > 0) row.push(rest);
  return row;
}

export function rowLayer([from, n, flat, rest]: LayerRow, paneStart: number, fieldNames: readonly string[]): PaneLayer {
  const fields: StoredState["fields"] = {};
  for (let i = 0; i < flat.length; i += 4)
    fields[fieldNames[flat[i] as number] as string] = {
      sum: flat[i + 1] as number,
      min: flat[i + 2] as number,
      max: flat[i + 3] as number,
    };
  // The pane's start stands for the bounds it does not keep.
  return { from: paneStart + from, state: stateFromJson({ n, tmin: paneStart, tmax: paneStart, fields, ...rest }) };
}
