import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { Ami, AmiFromInstance, AmiFromSnapshot, CopiedAmi, CrossAccountCopyRole, IImage, StoredAmi } from '../src';
import { nagFindings, newStack, resourcesOfType, snapshotDevices, statementsOf } from './util';

const SOURCE = 'ami-0123456789abcdef0';
const INSTANCE = 'i-0123456789abcdef0';
const TARGET = '444455556666';
const ROLE_ARN = `arn:aws:iam::${TARGET}:role/cdk-ami-copies`;

type Props = Partial<ConstructorParameters<typeof CopiedAmi>[2]>;
/** A copy by another account of an image of the stack (the only sources whose snapshots the provider may share). */
function crossAccount(props: Props = {}, stack = newStack()) {
  const copy = new CopiedAmi(stack, 'Copy', {
    source: new AmiFromInstance(stack, 'Source', { instanceId: INSTANCE }),
    region: 'eu-west-1',
    account: TARGET,
    copyRole: iam.Role.fromRoleArn(stack, 'CopyRole', ROLE_ARN, { mutable: false }),
    ...props,
  });
  return { stack, copy };
}

describe('CopiedAmi owned by another account', () => {
  test('the operation names the account and role; every waiter link follows the copy as that role', () => {
    const { stack, copy } = crossAccount({ timeout: Duration.hours(2) });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('Custom::CopiedAmi', { Region: 'eu-west-1', Account: TARGET, RoleArn: ROLE_ARN, SourceImageId: stack.resolve(copy.source.imageId) });
    // The copy's links (the source has its own).
    const waiters = resourcesOfType(template, 'Custom::AmiWaiter').filter(([id]) => id.startsWith('Copy'));
    expect(waiters.length).toBeGreaterThan(1);
    for (const [, w] of waiters) expect(w.Properties).toMatchObject({ Region: 'eu-west-1', RoleArn: ROLE_ARN });
    expect(copy.account).toBe(TARGET);
    // Its ID is the last link's, like any image's.
    expect(stack.resolve(copy.imageId)).toEqual({ 'Fn::GetAtt': [waiters[waiters.length - 1][0], 'ImageId'] });
  });

  test('both provider functions may assume exactly that role, and carry the path its trust policy names', () => {
    const { stack } = crossAccount();
    for (const role of ['CdkAmiProviderOperationRole', 'CdkAmiProviderWaiterRole']) {
      expect(statementsOf(stack, role)).toContainEqual(expect.objectContaining({ Action: 'sts:AssumeRole', Resource: ROLE_ARN }));
    }
    const roles = resourcesOfType(Template.fromStack(stack), 'AWS::IAM::Role');
    const paths = Object.fromEntries(roles.map(([id, r]) => [id.replace(/[0-9A-F]{8}$/, ''), r.Properties.Path]));
    expect(paths).toMatchObject({ CdkAmiProviderOperationRole: '/cdk-ami/TestStack/', CdkAmiProviderWaiterRole: '/cdk-ami/TestStack/' });
  });

  test('a stack without copies by other accounts keeps its provider roles where they were', () => {
    const stack = newStack();
    new CopiedAmi(stack, 'Copy', { source: Ami.fromImageId(stack, 'Source', SOURCE), region: 'eu-west-1' });
    for (const [, r] of resourcesOfType(Template.fromStack(stack), 'AWS::IAM::Role')) expect(r.Properties.Path).toBeUndefined();
    for (const role of ['CdkAmiProviderOperationRole', 'CdkAmiProviderWaiterRole']) {
      expect(statementsOf(stack, role).filter((st) => st.Action === 'sts:AssumeRole')).toEqual([]);
    }
  });

  test('the stack shares only the source image, and only its own snapshots in the source\'s Region with the copying accounts; it copies nothing itself', () => {
    const { stack, copy } = crossAccount();
    const op = statementsOf(stack, 'CdkAmiProviderOperationRole');
    expect(op).toContainEqual(expect.objectContaining({
      Action: ['ec2:DescribeImageAttribute', 'ec2:ModifyImageAttribute'],
      Resource: { 'Fn::Join': ['', ['arn:aws:ec2:us-east-1::image/', stack.resolve(copy.source.imageId)]] },
    }));
    const add = op.find((s) => s.Sid === 'AddSnapshotPermissionForCopies');
    expect(add.Resource).toEqual({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ec2:us-east-1::snapshot/*']] });
    expect(add.Condition).toMatchObject({
      'StringEquals': { 'ec2:Attribute': 'createVolumePermission', 'aws:ResourceTag/cdk-ami:stack': { Ref: 'AWS::StackId' } },
      'ForAllValues:StringEquals': { 'ec2:Add/userId': [TARGET] },
      'Null': { 'ec2:Add/userId': 'false', 'ec2:Add/group': 'true' },
    });
    expect(op.filter((s) => [s.Action].flat().includes('ec2:CopyImage'))).toEqual([]);
  });

  test('copyTo with an account: copies into one Region for several accounts', () => {
    const stack = newStack();
    const golden = new AmiFromInstance(stack, 'Golden', { instanceId: 'i-0123456789abcdef0' });
    const role = (account: string) => (stack.node.tryFindChild(`Role${account}`) as iam.IRole | undefined)
      ?? iam.Role.fromRoleArn(stack, `Role${account}`, `arn:aws:iam::${account}:role/copies`, { mutable: false });
    const eu = golden.copyTo('EuWest1', 'eu-west-1');
    const target = golden.copyTo('EuWest1Target', 'eu-west-1', { account: TARGET, copyRole: role(TARGET) });
    const other = golden.copyTo('EuWest1Other', 'eu-west-1', { account: '777788889999', copyRole: role('777788889999') });
    expect([eu, target, other].map((c) => c.account)).toEqual(['123456789012', TARGET, '777788889999']);
    // The snapshot share names both accounts.
    const add = statementsOf(stack, 'CdkAmiProviderOperationRole').find((s) => s.Sid === 'AddSnapshotPermissionForCopies');
    expect(add.Condition['ForAllValues:StringEquals']['ec2:Add/userId']).toEqual([TARGET, '777788889999']);
  });

  test('the same imageName in two accounts is no clash', () => {
    const stack = newStack();
    const golden = new AmiFromInstance(stack, 'Golden', { instanceId: 'i-0123456789abcdef0' });
    golden.copyTo('EuWest1', 'eu-west-1', { imageName: 'golden' });
    expect(() => golden.copyTo('EuWest1Target', 'eu-west-1', {
      imageName: 'golden', account: TARGET, copyRole: iam.Role.fromRoleArn(stack, 'Role', ROLE_ARN, { mutable: false }),
    })).not.toThrow();
  });

  test('a source key of the app gets a key-policy statement for the copying account, in both Regions', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key');
    const golden = new AmiFromInstance(stack, 'Golden', { instanceId: 'i-0123456789abcdef0' });
    const encrypted = new CopiedAmi(stack, 'Encrypted', { source: golden, encrypted: true, encryptionKey: key });
    encrypted.copyTo('EuWest1', 'eu-west-1', { account: TARGET, copyRole: iam.Role.fromRoleArn(stack, 'Role', ROLE_ARN, { mutable: false }) });
    const [, k] = resourcesOfType(Template.fromStack(stack), 'AWS::KMS::Key')[0];
    const principal = { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${TARGET}:root`]] } };
    const viaEc2 = {
      'kms:ViaService': [
        { 'Fn::Join': ['', ['ec2.us-east-1.', { Ref: 'AWS::URLSuffix' }]] },
        { 'Fn::Join': ['', ['ec2.eu-west-1.', { Ref: 'AWS::URLSuffix' }]] },
      ],
    };
    const forTarget = k.Properties.KeyPolicy.Statement.filter((st: any) => JSON.stringify(st.Principal).includes(TARGET));
    expect(forTarget).toEqual([
      expect.objectContaining({
        Sid: `CdkAmi${TARGET}useast1euwest1CopySourceUseThroughEc2`,
        Principal: principal,
        Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:ReEncryptFrom'],
        Condition: { StringEquals: viaEc2 },
      }),
      expect.objectContaining({
        Sid: `CdkAmi${TARGET}useast1euwest1CopySourceGrantsForEbs`,
        Principal: principal,
        Action: 'kms:CreateGrant',
        Condition: { StringEquals: viaEc2, Bool: { 'kms:GrantIsForAWSResource': 'true' } },
      }),
    ]);
  });

  test('an imported source key gets a warning naming what its key policy needs', () => {
    const { stack } = crossAccount({ sourceEncryptionKey: kms.Key.fromKeyArn(newStack('Other'), 'K', 'arn:aws:kms:us-east-1:123456789012:key/abc') });
    Annotations.fromStack(stack).hasWarning('/TestStack/Copy', Match.stringLikeRegexp(
      `^Account ${TARGET} copies this image's source, whose snapshots are encrypted with the imported KMS key arn:aws:kms:us-east-1:123456789012:key/abc, `
      + 'whose key policy cdk-ami cannot change: add these statements to it, or the copy fails: .*"kms:ViaService":\\["ec2.us-east-1.amazonaws.com","ec2.eu-west-1.amazonaws.com"\\]'));
  });

  test('a source encrypted with alias/aws/ebs: a warning that the copying account cannot use it, and no key policy statements', () => {
    const { stack } = crossAccount({ sourceEncryptionKey: kms.Alias.fromAliasName(newStack('Other'), 'Ebs', 'alias/aws/ebs') });
    const annotations = Annotations.fromStack(stack);
    annotations.hasWarning('/TestStack/Copy', Match.stringLikeRegexp(
      `^Account ${TARGET} copies this image's source, but its snapshots are encrypted with the AWS managed key alias/aws/ebs, which no other account can use: the copy fails\\.`));
    expect(annotations.findWarning('/TestStack/Copy', Match.stringLikeRegexp('cdk-ami:sourceKeyNotShared'))).toEqual([]);
  });

  test.each<[string, Props, RegExp]>([
    ['account without copyRole', { copyRole: undefined }, /account 444455556666 needs copyRole: the copy is made by that account/],
    ['copyRole of another account', { copyRole: iam.Role.fromRoleArn(newStack('R'), 'R', 'arn:aws:iam::777788889999:role/x') }, /copyRole arn:aws:iam::777788889999:role\/x belongs to account 777788889999, but the copy is made by account 444455556666/],
    ['an account that is not 12 digits', { account: '12345' }, /account "12345" is not an AWS account ID/],
    ['the stack\'s own account with copyRole', { account: '123456789012' }, /copyRole is only for a copy made by another account/],
    ['encryptionKey of another account', { encrypted: true, encryptionKey: kms.Key.fromKeyArn(newStack('K'), 'K', 'arn:aws:kms:eu-west-1:777788889999:key/abc') }, /encryptionKey must be a key of account 444455556666/],
    ['encryptionKey of another account', { encrypted: true, encryptionKey: kms.Key.fromKeyArn(newStack('K'), 'K', 'arn:aws:kms:eu-west-1:777788889999:key/abc') }, /^encryptionKey must be a key of account 444455556666, which makes the copy, but it is a key of account 777788889999: import it with kms\.Key\.fromKeyArn and an ARN of account 444455556666\.$/],
  ])('refuses %s at synth', (_name, props, message) => {
    expect(() => crossAccount(props)).toThrow(message);
  });

  test('refuses an encryptionKey defined in the stack, which lives in the stack\'s account', () => {
    const stack = newStack();
    expect(() => crossAccount({ region: 'us-east-1', encrypted: true, encryptionKey: new kms.Key(stack, 'Key') }, stack)).toThrow(/encryptionKey must be a key of account 444455556666/);
  });

  test.each<[string, (stack: Stack) => IImage, string]>([
    ['an image referenced by ID', (stack) => Ami.fromImageId(stack, 'Existing', SOURCE), 'is an image referenced by ID, whose snapshots are not tagged as this stack\'s'],
    ['an AmiFromSnapshot', (stack) => new AmiFromSnapshot(stack, 'Registered', { blockDevices: snapshotDevices('snap-0123456789abcdef0') }), 'is registered from your snapshots, which are not tagged as this stack\'s'],
    ['an image of another stack', (stack) => new AmiFromInstance(new Stack(stack.node.root as App, 'Other', { env: { account: '123456789012', region: 'us-east-1' } }), 'Golden', { instanceId: INSTANCE }),
      'is an image of stack Other, whose snapshots carry that stack\'s tag'],
  ])('refuses as the source of a copy by another account %s: the provider shares only its own stack\'s snapshots', (_name, source, what) => {
    const stack = newStack();
    const image = source(stack);
    expect(() => crossAccount({ source: image }, stack)).toThrow(
      `source ${image.node.path} ${what}: a copy made by account ${TARGET} needs the source's snapshots shared with it, and the provider shares only snapshots of this stack's images. Copy the image into this stack first (a CopiedAmi without account), and copy that copy to account ${TARGET}.`);
    // The way out the message names: a copy in the stack's account, copied on.
    const own = new CopiedAmi(stack, 'Own', { source: image });
    expect(() => own.copyTo('EuWest1', 'eu-west-1', { account: TARGET, copyRole: iam.Role.fromRoleArn(stack, 'Role', ROLE_ARN, { mutable: false }) })).not.toThrow();
  });

  test('refuses fastLaunch with a launch template on a copy by another account; without one the copy role enables it', () => {
    const stack = newStack();
    const launchTemplate = ec2.LaunchTemplate.fromLaunchTemplateAttributes(stack, 'Lt', { launchTemplateId: 'lt-0123456789abcdef0' });
    expect(() => crossAccount({ fastLaunch: { maxParallelLaunches: 6, launchTemplate } }, stack)).toThrow(
      `fastLaunch.launchTemplate cannot be used on a copy made by account ${TARGET}: copyRole enables fast launch there and may name no launch template. Remove fastLaunch.launchTemplate (EC2 then launches in that account's default VPC).`);
    const { stack: other } = crossAccount({ fastLaunch: { maxParallelLaunches: 6 } });
    const last = resourcesOfType(Template.fromStack(other), 'Custom::AmiWaiter').filter(([id]) => id.startsWith('Copy')).pop()!;
    expect(last[1].Properties).toMatchObject({ RoleArn: ROLE_ARN, FastLaunch: { MaxParallelLaunches: 6 } });
  });

  test('accepts a key of the copying account imported into the copying stack (the README example)', () => {
    const stack = newStack();
    const encryptionKey = kms.Key.fromKeyArn(stack, 'TargetKey', `arn:aws:kms:eu-west-1:${TARGET}:key/abc`);
    crossAccount({ encrypted: true, encryptionKey }, stack);
    Template.fromStack(stack).hasResourceProperties('Custom::CopiedAmi', { Account: TARGET, KmsKeyId: `arn:aws:kms:eu-west-1:${TARGET}:key/abc` });
  });

  test('refuses copyRole without account', () => {
    const stack = newStack();
    expect(() => new CopiedAmi(stack, 'Copy', {
      source: Ami.fromImageId(stack, 'Source', SOURCE), copyRole: iam.Role.fromRoleArn(stack, 'R', ROLE_ARN),
    })).toThrow(/copyRole needs account/);
  });

  test('an env-agnostic stack needs copyRole for any account, and accepts one', () => {
    const stack = new Stack(new App(), 'Agnostic');
    expect(() => crossAccount({ copyRole: undefined }, stack)).toThrow(/needs copyRole/);
    const other = new Stack(new App(), 'Agnostic');
    expect(() => crossAccount({}, other)).not.toThrow();
  });

  test('cdk-nag finds nothing unexplained', () => {
    const { stack } = crossAccount();
    expect(nagFindings(stack)).toEqual([]);
  });

  test.each<[string, (copy: CopiedAmi) => unknown, string]>([
    ['copyTo', (copy) => copy.copyTo('EuCentral1', 'eu-central-1'), 'share or copy as its own account: copy the original image instead (copyTo with account and region).'],
    ['copyTo another account', (copy) => copy.copyTo('EuCentral1', 'eu-central-1', {
      account: '777788889999', copyRole: iam.Role.fromRoleArn(copy, 'R', 'arn:aws:iam::777788889999:role/copies', { mutable: false }),
    }), 'share or copy as its own account: copy the original image instead (copyTo with account and region).'],
    ['storeTo', (copy) => copy.storeTo('Backup', s3.Bucket.fromBucketName(copy, 'B', 'backups')), 'store as its own account: store the original image instead.'],
  ])('%s of the copy is refused at synth: the stack\'s account neither owns it nor is granted it', (_name, use, rest) => {
    const { copy } = crossAccount();
    const field = rest.startsWith('store') ? 'image' : 'source';
    expect(() => use(copy)).toThrow(`${field} TestStack/Copy is owned by account ${TARGET} (a copy made by that account), which the stack's provider cannot ${rest}`);
  });

  test('StoredAmi and CopiedAmi of the copy are refused too; a copy of a copy in the stack\'s account is not', () => {
    const { stack, copy } = crossAccount();
    expect(() => new StoredAmi(stack, 'Stored', { image: copy, bucket: s3.Bucket.fromBucketName(stack, 'B', 'backups') })).toThrow(/^image TestStack\/Copy is owned by account 444455556666/);
    expect(() => new CopiedAmi(stack, 'Again', { source: copy })).toThrow(/^source TestStack\/Copy is owned by account 444455556666/);
    const own = new CopiedAmi(stack, 'Own', { source: Ami.fromImageId(stack, 'Original', SOURCE), region: 'eu-west-1' });
    expect(() => own.copyTo('EuCentral1', 'eu-central-1')).not.toThrow();
    expect(() => own.storeTo('Backup', s3.Bucket.fromBucketName(stack, 'B2', 'backups'))).not.toThrow();
  });
});

describe('the parameter of a copy owned by another account', () => {
  const ssmActions = (stack: Stack) => ['CdkAmiProviderOperationRole', 'CdkAmiProviderWaiterRole']
    .flatMap((role) => statementsOf(stack, role)).flatMap((st) => [st.Action].flat()).filter((a: string) => a.startsWith('ssm:'));

  test.each([['another Region', 'eu-west-1'], ['the stack\'s Region', 'us-east-1']])(
    'in %s it is written there by the provider as the copy role, in the copy\'s account', (_where, region) => {
      const { stack, copy } = crossAccount({ region, parameterName: '/images/golden', removalPolicy: RemovalPolicy.DESTROY });
      const template = Template.fromStack(stack);
      template.hasResourceProperties('Custom::AmiParameter', {
        Region: region, Name: '/images/golden', RoleArn: ROLE_ARN, RemovalPolicy: 'destroy', ImageId: stack.resolve(copy.imageId),
      });
      template.resourceCountIs('AWS::SSM::Parameter', 0);
      expect(stack.resolve(copy.parameter!.parameterArn)).toEqual({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:ssm:${region}:${TARGET}:parameter/images/golden`]] });
      expect(copy.parameter!.env).toEqual({ account: TARGET, region });
    });

  test('the stack\'s provider roles get no SSM permission for it: they only assume the copy role', () => {
    const { stack } = crossAccount({ parameterName: '/images/golden' });
    expect(ssmActions(stack)).toEqual([]);
    // The same copy in the stack's own account is written by the provider itself, which shows what the roles would hold.
    const own = newStack();
    new CopiedAmi(own, 'Copy', { source: Ami.fromImageId(own, 'Source', SOURCE), region: 'eu-west-1', parameterName: '/images/golden' });
    expect(ssmActions(own)).toContain('ssm:PutParameter');
  });

  test('granting a principal of another account than the parameter\'s warns that the grant cannot work; one of its account does not', () => {
    const { stack, copy } = crossAccount({ parameterName: '/images/golden' });
    copy.parameter!.grantRead(new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() }));
    const target = new Stack(new App(), 'Target', { env: { account: TARGET, region: 'eu-west-1' } });
    copy.parameter!.grantWrite(iam.Role.fromRoleArn(target, 'Writer', `arn:aws:iam::${TARGET}:role/writer`));
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('cdk-ami:parameterOfOtherAccount'));
    expect(warnings.map((w) => w.entry.data)).toEqual([expect.stringContaining(
      `A principal of account 123456789012 cannot read SSM parameter /images/golden of account ${TARGET}: Parameter Store does not share standard parameters across accounts.`)]);
  });

  function targetRole(parameterNames?: string[]) {
    const app = new App();
    const target = new Stack(app, 'Target', { env: { account: TARGET, region: 'eu-west-1' } });
    const role = new CrossAccountCopyRole(target, 'CopyRole', { sourceAccount: '123456789012', roleName: 'cdk-ami-copies', parameterNames });
    return { role, stack: new Stack(app, 'TestStack', { env: { account: '123456789012', region: 'us-east-1' } }) };
  }

  test.each([['/images/golden'], ['images/golden']])('a CrossAccountCopyRole of the app that names the parameter (as %s) is accepted', (name) => {
    const { role, stack } = targetRole([name]);
    expect(() => crossAccount({ copyRole: role.role, parameterName: '/images/golden' }, stack)).not.toThrow();
  });

  test.each([[undefined], [['/images/other']]])('a CrossAccountCopyRole of the app with parameterNames %j refuses the copy\'s parameterName at synth', (names) => {
    const { role, stack } = targetRole(names);
    expect(() => crossAccount({ copyRole: role.role, parameterName: '/images/golden' }, stack)).toThrow(
      'parameterName "/images/golden" is not among the parameterNames of copyRole Target/CopyRole, which writes the parameter in the copy\'s account: add it there.');
  });
});

test('a CrossAccountCopyRole of another copy of the library in the app is recognised too (global symbol, not instanceof)', () => {
  const app = new App();
  const target = new Stack(app, 'Target', { env: { account: TARGET, region: 'eu-west-1' } });
  // What another copy of cdk-ami makes: not an instance of this copy's class, marked with the same global symbol.
  const foreign = new Construct(target, 'CopyRole');
  Object.defineProperty(foreign, Symbol.for('cdk-ami.CrossAccountCopyRole'), { value: true });
  Object.assign(foreign, { parameterNames: ['/images/other'] });
  const role = new iam.Role(foreign, 'Resource', { assumedBy: new iam.AccountPrincipal('123456789012'), roleName: 'cdk-ami-copies' });
  expect(foreign instanceof CrossAccountCopyRole).toBe(false);
  const stack = new Stack(app, 'TestStack', { env: { account: '123456789012', region: 'us-east-1' } });
  expect(() => crossAccount({ copyRole: role, parameterName: '/images/golden' }, stack)).toThrow(
    'parameterName "/images/golden" is not among the parameterNames of copyRole Target/CopyRole');
});

describe('CrossAccountCopyRole', () => {
  function roleStack(props: Partial<ConstructorParameters<typeof CrossAccountCopyRole>[2]> = {}) {
    const stack = new Stack(new App(), 'Target', { env: { account: TARGET, region: 'eu-west-1' } });
    const role = new CrossAccountCopyRole(stack, 'CopyRole', { sourceAccount: '123456789012', sourceStackName: 'Golden', roleName: 'cdk-ami-copies', ...props });
    return { stack, role };
  }

  test('trusts the source account\'s provider roles of the named stack only', () => {
    const { stack, role } = roleStack();
    const [, r] = resourcesOfType(Template.fromStack(stack), 'AWS::IAM::Role')[0];
    expect(r.Properties.RoleName).toBe('cdk-ami-copies');
    expect(r.Properties.AssumeRolePolicyDocument.Statement).toEqual([expect.objectContaining({
      Action: 'sts:AssumeRole',
      Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:root']] } },
      Condition: { ArnLike: { 'aws:PrincipalArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:role/cdk-ami/Golden/*']] } } },
    })]);
    expect(stack.resolve(role.roleArn)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^CopyRole/), 'Arn'] });
  });

  test('without a stack name it trusts every cdk-ami stack of the source account, and their copies', () => {
    const { stack } = roleStack({ sourceStackName: undefined });
    const json = JSON.stringify(Template.fromStack(stack).toJSON());
    expect(json).toContain(':iam::123456789012:role/cdk-ami/*/*');
    expect(json).toContain(':cloudformation:*:123456789012:stack/*/*');
  });

  test('grants the keys it is given, through EC2 only', () => {
    const { stack } = roleStack({ encryptionKeys: [kms.Key.fromKeyArn(newStack('K'), 'K', `arn:aws:kms:eu-west-1:${TARGET}:key/abc`)] });
    const statements = statementsOf(stack, 'CopyRole');
    expect(statements).toContainEqual(expect.objectContaining({
      Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:ReEncryptFrom', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptTo'],
      Resource: `arn:aws:kms:eu-west-1:${TARGET}:key/abc`,
    }));
  });

  test('may write, read, tag on create and delete exactly the parameterNames, in any Region of its account', () => {
    const { stack } = roleStack({ parameterNames: ['/images/golden', 'images/base'] });
    const arns = ['images/golden', 'images/base'].map((name) => ({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ssm:*:', { Ref: 'AWS::AccountId' }, `:parameter/${name}`]],
    }));
    const golden = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudformation:*:123456789012:stack/Golden/*']] };
    const ssm = statementsOf(stack, 'CopyRole').filter((st) => JSON.stringify(st.Action).includes('ssm:'));
    expect(ssm).toEqual([
      expect.objectContaining({ Action: ['ssm:PutParameter', 'ssm:GetParameter', 'ssm:ListTagsForResource'], Resource: arns }),
      expect.objectContaining({ Action: 'ssm:AddTagsToResource', Resource: arns, Condition: { StringLike: { 'aws:RequestTag/cdk-ami:stack': golden } } }),
      expect.objectContaining({ Action: 'ssm:DeleteParameter', Resource: arns, Condition: { StringLike: { 'aws:ResourceTag/cdk-ami:stack': golden } } }),
    ]);
    expect(nagFindings(stack)).toEqual([]);
  });

  test('without parameterNames it may call no SSM action', () => {
    const { stack } = roleStack();
    expect(JSON.stringify(statementsOf(stack, 'CopyRole'))).not.toContain('ssm:');
  });

  test.each([
    [{ sourceAccount: 'abc' }, /sourceAccount "abc" is not an AWS account ID/],
    [{ sourceStackName: 'has space' }, /sourceStackName "has space" is not a CloudFormation stack name/],
    [{ parameterNames: ['/aws/images'] }, /^parameterNames entry "\/aws\/images" is not a valid SSM parameter name: it must be 1 to 1011 letters, digits and _ \. - \/, and must not begin with aws or ssm\.$/],
  ])('refuses %j', (props, message) => {
    expect(() => roleStack(props)).toThrow(message);
  });

  test('cdk-nag finds nothing unexplained', () => {
    const { stack } = roleStack();
    expect(nagFindings(stack)).toEqual([]);
  });
});
