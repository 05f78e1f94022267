// Fault injection in the real code path: a DynamoDB client middleware that lets k writes through and
// then fails every call, as if the function had crashed (or lost its network) after k writes.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";

const WRITES = new Set(["PutItemCommand", "UpdateItemCommand", "BatchWriteItemCommand", "DeleteItemCommand"]);

export class InjectedCrashError extends Error {
  override name = "InjectedCrashError";
}

export interface CrashSwitch {
  /** crash after this many more writes; undefined disarms */
  arm(writes: number): void;
  disarm(): void;
  crashed(): boolean;
}

export function installCrashSwitch(client: DynamoDBClient): CrashSwitch {
  let left: number | undefined;
  let crashed = false;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (left !== undefined) {
        if (crashed) throw new InjectedCrashError("injected crash: the function is gone");
        if (WRITES.has(context.commandName ?? "")) {
          if (left === 0) {
            crashed = true;
            throw new InjectedCrashError("injected crash during a write");
          }
          left--;
        }
      }
      return next(args);
    },
    { step: "initialize", name: "panesCrashSwitch" },
  );
  return {
    arm(writes) {
      left = writes;
      crashed = false;
    },
    disarm() {
      left = undefined;
      crashed = false;
    },
    crashed: () => crashed,
  };
}
