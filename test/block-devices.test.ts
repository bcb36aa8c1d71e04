import { Size } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AmiFromInstance, AmiFromSnapshot } from '../src';
import { newStack } from './util';

const INSTANCE = 'i-0123456789abcdef0';
const ROOT = 'snap-0123456789abcdef0';
const DATA = 'snap-0123456789abcdef1';

describe('AmiFromInstance blockDevices', () => {
  test('leave a device out or change its volume; the operation resource carries them, so a change replaces the image', () => {
    const stack = newStack();
    new AmiFromInstance(stack, 'Image', {
      instanceId: INSTANCE,
      blockDevices: [
        { deviceName: '/dev/xvda', volumeSize: Size.gibibytes(30), volumeType: ec2.EbsDeviceVolumeType.GP3, iops: 6000, throughput: 500 },
        { deviceName: '/dev/sdf', exclude: true },
        { deviceName: '/dev/sdg', deleteOnTermination: false },
      ],
    });
    Template.fromStack(stack).hasResourceProperties('Custom::AmiFromInstance', {
      BlockDevices: [
        { DeviceName: '/dev/xvda', VolumeSize: 30, VolumeType: 'gp3', Iops: 6000, Throughput: 500 },
        { DeviceName: '/dev/sdf', Exclude: true },
        { DeviceName: '/dev/sdg', DeleteOnTermination: false },
      ],
    });
  });

  test.each([
    [{ deviceName: '/dev/sdf', exclude: true, volumeSize: Size.gibibytes(10) }, 'blockDevices[0] excludes /dev/sdf and also sets volumeSize: an excluded device has no volume.'],
    [{ deviceName: '/dev/sdf', volumeType: ec2.EbsDeviceVolumeType.GP2, iops: 3000 }, 'blockDevices[0].iops is set, but volume type gp2 takes no provisioned IOPS: only io1, io2 and gp3 do.'],
    [{ deviceName: '/dev/sdf', volumeType: ec2.EbsDeviceVolumeType.IO2 }, 'blockDevices[0].iops is required for volume type io2'],
    [{ deviceName: '/dev/sdf', volumeType: ec2.EbsDeviceVolumeType.GP3, iops: 1000 }, 'blockDevices[0].iops 1000 is not allowed: gp3 takes a whole number of IOPS of at least 3000.'],
    [{ deviceName: '/dev/sdf', volumeType: ec2.EbsDeviceVolumeType.IO1, iops: 4000, throughput: 250 }, 'blockDevices[0].throughput is set, but volume type io1 takes no provisioned throughput: only gp3 does.'],
    [{ deviceName: '/dev/sdf', volumeType: ec2.EbsDeviceVolumeType.GP3, throughput: 100 }, 'blockDevices[0].throughput 100 MiB/s is not allowed'],
    [{ deviceName: '/dev/sdf', volumeSize: Size.mebibytes(1536) }, 'blockDevices[0].volumeSize 1.5 GiB is not allowed: EBS volume sizes are whole GiB'],
  ])('%o is rejected', (device, message) => {
    expect(() => new AmiFromInstance(newStack(), 'Image', { instanceId: INSTANCE, blockDevices: [device] })).toThrow(message);
  });

  test('a device listed twice is rejected', () => {
    expect(() => new AmiFromInstance(newStack(), 'Image', {
      instanceId: INSTANCE, blockDevices: [{ deviceName: '/dev/sdf', exclude: true }, { deviceName: '/dev/sdf', deleteOnTermination: true }],
    })).toThrow('blockDevices[1].deviceName "/dev/sdf" is listed twice');
  });
});

describe('AmiFromSnapshot volumes and UEFI data', () => {
  test('root and data volumes take their own size, type, IOPS and throughput; uefiData is passed on', () => {
    const stack = newStack();
    new AmiFromSnapshot(stack, 'Image', {
      rootSnapshotId: ROOT,
      rootVolume: { volumeSize: Size.gibibytes(20), throughput: 250 },
      dataVolumes: [{ deviceName: '/dev/sdf', snapshotId: DATA, volumeType: ec2.EbsDeviceVolumeType.IO2, iops: 8000, deleteOnTermination: false }],
      uefiData: 'QU1aTlVFRkk=',
    });
    Template.fromStack(stack).hasResourceProperties('Custom::AmiFromSnapshot', {
      RootVolume: { VolumeSize: 20, VolumeType: 'gp3', Throughput: 250 },
      DataVolumes: [{ DeviceName: '/dev/sdf', SnapshotId: DATA, VolumeType: 'io2', Iops: 8000, DeleteOnTermination: false }],
      UefiData: 'QU1aTlVFRkk=',
    });
  });

  test.each([
    [{ rootVolume: { iops: 3000 }, volumeType: ec2.EbsDeviceVolumeType.GP2 }, 'rootVolume.iops is set, but volume type gp2 takes no provisioned IOPS'],
    [{ dataVolumes: [{ deviceName: '/dev/sdf', snapshotId: DATA, volumeType: ec2.EbsDeviceVolumeType.IO1 }] }, 'dataVolumes[0].iops is required for volume type io1'],
    [{ uefiData: 'not base64!' }, 'uefiData is not valid: it must be base64 of at most 64,000 characters (got 11 characters).'],
  ])('%o is rejected', (props, message) => {
    expect(() => new AmiFromSnapshot(newStack(), 'Image', { rootSnapshotId: ROOT, ...props })).toThrow(message);
  });
});
