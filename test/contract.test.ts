import { Duration, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import {
  Ami, AmiFromInstance, AmiFromSnapshot, BakedAmi, BootMode, CopiedAmi, DeregistrationProtection, DiskImageFormat, ImageArchitecture,
  AmiFromDisks, ImageTest, ImportDisk, ImportedAmi, ImportLicenseType, ImportPlatform, InstanceAction, LaunchPermission, RestoredAmi, StoredAmi,
} from '../src';
import { newStack } from './util';
import { Attributes, checkProperties, ResourceTypes, Schemas } from '../src/private/contract';

const CDK_AMI_TYPES = new Set<string>(Object.values(ResourceTypes));

/** A value CloudFormation resolves at deploy time: `{ Ref }`, `{ Fn::GetAtt }`, `{ Fn::Join }`, ... */
function isIntrinsic(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    && Object.keys(value).length === 1 && /^(Ref|Fn::[A-Za-z]+)$/.test(Object.keys(value)[0]);
}

/** Every construct with every option that renders a property of its own. */
function everythingStack(): Stack {
  const stack = newStack('Everything');
  const key = new kms.Key(stack, 'Key');
  const bucket = new s3.Bucket(stack, 'Bucket');
  const golden = new AmiFromInstance(stack, 'Golden', {
    instanceId: 'i-0123456789abcdef0',
    imageName: 'golden-1',
    description: 'golden image',
    noReboot: true,
    includeDataVolumes: false,
    blockDevices: [
      { deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(30, { volumeType: ec2.EbsDeviceVolumeType.GP3, iops: 4000, throughput: 250 }) },
      { deviceName: '/dev/xvdb', volume: ec2.BlockDeviceVolume.ebs(1), mappingEnabled: false },
    ],
    instanceAction: InstanceAction.TERMINATE,
    launchPermissions: [LaunchPermission.account('111122223333'), LaunchPermission.organization('arn:aws:organizations::123456789012:organization/o-abcdefghij')],
    shareSnapshots: true,
    deprecateAfter: Duration.days(90),
    deregistrationProtection: DeregistrationProtection.ENABLED_WITH_COOLDOWN,
    requireImdsv2: true,
    fastLaunch: { targetResourceCount: 5, maxParallelLaunches: 6 },
    snapshotTags: { backup: 'daily' },
    tags: { team: 'platform' },
    removalPolicy: RemovalPolicy.DESTROY,
    timeout: Duration.hours(3),
  });
  Tags.of(golden).add('cost-center', '42');
  // A copy made and owned by another account, as a role there, which also writes its parameter.
  golden.copyTo('UsWest2', 'us-west-2', {
    account: '444455556666', copyRole: iam.Role.fromRoleArn(stack, 'CopyRole', 'arn:aws:iam::444455556666:role/copies', { mutable: false }), parameterName: '/images/golden',
  });
  golden.copyTo('EuWest1', 'eu-west-1', {
    encrypted: true, copyTags: true, completionDuration: Duration.minutes(30), dangerouslyMakePublic: true, parameterName: '/images/golden',
  });
  new CopiedAmi(stack, 'Encrypted', {
    source: golden,
    encrypted: true,
    encryptionKey: key,
    deprecateAt: new Date(Date.now() + 86400_000),
    imageName: 'golden-encrypted',
    description: 'encrypted copy',
    snapshotTags: { backup: 'weekly' },
    requireImdsv2: true,
    fastLaunch: { maxParallelLaunches: 6 },
  });
  new AmiFromSnapshot(stack, 'Registered', {
    blockDevices: [
      { deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebsFromSnapshot('snap-0123456789abcdef0', { volumeSize: 20, volumeType: ec2.EbsDeviceVolumeType.IO2, iops: 3000 }) },
      { deviceName: '/dev/xvdb', volume: ec2.BlockDeviceVolume.ebsFromSnapshot('snap-0fedcba9876543210') },
    ],
    architecture: ImageArchitecture.ARM64,
    bootMode: BootMode.UEFI,
    tpmSupport: true,
    uefiData: 'QU1aTlVFRkk=',
    enaSupport: true,
    imageName: 'registered',
    description: 'registered image',
    tags: { team: 'platform' },
    requireImdsv2: true,
    fastLaunch: { maxParallelLaunches: 6 },
    disableAt: new Date(Date.now() - 86400_000),
  });
  new ImportedAmi(stack, 'Imported', {
    disks: [ImportDisk.fromBucket(bucket, 'disk.vmdk', DiskImageFormat.VMDK), ImportDisk.fromSnapshot('snap-0bbbbbbbbbbbbbbb0')],
    imageName: 'appliance',
    architecture: ImageArchitecture.X86_64,
    platform: ImportPlatform.WINDOWS,
    bootMode: BootMode.UEFI,
    licenseType: ImportLicenseType.BYOL,
    usageOperation: 'RunInstances:0800',
    licenseConfigurationArns: ['arn:aws:license-manager:us-east-1:123456789012:license-configuration:lic-0123456789abcdef0123456789abcdef'],
    encrypted: true,
    encryptionKey: key,
    snapshotTags: { source: 'vmdk' },
    description: 'appliance',
    tags: { team: 'platform' },
    requireImdsv2: true,
    fastLaunch: { maxParallelLaunches: 6 },
  });
  const stored = new StoredAmi(stack, 'Stored', { image: golden, bucket, objectTags: { kind: 'ami' }, removalPolicy: RemovalPolicy.DESTROY });
  new RestoredAmi(stack, 'Restored', {
    bucket,
    objectKey: stored.objectKey,
    imageName: 'restored',
    description: 'restored image',
    tags: { team: 'platform' },
    snapshotTags: { backup: 'none' },
    requireImdsv2: true,
    fastLaunch: { maxParallelLaunches: 6 },
  });
  new AmiFromDisks(stack, 'FromDisks', {
    disks: [
      { deviceName: '/dev/xvda', disk: ImportDisk.fromBucket(bucket, 'nixos/root.vhd', DiskImageFormat.VHD) },
      { deviceName: '/dev/sdf', disk: ImportDisk.fromUrl('s3://other-disks/store.raw', DiskImageFormat.RAW), volumeSize: 40 },
    ],
    encrypted: true,
    encryptionKey: key,
    snapshotTags: { source: 'nixos' },
    description: 'nixos',
    tags: { team: 'platform' },
    bootMode: BootMode.UEFI,
    tpmSupport: true,
    imageName: 'nixos',
    removalPolicy: RemovalPolicy.DESTROY,
  });
  new StoredAmi(stack, 'StoredExisting', { image: Ami.fromImageId(stack, 'Existing', 'ami-0123456789abcdef0'), bucket });
  const setup = ec2.UserData.forLinux();
  setup.addCommands('dnf install -y nginx');
  new BakedAmi(stack, 'Baked', {
    machineImage: ec2.MachineImage.genericLinux({ 'us-east-1': 'ami-0123456789abcdef0' }),
    vpc: ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-12345678', availabilityZones: ['us-east-1a'], privateSubnetIds: ['subnet-12345678'] }),
    setup,
    setupTimeout: Duration.hours(2),
    // Tested before it is handed over: HandOver on the link before the test, TestOf on the test's links.
    test: ImageTest.script(setup, { vpc: ec2.Vpc.fromVpcAttributes(stack, 'TestVpc', { vpcId: 'vpc-12345678', availabilityZones: ['us-east-1a'], privateSubnetIds: ['subnet-12345678'] }) }),
  });
  return stack;
}

describe('what the constructs render satisfies the contract the handlers check', () => {
  const resources = Object.entries(Template.fromStack(everythingStack()).toJSON().Resources as Record<string, any>)
    .filter(([, r]) => CDK_AMI_TYPES.has(r.Type));

  test('the stack has a resource of every type of the contract', () => {
    expect(new Set(resources.map(([, r]) => r.Type))).toEqual(CDK_AMI_TYPES);
  });

  test.each(resources.map(([id, r]) => [id, r.Type, r.Properties]))('%s (%s)', (_id, type, properties) => {
    expect(checkProperties(type, properties, { isDeferred: isIntrinsic })).toEqual([]);
  });

  test('every Fn::GetAtt of a provider resource names an attribute its handler returns', () => {
    const typeOf = new Map(resources.map(([id, r]) => [id, r.Type as string]));
    const reads: Array<{ type: string; attribute: string }> = [];
    JSON.stringify(Template.fromStack(everythingStack()).toJSON(), (key, value) => {
      if (key === 'Fn::GetAtt' && Array.isArray(value) && typeOf.has(value[0])) reads.push({ type: typeOf.get(value[0])!, attribute: value[1] });
      return value;
    });
    expect(reads.length).toBeGreaterThan(0);
    for (const read of reads) {
      const returned: readonly string[] = (Attributes as Record<string, readonly string[]>)[read.type] ?? [];
      expect({ ...read, returned: returned.includes(read.attribute) }).toEqual({ ...read, returned: true });
    }
  });

  test('together they render every property of the contract (no property is dead)', () => {
    for (const [type, schema] of Object.entries(Schemas)) {
      const rendered = new Set(resources.filter(([, r]) => r.Type === type).flatMap(([, r]) => Object.keys(r.Properties)));
      expect({ type, missing: Object.keys(schema).filter((name) => !rendered.has(name)) }).toEqual({ type, missing: [] });
    }
  });
});

describe('every value of a public enum is a word the handlers accept', () => {
  // A user may pick any enum member; one the contract does not list would fail at deploy time.
  const cases: Array<[string, string, string, Record<string, string>]> = [
    ['ImageArchitecture', ResourceTypes.AMI_FROM_SNAPSHOT, 'Architecture', ImageArchitecture],
    ['ImageArchitecture', ResourceTypes.IMPORTED_AMI, 'Architecture', ImageArchitecture],
    ['BootMode', ResourceTypes.AMI_FROM_SNAPSHOT, 'BootMode', BootMode],
    ['BootMode', ResourceTypes.IMPORTED_AMI, 'BootMode', BootMode],
    ['ImportPlatform', ResourceTypes.IMPORTED_AMI, 'Platform', ImportPlatform],
    ['ImportLicenseType', ResourceTypes.IMPORTED_AMI, 'LicenseType', ImportLicenseType],
    ['InstanceAction', ResourceTypes.WAITER, 'InstanceAction', InstanceAction],
  ];
  test.each(cases)('%s in %s.%s', (_name, type, property, values) => {
    for (const value of Object.values(values)) {
      expect({ value, problems: checkProperties(type, { ...requiredOf(type), [property]: value }) }).toEqual({ value, problems: [] });
    }
  });

  test('DeregistrationProtection: every member but DISABLED (which renders nothing) is accepted', () => {
    for (const value of Object.values(DeregistrationProtection).filter((v) => v !== DeregistrationProtection.DISABLED)) {
      expect(checkProperties(ResourceTypes.WAITER, { ...requiredOf(ResourceTypes.WAITER), DeregistrationProtection: value })).toEqual([]);
    }
  });
});

/** Placeholder values for a type's required properties, so that a check speaks only of the property under test. */
function requiredOf(type: string): Record<string, unknown> {
  const schema = (Schemas as Record<string, Record<string, { kind: string; required?: boolean; values?: readonly string[] }>>)[type];
  const placeholder = (spec: { kind: string; values?: readonly string[] }): unknown =>
    ({ string: spec.values?.[0] ?? 'x', number: '1', boolean: 'true', object: {}, objects: [{}], strings: ['x'], tags: [] } as Record<string, unknown>)[spec.kind];
  return Object.fromEntries(Object.entries(schema).filter(([, spec]) => spec.required).map(([name, spec]) => [name, placeholder(spec)]));
}

describe('checkProperties', () => {
  test('names the property, the value and the rule, one sentence each', () => {
    expect(checkProperties(ResourceTypes.COPIED_AMI, {
      Region: 'us-east-1', SourceRegion: 'eu-west-1', Encrypted: 'yes', CompletionDurationMinutes: 'soon', RemovalPolicy: 'snapshot', Extra: 1,
    })).toEqual([
      'The resource property SourceImageId is required.',
      'The resource property Encrypted must be "true" or "false", got "yes".',
      'The resource property CompletionDurationMinutes must be a number, got "soon".',
      'The resource property RemovalPolicy must be one of destroy, retain, got "snapshot".',
      'The resource property Extra is not one that Custom::CopiedAmi takes.',
    ]);
  });

  test('accepts what CloudFormation delivers: scalars as strings, the service token', () => {
    expect(checkProperties(ResourceTypes.WAITER, {
      ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:x',
      Region: 'us-east-1',
      ImageId: 'ami-1',
      Link: '2',
      Public: 'true',
      LaunchPermissions: [{ UserId: '111122223333' }],
      DeprecateAfterSeconds: '3600',
    })).toEqual([]);
  });

  test('lists of tags, strings and objects are checked item by item', () => {
    expect(checkProperties(ResourceTypes.IMPORTED_AMI, {
      Region: 'us-east-1', Disks: ['disk.vmdk'], Tags: [{ Value: 'no key' }], LicenseConfigurationArns: [1],
    })).toEqual([
      'The resource property Disks must be a list of objects, got ["disk.vmdk"].',
      'The resource property Tags must be a list of tags ({ Key, Value }), got [{"Value":"no key"}].',
      'The resource property LicenseConfigurationArns must be a list of strings, got [1].',
    ]);
  });

  test('a whole number is 0 or more without a fraction', () => {
    expect(checkProperties(ResourceTypes.WAITER, { Region: 'r', ImageId: 'ami-1', DeprecateAfterSeconds: '-60' }))
      .toEqual(['The resource property DeprecateAfterSeconds must be a whole number, got "-60".']);
  });
});
