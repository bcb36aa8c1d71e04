import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { FAILING_RESOURCE } from './cfn-simulator';
import { lifecycleTemplate, outputImage, SDK_ATTEMPTS, useLocalEc2 } from './harness';
import { AmiFromDisks, AmiFromDisksProps, BootMode, DiskImageFormat, ImportDisk } from '../../src';

const h = useLocalEc2();
const REGION = 'us-east-1';

function template(props: Partial<AmiFromDisksProps> = {}, root = 'nixos/root.vhd', extra = {}) {
  return lifecycleTemplate((stack) => new AmiFromDisks(stack, 'NixOS', {
    disks: [
      { deviceName: '/dev/xvda', disk: ImportDisk.fromBucket(s3.Bucket.fromBucketName(stack, 'Disks', 'vm-disks'), root, DiskImageFormat.VHD) },
      { deviceName: '/dev/sdf', disk: ImportDisk.fromUrl('s3://vm-disks/nixos/nix-store.raw', DiskImageFormat.RAW) },
    ],
    bootMode: BootMode.UEFI,
    ...props,
  }), extra);
}

const liveSnapshots = () => h.ec2.snapshots(REGION).map((s) => s.snapshotId);
const activeTasks = () => h.ec2.snapshotImportTasks(REGION).filter((t) => t.timeline[t.position].status === 'active');

describe('AmiFromDisks lifecycle against the local EC2 endpoint', () => {
  test('imports each disk, tags the snapshots it made as the stack\'s, and registers a UEFI image from them', async () => {
    const sim = h.sim();
    expect(await sim.deploy(template({ tags: { team: 'platform' }, snapshotTags: { backup: 'daily' }, removalPolicy: RemovalPolicy.DESTROY }))).toEqual({ ok: true });
    const tasks = h.ec2.snapshotImportTasks(REGION);
    expect(tasks).toHaveLength(2);
    const [imports] = sim.logicalIdsOfType('Custom::ImportedSnapshots');
    expect(sim.physicalId(imports)).toBe(tasks.map((t) => t.importTaskId).join(','));
    // Each task's progress reaches the log.
    const polls = h.logs.filter((l) => l.message === 'poll' && Array.isArray(l.tasks));
    expect(polls.flatMap((l) => (l.tasks as any[]).map((t) => t.statusMessage))).toEqual(expect.arrayContaining(['downloading/converting']));
    const image = outputImage(h.ec2, sim);
    expect(image).toMatchObject({ state: 'available', bootMode: 'uefi', rootDeviceName: '/dev/xvda' });
    const snapshots = h.ec2.snapshots(REGION);
    expect(image.blockDeviceMappings.map((m) => [m.deviceName, m.snapshotId])).toEqual([
      ['/dev/xvda', tasks[0].snapshotId], ['/dev/sdf', tasks[1].snapshotId],
    ]);
    for (const [i, snapshot] of snapshots.entries()) {
      expect(snapshot.tags).toMatchObject({ 'team': 'platform', 'backup': 'daily', 'cdk-ami:stack': sim.stackId, 'cdk-ami:import-task': tasks[i].importTaskId });
    }
    expect(image.tags).toMatchObject({ 'team': 'platform', 'cdk-ami:stack': sim.stackId });
    expect(image.tags.backup).toBeUndefined();

    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.liveImages(REGION)).toEqual([]);
    expect(liveSnapshots()).toEqual([]);
  });

  test('RETAIN keeps the image and its imported snapshots', async () => {
    const sim = h.sim();
    expect(await sim.deploy(template())).toEqual({ ok: true });
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.liveImages(REGION)).toHaveLength(1);
    expect(liveSnapshots()).toHaveLength(2);
  });

  test('a failed task fails the deployment with EC2\'s status message; nothing is left', async () => {
    h.ec2.snapshotImportBehaviour = { failures: { 'nixos/root.vhd': 'ClientError: Disk validation failed [Unsupported VHD Footer]' } };
    const sim = h.sim();
    const result = await sim.deploy(template());
    expect(result.ok).toBe(false);
    expect(result.reason!.split('\n')[0]).toMatch(
      /^Snapshot import import-snap-[0-9a-f]+ of disk 1 \(s3:\/\/vm-disks\/nixos\/root\.vhd\) in us-east-1 failed: ClientError: Disk validation failed \[Unsupported VHD Footer\]\./,
    );
    expect(h.ec2.liveImages(REGION)).toEqual([]);
    expect(liveSnapshots()).toEqual([]);
    expect(activeTasks()).toEqual([]);
  });

  test('rollback after one disk of several was imported: its untagged snapshot is removed, no task runs on', async () => {
    // The data disk fails after its last step, when the root disk's snapshot already exists.
    h.ec2.snapshotImportBehaviour = { failures: { 'nix-store.raw': 'ClientError: Unknown disk image format' } };
    const sim = h.sim();
    const result = await sim.deploy(template());
    expect(result.ok).toBe(false);
    expect(result.reason!.split('\n')[0]).toMatch(/^Snapshot import import-snap-[0-9a-f]+ of disk 2 \(s3:\/\/vm-disks\/nixos\/nix-store\.raw\) in us-east-1 failed: ClientError: Unknown disk image format\./);
    const [root] = h.ec2.snapshotImportTasks(REGION);
    expect(root.snapshotId).toMatch(/^snap-/);
    expect(h.logs.find((l) => l.message === 'snapshot deleted' && l.snapshotId === root.snapshotId)).toBeDefined();
    expect(liveSnapshots()).toEqual([]);
    expect(activeTasks()).toEqual([]);
    expect(h.ec2.liveImages(REGION)).toEqual([]);
  });

  test('a task that fails while another still runs: the other is cancelled, and the deployment fails with the first one\'s message', async () => {
    h.ec2.snapshotImportBehaviour = { failures: { 'root.vhd': 'ClientError: Disk validation failed' }, slow: ['nix-store.raw'] };
    const sim = h.sim();
    const result = await sim.deploy(template());
    expect(result.reason!.split('\n')[0]).toMatch(/of disk 1 .* failed: ClientError: Disk validation failed\./);
    const [, data] = h.ec2.snapshotImportTasks(REGION);
    expect(data.timeline[data.position].status).toBe('deleted');
    expect(data.snapshotId).toBeUndefined();
    expect(activeTasks()).toEqual([]);
    expect(liveSnapshots()).toEqual([]);
  });

  test('a deployment that times out cancels the tasks still running', async () => {
    h.ec2.snapshotImportBehaviour = { slow: ['nixos/'] };
    const sim = h.sim();
    const result = await sim.deploy(template({ timeout: Duration.minutes(10) }));
    expect(result.reason!.split('\n')[0]).toMatch(/^The snapshot imports in us-east-1 did not finish within the timeout of 10 min/);
    expect(activeTasks()).toEqual([]);
    expect(liveSnapshots()).toEqual([]);
  });

  test('a deployment that fails elsewhere after the image was registered leaves nothing on rollback', async () => {
    const sim = h.sim();
    const ids = Object.keys(template().Resources);
    const result = await sim.deploy(template({}, 'nixos/root.vhd', { Later: { Type: FAILING_RESOURCE, DependsOn: ids } }));
    expect(result).toMatchObject({ ok: false, failedResource: 'Later' });
    expect(h.ec2.liveImages(REGION)).toEqual([]);
    expect(liveSnapshots()).toEqual([]);
  });

  test('new disks import again and replace the image; the old image and its snapshots go under DESTROY', async () => {
    const sim = h.sim();
    expect(await sim.deploy(template({ removalPolicy: RemovalPolicy.DESTROY }))).toEqual({ ok: true });
    const first = outputImage(h.ec2, sim);
    expect(await sim.deploy(template({ removalPolicy: RemovalPolicy.DESTROY }, 'nixos/root-2.vhd'))).toEqual({ ok: true });
    const second = outputImage(h.ec2, sim);
    expect(second.imageId).not.toBe(first.imageId);
    expect(h.ec2.snapshotImportTasks(REGION)).toHaveLength(4);
    expect(h.ec2.liveImages(REGION).map((i) => i.imageId)).toEqual([second.imageId]);
    expect(liveSnapshots().sort()).toEqual(second.blockDeviceMappings.map((m) => m.snapshotId).sort());
  });

  test('a change of tags retags the image and its imported snapshots in place, without importing again', async () => {
    const sim = h.sim();
    expect(await sim.deploy(template({ tags: { team: 'platform', cost: 'a' } }))).toEqual({ ok: true });
    const image = outputImage(h.ec2, sim);
    expect(await sim.deploy(template({ tags: { team: 'infra' } }))).toEqual({ ok: true });
    expect(h.ec2.snapshotImportTasks(REGION)).toHaveLength(2);
    expect(outputImage(h.ec2, sim).imageId).toBe(image.imageId);
    for (const snapshot of h.ec2.snapshots(REGION)) {
      expect(snapshot.tags).toMatchObject({ 'team': 'infra', 'cdk-ami:stack': sim.stackId });
      expect(snapshot.tags.cost).toBeUndefined();
    }
  });

  test('a change of snapshotTags alone retags the imported snapshots in place, not the image, without importing again', async () => {
    const sim = h.sim();
    expect(await sim.deploy(template({ tags: { team: 'platform' }, snapshotTags: { backup: 'daily', team: 'storage' } }))).toEqual({ ok: true });
    const image = outputImage(h.ec2, sim);
    expect(await sim.deploy(template({ tags: { team: 'platform' }, snapshotTags: { backup: 'weekly' } }))).toEqual({ ok: true });
    expect(h.ec2.snapshotImportTasks(REGION)).toHaveLength(2);
    expect(outputImage(h.ec2, sim).imageId).toBe(image.imageId);
    const snapshots = h.ec2.snapshots(REGION);
    expect(snapshots).toHaveLength(2);
    for (const snapshot of snapshots) {
      // team falls back to the image's value once the snapshot-only one is gone.
      expect(snapshot.tags).toMatchObject({ 'backup': 'weekly', 'team': 'platform', 'cdk-ami:stack': sim.stackId });
    }
    expect(outputImage(h.ec2, sim).tags.backup).toBeUndefined();
  });

  test('an ImportSnapshot that took effect while every answer was a 5xx: its task is adopted for that disk, and deleting the stack removes everything', async () => {
    h.ec2.injectFault({ action: 'ImportSnapshot', times: SDK_ATTEMPTS, kind: 'tookEffect503' });
    const sim = h.sim();
    expect(await sim.deploy(template({ removalPolicy: RemovalPolicy.DESTROY }))).toEqual({ ok: true });
    const tasks = h.ec2.snapshotImportTasks(REGION);
    const [imports] = sim.logicalIdsOfType('Custom::ImportedSnapshots');
    expect(sim.physicalId(imports)!.split(',')).toEqual(tasks.map((t) => t.importTaskId));
    expect(tasks.map((t) => t.userBucket?.s3Key ?? t.url)).toEqual(['nixos/root.vhd', 's3://vm-disks/nixos/nix-store.raw']);
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.liveImages(REGION)).toEqual([]);
    expect(liveSnapshots()).toEqual([]);
  });

  test('the same create delivered twice starts each task once (ClientToken)', async () => {
    const sim = h.sim();
    expect(await sim.deploy(template())).toEqual({ ok: true });
    const [imports] = sim.logicalIdsOfType('Custom::ImportedSnapshots');
    expect(await sim.redeliverCreate(imports)).toBe(sim.physicalId(imports));
    expect(h.ec2.snapshotImportTasks(REGION)).toHaveLength(2);
  });
});
