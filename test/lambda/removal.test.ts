/**
 * The removal policy as the Delete handler applies it: RETAIN keeps a finished
 * image, but never a pending or failed one, nor one whose deployment is being
 * rolled back.
 */
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  DeleteSnapshotCommand, DeregisterImageCommand, DescribeImagesCommand, DescribeSnapshotsCommand, DisableImageDeregistrationProtectionCommand,
  ImageState,
} from '@aws-sdk/client-ec2';
import 'aws-sdk-client-mock-jest';
import { FROM_INSTANCE, IMAGE_ID, STACK_ID, awsError, captureLogs, deleteEvent, fromInstanceProps, mockedClients, ownedImage } from './helpers';
import { onEvent } from '../../lambda/index';

const { ec2Mock, cfnMock, stackIs } = mockedClients();
const logs = captureLogs();

function imageIs(state: ImageState) {
  ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMAGE_ID] }).resolves({ Images: [ownedImage({ State: state })] });
}

function remove(removalPolicy?: string) {
  return onEvent(deleteEvent(FROM_INSTANCE, IMAGE_ID, fromInstanceProps({ RemovalPolicy: removalPolicy })));
}

function expectDestroyed(reason: string) {
  expect(ec2Mock).toHaveReceivedCommandWith(DeregisterImageCommand, { ImageId: IMAGE_ID, DeleteAssociatedSnapshots: true });
  expect(logs.find('deleting image')).toEqual([expect.objectContaining({ imageId: IMAGE_ID, region: 'us-east-1', reason })]);
  expect(logs.find('image retained')).toEqual([]);
}

function expectRetained() {
  expect(ec2Mock).not.toHaveReceivedCommand(DeregisterImageCommand);
  expect(ec2Mock).not.toHaveReceivedCommand(DeleteSnapshotCommand);
  expect(ec2Mock).not.toHaveReceivedCommand(DescribeSnapshotsCommand);
  expect(logs.find('image retained')).toEqual([
    expect.objectContaining({ imageId: IMAGE_ID, region: 'us-east-1', reason: 'removalPolicy is RETAIN' }),
  ]);
}

beforeEach(() => {
  imageIs('available');
  stackIs('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
  ec2Mock.on(DeregisterImageCommand).resolves({ Return: true });
  ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
});

test('DESTROY deletes an available image', async () => {
  await expect(remove('destroy')).resolves.toEqual({ PhysicalResourceId: IMAGE_ID });
  expectDestroyed('removalPolicy is DESTROY');
  // Protection the user set is not lifted outside a rollback: the delete fails with a sentence instead.
  expect(ec2Mock).not.toHaveReceivedCommand(DisableImageDeregistrationProtectionCommand);
});

test('the policy name is read case-insensitively', async () => {
  await remove('DESTROY');
  expectDestroyed('removalPolicy is DESTROY');
});

test.each([['retain'], ['RETAIN'], [undefined]])('RETAIN (%s) keeps an available image when the stack deletes or replaces it', async (policy) => {
  await expect(remove(policy)).resolves.toEqual({ PhysicalResourceId: IMAGE_ID });
  expectRetained();
  expect(cfnMock).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: STACK_ID });
});

test.each(['DELETE_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'] as const)('RETAIN keeps the image while the stack is %s', async (status) => {
  stackIs(status);
  await remove('retain');
  expectRetained();
});

test.each(['pending', 'failed', 'error', 'invalid'] as const)('RETAIN still deletes an image in state %s', async (state) => {
  imageIs(state);
  await remove('retain');
  expectDestroyed(`the image never became available (state ${state})`);
  // The state alone decides: no need to ask CloudFormation.
  expect(cfnMock).not.toHaveReceivedCommand(DescribeStacksCommand);
});

test.each([
  'ROLLBACK_IN_PROGRESS',
  'UPDATE_ROLLBACK_IN_PROGRESS',
  'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS',
  'IMPORT_ROLLBACK_IN_PROGRESS',
] as const)('RETAIN still deletes an available image during %s', async (status) => {
  stackIs(status);
  await remove('retain');
  expectDestroyed(`the deployment that created it is rolling back (${status})`);
});

describe('an image kept by RETAIN and later deregistered by hand', () => {
  // EC2's DeregisterImage keeps the snapshots unless asked: they are the user's data now.
  const leftover = { SnapshotId: 'snap-leftover', Description: `Created by CreateImage(i-0abc1234567890def) for ${IMAGE_ID}` };

  beforeEach(() => {
    ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [leftover] });
  });

  test.each([
    ['no longer described', () => ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMAGE_ID] }).resolves({ Images: [] })],
    ['NotFound', () => ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMAGE_ID] }).rejects(awsError('InvalidAMIID.NotFound'))],
    ['described as deregistered', () => imageIs('deregistered')],
  ])('RETAIN keeps its snapshots at stack delete (image %s)', async (_, gone) => {
    gone();
    stackIs('DELETE_IN_PROGRESS');
    await expect(remove('retain')).resolves.toEqual({ PhysicalResourceId: IMAGE_ID });
    expect(ec2Mock).not.toHaveReceivedCommand(DeleteSnapshotCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(DescribeSnapshotsCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(DeregisterImageCommand);
    expect(logs.find('image retained')).toEqual([expect.objectContaining({
      imageId: IMAGE_ID, reason: 'removalPolicy is RETAIN and the image no longer exists: its snapshots are kept',
    })]);
  });

  test('RETAIN keeps its snapshots when a replacement deletes it', async () => {
    imageIs('deregistered');
    await remove('retain');
    expect(ec2Mock).not.toHaveReceivedCommand(DeleteSnapshotCommand);
  });

  test('DESTROY sweeps its leftover snapshots', async () => {
    ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMAGE_ID] }).resolves({ Images: [] });
    stackIs('DELETE_IN_PROGRESS');
    await remove('destroy');
    expect(ec2Mock).toHaveReceivedCommandWith(DeleteSnapshotCommand, { SnapshotId: 'snap-leftover' });
    expect(logs.find('deleting image')).toEqual([expect.objectContaining({ reason: 'removalPolicy is DESTROY and the image no longer exists' })]);
  });

  test('a rollback sweeps the leftovers of the image its own deployment made', async () => {
    ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMAGE_ID] }).resolves({ Images: [] });
    stackIs('UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS');
    await remove('retain');
    expect(ec2Mock).toHaveReceivedCommandWith(DeleteSnapshotCommand, { SnapshotId: 'snap-leftover' });
    expect(logs.find('deleting image')).toEqual([expect.objectContaining({
      reason: 'the image no longer exists and the deployment that created it is rolling back (UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS)',
    })]);
  });
});

test.each(['disabled', 'transient'] as const)('RETAIN keeps an image in state %s: it may have been available', async (state) => {
  imageIs(state);
  stackIs('DELETE_IN_PROGRESS');
  await remove('retain');
  expectRetained();
});

test('a rollback lifts the protection its own deployment set on a DESTROY image', async () => {
  stackIs('UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS');
  ec2Mock.on(DeregisterImageCommand)
    .rejectsOnce(awsError('OperationNotPermitted', 'deregistration protection is enabled'))
    .resolves({ Return: true });
  await expect(remove('destroy')).resolves.toEqual({ PhysicalResourceId: IMAGE_ID });
  expect(ec2Mock).toHaveReceivedCommandWith(DisableImageDeregistrationProtectionCommand, { ImageId: IMAGE_ID });
  expect(ec2Mock).toHaveReceivedCommandTimes(DeregisterImageCommand, 2);
});

test('when DescribeStacks fails, the policy decides: RETAIN keeps the image, with a warning', async () => {
  cfnMock.on(DescribeStacksCommand).rejects(awsError('AccessDenied', 'not authorized to perform cloudformation:DescribeStacks'));
  await expect(remove('retain')).resolves.toEqual({ PhysicalResourceId: IMAGE_ID });
  expectRetained();
  expect(logs.find('could not read the stack status; applying the removal policy')).toEqual([expect.objectContaining({
    level: 'warn',
    stackId: STACK_ID,
    error: 'not authorized to perform cloudformation:DescribeStacks',
  })]);
});

test('when DescribeStacks returns no stack, the policy decides', async () => {
  cfnMock.on(DescribeStacksCommand).resolves({});
  await remove('retain');
  expectRetained();
});

describe('a generation a retention sweep keeps (cdk-ami:retained)', () => {
  function retainedIs(state: ImageState = 'available') {
    ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMAGE_ID] }).resolves({
      Images: [ownedImage({ State: state, Tags: [...ownedImage().Tags!, { Key: 'cdk-ami:retained', Value: 'true' }] })],
    });
  }

  test('is kept under DESTROY when a successful update replaced it: the sweep retires it later', async () => {
    retainedIs();
    await remove('destroy');
    expect(ec2Mock).not.toHaveReceivedCommand(DeregisterImageCommand);
    expect(logs.find('image retained')).toEqual([expect.objectContaining({
      imageId: IMAGE_ID, reason: 'its construct replaced it and its retention policy keeps it: a later retention sweep retires it',
    })]);
  });

  test.each([['DELETE_IN_PROGRESS', 'removalPolicy is DESTROY'], ['UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS', expect.stringContaining('rolling back')]])(
    'goes under DESTROY when the stack is in %s (a stack deletion, a rollback)', async (status, reason) => {
      retainedIs();
      stackIs(status as never);
      await remove('destroy');
      expectDestroyed(reason as string);
    });
});
