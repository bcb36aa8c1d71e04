import { RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { lifecycleTemplate, SDK_ATTEMPTS, useLocalEc2 } from './harness';
import { AmiFromInstance, RestoredAmi, StoredAmi } from '../../src';

const h = useLocalEc2();
const REGION = 'us-east-1';

describe('StoredAmi lifecycle against the local EC2 endpoint', () => {
  test('image → store → restore in one stack: the restored image is available and named on its own', async () => {
    const instanceId = h.ec2.addInstance({ region: REGION });
    h.ec2.storeBehaviour = { pendingPolls: 3, finalState: 'Completed' };
    const sim = h.sim();
    const template = lifecycleTemplate((stack) => {
      const bucket = s3.Bucket.fromBucketName(stack, 'Store', 'stored-amis');
      const golden = new AmiFromInstance(stack, 'Golden', { instanceId, imageName: 'golden' });
      const stored = new StoredAmi(stack, 'Stored', { image: golden, bucket, objectTags: { purpose: 'backup' } });
      new RestoredAmi(stack, 'Restored', { bucket: stored.bucket, objectKey: stored.objectKey });
    });
    expect(await sim.deploy(template)).toEqual({ ok: true });
    const [object] = h.ec2.s3Objects();
    expect(object).toMatchObject({ bucket: 'stored-amis', tags: { purpose: 'backup' } });
    expect(object.key).toMatch(/^ami-[0-9a-f]+\.bin$/);
    const live = h.ec2.liveImages(REGION);
    expect(live).toHaveLength(2);
    const restored = live.find((i) => i.name !== 'golden')!;
    expect(restored.state).toBe('available');
    expect(restored.name).toMatch(/^LifecycleStack\/Restored-[0-9a-f]{12}$/);
    // Progress went to the log, one line per poll.
    expect(h.logs.filter((l) => l.message === 'poll' && l.bucket === 'stored-amis').map((l) => l.state)).toEqual(
      expect.arrayContaining(['InProgress', 'Completed']),
    );
  });

  test('a failed store fails the deployment with EC2\'s reason', async () => {
    const instanceId = h.ec2.addInstance({ region: REGION });
    h.ec2.storeBehaviour = { pendingPolls: 1, finalState: 'Failed', failureReason: 'AccessDenied: the bucket policy denies s3:PutObject' };
    const sim = h.sim();
    const result = await sim.deploy(lifecycleTemplate((stack) => {
      const golden = new AmiFromInstance(stack, 'Golden', { instanceId });
      golden.storeTo('Backup', s3.Bucket.fromBucketName(stack, 'Store', 'stored-amis'));
    }));
    expect(result.ok).toBe(false);
    expect(result.reason!.split('\n')[0]).toMatch(/^Storing image ami-[0-9a-f]+ in s3:\/\/stored-amis failed: AccessDenied: the bucket policy denies s3:PutObject\./);
    // The rollback removed the image (made by this deployment) despite RETAIN.
    expect(h.ec2.liveImages(REGION)).toEqual([]);
  });

  test('a CreateStoreImageTask that took effect while every answer was a 5xx: the object it writes is adopted, and deleting the stack removes it', async () => {
    const instanceId = h.ec2.addInstance({ region: REGION });
    h.ec2.injectFault({ action: 'CreateStoreImageTask', times: SDK_ATTEMPTS, kind: 'tookEffect500' });
    const sim = h.sim();
    expect(await sim.deploy(lifecycleTemplate((stack) => {
      const golden = new AmiFromInstance(stack, 'Golden', { instanceId, removalPolicy: RemovalPolicy.DESTROY });
      new StoredAmi(stack, 'Stored', { image: golden, bucket: s3.Bucket.fromBucketName(stack, 'Store', 'stored-amis'), removalPolicy: RemovalPolicy.DESTROY });
    }))).toEqual({ ok: true });
    const [stored] = sim.logicalIdsOfType('Custom::StoredAmi');
    const [object] = h.ec2.s3Objects();
    expect(sim.physicalId(stored)).toBe(`s3://stored-amis/${object.key}`);
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.s3Objects()).toEqual([]);
  });

  test.each([
    [RemovalPolicy.DESTROY, 0],
    [RemovalPolicy.RETAIN, 1],
  ])('stack delete with removalPolicy %s: stored objects left in S3: %d', async (removalPolicy, left) => {
    const instanceId = h.ec2.addInstance({ region: REGION });
    const sim = h.sim();
    const template = lifecycleTemplate((stack) => {
      const golden = new AmiFromInstance(stack, 'Golden', { instanceId, removalPolicy: RemovalPolicy.DESTROY });
      new StoredAmi(stack, 'Stored', { image: golden, bucket: s3.Bucket.fromBucketName(stack, 'Store', 'stored-amis'), removalPolicy });
    });
    expect(await sim.deploy(template)).toEqual({ ok: true });
    expect(h.ec2.s3Objects()).toHaveLength(1);
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.s3Objects()).toHaveLength(left);
    // DeleteObject went over HTTP to the endpoint's S3, path-style.
    expect(h.ec2.callCount('DeleteObject')).toBe(1 - left);
  });
});
