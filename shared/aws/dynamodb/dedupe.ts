// Producer retries write the same event twice, under two sequence numbers: fences cannot see that.
// Pipelines with `dedupe` claim each event id (conditional put with TTL); a claim held by another
// record within `within` makes this one a duplicate, while a redelivery of the claiming record itself
// goes on to its (fenced) pane write.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import pLimit from "p-limit";
import { N, S } from "./attributes.ts";
import { putItem } from "./requests.ts";

export interface EventClaim {
  id: string;
  sequenceNumber: bigint;
}

/** Returns the sequence numbers whose event id another record already claimed within `within` ms. */
export interface ClaimScope {
  pipeline: string;
  shardId: string;
  /** a claim holds this long (ms); an older one may be taken over */
  within: number;
  now: number;
  /** claims in flight at once */
  concurrency: number;
}

export async function claimEventIds(
  client: DynamoDBClient,
  tableName: string,
  claims: readonly EventClaim[],
  { pipeline, shardId, within, now, concurrency }: ClaimScope,
): Promise<Set<bigint>> {
  const duplicates = new Set<bigint>();
  const limit = pLimit(concurrency);
  // In sequence order per id, so the first record of a batch claims and the later ones are duplicates.
  const byId = new Map<string, EventClaim[]>();
  for (const claim of claims) byId.set(claim.id, [...(byId.get(claim.id) ?? []), claim]);
  await Promise.all(
    [...byId.values()].map((sameId) =>
      limit(async () => {
        for (const claim of sameId) {
          const claimed = await putItem(
            client,
            tableName,
            {
              pk: S(`D#${pipeline}#${claim.id}`),
              sk: S("claim"),
              claimShard: S(shardId),
              claimSeq: S(claim.sequenceNumber.toString()),
              claimedAt: N(now),
              ttl: N(Math.ceil((now + within) / 1000)),
            },
            {
              condition: "attribute_not_exists(pk) OR claimedAt < :expired OR (claimShard = :shard AND claimSeq = :seq)",
              values: { ":expired": N(now - within), ":shard": S(shardId), ":seq": S(claim.sequenceNumber.toString()) },
            },
          );
          if (!claimed) duplicates.add(claim.sequenceNumber);
        }
      }),
    ),
  );
  return duplicates;
}
