// The one policy for requests that succeed in part (BatchGetItem, BatchWriteItem, PutRecords,
// PutEvents): send again only what the service left unprocessed, after a capped exponential backoff
// with jitter, and give up — loudly — after a bounded number of attempts. (Throttled and failed
// requests as a whole are retried by the SDK's own retry strategy.)

export interface PartialRetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const PARTIAL_RETRY: PartialRetryPolicy = { attempts: 10, baseDelayMs: 25, maxDelayMs: 2000 };

export class UnprocessedItemsError extends Error {
  override name = "UnprocessedItemsError";
}

/**
 * Sends `items` with `send`, which returns the ones the service did not process; sends those again
 * until none are left. Throws UnprocessedItemsError naming `what` when attempts run out.
 */
export async function sendUntilProcessed<T>(
  items: readonly T[],
  send: (pending: T[]) => Promise<T[]>,
  what: string,
  policy: PartialRetryPolicy = PARTIAL_RETRY,
): Promise<void> {
  let pending = [...items];
  for (let attempt = 1; pending.length > 0; attempt++) {
    if (attempt > 1) {
      const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 2));
      await new Promise((resolve) => setTimeout(resolve, delay * (0.5 + Math.random() / 2)));
    }
    pending = await send(pending);
    if (pending.length > 0 && attempt >= policy.attempts)
      throw new UnprocessedItemsError(`${pending.length} ${what} still unprocessed after ${policy.attempts} attempts`);
  }
}

/** Splits items into chunks of at most `size`. */
export function chunksOf<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/**
 * Optimistic concurrency, the one loop: `attempt` reads, decides and writes under a condition; it
 * returns `{ done }` when settled, or "conflict" when someone else wrote first (then it runs again on
 * fresh reads). Undefined when `attempts` ran out — the caller decides whether that fails.
 */
export async function retryOnConflict<T>(
  attempts: number,
  attempt: () => Promise<{ done: T } | "conflict">,
): Promise<{ done: T } | undefined> {
  for (let i = 0; i < attempts; i++) {
    const outcome = await attempt();
    if (outcome !== "conflict") return outcome;
  }
  return undefined;
}
