/**
 * RETAIN never deletes data, a rollback never gets stuck on an image that is
 * gone, and an answer that is not EC2's reaches the stack event as a sentence:
 * through the real handlers, the local EC2 endpoint and the CloudFormation
 * simulator.
 */
import { DeregisterImageCommand, EC2Client } from '@aws-sdk/client-ec2';
import { RemovalPolicy } from 'aws-cdk-lib';
import { FAILING_RESOURCE } from './cfn-simulator';
import { lifecycleTemplate, outputImageId, useLocalEc2 } from './harness';
import { fastRetryStrategy } from './local-ec2';
import { AmiFromInstance, LaunchPermission } from '../../src';

const REGION = 'us-east-1';
const h = useLocalEc2();

type Props = Partial<ConstructorParameters<typeof AmiFromInstance>[2]>;
function template(instanceId: string, props: Props = {}, extra = {}) {
  return lifecycleTemplate((stack) => new AmiFromInstance(stack, 'Image', { instanceId, ...props }), extra);
}

function failingLater(instanceId: string) {
  return { Later: { Type: FAILING_RESOURCE, DependsOn: Object.keys(template(instanceId).Resources) } };
}

function builder(): string {
  return h.ec2.addInstance({ region: REGION, volumes: [{ deviceName: '/dev/xvda', sizeGiB: 8 }, { deviceName: '/dev/sdf', sizeGiB: 20 }] });
}

/** What a person does in the console or CLI: DeregisterImage, which keeps the snapshots unless asked. */
async function deregisterByHand(imageId: string): Promise<void> {
  const client = new EC2Client({ region: REGION, retryStrategy: fastRetryStrategy() });
  await client.send(new DeregisterImageCommand({ ImageId: imageId }));
  client.destroy();
}

function snapshotsOf(imageId: string): string[] {
  return h.ec2.snapshots(REGION).filter((s) => s.description.includes(imageId)).map((s) => s.snapshotId);
}

describe('RETAIN never deletes what finished', () => {
  test('an image kept by RETAIN and deregistered by hand keeps its snapshots when the stack is deleted', async () => {
    const sim = h.sim();
    expect(await sim.deploy(template(builder()))).toEqual({ ok: true });
    const imageId = outputImageId(sim);
    const snapshots = snapshotsOf(imageId);
    expect(snapshots).toHaveLength(2);

    await deregisterByHand(imageId);
    expect(await sim.deleteStack()).toEqual({ ok: true });

    expect(snapshotsOf(imageId)).toEqual(snapshots);
    expect(h.ec2.callCount('DeleteSnapshot')).toBe(0);
    expect(h.logs).toContainEqual(expect.objectContaining({
      message: 'image retained', imageId, reason: 'removalPolicy is RETAIN and the image no longer exists: its snapshots are kept',
    }));
  });

  test('an image kept by RETAIN and deregistered by hand keeps its snapshots when a replacement deletes it', async () => {
    const sim = h.sim();
    await sim.deploy(template(builder()));
    const first = outputImageId(sim);
    await deregisterByHand(first);
    expect(await sim.deploy(template(builder()))).toEqual({ ok: true });
    expect(outputImageId(sim)).not.toBe(first);
    expect(snapshotsOf(first)).toHaveLength(2);
  });

  test('DESTROY still sweeps the snapshots of an image deregistered by hand', async () => {
    const sim = h.sim();
    await sim.deploy(template(builder(), { removalPolicy: RemovalPolicy.DESTROY }));
    const imageId = outputImageId(sim);
    await deregisterByHand(imageId);
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(snapshotsOf(imageId)).toEqual([]);
  });

  test('an image that never became available is cleaned despite RETAIN', async () => {
    h.ec2.imageBehaviour = { pendingPolls: 1, finalState: 'failed', stateReason: { code: 'Client.InternalError', message: 'snapshot failed' } };
    const sim = h.sim();
    const result = await sim.deploy(template(builder()));
    expect(result.ok).toBe(false);
    expect(sim.status).toBe('ROLLBACK_COMPLETE');
    expect(h.ec2.liveImages(REGION)).toEqual([]);
    expect(h.ec2.snapshots(REGION)).toEqual([]);
  });
});

describe('a rollback never gets stuck on an image that is gone', () => {
  test('changing the deprecation of an image deregistered by hand fails with a sentence, and the rollback completes', async () => {
    const instanceId = builder();
    const sim = h.sim();
    await sim.deploy(template(instanceId, { deprecateAt: new Date('2031-06-01T12:00:00Z'), launchPermissions: [LaunchPermission.account('111122223333')] }));
    const imageId = outputImageId(sim);
    await deregisterByHand(imageId);

    const result = await sim.deploy(template(instanceId, { deprecateAt: new Date('2032-06-01T12:00:00Z') }));
    expect(result.ok).toBe(false);
    expect(result.reason!.split('\n')[0]).toBe(
      `Image ${imageId} no longer exists in us-east-1; it was deregistered outside CloudFormation. Change imageName or remove and re-add the construct to create a new one.`,
    );
    expect(sim.status).toBe('UPDATE_ROLLBACK_COMPLETE');
    expect(h.logs).toContainEqual(expect.objectContaining({ message: 'image no longer exists; the rollback has nothing to re-apply', imageId }));
  });

  test('changing the description of an image deregistered by hand: the rollback completes', async () => {
    const instanceId = builder();
    const sim = h.sim();
    await sim.deploy(template(instanceId, { description: 'v1' }));
    await deregisterByHand(outputImageId(sim));
    const result = await sim.deploy(template(instanceId, { description: 'v2' }));
    expect(result.ok).toBe(false);
    expect(sim.status).toBe('UPDATE_ROLLBACK_COMPLETE');
  });

  test('a replacement that fails later rolls back to a shared image deregistered by hand, and removes the new image', async () => {
    const sim = h.sim();
    const shared = { launchPermissions: [LaunchPermission.account('111122223333')], deprecateAt: new Date('2031-06-01T12:00:00Z') };
    await sim.deploy(template(builder(), shared));
    const original = outputImageId(sim);
    await deregisterByHand(original);

    const result = await sim.deploy(template(builder(), shared, failingLater(builder())));
    expect(result).toMatchObject({ ok: false, failedResource: 'Later' });
    expect(sim.status).toBe('UPDATE_ROLLBACK_COMPLETE');
    // The image the failed deployment made is gone with its snapshots; the hand-deregistered one keeps its snapshots.
    expect(h.ec2.liveImages(REGION)).toEqual([]);
    expect(snapshotsOf(original)).toHaveLength(2);
    expect(h.ec2.snapshots(REGION)).toHaveLength(2);
  });
});

describe('an answer that is not EC2\'s', () => {
  test('a proxy\'s HTML 502 reaches the stack event as one sentence', async () => {
    const sim = h.sim();
    await sim.deploy(template(builder(), { removalPolicy: RemovalPolicy.DESTROY }));
    const imageId = outputImageId(sim);
    // More than the SDK's retries: the proxy keeps failing.
    h.ec2.injectFault({ action: 'DeregisterImage', times: 50, kind: 'proxy502' });

    const result = await sim.deleteStack();
    expect(result.ok).toBe(false);
    expect(sim.status).toBe('DELETE_FAILED');
    expect(result.reason!.split('\n')[0]).toBe(
      `Deregistering image ${imageId} in us-east-1 failed: the endpoint answered HTTP 502 Bad Gateway with a text/html body that is not an AWS error, as a proxy or load balancer between the function and the service does when it cannot reach it; retry later, and check the network path (VPC endpoint, proxy) if it persists.`,
    );
    expect(h.ec2.calls.filter((c) => c.action === 'DeregisterImage').every((c) => c.status === 502)).toBe(true);
  });
});
