import {
  CancelImportTaskCommand, CopyImageCommand, CreateTagsCommand, DeleteSnapshotCommand, DeregisterImageCommand, DescribeImagesCommand,
  DescribeImportImageTasksCommand, EC2Client, Image, ImportImageCommand,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  CREATE_REQUEST, LOGICAL_ID, STACK_ID, WAITER, awsError, captureLogs, createEvent, deleteEvent, expectOneLine, hash, imageProps, oneLineFailure,
  awsServerError, ownershipTagsFor, recordSleeps, rejectionOf, updateEvent, waiterProps,
} from './helpers';
import { isComplete, onEvent } from '../../lambda';

const ec2Mock = mockClient(EC2Client);
const logLines = captureLogs();
recordSleeps();
const IMPORTED = 'Custom::ImportedAmi';
const TASK = 'import-ami-0123456789abcdef0';

beforeEach(() => ec2Mock.reset());

const importProps = (extra: Record<string, unknown> = {}) => imageProps('Stack/Appliance', {
  RemovalPolicy: 'destroy',
  RoleName: 'vmimport-role',
  Disks: [{ Format: 'VMDK', S3Bucket: 'vm-disks', S3Key: 'boot.vmdk' }, { SnapshotId: 'snap-0123456789abcdef0' }],
  Architecture: 'x86_64',
  Platform: 'Linux',
  Encrypted: 'true',
}, extra);

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
    const err = await oneLineFailure(onEvent(createEvent(IMPORTED, importProps())));
    expect(err.message).toMatch(message);
  });

  describe('an ImportImage whose every answer was a 5xx (VM Import may have started the task)', () => {
    beforeEach(() => {
      ec2Mock.on(ImportImageCommand).rejects(awsServerError('InternalError', 500, 'An internal error has occurred.'));
    });

    test('adopts the task this request started, found page by page by its ownership tags', async () => {
      const otherRequest = { ImportTaskId: 'import-ami-0ther000000000000', Tags: ownershipTagsFor('another-request') };
      ec2Mock.on(DescribeImportImageTasksCommand)
        .resolvesOnce({ ImportImageTasks: [otherRequest], NextToken: 'page-2' })
        .resolves({ ImportImageTasks: [{ ImportTaskId: TASK, Status: 'active', Tags: [{ Key: 'team', Value: 'infra' }, ...ownershipTagsFor(CREATE_REQUEST)] }] });
      expect((await onEvent(createEvent(IMPORTED, importProps()))).PhysicalResourceId).toBe(TASK);
      expect(ec2Mock.commandCalls(DescribeImportImageTasksCommand).map((c) => c.args[0].input.NextToken)).toEqual([undefined, 'page-2']);
    });

    test('with no task of this request, fails with the 5xx', async () => {
      ec2Mock.on(DescribeImportImageTasksCommand).resolves({ ImportImageTasks: [{ ImportTaskId: 'import-ami-0ther000000000000', Tags: ownershipTagsFor('another-request') }] });
      const err = await rejectionOf(onEvent(createEvent(IMPORTED, importProps())));
      expect(err.message).toBe('ImportImage in us-east-1 failed: InternalError: An internal error has occurred.');
    });

    test('when EC2 cannot be asked either, fails with the 5xx and logs what to look for', async () => {
      ec2Mock.on(DescribeImportImageTasksCommand).rejects(awsServerError());
      await expect(onEvent(createEvent(IMPORTED, importProps()))).rejects.toThrow('ImportImage in us-east-1 failed: InternalError');
      expect(logLines.find('could not look for an import task the failed start may have made; cancel it if it exists')).toEqual([
        expect.objectContaining({ request: hash(CREATE_REQUEST), region: 'us-east-1' }),
      ]);
    });
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

const IMPORTED_IMAGE = 'ami-0eeeeeeeeeeeeeee0';
const PREFIX = 'arn:aws:ec2:us-east-1::snapshot/';
const untaggedImport = (extra: Partial<Image> = {}): Image => ({
  ImageId: IMPORTED_IMAGE, State: 'available', BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { SnapshotId: 'snap-1' } }, { DeviceName: '/dev/sdb', Ebs: { SnapshotId: 'snap-2' } }], ...extra,
});

describe('Custom::AmiWaiter stage 1: following an import task', () => {
  const stage1 = (extra: Record<string, unknown> = {}) => waiterProps({ ImageId: TASK, Link: '1', Links: '1', Target: 'import', SnapshotArnPrefix: PREFIX, ...extra });
  const poll = (extra: Record<string, unknown> = {}) => isComplete({ ...createEvent(WAITER, stage1(extra)), WaitStartedAt: Date.now() });

  test('an active task is pending', async () => {
    ec2Mock.on(DescribeImportImageTasksCommand).resolves({ ImportImageTasks: [{ ImportTaskId: TASK, Status: 'active', StatusMessage: 'converting', Progress: '28' }] });
    expect(await poll()).toEqual({ IsComplete: false });
  });

  test.each(['ClientError: No valid partitions', 'ClientError: No valid partitions.'])('a task that ends deleted fails with its message "%s", ended by one full stop', async (statusMessage) => {
    ec2Mock.on(DescribeImportImageTasksCommand).resolves({ ImportImageTasks: [{ ImportTaskId: TASK, Status: 'deleted', StatusMessage: statusMessage }] });
    await expect(poll()).rejects.toThrow(`Import task ${TASK} in us-east-1 failed: ClientError: No valid partitions. Check the disk image format`);
  });

  test('a completed task hands out the image and snapshot IDs it made, and their ARNs, without tagging anything', async () => {
    ec2Mock.on(DescribeImportImageTasksCommand).resolves({ ImportImageTasks: [{ ImportTaskId: TASK, Status: 'completed', ImageId: IMPORTED_IMAGE, Tags: ownershipTagsFor(CREATE_REQUEST) }] });
    ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMPORTED_IMAGE] }).resolves({ Images: [untaggedImport()] });
    expect(await poll()).toEqual({
      IsComplete: true,
      Data: { ImageId: IMPORTED_IMAGE, SnapshotIds: 'snap-1,snap-2', SnapshotArns: `${PREFIX}snap-1,${PREFIX}snap-2`, ImageName: '', State: 'completed' },
    });
    expect(ec2Mock).not.toHaveReceivedCommand(CreateTagsCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(CopyImageCommand);
  });

  test('a link that starts after the task completed hands out the same again', async () => {
    ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMPORTED_IMAGE] }).resolves({ Images: [untaggedImport()] });
    expect(await poll({ ImageId: IMPORTED_IMAGE, Link: '2', Links: '2' })).toMatchObject({
      IsComplete: true, Data: { ImageId: IMPORTED_IMAGE, SnapshotIds: 'snap-1,snap-2' },
    });
    expect(ec2Mock).not.toHaveReceivedCommand(DescribeImportImageTasksCommand);
  });

  test('a task EC2 forgot hands out the oldest image tagged with it (the import, not its named copy)', async () => {
    ec2Mock.on(DescribeImportImageTasksCommand).rejects(awsError('InvalidConversionTaskId.Malformed'));
    ec2Mock.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({
      Images: [untaggedImport({ ImageId: 'ami-0named0000000000', CreationDate: '2026-11-02T00:00:00Z' }), untaggedImport({ CreationDate: '2026-11-01T00:00:00Z' })],
    });
    expect(await poll()).toMatchObject({ IsComplete: true, Data: { ImageId: IMPORTED_IMAGE } });
  });

  test('a task EC2 does not know, past the grace period and with no tagged image, fails', async () => {
    ec2Mock.on(DescribeImportImageTasksCommand).rejects(awsError('InvalidConversionTaskId.Malformed'));
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [] });
    const event = { ...createEvent(WAITER, stage1()), WaitStartedAt: Date.now() - 6 * 60_000 };
    await expect(isComplete(event)).rejects.toThrow(`Import task ${TASK} does not exist in us-east-1, and no image of it was found.`);
  });

  test('a link out of budget hands the task ID on to the next link', async () => {
    ec2Mock.on(DescribeImportImageTasksCommand).resolves({ ImportImageTasks: [{ ImportTaskId: TASK, Status: 'active', StatusMessage: 'converting' }] });
    const event = { ...createEvent(WAITER, stage1({ Link: '1', Links: '2', BudgetSeconds: '600' })), WaitStartedAt: Date.now() - 600_000 };
    expect(await isComplete(event)).toMatchObject({ IsComplete: true, Data: { ImageId: TASK } });
  });
});

describe('Custom::AmiWaiter stage 2: finishing an import by its exact IDs', () => {
  const taskTags = [{ Key: 'team', Value: 'infra' }, ...ownershipTagsFor(CREATE_REQUEST)];
  const stage2 = (extra: Record<string, unknown> = {}) => waiterProps({
    ImageId: IMPORTED_IMAGE, ImportTaskId: TASK, ImportedImageId: IMPORTED_IMAGE, ImportedSnapshotIds: 'snap-1,snap-2', Link: '1', Links: '1', ...extra,
  });
  const poll = (extra: Record<string, unknown> = {}, startedMsAgo = 0) =>
    isComplete({ ...createEvent(WAITER, stage2(extra)), WaitStartedAt: Date.now() - startedMsAgo });
  beforeEach(() => {
    ec2Mock.on(DescribeImportImageTasksCommand).resolves({ ImportImageTasks: [{ ImportTaskId: TASK, Status: 'completed', ImageId: IMPORTED_IMAGE, Tags: taskTags }] });
    ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMPORTED_IMAGE] }).resolves({ Images: [untaggedImport()] });
    ec2Mock.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({ Images: [] });
  });

  test('tags exactly the image and snapshots stage 1 handed out with the task\'s tags, then follows the image', async () => {
    expect(await poll()).toMatchObject({ IsComplete: true, Data: { ImageId: IMPORTED_IMAGE, State: 'available' } });
    expect(ec2Mock).toHaveReceivedCommandTimes(CreateTagsCommand, 1);
    expect(ec2Mock).toHaveReceivedCommandWith(CreateTagsCommand, {
      Resources: [IMPORTED_IMAGE, 'snap-1', 'snap-2'], Tags: [...taskTags, { Key: 'cdk-ami:import-task', Value: TASK }],
    });
    expect(ec2Mock).not.toHaveReceivedCommand(CopyImageCommand);
  });

  test('an image that already carries this stack\'s tag is not tagged again', async () => {
    ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMPORTED_IMAGE] }).resolves({ Images: [untaggedImport({ Tags: taskTags })] });
    await poll();
    expect(ec2Mock).not.toHaveReceivedCommand(CreateTagsCommand);
  });

  test('a task without cdk-ami\'s tags is never adopted', async () => {
    ec2Mock.on(DescribeImportImageTasksCommand).resolves({ ImportImageTasks: [{ ImportTaskId: TASK, Status: 'completed', ImageId: IMPORTED_IMAGE, Tags: [] }] });
    await expect(poll()).rejects.toThrow(`Import task ${TASK} does not carry cdk-ami's ownership tags; refusing to adopt its image ${IMPORTED_IMAGE}.`);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateTagsCommand);
  });

  test('an image ID that is not the task\'s is never adopted', async () => {
    ec2Mock.on(DescribeImportImageTasksCommand).resolves({ ImportImageTasks: [{ ImportTaskId: TASK, Status: 'completed', ImageId: 'ami-0ddddddddddddddd0', Tags: taskTags }] });
    await expect(poll()).rejects.toThrow(`Import task ${TASK} made image ami-0ddddddddddddddd0, not ${IMPORTED_IMAGE}; refusing to adopt ${IMPORTED_IMAGE}.`);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateTagsCommand);
  });

  test('UnauthorizedOperation while the grant propagates: pending, with a warning that says so', async () => {
    ec2Mock.on(CreateTagsCommand).rejects(awsError('UnauthorizedOperation'));
    expect(await poll({}, 60_000)).toEqual({ IsComplete: false });
    expect(logLines.lines()).toContainEqual(expect.objectContaining({
      level: 'warn', message: 'not authorized yet on the imported image: the ImportedAmi\'s grant on it is still propagating in IAM; trying again', retryForSeconds: 240,
    }));
  });

  test('UnauthorizedOperation after 5 minutes fails in one sentence', async () => {
    ec2Mock.on(CreateTagsCommand).rejects(awsError('UnauthorizedOperation'));
    const err = await poll({}, 5 * 60_000).catch((e: Error) => e) as Error;
    expectOneLine(err);
    expect(err.message).toMatch(new RegExp(`^Not authorized to tag or copy image ${IMPORTED_IMAGE} of import task ${TASK} in us-east-1 after 5 minutes`));
  });

  test('throttling while tagging is another poll, not a failure', async () => {
    ec2Mock.on(CreateTagsCommand).rejects(awsError('RequestLimitExceeded'));
    expect(await poll()).toEqual({ IsComplete: false });
  });

  test('a rollback that finds neither the import nor its named copy completes instead of getting stuck', async () => {
    ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMPORTED_IMAGE] }).resolves({ Images: [] });
    const event = { ...updateEvent(WAITER, `${IMPORTED_IMAGE}/wait-1`, stage2({ ImageName: 'appliance-1.0' }), stage2({ ImageName: 'appliance-0.9' })), WaitStartedAt: Date.now(), RollingBack: true };
    expect(await isComplete(event)).toMatchObject({ IsComplete: true, Data: { State: 'deregistered' } });
    expect(logLines.lines()).toContainEqual(expect.objectContaining({ level: 'warn', message: 'the rollback could not finish the import' }));
  });

  test('with ImageName: copies the tagged import under the name, tagged at creation', async () => {
    ec2Mock.on(CopyImageCommand).resolves({ ImageId: 'ami-0named0000000000' });
    ec2Mock.on(DescribeImagesCommand, { ImageIds: ['ami-0named0000000000'] }).resolves({ Images: [untaggedImport({ ImageId: 'ami-0named0000000000', State: 'pending' })] });
    expect(await poll({ ImageName: 'appliance-1.0' })).toEqual({ IsComplete: false });
    const tags = [...taskTags, { Key: 'cdk-ami:import-task', Value: TASK }];
    expect(ec2Mock).toHaveReceivedCommandWith(CopyImageCommand, {
      SourceImageId: IMPORTED_IMAGE,
      SourceRegion: 'us-east-1',
      Name: 'appliance-1.0',
      ClientToken: hash(`${TASK}/appliance-1.0`),
      TagSpecifications: [{ ResourceType: 'image', Tags: tags }, { ResourceType: 'snapshot', Tags: tags }],
    });
  });

  test('a link out of budget while the copy is pending hands the imported image on, so the next link finishes', async () => {
    ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMPORTED_IMAGE] }).resolves({ Images: [untaggedImport({ Tags: taskTags })] });
    ec2Mock.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({ Images: [untaggedImport({ ImageId: 'ami-0named0000000000', Name: 'appliance-1.0', State: 'pending' })] });
    ec2Mock.on(DescribeImagesCommand, { ImageIds: ['ami-0named0000000000'] }).resolves({ Images: [untaggedImport({ ImageId: 'ami-0named0000000000', State: 'pending' })] });
    const event = { ...createEvent(WAITER, stage2({ ImageName: 'appliance-1.0', Links: '2', BudgetSeconds: '600' })), WaitStartedAt: Date.now() - 600_000 };
    expect(await isComplete(event)).toMatchObject({ IsComplete: true, Data: { ImageId: IMPORTED_IMAGE } });
    expect(ec2Mock).not.toHaveReceivedCommand(CopyImageCommand);
  });
});

describe('Custom::AmiWaiter stage 2: delete', () => {
  const stage2Delete = (link = '1') => onEvent(deleteEvent(WAITER, `${IMPORTED_IMAGE}/wait-${link}`, waiterProps({
    ImageId: IMPORTED_IMAGE, ImportTaskId: TASK, ImportedImageId: IMPORTED_IMAGE, ImportedSnapshotIds: 'snap-1,snap-2', Link: link,
  })));

  test('an import that was never tagged is removed: the image and exactly its snapshots', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [untaggedImport()] });
    ec2Mock.on(DeregisterImageCommand).resolves({ DeleteSnapshotResults: [] });
    ec2Mock.on(DeleteSnapshotCommand, { SnapshotId: 'snap-2' }).rejects(awsError('InvalidSnapshot.NotFound'));
    await stage2Delete();
    expect(ec2Mock).toHaveReceivedCommandWith(DeregisterImageCommand, { ImageId: IMPORTED_IMAGE, DeleteAssociatedSnapshots: true });
    expect(ec2Mock.commandCalls(DeleteSnapshotCommand).map((c) => c.args[0].input.SnapshotId)).toEqual(['snap-1', 'snap-2']);
  });

  test('a tagged import is left to the operation\'s delete and its removal policy', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [untaggedImport({ Tags: ownershipTagsFor(CREATE_REQUEST) })] });
    await stage2Delete();
    expect(ec2Mock).not.toHaveReceivedCommand(DeregisterImageCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(DeleteSnapshotCommand);
  });

  test('only the first link of stage 2 looks', async () => {
    await stage2Delete('2');
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  test('a removal that fails is logged with what to remove by hand, and the delete succeeds (a rollback must not get stuck)', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [untaggedImport()] });
    ec2Mock.on(DeregisterImageCommand).rejects(awsError('UnauthorizedOperation'));
    await expect(stage2Delete()).resolves.toEqual({ PhysicalResourceId: `${IMPORTED_IMAGE}/wait-1` });
    expect(logLines.lines()).toContainEqual(expect.objectContaining({ level: 'warn', action: `deregister ${IMPORTED_IMAGE} and delete snapshots snap-1, snap-2` }));
  });
});
