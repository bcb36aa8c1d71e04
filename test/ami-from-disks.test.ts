import { Duration, RemovalPolicies, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AmiFromDisks, AmiFromDisksProps, BootMode, DiskImageFormat, ImageArchitecture, ImportDisk } from '../src';
import { nagFindings, newStack, resourcesOfType } from './util';

function disksStack(extra: Partial<AmiFromDisksProps> = {}): Stack {
  const stack = newStack();
  const bucket = s3.Bucket.fromBucketName(stack, 'Disks', 'vm-disks');
  new AmiFromDisks(stack, 'NixOS', {
    disks: [
      { deviceName: '/dev/xvda', disk: ImportDisk.fromBucket(bucket, 'nixos/root.vhd', DiskImageFormat.VHD) },
      { deviceName: '/dev/sdf', disk: ImportDisk.fromUrl('s3://other-disks/data.raw', DiskImageFormat.RAW), volumeSize: 20 },
    ],
    architecture: ImageArchitecture.X86_64,
    bootMode: BootMode.UEFI,
    ...extra,
  });
  return stack;
}

function links(template: Template, prefix: string): [string, any][] {
  return resourcesOfType(template, 'Custom::AmiWaiter').filter(([id]) => id.startsWith(prefix));
}

function policy(template: Template, fragment: string): any {
  const found = resourcesOfType(template, 'AWS::IAM::Policy').find(([id]) => id.includes(fragment));
  return found![1];
}

describe('AmiFromDisks', () => {
  test('imports each disk with ImportSnapshot, adopts the snapshots, then registers the image from them', () => {
    const template = Template.fromStack(disksStack({ imageName: 'nixos-25.05' }));
    const roleId = resourcesOfType(template, 'AWS::IAM::Role').find(([id]) => id.startsWith('NixOSServiceRole'))![0];
    const [importsId, imports] = resourcesOfType(template, 'Custom::ImportedSnapshots')[0];
    expect(imports.Properties).toMatchObject({
      Disks: [{ Format: 'VHD', S3Bucket: 'vm-disks', S3Key: 'nixos/root.vhd' }, { Format: 'RAW', Url: 's3://other-disks/data.raw' }],
      RoleName: { Ref: roleId },
      RemovalPolicy: 'retain',
    });
    const [followId, follow] = links(template, 'NixOSImportWait').pop()!;
    expect(follow.Properties.Target).toBe('snapshot-import');
    expect(links(template, 'NixOSImportWait')[0][1].Properties.ImageId).toEqual({ Ref: importsId });
    const [[adoptId, adopt]] = links(template, 'NixOSAdopt');
    expect(adopt.Properties).toMatchObject({
      Target: 'snapshot-adopt',
      ImageId: { 'Fn::GetAtt': [followId, 'ImageId'] },
      ImportedSnapshotIds: { 'Fn::GetAtt': [followId, 'SnapshotIds'] },
      ImportFailure: { 'Fn::GetAtt': [followId, 'Failure'] },
    });
    // Stage 2 runs only once the policies that name exactly the snapshots exist.
    expect(adopt.DependsOn).toEqual(expect.arrayContaining([
      expect.stringMatching(/^NixOSAdoptSnapshotsPolicy/), expect.stringMatching(/^NixOSRegisterSnapshotsPolicy/),
    ]));
    const snapshotIds = { 'Fn::Split': [',', { 'Fn::GetAtt': [adoptId, 'SnapshotIds'] }] };
    template.hasResourceProperties('Custom::AmiFromSnapshot', {
      ImageName: 'nixos-25.05',
      RootSnapshotId: { 'Fn::Select': [0, snapshotIds] },
      RootDeviceName: '/dev/xvda',
      DataVolumes: [{ DeviceName: '/dev/sdf', SnapshotId: { 'Fn::Select': [1, snapshotIds] }, VolumeSize: 20, VolumeType: 'gp3' }],
      Architecture: 'x86_64',
      BootMode: 'uefi',
      EnaSupport: true,
    });
  });

  test('the policies name exactly the snapshots stage 1 returned', () => {
    const template = Template.fromStack(disksStack());
    const [followId] = links(template, 'NixOSImportWait').pop()!;
    const exact = { 'Fn::Split': [',', { 'Fn::GetAtt': [followId, 'SnapshotArns'] }] };
    const adopt = policy(template, 'AdoptSnapshotsPolicy').Properties.PolicyDocument.Statement;
    expect(adopt).toEqual([
      expect.objectContaining({ Action: 'ec2:CreateTags', Resource: exact, Condition: { StringEquals: { 'aws:RequestTag/cdk-ami:stack': { Ref: 'AWS::StackId' } } } }),
      expect.objectContaining({ Action: 'ec2:DeleteSnapshot', Resource: exact }),
    ]);
    const register = policy(template, 'RegisterSnapshotsPolicy').Properties.PolicyDocument.Statement;
    expect(register).toEqual([
      expect.objectContaining({ Action: 'ec2:RegisterImage', Resource: exact }),
      expect.objectContaining({ Action: 'ec2:DeleteSnapshot', Resource: exact }),
    ]);
  });

  test('the snapshots follow the image\'s removal policy, also when applied later', () => {
    const stack = disksStack({ removalPolicy: RemovalPolicy.DESTROY });
    expect(resourcesOfType(Template.fromStack(stack), 'Custom::ImportedSnapshots')[0][1].Properties.RemovalPolicy).toBe('destroy');
    const later = newStack();
    const image = new AmiFromDisks(later, 'Image', { disks: [{ deviceName: '/dev/xvda', disk: ImportDisk.fromUrl('s3://b/root.raw', DiskImageFormat.RAW) }] });
    image.applyRemovalPolicy(RemovalPolicy.DESTROY);
    const template = Template.fromStack(later);
    expect(resourcesOfType(template, 'Custom::ImportedSnapshots')[0][1].Properties.RemovalPolicy).toBe('destroy');
    expect(resourcesOfType(template, 'Custom::AmiFromSnapshot')[0][1].Properties.RemovalPolicy).toBe('destroy');
  });

  test('the RemovalPolicies aspect reaches the imported snapshots as it reaches the image', () => {
    const stack = disksStack();
    RemovalPolicies.of(stack).destroy();
    const template = Template.fromStack(stack);
    const [, imports] = resourcesOfType(template, 'Custom::ImportedSnapshots')[0];
    expect(imports.Properties.RemovalPolicy).toBe('destroy');
    expect(imports.DeletionPolicy).toBe('Delete');
    expect(resourcesOfType(template, 'Custom::AmiFromSnapshot')[0][1].Properties.RemovalPolicy).toBe('destroy');
  });

  test('encryption with a customer managed key', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key');
    new AmiFromDisks(stack, 'Image', { disks: [{ deviceName: '/dev/xvda', disk: ImportDisk.fromUrl('s3://b/root.raw', DiskImageFormat.RAW) }], encrypted: true, encryptionKey: key });
    const template = Template.fromStack(stack);
    const keyId = resourcesOfType(template, 'AWS::KMS::Key')[0][0];
    template.hasResourceProperties('Custom::ImportedSnapshots', { Encrypted: true, KmsKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
  });

  test('the import waits for its service role\'s policy, not only the role: VM Import reads the disks as soon as the task starts', () => {
    const template = Template.fromStack(disksStack());
    const [, imports] = resourcesOfType(template, 'Custom::ImportedSnapshots')[0];
    const [policyId] = resourcesOfType(template, 'AWS::IAM::Policy').find(([id]) => id.startsWith('NixOSServiceRoleDefaultPolicy'))!;
    expect(imports.DependsOn).toEqual(expect.arrayContaining([policyId]));
  });

  test('reuses a given VM Import role and passes only it', () => {
    const stack = newStack();
    const role = iam.Role.fromRoleName(stack, 'VmImport', 'vmimport');
    const image = new AmiFromDisks(stack, 'Image', { disks: [{ deviceName: '/dev/xvda', disk: ImportDisk.fromUrl('s3://b/root.raw', DiskImageFormat.RAW) }], role });
    expect(image.role).toBe(role);
    const template = Template.fromStack(stack);
    expect(resourcesOfType(template, 'AWS::IAM::Role').some(([id]) => id.startsWith('ImageServiceRole'))).toBe(false);
    template.hasResourceProperties('Custom::ImportedSnapshots', { RoleName: 'vmimport' });
  });

  test.each<[string, Partial<AmiFromDisksProps>, RegExp]>([
    ['a snapshot as disk', { disks: [{ deviceName: '/dev/xvda', disk: ImportDisk.fromSnapshot('snap-0123456789abcdef0') }] },
      /disks\[0\].disk is ImportDisk.fromSnapshot\(snap-0123456789abcdef0\): AmiFromDisks imports disk images from S3; register an image from an existing snapshot with AmiFromSnapshot/],
    ['a format ImportSnapshot does not read', { disks: [{ deviceName: '/dev/xvda', disk: ImportDisk.fromUrl('s3://b/appliance.ova', DiskImageFormat.OVA) }] },
      /disks\[0\].disk has format OVA: ImportSnapshot reads VHD, VMDK, RAW disk images; use ImportedAmi for OVA/],
    ['a data disk on the root device', {
      disks: [
        { deviceName: '/dev/xvda', disk: ImportDisk.fromUrl('s3://b/root.raw', DiskImageFormat.RAW) },
        { deviceName: '/dev/xvda', disk: ImportDisk.fromUrl('s3://b/d.raw', DiskImageFormat.RAW) },
      ],
    }, /disks\[1\].deviceName "\/dev\/xvda" is listed twice: give each device once/],
    ['no disk', { disks: [] }, /disks has 0 entries: an AmiFromDisks takes 1 to 21 disks, the first being the root device/],
    ['TPM without UEFI', { bootMode: BootMode.LEGACY_BIOS, tpmSupport: true }, /tpmSupport needs UEFI boot, but bootMode is "legacy-bios"/],
    ['UEFI data that is not base64', { uefiData: 'not base64!' }, /uefiData is not valid: it must be base64 of at most 64,000 characters \(got 11 characters\)/],
    ['a key without encryption', { encryptionKey: kms.Key.fromKeyArn(new Stack(), 'K', 'arn:aws:kms:us-east-1:123456789012:key/abc') },
      /encryptionKey needs encrypted: true; ImportSnapshot only uses a KMS key for encrypted snapshots/],
    ['too many disks', { disks: Array.from({ length: 22 }, (_, i) => ({ deviceName: `/dev/sd${String.fromCharCode(102 + i)}`, disk: ImportDisk.fromUrl(`s3://b/${i}.raw`, DiskImageFormat.RAW) })) },
      /disks has 22 entries: an AmiFromDisks takes 1 to 21 disks, the first being the root device/],
    ['a gp3 volume with too little throughput', { disks: [{ deviceName: '/dev/xvda', disk: ImportDisk.fromUrl('s3://b/root.raw', DiskImageFormat.RAW), throughput: 100 }] },
      /disks\[0\] throughput 100 MiB\/s is not allowed: gp3 takes a whole number of at least 125 MiB\/s/],
    ['io2 without IOPS', { disks: [{ deviceName: '/dev/xvda', disk: ImportDisk.fromUrl('s3://b/root.raw', DiskImageFormat.RAW), volumeType: ec2.EbsDeviceVolumeType.IO2 }] },
      /disks\[0\] iops is required for volume type io2/],
  ])('refuses %s at synth', (_name, extra, message) => {
    expect(() => disksStack(extra)).toThrow(message);
  });

  test('a long timeout splits stage 1 into links; stage 2 is one link', () => {
    const template = Template.fromStack(disksStack({ timeout: Duration.hours(3) }));
    expect(links(template, 'NixOSImportWait')).toHaveLength(4);
    expect(links(template, 'NixOSAdopt')).toHaveLength(1);
  });

  test('cdk-nag finds nothing unsuppressed', () => {
    expect(nagFindings(disksStack({ encrypted: true }))).toEqual([]);
  });

  test('template', () => {
    expect(Template.fromStack(disksStack({ imageName: 'nixos-25.05', requireImdsv2: true, tpmSupport: true })).toJSON()).toMatchSnapshot();
  });
});
