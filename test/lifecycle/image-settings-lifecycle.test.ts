/**
 * IMDSv2, disabling, snapshot-only tags and the in-use warning, deployed
 * through the CloudFormation simulator against the local EC2 endpoint.
 */
import {
  DescribeImageReferencesCommand, DescribeImagesCommand, DisableImageCommand, EC2Client, EnableImageCommand, ModifyImageAttributeCommand,
} from '@aws-sdk/client-ec2';
import { RemovalPolicy } from 'aws-cdk-lib';
import { lifecycleTemplate, useLocalEc2 } from './harness';
import { fastRetryStrategy } from './local-ec2';
import { AmiFromInstance, AmiFromInstanceProps, AmiFromSnapshot, LaunchPermission } from '../../src';
import { snapshotDevices } from '../util';

const REGION = 'us-east-1';
const DAY_MS = 24 * 3600 * 1000;
const ACCOUNT = '111122223333';
const h = useLocalEc2();

function fromInstance(props: AmiFromInstanceProps) {
  return lifecycleTemplate((stack) => new AmiFromInstance(stack, 'Image', props));
}

function imageOf(sim: ReturnType<typeof h.sim>) {
  const ids = Object.values(sim.outputs()) as string[];
  expect(ids).toHaveLength(1);
  return h.ec2.image(ids[0])!;
}

function client(): EC2Client {
  return new EC2Client({ region: REGION, retryStrategy: fastRetryStrategy() });
}

describe('requireImdsv2', () => {
  test('an image from an instance gets IMDSv2 before its ID is output; turning it off replaces the image', async () => {
    const instanceId = h.ec2.addInstance({ region: REGION });
    const sim = h.sim();
    expect(await sim.deploy(fromInstance({ instanceId, requireImdsv2: true, removalPolicy: RemovalPolicy.DESTROY }))).toEqual({ ok: true });
    const first = imageOf(sim);
    expect(first.imdsSupport).toBe('v2.0');

    expect(await sim.deploy(fromInstance({ instanceId, removalPolicy: RemovalPolicy.DESTROY }))).toEqual({ ok: true });
    const second = imageOf(sim);
    expect(second.imageId).not.toBe(first.imageId);
    expect(second.imdsSupport).toBeUndefined();
    expect(h.ec2.liveImages(REGION).map((i) => i.imageId)).toEqual([second.imageId]);
  });

  test('a registered image has it from RegisterImage: nothing is modified after', async () => {
    const rootSnapshotId = h.ec2.addSnapshot({ region: REGION });
    const sim = h.sim();
    expect(await sim.deploy(lifecycleTemplate((stack) => new AmiFromSnapshot(stack, 'Image', { blockDevices: snapshotDevices(rootSnapshotId), requireImdsv2: true })))).toEqual({ ok: true });
    expect(imageOf(sim).imdsSupport).toBe('v2.0');
    expect(h.ec2.callCount('ModifyImageAttribute')).toBe(0);
  });

  test('the local endpoint, like EC2, knows only v2.0 and sets it with nothing else', async () => {
    const sim = h.sim();
    await sim.deploy(fromInstance({ instanceId: h.ec2.addInstance({ region: REGION }) }));
    const ec2 = client();
    const imageId = imageOf(sim).imageId;
    await expect(ec2.send(new ModifyImageAttributeCommand({ ImageId: imageId, ImdsSupport: { Value: 'v1.0' } })))
      .rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(ec2.send(new ModifyImageAttributeCommand({ ImageId: imageId, ImdsSupport: { Value: 'v2.0' }, Description: { Value: 'x' } })))
      .rejects.toMatchObject({ name: 'InvalidParameterCombination' });
    expect(imageOf(sim).imdsSupport).toBeUndefined();
    expect(imageOf(sim).description).toBeUndefined();
    ec2.destroy();
  });
});

describe('disableAt', () => {
  test('a passed time disables the shared image in place; moving it ahead enables it and shares it again', async () => {
    const instanceId = h.ec2.addInstance({ region: REGION });
    const sim = h.sim();
    const props = { instanceId, launchPermissions: [LaunchPermission.account(ACCOUNT)] };
    expect(await sim.deploy(fromInstance(props))).toEqual({ ok: true });
    const image = imageOf(sim);
    expect(image).toMatchObject({ state: 'available', launchPermissions: [{ userId: ACCOUNT }] });

    expect(await sim.deploy(fromInstance({ ...props, disableAt: new Date(sim.now - DAY_MS) }))).toEqual({ ok: true });
    expect(imageOf(sim)).toMatchObject({ imageId: image.imageId, state: 'disabled', launchPermissions: [] });
    // EC2 hides it from DescribeImages unless asked.
    const ec2 = client();
    expect((await ec2.send(new DescribeImagesCommand({ ImageIds: [image.imageId] }))).Images).toEqual([]);
    expect((await ec2.send(new DescribeImagesCommand({ ImageIds: [image.imageId], IncludeDisabled: true }))).Images).toHaveLength(1);
    ec2.destroy();

    expect(await sim.deploy(fromInstance({ ...props, disableAt: new Date(sim.now + DAY_MS) }))).toEqual({ ok: true });
    expect(imageOf(sim)).toMatchObject({ imageId: image.imageId, state: 'available', launchPermissions: [{ userId: ACCOUNT }] });
  });

  test('a new image with a passed time is disabled as soon as it is available; DESTROY removes it with its snapshots', async () => {
    const sim = h.sim();
    const template = fromInstance({
      instanceId: h.ec2.addInstance({ region: REGION }), disableAt: new Date(sim.now - DAY_MS), removalPolicy: RemovalPolicy.DESTROY,
    });
    expect(await sim.deploy(template)).toEqual({ ok: true });
    const image = imageOf(sim);
    expect(image.state).toBe('disabled');
    expect(h.logs.filter((l) => l.message === 'image disabled')).toHaveLength(1);

    expect(await sim.deleteStack()).toMatchObject({ ok: true });
    expect(h.ec2.image(image.imageId)!.state).toBe('deregistered');
    expect(h.ec2.snapshots(REGION)).toEqual([]);
  });

  test('a disabled image kept by RETAIN stays when the stack is deleted', async () => {
    const sim = h.sim();
    await sim.deploy(fromInstance({ instanceId: h.ec2.addInstance({ region: REGION }), disableAt: new Date(sim.now - DAY_MS) }));
    const image = imageOf(sim);
    expect(await sim.deleteStack()).toMatchObject({ ok: true });
    expect(h.ec2.image(image.imageId)!.state).toBe('disabled');
  });
});

describe('snapshotTags', () => {
  test('the snapshots get them at creation and in place; the image never does', async () => {
    const instanceId = h.ec2.addInstance({ region: REGION, volumes: [{ deviceName: '/dev/xvda', sizeGiB: 8 }, { deviceName: '/dev/sdb', sizeGiB: 20 }] });
    const sim = h.sim();
    const tags = { team: 'infra', tier: 'image' };
    expect(await sim.deploy(fromInstance({ instanceId, tags, snapshotTags: { backup: 'daily', tier: 'snapshot' } }))).toEqual({ ok: true });
    const image = imageOf(sim);
    expect(image.tags).toMatchObject({ team: 'infra', tier: 'image' });
    expect(image.tags.backup).toBeUndefined();
    const snapshots = () => h.ec2.snapshots(REGION);
    expect(snapshots()).toHaveLength(2);
    for (const snapshot of snapshots()) expect(snapshot.tags).toMatchObject({ team: 'infra', tier: 'snapshot', backup: 'daily' });

    expect(await sim.deploy(fromInstance({ instanceId, tags, snapshotTags: { backup: 'weekly' } }))).toEqual({ ok: true });
    expect(imageOf(sim).imageId).toBe(image.imageId);
    expect(imageOf(sim).tags).toMatchObject({ team: 'infra', tier: 'image' });
    for (const snapshot of snapshots()) {
      expect(snapshot.tags).toMatchObject({ team: 'infra', tier: 'image', backup: 'weekly' });
      expect(snapshot.tags['cdk-ami:stack']).toBeDefined();
    }
  });
});

describe('before DESTROY deregisters an image', () => {
  test('the log names the instances and launch templates that still use it, and the image goes', async () => {
    const sim = h.sim();
    await sim.deploy(fromInstance({ instanceId: h.ec2.addInstance({ region: REGION }), removalPolicy: RemovalPolicy.DESTROY }));
    const image = imageOf(sim);
    const launched = h.ec2.addInstance({ region: REGION, imageId: image.imageId });
    const template = h.ec2.addLaunchTemplate({ region: REGION, imageId: image.imageId });
    h.ec2.addInstance({ region: REGION, imageId: image.imageId, state: 'terminated' });

    expect(await sim.deleteStack()).toMatchObject({ ok: true });
    const warnings = h.logs.filter((l) => l.level === 'warn' && String(l.message).startsWith('image is still in use'));
    expect(warnings).toEqual([expect.objectContaining({
      imageId: image.imageId,
      users: [`arn:aws:ec2:${REGION}:123456789012:instance/${launched}`, `arn:aws:ec2:${REGION}:123456789012:launch-template/${template}`],
    })]);
    expect(h.ec2.image(image.imageId)!.state).toBe('deregistered');
  });
});

describe('the local endpoint follows the EC2 API reference', () => {
  test('DisableImage makes an image private and unshareable until EnableImage; EnableImage restores no permission', async () => {
    const sim = h.sim();
    await sim.deploy(fromInstance({ instanceId: h.ec2.addInstance({ region: REGION }), launchPermissions: [LaunchPermission.account(ACCOUNT)] }));
    const imageId = imageOf(sim).imageId;
    const ec2 = client();
    await ec2.send(new DisableImageCommand({ ImageId: imageId }));
    expect(imageOf(sim)).toMatchObject({ state: 'disabled', launchPermissions: [] });
    await expect(ec2.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: [{ UserId: ACCOUNT }] } })))
      .rejects.toMatchObject({ name: 'OperationNotPermitted' });
    await ec2.send(new EnableImageCommand({ ImageId: imageId }));
    expect(imageOf(sim)).toMatchObject({ state: 'available', launchPermissions: [] });
    ec2.destroy();
  });

  test('DescribeImageReferences needs resource types, and finds only what refers to the image', async () => {
    const sim = h.sim();
    await sim.deploy(fromInstance({ instanceId: h.ec2.addInstance({ region: REGION }) }));
    const imageId = imageOf(sim).imageId;
    const other = h.ec2.addLaunchTemplate({ region: REGION, imageId: 'ami-0aaaaaaaaaaaaaaaa' });
    const mine = h.ec2.addLaunchTemplate({ region: REGION, imageId });
    const ec2 = client();
    await expect(ec2.send(new DescribeImageReferencesCommand({ ImageIds: [imageId] }))).rejects.toMatchObject({ name: 'MissingParameter' });
    const out = await ec2.send(new DescribeImageReferencesCommand({ ImageIds: [imageId], IncludeAllResourceTypes: true }));
    expect(out.ImageReferences).toEqual([{ ImageId: imageId, ResourceType: 'ec2:LaunchTemplate', Arn: `arn:aws:ec2:${REGION}:123456789012:launch-template/${mine}` }]);
    expect(JSON.stringify(out)).not.toContain(other);
    ec2.destroy();
  });
});
