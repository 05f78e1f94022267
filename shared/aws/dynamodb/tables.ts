// The tables Panes needs, described once. The CDK stack and the local stack both build from these
// definitions, so the cloud and the emulator cannot drift apart.

export interface TableDefinition {
  /** logical id, used for the CDK construct and the local table name suffix */
  id: "State" | "Results" | "DeadLetters";
  partitionKey: string;
  sortKey: string;
  ttlAttribute: string;
  indexes: { name: string; partitionKey: string; sortKey: string; sortKeyType: "S" | "N"; projection: "KEYS_ONLY" | "ALL" }[];
}

export const STATE_TABLE: TableDefinition = {
  id: "State",
  partitionKey: "pk",
  sortKey: "sk",
  ttlAttribute: "ttl",
  // Sparse: only live state carries gpk/dk. The closing logic queries due ≤ watermark, never scans.
  // Sort keys are unique per item (keys.ts uniqueTimeKey: the due time, then the item's key).
  indexes: [{ name: "due", partitionKey: "gpk", sortKey: "dk", sortKeyType: "S", projection: "KEYS_ONLY" }],
};

export const RESULTS_TABLE: TableDefinition = {
  id: "Results",
  partitionKey: "pk",
  sortKey: "sk",
  ttlAttribute: "ttl",
  indexes: [
    // results of a pipeline by window end, spread over INDEX_PARTITIONS partitions (ek: the end, then the item's key)
    { name: "byEnd", partitionKey: "gpk", sortKey: "ek", sortKeyType: "S", projection: "ALL" },
    // sparse outbox: results written to the ledger but not yet published downstream (ob: the item's key)
    { name: "outbox", partitionKey: "outbox", sortKey: "ob", sortKeyType: "S", projection: "KEYS_ONLY" },
  ],
};

export const DEAD_LETTER_TABLE: TableDefinition = {
  id: "DeadLetters",
  partitionKey: "pk",
  sortKey: "sk",
  ttlAttribute: "ttl",
  indexes: [],
};

export const TABLES = [STATE_TABLE, RESULTS_TABLE, DEAD_LETTER_TABLE] as const;
