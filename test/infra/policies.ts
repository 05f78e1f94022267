// What a function's execution role allows, read from the synthesized template: every statement of every
// policy attached to the role the function runs with, its resources written as text (`<LogicalId>.Arn`,
// `<LogicalId>.Arn/index/due`, `arn:AWS::Partition:...`) so tests can compare them with the stack's constructs.
import type { Stack } from "aws-cdk-lib";
import type { Template } from "aws-cdk-lib/assertions";

interface Statement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
}

/** A CloudFormation value as text: Ref → id, GetAtt → id.attribute, Join → the parts joined. */
export function textOf(value: unknown): string {
  if (typeof value === "string") return value;
  if (value && typeof value === "object") {
    const { Ref, "Fn::GetAtt": getAtt, "Fn::Join": join } = value as Record<string, unknown>;
    if (typeof Ref === "string") return Ref;
    if (Array.isArray(getAtt)) return getAtt.join(".");
    if (Array.isArray(join)) {
      const [separator, parts] = join as [string, unknown[]];
      return parts.map(textOf).join(separator);
    }
  }
  return JSON.stringify(value);
}

/** A token of the stack (an ARN, a name) as it reads in the template. */
export const textOfToken = (stack: Stack, token: string) => textOf(stack.resolve(token));

const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

export interface RoleGrants {
  roleId: string;
  statements: Statement[];
  managedPolicies: unknown[];
}

/** Everything the role of this function (by the function's logical id) is given. */
export function grantsOfFunction(template: Template, functionId: string): RoleGrants {
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const role = resources[functionId]?.Properties?.Role;
  const roleId = textOf(role).replace(/\.Arn$/, "");
  const roleResource = resources[roleId];
  if (roleResource?.Type !== "AWS::IAM::Role") throw new Error(`${functionId} runs with ${textOf(role)}, not a role of this stack`);
  const attached = Object.values(resources).filter(
    (r) => r.Type === "AWS::IAM::Policy" && asArray(r.Properties?.Roles).some((ref) => textOf(ref) === roleId),
  );
  const documents = [
    ...attached.map((p) => p.Properties?.PolicyDocument),
    ...asArray(roleResource.Properties?.Policies as { PolicyDocument: unknown }[] | undefined).map((p) => p.PolicyDocument),
  ] as { Statement: Statement[] }[];
  return {
    roleId,
    statements: documents.flatMap((d) => d.Statement),
    managedPolicies: asArray(roleResource.Properties?.ManagedPolicyArns as unknown[] | undefined),
  };
}

/** Allowed actions per resource (as text), each list sorted. */
export function actionsByResource(grants: RoleGrants): Record<string, string[]> {
  const byResource: Record<string, Set<string>> = {};
  for (const statement of grants.statements) {
    if (statement.Effect !== "Allow") continue;
    for (const resource of asArray(statement.Resource).map(textOf)) {
      byResource[resource] ??= new Set();
      for (const action of asArray(statement.Action)) byResource[resource].add(action);
    }
  }
  return Object.fromEntries(Object.entries(byResource).map(([resource, actions]) => [resource, [...actions].sort()]));
}

/** Every allowed action, on any resource, sorted. */
export const allowedActions = (grants: RoleGrants) => [...new Set(Object.values(actionsByResource(grants)).flat())].sort();
