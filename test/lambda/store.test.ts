import { CreateStoreImageTaskCommand, DescribeStoreImageTasksCommand } from '@aws-sdk/client-ec2';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  WAITER, awsError, awsServerError, captureLogs, createEvent, deleteEvent, mockedClients, oneLineFailure, recordSleeps, updateEvent, waiterProps,
} from './helpers';
import { isComplete, onEvent } from '../../lambda';

const { ec2Mock, stackIs } = mockedClients();
const s3Mock = mockClient(S3Client);
const logs = captureLogs();
recordSleeps();
const STORED = 'Custom::StoredAmi';
const IMAGE = 'ami-0123456789abcdef0';
const OBJECT = `s3://stored-amis/${IMAGE}.bin`;
const props = (extra: Record<string, unknown> = {}) => ({
  Region: 'us-east-1', ImageId: IMAGE, Bucket: 'stored-amis', ObjectTags: [{ Key: 'purpose', Value: 'backup' }], RemovalPolicy: 'retain', ...extra,
});

beforeEach(() => {
  s3Mock.reset();
  stackIs('DELETE_IN_PROGRESS');
});

describe('Custom::StoredAmi', () => {
  test('starts the store task; the physical ID names the object', async () => {
    ec2Mock.on(CreateStoreImageTaskCommand).resolves({ ObjectKey: `${IMAGE}.bin` });
    expect(await onEvent(createEvent(STORED, props()))).toEqual({
      PhysicalResourceId: OBJECT, Data: { ImageId: IMAGE, Bucket: 'stored-amis', ObjectKey: `${IMAGE}.bin` },
    });
    expect(ec2Mock).toHaveReceivedCommandWith(CreateStoreImageTaskCommand, { ImageId: IMAGE, Bucket: 'stored-amis', S3ObjectTags: [{ Key: 'purpose', Value: 'backup' }] });
  });

  test.each([
    ['InvalidAMIID.Unavailable', /^Image ami-0123456789abcdef0 cannot be stored: it does not exist in us-east-1 or is not available/],
    ['InvalidParameterValue', /^EC2 refused to store image ami-0123456789abcdef0 in s3:\/\/stored-amis: .*The bucket must be in us-east-1/],
    ['InternalError', /^CreateStoreImageTask of ami-0123456789abcdef0 to s3:\/\/stored-amis in us-east-1 failed: InternalError/],
  ])('%s becomes one sentence', async (code, message) => {
    ec2Mock.on(CreateStoreImageTaskCommand).rejects(awsError(code));
    const err = await oneLineFailure(onEvent(createEvent(STORED, props())));
    expect(err.message).toMatch(message);
  });

  describe('a CreateStoreImageTask whose every answer was a 5xx (EC2 may have started the task)', () => {
    beforeEach(() => {
      ec2Mock.on(CreateStoreImageTaskCommand).rejects(awsServerError('InternalError', 500, 'An internal error has occurred.'));
    });

    test('adopts the task of this image and bucket that started with this request', async () => {
      ec2Mock.on(DescribeStoreImageTasksCommand).resolves({
        StoreImageTaskResults: [
          { AmiId: IMAGE, Bucket: 'stored-amis', S3objectKey: `${IMAGE}.bin`, StoreTaskState: 'InProgress', TaskStartTime: new Date() },
        ],
      });
      expect((await onEvent(createEvent(STORED, props()))).PhysicalResourceId).toBe(OBJECT);
      expect(ec2Mock).toHaveReceivedCommandWith(DescribeStoreImageTasksCommand, { ImageIds: [IMAGE] });
    });

    test.each([
      ['an older task of this image and bucket (its object may have been deleted since)', { Bucket: 'stored-amis', TaskStartTime: new Date(Date.now() - 10 * 60_000) }],
      ['a task of this image to another bucket', { Bucket: 'other-bucket', TaskStartTime: new Date() }],
    ])('does not adopt %s: fails with the 5xx', async (_, task) => {
      ec2Mock.on(DescribeStoreImageTasksCommand).resolves({ StoreImageTaskResults: [{ AmiId: IMAGE, S3objectKey: `${IMAGE}.bin`, StoreTaskState: 'Completed', ...task }] });
      const err = await oneLineFailure(onEvent(createEvent(STORED, props())));
      expect(err.message).toBe(`CreateStoreImageTask of ${IMAGE} to s3://stored-amis in us-east-1 failed: InternalError: An internal error has occurred.`);
      expect(logs.find('not found yet; looking again')).toHaveLength(3);
    });
  });

  test.each(['The bucket is in eu-west-1.', 'The bucket is in eu-west-1'])('EC2\'s message "%s" is quoted with one full stop', async (ec2Message) => {
    ec2Mock.on(CreateStoreImageTaskCommand).rejects(awsError('InvalidParameterValue', ec2Message));
    expect((await oneLineFailure(onEvent(createEvent(STORED, props())))).message).toBe(
      `EC2 refused to store image ${IMAGE} in s3://stored-amis: The bucket is in eu-west-1. The bucket must be in us-east-1 and writable by the provider.`,
    );
    ec2Mock.on(CreateStoreImageTaskCommand).rejects(awsError('InvalidAMIID.Unavailable', ec2Message));
    expect((await oneLineFailure(onEvent(createEvent(STORED, props())))).message).toBe(
      `Image ${IMAGE} cannot be stored: it does not exist in us-east-1 or is not available (The bucket is in eu-west-1).`,
    );
  });

  test('a change of removal policy alone stores nothing again', async () => {
    const out = await onEvent(updateEvent(STORED, OBJECT, props({ RemovalPolicy: 'destroy' }), props()));
    expect(out.PhysicalResourceId).toBe(OBJECT);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateStoreImageTaskCommand);
  });

  test('another image stores again', async () => {
    ec2Mock.on(CreateStoreImageTaskCommand).resolves({ ObjectKey: 'ami-0fffffffffffffff0.bin' });
    const out = await onEvent(updateEvent(STORED, OBJECT, props({ ImageId: 'ami-0fffffffffffffff0' }), props()));
    expect(out.PhysicalResourceId).toBe('s3://stored-amis/ami-0fffffffffffffff0.bin');
  });

  test('delete keeps the object under RETAIN and deletes it under DESTROY', async () => {
    await onEvent(deleteEvent(STORED, OBJECT, props()));
    expect(s3Mock).not.toHaveReceivedCommand(DeleteObjectCommand);
    expect(logs.find('stored object retained')).toEqual([expect.objectContaining({ object: OBJECT, reason: 'removalPolicy is RETAIN' })]);
    await onEvent(deleteEvent(STORED, OBJECT, props({ RemovalPolicy: 'destroy' })));
    expect(s3Mock).toHaveReceivedCommandWith(DeleteObjectCommand, { Bucket: 'stored-amis', Key: `${IMAGE}.bin` });
  });

  test.each(['ROLLBACK_IN_PROGRESS', 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS'] as const)(
    'delete while the stack rolls back (%s) deletes the object the failed deployment stored, despite RETAIN', async (status) => {
      stackIs(status);
      await onEvent(deleteEvent(STORED, OBJECT, props()));
      expect(s3Mock).toHaveReceivedCommandWith(DeleteObjectCommand, { Bucket: 'stored-amis', Key: `${IMAGE}.bin` });
      expect(logs.find('stored object deleted')).toEqual([
        expect.objectContaining({ object: OBJECT, reason: `the deployment that created it is rolling back (${status})` }),
      ]);
    });
});

describe('Custom::AmiWaiter following a store task', () => {
  const poll = () => isComplete({ ...createEvent(WAITER, waiterProps({ ImageId: IMAGE, Link: '1', Links: '1', Target: 'store', Bucket: 'stored-amis' })), WaitStartedAt: Date.now() });

  test('in progress is pending; completed returns the object key', async () => {
    ec2Mock.on(DescribeStoreImageTasksCommand).resolvesOnce({ StoreImageTaskResults: [{ AmiId: IMAGE, Bucket: 'stored-amis', StoreTaskState: 'InProgress', ProgressPercentage: 40 }] })
      .resolves({ StoreImageTaskResults: [{ AmiId: IMAGE, Bucket: 'stored-amis', StoreTaskState: 'Completed', S3objectKey: `${IMAGE}.bin` }] });
    expect(await poll()).toEqual({ IsComplete: false });
    expect(await poll()).toEqual({ IsComplete: true, Data: { ImageId: IMAGE, State: 'Completed', Bucket: 'stored-amis', ObjectKey: `${IMAGE}.bin` } });
  });

  test('a failed task fails the wait with its reason; a task in another bucket does not count', async () => {
    ec2Mock.on(DescribeStoreImageTasksCommand).resolves({
      StoreImageTaskResults: [
        { AmiId: IMAGE, Bucket: 'elsewhere', StoreTaskState: 'Completed' },
        { AmiId: IMAGE, Bucket: 'stored-amis', StoreTaskState: 'Failed', StoreTaskFailureReason: 'InternalError' },
      ],
    });
    await expect(poll()).rejects.toThrow('Storing image ami-0123456789abcdef0 in s3://stored-amis failed: InternalError.');
  });

  test('a failure reason that ends in a full stop keeps just that one', async () => {
    ec2Mock.on(DescribeStoreImageTasksCommand).resolves({
      StoreImageTaskResults: [{ AmiId: IMAGE, Bucket: 'stored-amis', StoreTaskState: 'Failed', StoreTaskFailureReason: 'Access Denied.' }],
    });
    await expect(poll()).rejects.toThrow(/^Storing image ami-0123456789abcdef0 in s3:\/\/stored-amis failed: Access Denied\.$/);
  });
});
