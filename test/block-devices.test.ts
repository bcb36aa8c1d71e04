import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AmiFromInstance, AmiFromSnapshot, BakedAmi } from '../src';
import { newStack } from './util';

const INSTANCE = 'i-0123456789abcdef0';
const ROOT = 'snap-0123456789abcdef0';
const DATA = 'snap-0123456789abcdef1';
const ebs = (size: number, options?: ec2.EbsDeviceOptions) => ec2.BlockDeviceVolume.ebs(size, options);
const ebsFromSnapshot = (snapshotId: string, options?: ec2.EbsDeviceSnapshotOptions) => ec2.BlockDeviceVolume.ebsFromSnapshot(snapshotId, options);
const ephemeral = (index: number) => ec2.BlockDeviceVolume.ephemeral(index);
const GP2 = ec2.EbsDeviceVolumeType.GP2;
const GP3 = ec2.EbsDeviceVolumeType.GP3;

describe('AmiFromInstance blockDevices (ec2.BlockDevice)', () => {
  test('mappingEnabled false leaves a device out, BlockDeviceVolume.ebs changes it; the operation carries them, so a change replaces the image', () => {
    const stack = newStack();
    new AmiFromInstance(stack, 'Image', {
      instanceId: INSTANCE,
      blockDevices: [
        { deviceName: '/dev/xvda', volume: ebs(30, { volumeType: GP3, iops: 6000, throughput: 500 }) },
        { deviceName: '/dev/sdf', volume: ebs(1), mappingEnabled: false },
        { deviceName: '/dev/sdg', volume: ebs(20, { deleteOnTermination: false }) },
      ],
    });
    Template.fromStack(stack).hasResourceProperties('Custom::AmiFromInstance', {
      BlockDevices: [
        { DeviceName: '/dev/xvda', VolumeSize: 30, VolumeType: 'gp3', Iops: 6000, Throughput: 500 },
        { DeviceName: '/dev/sdf', Exclude: true },
        { DeviceName: '/dev/sdg', VolumeSize: 20, DeleteOnTermination: false },
      ],
    });
  });

  test.each<[string, ec2.BlockDevice, string]>([
    ['gp2 with IOPS', { deviceName: '/dev/sdf', volume: ebs(10, { volumeType: GP2, iops: 3000 }) }, 'blockDevices[0] iops is set, but volume type gp2 takes no provisioned IOPS: only io1, io2 and gp3 do.'],
    ['gp3 with too few IOPS', { deviceName: '/dev/sdf', volume: ebs(10, { volumeType: GP3, iops: 1000 }) }, 'blockDevices[0] iops 1000 is not allowed: gp3 takes a whole number of IOPS of at least 3000.'],
    ['too little throughput', { deviceName: '/dev/sdf', volume: ebs(10, { volumeType: GP3, throughput: 100 }) }, 'blockDevices[0] throughput 100 MiB/s is not allowed'],
    ['a fractional size', { deviceName: '/dev/sdf', volume: ebs(1.5) }, 'blockDevices[0] volume size 1.5 GiB is not allowed: EBS volume sizes are whole GiB from 1 to 65536.'],
    ['a snapshot', { deviceName: '/dev/sdf', volume: ebsFromSnapshot(DATA) }, `blockDevices[0] (/dev/sdf) is from snapshot ${DATA}, but AmiFromInstance takes no snapshot: use BlockDeviceVolume.ebs(size, options).`],
    ['an instance store volume', { deviceName: '/dev/sdf', volume: ephemeral(0) }, 'blockDevices[0] (/dev/sdf) is an instance store volume (ephemeral0): AmiFromInstance takes EBS volumes only'],
    ['encryption', { deviceName: '/dev/sdf', volume: ebs(10, { encrypted: true }) }, 'blockDevices[0] (/dev/sdf) sets encrypted, but an image of an instance is encrypted as the instance\'s volumes are: remove it'],
  ])('%s is rejected with the field and the rule', (_what, device, message) => {
    expect(() => new AmiFromInstance(newStack(), 'Image', { instanceId: INSTANCE, blockDevices: [device] })).toThrow(message);
  });

  test('a device listed twice is rejected', () => {
    expect(() => new AmiFromInstance(newStack(), 'Image', {
      instanceId: INSTANCE,
      blockDevices: [{ deviceName: '/dev/sdf', volume: ebs(1), mappingEnabled: false }, { deviceName: '/dev/sdf', volume: ebs(10) }],
    })).toThrow('blockDevices[1].deviceName "/dev/sdf" is listed twice');
  });
});

describe('AmiFromSnapshot blockDevices (ec2.BlockDevice from snapshots)', () => {
  test('the first device is the root; each volume takes its own size, type, IOPS and throughput; uefiData is passed on', () => {
    const stack = newStack();
    new AmiFromSnapshot(stack, 'Image', {
      blockDevices: [
        { deviceName: '/dev/sda1', volume: ebsFromSnapshot(ROOT, { volumeSize: 20, volumeType: GP3, throughput: 250 }) },
        { deviceName: '/dev/sdf', volume: ebsFromSnapshot(DATA, { volumeType: ec2.EbsDeviceVolumeType.IO2, iops: 8000, deleteOnTermination: false }) },
      ],
      uefiData: 'QU1aTlVFRkk=',
    });
    Template.fromStack(stack).hasResourceProperties('Custom::AmiFromSnapshot', {
      RootSnapshotId: ROOT,
      RootDeviceName: '/dev/sda1',
      RootVolume: { VolumeSize: 20, VolumeType: 'gp3', Throughput: 250 },
      DataVolumes: [{ DeviceName: '/dev/sdf', SnapshotId: DATA, VolumeType: 'io2', Iops: 8000, DeleteOnTermination: false }],
      UefiData: 'QU1aTlVFRkk=',
    });
  });

  const root = { deviceName: '/dev/xvda', volume: ebsFromSnapshot(ROOT) };
  test.each<[string, ec2.BlockDevice[], string]>([
    ['no device', [], 'blockDevices is empty: give at least the root device'],
    ['a volume without a snapshot', [root, { deviceName: '/dev/sdf', volume: ebs(10) }], 'blockDevices[1] (/dev/sdf) has no snapshot: every volume of an AmiFromSnapshot comes from one (BlockDeviceVolume.ebsFromSnapshot).'],
    ['a device left out', [root, { deviceName: '/dev/sdf', volume: ebsFromSnapshot(DATA), mappingEnabled: false }], 'blockDevices[1] (/dev/sdf) has mappingEnabled false, but AmiFromSnapshot has no device to leave out'],
    ['io1 without IOPS (the default type is gp3)', [{ deviceName: '/dev/xvda', volume: ebsFromSnapshot(ROOT, { iops: 1000 }) }], 'blockDevices[0] iops 1000 is not allowed: gp3 takes a whole number of IOPS of at least 3000.'],
    ['a snapshot ID that is not one', [{ deviceName: '/dev/xvda', volume: ebsFromSnapshot('vol-0123') }], 'blockDevices[0] snapshot "vol-0123" is not a snapshot ID'],
  ])('%s is rejected', (_what, blockDevices, message) => {
    expect(() => new AmiFromSnapshot(newStack(), 'Image', { blockDevices })).toThrow(message);
  });

  test('uefiData that is not base64 is rejected', () => {
    expect(() => new AmiFromSnapshot(newStack(), 'Image', { blockDevices: [root], uefiData: 'not base64!' }))
      .toThrow('uefiData is not valid: it must be base64 of at most 64,000 characters (got 11 characters).');
  });
});

describe('BakedAmi blockDevices (the builder\'s ec2.BlockDevice)', () => {
  const bake = (blockDevices: ec2.BlockDevice[]) => {
    const stack = newStack();
    const setup = ec2.UserData.forLinux();
    setup.addCommands('true');
    new BakedAmi(stack, 'Web', {
      machineImage: ec2.MachineImage.genericLinux({ 'us-east-1': 'ami-0123456789abcdef0' }),
      vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 1 }),
      setup,
      blockDevices,
    });
    return Template.fromStack(stack);
  };

  test('go to the builder as for ec2.Instance', () => {
    bake([{ deviceName: '/dev/xvda', volume: ebs(20, { volumeType: GP3 }) }, { deviceName: '/dev/sdf', volume: ebsFromSnapshot(DATA) }])
      .hasResourceProperties('AWS::EC2::Instance', {
        BlockDeviceMappings: [
          { DeviceName: '/dev/xvda', Ebs: { VolumeSize: 20, VolumeType: 'gp3' } },
          { DeviceName: '/dev/sdf', Ebs: { SnapshotId: DATA } },
        ],
      });
  });

  test.each<[string, ec2.BlockDevice, string]>([
    ['a KMS key', { deviceName: '/dev/xvda', volume: ebs(20, { encrypted: true, kmsKey: kms.Key.fromKeyArn(newStack(), 'K', 'arn:aws:kms:us-east-1:123456789012:key/1') }) }, 'blockDevices[0] (/dev/xvda) sets kmsKey, but the builder\'s volumes are encrypted as the base image\'s'],
    ['throughput', { deviceName: '/dev/xvda', volume: ebs(20, { volumeType: GP3, throughput: 250 }) }, 'blockDevices[0] (/dev/xvda) sets throughput, but the builder is an AWS::EC2::Instance, which takes no throughput.'],
    ['a huge volume', { deviceName: '/dev/xvda', volume: ebs(70000) }, 'blockDevices[0] volume size 70000 GiB is not allowed'],
  ])('%s is rejected', (_what, device, message) => {
    expect(() => bake([device])).toThrow(message);
  });
});
