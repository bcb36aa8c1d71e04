/**
 * Capacity errors: while EC2 answers ResourceLimitExceeded (too many image
 * operations in the Region), the call that starts an image is retried with
 * backoff for as long as the operation function has time, and the log says it
 * is waiting for capacity. The retry never starts a second image.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import {
  CopyImageCommand, CreateImageCommand, CreateRestoreImageTaskCommand, CreateStoreImageTaskCommand, CreateTagsCommand, DescribeImagesCommand,
  DescribeImportImageTasksCommand, EC2Client, ImportImageCommand, RegisterImageCommand,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  CREATE_REQUEST, FROM_INSTANCE, WAITER, awsError, captureLogs, createEvent, expectOneLine, fromInstanceProps, ownershipTagsFor, rejectionOf,
  waiterProps,
} from './helpers';
import { isComplete, onEvent } from '../../lambda';
import { setSleep } from '../../lambda/shared/backoff';

const ec2Mock = mockClient(EC2Client);
mockClient(CloudFormationClient);
const logs = captureLogs();
const LIMIT = () => awsError('ResourceLimitExceeded', 'You have reached the maximum number of concurrent image operations.');
const NEW_IMAGE = 'ami-0bbbbbbbbbbbbbbb0';

let slept: number[];
let previousSleep: ReturnType<typeof setSleep>;
beforeEach(() => {
  ec2Mock.reset();
  ec2Mock.on(DescribeImagesCommand).resolves({ Images: [] });
  slept = [];
  previousSleep = setSleep(async (ms) => { slept.push(ms); });
});
afterEach(() => setSleep(previousSleep));

const waiting = () => logs.find('waiting for capacity: too many concurrent image operations in the Region');

/** Every kind's start call, with the properties it needs and what it answers. */
const STARTS = [
  ['CreateImage', FROM_INSTANCE, fromInstanceProps(), CreateImageCommand, { ImageId: NEW_IMAGE }, NEW_IMAGE],
  ['CopyImage', 'Custom::CopiedAmi', { Region: 'eu-west-1', NamePrefix: 'Stack/Copy', SourceImageId: 'ami-0aaaaaaaaaaaaaaa0', SourceRegion: 'us-east-1' },
    CopyImageCommand, { ImageId: NEW_IMAGE }, NEW_IMAGE],
  ['RegisterImage', 'Custom::AmiFromSnapshot', { Region: 'us-east-1', NamePrefix: 'Stack/Reg', RootSnapshotId: 'snap-0root00000000000', RootDeviceName: '/dev/xvda', Architecture: 'x86_64', VolumeType: 'gp3' },
    RegisterImageCommand, { ImageId: NEW_IMAGE }, NEW_IMAGE],
  ['CreateRestoreImageTask', 'Custom::RestoredAmi', { Region: 'us-east-1', NamePrefix: 'Stack/Restored', Bucket: 'b', ObjectKey: 'ami-1.bin' },
    CreateRestoreImageTaskCommand, { ImageId: NEW_IMAGE }, NEW_IMAGE],
  ['ImportImage', 'Custom::ImportedAmi', { Region: 'us-east-1', NamePrefix: 'Stack/Imported', Disks: [{ Format: 'VMDK', S3Bucket: 'b', S3Key: 'k' }] },
    ImportImageCommand, { ImportTaskId: 'import-ami-0123456789abcdef0' }, 'import-ami-0123456789abcdef0'],
  ['CreateStoreImageTask', 'Custom::StoredAmi', { Region: 'us-east-1', ImageId: 'ami-0aaaaaaaaaaaaaaa0', Bucket: 'b' },
    CreateStoreImageTaskCommand, { ObjectKey: 'ami-0aaaaaaaaaaaaaaa0.bin' }, 's3://b/ami-0aaaaaaaaaaaaaaa0.bin'],
] as const;

describe.each(STARTS)('%s', (action, resourceType, props, command, answer, physicalId) => {
  beforeEach(() => {
    // CopyImage reads its source first.
    ec2Mock.on(DescribeImagesCommand, { ImageIds: ['ami-0aaaaaaaaaaaaaaa0'] }).resolves({ Images: [{ ImageId: 'ami-0aaaaaaaaaaaaaaa0', State: 'available' }] });
  });

  test('is retried with backoff while EC2 has no capacity, and the log says it waits', async () => {
    ec2Mock.on(command as never).rejectsOnce(LIMIT()).rejectsOnce(LIMIT()).rejectsOnce(LIMIT()).resolves(answer as never);
    const out = await onEvent(createEvent(resourceType, props));
    expect(out.PhysicalResourceId).toBe(physicalId);
    expect(ec2Mock).toHaveReceivedCommandTimes(command as never, 4);
    expect(slept).toEqual([5_000, 10_000, 20_000]);
    expect(waiting()).toEqual([1, 2, 3].map((attempt) => expect.objectContaining({
      level: 'warn', action, region: props.Region, attempt, error: 'You have reached the maximum number of concurrent image operations.',
    })));
  });

  test('fails with one sentence when the function\'s time runs out', async () => {
    ec2Mock.on(command as never).rejects(LIMIT());
    const err = await rejectionOf(onEvent(createEvent(resourceType, props)));
    expect(err.message).toMatch(new RegExp(`^EC2 had no capacity to start ${action} in ${props.Region} for 280 s: too many image operations .* run at once in the Region \\(ResourceLimitExceeded: You have reached the maximum number of concurrent image operations\\)\\. Deploy again when some of them have finished, or start fewer at once\\.$`));
    expectOneLine(err);
  });
});

describe('the time budget', () => {
  test('follows the Lambda context: waits 5, 10, 20, then 30 s, the last cut short, until 20 s are left', async () => {
    let remaining = 120_000;
    setSleep(async (ms) => { slept.push(ms); remaining -= ms; });
    ec2Mock.on(CreateImageCommand).rejects(LIMIT());
    const err = await rejectionOf(onEvent(createEvent(FROM_INSTANCE, fromInstanceProps()), { getRemainingTimeInMillis: () => remaining }));
    expect(slept).toEqual([5_000, 10_000, 20_000, 30_000, 30_000, 5_000]);
    expect(remaining).toBe(20_000);
    expect(err.message).toMatch(/^EC2 had no capacity to start CreateImage in us-east-1 for 100 s:/);
    expect(ec2Mock).toHaveReceivedCommandTimes(CreateImageCommand, 7);
  });

  test('other errors are not retried', async () => {
    ec2Mock.on(CreateImageCommand).rejects(awsError('IncorrectInstanceState', 'pending'));
    await rejectionOf(onEvent(createEvent(FROM_INSTANCE, fromInstanceProps())));
    expect(ec2Mock).toHaveReceivedCommandTimes(CreateImageCommand, 1);
    expect(slept).toEqual([]);
  });
});

test('CreateImage: a retry after a limit adopts nothing and starts one image; a redelivered request adopts it', async () => {
  ec2Mock.on(CreateImageCommand).rejectsOnce(LIMIT()).resolves({ ImageId: NEW_IMAGE });
  await onEvent(createEvent(FROM_INSTANCE, fromInstanceProps()));
  expect(ec2Mock).toHaveReceivedCommandTimes(CreateImageCommand, 2);
  ec2Mock.on(DescribeImagesCommand).resolves({
    Images: [{ ImageId: NEW_IMAGE, Name: ec2Mock.commandCalls(CreateImageCommand)[1].args[0].input.Name, State: 'pending', Tags: ownershipTagsFor(CREATE_REQUEST) }],
  });
  expect((await onEvent(createEvent(FROM_INSTANCE, fromInstanceProps()))).PhysicalResourceId).toBe(NEW_IMAGE);
  expect(ec2Mock).toHaveReceivedCommandTimes(CreateImageCommand, 2);
});

test('CopyImage: every try carries the same client token', async () => {
  ec2Mock.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-0aaaaaaaaaaaaaaa0', State: 'available' }] });
  ec2Mock.on(CopyImageCommand).rejectsOnce(LIMIT()).rejectsOnce(LIMIT()).resolves({ ImageId: NEW_IMAGE });
  await onEvent(createEvent('Custom::CopiedAmi', STARTS[1][2]));
  expect(new Set(ec2Mock.commandCalls(CopyImageCommand).map((c) => c.args[0].input.ClientToken)).size).toBe(1);
});

test('the waiter\'s copy of an import under its name waits for capacity at the next poll', async () => {
  const TASK = 'import-ami-0123456789abcdef0';
  const taskTags = ownershipTagsFor(CREATE_REQUEST);
  ec2Mock.on(DescribeImportImageTasksCommand).resolves({ ImportImageTasks: [{ ImportTaskId: TASK, Status: 'completed', ImageId: 'ami-0eeeeeeeeeeeeeee0', Tags: taskTags }] });
  ec2Mock.on(DescribeImagesCommand, { ImageIds: ['ami-0eeeeeeeeeeeeeee0'] }).resolves({ Images: [{ ImageId: 'ami-0eeeeeeeeeeeeeee0', State: 'available' }] });
  ec2Mock.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({ Images: [] });
  ec2Mock.on(CopyImageCommand).rejects(LIMIT());
  const stage2 = { ImageId: 'ami-0eeeeeeeeeeeeeee0', ImportTaskId: TASK, ImportedImageId: 'ami-0eeeeeeeeeeeeeee0', ImportedSnapshotIds: 'snap-1' };
  const poll = () => isComplete({ ...createEvent(WAITER, waiterProps({ ...stage2, Link: '1', Links: '1', ImageName: 'appliance' })), WaitStartedAt: Date.now() });
  await expect(poll()).resolves.toEqual({ IsComplete: false });
  expect(ec2Mock).toHaveReceivedCommand(CreateTagsCommand);
  expect(slept).toEqual([]);
  expect(waiting()).toEqual([expect.objectContaining({ action: 'CopyImage', importTaskId: TASK })]);

  ec2Mock.on(CopyImageCommand).resolves({ ImageId: NEW_IMAGE });
  await poll();
  const tokens = ec2Mock.commandCalls(CopyImageCommand).map((c) => c.args[0].input.ClientToken);
  expect(tokens).toHaveLength(2);
  expect(new Set(tokens).size).toBe(1);
});
