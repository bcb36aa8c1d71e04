/**
 * The role a CrossAccountCopyRole creates in the copying account, evaluated as
 * AWS would (simulator.ts): every call the source stack's provider makes there
 * for a copy (the calls its handler modules declare for a copy's create,
 * update, delete and wait, and for its parameter) on that stack's copies and
 * the named parameters must be allowed; the same calls on anything else must
 * not. The provider's side (sts:AssumeRole
 * against this role's trust policy) is in provider-permissions.test.ts.
 */
import { App, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { decide, NEW_IMAGE, NEW_SNAPSHOT, Request, resolve, roleId, SynthesizedStack, synthesized, URL_SUFFIX } from './simulator';
import { Ami, CopiedAmi, CrossAccountCopyRole } from '../../src';
import { DECLARED_CALLS } from '../lambda/declared-calls';

const SOURCE_ACCOUNT = '123456789012';
const TARGET_ACCOUNT = '444455556666';
const OTHER_ACCOUNT = '999999999999';
const SOURCE_STACK = `arn:aws:cloudformation:us-east-1:${SOURCE_ACCOUNT}:stack/Golden/0c5e2a40-0000-4000-8000-000000000000`;
const OTHER_STACK = `arn:aws:cloudformation:us-east-1:${SOURCE_ACCOUNT}:stack/Other/0c5e2a40-0000-4000-8000-000000000001`;
const REGION = 'eu-west-1';
const SOURCE_IMAGE = 'ami-0123456789abcdef0';
const TARGET_KEY = `arn:aws:kms:${REGION}:${TARGET_ACCOUNT}:key/66666666-7777-8888-9999-000000000000`;
const SOURCE_KEY = `arn:aws:kms:us-east-1:${SOURCE_ACCOUNT}:key/11111111-2222-3333-4444-555555555555`;
/** The parameter the role may write (parameterNames), and one it may not. */
const PARAMETER_NAME = '/images/golden';
const OTHER_PARAMETER_NAME = '/images/someone-elses';

function targetStack(props: { sourceStackName?: string } = { sourceStackName: 'Golden' }): { s: SynthesizedStack; role: string } {
  const stack = new Stack(new App(), 'Target', { env: { account: TARGET_ACCOUNT, region: REGION } });
  new CrossAccountCopyRole(stack, 'CopyRole', {
    sourceAccount: SOURCE_ACCOUNT,
    ...props,
    encryptionKeys: [kms.Key.fromKeyArn(stack, 'TargetKey', TARGET_KEY)],
    sourceEncryptionKeys: [kms.Key.fromKeyArn(stack, 'SourceKey', SOURCE_KEY)],
    parameterNames: [PARAMETER_NAME],
  });
  const s = synthesized(stack);
  return { s, role: roleId(s, 'CopyRole') };
}

/** The modules whose calls the provider makes in the copying account, and the calls of theirs it makes there. */
const CALLS_IN_TARGET: Record<string, string[] | 'all'> = {
  'copy.ts': 'all',
  'shared/images.ts': 'all',
  'shared/references.ts': 'all',
  'waiter/governance.ts': 'all',
  // A copy's fastLaunch: enabled, changed and disabled by the waiter, disabled before a delete deregisters.
  'waiter/fast-launch.ts': 'all',
  'waiter/waiter.ts': ['ec2:DescribeSnapshots'],
  'ssm-parameters.ts': 'all',
};

function declared(module: string): string[] {
  const wanted = CALLS_IN_TARGET[module];
  const calls = [...DECLARED_CALLS[module]];
  return wanted === 'all' ? calls : calls.filter((c) => wanted.includes(c));
}

const image = (id = NEW_IMAGE, region = REGION) => ({ resource: `arn:aws:ec2:${region}::image/${id}`, resourceType: 'image' });
const snapshot = { resource: `arn:aws:ec2:${REGION}::snapshot/${NEW_SNAPSHOT}`, resourceType: 'snapshot' };
const inRegion = { 'ec2:Region': REGION };
/** A parameter of the target account (`account`), in `region` (the role may write its names in any Region). */
const parameter = (name = PARAMETER_NAME, region = 'ap-southeast-2', account = TARGET_ACCOUNT) => ({
  resource: `arn:aws:ssm:${region}:${account}:parameter/${name.replace(/^\//, '')}`, resourceType: 'parameter', resourceAccount: account,
});
const tagged = (stackId: string) => ({ 'aws:ResourceTag/cdk-ami:stack': stackId, ...inRegion });
function requestTags(stackId: string): Record<string, string | string[]> {
  return { ...parameterRequestTags(stackId), ...inRegion };
}
/** The tags a new resource is created with (SSM sends no ec2:Region). */
function parameterRequestTags(stackId: string): Record<string, string | string[]> {
  return { 'aws:RequestTag/cdk-ami:stack': stackId, 'aws:RequestTag/cdk-ami:owner': 'h', 'aws:TagKeys': ['cdk-ami:stack', 'cdk-ami:owner'] };
}

/** The request the provider sends for `action` on the source stack's copy in the target account. */
function onOwnCopy(action: string, stackId = SOURCE_STACK): Request[] {
  switch (action) {
    case 'ec2:CopyImage':
      return [
        { action, ...image(SOURCE_IMAGE, 'us-east-1'), context: { ...requestTags(stackId), 'ec2:ImageID': SOURCE_IMAGE, 'ec2:Owner': SOURCE_ACCOUNT } },
        { action, ...image(), context: requestTags(stackId) },
        { action, ...snapshot, context: requestTags(stackId) },
        { action: 'ec2:CreateTags', ...image(), context: { ...requestTags(stackId), 'ec2:CreateAction': 'CopyImage' } },
        { action: 'ec2:CreateTags', ...snapshot, context: { ...requestTags(stackId), 'ec2:CreateAction': 'CopyImage' } },
      ];
    case 'ec2:DescribeImages':
    case 'ec2:DescribeSnapshots':
    case 'ec2:DescribeImageReferences':
    case 'ec2:GetImageBlockPublicAccessState':
    case 'ec2:DescribeFastLaunchImages':
      return [{ action, resource: '*', context: inRegion }];
    case 'ec2:CreateTags':
    case 'ec2:DeleteTags':
      return [image(), snapshot].map((r) => ({ action, ...r, context: { ...tagged(stackId), 'aws:RequestTag/team': 'infra', 'aws:TagKeys': ['team'] } }));
    case 'ec2:DeleteSnapshot':
    case 'ec2:ModifySnapshotAttribute':
      return [{ action, ...snapshot, context: tagged(stackId) }];
    case 'ssm:PutParameter':
      return [
        { action, ...parameter(), context: { ...parameterRequestTags(stackId), 'ssm:Overwrite': 'false' } },
        // PutParameter with Tags is also authorized as AddTagsToResource.
        { action: 'ssm:AddTagsToResource', ...parameter(), context: parameterRequestTags(stackId) },
        { action, ...parameter(), context: { 'ssm:Overwrite': 'true' } },
      ];
    case 'ssm:GetParameter':
    case 'ssm:ListTagsForResource':
      return [{ action, ...parameter() }];
    case 'ssm:DeleteParameter':
      return [{ action, ...parameter(), context: { 'aws:ResourceTag/cdk-ami:stack': stackId } }];
    default:
      return [{ action, ...image(), context: tagged(stackId) }];
  }
}

describe('CrossAccountCopyRole', () => {
  const { s, role } = targetStack();
  const allowed = Object.keys(CALLS_IN_TARGET)
    .flatMap((module) => declared(module).flatMap((action) => onOwnCopy(action).map((r) => [module, r] as const)));

  test.each(allowed.map(([module, r]) => [`${r.action} (${module}) on ${r.resource}`, r] as const))('the role may: %s', async (_name, r) => {
    expect(await decide(s, role, r)).toBe('Allowed');
  });

  const ownActions = allowed.map(([, r]) => r).filter((r) => r.context?.['aws:ResourceTag/cdk-ami:stack'] || r.action === 'ssm:AddTagsToResource');
  test.each(ownActions.map((r) => [`${r.action} on ${r.resourceType} of another stack`, r] as const))('the role may not: %s', async (_name, r) => {
    const otherStack = r.action === 'ssm:AddTagsToResource' ? parameterRequestTags(OTHER_STACK) : { ...r.context, 'aws:ResourceTag/cdk-ami:stack': OTHER_STACK };
    expect(await decide(s, role, { ...r, context: otherStack })).not.toBe('Allowed');
  });

  const denied: [string, Request][] = [
    ['CopyImage of an image another account owns', { action: 'ec2:CopyImage', ...image(SOURCE_IMAGE, 'us-east-1'), context: { ...requestTags(SOURCE_STACK), 'ec2:ImageID': SOURCE_IMAGE, 'ec2:Owner': OTHER_ACCOUNT } }],
    ['CopyImage making an image tagged as another stack\'s', { action: 'ec2:CopyImage', ...image(), context: requestTags(OTHER_STACK) }],
    ['CopyImage making an untagged image', { action: 'ec2:CopyImage', ...image(), context: inRegion }],
    ['CreateTags on an existing image outside a CopyImage', { action: 'ec2:CreateTags', ...image(), context: { ...requestTags(SOURCE_STACK) } }],
    ['DeleteTags of the cdk-ami:stack tag', { action: 'ec2:DeleteTags', ...image(), context: { ...tagged(SOURCE_STACK), 'aws:TagKeys': ['cdk-ami:stack'] } }],
    ['DeleteTags without Tags (every tag)', { action: 'ec2:DeleteTags', ...image(), context: tagged(SOURCE_STACK) }],
    ['DeregisterImage of an untagged image', { action: 'ec2:DeregisterImage', ...image(), context: inRegion }],
    ['EnableFastLaunch of an untagged image', { action: 'ec2:EnableFastLaunch', ...image(), context: inRegion }],
    ['EnableFastLaunch naming a launch template (a copy made with the role names none)', {
      action: 'ec2:EnableFastLaunch', resource: `arn:aws:ec2:${REGION}:${TARGET_ACCOUNT}:launch-template/lt-0123456789abcdef0`, resourceType: 'launch-template', context: inRegion,
    }],
    ...['ssm:PutParameter', 'ssm:GetParameter', 'ssm:ListTagsForResource'].flatMap((action): [string, Request][] => {
      const context: Record<string, string> = action === 'ssm:PutParameter' ? { 'ssm:Overwrite': 'true' } : {};
      return [
        [`${action} of a parameter parameterNames does not name`, { action, ...parameter(OTHER_PARAMETER_NAME), context }],
        // Shared with the target account (RAM gives a parameter such a policy): only the role's own policy stands in the way.
        [`${action} of the named parameter in another account that shares it`, {
          action, ...parameter(PARAMETER_NAME, REGION, OTHER_ACCOUNT), context, resourcePolicy: sharedWith(TARGET_ACCOUNT),
        }],
      ];
    }),
    ['DeleteParameter of the named parameter without the source stack\'s tag (made by someone else)', { action: 'ssm:DeleteParameter', ...parameter() }],
    ['DeleteParameter of a parameter parameterNames does not name, tagged as the source stack\'s', {
      action: 'ssm:DeleteParameter', ...parameter(OTHER_PARAMETER_NAME), context: { 'aws:ResourceTag/cdk-ami:stack': SOURCE_STACK },
    }],
    ['AddTagsToResource on the named parameter without the source stack\'s tag in the request (retagging it)', {
      action: 'ssm:AddTagsToResource', ...parameter(), context: { 'aws:RequestTag/team': 'x', 'aws:TagKeys': ['team'] },
    }],
    ['kms:Decrypt of the copy key directly, not through EC2', { action: 'kms:Decrypt', resource: TARGET_KEY, resourceType: 'key', context: { 'kms:CallerAccount': TARGET_ACCOUNT } }],
    ['kms:GenerateDataKeyWithoutPlaintext with the source key (read only)', {
      action: 'kms:GenerateDataKeyWithoutPlaintext',
      resource: SOURCE_KEY,
      resourceType: 'key',
      resourceAccount: SOURCE_ACCOUNT,
      resourcePolicy: sourceKeyPolicy(),
      context: { 'kms:ViaService': `ec2.us-east-1.${URL_SUFFIX}`, 'kms:CallerAccount': TARGET_ACCOUNT },
    }],
  ];
  test.each(denied)('the role may not: %s', async (_name, r) => {
    expect(await decide(s, role, r)).not.toBe('Allowed');
  });

  test.each([
    ['write', TARGET_KEY, TARGET_ACCOUNT, undefined, ['kms:Decrypt', 'kms:DescribeKey', 'kms:ReEncryptFrom', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptTo']],
    ['read', SOURCE_KEY, SOURCE_ACCOUNT, sourceKeyPolicy(), ['kms:Decrypt', 'kms:DescribeKey', 'kms:ReEncryptFrom']],
  ] as const)('the role may use the %s key through EC2 only', async (_use, key, keyAccount, policy, actions) => {
    const via = { 'kms:ViaService': `ec2.${REGION}.${URL_SUFFIX}`, 'kms:CallerAccount': TARGET_ACCOUNT };
    const base = { resource: key, resourceType: 'key', resourceAccount: keyAccount, resourcePolicy: policy ?? defaultKeyPolicy(TARGET_ACCOUNT) };
    for (const action of actions) expect(await decide(s, role, { ...base, action, context: via })).toBe('Allowed');
    expect(await decide(s, role, { ...base, action: 'kms:CreateGrant', context: { ...via, 'kms:GrantIsForAWSResource': 'true' } })).toBe('Allowed');
    expect(await decide(s, role, { ...base, action: 'kms:CreateGrant', context: { ...via, 'kms:GrantIsForAWSResource': 'false' } })).not.toBe('Allowed');
  });

  test('only the provider roles of the named source stack may assume it', async () => {
    const trust = s.resources[role].Properties.AssumeRolePolicyDocument;
    const source = new Stack(new App(), 'Golden', { env: { account: SOURCE_ACCOUNT, region: 'us-east-1' } });
    const path = new iam.Role(source, 'Provider', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), path: '/cdk-ami/Golden/' });
    const plain = new iam.Role(source, 'Plain', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const other = new iam.Role(source, 'OtherStack', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), path: '/cdk-ami/Other/' });
    const roleArn = `arn:aws:iam::${TARGET_ACCOUNT}:role/cdk-ami-copies`;
    for (const r of [path, plain, other]) r.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: [roleArn] }));
    const src = synthesized(source);
    const assume = { action: 'sts:AssumeRole', resource: roleArn, resourceType: 'role', resourceAccount: TARGET_ACCOUNT, resourcePolicy: resolve(s, trust) };
    expect(await decide(src, roleId(src, 'Provider'), assume)).toBe('Allowed');
    expect(await decide(src, roleId(src, 'Plain'), assume)).not.toBe('Allowed');
    expect(await decide(src, roleId(src, 'OtherStack'), assume)).not.toBe('Allowed');
  });
});

/** A resource policy that lets every principal of `account` call SSM on the resource. */
function sharedWith(account: string) {
  return { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'ssm:*', Resource: '*' }] };
}

function defaultKeyPolicy(account: string) {
  return { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'kms:*', Resource: '*' }] };
}

/** The policy of a source key of the source stack, with the statements a copy by the target account adds to it. */
function sourceKeyPolicy() {
  const stack = new Stack(new App(), 'Golden', { env: { account: SOURCE_ACCOUNT, region: 'us-east-1' } });
  const encrypted = new CopiedAmi(stack, 'Encrypted', { source: Ami.fromImageId(stack, 'Source', SOURCE_IMAGE), encrypted: true, encryptionKey: new kms.Key(stack, 'Key') });
  encrypted.copyTo('CrossAccount', REGION, { account: TARGET_ACCOUNT, copyRole: iam.Role.fromRoleArn(stack, 'CopyRole', `arn:aws:iam::${TARGET_ACCOUNT}:role/cdk-ami-copies`, { mutable: false }) });
  const s = synthesized(stack);
  const key = Object.values(s.resources).find((r: any) => r.Type === 'AWS::KMS::Key') as any;
  return resolve(s, key.Properties.KeyPolicy);
}
