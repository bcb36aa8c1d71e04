import { RemovalPolicy } from 'aws-cdk-lib';
import { FAILING_RESOURCE } from './cfn-simulator';
import { lifecycleTemplate, outputImage, useLocalEc2 } from './harness';
import { AmiFromInstance, DeregistrationProtection, LaunchPermission } from '../../src';

const h = useLocalEc2();
const REGION = 'us-east-1';
const ORG = 'arn:aws:organizations::123456789012:organization/o-abcdefghij';

type Props = Partial<ConstructorParameters<typeof AmiFromInstance>[2]>;
function template(instanceId: string, props: Props = {}, extra = {}) {
  return lifecycleTemplate((stack) => new AmiFromInstance(stack, 'Image', { instanceId, ...props }), extra);
}

function imageOf(sim: ReturnType<typeof h.sim>) {
  return outputImage(h.ec2, sim);
}

describe('image governance against the local EC2 endpoint: every change keeps the image', () => {
  test('share, change the share list, unshare; snapshots follow the accounts', async () => {
    const instanceId = h.ec2.addInstance({ region: REGION });
    const sim = h.sim();
    await sim.deploy(template(instanceId, { launchPermissions: [LaunchPermission.account('111122223333'), LaunchPermission.organization(ORG)], shareSnapshots: true }));
    const imageId = imageOf(sim).imageId;
    expect(imageOf(sim).launchPermissions).toEqual(expect.arrayContaining([{ userId: '111122223333' }, { organizationArn: ORG }]));
    expect(h.ec2.snapshots(REGION)[0].createVolumePermissions).toEqual([{ userId: '111122223333' }]);

    expect(await sim.deploy(template(instanceId, { launchPermissions: [LaunchPermission.account('444455556666')], shareSnapshots: true }))).toEqual({ ok: true });
    expect(imageOf(sim).imageId).toBe(imageId);
    expect(imageOf(sim).launchPermissions).toEqual([{ userId: '444455556666' }]);
    expect(h.ec2.snapshots(REGION)[0].createVolumePermissions).toEqual([{ userId: '444455556666' }]);

    expect(await sim.deploy(template(instanceId))).toEqual({ ok: true });
    expect(imageOf(sim).imageId).toBe(imageId);
    expect(imageOf(sim).launchPermissions).toEqual([]);
    expect(h.ec2.snapshots(REGION)[0].createVolumePermissions).toEqual([]);
    expect(h.ec2.liveImages(REGION)).toHaveLength(1);
  });

  test('deprecate, then undeprecate', async () => {
    const instanceId = h.ec2.addInstance({ region: REGION });
    const sim = h.sim();
    await sim.deploy(template(instanceId, { deprecateAt: new Date('2031-06-01T12:00:00Z') }));
    const imageId = imageOf(sim).imageId;
    expect(imageOf(sim).deprecationTime).toBe('2031-06-01T12:00:00.000Z');
    expect(await sim.deploy(template(instanceId))).toEqual({ ok: true });
    expect(imageOf(sim).imageId).toBe(imageId);
    expect(imageOf(sim).deprecationTime).toBeUndefined();
  });

  test('protect, then try to destroy: the delete fails with a sentence and the image stays; unprotect and it goes', async () => {
    const instanceId = h.ec2.addInstance({ region: REGION });
    const sim = h.sim();
    const protectedImage = { removalPolicy: RemovalPolicy.DESTROY, deregistrationProtection: DeregistrationProtection.ENABLED };
    await sim.deploy(template(instanceId, protectedImage));
    const imageId = imageOf(sim).imageId;
    expect(imageOf(sim).deregistrationProtection).toBe('enabled');

    const failed = await sim.deleteStack();
    expect(failed.ok).toBe(false);
    expect(failed.reason!.split('\n')[0]).toBe(
      `Cannot delete image ${imageId} in us-east-1: deregistration protection is on. Turn off deregistrationProtection and deploy, or set removalPolicy to RETAIN to keep the image.`,
    );
    expect(h.ec2.image(imageId)!.state).toBe('available');

    const again = h.sim();
    await again.deploy(template(instanceId, { removalPolicy: RemovalPolicy.DESTROY }));
    const second = imageOf(again);
    expect(second.deregistrationProtection).toBe('disabled');
    expect(await again.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.image(second.imageId)!.state).toBe('deregistered');
  });

  test('turning protection off in place keeps the image, and then DESTROY deletes it', async () => {
    const instanceId = h.ec2.addInstance({ region: REGION });
    const sim = h.sim();
    await sim.deploy(template(instanceId, { removalPolicy: RemovalPolicy.DESTROY, deregistrationProtection: DeregistrationProtection.ENABLED }));
    const imageId = imageOf(sim).imageId;
    expect(await sim.deploy(template(instanceId, { removalPolicy: RemovalPolicy.DESTROY }))).toEqual({ ok: true });
    expect(imageOf(sim).imageId).toBe(imageId);
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.liveImages(REGION)).toEqual([]);
    expect(h.ec2.snapshots(REGION)).toEqual([]);
  });

  test('a rollback removes a protected image its own failed deployment made', async () => {
    const instanceId = h.ec2.addInstance({ region: REGION });
    const sim = h.sim();
    const ids = Object.keys(template(instanceId).Resources);
    const later = { Later: { Type: FAILING_RESOURCE, DependsOn: ids } };
    const result = await sim.deploy(template(instanceId, { deregistrationProtection: DeregistrationProtection.ENABLED }, later));
    expect(result).toMatchObject({ ok: false, failedResource: 'Later' });
    expect(h.ec2.liveImages(REGION)).toEqual([]);
    expect(h.ec2.snapshots(REGION)).toEqual([]);
  });

  test('public sharing under image block public access fails with a sentence, and the rollback cleans up', async () => {
    h.ec2.setImageBlockPublicAccess(REGION, 'block-new-sharing');
    const sim = h.sim();
    const result = await sim.deploy(template(h.ec2.addInstance({ region: REGION }), { dangerouslyMakePublic: true }));
    expect(result.ok).toBe(false);
    expect(result.reason!.split('\n')[0]).toMatch(/cannot be made public: image block public access is on for this account in us-east-1 \(block-new-sharing\)/);
    expect(h.ec2.liveImages(REGION)).toEqual([]);
  });
});
