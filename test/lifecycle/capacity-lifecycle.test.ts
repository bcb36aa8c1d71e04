/**
 * Capacity errors through the real handlers and the local EC2 endpoint, which
 * answers ResourceLimitExceeded (HTTP 400) the way EC2 does while too many
 * image operations run in the Region.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { lifecycleTemplate, outputImageId, useLocalEc2 } from './harness';
import { setSleep } from '../../lambda/shared/backoff';
import { Ami, AmiFromInstance, CopiedAmi, DiskImageFormat, ImportDisk, ImportedAmi } from '../../src';

const REGION = 'us-east-1';
const h = useLocalEc2();

let slept: number[];
let previousSleep: ReturnType<typeof setSleep>;
beforeEach(() => {
  slept = [];
  // The simulator's clock is virtual; the waits between tries are counted, not slept.
  previousSleep = setSleep(async (ms) => { slept.push(ms); });
});
afterEach(() => setSleep(previousSleep));

const waiting = () => h.logs.filter((l) => l.message === 'waiting for capacity: too many concurrent image operations in the Region');
const refused = (action: string) => h.ec2.calls.filter((c) => c.action === action && c.code === 'ResourceLimitExceeded');

test('CreateImage refused for lack of capacity three times: the deployment waits and makes one image', async () => {
  h.ec2.injectFault({ action: 'CreateImage', times: 3, kind: 'capacity' });
  const sim = h.sim();
  const instanceId = h.ec2.addInstance({ region: REGION });
  expect(await sim.deploy(lifecycleTemplate((stack) => new AmiFromInstance(stack, 'Image', { instanceId })))).toEqual({ ok: true });

  expect(refused('CreateImage')).toHaveLength(3);
  expect(refused('CreateImage').every((c) => c.status === 400)).toBe(true);
  expect(h.ec2.callCount('CreateImage')).toBe(4);
  expect(h.ec2.liveImages(REGION).map((i) => i.imageId)).toEqual([outputImageId(sim)]);
  expect(slept).toEqual([5_000, 10_000, 20_000]);
  expect(waiting().map((l) => l.attempt)).toEqual([1, 2, 3]);
});

test('a copy that never gets capacity fails with one sentence, and the stack rolls back cleanly', async () => {
  const source = h.sim();
  const instanceId = h.ec2.addInstance({ region: REGION });
  await source.deploy(lifecycleTemplate((stack) => new AmiFromInstance(stack, 'Source', { instanceId })));
  const sourceId = outputImageId(source);

  h.ec2.injectFault({ action: 'CopyImage', times: 1_000, kind: 'capacity' });
  const sim = h.sim();
  const result = await sim.deploy(lifecycleTemplate((stack) => new CopiedAmi(stack, 'Copy', {
    source: Ami.fromImageId(stack, 'Src', sourceId), region: 'eu-west-1', removalPolicy: RemovalPolicy.DESTROY,
  })));
  expect(result.ok).toBe(false);
  expect(result.reason!.split('\n')[0]).toMatch(
    /^EC2 had no capacity to start CopyImage in eu-west-1 for 280 s: too many image operations \(creates, copies, imports, store and restore tasks\) run at once in the Region \(ResourceLimitExceeded: .+\)\. Deploy again when some of them have finished, or start fewer at once\.$/,
  );
  expect(sim.status).toBe('ROLLBACK_COMPLETE');
  expect(h.ec2.liveImages('eu-west-1')).toEqual([]);
  // Backoff, not a burst: 5, 10, 20, then every 30 s.
  expect(slept.slice(0, 4)).toEqual([5_000, 10_000, 20_000, 30_000]);
  expect(refused('CopyImage').length).toBe(slept.length + 1);
});

test('ImportImage and the waiter\'s copy under the name both wait for capacity', async () => {
  h.ec2.injectFault({ action: 'ImportImage', times: 2, kind: 'capacity' });
  const sim = h.sim();
  const template = lifecycleTemplate((stack) => new ImportedAmi(stack, 'Appliance', {
    disks: [ImportDisk.fromBucket(s3.Bucket.fromBucketName(stack, 'Disks', 'vm-disks'), 'appliance.raw', DiskImageFormat.RAW)],
    imageName: 'appliance-1.0',
  }));
  // The copy under the name is refused at the first two polls that try it.
  h.ec2.injectFault({ action: 'CopyImage', times: 2, kind: 'capacity' });
  expect(await sim.deploy(template)).toEqual({ ok: true });

  expect(refused('ImportImage')).toHaveLength(2);
  expect(h.ec2.importTasks(REGION)).toHaveLength(1);
  expect(refused('CopyImage')).toHaveLength(2);
  const named = h.ec2.liveImages(REGION);
  expect(named.map((i) => i.name)).toEqual(['appliance-1.0']);
  expect(named[0].imageId).toBe(outputImageId(sim));
  expect(waiting().map((l) => l.action)).toEqual(['ImportImage', 'ImportImage', 'CopyImage', 'CopyImage']);
});
