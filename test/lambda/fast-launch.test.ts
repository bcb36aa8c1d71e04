import {
  DeregisterImageCommand, DescribeFastLaunchImagesCommand, DescribeSnapshotsCommand, DescribeFastLaunchImagesSuccessItem, DescribeImagesCommand,
  DisableFastLaunchCommand, EnableFastLaunchCommand, ModifyImageAttributeCommand,
} from '@aws-sdk/client-ec2';
import 'aws-sdk-client-mock-jest';
import {
  FROM_INSTANCE, IMAGE_ID, LAST_LINK, WAITER, awsError, captureLogs, createEvent, deleteEvent, expectOneLine, fromInstanceProps, lastLinkUpdate,
  mockedClients, ownedImage, rejectionOf, waiterProps,
} from './helpers';
import { isComplete, onEvent } from '../../lambda';

const WINDOWS = ownedImage({ Platform: 'windows' as never, PlatformDetails: 'Windows' });
const { ec2Mock, stackIs } = mockedClients({ images: [WINDOWS] });
const logs = captureLogs();
const SETTINGS = { TargetResourceCount: '10', MaxParallelLaunches: '8', LaunchTemplateId: 'lt-0123456789abcdef0', LaunchTemplateVersion: '3' };

function reported(state: string, extra: Partial<DescribeFastLaunchImagesSuccessItem> = {}): DescribeFastLaunchImagesSuccessItem {
  return {
    ImageId: IMAGE_ID,
    ResourceType: 'snapshot',
    SnapshotConfiguration: { TargetResourceCount: 10 },
    MaxParallelLaunches: 8,
    LaunchTemplate: { LaunchTemplateId: 'lt-0123456789abcdef0', Version: '3' },
    State: state as never,
    ...extra,
  };
}

beforeEach(() => {
  ec2Mock.on(DescribeFastLaunchImagesCommand).resolves({ FastLaunchImages: [] });
  stackIs('UPDATE_IN_PROGRESS');
});

function created(props: Record<string, unknown>) {
  return isComplete({ ...createEvent(WAITER, waiterProps({ ...LAST_LINK, ...props })), WaitStartedAt: Date.now() });
}

function updated(props: Record<string, unknown>, old: Record<string, unknown>, extra = {}) {
  return isComplete({ ...lastLinkUpdate(props, old), WaitStartedAt: Date.now(), ...extra });
}

describe('the last waiter link enables fast launch and waits until EC2 reports it enabled', () => {
  test('a new image: EnableFastLaunch with the settings, then not complete while enabling', async () => {
    const result = await created({ FastLaunch: SETTINGS, LaunchPermissions: [{ UserId: '111122223333' }] });
    expect(result.IsComplete).toBe(false);
    expect(ec2Mock).toHaveReceivedCommandWith(EnableFastLaunchCommand, {
      ImageId: IMAGE_ID,
      ResourceType: 'snapshot',
      SnapshotConfiguration: { TargetResourceCount: 10 },
      MaxParallelLaunches: 8,
      LaunchTemplate: { LaunchTemplateId: 'lt-0123456789abcdef0', Version: '3' },
    });
    // Last: the other settings are applied first.
    const order = ec2Mock.calls().map((c) => c.args[0].constructor.name);
    expect(order.indexOf('ModifyImageAttributeCommand')).toBeLessThan(order.indexOf('EnableFastLaunchCommand'));
  });

  test('a retried poll reads EC2 first: while enabling with these settings it only waits', async () => {
    ec2Mock.on(DescribeFastLaunchImagesCommand).resolves({ FastLaunchImages: [reported('enabling')] });
    expect((await created({ FastLaunch: SETTINGS })).IsComplete).toBe(false);
    expect(ec2Mock).not.toHaveReceivedCommand(EnableFastLaunchCommand);
    expect(logs.find('waiting for fast launch')[0]).toMatchObject({ fastLaunch: 'enabling' });
  });

  test('complete once enabled, with the image ID', async () => {
    ec2Mock.on(DescribeFastLaunchImagesCommand).resolves({ FastLaunchImages: [reported('enabled')] });
    const result = await created({ FastLaunch: SETTINGS });
    expect(result).toMatchObject({ IsComplete: true, Data: { ImageId: IMAGE_ID } });
    expect(ec2Mock).not.toHaveReceivedCommand(EnableFastLaunchCommand);
  });

  test('only what the user set is compared: EC2 defaults do not cause a new EnableFastLaunch', async () => {
    ec2Mock.on(DescribeFastLaunchImagesCommand).resolves({ FastLaunchImages: [reported('enabled', { LaunchTemplate: undefined })] });
    expect((await created({ FastLaunch: { MaxParallelLaunches: '8' } })).IsComplete).toBe(true);
    expect(ec2Mock).not.toHaveReceivedCommand(EnableFastLaunchCommand);
  });

  test.each([
    ['enabling-failed', 'Client.InvalidVpc - no default VPC'],
    ['enabled-failed', 'Client.InvalidVpc - no default VPC.'],
  ])('%s fails the deployment with EC2\'s reason, in one sentence (reason "%s")', async (state, reason) => {
    ec2Mock.on(DescribeFastLaunchImagesCommand).resolves({ FastLaunchImages: [reported(state, { StateTransitionReason: reason })] });
    const err = await rejectionOf(created({ FastLaunch: SETTINGS }));
    expectOneLine(err);
    expect(err.message).toContain(`Fast launch of image ${IMAGE_ID} in us-east-1 is ${state}: Client.InvalidVpc - no default VPC. Check the fast launch prerequisites`);
  });

  test('a Linux image fails with a sentence before EnableFastLaunch', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [ownedImage({ PlatformDetails: 'Linux/UNIX' })] });
    const err = await rejectionOf(created({ FastLaunch: SETTINGS }));
    expectOneLine(err);
    expect(err.message).toContain(`Fast launch needs a Windows image, and image ${IMAGE_ID} in us-east-1 is Linux/UNIX: remove fastLaunch.`);
    expect(ec2Mock).not.toHaveReceivedCommand(EnableFastLaunchCommand);
  });

  test('while EC2 still removes the snapshots of a disable, it waits before enabling again', async () => {
    ec2Mock.on(DescribeFastLaunchImagesCommand).resolves({ FastLaunchImages: [reported('disabling')] });
    expect((await created({ FastLaunch: SETTINGS })).IsComplete).toBe(false);
    expect(ec2Mock).not.toHaveReceivedCommand(EnableFastLaunchCommand);
  });

  test('EC2 refusing EnableFastLaunch is one sentence naming the image', async () => {
    ec2Mock.on(EnableFastLaunchCommand).rejects(awsError('InvalidParameterValue', 'Value (5) for parameter MaxParallelLaunches is invalid.'));
    const err = await rejectionOf(created({ FastLaunch: { MaxParallelLaunches: '5' } }));
    expectOneLine(err);
    expect(err.message).toContain(`Fast launch of image ${IMAGE_ID} in us-east-1`);
    expect(err.message).toContain('MaxParallelLaunches');
  });

  test('throttled even after the SDK\'s retries: polls again instead of failing', async () => {
    ec2Mock.on(DescribeFastLaunchImagesCommand).rejects(awsError('RequestLimitExceeded', 'Request limit exceeded.'));
    expect((await created({ FastLaunch: SETTINGS })).IsComplete).toBe(false);
    expect(logs.find('throttled; polling again')[0]).toMatchObject({ imageId: IMAGE_ID, fastLaunch: 'unknown' });
  });

  test('no fastLaunch, before or now: DescribeFastLaunchImages is not even called', async () => {
    expect((await created({})).IsComplete).toBe(true);
    expect(ec2Mock).not.toHaveReceivedCommand(DescribeFastLaunchImagesCommand);
  });
});

describe('in place on update', () => {
  test('changed settings: EnableFastLaunch again with the new ones', async () => {
    ec2Mock.on(DescribeFastLaunchImagesCommand).resolves({ FastLaunchImages: [reported('enabled')] });
    const result = await updated({ FastLaunch: { ...SETTINGS, MaxParallelLaunches: '12' } }, { FastLaunch: SETTINGS });
    expect(result.IsComplete).toBe(false);
    expect(ec2Mock).toHaveReceivedCommandWith(EnableFastLaunchCommand, { ImageId: IMAGE_ID, MaxParallelLaunches: 12 });
    expect(logs.find('fast launch settings updated')).toHaveLength(1);
  });

  test('removed: DisableFastLaunch, and the link completes without waiting for the snapshots to go', async () => {
    ec2Mock.on(DescribeFastLaunchImagesCommand).resolves({ FastLaunchImages: [reported('enabled')] });
    const result = await updated({}, { FastLaunch: SETTINGS });
    expect(result.IsComplete).toBe(true);
    expect(ec2Mock).toHaveReceivedCommandWith(DisableFastLaunchCommand, { ImageId: IMAGE_ID });
    expect(ec2Mock).not.toHaveReceivedCommand(EnableFastLaunchCommand);
  });

  test('removed while already disabling: nothing to do', async () => {
    ec2Mock.on(DescribeFastLaunchImagesCommand).resolves({ FastLaunchImages: [reported('disabling')] });
    expect((await updated({}, { FastLaunch: SETTINGS })).IsComplete).toBe(true);
    expect(ec2Mock).not.toHaveReceivedCommand(DisableFastLaunchCommand);
  });

  test('a rollback restores fast launch but does not wait for it, and a failure only warns', async () => {
    ec2Mock.on(EnableFastLaunchCommand).rejects(awsError('IncorrectState', 'disabling'));
    const result = await updated({ FastLaunch: SETTINGS }, {}, { RollingBack: true });
    expect(result.IsComplete).toBe(true);
    expect(logs.find('the rollback could not restore fast launch')).toHaveLength(1);
  });
});

describe('before a delete deregisters the image', () => {
  function deleted(props: Record<string, unknown>) {
    return onEvent(deleteEvent(FROM_INSTANCE, IMAGE_ID, fromInstanceProps({ RemovalPolicy: 'destroy', ...props })));
  }

  beforeEach(() => {
    ec2Mock.on(DeregisterImageCommand).resolves({ Return: true });
    ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
    ec2Mock.on(ModifyImageAttributeCommand).resolves({});
    ec2Mock.on(DescribeFastLaunchImagesCommand).resolves({ FastLaunchImages: [reported('enabled')] });
  });

  test('DESTROY disables fast launch first (EC2 removes the pre-provisioned snapshots), then deregisters', async () => {
    await deleted({ FastLaunch: 'true' });
    expect(ec2Mock).toHaveReceivedCommandWith(DisableFastLaunchCommand, { ImageId: IMAGE_ID, Force: undefined });
    const order = ec2Mock.calls().map((c) => c.args[0].constructor.name);
    expect(order.indexOf('DisableFastLaunchCommand')).toBeLessThan(order.indexOf('DeregisterImageCommand'));
  });

  test('a rollback forces it: errors while EC2 cleans up do not keep the failed image', async () => {
    stackIs('ROLLBACK_IN_PROGRESS');
    await deleted({ FastLaunch: 'true', RemovalPolicy: 'retain' });
    expect(ec2Mock).toHaveReceivedCommandWith(DisableFastLaunchCommand, { ImageId: IMAGE_ID, Force: true });
    expect(ec2Mock).toHaveReceivedCommand(DeregisterImageCommand);
  });

  test('RETAIN keeps the image with fast launch enabled', async () => {
    await deleted({ FastLaunch: 'true', RemovalPolicy: 'retain' });
    expect(ec2Mock).not.toHaveReceivedCommand(DisableFastLaunchCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(DeregisterImageCommand);
  });

  test('already disabling, or an image that never had fastLaunch: no DisableFastLaunch', async () => {
    ec2Mock.on(DescribeFastLaunchImagesCommand).resolves({ FastLaunchImages: [reported('disabling')] });
    await deleted({ FastLaunch: 'true' });
    await deleted({});
    expect(ec2Mock).not.toHaveReceivedCommand(DisableFastLaunchCommand);
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeFastLaunchImagesCommand, 1);
    expect(ec2Mock).toHaveReceivedCommandTimes(DeregisterImageCommand, 2);
  });
});
