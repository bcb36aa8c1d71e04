import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import {
  DescribeImagesCommand, DescribeSnapshotsCommand, EC2Client, Image, StopInstancesCommand, TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  IMAGE_ID, INSTANCE_ID, LOGICAL_ID, WAITER, awsError, captureLogs, createEvent, deleteEvent, expectOneLine, rejectionOf, updateEvent, waiterProps,
} from './helpers';
import { isComplete, onEvent } from '../../lambda/index';
import { formatDuration } from '../../lambda/waiter/waiter';

const ec2Mock = mockClient(EC2Client);
// A waiter's Update reads the stack status; unanswered, it is not a rollback.
mockClient(CloudFormationClient);
const logs = captureLogs();

const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);
const MINUTE = 60_000;

beforeEach(() => {
  ec2Mock.reset();
  jest.spyOn(Date, 'now').mockReturnValue(NOW);
});

function image(overrides: Partial<Image> = {}): Image {
  return {
    ImageId: IMAGE_ID,
    Name: 'golden',
    State: 'pending',
    BlockDeviceMappings: [
      { DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-root' } },
      { DeviceName: '/dev/sdb', Ebs: { SnapshotId: 'snap-data' } },
    ],
    ...overrides,
  };
}

function imageIs(overrides: Partial<Image> = {}) {
  ec2Mock.on(DescribeImagesCommand).resolves({ Images: [image(overrides)] });
}

/** One isComplete call of a wait that started `elapsedMs` ago. */
function poll(elapsedMs: number, props: Record<string, unknown> = {}) {
  return isComplete(createEvent(WAITER, waiterProps(props), { WaitStartedAt: NOW - elapsedMs }));
}

function polls() {
  return logs.find('poll');
}

describe('onEvent', () => {
  test('Create starts a wait: physical ID names image and link, WaitStartedAt is now', async () => {
    await expect(onEvent(createEvent(WAITER, waiterProps({ Link: '2' })))).resolves.toEqual({
      PhysicalResourceId: `${IMAGE_ID}/wait-2`,
      WaitStartedAt: NOW,
    });
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  test('Update (e.g. a replaced image) starts a new wait and keeps the physical ID', async () => {
    const event = updateEvent(WAITER, `${IMAGE_ID}/wait-1`, waiterProps({ ImageId: 'ami-0new0000000000000' }), waiterProps());
    await expect(onEvent(event)).resolves.toEqual({ PhysicalResourceId: `${IMAGE_ID}/wait-1`, WaitStartedAt: NOW });
  });

  test('Delete does nothing', async () => {
    await expect(onEvent(deleteEvent(WAITER, `${IMAGE_ID}/wait-1`, waiterProps()))).resolves.toEqual({ PhysicalResourceId: `${IMAGE_ID}/wait-1` });
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  test('Create without an ImageId fails in one line', async () => {
    const err = await rejectionOf(onEvent(createEvent(WAITER, waiterProps({ ImageId: '' }))));
    expect(err.message).toBe('The resource property ImageId is required.');
    expectOneLine(err);
    const errors = logs.lines().filter((l) => l.level === 'error');
    expect(errors).toEqual([expect.objectContaining({ phase: 'onEvent', requestType: 'Create', logicalResourceId: LOGICAL_ID })]);
    // A Create has no physical ID yet.
    expect(errors[0]).not.toHaveProperty('physicalResourceId');
  });
});

describe('isComplete: polling', () => {
  test('Delete completes at once without calling EC2', async () => {
    await expect(isComplete(deleteEvent(WAITER, `${IMAGE_ID}/wait-1`, waiterProps()))).resolves.toEqual({ IsComplete: true });
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  test('pending: not complete; one log line with state, elapsed time, link and snapshot progress', async () => {
    imageIs();
    ec2Mock.on(DescribeSnapshotsCommand).resolves({
      Snapshots: [{ SnapshotId: 'snap-root', Progress: '40%' }, { SnapshotId: 'snap-data' }],
    });

    await expect(poll(3 * MINUTE)).resolves.toEqual({ IsComplete: false });

    expect(ec2Mock).toHaveReceivedCommandWith(DescribeImagesCommand, { ImageIds: [IMAGE_ID] });
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeSnapshotsCommand, { SnapshotIds: ['snap-root', 'snap-data'] });
    expect(logs.lines()).toEqual([{
      level: 'info',
      message: 'poll',
      imageId: IMAGE_ID,
      region: 'us-east-1',
      state: 'pending',
      elapsedSeconds: 180,
      link: '1/2',
      snapshotProgress: { 'snap-root': '40%', 'snap-data': '' },
    }]);
  });

  test.each([
    [0, true],
    [14_999, true],
    [15_000, false],
    [75_000, false],
    [90_000, true],
    [100_000, true],
    [105_000, false],
    [180_000, true],
  ])('while pending, snapshot progress is read every 90 s (elapsed %d ms: %s)', async (elapsedMs, read) => {
    imageIs();
    ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: 'snap-root', Progress: '10%' }] });

    await expect(poll(elapsedMs)).resolves.toEqual({ IsComplete: false });

    expect(ec2Mock.commandCalls(DescribeSnapshotsCommand)).toHaveLength(read ? 1 : 0);
    expect(polls()).toHaveLength(1);
    expect('snapshotProgress' in polls()[0]).toBe(read);
    expect(polls()[0].elapsedSeconds).toBe(Math.round(elapsedMs / 1000));
  });

  test('transient: still waiting, and progress is read at every poll', async () => {
    imageIs({ State: 'transient' });
    ec2Mock.on(DescribeSnapshotsCommand).resolves({});
    await expect(poll(30_000)).resolves.toEqual({ IsComplete: false });
    expect(polls()).toEqual([expect.objectContaining({ state: 'transient', snapshotProgress: {} })]);
  });

  test('an image without snapshots yet logs no progress', async () => {
    imageIs({ BlockDeviceMappings: [{ DeviceName: '/dev/sdb', VirtualName: 'ephemeral0' }] });
    await poll(0);
    expect(ec2Mock).not.toHaveReceivedCommand(DescribeSnapshotsCommand);
    expect(polls()[0]).not.toHaveProperty('snapshotProgress');
  });

  test('a failure to read snapshot progress does not fail the wait', async () => {
    imageIs();
    ec2Mock.on(DescribeSnapshotsCommand).rejects(awsError('UnauthorizedOperation', 'not authorized'));
    await expect(poll(0)).resolves.toEqual({ IsComplete: false });
    expect(polls()).toEqual([expect.objectContaining({ state: 'pending', snapshotProgressError: 'not authorized' })]);
  });

  test('without WaitStartedAt the wait counts from zero', async () => {
    imageIs();
    ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
    await expect(isComplete(createEvent(WAITER, waiterProps()))).resolves.toEqual({ IsComplete: false });
    expect(polls()[0].elapsedSeconds).toBe(0);
  });

  test('a waiter without link properties is a single 50-minute link', async () => {
    imageIs();
    ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
    const props = { Link: undefined, Links: undefined, BudgetSeconds: undefined, TimeoutSeconds: undefined };
    await expect(poll(49 * MINUTE, props)).resolves.toEqual({ IsComplete: false });
    expect(polls()[0].link).toBe('1/1');
    await expect(poll(50 * MINUTE, props)).rejects.toThrow('after the timeout of 50 min.');
  });

  test('a property that is not a number fails in one line', async () => {
    const err = await rejectionOf(poll(0, { BudgetSeconds: 'soon' }));
    expect(err.message).toBe('The resource property BudgetSeconds must be a number, got "soon".');
    expectOneLine(err);
    expect(logs.lines()).toEqual([expect.objectContaining({ level: 'error', phase: 'isComplete', cause: 'AmiError: The resource property BudgetSeconds must be a number, got "soon".' })]);
  });
});

describe('isComplete: available', () => {
  test('completes with the image ID, name and state; reads no progress', async () => {
    imageIs({ State: 'available' });

    await expect(poll(5 * MINUTE)).resolves.toEqual({
      IsComplete: true,
      Data: { ImageId: IMAGE_ID, ImageName: 'golden', State: 'available' },
    });

    expect(ec2Mock).not.toHaveReceivedCommand(DescribeSnapshotsCommand);
    expect(polls()).toEqual([expect.objectContaining({ state: 'available', elapsedSeconds: 300, link: '1/2' })]);
  });

  test('an image without a name completes with an empty name', async () => {
    imageIs({ State: 'available', Name: undefined });
    await expect(poll(0)).resolves.toEqual({ IsComplete: true, Data: { ImageId: IMAGE_ID, ImageName: '', State: 'available' } });
  });

  test('a link that is not the last leaves the instance alone', async () => {
    imageIs({ State: 'available' });
    await poll(0, { Link: '1', Links: '2', InstanceAction: 'stop', InstanceId: INSTANCE_ID });
    expect(ec2Mock).not.toHaveReceivedCommand(StopInstancesCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(TerminateInstancesCommand);
  });

  test('the last link stops the instance', async () => {
    imageIs({ State: 'available' });
    ec2Mock.on(StopInstancesCommand).resolves({});

    await expect(poll(0, { Link: '2', Links: '2', InstanceAction: 'stop', InstanceId: INSTANCE_ID })).resolves.toMatchObject({ IsComplete: true });

    expect(ec2Mock).toHaveReceivedCommandWith(StopInstancesCommand, { InstanceIds: [INSTANCE_ID] });
    expect(ec2Mock).not.toHaveReceivedCommand(TerminateInstancesCommand);
    expect(logs.find('instance stop requested')).toEqual([expect.objectContaining({ instanceId: INSTANCE_ID, region: 'us-east-1' })]);
  });

  test('the last link before an image\'s test (HandOver false) neither applies nor undoes the settings: the hand-over link does', async () => {
    imageIs({ State: 'available' });
    const settings = { ImdsSupport: 'v2.0', LaunchPermissions: [{ UserId: '111111111111' }], DeprecateAfterSeconds: '86400', InstanceAction: 'terminate', InstanceId: INSTANCE_ID };
    // A test added to an existing image: the link's settings move to the hand-over link.
    const event = updateEvent(WAITER, `${IMAGE_ID}/wait-1`, waiterProps({ Link: '1', Links: '1', HandOver: 'false' }), waiterProps({ Link: '1', Links: '1', ...settings }));
    await expect(isComplete({ ...event, WaitStartedAt: NOW } as never)).resolves.toMatchObject({ IsComplete: true, Data: { ImageId: IMAGE_ID } });
    expect(ec2Mock.calls().map((c) => (c.args[0] as object).constructor.name)).toEqual(['DescribeImagesCommand']);
  });

  test('the last link terminates the instance', async () => {
    imageIs({ State: 'available' });
    ec2Mock.on(TerminateInstancesCommand).resolves({});

    await poll(0, { Link: '2', Links: '2', InstanceAction: 'terminate', InstanceId: INSTANCE_ID });

    expect(ec2Mock).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: [INSTANCE_ID] });
    expect(ec2Mock).not.toHaveReceivedCommand(StopInstancesCommand);
  });

  test.each([
    ['action none', { InstanceAction: 'none', InstanceId: INSTANCE_ID }],
    ['no action', { InstanceId: INSTANCE_ID }],
    ['no instance', { InstanceAction: 'stop' }],
  ])('the last link with %s does nothing to the instance', async (_, props) => {
    imageIs({ State: 'available' });
    await expect(poll(0, { Link: '1', Links: '1', ...props })).resolves.toMatchObject({ IsComplete: true });
    expect(ec2Mock.calls().map((c) => (c.args[0] as object).constructor.name)).toEqual(['DescribeImagesCommand']);
  });

  test.each(['InvalidInstanceID.NotFound', 'IncorrectInstanceState'])('%s when stopping the instance is tolerated', async (code) => {
    imageIs({ State: 'available' });
    ec2Mock.on(StopInstancesCommand).rejects(awsError(code));

    await expect(poll(0, { Link: '2', Links: '2', InstanceAction: 'stop', InstanceId: INSTANCE_ID })).resolves.toEqual({
      IsComplete: true,
      Data: { ImageId: IMAGE_ID, ImageName: 'golden', State: 'available' },
    });
    expect(logs.find('instance stop not needed')).toEqual([expect.objectContaining({ instanceId: INSTANCE_ID, code })]);
  });

  test('any other error stopping the instance fails the wait and names the instance', async () => {
    imageIs({ State: 'available' });
    ec2Mock.on(TerminateInstancesCommand).rejects(awsError('UnauthorizedOperation', 'not authorized'));
    const err = await rejectionOf(poll(0, { Link: '2', Links: '2', InstanceAction: 'terminate', InstanceId: INSTANCE_ID }));
    expect(err.message).toBe(
      `The terminate of instance ${INSTANCE_ID} in us-east-1 after its image became available failed: UnauthorizedOperation: not authorized`,
    );
    expectOneLine(err);
  });

  test('an unknown instance action is an error', async () => {
    imageIs({ State: 'available' });
    await expect(poll(0, { Link: '1', Links: '1', InstanceAction: 'reboot', InstanceId: INSTANCE_ID }))
      .rejects.toThrow('The resource property InstanceAction must be one of none, stop, terminate, got "reboot".');
  });
});

describe('isComplete: link budgets and timeout', () => {
  beforeEach(() => {
    imageIs();
    ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
  });

  test('a link keeps waiting while another poll fits in its budget', async () => {
    // 3000 s budget: a poll at 2984 s plus the 15 s interval still ends inside it.
    await expect(poll(2_984_000)).resolves.toEqual({ IsComplete: false });
  });

  test('a link that is not the last completes with state pending once its budget is spent', async () => {
    await expect(poll(2_985_000)).resolves.toEqual({
      IsComplete: true,
      Data: { ImageId: IMAGE_ID, ImageName: 'golden', State: 'pending' },
    });
    expect(logs.find('link budget spent; the next link keeps waiting')).toEqual([
      expect.objectContaining({ imageId: IMAGE_ID, state: 'pending', link: '1/2' }),
    ]);
  });

  test('the last link fails with the total timeout', async () => {
    const err = await rejectionOf(poll(2_985_000, { Link: '2', Links: '2' }));
    expect(err.message).toBe(
      `Image ${IMAGE_ID} is still pending in us-east-1 after the timeout of 1 h 40 min. The rollback deregisters it and deletes its snapshots; raise the construct's timeout (up to 48 hours) if the image needs longer.`,
    );
    expectOneLine(err);
  });

  test('the timeout message uses the link budget when no total is given', async () => {
    await expect(poll(20 * MINUTE, { Link: '1', Links: '1', BudgetSeconds: '1200', TimeoutSeconds: undefined }))
      .rejects.toThrow('after the timeout of 20 min.');
  });

  test('a transient image at the end of the last link times out as transient', async () => {
    imageIs({ State: 'transient' });
    await expect(poll(50 * MINUTE, { Link: '3', Links: '3', TimeoutSeconds: '9000' }))
      .rejects.toThrow(`Image ${IMAGE_ID} is still transient in us-east-1 after the timeout of 2 h 30 min.`);
  });
});

describe('isComplete: image not visible', () => {
  test.each([
    ['NotFound', () => ec2Mock.on(DescribeImagesCommand).rejects(awsError('InvalidAMIID.NotFound'))],
    ['an empty answer', () => ec2Mock.on(DescribeImagesCommand).resolves({ Images: [] })],
  ])('%s within the first 5 minutes is pending', async (_, arrange) => {
    arrange();
    await expect(poll(4 * MINUTE + 59_000)).resolves.toEqual({ IsComplete: false });
    expect(logs.find('image not visible yet')).toEqual([
      expect.objectContaining({ imageId: IMAGE_ID, region: 'us-east-1', elapsedSeconds: 299, link: '1/2' }),
    ]);
  });

  test('NotFound after the grace period fails the wait', async () => {
    ec2Mock.on(DescribeImagesCommand).rejects(awsError('InvalidAMIID.NotFound'));
    const err = await rejectionOf(poll(5 * MINUTE));
    expect(err.message).toBe(
      `Image ${IMAGE_ID} does not exist in us-east-1: it was deregistered while the stack waited for it, or never became visible.`,
    );
    expectOneLine(err);
  });

  test('NotFound when a short link\'s budget is spent hands over with the image ID it was given', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({});
    await expect(poll(2 * MINUTE, { BudgetSeconds: '120' })).resolves.toEqual({
      IsComplete: true,
      Data: { ImageId: IMAGE_ID, ImageName: '', State: 'pending' },
    });
  });
});

describe('isComplete: errors', () => {
  test.each(['RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'TooManyRequestsException'])(
    'throttling (%s) is pending, not a failure', async (code) => {
      ec2Mock.on(DescribeImagesCommand).rejects(awsError(code, 'Request limit exceeded.'));
      await expect(poll(20 * MINUTE)).resolves.toEqual({ IsComplete: false });
      expect(logs.find('throttled; polling again')).toEqual([
        expect.objectContaining({ level: 'warn', imageId: IMAGE_ID, elapsedSeconds: 1200 }),
      ]);
    });

  test('throttling at the end of the last link is the timeout', async () => {
    ec2Mock.on(DescribeImagesCommand).rejects(awsError('RequestLimitExceeded'));
    await expect(poll(50 * MINUTE, { Link: '2', Links: '2' })).rejects.toThrow('is still pending in us-east-1 after the timeout of 1 h 40 min.');
  });

  test('any other error reading the image fails the wait and names the image', async () => {
    ec2Mock.on(DescribeImagesCommand).rejects(awsError('UnauthorizedOperation', 'not authorized'));
    const err = await rejectionOf(poll(0));
    expect(err.message).toBe(`Reading image ${IMAGE_ID} in us-east-1 failed: UnauthorizedOperation: not authorized`);
    expectOneLine(err);
    expect(logs.lines()).toEqual([expect.objectContaining({
      level: 'error', phase: 'isComplete', requestType: 'Create', logicalResourceId: LOGICAL_ID,
    })]);
  });

  test('a failed image fails the wait with EC2\'s reason', async () => {
    imageIs({ State: 'failed', StateReason: { Code: 'Server.InternalError', Message: 'Server.InternalError: Internal error on snapshot' } });
    ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: 'snap-root', Progress: '12%' }] });

    const err = await rejectionOf(poll(0));

    expect(err.message).toBe(
      `Image ${IMAGE_ID} (golden) ended in state failed in us-east-1: Server.InternalError: Internal error on snapshot. The rollback deregisters it and deletes its snapshots.`,
    );
    expectOneLine(err);
    expect(polls()).toEqual([expect.objectContaining({ state: 'failed', snapshotProgress: { 'snap-root': '12%' } })]);
  });

  test('a failed image with only a reason code', async () => {
    imageIs({ State: 'error', StateReason: { Code: 'Client.InvalidSnapshot' }, BlockDeviceMappings: [] });
    await expect(poll(0)).rejects.toThrow(`Image ${IMAGE_ID} (golden) ended in state error in us-east-1: Client.InvalidSnapshot.`);
  });

  test('a deregistered image without a reason', async () => {
    imageIs({ State: 'deregistered', BlockDeviceMappings: [] });
    await expect(poll(0)).rejects.toThrow(`Image ${IMAGE_ID} (golden) ended in state deregistered in us-east-1: EC2 gave no reason.`);
  });

  test('an image without a state is not waited for', async () => {
    imageIs({ State: undefined, BlockDeviceMappings: [] });
    await expect(poll(0)).rejects.toThrow('ended in state unknown in us-east-1: EC2 gave no reason.');
  });
});

describe('formatDuration', () => {
  test.each([
    [60, '1 min'],
    [1200, '20 min'],
    [3000, '50 min'],
    [3600, '1 h'],
    [5400, '1 h 30 min'],
    [6000, '1 h 40 min'],
    [3599, '1 h'],
    [7199, '2 h'],
    [172_800, '48 h'],
  ])('%d s is %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});
