import {
  DeregisterImageCommand, DescribeImagesCommand, DescribeSnapshotsCommand, DisableImageDeprecationCommand,
  DisableImageDeregistrationProtectionCommand,
  EC2Client, EnableImageDeprecationCommand, EnableImageDeregistrationProtectionCommand, GetImageBlockPublicAccessStateCommand,
  ModifyImageAttributeCommand, ModifySnapshotAttributeCommand,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { WAITER, awsError, captureLogs, createEvent, expectOneLine, ownedImage, updateEvent, waiterProps } from './helpers';
import { isComplete } from '../../lambda';
import { ec2 } from '../../lambda/shared/clients';
import { destroyImage } from '../../lambda/shared/images';
import { ownershipOf } from '../../lambda/shared/ownership';

const ec2Mock = mockClient(EC2Client);
const logs = captureLogs();
const IMAGE = 'ami-0123456789abcdef0';
const ORG = 'arn:aws:organizations::123456789012:organization/o-abcdefghij';
const LAST = { Link: '2', Links: '2' };

beforeEach(() => {
  ec2Mock.reset();
  ec2Mock.on(DescribeImagesCommand).resolves({ Images: [ownedImage()] });
  ec2Mock.on(GetImageBlockPublicAccessStateCommand).resolves({ ImageBlockPublicAccessState: 'unblocked' });
});

function created(props: Record<string, unknown>) {
  return isComplete({ ...createEvent(WAITER, waiterProps({ ...LAST, ...props })), WaitStartedAt: Date.now() });
}

function updated(props: Record<string, unknown>, old: Record<string, unknown>) {
  return isComplete({ ...updateEvent(WAITER, `${IMAGE}/wait-2`, waiterProps({ ...LAST, ...props }), waiterProps({ ...LAST, ...old })), WaitStartedAt: Date.now() });
}

describe('applied by the last waiter link once the image is available', () => {
  test('a new image gets its launch permissions, snapshot permissions, deprecation and protection', async () => {
    const result = await created({
      LaunchPermissions: [{ UserId: '111122223333' }, { OrganizationArn: ORG }],
      ShareSnapshots: 'true',
      DeprecateAt: '2030-01-02T03:04:00.000Z',
      DeregistrationProtection: 'enabled-with-cooldown',
    });
    expect(result.IsComplete).toBe(true);
    expect(ec2Mock).toHaveReceivedCommandWith(ModifyImageAttributeCommand, {
      ImageId: IMAGE, LaunchPermission: { Add: [{ UserId: '111122223333' }, { OrganizationArn: ORG }], Remove: undefined },
    });
    // Only accounts can get snapshot permissions; every snapshot of the image gets them.
    expect(ec2Mock).toHaveReceivedCommandTimes(ModifySnapshotAttributeCommand, 2);
    expect(ec2Mock).toHaveReceivedCommandWith(ModifySnapshotAttributeCommand, {
      SnapshotId: 'snap-root', Attribute: 'createVolumePermission', OperationType: 'add', UserIds: ['111122223333'],
    });
    expect(ec2Mock).toHaveReceivedCommandWith(EnableImageDeprecationCommand, { ImageId: IMAGE, DeprecateAt: new Date('2030-01-02T03:04:00.000Z') });
    expect(ec2Mock).toHaveReceivedCommandWith(EnableImageDeregistrationProtectionCommand, { ImageId: IMAGE, WithCooldown: true });
    expect(ec2Mock).not.toHaveReceivedCommand(GetImageBlockPublicAccessStateCommand);
  });

  test('nothing asked, nothing called', async () => {
    await created({});
    expect(ec2Mock).not.toHaveReceivedCommand(ModifyImageAttributeCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(ModifySnapshotAttributeCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(EnableImageDeprecationCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(EnableImageDeregistrationProtectionCommand);
  });

  test('a non-last link applies nothing', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [ownedImage()] });
    const event = createEvent(WAITER, waiterProps({ Link: '1', Links: '2', LaunchPermissions: [{ UserId: '111122223333' }] }));
    await isComplete({ ...event, WaitStartedAt: Date.now() });
    expect(ec2Mock).not.toHaveReceivedCommand(ModifyImageAttributeCommand);
  });

  test('an update applies only the difference, in place', async () => {
    await updated(
      { LaunchPermissions: [{ UserId: '444455556666' }, { OrganizationArn: ORG }], ShareSnapshots: 'true' },
      {
        LaunchPermissions: [{ UserId: '111122223333' }, { OrganizationArn: ORG }],
        ShareSnapshots: 'true',
        DeprecateAt: '2030-01-02T03:04:00.000Z',
        DeregistrationProtection: 'enabled',
      },
    );
    expect(ec2Mock).toHaveReceivedCommandWith(ModifyImageAttributeCommand, {
      ImageId: IMAGE, LaunchPermission: { Add: [{ UserId: '444455556666' }], Remove: [{ UserId: '111122223333' }] },
    });
    expect(ec2Mock).toHaveReceivedCommandWith(ModifySnapshotAttributeCommand, { SnapshotId: 'snap-data', OperationType: 'remove', UserIds: ['111122223333'] });
    expect(ec2Mock).toHaveReceivedCommandWith(ModifySnapshotAttributeCommand, { SnapshotId: 'snap-data', OperationType: 'add', UserIds: ['444455556666'] });
    expect(ec2Mock).toHaveReceivedCommandWith(DisableImageDeprecationCommand, { ImageId: IMAGE });
    expect(ec2Mock).toHaveReceivedCommandWith(DisableImageDeregistrationProtectionCommand, { ImageId: IMAGE });
  });

  test('an update for a replacement image starts from nothing', async () => {
    await updated({ ImageId: IMAGE, LaunchPermissions: [{ UserId: '111122223333' }] }, { ImageId: 'ami-0fffffffffffffff0', LaunchPermissions: [{ UserId: '111122223333' }] });
    expect(ec2Mock).toHaveReceivedCommandWith(ModifyImageAttributeCommand, { LaunchPermission: { Add: [{ UserId: '111122223333' }], Remove: undefined } });
  });

  test('public sharing checks image block public access first', async () => {
    await created({ Public: 'true', ShareSnapshots: 'true' });
    expect(ec2Mock).toHaveReceivedCommandWith(ModifyImageAttributeCommand, { LaunchPermission: { Add: [{ Group: 'all' }], Remove: undefined } });
    // Public images never share their snapshots.
    expect(ec2Mock).not.toHaveReceivedCommand(ModifySnapshotAttributeCommand);
  });

  test('public sharing under image block public access fails with a sentence, before trying', async () => {
    ec2Mock.on(GetImageBlockPublicAccessStateCommand).resolves({ ImageBlockPublicAccessState: 'block-new-sharing' });
    const err = await created({ Public: 'true' }).then(() => undefined, (e: Error) => e);
    expect(err!.message).toMatch(/^Image ami-0123456789abcdef0 cannot be made public: image block public access is on for this account in us-east-1 \(block-new-sharing\)\. Turn it off/);
    expectOneLine(err!);
    expect(ec2Mock).not.toHaveReceivedCommand(ModifyImageAttributeCommand);
  });

  test('an EC2 refusal names the image', async () => {
    ec2Mock.on(EnableImageDeprecationCommand).rejects(awsError('InvalidParameterValue', 'The deprecation time is too far in the future'));
    const err = await created({ DeprecateAt: '2099-01-01T00:00:00.000Z' }).then(() => undefined, (e: Error) => e);
    expect(err!.message).toBe('Applying IMDSv2, sharing, deprecation, protection or disabling to image ami-0123456789abcdef0 in us-east-1 failed: InvalidParameterValue: The deprecation time is too far in the future');
  });
});

describe('delete of a protected image', () => {
  const ownership = ownershipOf({ StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/S/uuid', LogicalResourceId: 'GoldenResource', RequestId: 'create-request-0001' });
  beforeEach(() => ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] }));

  test('asked for by the user (DESTROY): fails with a sentence, protection stays', async () => {
    ec2Mock.on(DeregisterImageCommand).rejects(awsError('OperationNotPermitted'));
    const destroying = destroyImage(ec2('us-east-1'), IMAGE, ownedImage(), ownership, 'us-east-1', { overrideProtection: false });
    const err = await destroying.then(() => undefined, (e: Error) => e);
    expect(err!.message).toMatch(/Cannot delete image ami-0123456789abcdef0 in us-east-1: deregistration protection is on/);
    expect(ec2Mock).not.toHaveReceivedCommand(DisableImageDeregistrationProtectionCommand);
  });

  test('made by a failed deployment: protection is lifted and the image deleted', async () => {
    ec2Mock.on(DeregisterImageCommand).rejectsOnce(awsError('OperationNotPermitted')).resolves({});
    await destroyImage(ec2('us-east-1'), IMAGE, ownedImage(), ownership, 'us-east-1', { overrideProtection: true });
    expect(ec2Mock).toHaveReceivedCommandWith(DisableImageDeregistrationProtectionCommand, { ImageId: IMAGE });
    expect(ec2Mock).toHaveReceivedCommandTimes(DeregisterImageCommand, 2);
  });

  test('made by a failed deployment but in its 24-hour cooldown: kept, and the log says what to do', async () => {
    ec2Mock.on(DeregisterImageCommand).rejects(awsError('OperationNotPermitted'));
    await expect(destroyImage(ec2('us-east-1'), IMAGE, ownedImage(), ownership, 'us-east-1', { overrideProtection: true })).resolves.toBeUndefined();
    expect(logs.find('image kept: deregistration protection has a 24-hour cooldown')).toHaveLength(1);
  });

  test('other errors on the second try name the image', async () => {
    ec2Mock.on(DeregisterImageCommand).rejectsOnce(awsError('OperationNotPermitted')).rejects(awsError('InternalError'));
    const err = await destroyImage(ec2('us-east-1'), IMAGE, ownedImage(), ownership, 'us-east-1', { overrideProtection: true }).then(() => undefined, (e: Error) => e);
    expect(err!.message).toMatch(/Deregistering image ami-0123456789abcdef0 in us-east-1 failed: InternalError/);
  });
});
