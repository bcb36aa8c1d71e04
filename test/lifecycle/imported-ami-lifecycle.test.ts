import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { FAILING_RESOURCE } from './cfn-simulator';
import { lifecycleTemplate, outputImage, SDK_ATTEMPTS, useLocalEc2 } from './harness';
import { DiskImageFormat, ImportDisk, ImportedAmi, ImportLicenseType, ImportPlatform } from '../../src';

const h = useLocalEc2();
const REGION = 'us-east-1';

type Props = Partial<ConstructorParameters<typeof ImportedAmi>[2]>;
function template(props: Props = {}) {
  return lifecycleTemplate((stack) => new ImportedAmi(stack, 'Appliance', {
    disks: [ImportDisk.fromBucket(s3.Bucket.fromBucketName(stack, 'Disks', 'vm-disks'), 'appliance.raw', DiskImageFormat.RAW)],
    ...props,
  }));
}

function onlyImage(sim: ReturnType<typeof h.sim>) {
  return outputImage(h.ec2, sim);
}

describe('ImportedAmi lifecycle against the local EC2 endpoint', () => {
  test('follows the task through its real status messages, then tags the image and snapshots VM Import made', async () => {
    const sim = h.sim();
    expect(await sim.deploy(template({ tags: { team: 'platform' }, removalPolicy: RemovalPolicy.DESTROY }))).toEqual({ ok: true });
    // One log line per poll of the task, with its status message and progress.
    const taskPolls = h.logs.filter((l) => l.message === 'poll' && l.status === 'active');
    expect([...new Set(taskPolls.map((l) => l.statusMessage))]).toEqual(expect.arrayContaining(['pending', 'validating', 'converting', 'updating', 'booting', 'preparing ami']));
    expect(taskPolls.every((l) => l.progress !== undefined)).toBe(true);
    const image = onlyImage(sim);
    expect(image.state).toBe('available');
    const [operation] = sim.logicalIdsOfType('Custom::ImportedAmi');
    const taskId = sim.physicalId(operation)!;
    expect(taskId).toMatch(/^import-ami-/);
    expect(image.tags).toMatchObject({ 'team': 'platform', 'cdk-ami:stack': sim.stackId, 'cdk-ami:import-task': taskId });
    for (const snap of h.ec2.snapshots(REGION)) expect(snap.tags).toMatchObject({ 'cdk-ami:import-task': taskId });

    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.liveImages(REGION)).toEqual([]);
    expect(h.ec2.snapshots(REGION)).toEqual([]);
  });

  test('a task that ends deleted fails the deployment with EC2\'s message', async () => {
    h.ec2.importBehaviour = { finalStatus: 'deleted', failureMessage: 'ClientError: Unsupported kernel version 2.6.18' };
    const sim = h.sim();
    const result = await sim.deploy(template());
    expect(result.ok).toBe(false);
    expect(result.reason!.split('\n')[0]).toMatch(/^Import task import-ami-[0-9a-f]+ in us-east-1 failed: ClientError: Unsupported kernel version 2\.6\.18\./);
    expect(h.ec2.liveImages(REGION)).toEqual([]);
  });

  test('an import longer than one waiter link completes on the next link', async () => {
    // 12 steps × 12 polls × 15 s = 36 min: longer than a 30-minute link of the default hour.
    h.ec2.importBehaviour = { finalStatus: 'completed', pollsPerStep: 12 };
    const sim = h.sim();
    expect(await sim.deploy(template())).toEqual({ ok: true });
    expect(h.logs.find((l) => l.message === 'link budget spent; the next link keeps waiting')).toMatchObject({ link: '1/2' });
    expect(onlyImage(sim).state).toBe('available');
  });

  test('a deployment that gives up while the task is active cancels it on rollback', async () => {
    h.ec2.importBehaviour = { finalStatus: 'completed', pollsPerStep: 1000 };
    const sim = h.sim();
    const result = await sim.deploy(template({ timeout: Duration.minutes(10) }));
    expect(result.reason!.split('\n')[0]).toMatch(/^Image import-ami-[0-9a-f]+ is still pending \(pending\) in us-east-1 after the timeout of 10 min/);
    const [task] = h.ec2.importTasks(REGION);
    expect(h.ec2.callCount('CancelImportTask')).toBe(1);
    expect(task.timeline[task.timeline.length - 1].status).toBe('deleted');
    expect(h.ec2.liveImages(REGION)).toEqual([]);
  });

  test('delete after EC2 forgot the task finds the image by its tag', async () => {
    const sim = h.sim();
    await sim.deploy(template({ removalPolicy: RemovalPolicy.DESTROY }));
    const [operation] = sim.logicalIdsOfType('Custom::ImportedAmi');
    h.ec2.expireImportTask(sim.physicalId(operation)!);
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.liveImages(REGION)).toEqual([]);
    expect(h.ec2.snapshots(REGION)).toEqual([]);
  });

  test('imageName: the import is copied under the name and the unnamed import removed', async () => {
    const sim = h.sim();
    expect(await sim.deploy(template({ imageName: 'appliance-1.0', removalPolicy: RemovalPolicy.DESTROY }))).toEqual({ ok: true });
    const image = onlyImage(sim);
    expect(image.name).toBe('appliance-1.0');
    expect(image.state).toBe('available');
    expect(h.ec2.liveImages(REGION).map((i) => i.imageId)).toEqual([image.imageId]);
    expect(h.ec2.snapshots(REGION).every((s) => s.description.includes(image.imageId))).toBe(true);
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.liveImages(REGION)).toEqual([]);
    expect(h.ec2.snapshots(REGION)).toEqual([]);
  });

  test('the same import request delivered twice starts one task', async () => {
    const sim = h.sim();
    await sim.deploy(template());
    const [operation] = sim.logicalIdsOfType('Custom::ImportedAmi');
    expect(await sim.redeliverCreate(operation)).toBe(sim.physicalId(operation));
    expect(h.ec2.importTasks(REGION)).toHaveLength(1);
  });

  test('an ImportImage that took effect while every answer was a 5xx: the task it started is adopted, and deleting the stack removes its image', async () => {
    h.ec2.injectFault({ action: 'ImportImage', times: SDK_ATTEMPTS, kind: 'tookEffect503' });
    const sim = h.sim();
    expect(await sim.deploy(template({ removalPolicy: RemovalPolicy.DESTROY }))).toEqual({ ok: true });
    // The SDK's retries repeated the ClientToken: one task, the one the resource now stands for.
    const tasks = h.ec2.importTasks(REGION);
    expect(tasks.map((t) => t.importTaskId)).toEqual([sim.physicalId(sim.logicalIdsOfType('Custom::ImportedAmi')[0])]);
    expect(h.ec2.liveImages(REGION).map((i) => i.imageId)).toEqual([onlyImage(sim).imageId]);
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.liveImages(REGION)).toEqual([]);
    expect(h.ec2.snapshots(REGION)).toEqual([]);
  });

  test('a Windows BYOL import passes its licensing to VM Import: license type, usage operation and License Manager configurations', async () => {
    const sim = h.sim();
    const licenses = ['arn:aws:license-manager:us-east-1:123456789012:license-configuration:lic-0123456789abcdef0123456789abcdef'];
    expect(await sim.deploy(template({
      platform: ImportPlatform.WINDOWS, licenseType: ImportLicenseType.BYOL, usageOperation: 'RunInstances:0800', licenseConfigurationArns: licenses,
    }))).toEqual({ ok: true });
    const [task] = h.ec2.importTasks(REGION);
    expect(task).toMatchObject({ platform: 'Windows', licenseType: 'BYOL', usageOperation: 'RunInstances:0800', licenseConfigurationArns: licenses });
  });
});

describe('ImportedAmi in two stages: exact grants on what the import made', () => {
  const stage1Links = (sim: ReturnType<typeof h.sim>) => sim.logicalIdsOfType('Custom::AmiWaiter').filter((id) => id.startsWith('ApplianceImportWait'));
  const untaggedSnapshot = () => h.ec2.addSnapshot({ region: REGION, description: 'someone else\'s disk' });

  test('stage 1 hands out the image and snapshot IDs VM Import made, untagged; stage 2 tags exactly those', async () => {
    const foreign = untaggedSnapshot();
    const sim = h.sim();
    expect(await sim.deploy(template({ removalPolicy: RemovalPolicy.DESTROY }))).toEqual({ ok: true });
    const image = onlyImage(sim);
    const stage1 = stage1Links(sim);
    expect(stage1).toHaveLength(2);
    const last = stage1[stage1.length - 1];
    const snapshotIds = image.blockDeviceMappings.map((m) => m.snapshotId).filter(Boolean);
    expect(sim.attribute(last, 'ImageId')).toBe(image.imageId);
    expect(sim.attribute(last, 'SnapshotIds')).toBe(snapshotIds.join(','));
    expect(sim.attribute(last, 'SnapshotArns')).toBe(snapshotIds.map((id) => `arn:aws:ec2:${REGION}::snapshot/${id}`).join(','));
    // Stage 1 completed before anything was tagged: its completion is logged before the first tagging.
    const completed = h.logs.findIndex((l) => l.message === 'import task completed');
    const tagged = h.logs.findIndex((l) => l.message === 'imported image tagged');
    expect(completed).toBeGreaterThanOrEqual(0);
    expect(tagged).toBeGreaterThan(completed);
    expect(h.logs[tagged]).toMatchObject({ imageId: image.imageId, snapshotIds });
    expect(h.ec2.snapshots(REGION).find((s) => s.snapshotId === foreign)!.tags).toEqual({});

    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.liveImages(REGION)).toEqual([]);
    expect(h.ec2.snapshots(REGION).map((s) => s.snapshotId)).toEqual([foreign]);
  });

  test('a grant still propagating in IAM: stage 2 retries UnauthorizedOperation on the tagging and the copy, and says so in the log', async () => {
    h.ec2.injectFault({ action: 'CreateTags', times: 2, kind: 'unauthorized' });
    h.ec2.injectFault({ action: 'CopyImage', times: 2, kind: 'unauthorized' });
    const sim = h.sim();
    expect(await sim.deploy(template({ imageName: 'appliance-1.0', removalPolicy: RemovalPolicy.DESTROY }))).toEqual({ ok: true });
    const retries = h.logs.filter((l) => String(l.message).startsWith('not authorized yet on the imported image'));
    expect(retries).toHaveLength(4);
    expect(retries[0]).toMatchObject({ level: 'warn', retryForSeconds: expect.any(Number) });
    const image = onlyImage(sim);
    expect(image.name).toBe('appliance-1.0');
    expect(h.ec2.liveImages(REGION).map((i) => i.imageId)).toEqual([image.imageId]);
  });

  test('a grant that never arrives fails the deployment after a bounded wait; the rollback removes the untagged image and snapshots', async () => {
    h.ec2.injectFault({ action: 'CreateTags', times: 1000, kind: 'unauthorized' });
    const sim = h.sim();
    const result = await sim.deploy(template({ imageName: 'appliance-1.0' }));
    expect(result.ok).toBe(false);
    expect(result.failedResource).toMatch(/^ApplianceWaitWaiter1/);
    expect(result.reason!.split('\n')[0]).toMatch(
      /^Not authorized to tag or copy image ami-[0-9a-f]+ of import task import-ami-[0-9a-f]+ in us-east-1 after 5 minutes, although the ImportedAmi's policy grants it/,
    );
    expect(h.logs.find((l) => l.message === 'import that was never tagged removed')).toBeDefined();
    expect(h.ec2.liveImages(REGION)).toEqual([]);
    expect(h.ec2.snapshots(REGION)).toEqual([]);
    expect(h.ec2.callCount('CopyImage')).toBe(0);
  });

  test('a deployment that fails after the import was tagged and renamed leaves nothing on rollback', async () => {
    const sim = h.sim();
    const ids = Object.keys(template({ imageName: 'appliance-1.0' }).Resources);
    const result = await sim.deploy(lifecycleTemplate((stack) => new ImportedAmi(stack, 'Appliance', {
      disks: [ImportDisk.fromBucket(s3.Bucket.fromBucketName(stack, 'Disks', 'vm-disks'), 'appliance.raw', DiskImageFormat.RAW)],
      imageName: 'appliance-1.0',
    }), { Later: { Type: FAILING_RESOURCE, DependsOn: ids } }));
    expect(result).toMatchObject({ ok: false, failedResource: 'Later' });
    expect(h.ec2.liveImages(REGION)).toEqual([]);
    expect(h.ec2.snapshots(REGION)).toEqual([]);
  });

  test('a new import (changed disks) is tagged by its own exact IDs; the old image goes under DESTROY', async () => {
    const sim = h.sim();
    expect(await sim.deploy(template({ removalPolicy: RemovalPolicy.DESTROY }))).toEqual({ ok: true });
    const first = onlyImage(sim);
    const changed = lifecycleTemplate((stack) => new ImportedAmi(stack, 'Appliance', {
      disks: [ImportDisk.fromBucket(s3.Bucket.fromBucketName(stack, 'Disks', 'vm-disks'), 'appliance-2.raw', DiskImageFormat.RAW)],
      removalPolicy: RemovalPolicy.DESTROY,
    }));
    expect(await sim.deploy(changed)).toEqual({ ok: true });
    const second = onlyImage(sim);
    expect(second.imageId).not.toBe(first.imageId);
    const stage1 = stage1Links(sim);
    expect(sim.attribute(stage1[stage1.length - 1], 'ImageId')).toBe(second.imageId);
    expect(second.tags).toMatchObject({ 'cdk-ami:stack': sim.stackId });
    expect(h.ec2.liveImages(REGION).map((i) => i.imageId)).toEqual([second.imageId]);
  });
});

describe('ImportedAmi: the residual case', () => {
  test('a stack that fails elsewhere between the two stages cannot remove the untagged import: the log names it for removal by hand', async () => {
    // "Elsewhere" stands between stage 1 and stage 2: CloudFormation creates nothing more once the stack fails.
    const base = template();
    const stage1 = Object.keys(base.Resources).filter((id) => id.startsWith('ApplianceImportWait'));
    const stage2First = Object.keys(base.Resources).find((id) => id.startsWith('ApplianceWait'))!;
    const failing = {
      ...base,
      Resources: {
        ...base.Resources,
        Elsewhere: { Type: FAILING_RESOURCE, DependsOn: stage1 },
        [stage2First]: { ...base.Resources[stage2First], DependsOn: ['Elsewhere'] },
      },
    };
    const sim = h.sim();
    expect(await sim.deploy(failing)).toMatchObject({ ok: false, failedResource: 'Elsewhere' });
    const [image] = h.ec2.liveImages(REGION);
    expect(image.tags).toEqual({});
    const snapshotIds = image.blockDeviceMappings.map((m) => m.snapshotId).filter(Boolean);
    expect(h.logs.find((l) => l.message === 'imported image was never tagged as this stack\'s; if it still exists, remove it by hand')).toMatchObject({
      level: 'warn', imageId: image.imageId, action: `deregister ${image.imageId} and delete snapshots ${snapshotIds.join(', ')}`,
    });
  });
});
