/**
 * The key policy statements cdk-ami adds for the grantees of a shared,
 * encrypted image, evaluated as AWS would: principals of the granted
 * account, organization or OU may have EBS use the key through EC2 in the
 * image's Region; nobody else, and not otherwise.
 */
import { App, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { ACCOUNT, Decision, decideFor, OTHER_ACCOUNT, REGION, resolve, synthesized, URL_SUFFIX } from './simulator';
import { Ami, CopiedAmi, LaunchPermission } from '../../src';
import { GRANTEE_KEY_ACTIONS } from '../../src/private/key-sharing';

const GRANTEE = '111122223333';
const ORG_ID = 'o-exampleorg1';
const OU_ID = 'ou-ab12-cdef3456';

function sharedImageKey() {
  const stack = new Stack(new App(), 'Keys', { env: { account: ACCOUNT, region: REGION } });
  const key = new kms.Key(stack, 'Key');
  new CopiedAmi(stack, 'Copy', {
    source: Ami.fromImageId(stack, 'Source', 'ami-0123456789abcdef0'),
    encrypted: true,
    encryptionKey: key,
    launchPermissions: [
      LaunchPermission.account(GRANTEE),
      LaunchPermission.organizationalUnit(`arn:aws:organizations::${ACCOUNT}:ou/${ORG_ID}/${OU_ID}`),
    ],
  });
  const s = synthesized(stack);
  const [, keyResource] = Object.entries(s.resources).find(([, r]) => r.Type === 'AWS::KMS::Key')!;
  return { arn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`, policy: resolve(s, keyResource.Properties.KeyPolicy) };
}

const key = sharedImageKey();
const via = (service = 'ec2', region = REGION) => ({ 'kms:ViaService': `${service}.${region}.${URL_SUFFIX}` });
const inOu = { 'aws:PrincipalOrgID': ORG_ID, 'aws:PrincipalOrgPaths': [`${ORG_ID}/r-ab12/${OU_ID}/ou-ab12-77777777/`] };

async function decision(account: string, action: string, context: Record<string, string | string[]>): Promise<Decision> {
  return decideFor(`arn:aws:iam::${account}:role/launcher`, ['kms:*'], {
    action, resource: key.arn, resourceType: 'key', resourceAccount: ACCOUNT, resourcePolicy: key.policy, context,
  });
}

describe('grantees of a shared encrypted image', () => {
  test.each(GRANTEE_KEY_ACTIONS)('the granted account may %s through EC2 in the image\'s Region', async (action) => {
    expect(await decision(GRANTEE, action, via())).toBe('Allowed');
  });

  test('the granted account may create grants for EBS through EC2', async () => {
    expect(await decision(GRANTEE, 'kms:CreateGrant', { ...via(), 'kms:GrantIsForAWSResource': 'true' })).toBe('Allowed');
  });

  test('an account of a sub-OU of the granted OU may use the key and create grants through EC2', async () => {
    expect(await decision('444455556666', 'kms:Decrypt', { ...via(), ...inOu })).toBe('Allowed');
    expect(await decision('444455556666', 'kms:CreateGrant', { ...via(), ...inOu, 'kms:GrantIsForAWSResource': 'true' })).toBe('Allowed');
  });

  test.each([
    ['another account', OTHER_ACCOUNT, 'kms:Decrypt', via()],
    ['the granted account, not through EC2', GRANTEE, 'kms:Decrypt', {}],
    ['the granted account, through EC2 in another Region', GRANTEE, 'kms:Decrypt', via('ec2', 'eu-west-1')],
    ['the granted account, through another service', GRANTEE, 'kms:Decrypt', via('s3')],
    ['the granted account, a grant not for an AWS resource', GRANTEE, 'kms:CreateGrant', { ...via(), 'kms:GrantIsForAWSResource': 'false' }],
    ['the granted account, an action EBS does not need', GRANTEE, 'kms:ScheduleKeyDeletion', {}],
    ['an account of the organization outside the OU', '444455556666', 'kms:Decrypt', { ...via(), 'aws:PrincipalOrgID': ORG_ID, 'aws:PrincipalOrgPaths': [`${ORG_ID}/r-ab12/ou-ab12-99999999/`] }],
    ['an account of another organization with an OU of the same path', '444455556666', 'kms:Decrypt', { ...via(), ...inOu, 'aws:PrincipalOrgID': 'o-otherorg123' }],
  ])('%s may not', async (_who, account, action, context) => {
    expect(await decision(account, action, context)).not.toBe('Allowed');
  });
});
