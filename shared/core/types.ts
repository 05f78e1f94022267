// The types every part of Panes shares: a record of a shard, a dead letter, a window's result, and
// where results go. Here, in the core, so that adapters, orchestration and tools all point inwards.
import type { AggregateValue } from "./aggregates/state.ts";

/** One record of a Kinesis shard (a KPL-aggregated record yields one per user record). */
export interface StreamRecord {
  shardId: string;
  sequenceNumber: string;
  /** position inside a KPL-aggregated record */
  subSequenceNumber?: number;
  partitionKey: string;
  data: Uint8Array;
  /** approximate arrival, epoch ms */
  arrivedAt: number;
}

export type DeadLetterKind = "invalid" | "late";

/** A record a pipeline could not take, with the reason: the record itself, and what happened to it. */
export interface DeadLetter extends StreamRecord {
  kind: DeadLetterKind;
  /** the pipeline that refused it, or "*" when no pipeline could read it (not JSON) */
  pipeline: string;
  reason: string;
  recordedAt: number;
  /** pipelines that applied this same record (redriving it would count it there again) */
  acceptedBy?: string[];
  /** the record's size in bytes; `data` holds at most the first bytes of a very large record */
  size?: number;
  /** late letters of fixed windows: the windows that refused the event (the others, if any, took it) */
  windows?: { start: number; end: number }[];
  /**
   * "state": not a record but accepted events a pane could not store (written by the closing logic; its
   * data describes them). Absent for the records' own letters.
   */
  origin?: "state";
}

/** One version of a window's result, as the ledger holds it and the outputs publish it. */
export interface WindowResult {
  pipeline: string;
  key: string;
  start: number;
  end: number;
  values: Record<string, AggregateValue>;
  /** number of events in the window; a new version is written only when it changes */
  count: number;
  version: number;
  /** wall-clock ms when this version was written */
  firedAt: number;
  /**
   * The end is part of the window's identity: cumulating windows (windows of one period share their
   * start) and sessions (a session that grows or merges is a new result that supersedes the old ones)
   */
  endInKey?: boolean;
  /** false for an early result of a window still open; the final result follows with a higher version */
  final: boolean;
  /** sessions: results of this key whose events this one now holds (it grew, or merged them) */
  supersedes?: { start: number; end: number }[];
  /** set on a session's result once a later result holds all its events */
  supersededBy?: { start: number; end: number };
  /**
   * HAVING (Flink's retraction): the window's row given by an earlier version no longer holds — a late
   * event re-fired the window, or its final result followed an early one, and its row does not pass the
   * condition. The window has no row until a later version gives one; `values` are its current row.
   */
  retracted?: true;
}

/** How the ledger names a window. */
export type WindowIdentity = Pick<WindowResult, "pipeline" | "key" | "start" | "end" | "endInKey">;

/** Where results go after the ledger (an output stream, an event bus): at least once. */
export interface ResultSink {
  publish(results: readonly WindowResult[]): Promise<void>;
}
