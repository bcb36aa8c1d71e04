import * as cdk from 'aws-cdk-lib';
import { CfnResource, Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

export interface NagSuppression {
  readonly id: string;
  readonly reason: string;
  readonly appliesTo?: (string | { regex: string })[];
}

/**
 * Explains cdk-nag findings on every CloudFormation resource under `scope`,
 * for both cdk-nag generations, without this library depending on cdk-nag at
 * run time:
 *
 * - cdk-nag 2 reads the `cdk_nag` metadata (with its `applies_to` patterns);
 * - cdk-nag 3 reads only aws-cdk-lib's `Validations.of(c).acknowledge()`
 *   records, one per finding (`AwsSolutions-IAM5[Resource::*]`), and knows no
 *   patterns: a regex is turned into the IAM wildcard findings it matches once
 *   the policies are final, see {@link acknowledgeIamFindings}.
 */
export function suppressNag(scope: IConstruct, suppressions: NagSuppression[]): void {
  const added = suppressions.map((s) => ({
    id: s.id,
    reason: s.reason,
    ...(s.appliesTo ? { applies_to: s.appliesTo } : {}),
  }));
  for (const child of scope.node.findAll()) writeNagMetadata(child, added);
  // Resources made under `scope` later, during synthesis, need the metadata too: a role whose
  // policy outgrows the inline limit gets OverflowPolicyN managed policies from an aspect of
  // aws-cdk-lib's. This aspect is added after that one on the same construct with the same
  // (mutating) priority, so it runs after the split and before cdk-nag 2's aspect.
  cdk.Aspects.of(scope).add({ visit: (c) => writeNagMetadata(c, added) }, { priority: cdk.AspectPriority.MUTATING });

  const acknowledge = acknowledgerOf(scope);
  if (!acknowledge) return;
  const computed: NagSuppression[] = [];
  for (const s of suppressions) {
    if (!s.appliesTo) acknowledge({ id: s.id, reason: s.reason });
    const literal = s.appliesTo?.filter((a): a is string => typeof a === 'string') ?? [];
    for (const finding of literal) acknowledge({ id: `${s.id}[${finding}]`, reason: s.reason });
    if (IAM_WILDCARD_RULE.test(s.id) && (!s.appliesTo || literal.length < s.appliesTo.length)) computed.push(s);
  }
  if (computed.length > 0) acknowledgeIamFindings(scope, computed);
}

/** Adds suppressions to a resource's `cdk_nag` metadata once, keeping what is there. */
function writeNagMetadata(construct: IConstruct, added: object[]): void {
  if (!CfnResource.isCfnResource(construct)) return;
  const existing = (construct.getMetadata('cdk_nag') as { rules_to_suppress?: object[] } | undefined)?.rules_to_suppress ?? [];
  const unique = [...new Map([...existing, ...added].map((r) => [JSON.stringify(r), r])).values()];
  if (unique.length === existing.length) return;
  construct.addMetadata('cdk_nag', { rules_to_suppress: unique });
}

/** The rule whose findings name each wildcard action or resource of a policy (cdk-nag's IAMNoWildcardPermissions). */
const IAM_WILDCARD_RULE = /-IAM5$/;

interface Acknowledgment { readonly id: string; readonly reason: string }
type Acknowledge = (rule: Acknowledgment) => void;

/**
 * `Validations.of(scope).acknowledge` where aws-cdk-lib has it. It is looked
 * up at run time: the minimum aws-cdk-lib this library supports (2.211) has
 * no `Validations`, and the library is compiled against that version's types.
 */
function acknowledgerOf(scope: IConstruct): Acknowledge | undefined {
  const validations = (cdk as unknown as { Validations?: { of(c: IConstruct): { acknowledge?: (...rules: Acknowledgment[]) => void } } }).Validations;
  const of = validations?.of(scope);
  return typeof of?.acknowledge === 'function' ? (rule) => of.acknowledge!(rule) : undefined;
}

/**
 * Acknowledges, on each IAM policy under `scope`, the wildcard findings that
 * cdk-nag 3 will report and that a suppression's `appliesTo` matches (every
 * finding if it has none). It runs as a construct validation: synthesis
 * validates the tree after aspects and after cross-stack references became
 * `Fn::ImportValue` (which changes the finding's text), and before it runs
 * validation plugins such as cdk-nag 3. Statements added after the
 * suppression was declared (each image adds its own to the provider's roles)
 * are covered too. It reports no error.
 */
function acknowledgeIamFindings(scope: IConstruct, suppressions: NagSuppression[]): void {
  const done = new Set<string>();
  scope.node.addValidation({
    validate: () => {
      for (const resource of scope.node.findAll()) {
        if (!CfnResource.isCfnResource(resource)) continue;
        const findings = iamWildcardFindings(resource);
        for (const s of suppressions) {
          for (const finding of findings) {
            const id = `${s.id}[${finding}]`;
            const key = `${resource.node.path} ${id}`;
            if (done.has(key)) continue;
            if (!s.appliesTo || s.appliesTo.some((a) => typeof a !== 'string' && patternOf(a.regex).test(finding))) {
              acknowledgerOf(resource)!({ id, reason: s.reason });
              done.add(key);
            }
          }
        }
      }
      return [];
    },
  });
}

/**
 * cdk-nag's `appliesTo` regexes are written as JavaScript literals
 * (`/^Resource::.*$/g`); a plain string is a pattern without flags.
 */
function patternOf(literal: string): RegExp {
  const m = /^\/(.*)\/([a-z]*)$/s.exec(literal);
  return m ? new RegExp(m[1], m[2].replace('g', '')) : new RegExp(literal);
}

/**
 * The findings cdk-nag reports for wildcards in the policies of `resource`:
 * `Action::<action>` and `Resource::<resource>` for each one that contains
 * `*` in an Allow statement, with CloudFormation references flattened the way
 * cdk-nag flattens them (`<Logical.Arn>`, `<AWS::Partition>`).
 */
export function iamWildcardFindings(resource: CfnResource): string[] {
  const stack = Stack.of(resource);
  const props = resource as unknown as { policyDocument?: unknown; policies?: unknown };
  let documents: unknown[];
  switch (resource.cfnResourceType) {
    case 'AWS::IAM::Policy':
    case 'AWS::IAM::ManagedPolicy':
      documents = [stack.resolve(props.policyDocument)];
      break;
    case 'AWS::IAM::Role':
    case 'AWS::IAM::User':
    case 'AWS::IAM::Group':
      documents = asArray(stack.resolve(props.policies)).map((p) => stack.resolve((p as { policyDocument?: unknown }).policyDocument));
      break;
    default:
      return [];
  }
  const findings = new Set<string>();
  for (const document of documents) {
    for (const statement of asArray((document as { Statement?: unknown } | undefined)?.Statement)) {
      const s = statement as { Effect?: string; Action?: unknown; Resource?: unknown };
      if (s.Effect !== 'Allow') continue;
      for (const action of asArray(s.Action)) {
        if (typeof action === 'string' && action.includes('*')) findings.add(`Action::${action}`);
      }
      for (const r of asArray(s.Resource).map(flattenReference)) {
        if (r.includes('*')) findings.add(`Resource::${r}`);
      }
    }
  }
  return [...findings];
}

function asArray(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/** A CloudFormation value as the flat string cdk-nag matches `appliesTo` against. */
function flattenReference(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\${/g, '<').replace(/}/g, '>');
  const o = node as Record<string, any>;
  if (o['Fn::Join']) {
    const [delimiter, items] = o['Fn::Join'] as [string, unknown[]];
    return items.map(flattenReference).join(delimiter);
  }
  if (o['Fn::Sub']) return flattenReference(o['Fn::Sub']);
  if (o['Fn::GetAtt']) {
    const [logicalId, attribute] = o['Fn::GetAtt'] as [unknown, unknown];
    return `<${flattenReference(logicalId)}.${flattenReference(attribute)}>`;
  }
  if (o['Fn::ImportValue']) return flattenReference(o['Fn::ImportValue']);
  if (o.Ref) return `<${flattenReference(o.Ref)}>`;
  return JSON.stringify(node);
}
