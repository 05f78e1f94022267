// A Lambda function's execution role with every permission written out: CloudWatch Logs on the
// function's own log group, X-Ray in a policy of its own, and what the stack adds with allow(), each
// statement naming its resources. The function is given the role without policy updates, so CDK grants
// (table.grantReadWriteData(fn), an event source's own grants) add nothing that is not written here.
import * as iam from "aws-cdk-lib/aws-iam";
import type * as logs from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";

export interface ExecutionRoleProps {
  /** the function's log group: the only one it writes to */
  logGroup: logs.ILogGroup;
  description: string;
}

export class ExecutionRole extends iam.Role {
  /** the statements on this stack's resources (and the log group) */
  readonly permissions: iam.Policy;
  /** X-Ray's two actions, which support no resource-level permissions: kept apart so only they are acknowledged on `*` */
  readonly tracing: iam.Policy;

  constructor(scope: Construct, id: string, props: ExecutionRoleProps) {
    super(scope, id, { assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"), description: props.description });
    // Both policies are children of the role: the function, which depends on the role, is created after them,
    // and so is its event source mapping (Lambda checks the stream permissions when the mapping is created).
    this.permissions = new iam.Policy(this, "Permissions", { roles: [this] });
    this.tracing = new iam.Policy(this, "Tracing", {
      roles: [this],
      statements: [
        new iam.PolicyStatement({ sid: "Tracing", actions: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources: ["*"] }),
      ],
    });
    // Instead of AWSLambdaBasicExecutionRole (logs:CreateLogGroup/CreateLogStream/PutLogEvents on every log group):
    // the stack creates the log group, so the function only adds streams and events to its own.
    this.allow("Logs", ["logs:CreateLogStream", "logs:PutLogEvents"], [props.logGroup.logGroupArn]);
  }

  /** Allows these actions on these resources. A `*` among them fails cdk-nag: only X-Ray's is acknowledged. */
  allow(sid: string, actions: readonly string[], resources: readonly string[], conditions?: Record<string, unknown>): void {
    this.permissions.addStatements(new iam.PolicyStatement({ sid, actions: [...actions], resources: [...resources], conditions }));
  }

  /** The role as the function sees it: grants made to the function are dropped, not added. */
  forFunction(): iam.IRole {
    return this.withoutPolicyUpdates();
  }
}
