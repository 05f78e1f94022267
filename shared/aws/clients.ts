// AWS SDK clients, created the same way for Lambda, the CLI, the local stack and tests. Kinesis speaks
// HTTP/1.1 (the emulators cannot do HTTP/2, and Panes does not use SubscribeToShard). The endpoint is
// the SDK's own AWS_ENDPOINT_URL handling unless one is given (LocalStack-compatible).
import { Agent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { KinesisClient } from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";

export interface ClientOptions {
  endpoint?: string;
  region?: string;
  /** a named profile of the shared AWS config files */
  profile?: string;
  /** static credentials for emulators; otherwise the default provider chain */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  maxSockets?: number;
  /**
   * Resolve each command's middleware stack once, not per request (the SDK's `cacheMiddleware`): about
   * a sixth of a request's CPU. Only for clients nobody adds middleware to after their first request —
   * the functions' own; tests and tools that observe requests leave it off.
   */
  cacheMiddleware?: boolean;
}

function requestHandler(maxSockets: number): NodeHttpHandler {
  return new NodeHttpHandler({
    httpAgent: new Agent({ keepAlive: true, maxSockets }),
    httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
  });
}

export function createDynamoDbClient(options: ClientOptions = {}): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: options.endpoint,
    region: options.region,
    profile: options.profile,
    credentials: options.credentials,
    cacheMiddleware: options.cacheMiddleware,
    maxAttempts: 8,
    requestHandler: requestHandler(options.maxSockets ?? 64),
  });
}

export function createKinesisClient(options: ClientOptions = {}): KinesisClient {
  return new KinesisClient({
    endpoint: options.endpoint,
    region: options.region,
    profile: options.profile,
    credentials: options.credentials,
    cacheMiddleware: options.cacheMiddleware,
    maxAttempts: 8,
    requestHandler: requestHandler(options.maxSockets ?? 32),
  });
}
