/**
 * EC2 Fast Launch, deployed through the CloudFormation simulator against the
 * local EC2 endpoint: enabled before the image ID is output, changed in place,
 * disabled when removed and before DESTROY deregisters; kept by RETAIN.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { lifecycleTemplate, useLocalEc2 } from './harness';
import { AmiFromInstance, FastLaunchOptions } from '../../src';

const REGION = 'us-east-1';
const h = useLocalEc2();
// Four deployments in one test: about a second alone, far more on a loaded machine.
jest.setTimeout(30_000);

function windows(instanceId: string, fastLaunch: FastLaunchOptions | undefined, removalPolicy = RemovalPolicy.DESTROY) {
  return lifecycleTemplate((stack) => new AmiFromInstance(stack, 'Image', {
    instanceId, osType: ec2.OperatingSystemType.WINDOWS, fastLaunch, removalPolicy,
  }));
}

function imageOf(sim: ReturnType<typeof h.sim>) {
  const ids = Object.values(sim.outputs()) as string[];
  expect(ids).toHaveLength(1);
  return h.ec2.image(ids[0])!;
}

test('enabled and waited for before the ID is output; changed in place; disabled when removed; DESTROY deletes the image', async () => {
  h.ec2.fastLaunchBehaviour({ transitionPolls: 2 });
  const instanceId = h.ec2.addInstance({ region: REGION, platform: 'windows' });
  const sim = h.sim();

  expect(await sim.deploy(windows(instanceId, { maxParallelLaunches: 6, targetResourceCount: 3 }))).toEqual({ ok: true });
  const image = imageOf(sim);
  // The deployment went on only once EC2 reported it enabled.
  expect(image.fastLaunch).toMatchObject({ state: 'enabled', maxParallelLaunches: 6, targetResourceCount: 3 });
  expect(h.ec2.callCount('EnableFastLaunch')).toBe(1);

  const templateId = h.ec2.addLaunchTemplate({ region: REGION, imageId: image.imageId });
  const withTemplate = lifecycleTemplate((stack) => new AmiFromInstance(stack, 'Image', {
    instanceId,
    osType: ec2.OperatingSystemType.WINDOWS,
    removalPolicy: RemovalPolicy.DESTROY,
    fastLaunch: {
      maxParallelLaunches: 10,
      launchTemplate: ec2.LaunchTemplate.fromLaunchTemplateAttributes(stack, 'Lt', { launchTemplateId: templateId, versionNumber: '2' }),
    },
  }));
  expect(await sim.deploy(withTemplate)).toEqual({ ok: true });
  expect(imageOf(sim)).toMatchObject({
    imageId: image.imageId,
    fastLaunch: { state: 'enabled', maxParallelLaunches: 10, launchTemplate: { launchTemplateId: templateId, version: '2' } },
  });
  expect(h.ec2.callCount('EnableFastLaunch')).toBe(2);

  expect(await sim.deploy(windows(instanceId, undefined))).toEqual({ ok: true });
  // Disabling: EC2 removes the pre-provisioned snapshots on its own; the image keeps its ID.
  expect(imageOf(sim)).toMatchObject({ imageId: image.imageId, fastLaunch: { state: 'disabling' } });
  expect(h.ec2.callCount('DisableFastLaunch')).toBe(1);

  expect(await sim.deploy(windows(instanceId, { maxParallelLaunches: 6 }))).toEqual({ ok: true });
  // Enabled again only after EC2 finished disabling.
  expect(imageOf(sim).fastLaunch).toMatchObject({ state: 'enabled', maxParallelLaunches: 6 });

  expect(await sim.deleteStack()).toMatchObject({ ok: true });
  expect(h.ec2.callCount('DisableFastLaunch')).toBe(2);
  expect(h.ec2.image(image.imageId)).toMatchObject({ state: 'deregistered' });
  expect(h.ec2.snapshots(REGION)).toEqual([]);
});

test('RETAIN keeps the image with fast launch enabled', async () => {
  const sim = h.sim();
  expect(await sim.deploy(windows(h.ec2.addInstance({ region: REGION, platform: 'windows' }), {}, RemovalPolicy.RETAIN))).toEqual({ ok: true });
  const image = imageOf(sim);
  expect(await sim.deleteStack()).toMatchObject({ ok: true });
  expect(h.ec2.image(image.imageId)).toMatchObject({ state: 'available', fastLaunch: { state: 'enabled' } });
  expect(h.ec2.callCount('DisableFastLaunch')).toBe(0);
});

test('enabling-failed fails the deployment with EC2\'s reason; the rollback disables fast launch and deletes the image', async () => {
  h.ec2.fastLaunchBehaviour({ transitionPolls: 0, failReason: 'Client.InvalidVpc - the Region has no default VPC' });
  const sim = h.sim();
  const result = await sim.deploy(windows(h.ec2.addInstance({ region: REGION, platform: 'windows' }), {}, RemovalPolicy.RETAIN));
  expect(result).toMatchObject({ ok: false });
  expect(result.reason).toContain('is enabling-failed: Client.InvalidVpc - the Region has no default VPC.');
  expect(h.ec2.liveImages(REGION)).toEqual([]);
  expect(h.ec2.callCount('DisableFastLaunch')).toBe(1);
});

test('a Linux image: EC2 is never asked, the deployment fails with a sentence and rolls back', async () => {
  const sim = h.sim();
  const result = await sim.deploy(lifecycleTemplate((stack) => new AmiFromInstance(stack, 'Image', {
    instanceId: h.ec2.addInstance({ region: REGION }), fastLaunch: {},
  })));
  expect(result).toMatchObject({ ok: false });
  expect(result.reason).toContain('Fast launch needs a Windows image, and image');
  expect(h.ec2.callCount('EnableFastLaunch')).toBe(0);
  expect(h.ec2.liveImages(REGION)).toEqual([]);
});
