import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { lifecycleTemplate, outputImage, useLocalEc2 } from './harness';
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
