/**
 * The local endpoint against the REAL AWS SDK v3 clients (see conformance.ts):
 * VM Import of single disks (import-snapshot.ts).
 */
import {
  CancelImportTaskCommand, DescribeImportSnapshotTasksCommand, DescribeSnapshotsCommand, EC2Client, ImportSnapshotCommand, ImportSnapshotTask,
} from '@aws-sdk/client-ec2';
import { ec2, failure, server, useLocalEc2 } from './conformance';

useLocalEc2();

describe('VM Import of a disk (ImportSnapshot)', () => {
  const DISK = { Description: 'root disk', Format: 'VHD', UserBucket: { S3Bucket: 'vm-uploads', S3Key: 'nixos/root.vhd' } };

  async function describeTask(client: EC2Client, importTaskId: string): Promise<ImportSnapshotTask> {
    const { ImportSnapshotTasks } = await client.send(new DescribeImportSnapshotTasksCommand({ ImportTaskIds: [importTaskId] }));
    expect(ImportSnapshotTasks).toHaveLength(1);
    return ImportSnapshotTasks![0];
  }

  test('advances one step per poll and completes with a completed, untagged snapshot; the tags are the task\'s', async () => {
    const client = ec2();
    const started = await client.send(new ImportSnapshotCommand({
      Description: 'nixos',
      DiskContainer: DISK,
      Encrypted: true,
      KmsKeyId: 'alias/disks',
      RoleName: 'vmimport',
      TagSpecifications: [{ ResourceType: 'import-snapshot-task', Tags: [{ Key: 'Project', Value: 'nixos' }] }],
    }));
    expect(started.ImportTaskId).toMatch(/^import-snap-[0-9a-f]{17}$/);
    expect(started.SnapshotTaskDetail).toMatchObject({ Status: 'active', StatusMessage: 'pending', Format: 'VHD', UserBucket: { S3Bucket: 'vm-uploads', S3Key: 'nixos/root.vhd' } });
    expect(started.Tags).toEqual([{ Key: 'Project', Value: 'nixos' }]);
    const seen: string[] = [];
    let task = await describeTask(client, started.ImportTaskId!);
    while (task.SnapshotTaskDetail!.Status === 'active') {
      seen.push(task.SnapshotTaskDetail!.StatusMessage!);
      task = await describeTask(client, started.ImportTaskId!);
    }
    expect(seen).toEqual(['pending', 'downloading/converting', 'validating']);
    expect(task.SnapshotTaskDetail).toMatchObject({ Status: 'completed', Encrypted: true, KmsKeyId: 'alias/disks', SnapshotId: expect.stringMatching(/^snap-/) });
    const { Snapshots } = await client.send(new DescribeSnapshotsCommand({ SnapshotIds: [task.SnapshotTaskDetail!.SnapshotId!] }));
    expect(Snapshots![0]).toMatchObject({ State: 'completed', Encrypted: true, Description: `Created by AWS-VMImport service for ${started.ImportTaskId}` });
    expect(Snapshots![0].Tags ?? []).toEqual([]);
  });

  test('the same ClientToken returns the same task; with other parameters it is an IdempotentParameterMismatch', async () => {
    const client = ec2();
    const first = await client.send(new ImportSnapshotCommand({ DiskContainer: DISK, ClientToken: 'token-1' }));
    expect((await client.send(new ImportSnapshotCommand({ DiskContainer: DISK, ClientToken: 'token-1' }))).ImportTaskId).toBe(first.ImportTaskId);
    const err = await failure(client.send(new ImportSnapshotCommand({ DiskContainer: { ...DISK, Format: 'RAW' }, ClientToken: 'token-1' })));
    expect(err.name).toBe('IdempotentParameterMismatch');
  });

  test('refuses formats ImportSnapshot does not read and tags of other resource types', async () => {
    const client = ec2();
    expect((await failure(client.send(new ImportSnapshotCommand({ DiskContainer: { ...DISK, Format: 'OVA' } })))).name).toBe('InvalidParameterValue');
    const tagged = client.send(new ImportSnapshotCommand({ DiskContainer: DISK, TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'a', Value: 'b' }] }] }));
    expect((await failure(tagged)).name).toBe('InvalidParameterValue');
  });

  test('a failing disk reports deleting, then deleted, with its status message; CancelImportTask stops an active task', async () => {
    server.snapshotImportBehaviour = { failures: { 'broken.vhd': 'ClientError: Disk validation failed' } };
    const client = ec2();
    const broken = await client.send(new ImportSnapshotCommand({ DiskContainer: { ...DISK, UserBucket: { S3Bucket: 'vm-uploads', S3Key: 'broken.vhd' } } }));
    let task = await describeTask(client, broken.ImportTaskId!);
    while (task.SnapshotTaskDetail!.Status === 'active') task = await describeTask(client, broken.ImportTaskId!);
    expect(task.SnapshotTaskDetail).toMatchObject({ Status: 'deleting', StatusMessage: 'ClientError: Disk validation failed' });
    expect((await describeTask(client, broken.ImportTaskId!)).SnapshotTaskDetail).toMatchObject({ Status: 'deleted', StatusMessage: 'ClientError: Disk validation failed' });

    const running = await client.send(new ImportSnapshotCommand({ DiskContainer: DISK }));
    expect(await client.send(new CancelImportTaskCommand({ ImportTaskId: running.ImportTaskId, CancelReason: 'no longer needed' }))).toMatchObject({ PreviousState: 'active', State: 'deleting' });
    await describeTask(client, running.ImportTaskId!);
    expect((await describeTask(client, running.ImportTaskId!)).SnapshotTaskDetail).toMatchObject({ Status: 'deleted', StatusMessage: 'no longer needed' });
    expect((await failure(client.send(new CancelImportTaskCommand({ ImportTaskId: running.ImportTaskId })))).name).toBe('IncorrectState');
  });

  test('an unknown task ID is refused', async () => {
    const err = await failure(ec2().send(new DescribeImportSnapshotTasksCommand({ ImportTaskIds: ['import-snap-0123456789abcdef0'] })));
    expect(err.name).toBe('InvalidConversionTaskId.Malformed');
  });
});
