// dynalite, with three changes. (1) The write units of global secondary indexes in ConsumedCapacity,
// as AWS bills them and dynalite leaves out: a write that puts an item into an index, takes it out, or
// changes its projection costs the projected item's size in 1 KB units; one that changes the index key
// costs a delete and a put. (2) Its store's iterators are closed when they are read to the end or
// their stream is destroyed: dynalite 4 never closes them (its streams call a `return()` that
// abstract-level iterators do not have), and each open iterator keeps a snapshot of the in-memory
// store — every version of every item written since — so a long-running dynalite grew by all it was
// ever written (hundreds of MB an hour under `npm start`). Nothing else changes.
// Usage (through emulator-process.cjs): dynalite-billed.cjs [dynalite's arguments].
"use strict";
// (3) Small Buffers get their own memory, not a slice of a shared 8 KB slab: dynalite's store keeps each
// key and value as a small Buffer, and a slice keeps its whole slab alive — one item could hold 8 KB.
Buffer.poolSize = 0;
const { dirname } = require("node:path");
const db = require("dynalite/db");

const { AbstractIterator } = require(require.resolve("abstract-level", { paths: [dirname(require.resolve("dynalite/package.json"))] }));
const iterators = Object.getPrototypeOf(AbstractIterator.prototype);
const next = iterators.next;
iterators.next = async function (...args) {
  const item = await next.apply(this, args);
  if (item === undefined) await this.close();
  return item;
};
iterators.return = function () {
  return this.close();
};

const units = (item) => Math.max(1, Math.ceil(db.itemSize(item) / 1024));

/** The item as the index holds it. */
function projected(item, index, table) {
  if (index.Projection.ProjectionType === "ALL") return item;
  const names = [
    ...index.KeySchema.map((k) => k.AttributeName),
    ...table.KeySchema.map((k) => k.AttributeName),
    ...(index.Projection.NonKeyAttributes || []),
  ];
  const picked = {};
  for (const name of names) if (item[name] !== undefined) picked[name] = item[name];
  return picked;
}

/** Write units one item write costs in one global secondary index. */
function indexUnits(index, table, before, after) {
  const keys = index.KeySchema.map((k) => k.AttributeName);
  const inBefore = before && keys.every((k) => before[k] != null);
  const inAfter = after && keys.every((k) => after[k] != null);
  if (!inBefore && !inAfter) return 0;
  if (inBefore && !inAfter) return units(projected(before, index, table));
  if (!inBefore && inAfter) return units(projected(after, index, table));
  const old = projected(before, index, table);
  const next = projected(after, index, table);
  if (db.createIndexKey(old, table, index.KeySchema) !== db.createIndexKey(next, table, index.KeySchema)) return units(old) + units(next);
  return JSON.stringify(old) === JSON.stringify(next) ? 0 : units(next);
}

// A write action computes its table's units, then at once (same tick) updates the indexes: the latter
// adds the index units to the former's answer.
let pending;
const addConsumedCapacity = db.addConsumedCapacity;
db.addConsumedCapacity = function (data, isRead, ...items) {
  const capacity = addConsumedCapacity.call(this, data, isRead, ...items);
  pending = isRead ? undefined : capacity;
  return capacity;
};
const updateIndexes = db.updateIndexes;
db.updateIndexes = function (store, table, before, after, cb) {
  const capacity = pending;
  pending = undefined;
  if (capacity) {
    for (const index of table.GlobalSecondaryIndexes || []) {
      const cost = indexUnits(index, table, before, after);
      if (cost === 0) continue;
      capacity.CapacityUnits += cost;
      if (capacity.Table) {
        capacity.GlobalSecondaryIndexes = capacity.GlobalSecondaryIndexes || {};
        capacity.GlobalSecondaryIndexes[index.IndexName] = { CapacityUnits: cost };
      }
    }
  }
  return updateIndexes.call(this, store, table, before, after, cb);
};

require("dynalite/cli.js");
