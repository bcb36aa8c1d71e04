import { Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import {
  Ami, AmiFromInstance, AmiFromSnapshot, BakedAmi, CopiedAmi, DeregistrationProtection, ImageBase, ImageProps, ImportDisk, ImportedAmi,
  LaunchPermission, RestoredAmi,
} from '../src';
import { nagFindings, newStack, resourcesOfType, snapshotDevices } from './util';

const INSTANCE = 'i-0123456789abcdef0';
const ORG = 'arn:aws:organizations::123456789012:organization/o-abcdefghij';
const OU = 'arn:aws:organizations::123456789012:ou/o-abcdefghij/ou-ab12-cdef3456';

function lastWaiter(stack: Stack): any {
  const waiters = resourcesOfType(Template.fromStack(stack), 'Custom::AmiWaiter');
  return waiters.find(([, w]) => w.Properties.Link === w.Properties.Links)![1].Properties;
}

describe('sharing, deprecation and protection', () => {
  test('are carried by the last waiter link only, which applies them once the image is available', () => {
    const stack = newStack();
    const image = new AmiFromInstance(stack, 'Image', {
      instanceId: INSTANCE,
      launchPermissions: [LaunchPermission.account('111122223333'), LaunchPermission.organization(ORG)],
      shareSnapshots: true,
      deprecateAt: new Date('2030-01-02T03:04:29Z'),
      deregistrationProtection: DeregistrationProtection.ENABLED_WITH_COOLDOWN,
    });
    image.addLaunchPermission(LaunchPermission.organizationalUnit(OU), LaunchPermission.account('111122223333'));
    expect(lastWaiter(stack)).toMatchObject({
      LaunchPermissions: [{ UserId: '111122223333' }, { OrganizationArn: ORG }, { OrganizationalUnitArn: OU }],
      ShareSnapshots: true,
      DeprecateAt: '2030-01-02T03:04:00.000Z',
      DeregistrationProtection: 'enabled-with-cooldown',
    });
    const first = resourcesOfType(Template.fromStack(stack), 'Custom::AmiWaiter').find(([, w]) => w.Properties.Link === 1)![1].Properties;
    expect(first.LaunchPermissions).toBeUndefined();
    // None of it is an input of the operation resource: changing it never replaces the image.
    const operation = resourcesOfType(Template.fromStack(stack), 'Custom::AmiFromInstance')[0][1].Properties;
    expect(Object.keys(operation)).not.toEqual(expect.arrayContaining(['LaunchPermissions']));
  });

  test('public only through dangerouslyMakePublic; the defaults add nothing', () => {
    const a = newStack();
    new AmiFromInstance(a, 'Image', { instanceId: INSTANCE, dangerouslyMakePublic: true });
    expect(lastWaiter(a)).toMatchObject({ Public: true });
    const b = newStack();
    new AmiFromInstance(b, 'Image', { instanceId: INSTANCE, deregistrationProtection: DeregistrationProtection.DISABLED });
    const props = lastWaiter(b);
    for (const key of ['LaunchPermissions', 'Public', 'ShareSnapshots', 'DeprecateAt', 'DeregistrationProtection']) expect(props[key]).toBeUndefined();
  });

  test.each([
    [() => LaunchPermission.account('12345'), /Launch permission "12345" is not valid: expected an account ID of 12 digits/],
    [() => LaunchPermission.organization('o-abc'), /Launch permission "o-abc" is not valid: expected an organization ARN/],
    [() => LaunchPermission.organizationalUnit(ORG), /expected an organizational unit ARN/],
  ])('invalid grantees are rejected at synth time', (make, message) => {
    expect(() => new AmiFromInstance(newStack(), 'Image', { instanceId: INSTANCE, launchPermissions: [make()] })).toThrow(message);
  });

  /** Every kind of image the library makes, and a copy made with copyTo, each with `props`. */
  const KINDS: [string, (stack: Stack, props: ImageProps) => ImageBase][] = [
    ['AmiFromInstance', (stack, props) => new AmiFromInstance(stack, 'Image', { instanceId: INSTANCE, ...props })],
    ['CopiedAmi', (stack, props) => new CopiedAmi(stack, 'Image', { source: Ami.fromImageId(stack, 'S', 'ami-0123456789abcdef0'), region: 'eu-west-1', ...props })],
    ['copyTo', (stack, props) => new AmiFromInstance(stack, 'Source', { instanceId: INSTANCE }).copyTo('EuWest1', 'eu-west-1', props)],
    ['ImportedAmi', (stack, props) => new ImportedAmi(stack, 'Image', { disks: [ImportDisk.fromSnapshot('snap-0123456789abcdef0')], ...props })],
    ['RestoredAmi', (stack, props) => new RestoredAmi(stack, 'Image', { bucket: s3.Bucket.fromBucketName(stack, 'B', 'stored'), objectKey: 'ami-0123456789abcdef0.bin', ...props })],
    ['AmiFromSnapshot', (stack, props) => new AmiFromSnapshot(stack, 'Image', { blockDevices: snapshotDevices('snap-0123456789abcdef0'), ...props })],
    ['BakedAmi', (stack, props) => new BakedAmi(stack, 'Image', {
      machineImage: ec2.MachineImage.genericLinux({ 'us-east-1': 'ami-0123456789abcdef0' }),
      vpc: ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-12345678', availabilityZones: ['us-east-1a'], privateSubnetIds: ['subnet-12345678'] }),
      setup: ec2.UserData.forLinux(),
      ...props,
    })],
  ];

  test.each(KINDS)('%s: accounts, organizations and OUs, by prop and addLaunchPermission, reach the last waiter link the same way', (_kind, make) => {
    const stack = newStack();
    const image = make(stack, { launchPermissions: [LaunchPermission.account('111122223333'), LaunchPermission.organization(ORG)] });
    image.addLaunchPermission(LaunchPermission.organizationalUnit(OU));
    const shared = resourcesOfType(Template.fromStack(stack), 'Custom::AmiWaiter').filter(([, w]) => w.Properties.LaunchPermissions);
    expect(shared.map(([, w]) => [w.Properties.Region, w.Properties.Link === w.Properties.Links, w.Properties.LaunchPermissions])).toEqual([
      [image.region, true, [{ UserId: '111122223333' }, { OrganizationArn: ORG }, { OrganizationalUnitArn: OU }]],
    ]);
  });

  test.each(KINDS)('%s: an organizational unit ARN given as an organization is rejected with the same sentence', (_kind, make) => {
    expect(() => make(newStack(), { launchPermissions: [LaunchPermission.organization(OU)] }))
      .toThrow(`Launch permission "${OU}" is not valid: expected an organization ARN such as arn:aws:organizations::123456789012:organization/o-exampleorgid.`);
  });

  test('addLaunchPermission validates too', () => {
    const image = new AmiFromInstance(newStack(), 'Image', { instanceId: INSTANCE });
    expect(() => image.addLaunchPermission(LaunchPermission.account('abc'))).toThrow(/expected an account ID of 12 digits/);
  });

  test.each([
    [new Date(Date.now() + 11 * 365 * 24 * 3600_000), /is more than 10 years ahead/],
    [new Date('not a date'), /deprecateAt is not a valid date/],
  ])('deprecateAt %s is rejected', (deprecateAt, message) => {
    expect(() => new AmiFromInstance(newStack(), 'Image', { instanceId: INSTANCE, deprecateAt })).toThrow(message);
  });

  test('a deprecateAt that has passed still synthesizes (a stack deployed yesterday), with a warning, and is sent as is', () => {
    const stack = newStack();
    const past = new Date('2020-05-06T07:08:00Z');
    new AmiFromInstance(stack, 'Image', { instanceId: INSTANCE, deprecateAt: past });
    expect(lastWaiter(stack).DeprecateAt).toBe('2020-05-06T07:08:00.000Z');
    const warnings = Annotations.fromStack(stack).findWarning('/TestStack/Image', Match.stringLikeRegexp('deprecateAt 2020-05-06T07:08:00.000Z is in the past'));
    expect(warnings).toHaveLength(1);
  });

  test('deprecateAfter is sent as seconds after creation, for the handler to add to the image\'s CreationDate', () => {
    const stack = newStack();
    new AmiFromInstance(stack, 'Image', { instanceId: INSTANCE, deprecateAfter: Duration.days(90) });
    expect(lastWaiter(stack)).toMatchObject({ DeprecateAfterSeconds: 90 * 24 * 3600 });
    expect(lastWaiter(stack).DeprecateAt).toBeUndefined();
  });

  test.each([
    [{ deprecateAfter: Duration.seconds(30) }, /deprecateAfter 30 seconds is out of range: it must be between 1 minute and 10 years/],
    [{ deprecateAfter: Duration.days(3700) }, /deprecateAfter 3700 days is out of range/],
    [{ deprecateAfter: Duration.days(1), deprecateAt: new Date('2030-01-01T00:00:00Z') }, /deprecateAt and deprecateAfter are both set/],
  ])('deprecateAfter %o is rejected', (props, message) => {
    expect(() => new AmiFromInstance(newStack(), 'Image', { instanceId: INSTANCE, ...props })).toThrow(message);
  });

  test('the waiter role may govern only images and snapshots of this stack', () => {
    const stack = newStack();
    new AmiFromInstance(stack, 'Image', { instanceId: INSTANCE });
    const statements = resourcesOfType(Template.fromStack(stack), 'AWS::IAM::Policy')
      .filter(([id]) => id.includes('WaiterRole')).flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    const govern = statements.find((s) => s.Sid === 'GovernOwnImages');
    expect(govern.Action).toEqual(expect.arrayContaining(['ec2:ModifyImageAttribute', 'ec2:ModifySnapshotAttribute', 'ec2:EnableImageDeregistrationProtection']));
    expect(govern.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/cdk-ami:stack': { Ref: 'AWS::StackId' } } });
    expect(nagFindings(stack)).toEqual([]);
  });
});
