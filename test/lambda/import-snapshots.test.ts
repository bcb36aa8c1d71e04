import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  CancelImportTaskCommand, CreateTagsCommand, DeleteSnapshotCommand, DescribeImportSnapshotTasksCommand, DescribeSnapshotsCommand, EC2Client,
  ImportSnapshotCommand, ImportSnapshotTask,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  CREATE_REQUEST, LOGICAL_ID, REGION, SERVICE_TOKEN, STACK_ID, WAITER, awsError, captureLogs, createEvent, deleteEvent, hash, oneLineFailure,
  ownershipTagsFor, waiterProps,
} from './helpers';
import { isComplete, onEvent } from '../../lambda';

const ec2Mock = mockClient(EC2Client);
const cfnMock = mockClient(CloudFormationClient);
const logs = captureLogs();
const IMPORTS = 'Custom::ImportedSnapshots';
const TASKS = ['import-snap-0123456789abcdef0', 'import-snap-0fedcba9876543210'];
const SNAPSHOTS = ['snap-0aaaaaaaaaaaaaaa0', 'snap-0bbbbbbbbbbbbbbb0'];

beforeEach(() => {
  ec2Mock.reset();
  cfnMock.reset();
  cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'S', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date() }] });
});

const importProps = (extra: Record<string, unknown> = {}) => ({
  ServiceToken: SERVICE_TOKEN,
  Region: REGION,
  Disks: [{ Format: 'VHD', S3Bucket: 'vm-disks', S3Key: 'nixos/root.vhd' }, { Format: 'RAW', Url: 's3://vm-disks/store.raw' }],
  Encrypted: 'true',
  KmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/abc',
  RoleName: 'vmimport',
  Tags: [{ Key: 'team', Value: 'infra' }],
  RemovalPolicy: 'destroy',
  ...extra,
});

function task(id: string, status: string, extra: Partial<ImportSnapshotTask['SnapshotTaskDetail']> = {}, tags = ownershipTagsFor(CREATE_REQUEST)): ImportSnapshotTask {
  return { ImportTaskId: id, SnapshotTaskDetail: { Status: status, UserBucket: { S3Bucket: 'vm-disks', S3Key: 'nixos/root.vhd' }, ...extra }, Tags: tags };
}

function tasksAre(...tasks: ImportSnapshotTask[]): void {
  for (const t of tasks) ec2Mock.on(DescribeImportSnapshotTasksCommand, { ImportTaskIds: [t.ImportTaskId!] }).resolves({ ImportSnapshotTasks: [t] });
}

describe('Custom::ImportedSnapshots operation', () => {
  test('starts one ImportSnapshot per disk, each with its own request-derived token and the ownership tags on the task', async () => {
    ec2Mock.on(ImportSnapshotCommand).resolvesOnce({ ImportTaskId: TASKS[0] }).resolvesOnce({ ImportTaskId: TASKS[1] });
    expect((await onEvent(createEvent(IMPORTS, importProps()))).PhysicalResourceId).toBe(TASKS.join(','));
    const tags = [{ Key: 'team', Value: 'infra' }, ...ownershipTagsFor(CREATE_REQUEST)];
    expect(ec2Mock).toHaveReceivedNthCommandWith(1, ImportSnapshotCommand, {
      DiskContainer: { Description: 'disk 1', Format: 'VHD', UserBucket: { S3Bucket: 'vm-disks', S3Key: 'nixos/root.vhd' } },
      Encrypted: true,
      KmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/abc',
      RoleName: 'vmimport',
      ClientToken: hash(`${STACK_ID}/${LOGICAL_ID}/${CREATE_REQUEST}/0`),
      TagSpecifications: [{ ResourceType: 'import-snapshot-task', Tags: tags }],
    });
    expect(ec2Mock).toHaveReceivedNthCommandWith(2, ImportSnapshotCommand, {
      DiskContainer: { Description: 'disk 2', Format: 'RAW', Url: 's3://vm-disks/store.raw' },
      ClientToken: hash(`${STACK_ID}/${LOGICAL_ID}/${CREATE_REQUEST}/1`),
    });
  });

  test('a disk EC2 refuses cancels the tasks already started and fails in one sentence naming the disk', async () => {
    ec2Mock.on(ImportSnapshotCommand).resolvesOnce({ ImportTaskId: TASKS[0] }).rejectsOnce(awsError('InvalidParameter', 'Unsupported format'));
    tasksAre(task(TASKS[0], 'active'));
    const err = await oneLineFailure(onEvent(createEvent(IMPORTS, importProps())));
    expect(err.message).toBe('EC2 rejected the import of disk 2 (s3://vm-disks/store.raw) in us-east-1: Unsupported format');
    expect(ec2Mock).toHaveReceivedCommandWith(CancelImportTaskCommand, { ImportTaskId: TASKS[0] });
  });

  test('delete cancels running tasks and, under DESTROY, deletes the snapshots tagged with its tasks and owner', async () => {
    tasksAre(task(TASKS[0], 'completed', { SnapshotId: SNAPSHOTS[0] }), task(TASKS[1], 'active'));
    ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: SNAPSHOTS[0] }] });
    await onEvent(deleteEvent(IMPORTS, TASKS.join(','), importProps()));
    expect(ec2Mock).toHaveReceivedCommandTimes(CancelImportTaskCommand, 1);
    expect(ec2Mock).toHaveReceivedCommandWith(CancelImportTaskCommand, { ImportTaskId: TASKS[1] });
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeSnapshotsCommand, {
      Filters: [{ Name: 'tag:cdk-ami:import-task', Values: TASKS }, { Name: 'tag:cdk-ami:owner', Values: [hash(`${STACK_ID}/${LOGICAL_ID}`)] }],
    });
    expect(ec2Mock).toHaveReceivedCommandWith(DeleteSnapshotCommand, { SnapshotId: SNAPSHOTS[0] });
  });

  test('delete under RETAIN keeps the snapshots, unless the stack is rolling back', async () => {
    tasksAre(task(TASKS[0], 'completed'), task(TASKS[1], 'completed'));
    ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: SNAPSHOTS[0] }] });
    await onEvent(deleteEvent(IMPORTS, TASKS.join(','), importProps({ RemovalPolicy: 'retain' })));
    expect(ec2Mock).not.toHaveReceivedCommand(DeleteSnapshotCommand);
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'S', StackStatus: 'ROLLBACK_IN_PROGRESS', CreationTime: new Date() }] });
    await onEvent(deleteEvent(IMPORTS, TASKS.join(','), importProps({ RemovalPolicy: 'retain' })));
    expect(ec2Mock).toHaveReceivedCommandWith(DeleteSnapshotCommand, { SnapshotId: SNAPSHOTS[0] });
  });

  test('a snapshot an image still uses is kept with a warning', async () => {
    tasksAre(task(TASKS[0], 'completed'), task(TASKS[1], 'completed'));
    ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: SNAPSHOTS[0] }] });
    ec2Mock.on(DeleteSnapshotCommand).rejects(awsError('InvalidSnapshot.InUse'));
    await onEvent(deleteEvent(IMPORTS, TASKS.join(','), importProps()));
    expect(logs.find('snapshot in use by another image; left alone')).toHaveLength(1);
  });
});

/** One isComplete of a waiter link that started `waitedMs` ago. */
function pollWaiter(props: Record<string, unknown>, waitedMs: number) {
  return isComplete({ ...createEvent(WAITER, props), WaitStartedAt: Date.now() - waitedMs });
}

const follow = (extra: Record<string, unknown> = {}) => waiterProps({
  ImageId: TASKS.join(','), Target: 'snapshot-import', SnapshotArnPrefix: 'arn:aws:ec2:us-east-1::snapshot/', ...extra,
});

describe('stage 1: following the snapshot imports', () => {
  const poll = (props: Record<string, unknown>, waitedMs = 60_000) => pollWaiter(props, waitedMs);

  test('completes with the snapshots in disk order once every task completed, tagging nothing', async () => {
    tasksAre(task(TASKS[0], 'completed', { SnapshotId: SNAPSHOTS[0] }), task(TASKS[1], 'completed', { SnapshotId: SNAPSHOTS[1] }));
    expect(await poll(follow())).toEqual({
      IsComplete: true,
      Data: {
        ImageId: TASKS.join(','),
        SnapshotIds: SNAPSHOTS.join(','),
        State: 'completed',
        Failure: '',
        SnapshotArns: SNAPSHOTS.map((s) => `arn:aws:ec2:us-east-1::snapshot/${s}`).join(','),
      },
    });
    expect(ec2Mock).not.toHaveReceivedCommand(CreateTagsCommand);
  });

  test('keeps waiting while a task is active', async () => {
    tasksAre(task(TASKS[0], 'completed', { SnapshotId: SNAPSHOTS[0] }), task(TASKS[1], 'active', { StatusMessage: 'downloading/converting', Progress: '42' }));
    expect(await poll(follow())).toEqual({ IsComplete: false });
  });

  test('a failed task with no snapshot made fails with EC2\'s status message, after cancelling the others', async () => {
    tasksAre(task(TASKS[0], 'deleted', { StatusMessage: 'ClientError: Disk validation failed [Invalid VHD footer].' }), task(TASKS[1], 'active'));
    expect(await poll(follow())).toEqual({ IsComplete: false });
    expect(ec2Mock).toHaveReceivedCommandWith(CancelImportTaskCommand, { ImportTaskId: TASKS[1] });
    tasksAre(
      task(TASKS[0], 'deleted', { StatusMessage: 'ClientError: Disk validation failed [Invalid VHD footer].' }),
      task(TASKS[1], 'deleted', { StatusMessage: 'cancelled by cdk-ami: …' }),
    );
    const err = await oneLineFailure(poll(follow()));
    expect(err.message).toBe(`Snapshot import ${TASKS[0]} of disk 1 (s3://vm-disks/nixos/root.vhd) in us-east-1 failed: ClientError: Disk validation failed [Invalid VHD footer].`);
  });

  test('a failed task after another completed hands the completed snapshot to stage 2 with the failure', async () => {
    tasksAre(task(TASKS[0], 'completed', { SnapshotId: SNAPSHOTS[0] }), task(TASKS[1], 'deleted', { StatusMessage: 'ClientError: Unknown format' }));
    const out = await poll(follow());
    expect(out).toMatchObject({
      IsComplete: true, Data: { SnapshotIds: SNAPSHOTS[0], State: 'failed', Failure: expect.stringMatching(/of disk 2 .* failed: ClientError: Unknown format\.$/) },
    });
  });

  test('the last link out of time cancels the running tasks and fails with the timeout', async () => {
    tasksAre(task(TASKS[0], 'active'), task(TASKS[1], 'active'));
    expect(await poll(follow({ Link: '2', Links: '2' }), 3000_000)).toEqual({ IsComplete: false });
    expect(ec2Mock).toHaveReceivedCommandTimes(CancelImportTaskCommand, 2);
  });
});

const adopt = (extra: Record<string, unknown> = {}) => waiterProps({
  ImageId: TASKS.join(','), Target: 'snapshot-adopt', ImportedSnapshotIds: SNAPSHOTS.join(','), Link: '1', Links: '1', ...extra,
});

describe('stage 2: adopting exactly the snapshots stage 1 handed out', () => {
  const poll = (props: Record<string, unknown>, waitedMs = 10_000) => pollWaiter(props, waitedMs);

  test('tags each untagged snapshot with its task\'s tags, the snapshot-only tags and the task ID', async () => {
    ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: SNAPSHOTS.map((SnapshotId) => ({ SnapshotId, Tags: [] })) });
    tasksAre(task(TASKS[0], 'completed', { SnapshotId: SNAPSHOTS[0] }), task(TASKS[1], 'completed', { SnapshotId: SNAPSHOTS[1] }));
    expect(await poll(adopt({ SnapshotTags: [{ Key: 'backup', Value: 'daily' }] }))).toEqual({
      IsComplete: true, Data: { ImageId: TASKS.join(','), SnapshotIds: SNAPSHOTS.join(','), State: 'completed' },
    });
    expect(ec2Mock).toHaveReceivedCommandWith(CreateTagsCommand, {
      Resources: [SNAPSHOTS[0]],
      Tags: [...ownershipTagsFor(CREATE_REQUEST), { Key: 'backup', Value: 'daily' }, { Key: 'cdk-ami:import-task', Value: TASKS[0] }],
    });
  });

  test('refuses a snapshot that is not what its task made', async () => {
    ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: SNAPSHOTS.map((SnapshotId) => ({ SnapshotId, Tags: [] })) });
    tasksAre(task(TASKS[0], 'completed', { SnapshotId: 'snap-0ccccccccccccccc0' }), task(TASKS[1], 'completed', { SnapshotId: SNAPSHOTS[1] }));
    const err = await oneLineFailure(poll(adopt()));
    expect(err.message).toBe(`Snapshot import ${TASKS[0]} made snapshot snap-0ccccccccccccccc0, not ${SNAPSHOTS[0]}; refusing to adopt ${SNAPSHOTS[0]}.`);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateTagsCommand);
  });

  test('UnauthorizedOperation while the grant propagates is retried, then fails in one sentence', async () => {
    ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: SNAPSHOTS.map((SnapshotId) => ({ SnapshotId, Tags: [] })) });
    tasksAre(task(TASKS[0], 'completed', { SnapshotId: SNAPSHOTS[0] }), task(TASKS[1], 'completed', { SnapshotId: SNAPSHOTS[1] }));
    ec2Mock.on(CreateTagsCommand).rejects(awsError('UnauthorizedOperation'));
    expect(await poll(adopt())).toEqual({ IsComplete: false });
    const err = await oneLineFailure(poll(adopt(), 6 * 60_000));
    expect(err.message).toMatch(/^Not authorized to tag the imported snapshots .* after 5 minutes/);
  });

  test('a failure from stage 1 removes the snapshots and fails with EC2\'s message', async () => {
    ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: SNAPSHOTS[0], Tags: [] }] });
    const err = await oneLineFailure(poll(adopt({ ImportedSnapshotIds: SNAPSHOTS[0], ImportFailure: 'Snapshot import x of disk 2 (s3://b/k) in us-east-1 failed: ClientError.' })));
    expect(err.message).toBe('Snapshot import x of disk 2 (s3://b/k) in us-east-1 failed: ClientError.');
    expect(ec2Mock).toHaveReceivedCommandWith(DeleteSnapshotCommand, { SnapshotId: SNAPSHOTS[0] });
  });

  test('its delete removes the snapshots never tagged as the stack\'s, and leaves tagged ones to their owner', async () => {
    ec2Mock.on(DescribeSnapshotsCommand, { SnapshotIds: [SNAPSHOTS[0]] }).resolves({ Snapshots: [{ SnapshotId: SNAPSHOTS[0], Tags: [] }] });
    const tagged = { SnapshotId: SNAPSHOTS[1], Tags: ownershipTagsFor(CREATE_REQUEST) };
    ec2Mock.on(DescribeSnapshotsCommand, { SnapshotIds: [SNAPSHOTS[1]] }).resolves({ Snapshots: [tagged] });
    await onEvent(deleteEvent(WAITER, `${TASKS.join(',')}/wait-1`, adopt()));
    expect(ec2Mock).toHaveReceivedCommandTimes(DeleteSnapshotCommand, 1);
    expect(ec2Mock).toHaveReceivedCommandWith(DeleteSnapshotCommand, { SnapshotId: SNAPSHOTS[0] });
  });
});
