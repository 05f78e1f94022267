// kinesalite, with records removed once they are older than a retention period, as Kinesis removes
// them after the stream's retention (24 hours at least there). kinesalite keeps every record in
// memory and drops an old one only when a GetRecords call reads over it, which a consumer reading at
// the tip never does: a long-running local stack would grow by every record ever put. With
// --retentionMs N (the local stack's choice, shorter than Kinesis allows) a sweep every
// --trimEveryMs (default 10 s) deletes, shard by shard from the oldest, the records that arrived
// more than N ms ago; a consumer further behind than that loses them, as it would in Kinesis.
// Nothing else changes. Usage (through emulator-process.cjs): kinesalite-trimmed.cjs --retentionMs N [kinesalite's arguments].
// Also: small Buffers get memory of their own, not a slice of a shared 8 KB slab that one stored record
// would keep alive (as in dynalite-billed.cjs).
"use strict";
Buffer.poolSize = 0;
const argv = require("minimist")(process.argv.slice(2));
const kdb = require("kinesalite/db");

const retentionMs = Number(argv.retentionMs || 0);
const everyMs = Number(argv.trimEveryMs || 10000);

/** Deletes one shard's records that arrived before the cutoff (keys are "shardHex/sequence", in order). */
function trimShard(streamDb, shardIx, cutoff) {
  return new Promise((resolve, reject) => {
    const old = [];
    const keys = streamDb.createKeyStream({ gte: `${kdb.shardIxToHex(shardIx)}/`, lt: kdb.shardIxToHex(shardIx + 1) });
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      if (old.length === 0) return resolve(0);
      streamDb.batch(
        old.map((key) => ({ type: "del", key })),
        (error) => (error ? reject(error) : resolve(old.length)),
      );
    };
    keys.on("data", (key) => {
      if (done) return;
      if (kdb.parseSequence(key.split("/")[1]).seqTime < cutoff) old.push(key);
      else {
        keys.destroy();
        finish();
      }
    });
    keys.on("error", reject);
    keys.on("end", finish);
    keys.on("close", finish);
  });
}

function trim(store) {
  const cutoff = Date.now() - retentionMs;
  const streams = [];
  return new Promise((resolve, reject) => {
    store.metaDb
      .createReadStream()
      .on("data", ({ key, value }) => streams.push({ name: key, shards: (value.Shards || []).length }))
      .on("error", reject)
      .on("end", resolve);
  }).then(async () => {
    for (const stream of streams) {
      const streamDb = store.getStreamDb(stream.name);
      for (let ix = 0; ix < stream.shards; ix++) await trimShard(streamDb, ix, cutoff);
    }
  });
}

if (retentionMs > 0) {
  const create = kdb.create;
  kdb.create = function (options) {
    const store = create.call(this, options);
    let busy = false;
    setInterval(() => {
      if (busy) return;
      busy = true;
      trim(store)
        .catch((error) => {
          if (!/not open/i.test(String(error))) console.error(`kinesalite trim: ${error}`);
        })
        .finally(() => {
          busy = false;
        });
    }, everyMs).unref();
    return store;
  };
}

require("kinesalite/cli.js");
