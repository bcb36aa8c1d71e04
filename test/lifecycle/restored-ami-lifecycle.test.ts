import { RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { FAILING_RESOURCE } from './cfn-simulator';
import { lifecycleTemplate, outputImage, useLocalEc2 } from './harness';
import { RestoredAmi } from '../../src';

const h = useLocalEc2();
const REGION = 'us-east-1';
const STORED = { name: 'golden', rootDeviceName: '/dev/xvda', blockDeviceMappings: [{ deviceName: '/dev/xvda', volumeSizeGiB: 8 }, { deviceName: '/dev/sdf', volumeSizeGiB: 20 }] };

type RestoreProps = Partial<ConstructorParameters<typeof RestoredAmi>[2]>;
function restoreTemplate(props: RestoreProps = {}, extra = {}) {
  return lifecycleTemplate((stack) => new RestoredAmi(stack, 'Restored', {
    bucket: s3.Bucket.fromBucketName(stack, 'Bucket', 'stored-amis'), objectKey: 'ami-0aaaaaaaaaaaaaaa0.bin', ...props,
  }), extra);
}

function onlyImage(sim: ReturnType<typeof h.sim>) {
  return outputImage(h.ec2, sim);
}

describe('RestoredAmi lifecycle', () => {
  test('a stored image restores under a name of its own, tagged, and DESTROY removes it with its snapshots', async () => {
    h.ec2.putS3Object('stored-amis', 'ami-0aaaaaaaaaaaaaaa0.bin', STORED);
    const sim = h.sim();
    expect(await sim.deploy(restoreTemplate({ removalPolicy: RemovalPolicy.DESTROY, tags: { team: 'platform' } }))).toEqual({ ok: true });
    const image = onlyImage(sim);
    expect(image.state).toBe('available');
    expect(image.name).toMatch(/^LifecycleStack\/Restored-[0-9a-f]{12}$/);
    expect(h.ec2.snapshots(REGION)).toHaveLength(2);
    for (const snap of h.ec2.snapshots(REGION)) expect(snap.tags).toMatchObject({ 'team': 'platform', 'cdk-ami:stack': sim.stackId });
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.liveImages(REGION)).toEqual([]);
    expect(h.ec2.snapshots(REGION)).toEqual([]);
    // The stored object is not the restore's to delete.
    expect(h.ec2.s3Objects()).toHaveLength(1);
  });

  test('a restore whose name is taken fails with a sentence and leaves nothing', async () => {
    h.ec2.putS3Object('stored-amis', 'ami-0aaaaaaaaaaaaaaa0.bin', STORED);
    const first = h.sim();
    await first.deploy(restoreTemplate({ imageName: 'restored-golden' }));
    const second = h.sim();
    const result = await second.deploy(restoreTemplate({ imageName: 'restored-golden' }));
    expect(result.reason!.split('\n')[0]).toMatch(/^Image name "restored-golden" is already used in us-east-1 by ami-[0-9a-f]+, which this resource did not create/);
    expect(h.ec2.liveImages(REGION)).toHaveLength(1);
  });

  test('a missing object fails with a sentence that names it', async () => {
    const sim = h.sim();
    const result = await sim.deploy(restoreTemplate());
    expect(result.reason!.split('\n')[0]).toMatch(/^Cannot restore an image from s3:\/\/stored-amis\/ami-0aaaaaaaaaaaaaaa0\.bin in us-east-1: /);
    expect(h.ec2.liveImages(REGION)).toEqual([]);
  });

  test('a rollback deletes the restored image and its snapshots', async () => {
    h.ec2.putS3Object('stored-amis', 'ami-0aaaaaaaaaaaaaaa0.bin', STORED);
    const sim = h.sim();
    const ids = Object.keys(restoreTemplate().Resources);
    const result = await sim.deploy(restoreTemplate({}, { Later: { Type: FAILING_RESOURCE, DependsOn: ids } }));
    expect(result).toMatchObject({ ok: false, failedResource: 'Later' });
    expect(h.ec2.liveImages(REGION)).toEqual([]);
    expect(h.ec2.snapshots(REGION)).toEqual([]);
  });
});
