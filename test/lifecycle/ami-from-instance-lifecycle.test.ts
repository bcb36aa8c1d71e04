import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { FAILING_RESOURCE } from './cfn-simulator';
import { lifecycleTemplate, outputImageId, SDK_ATTEMPTS, useLocalEc2 } from './harness';
import { AmiFromInstance, InstanceAction } from '../../src';

const REGION = 'us-east-1';
const h = useLocalEc2();

function builder(): string {
  return h.ec2.addInstance({
    region: REGION,
    volumes: [{ deviceName: '/dev/xvda', sizeGiB: 8 }, { deviceName: '/dev/sdf', sizeGiB: 20 }],
  });
}

type Props = Partial<ConstructorParameters<typeof AmiFromInstance>[2]>;
function template(instanceId: string, props: Props = {}, extra = {}) {
  return lifecycleTemplate((stack) => new AmiFromInstance(stack, 'Image', { instanceId, ...props }), extra);
}

function liveImageIds(): string[] {
  return h.ec2.liveImages(REGION).map((i) => i.imageId);
}

function snapshotIds(): string[] {
  return h.ec2.snapshots(REGION).map((s) => s.snapshotId);
}

describe('AmiFromInstance lifecycle against the local EC2 endpoint', () => {
  test('create waits until available, tags image and snapshots, and outputs the ID', async () => {
    h.ec2.imageBehaviour = { pendingPolls: 5, finalState: 'available' };
    const sim = h.sim();
    const result = await sim.deploy(template(builder(), { tags: { team: 'platform' } }));
    expect(result).toEqual({ ok: true });

    const imageId = outputImageId(sim);
    expect(imageId).toMatch(/^ami-/);
    const image = h.ec2.image(imageId)!;
    expect(image.state).toBe('available');
    expect(image.name).toMatch(/^LifecycleStack\/Image-[0-9a-f]{12}$/);
    expect(image.tags).toMatchObject({ 'team': 'platform', 'cdk-ami:stack': sim.stackId });
    const snaps = h.ec2.snapshots(REGION);
    expect(snaps).toHaveLength(2);
    for (const s of snaps) expect(s.tags).toMatchObject({ 'team': 'platform', 'cdk-ami:stack': sim.stackId });
    // One JSON log line per poll, with the state.
    const polls = h.logs.filter((l) => l.message === 'poll');
    expect(polls.map((p) => `${p.link} ${p.state}`)).toEqual([
      ...Array(5).fill('1/2 pending'), '1/2 available',
      // The second link of the default 1-hour timeout finds the image available at once.
      '2/2 available',
    ]);
  });

  test('includeDataVolumes false images only the root volume', async () => {
    const sim = h.sim();
    expect(await sim.deploy(template(builder(), { includeDataVolumes: false }))).toEqual({ ok: true });
    const image = h.ec2.image(outputImageId(sim))!;
    expect(h.ec2.snapshots(REGION)).toHaveLength(1);
    expect(image.tags['cdk-ami:owner']).toBeDefined();
  });

  test('instanceAction STOP stops the builder once the image is available', async () => {
    const instanceId = builder();
    const sim = h.sim();
    expect(await sim.deploy(template(instanceId, { instanceAction: InstanceAction.STOP }))).toEqual({ ok: true });
    expect(h.ec2.instances(REGION).find((i) => i.instanceId === instanceId)!.state).toBe('stopped');
  });

  test('description and tags change in place: same image, snapshots retagged', async () => {
    const instanceId = builder();
    const sim = h.sim();
    await sim.deploy(template(instanceId, { description: 'v1', tags: { a: '1', b: '2' } }));
    const imageId = outputImageId(sim);
    const result = await sim.deploy(template(instanceId, { description: 'v2', tags: { a: '1', c: '3' } }));
    expect(result).toEqual({ ok: true });
    expect(outputImageId(sim)).toBe(imageId);
    expect(liveImageIds()).toEqual([imageId]);
    const image = h.ec2.image(imageId)!;
    expect(image.description).toBe('v2');
    expect(image.tags).toMatchObject({ a: '1', c: '3' });
    expect(image.tags.b).toBeUndefined();
    for (const s of h.ec2.snapshots(REGION)) {
      expect(s.tags).toMatchObject({ a: '1', c: '3' });
      expect(s.tags.b).toBeUndefined();
    }
  });

  test.each([
    [RemovalPolicy.DESTROY, 1],
    [RemovalPolicy.RETAIN, 2],
  ])('a new source instance replaces the image; with %s the old one is kept: %i live', async (removalPolicy, live) => {
    const sim = h.sim();
    await sim.deploy(template(builder(), { removalPolicy }));
    const first = outputImageId(sim);
    const result = await sim.deploy(template(builder(), { removalPolicy }));
    expect(result).toEqual({ ok: true });
    const second = outputImageId(sim);
    expect(second).not.toBe(first);
    expect(h.ec2.image(second)!.state).toBe('available');
    expect(liveImageIds()).toHaveLength(live);
    if (removalPolicy === RemovalPolicy.DESTROY) {
      expect(h.ec2.snapshots(REGION).every((s) => s.tags['cdk-ami:owner'] === h.ec2.image(second)!.tags['cdk-ami:owner'])).toBe(true);
      expect(h.ec2.snapshots(REGION)).toHaveLength(2);
    }
  });

  test('deleting the stack: DESTROY removes image and snapshots, RETAIN keeps them', async () => {
    const destroy = h.sim();
    await destroy.deploy(template(builder(), { removalPolicy: RemovalPolicy.DESTROY }));
    expect(await destroy.deleteStack()).toEqual({ ok: true });
    expect(liveImageIds()).toEqual([]);
    expect(snapshotIds()).toEqual([]);

    const retain = h.sim();
    await retain.deploy(template(builder()));
    const kept = outputImageId(retain);
    expect(await retain.deleteStack()).toEqual({ ok: true });
    expect(liveImageIds()).toEqual([kept]);
  });

  test('an image that fails: the deployment fails with EC2\'s reason, and the rollback leaves nothing behind', async () => {
    h.ec2.imageBehaviour = {
      pendingPolls: 3,
      finalState: 'failed',
      stateReason: { code: 'Client.InternalError', message: 'Client.InternalError: the snapshot of /dev/sdf could not be completed' },
    };
    const sim = h.sim();
    const result = await sim.deploy(template(builder()));
    expect(result.ok).toBe(false);
    const sentence = result.reason!.split('\n')[0];
    expect(sentence).toMatch(/^Image ami-[0-9a-f]+ \(LifecycleStack\/Image-[0-9a-f]+\) ended in state failed in us-east-1: Client.InternalError: the snapshot of \/dev\/sdf could not be completed\./);
    expect(result.reason).not.toMatch(/\n\s+at /);
    // RETAIN is the default, but a failed image is never kept.
    expect(liveImageIds()).toEqual([]);
    expect(snapshotIds()).toEqual([]);
  });

  test('a wait longer than the timeout fails on the last link only, and the rollback deletes the pending image', async () => {
    h.ec2.imageBehaviour = { pendingPolls: 10_000, finalState: 'available' };
    const sim = h.sim();
    const result = await sim.deploy(template(builder(), { timeout: Duration.minutes(90) }));
    expect(result.ok).toBe(false);
    expect(result.reason!.split('\n')[0]).toMatch(/is still pending in us-east-1 after the timeout of 1 h 30 min/);
    const failures = sim.events.filter((e) => e.status.endsWith('FAILED'));
    expect(failures.map((e) => e.logicalId)).toEqual([expect.stringMatching(/Waiter2/)]);
    expect(sim.events.find((e) => /Waiter1/.test(e.logicalId) && e.status === 'CREATE_COMPLETE')).toBeDefined();
    expect(liveImageIds()).toEqual([]);
    expect(snapshotIds()).toEqual([]);
  });

  test('a wait longer than one link hands over to the next link and completes', async () => {
    // 150 polls of 15 s = 37.5 min: more than one 30-minute link of the default 1 h timeout.
    h.ec2.imageBehaviour = { pendingPolls: 150, finalState: 'available' };
    const sim = h.sim();
    expect(await sim.deploy(template(builder()))).toEqual({ ok: true });
    const handover = h.logs.find((l) => l.message === 'link budget spent; the next link keeps waiting');
    expect(handover).toMatchObject({ link: '1/2', state: 'pending' });
    expect(h.ec2.image(outputImageId(sim))!.state).toBe('available');
  });

  test('another resource failing after the image is available rolls the image back too, despite RETAIN', async () => {
    const sim = h.sim();
    const result = await sim.deploy(template(builder(), {}, { Later: { Type: FAILING_RESOURCE, DependsOn: Object.keys(template('i-00000000').Resources) } }));
    expect(result).toMatchObject({ ok: false, failedResource: 'Later' });
    expect(liveImageIds()).toEqual([]);
    expect(snapshotIds()).toEqual([]);
  });

  test('an update that fails after replacing the image keeps the old image and deletes the new one', async () => {
    const sim = h.sim();
    await sim.deploy(template(builder()));
    const original = outputImageId(sim);
    const failing = template(builder(), {}, { Later: { Type: FAILING_RESOURCE, DependsOn: Object.keys(template('i-00000000').Resources) } });
    const result = await sim.deploy(failing);
    expect(result).toMatchObject({ ok: false, failedResource: 'Later' });
    expect(liveImageIds()).toEqual([original]);
    expect(h.ec2.snapshots(REGION).every((s) => s.description.includes(original))).toBe(true);
  });

  test('the same create request delivered twice makes one image', async () => {
    const sim = h.sim();
    await sim.deploy(template(builder()));
    const [operation] = sim.logicalIdsOfType('Custom::AmiFromInstance');
    const again = await sim.redeliverCreate(operation);
    expect(again).toBe(sim.physicalId(operation));
    expect(liveImageIds()).toHaveLength(1);
    expect(h.ec2.callCount('CreateImage')).toBe(1);
  });

  test('throttling, 5xx and eventual consistency do not fail the deployment', async () => {
    h.ec2.notFoundAfterCreate = 3;
    h.ec2.throttleRate(0.3, 7);
    h.ec2.injectFault({ action: 'CreateImage', times: 1, kind: 'http503' });
    h.ec2.injectFault({ action: 'DescribeImages', times: 2, kind: 'http500' });
    const sim = h.sim();
    expect(await sim.deploy(template(builder(), { removalPolicy: RemovalPolicy.DESTROY }))).toEqual({ ok: true });
    expect(h.ec2.calls.some((c) => c.code === 'RequestLimitExceeded')).toBe(true);
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(liveImageIds()).toEqual([]);
    expect(snapshotIds()).toEqual([]);
  });

  test('a CreateImage that took effect while every answer was a 5xx: the image it started is adopted, and deleting the stack removes it', async () => {
    h.ec2.injectFault({ action: 'CreateImage', times: SDK_ATTEMPTS, kind: 'tookEffect503' });
    const sim = h.sim();
    expect(await sim.deploy(template(builder(), { removalPolicy: RemovalPolicy.DESTROY }))).toEqual({ ok: true });
    expect(h.ec2.callCount('CreateImage')).toBe(SDK_ATTEMPTS);
    expect(liveImageIds()).toEqual([outputImageId(sim)]);
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(liveImageIds()).toEqual([]);
    expect(snapshotIds()).toEqual([]);
  });

  test('a missing instance fails with one sentence and leaves nothing', async () => {
    const sim = h.sim();
    const result = await sim.deploy(template('i-0123456789abcdef0'));
    expect(result.ok).toBe(false);
    expect(result.reason!.split('\n')[0]).toBe('Instance i-0123456789abcdef0 does not exist in us-east-1.');
    expect(liveImageIds()).toEqual([]);
  });

  test('a name taken by an image this stack did not create fails with a sentence that says what to do', async () => {
    const instanceId = builder();
    const other = h.sim();
    await other.deploy(template(instanceId, { imageName: 'golden' }));
    const sim = h.sim();
    const result = await sim.deploy(template(instanceId, { imageName: 'golden' }));
    expect(result.reason!.split('\n')[0]).toMatch(/^Image name "golden" is already used in us-east-1 by ami-[0-9a-f]+, which this resource did not create\. Choose another imageName/);
    expect(liveImageIds()).toHaveLength(1);
  });
});
