/**
 * The local endpoint against the REAL AWS SDK v3 clients (see conformance.ts):
 * VM Import (import-image.ts).
 */
import {
  CancelImportTaskCommand,
  DescribeImportImageTasksCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  ImportImageCommand,
  ImportImageCommandInput,
  ImportImageTask,
} from '@aws-sdk/client-ec2';
import { describeImage, ec2, failure, server, useLocalEc2 } from './conformance';

useLocalEc2();

describe('VM Import (ImportImage)', () => {
  const DISK = { Description: 'root disk', Format: 'VMDK', UserBucket: { S3Bucket: 'vm-uploads', S3Key: 'images/web.vmdk' } };

  async function describeTask(client: EC2Client, importTaskId: string): Promise<ImportImageTask> {
    const { ImportImageTasks } = await client.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [importTaskId] }));
    expect(ImportImageTasks).toHaveLength(1);
    return ImportImageTasks![0];
  }

  /** What successive polls report: `status/statusMessage/progress`. */
  async function statusesUntilDone(client: EC2Client, importTaskId: string): Promise<string[]> {
    const seen: string[] = [];
    for (let poll = 0; poll < 40; poll++) {
      const task = await describeTask(client, importTaskId);
      seen.push([task.Status, task.StatusMessage, task.Progress].filter((part) => part !== undefined).join('/'));
      if (task.Status === 'completed' || task.Status === 'deleted') return seen;
    }
    throw new Error(`${importTaskId} did not finish`);
  }

  test('advances one step per poll through the real sequence and completes with an available, untagged AMI', async () => {
    const client = ec2();
    const started = await client.send(new ImportImageCommand({
      Description: 'web server VM',
      DiskContainers: [DISK],
      LicenseType: 'BYOL',
      RoleName: 'vmimport',
      TagSpecifications: [{ ResourceType: 'import-image-task', Tags: [{ Key: 'Project', Value: 'migration' }] }],
    }));
    expect(started.ImportTaskId).toMatch(/^import-ami-[0-9a-f]{17}$/);
    expect(started).toMatchObject({
      Status: 'active',
      StatusMessage: 'pending',
      Progress: '2',
      Description: 'web server VM',
      LicenseType: 'BYOL',
      Tags: [{ Key: 'Project', Value: 'migration' }],
      SnapshotDetails: [{
        Description: 'root disk',
        DiskImageSize: 0,
        Format: 'VMDK',
        Url: 's3://vm-uploads/images/web.vmdk',
        UserBucket: { S3Bucket: 'vm-uploads', S3Key: 'images/web.vmdk' },
      }],
    });
    expect(started.ImageId).toBeUndefined();
    expect(started.Architecture).toBeUndefined();

    expect(await statusesUntilDone(client, started.ImportTaskId!)).toEqual([
      'active/pending/2',
      'active/validating/3',
      'active/validated/6',
      'active/converting/19',
      'active/updating/27',
      'active/updated/30',
      'active/preparing to boot/34',
      'active/booting/39',
      'active/booted/46',
      'active/preparing ami/57',
      'completed',
    ]);

    const done = await describeTask(client, started.ImportTaskId!);
    expect(done).toMatchObject({ Status: 'completed', Architecture: 'x86_64', Platform: 'Linux', LicenseType: 'BYOL' });
    expect(done.ImageId).toMatch(/^ami-[0-9a-f]{17}$/);
    const [detail] = done.SnapshotDetails!;
    expect(detail).toMatchObject({ DeviceName: '/dev/sda1', Status: 'completed', DiskImageSize: 8 * 1024 ** 3, Format: 'VMDK' });
    expect(detail.SnapshotId).toMatch(/^snap-[0-9a-f]{17}$/);

    const image = await describeImage(client, done.ImageId!);
    expect(image).toMatchObject({ State: 'available', Name: started.ImportTaskId, RootDeviceName: '/dev/sda1', Architecture: 'x86_64' });
    expect(image.Tags).toBeUndefined();
    expect(image.BlockDeviceMappings![0].Ebs!.SnapshotId).toBe(detail.SnapshotId);
    const { Snapshots } = await client.send(new DescribeSnapshotsCommand({ SnapshotIds: [detail.SnapshotId!] }));
    expect(Snapshots![0]).toMatchObject({ State: 'completed', VolumeSize: 8, Description: `Created by AWS-VMImport service for ${started.ImportTaskId}` });
    expect(Snapshots![0].Tags).toBeUndefined();
    // Later polls report the same completed task and create nothing more.
    expect((await describeTask(client, started.ImportTaskId!)).ImageId).toBe(done.ImageId);
    expect(server.images('us-east-1')).toHaveLength(1);
  });

  test('is idempotent on ClientToken; a scripted failure ends deleted with its message; filters use Filters.N', async () => {
    const client = ec2();
    const request: ImportImageCommandInput = { ClientToken: 'import-1', DiskContainers: [DISK], Architecture: 'x86_64' };
    const first = await client.send(new ImportImageCommand(request));
    const retried = await client.send(new ImportImageCommand(request));
    expect(retried.ImportTaskId).toBe(first.ImportTaskId);
    expect(server.importTasks('us-east-1')).toHaveLength(1);
    const mismatch = await failure(client.send(new ImportImageCommand({ ...request, Architecture: 'i386' })));
    expect(mismatch.name).toBe('IdempotentParameterMismatch');

    server.importBehaviour = { finalStatus: 'deleted', failureMessage: 'ClientError: Unsupported kernel version 2.6.18', pollsPerStep: 2 };
    const doomed = await client.send(new ImportImageCommand({ DiskContainers: [DISK], Platform: 'Linux' }));
    expect(await statusesUntilDone(client, doomed.ImportTaskId!)).toEqual([
      'active/pending/2', 'active/pending/2',
      'active/validating/3', 'active/validating/3',
      'active/validated/6', 'active/validated/6',
      'active/converting/19', 'active/converting/19',
      'deleting/ClientError: Unsupported kernel version 2.6.18', 'deleting/ClientError: Unsupported kernel version 2.6.18',
      'deleted/ClientError: Unsupported kernel version 2.6.18',
    ]);
    expect((await describeTask(client, doomed.ImportTaskId!)).ImageId).toBeUndefined();
    expect(server.images('us-east-1')).toEqual([]);

    const byState = async (state: string) => ((await client.send(new DescribeImportImageTasksCommand({
      Filters: [{ Name: 'task-state', Values: [state] }],
    }))).ImportImageTasks ?? []).map((task) => task.ImportTaskId);
    expect(await byState('deleted')).toEqual([doomed.ImportTaskId]);
    expect(await byState('active')).toEqual([first.ImportTaskId]);
    expect(server.calls.filter((c) => c.action === 'DescribeImportImageTasks').every((c) => c.status === 200)).toBe(true);
  });

  test('CancelImportTask moves an active task to deleting, then deleted; finished and unknown tasks cannot be cancelled', async () => {
    const client = ec2();
    const { ImportTaskId } = await client.send(new ImportImageCommand({ DiskContainers: [DISK] }));
    await describeTask(client, ImportTaskId!);
    await describeTask(client, ImportTaskId!);

    const cancelled = await client.send(new CancelImportTaskCommand({ ImportTaskId }));
    expect(cancelled).toMatchObject({ ImportTaskId, PreviousState: 'active', State: 'deleting' });
    expect(await statusesUntilDone(client, ImportTaskId!)).toEqual(['deleting/user canceled', 'deleted/user canceled']);
    const again = await failure(client.send(new CancelImportTaskCommand({ ImportTaskId })));
    expect(again.name).toBe('IncorrectState');
    expect(again.message).toBe(`The import task '${ImportTaskId}' is deleted and can no longer be canceled`);

    server.importBehaviour = { finalStatus: 'completed' };
    const finished = await client.send(new ImportImageCommand({ DiskContainers: [DISK] }));
    await statusesUntilDone(client, finished.ImportTaskId!);
    expect((await failure(client.send(new CancelImportTaskCommand({ ImportTaskId: finished.ImportTaskId })))).name).toBe('IncorrectState');

    const unknown = await failure(client.send(new CancelImportTaskCommand({ ImportTaskId: 'import-ami-0123456789abcdef0' })));
    expect(unknown.name).toBe('InvalidConversionTaskId.Malformed');
  });

  test('expireImportTask makes DescribeImportImageTasks forget a task; tasks are regional', async () => {
    const client = ec2();
    const kept = await client.send(new ImportImageCommand({ DiskContainers: [DISK] }));
    const expired = await client.send(new ImportImageCommand({ DiskContainers: [DISK] }));
    server.expireImportTask(expired.ImportTaskId!);

    const gone = await failure(client.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [expired.ImportTaskId!] })));
    expect(gone.name).toBe('InvalidConversionTaskId.Malformed');
    expect(gone.message).toBe(`The import task ID '${expired.ImportTaskId}' is malformed or does not exist`);
    const { ImportImageTasks } = await client.send(new DescribeImportImageTasksCommand({}));
    expect(ImportImageTasks!.map((task) => task.ImportTaskId)).toEqual([kept.ImportTaskId]);
    expect(() => server.expireImportTask(expired.ImportTaskId!)).toThrow(/No import task/);
    expect((await failure(ec2('eu-west-1').send(new DescribeImportImageTasksCommand({ ImportTaskIds: [kept.ImportTaskId!] })))).name)
      .toBe('InvalidConversionTaskId.Malformed');
  });

  test('imports from an EBS snapshot (its size), encrypted, as Windows; validates disk containers and enums', async () => {
    const client = ec2();
    const snapshotId = server.addSnapshot({ region: 'us-east-1', sizeGiB: 30 });
    server.importBehaviour = { finalStatus: 'completed', pollsPerStep: 1 };
    const { ImportTaskId } = await client.send(new ImportImageCommand({
      DiskContainers: [{ SnapshotId: snapshotId }, { Format: 'raw', Url: 's3://vm-uploads/data.raw' }],
      Platform: 'Windows',
      BootMode: 'uefi',
      Encrypted: true,
      KmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/abcd',
    }));
    await statusesUntilDone(client, ImportTaskId!);
    const done = await describeTask(client, ImportTaskId!);
    expect(done).toMatchObject({ Platform: 'Windows', LicenseType: 'AWS', BootMode: 'uefi', Encrypted: true });
    expect(done.SnapshotDetails!.map((d) => [d.DeviceName, d.DiskImageSize, d.Url])).toEqual([
      ['/dev/sda1', 30 * 1024 ** 3, undefined],
      ['/dev/sdb', 8 * 1024 ** 3, 's3://vm-uploads/data.raw'],
    ]);
    const image = await describeImage(client, done.ImageId!);
    expect(image).toMatchObject({ Platform: 'windows', PlatformDetails: 'Windows', BootMode: 'uefi' });
    expect(image.BlockDeviceMappings!.map((m) => [m.DeviceName, m.Ebs!.VolumeSize, m.Ebs!.Encrypted])).toEqual([
      ['/dev/sda1', 30, true],
      ['/dev/sdb', 8, true],
    ]);

    const start = (input: ImportImageCommandInput) => failure(client.send(new ImportImageCommand(input)));
    expect((await start({})).name).toBe('MissingParameter');
    expect((await start({ DiskContainers: [{ Format: 'ISO', Url: 's3://b/k.iso' }] })).name).toBe('InvalidParameterValue');
    expect((await start({ DiskContainers: [{ Format: 'VMDK' }] })).name).toBe('InvalidParameterValue');
    expect((await start({ DiskContainers: [{ Url: 's3://b/k.vmdk' }] })).name).toBe('MissingParameter');
    expect((await start({ DiskContainers: [DISK], BootMode: 'uefi-preferred' })).name).toBe('InvalidParameterValue');
    expect((await start({ DiskContainers: [{ SnapshotId: 'snap-0123456789abcdef0' }] })).name).toBe('InvalidSnapshot.NotFound');
    const wrongType = await start({ DiskContainers: [DISK], TagSpecifications: [{ ResourceType: 'image', Tags: [{ Key: 'a', Value: 'b' }] }] });
    expect(wrongType.name).toBe('InvalidParameterValue');
    expect(server.importTasks('us-east-1')).toHaveLength(1);
  });
});
