import { RemovalPolicy } from 'aws-cdk-lib';
import { lifecycleTemplate, outputImage, useLocalEc2 } from './harness';
import { AmiFromSnapshot } from '../../src';
import { snapshotDevices } from '../util';

const h = useLocalEc2();
const REGION = 'us-east-1';

function onlyImage(sim: ReturnType<typeof h.sim>) {
  return outputImage(h.ec2, sim);
}

describe('AmiFromSnapshot lifecycle', () => {
  test('registers, and on delete deregisters without touching the user\'s snapshots', async () => {
    const root = h.ec2.addSnapshot({ region: REGION, sizeGiB: 8 });
    const data = h.ec2.addSnapshot({ region: REGION, sizeGiB: 20 });
    const sim = h.sim();
    const template = lifecycleTemplate((stack) => new AmiFromSnapshot(stack, 'Registered', {
      blockDevices: snapshotDevices(root, data), removalPolicy: RemovalPolicy.DESTROY, tags: { team: 'platform' },
    }));
    expect(await sim.deploy(template)).toEqual({ ok: true });
    const image = onlyImage(sim);
    expect(image.state).toBe('available');
    expect(image.tags).toMatchObject({ team: 'platform' });
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.image(image.imageId)!.state).toBe('deregistered');
    const snapshots = h.ec2.snapshots(REGION);
    expect(snapshots.map((s) => s.snapshotId).sort()).toEqual([root, data].sort());
    for (const snap of snapshots) expect(snap.tags['cdk-ami:stack']).toBeUndefined();
  });

  test('a snapshot that does not exist fails with one sentence', async () => {
    const sim = h.sim();
    const result = await sim.deploy(lifecycleTemplate((stack) => new AmiFromSnapshot(stack, 'Registered', { blockDevices: snapshotDevices('snap-0123456789abcdef0') })));
    expect(result.reason!.split('\n')[0]).toMatch(/^A snapshot of the image does not exist in us-east-1: /);
  });
});
