import {
  CancelImportTaskCommand, CopyImageCommand, CreateTagsCommand, DescribeImagesCommand, DescribeImportImageTasksCommand, EC2Client, ImportImageCommand,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { CREATE_REQUEST, LOGICAL_ID, STACK_ID, WAITER, awsError, captureLogs, createEvent, deleteEvent, expectOneLine, hash, ownershipTagsFor, waiterProps } from './helpers';
import { isComplete, onEvent } from '../../lambda';

const ec2Mock = mockClient(EC2Client);
captureLogs();
const IMPORTED = 'Custom::ImportedAmi';
const TASK = 'import-ami-0123456789abcdef0';

beforeEach(() => ec2Mock.reset());

const importProps = (extra: Record<string, unknown> = {}) => ({
  Region: 'us-east-1',
  NamePrefix: 'Stack/Appliance',
  RemovalPolicy: 'destroy',
  RoleName: 'vmimport-role',
  Disks: [{ Format: 'VMDK', S3Bucket: 'vm-disks', S3Key: 'boot.vmdk' }, { SnapshotId: 'snap-0123456789abcdef0' }],
  Architecture: 'x86_64',
  Platform: 'Linux',
  Encrypted: 'true',
  Tags: [{ Key: 'team', Value: 'infra' }],
  ...extra,
});

describe('Custom::ImportedAmi operation', () => {
  test('starts ImportImage with a request-derived token and the ownership tags on the task', async () => {
    ec2Mock.on(ImportImageCommand).resolves({ ImportTaskId: TASK });
    expect((await onEvent(createEvent(IMPORTED, importProps()))).PhysicalResourceId).toBe(TASK);
    expect(ec2Mock).toHaveReceivedCommandWith(ImportImageCommand, {
      DiskContainers: [
        { Description: 'disk 1', Format: 'VMDK', UserBucket: { S3Bucket: 'vm-disks', S3Key: 'boot.vmdk' } },
        { Description: 'disk 2', SnapshotId: 'snap-0123456789abcdef0' },
      ],
      Architecture: 'x86_64',
      Platform: 'Linux',
      Encrypted: true,
      RoleName: 'vmimport-role',
      ClientToken: hash(`${STACK_ID}/${LOGICAL_ID}/${CREATE_REQUEST}`),
      TagSpecifications: [{ ResourceType: 'import-image-task', Tags: [{ Key: 'team', Value: 'infra' }, ...ownershipTagsFor(CREATE_REQUEST)] }],
    });
  });

  test.each([
    ['InvalidParameter', /^EC2 rejected the import in us-east-1: /],
    ['InvalidS3ObjectKey', /^A disk image of the import does not exist or cannot be read in S3: /],
    ['InternalError', /^ImportImage in us-east-1 failed: InternalError/],
  ])('%s becomes one sentence', async (code, message) => {
    ec2Mock.on(ImportImageCommand).rejects(awsError(code));
    const err = await onEvent(createEvent(IMPORTED, importProps())).then(() => undefined, (e: Error) => e);
    expect(err!.message).toMatch(message);
    expectOneLine(err!);
  });

  test('no disks is refused', async () => {
    await expect(onEvent(createEvent(IMPORTED, importProps({ Disks: [] })))).rejects.toThrow('ImportedAmi needs at least one disk.');
  });

  test('delete of an active task cancels it and deletes nothing else', async () => {
    ec2Mock.on(DescribeImportImageTasksCommand).resolves({ ImportImageTasks: [{ ImportTaskId: TASK, Status: 'active' }] });
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [] });
    await onEvent(deleteEvent(IMPORTED, TASK, importProps()));
    expect(ec2Mock).toHaveReceivedCommandWith(CancelImportTaskCommand, { ImportTaskId: TASK });
  });

  test('a cancel that races the task\'s end is not an error', async () => {
    ec2Mock.on(DescribeImportImageTasksCommand).resolves({ ImportImageTasks: [{ ImportTaskId: TASK, Status: 'active' }] });
    ec2Mock.on(CancelImportTaskCommand).rejects(awsError('IncorrectState'));
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [] });
    await expect(onEvent(deleteEvent(IMPORTED, TASK, importProps()))).resolves.toEqual({ PhysicalResourceId: TASK });
  });
});

describe('Custom::AmiWaiter following an import task', () => {
  const poll = (extra: Record<string, unknown> = {}) =>
    isComplete({ ...createEvent(WAITER, waiterProps({ ImageId: TASK, Link: '1', Links: '1', ...extra })), WaitStartedAt: Date.now() });

  test('an active task is pending', async () => {
    ec2Mock.on(DescribeImportImageTasksCommand).resolves({ ImportImageTasks: [{ ImportTaskId: TASK, Status: 'active', StatusMessage: 'converting', Progress: '28' }] });
    expect(await poll()).toEqual({ IsComplete: false });
  });

  test('a task that ends deleted fails with its message', async () => {
    ec2Mock.on(DescribeImportImageTasksCommand).resolves({ ImportImageTasks: [{ ImportTaskId: TASK, Status: 'deleted', StatusMessage: 'ClientError: No valid partitions' }] });
    await expect(poll()).rejects.toThrow(`Import task ${TASK} in us-east-1 failed: ClientError: No valid partitions.`);
  });

  test('a completed task\'s image and snapshots get the task\'s tags, then the image is followed', async () => {
    const taskTags = [{ Key: 'team', Value: 'infra' }, ...ownershipTagsFor(CREATE_REQUEST)];
    ec2Mock.on(DescribeImportImageTasksCommand).resolves({ ImportImageTasks: [{ ImportTaskId: TASK, Status: 'completed', ImageId: 'ami-0eeeeeeeeeeeeeee0', Tags: taskTags }] });
    ec2Mock.on(DescribeImagesCommand, { ImageIds: ['ami-0eeeeeeeeeeeeeee0'] }).resolves({
      Images: [{ ImageId: 'ami-0eeeeeeeeeeeeeee0', State: 'available', BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { SnapshotId: 'snap-1' } }] }],
    });
    ec2Mock.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({ Images: [] });
    const result = await poll();
    expect(result).toMatchObject({ IsComplete: true, Data: { ImageId: 'ami-0eeeeeeeeeeeeeee0', State: 'available' } });
    expect(ec2Mock).toHaveReceivedCommandWith(CreateTagsCommand, {
      Resources: ['ami-0eeeeeeeeeeeeeee0', 'snap-1'], Tags: [...taskTags, { Key: 'cdk-ami:import-task', Value: TASK }],
    });
    expect(ec2Mock).not.toHaveReceivedCommand(CopyImageCommand);
  });

  test('a task without cdk-ami\'s tags is never adopted', async () => {
    ec2Mock.on(DescribeImportImageTasksCommand).resolves({ ImportImageTasks: [{ ImportTaskId: TASK, Status: 'completed', ImageId: 'ami-0eeeeeeeeeeeeeee0', Tags: [] }] });
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [] });
    await expect(poll()).rejects.toThrow(/does not carry cdk-ami's ownership tags; refusing to adopt its image ami-0eeeeeeeeeeeeeee0/);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateTagsCommand);
  });

  test('a task EC2 does not know, past the grace period and with no tagged image, fails', async () => {
    ec2Mock.on(DescribeImportImageTasksCommand).rejects(awsError('InvalidConversionTaskId.Malformed'));
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [] });
    const event = { ...createEvent(WAITER, waiterProps({ ImageId: TASK, Link: '1', Links: '1' })), WaitStartedAt: Date.now() - 6 * 60_000 };
    await expect(isComplete(event)).rejects.toThrow(`Import task ${TASK} does not exist in us-east-1, and no image of it was found.`);
  });
});
