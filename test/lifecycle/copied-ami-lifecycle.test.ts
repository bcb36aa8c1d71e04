import { Duration, RemovalPolicy, Tags } from 'aws-cdk-lib';
import { FAILING_RESOURCE } from './cfn-simulator';
import { lifecycleTemplate, outputImageId, SDK_ATTEMPTS, sourceImage, useLocalEc2 } from './harness';
import { Ami, AmiFromInstance, CopiedAmi } from '../../src';

const h = useLocalEc2();
const HOME = 'us-east-1';

type CopyProps = Partial<ConstructorParameters<typeof CopiedAmi>[2]>;
function copyTemplate(sourceId: string, props: CopyProps = {}, extra = {}) {
  return lifecycleTemplate((stack) => new CopiedAmi(stack, 'Copy', {
    source: Ami.fromImageId(stack, 'Source', sourceId), region: 'eu-west-1', ...props,
  }), extra);
}

describe('CopiedAmi lifecycle against the local EC2 endpoint', () => {
  test('one stack images an instance and copies it to two Regions; every ID is output', async () => {
    const instanceId = h.ec2.addInstance({ region: HOME });
    const sim = h.sim();
    const template = lifecycleTemplate((stack) => {
      const golden = new AmiFromInstance(stack, 'Golden', { instanceId });
      Tags.of(stack).add('team', 'platform');
      golden.copyTo('EuWest1', 'eu-west-1');
      golden.copyTo('ApSoutheast2', 'ap-southeast-2', { encrypted: true });
    });
    expect(await sim.deploy(template)).toEqual({ ok: true });
    const ids = Object.values(sim.outputs()) as string[];
    expect(ids).toHaveLength(3);
    for (const region of [HOME, 'eu-west-1', 'ap-southeast-2']) {
      const live = h.ec2.liveImages(region);
      expect(live).toHaveLength(1);
      expect(live[0].state).toBe('available');
      expect(ids).toContain(live[0].imageId);
      expect(live[0].tags).toMatchObject({ 'team': 'platform', 'cdk-ami:stack': sim.stackId });
    }
    expect(h.ec2.snapshots('ap-southeast-2').every((s) => s.encrypted)).toBe(true);
    expect(h.ec2.snapshots('eu-west-1').length).toBeGreaterThan(0);
  });

  test('the same copy request delivered twice starts one copy (ClientToken)', async () => {
    const source = await sourceImage(h);
    const sim = h.sim();
    expect(await sim.deploy(copyTemplate(source))).toEqual({ ok: true });
    const [operation] = sim.logicalIdsOfType('Custom::CopiedAmi');
    expect(await sim.redeliverCreate(operation)).toBe(sim.physicalId(operation));
    expect(h.ec2.liveImages('eu-west-1')).toHaveLength(1);
  });

  test('a CopyImage that took effect while every answer was a 5xx: the copy it started is adopted, and deleting the stack removes it', async () => {
    const source = await sourceImage(h);
    h.ec2.injectFault({ action: 'CopyImage', times: SDK_ATTEMPTS, kind: 'tookEffect500' });
    const sim = h.sim();
    expect(await sim.deploy(copyTemplate(source, { removalPolicy: RemovalPolicy.DESTROY }))).toEqual({ ok: true });
    expect(h.ec2.liveImages('eu-west-1').map((i) => i.imageId)).toEqual([outputImageId(sim)]);
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.liveImages('eu-west-1')).toEqual([]);
    expect(h.ec2.snapshots('eu-west-1')).toEqual([]);
  });

  test('a changed option replaces the copy; DESTROY removes the old copy and its snapshots', async () => {
    const source = await sourceImage(h);
    const sim = h.sim();
    await sim.deploy(copyTemplate(source, { removalPolicy: RemovalPolicy.DESTROY }));
    const first = outputImageId(sim);
    const firstSnapshots = h.ec2.snapshots('eu-west-1').map((s) => s.snapshotId);
    expect(await sim.deploy(copyTemplate(source, { removalPolicy: RemovalPolicy.DESTROY, encrypted: true }))).toEqual({ ok: true });
    const second = outputImageId(sim);
    expect(second).not.toBe(first);
    expect(h.ec2.liveImages('eu-west-1').map((i) => i.imageId)).toEqual([second]);
    expect(h.ec2.snapshots('eu-west-1').map((s) => s.snapshotId)).not.toEqual(expect.arrayContaining(firstSnapshots));
    // The source is never touched.
    expect(h.ec2.image(source)!.state).toBe('available');
  });

  test('a copy that fails rolls back with EC2\'s reason and leaves nothing in the destination', async () => {
    const source = await sourceImage(h);
    h.ec2.imageBehaviour = {
      pendingPolls: 2,
      finalState: 'failed',
      stateReason: { code: 'Client.InvalidKMSKey.InvalidState', message: 'The KMS key provided is in an incorrect state' },
    };
    const sim = h.sim();
    const result = await sim.deploy(copyTemplate(source, { encrypted: true }));
    expect(result.ok).toBe(false);
    expect(result.reason!.split('\n')[0]).toMatch(/ended in state failed in eu-west-1: The KMS key provided is in an incorrect state\./);
    expect(h.ec2.liveImages('eu-west-1')).toEqual([]);
    expect(h.ec2.snapshots('eu-west-1')).toEqual([]);
  });

  test('a later failure rolls back a finished copy despite RETAIN', async () => {
    const source = await sourceImage(h);
    const sim = h.sim();
    const ids = Object.keys(copyTemplate(source).Resources);
    const result = await sim.deploy(copyTemplate(source, {}, { Later: { Type: FAILING_RESOURCE, DependsOn: ids } }));
    expect(result).toMatchObject({ ok: false, failedResource: 'Later' });
    expect(h.ec2.liveImages('eu-west-1')).toEqual([]);
  });

  test('deleting a copy that is still pending deregisters it, which cancels the copy', async () => {
    const source = await sourceImage(h);
    h.ec2.imageBehaviour = { pendingPolls: 1000, finalState: 'available' };
    const sim = h.sim();
    const result = await sim.deploy(copyTemplate(source, { timeout: Duration.minutes(5) }));
    expect(result.reason!.split('\n')[0]).toMatch(/is still pending in eu-west-1 after the timeout of 5 min/);
    expect(h.ec2.liveImages('eu-west-1')).toEqual([]);
    expect(h.ec2.snapshots('eu-west-1')).toEqual([]);
    expect(h.ec2.images('eu-west-1').map((i) => i.state)).toEqual(['deregistered']);
  });

  test('a source that does not exist fails with one sentence', async () => {
    const sim = h.sim();
    const result = await sim.deploy(copyTemplate('ami-0000000000000000a'));
    expect(result.reason!.split('\n')[0]).toBe(
      'Source image ami-0000000000000000a does not exist in us-east-1, or this account cannot see it; it cannot be copied to eu-west-1.',
    );
  });

  test('an encrypted source cannot be copied unencrypted', async () => {
    const source = await sourceImage(h);
    const sim = h.sim();
    const encrypted = h.sim();
    await encrypted.deploy(copyTemplate(source, { encrypted: true, region: HOME }));
    const encryptedId = outputImageId(encrypted);
    const result = await sim.deploy(copyTemplate(encryptedId, { encrypted: false }));
    expect(result.reason!.split('\n')[0]).toMatch(/has encrypted snapshots and EC2 cannot make an unencrypted copy of it/);
  });
});
