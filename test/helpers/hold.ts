// A DynamoDB client that stops before its nth request until released: a closing run held at a chosen
// point while other runs and ingest go on, to try every interleaving of two runs deterministically.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createDynamoDbClient } from "../../shared/aws/clients.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../tools/local/stack.ts";

export interface HeldClient {
  client: DynamoDBClient;
  /** resolves when the nth request is reached (and waits) */
  reached: Promise<void>;
  /** lets the nth request (and every later one) go */
  release(): void;
  /** requests sent so far (the held one included) */
  requests(): number;
}

/** A client of the emulator at `endpoint` that holds its nth request (1-based); Infinity holds none and only counts. */
export function heldClient(endpoint: string, n: number): HeldClient {
  const client = createDynamoDbClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint });
  let count = 0;
  let reach: () => void = () => undefined;
  let release: () => void = () => undefined;
  const reached = new Promise<void>((resolve) => {
    reach = resolve;
  });
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  client.middlewareStack.add(
    (next) => async (args) => {
      count++;
      if (count === n) {
        reach();
        await released;
      }
      return next(args);
    },
    { step: "initialize", name: "holdNthRequest" },
  );
  return { client, reached, release, requests: () => count };
}
