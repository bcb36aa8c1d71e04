import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { lifecycleTemplate, outputImage, useLocalEc2 } from './harness';
import { AmiFromInstance, AmiFromSnapshot } from '../../src';

const REGION = 'us-east-1';
const h = useLocalEc2();

function onlyImage(sim: ReturnType<typeof h.sim>) {
  return outputImage(h.ec2, sim);
}

/** An instance with a root volume and two data volumes: one to change, one to leave out. */
function instanceWithThreeVolumes(): string {
  return h.ec2.addInstance({
    region: REGION,
    volumes: [{ deviceName: '/dev/xvda', sizeGiB: 8 }, { deviceName: '/dev/sdf', sizeGiB: 20 }, { deviceName: '/dev/sdg', sizeGiB: 50 }],
  });
}

describe('block devices against the local EC2 endpoint', () => {
  test('AmiFromInstance leaves out and changes devices as asked, and keeps the rest as on the instance', async () => {
    const instanceId = instanceWithThreeVolumes();
    const sim = h.sim();
    const template = lifecycleTemplate((stack) => new AmiFromInstance(stack, 'Image', {
      instanceId,
      removalPolicy: RemovalPolicy.DESTROY,
      blockDevices: [
        { deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(30, { volumeType: ec2.EbsDeviceVolumeType.GP3, iops: 6000, throughput: 500 }) },
        { deviceName: '/dev/sdg', volume: ec2.BlockDeviceVolume.ebs(1), mappingEnabled: false },
      ],
    }));
    expect(await sim.deploy(template)).toEqual({ ok: true });
    const image = onlyImage(sim);
    expect(image.blockDeviceMappings.map((d) => [d.deviceName, d.volumeSizeGiB, d.volumeType, d.iops, d.throughput])).toEqual([
      ['/dev/xvda', 30, 'gp3', 6000, 500],
      ['/dev/sdf', 20, undefined, undefined, undefined],
    ]);
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.liveImages(REGION)).toEqual([]);
  });

  test('with includeDataVolumes: false, a changed data volume is imaged and the others are left out', async () => {
    const instanceId = instanceWithThreeVolumes();
    const sim = h.sim();
    const template = lifecycleTemplate((stack) => new AmiFromInstance(stack, 'Image', {
      instanceId, includeDataVolumes: false, blockDevices: [{ deviceName: '/dev/sdf', volume: ec2.BlockDeviceVolume.ebs(40) }],
    }));
    expect(await sim.deploy(template)).toEqual({ ok: true });
    expect(onlyImage(sim).blockDeviceMappings.map((d) => [d.deviceName, d.volumeSizeGiB])).toEqual([['/dev/xvda', 8], ['/dev/sdf', 40]]);
  });

  test('a volume EC2 refuses (smaller than its snapshot) fails the deployment with EC2\'s reason and leaves nothing', async () => {
    const instanceId = h.ec2.addInstance({ region: REGION, volumes: [{ deviceName: '/dev/xvda', sizeGiB: 16 }] });
    const sim = h.sim();
    const result = await sim.deploy(lifecycleTemplate((stack) => new AmiFromInstance(stack, 'Image', {
      instanceId, blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(8) }],
    })));
    expect(result.ok).toBe(false);
    expect(result.reason!.split('\n')[0]).toMatch(/Volume of size 8GB is smaller than volume vol-[0-9a-f]+, expect size >= 16GB/);
    expect(h.ec2.liveImages(REGION)).toEqual([]);
    expect(h.ec2.snapshots(REGION)).toEqual([]);
  });

  test('AmiFromSnapshot registers each volume with its own settings and the UEFI variable store', async () => {
    const root = h.ec2.addSnapshot({ region: REGION, sizeGiB: 8 });
    const data = h.ec2.addSnapshot({ region: REGION, sizeGiB: 20 });
    const sim = h.sim();
    const template = lifecycleTemplate((stack) => new AmiFromSnapshot(stack, 'Registered', {
      blockDevices: [
        { deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebsFromSnapshot(root, { volumeSize: 16, throughput: 300, volumeType: ec2.EbsDeviceVolumeType.GP3 }) },
        { deviceName: '/dev/sdf', volume: ec2.BlockDeviceVolume.ebsFromSnapshot(data, { volumeType: ec2.EbsDeviceVolumeType.IO2, iops: 8000, deleteOnTermination: false }) },
      ],
      uefiData: 'QU1aTlVFRkk=',
    }));
    expect(await sim.deploy(template)).toEqual({ ok: true });
    const image = onlyImage(sim);
    expect(image.blockDeviceMappings.map((d) => [d.deviceName, d.volumeSizeGiB, d.volumeType, d.iops, d.throughput, d.deleteOnTermination])).toEqual([
      ['/dev/xvda', 16, 'gp3', undefined, 300, true],
      ['/dev/sdf', 20, 'io2', 8000, undefined, false],
    ]);
    expect(image.uefiData).toBe('QU1aTlVFRkk=');
  });
});
