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
  // Sparse: only live session sets carry gpk/dk. The closing logic queries due ≤ watermark, never scans.
  // Sort keys are unique per item (keys.ts uniqueTimeKey: the due time, then the item's key).
  indexes: [{ name: "due", partitionKey: "gpk", sortKey: "dk", sortKeyType: "S", projection: "KEYS_ONLY" }],
};

export const RESULTS_TABLE: TableDefinition = {
  id: "Results",
  partitionKey: "pk",
  sortKey: "sk",
  ttlAttribute: "ttl",
  // Results are read by pipeline and key group (one partition each, sorted by window end): no index.
  indexes: [],
};

export const DEAD_LETTER_TABLE: TableDefinition = {
  id: "DeadLetters",
  partitionKey: "pk",
  sortKey: "sk",
  ttlAttribute: "ttl",
  indexes: [],
};

export const TABLES = [STATE_TABLE, RESULTS_TABLE, DEAD_LETTER_TABLE] as const;
