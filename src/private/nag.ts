import { CfnResource } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

export interface NagSuppression {
  readonly id: string;
  readonly reason: string;
  readonly appliesTo?: (string | { regex: string })[];
}

/**
 * Records cdk-nag suppressions in the `cdk_nag` metadata that cdk-nag reads,
 * so users who run cdk-nag see our reasons without this library depending on
 * cdk-nag at run time. Applies to every CloudFormation resource under `scope`.
 */
export function suppressNag(scope: IConstruct, suppressions: NagSuppression[]): void {
  for (const child of scope.node.findAll()) {
    if (!CfnResource.isCfnResource(child)) continue;
    const existing = (child.getMetadata('cdk_nag') as { rules_to_suppress?: object[] } | undefined)?.rules_to_suppress ?? [];
    const added = suppressions.map((s) => ({
      id: s.id,
      reason: s.reason,
      ...(s.appliesTo ? { applies_to: s.appliesTo } : {}),
    }));
    const unique = [...new Map([...existing, ...added].map((r) => [JSON.stringify(r), r])).values()];
    child.addMetadata('cdk_nag', { rules_to_suppress: unique });
  }
}
