import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import {
  Ami, AmiFromDisks, AmiFromInstance, AmiFromSnapshot, BakedAmi, CopiedAmi, CrossAccountCopyRole, DiskImageFormat, ImageRetention, ImportDisk,
  ImportedAmi, RestoredAmi, RetiredImageAction,
} from '../src';
import { newStack, resourcesOfType, snapshotDevices, statementsOf } from './util';

const INSTANCE = 'i-0123456789abcdef0';

function retentionResources(stack: Stack): [string, any][] {
  return resourcesOfType(Template.fromStack(stack), 'Custom::AmiRetention');
}

function onlyRetention(stack: Stack): any {
  const found = retentionResources(stack);
  expect(found).toHaveLength(1);
  return found[0][1];
}

describe('retention renders', () => {
  test('one Custom::AmiRetention per image, on the operations provider, with the policy, the hand-over image and the operation', () => {
    const stack = newStack();
    new AmiFromInstance(stack, 'Golden', { instanceId: INSTANCE, retention: ImageRetention.keep(3) });
    const template = Template.fromStack(stack);
    const [operationId] = Object.keys(template.findResources('Custom::AmiFromInstance'));
    const waiters = resourcesOfType(template, 'Custom::AmiWaiter');
    const [lastLinkId] = waiters.find(([, w]) => w.Properties.Link === w.Properties.Links)!;
    const retention = onlyRetention(stack);
    expect(retention.Properties).toEqual({
      ServiceToken: { 'Fn::GetAtt': [expect.stringMatching(/^CdkAmiProviderOperationsframeworkonEvent/), 'Arn'] },
      Region: 'us-east-1',
      // The hand-over's image ID: CloudFormation runs the sweep only once the new generation is available.
      ImageId: { 'Fn::GetAtt': [lastLinkId, 'ImageId'] },
      OperationLogicalId: operationId,
      KeepCount: 3,
      Action: 'deregister',
      RemovalPolicy: 'retain',
    });
    expect(retention.DeletionPolicy).toBe('Delete');
  });

  test('keepFor renders whole seconds, the action and the image\'s removal policy (also one applied later)', () => {
    const stack = newStack();
    const image = new AmiFromInstance(stack, 'Golden', {
      instanceId: INSTANCE, retention: ImageRetention.keepFor(Duration.days(30), { action: RetiredImageAction.DEPRECATE }),
    });
    image.applyRemovalPolicy(RemovalPolicy.DESTROY);
    expect(onlyRetention(stack).Properties).toMatchObject({ KeepForSeconds: 30 * 24 * 3600, Action: 'deprecate', RemovalPolicy: 'destroy' });
    expect(onlyRetention(stack).Properties.KeepCount).toBeUndefined();
  });

  test('the onEvent role may deprecate, disable and mark only this stack\'s images, and only with the cdk-ami:retained key', () => {
    const stack = newStack();
    new AmiFromInstance(stack, 'Golden', { instanceId: INSTANCE, retention: ImageRetention.keep(2, { action: RetiredImageAction.DISABLE }) });
    const statements = statementsOf(stack, 'CdkAmiProviderOperationRole');
    expect(statements.find((s) => s.Sid === 'RetireOwnImages')).toMatchObject({
      Action: ['ec2:EnableImageDeprecation', 'ec2:DisableImage'],
      Condition: { StringEquals: { 'aws:ResourceTag/cdk-ami:stack': { Ref: 'AWS::StackId' } } },
    });
    expect(statements.find((s) => s.Sid === 'MarkRetainedOwnImages')).toMatchObject({
      Action: ['ec2:CreateTags', 'ec2:DeleteTags'],
      Condition: {
        'StringEquals': { 'aws:ResourceTag/cdk-ami:stack': { Ref: 'AWS::StackId' } },
        'ForAllValues:StringEquals': { 'aws:TagKeys': ['cdk-ami:retained'] },
        'Null': { 'aws:TagKeys': 'false' },
      },
    });
  });

  test('without retention nothing of it is rendered: no resource, no statement', () => {
    const stack = newStack();
    new AmiFromInstance(stack, 'Golden', { instanceId: INSTANCE });
    expect(retentionResources(stack)).toEqual([]);
    const sids = statementsOf(stack, 'CdkAmiProviderOperationRole').map((s) => s.Sid);
    expect(sids).not.toContain('RetireOwnImages');
    expect(sids).not.toContain('MarkRetainedOwnImages');
  });
});

test('every image kind takes retention, each for its own operation', () => {
  const stack = newStack();
  const retention = ImageRetention.keep(2);
  const bucket = s3.Bucket.fromBucketName(stack, 'Bucket', 'disks');
  new AmiFromSnapshot(stack, 'Registered', { blockDevices: snapshotDevices('snap-0123456789abcdef0'), retention });
  new ImportedAmi(stack, 'Imported', { disks: [ImportDisk.fromSnapshot('snap-0bbbbbbbbbbbbbbb0')], retention });
  new AmiFromDisks(stack, 'FromDisks', { disks: [{ deviceName: '/dev/xvda', disk: ImportDisk.fromBucket(bucket, 'root.raw', DiskImageFormat.RAW) }], retention });
  new RestoredAmi(stack, 'Restored', { bucket, objectKey: 'ami-0123456789abcdef0.bin', retention });
  new BakedAmi(stack, 'Baked', {
    machineImage: ec2.MachineImage.genericLinux({ 'us-east-1': 'ami-0123456789abcdef0' }),
    vpc: ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-12345678', availabilityZones: ['us-east-1a'], privateSubnetIds: ['subnet-12345678'] }),
    setup: ec2.UserData.forLinux(),
    retention,
  });
  const template = Template.fromStack(stack);
  const operations = new Set(['Custom::AmiFromSnapshot', 'Custom::ImportedAmi', 'Custom::RestoredAmi', 'Custom::AmiFromInstance']
    .flatMap((type) => Object.keys(template.findResources(type))));
  const swept = retentionResources(stack).map(([, r]) => r.Properties.OperationLogicalId);
  expect(swept).toHaveLength(5);
  expect(new Set(swept)).toEqual(operations);
});

describe('copies', () => {
  test('copyTo gives the copy the source\'s retention, and the copy\'s own wins', () => {
    const stack = newStack();
    const golden = new AmiFromInstance(stack, 'Golden', { instanceId: INSTANCE, retention: ImageRetention.keep(4) });
    golden.copyTo('Inherited', 'eu-west-1');
    golden.copyTo('Own', 'eu-central-1', { retention: ImageRetention.keepFor(Duration.days(7)) });
    const byRegion: Record<string, any> = Object.fromEntries(retentionResources(stack).map(([, r]) => [r.Properties.Region, r.Properties]));
    expect(byRegion['us-east-1']).toMatchObject({ KeepCount: 4 });
    expect(byRegion['eu-west-1']).toMatchObject({ KeepCount: 4 });
    expect(byRegion['eu-central-1']).toMatchObject({ KeepForSeconds: 7 * 24 * 3600 });
    // Each sweeps its own generations: the owner is its own operation.
    expect(new Set(Object.values(byRegion).map((p) => p.OperationLogicalId)).size).toBe(3);
  });

  test('a CopiedAmi made directly has retention only when given it', () => {
    const stack = newStack();
    new CopiedAmi(stack, 'Copy', { source: Ami.fromImageId(stack, 'Source', 'ami-0123456789abcdef0'), region: 'eu-west-1' });
    expect(retentionResources(stack)).toEqual([]);
  });

  test('a copy owned by another account is swept as its copy role; the provider\'s roles get no retention statement', () => {
    const app = newStack().node.root;
    const stack = new Stack(app, 'Golden', { env: { account: '123456789012', region: 'us-east-1' } });
    const golden = new AmiFromInstance(stack, 'Golden', { instanceId: INSTANCE });
    const roleArn = 'arn:aws:iam::222222222222:role/cdk-ami-copies';
    golden.copyTo('Copy', 'eu-west-1', {
      account: '222222222222', copyRole: iam.Role.fromRoleArn(stack, 'CopyRole', roleArn, { mutable: false }), retention: ImageRetention.keep(2),
    });
    expect(onlyRetention(stack).Properties).toMatchObject({ Region: 'eu-west-1', RoleArn: roleArn, KeepCount: 2 });
    expect(statementsOf(stack, 'CdkAmiProviderOperationRole').map((s) => s.Sid)).not.toContain('MarkRetainedOwnImages');
  });

  test('a CrossAccountCopyRole may mark and unmark only its source stack\'s copies, only with the cdk-ami:retained key', () => {
    const stack = newStack('Target');
    new CrossAccountCopyRole(stack, 'CopyRole', { sourceAccount: '123456789012', sourceStackName: 'Golden' });
    const statement = statementsOf(stack, 'CopyRole').find((s) => s.Sid === 'MarkRetainedOwnCopies');
    expect(statement).toMatchObject({
      Action: ['ec2:CreateTags', 'ec2:DeleteTags'],
      Condition: {
        'StringLike': { 'aws:ResourceTag/cdk-ami:stack': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudformation:*:123456789012:stack/Golden/*']] } },
        'ForAllValues:StringEquals': { 'aws:TagKeys': ['cdk-ami:retained'] },
      },
    });
  });
});

describe('validation at synth', () => {
  test.each([
    [0, 'retention ImageRetention.keep(0) is not allowed: count must be a whole number, 1 or more.'],
    [2.5, 'retention ImageRetention.keep(2.5) is not allowed: count must be a whole number, 1 or more.'],
    [-1, 'retention ImageRetention.keep(-1) is not allowed: count must be a whole number, 1 or more.'],
  ])('keep(%p) fails', (count, message) => {
    const stack = newStack();
    expect(() => new AmiFromInstance(stack, 'Golden', { instanceId: INSTANCE, retention: ImageRetention.keep(count) })).toThrow(message);
  });

  test.each([
    [Duration.hours(23), 'retention ImageRetention.keepFor(23 hours) is not allowed: age must be 1 day or more, in whole seconds.'],
    [Duration.millis(86_400_500), 'retention ImageRetention.keepFor(1 day 500 millis) is not allowed: age must be 1 day or more, in whole seconds.'],
  ])('keepFor(%s) fails', (age, message) => {
    const stack = newStack();
    expect(() => new AmiFromInstance(stack, 'Golden', { instanceId: INSTANCE, retention: ImageRetention.keepFor(age) })).toThrow(message);
  });

  test('keep(1) and keepFor(1 day) are accepted', () => {
    const stack = newStack();
    new AmiFromInstance(stack, 'One', { instanceId: INSTANCE, retention: ImageRetention.keep(1) });
    new AmiFromInstance(stack, 'Day', { instanceId: INSTANCE, retention: ImageRetention.keepFor(Duration.days(1)) });
    expect(retentionResources(stack)).toHaveLength(2);
  });
});
