/**
 * IMDSv2 on every kind, disabling, snapshot-only tags and the in-use warning
 * before a DESTROY deregisters: what the handlers send to EC2.
 */
import {
  CopyImageCommand, CreateImageCommand, CreateTagsCommand, DeleteTagsCommand, DeregisterImageCommand, DescribeImageReferencesCommand,
  DescribeImagesCommand, DescribeImportImageTasksCommand, DescribeSnapshotsCommand, DisableImageCommand, EnableImageCommand,
  EnableImageDeprecationCommand, ModifyImageAttributeCommand,
} from '@aws-sdk/client-ec2';
import 'aws-sdk-client-mock-jest';
import {
  FROM_INSTANCE, IMAGE_ID, LAST_LINK, WAITER, awsError, captureLogs, createEvent, deleteEvent, fromInstanceProps, lastLinkUpdate, mockedClients,
  ownedImage, ownershipTagsFor, updateEvent, waiterProps,
} from './helpers';
import { isComplete, onEvent } from '../../lambda';

const { ec2Mock, stackIs, mutatingCalls } = mockedClients({ images: [ownedImage()] });
const logs = captureLogs();
const ACCOUNT = '111122223333';

beforeEach(() => {
  ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
  ec2Mock.on(CreateImageCommand).resolves({ ImageId: 'ami-0replacement00000' });
  ec2Mock.on(DeregisterImageCommand).resolves({ Return: true, DeleteSnapshotResults: [] });
  stackIs('UPDATE_COMPLETE');
});

function waitCreated(props: Record<string, unknown>) {
  return isComplete({ ...createEvent(WAITER, waiterProps(props)), WaitStartedAt: Date.now() });
}

function waitUpdated(props: Record<string, unknown>, old: Record<string, unknown>) {
  return isComplete({ ...lastLinkUpdate(props, old), WaitStartedAt: Date.now() });
}

describe('IMDSv2', () => {
  test('the last link sets ImdsSupport v2.0 once the image is available, before sharing it', async () => {
    const result = await waitCreated({ ...LAST_LINK, ImdsSupport: 'v2.0', LaunchPermissions: [{ UserId: ACCOUNT }] });
    expect(result.IsComplete).toBe(true);
    expect(ec2Mock.commandCalls(ModifyImageAttributeCommand).map((c) => c.args[0].input)).toEqual([
      { ImageId: IMAGE_ID, ImdsSupport: { Value: 'v2.0' } },
      { ImageId: IMAGE_ID, LaunchPermission: { Add: [{ UserId: ACCOUNT }], Remove: undefined } },
    ]);
    expect(logs.find('IMDSv2 required')).toEqual([expect.objectContaining({ imageId: IMAGE_ID, imdsSupport: 'v2.0' })]);
  });

  test('an image that has it (RegisterImage, or an earlier poll) is not modified again', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [ownedImage({ ImdsSupport: 'v2.0' })] });
    await waitCreated({ ...LAST_LINK, ImdsSupport: 'v2.0' });
    expect(mutatingCalls()).toEqual([]);
  });

  test('a link that is not the last, or an image still pending, sets nothing', async () => {
    await waitCreated({ Link: '1', Links: '2', ImdsSupport: 'v2.0' });
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [ownedImage({ State: 'pending' })] });
    await waitCreated({ ...LAST_LINK, ImdsSupport: 'v2.0' });
    expect(mutatingCalls()).toEqual([]);
  });

  test('turning it on or off replaces the image of every kind: EC2 cannot undo it', async () => {
    for (const [after, before] of [[{ ImdsSupport: 'v2.0' }, {}], [{}, { ImdsSupport: 'v2.0' }]]) {
      ec2Mock.resetHistory();
      const result = await onEvent(updateEvent(FROM_INSTANCE, IMAGE_ID, fromInstanceProps(after), fromInstanceProps(before)));
      expect(result.PhysicalResourceId).toBe('ami-0replacement00000');
      expect(ec2Mock).toHaveReceivedCommandTimes(CreateImageCommand, 1);
    }
    expect(logs.find('replacing image')).toEqual([
      expect.objectContaining({ changed: ['ImdsSupport'] }), expect.objectContaining({ changed: ['ImdsSupport'] }),
    ]);
  });
});

describe('disabling', () => {
  test('a DisableAt that has passed disables the new image last, without sharing it first', async () => {
    const result = await waitCreated({
      ...LAST_LINK, DisableAt: '2020-01-01T00:00:00.000Z', LaunchPermissions: [{ UserId: ACCOUNT }], DeprecateAt: '2030-01-01T00:00:00.000Z',
    });
    expect(result.IsComplete).toBe(true);
    expect(mutatingCalls()).toEqual(['EnableImageDeprecationCommand', 'DisableImageCommand']);
    expect(ec2Mock).toHaveReceivedCommandWith(DisableImageCommand, { ImageId: IMAGE_ID });
    expect(logs.find('image disabled')).toEqual([expect.objectContaining({ imageId: IMAGE_ID, disableAt: '2020-01-01T00:00:00.000Z' })]);
  });

  test('a disabled image is a finished image: the wait completes instead of failing', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [ownedImage({ State: 'disabled' })] });
    const result = await waitUpdated({ DisableAt: '2020-01-01T00:00:00.000Z', DeprecateAt: '2030-01-01T00:00:00.000Z' }, { DisableAt: '2020-01-01T00:00:00.000Z' });
    expect(result).toEqual({ IsComplete: true, Data: expect.objectContaining({ ImageId: IMAGE_ID, State: 'disabled' }) });
    // Already disabled: only the deprecation changes.
    expect(mutatingCalls()).toEqual(['EnableImageDeprecationCommand']);
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeImagesCommand, { ImageIds: [IMAGE_ID], IncludeDisabled: true });
  });

  test('removing DisableAt enables the image and grants every launch permission again (EC2 restores none)', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [ownedImage({ State: 'disabled' })] });
    const shared = { LaunchPermissions: [{ UserId: ACCOUNT }] };
    await waitUpdated(shared, { ...shared, DisableAt: '2020-01-01T00:00:00.000Z' });
    expect(mutatingCalls()).toEqual(['EnableImageCommand', 'ModifyImageAttributeCommand']);
    expect(ec2Mock).toHaveReceivedCommandWith(EnableImageCommand, { ImageId: IMAGE_ID });
    expect(ec2Mock).toHaveReceivedCommandWith(ModifyImageAttributeCommand, {
      ImageId: IMAGE_ID, LaunchPermission: { Add: [{ UserId: ACCOUNT }], Remove: undefined },
    });
  });

  test('disabling a shared image leaves the launch permissions to DisableImage', async () => {
    const shared = { LaunchPermissions: [{ UserId: ACCOUNT }] };
    await waitUpdated({ ...shared, DisableAt: '2020-01-01T00:00:00.000Z' }, shared);
    expect(mutatingCalls()).toEqual(['DisableImageCommand']);
  });

  test('an EC2 refusal names the image and what was being applied', async () => {
    ec2Mock.on(DisableImageCommand).rejects(awsError('IncorrectState', 'The image is not available'));
    await expect(waitCreated({ ...LAST_LINK, DisableAt: '2020-01-01T00:00:00.000Z' })).rejects.toThrow(
      `Applying IMDSv2, sharing, deprecation, protection or disabling to image ${IMAGE_ID} in us-east-1 failed: IncorrectState: The image is not available`);
    expect(ec2Mock).not.toHaveReceivedCommand(EnableImageDeprecationCommand);
  });
});

describe('snapshot-only tags', () => {
  test('CreateImage tags the snapshots with the image tags plus the snapshot tags, which win on the same key', async () => {
    await onEvent(createEvent(FROM_INSTANCE, fromInstanceProps({
      Tags: [{ Key: 'team', Value: 'infra' }, { Key: 'tier', Value: 'image' }],
      SnapshotTags: [{ Key: 'backup', Value: 'daily' }, { Key: 'tier', Value: 'snapshot' }],
    })));
    const ownership = ownershipTagsFor('create-request-0001');
    expect(ec2Mock).toHaveReceivedCommandWith(CreateImageCommand, {
      TagSpecifications: [
        { ResourceType: 'image', Tags: [{ Key: 'team', Value: 'infra' }, { Key: 'tier', Value: 'image' }, ...ownership] },
        { ResourceType: 'snapshot', Tags: [{ Key: 'team', Value: 'infra' }, { Key: 'tier', Value: 'snapshot' }, { Key: 'backup', Value: 'daily' }, ...ownership] },
      ],
    });
  });

  test('a change of snapshot tags retags the snapshots alone, in place', async () => {
    const result = await onEvent(updateEvent(FROM_INSTANCE, IMAGE_ID,
      fromInstanceProps({ SnapshotTags: [{ Key: 'backup', Value: 'weekly' }] }),
      fromInstanceProps({ SnapshotTags: [{ Key: 'backup', Value: 'daily' }, { Key: 'old', Value: 'x' }] })));
    expect(result).toEqual({ PhysicalResourceId: IMAGE_ID });
    expect(mutatingCalls()).toEqual(['DeleteTagsCommand', 'CreateTagsCommand']);
    expect(ec2Mock).toHaveReceivedCommandWith(DeleteTagsCommand, { Resources: ['snap-root', 'snap-data'], Tags: [{ Key: 'old' }] });
    expect(ec2Mock).toHaveReceivedCommandWith(CreateTagsCommand, { Resources: ['snap-root', 'snap-data'], Tags: [{ Key: 'backup', Value: 'weekly' }] });
  });

  test('a tag change with snapshot tags set reaches the image and the snapshots, each with its own value', async () => {
    const snapshotTags = [{ Key: 'tier', Value: 'snapshot' }];
    await onEvent(updateEvent(FROM_INSTANCE, IMAGE_ID,
      fromInstanceProps({ Tags: [{ Key: 'team', Value: 'infra' }, { Key: 'tier', Value: 'image' }], SnapshotTags: snapshotTags }),
      fromInstanceProps({ SnapshotTags: snapshotTags })));
    // The image gets the new tag; the snapshots keep theirs, as the snapshot tag wins.
    expect(ec2Mock).toHaveReceivedCommandTimes(CreateTagsCommand, 1);
    expect(ec2Mock).toHaveReceivedCommandWith(CreateTagsCommand, { Resources: [IMAGE_ID], Tags: [{ Key: 'tier', Value: 'image' }] });
  });

  test('an import tags its snapshots with the snapshot tags when stage 2 adopts it, and its named copy too', async () => {
    const task = {
      ImportTaskId: 'import-ami-0123456789abcdef0',
      Status: 'completed',
      ImageId: 'ami-0imported00000000',
      Tags: ownershipTagsFor('create-request-0001'),
    };
    ec2Mock.on(DescribeImportImageTasksCommand).resolves({ ImportImageTasks: [task] });
    ec2Mock.on(DescribeImagesCommand, { Filters: [{ Name: 'tag:cdk-ami:import-task', Values: [task.ImportTaskId] }] }).resolves({ Images: [] });
    // VM Import leaves the image untagged.
    ec2Mock.on(DescribeImagesCommand, { ImageIds: ['ami-0imported00000000'] }).resolves({ Images: [ownedImage({ ImageId: 'ami-0imported00000000', Tags: [] })] });
    ec2Mock.on(CopyImageCommand).resolves({ ImageId: 'ami-0named0000000000' });
    await waitCreated({
      ImageId: 'ami-0imported00000000',
      ImportTaskId: task.ImportTaskId,
      ImportedImageId: 'ami-0imported00000000',
      ImportedSnapshotIds: 'snap-root,snap-data',
      ImageName: 'golden',
      SnapshotTags: [{ Key: 'backup', Value: 'daily' }],
    });

    const taskTags = [...task.Tags, { Key: 'cdk-ami:import-task', Value: task.ImportTaskId }];
    expect(ec2Mock).toHaveReceivedCommandWith(CreateTagsCommand, { Resources: ['ami-0imported00000000'], Tags: taskTags });
    expect(ec2Mock).toHaveReceivedCommandWith(CreateTagsCommand, { Resources: ['snap-root', 'snap-data'], Tags: [...taskTags, { Key: 'backup', Value: 'daily' }] });
    expect(ec2Mock).toHaveReceivedCommandWith(CopyImageCommand, {
      TagSpecifications: [{ ResourceType: 'image', Tags: taskTags }, { ResourceType: 'snapshot', Tags: [...taskTags, { Key: 'backup', Value: 'daily' }] }],
    });
  });
});

describe('before DESTROY deregisters an image', () => {
  const destroy = () => onEvent(deleteEvent(FROM_INSTANCE, IMAGE_ID, fromInstanceProps({ RemovalPolicy: 'destroy' })));
  const references = [
    { ImageId: IMAGE_ID, ResourceType: 'ec2:LaunchTemplate' as const, Arn: 'arn:aws:ec2:us-east-1:123456789012:launch-template/lt-0123456789abcdef0' },
    { ImageId: IMAGE_ID, ResourceType: 'ec2:Instance' as const, Arn: 'arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0' },
  ];

  test('the log names the instances and launch templates that still use it, and the image goes anyway', async () => {
    ec2Mock.on(DescribeImageReferencesCommand).resolvesOnce({ ImageReferences: [references[0]], NextToken: 'page2' })
      .resolvesOnce({ ImageReferences: [references[1]] });
    await destroy();
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeImageReferencesCommand, {
      ImageIds: [IMAGE_ID], ResourceTypes: [{ ResourceType: 'ec2:Instance' }, { ResourceType: 'ec2:LaunchTemplate' }],
    });
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeImageReferencesCommand, { NextToken: 'page2' });
    expect(logs.find('image is still in use; deregistering it as removalPolicy DESTROY says: running instances keep running, new launches through these references fail'))
      .toEqual([expect.objectContaining({ level: 'warn', imageId: IMAGE_ID, users: references.map((r) => r.Arn) })]);
    expect(ec2Mock).toHaveReceivedCommandWith(DeregisterImageCommand, { ImageId: IMAGE_ID });
  });

  test('a check that fails (e.g. no permission) never blocks the delete', async () => {
    ec2Mock.on(DescribeImageReferencesCommand).rejects(awsError('UnauthorizedOperation', 'You are not authorized'));
    await destroy();
    expect(logs.find('could not check whether the image is still in use; deregistering it anyway')).toHaveLength(1);
    expect(ec2Mock).toHaveReceivedCommandWith(DeregisterImageCommand, { ImageId: IMAGE_ID });
  });

  test('no reference, no warning; an image rolled back or kept is never checked', async () => {
    ec2Mock.on(DescribeImageReferencesCommand).resolves({ ImageReferences: [] });
    await destroy();
    expect(logs.lines().filter((l) => l.level === 'warn')).toEqual([]);

    ec2Mock.resetHistory();
    stackIs('ROLLBACK_IN_PROGRESS');
    await destroy();
    await onEvent(deleteEvent(FROM_INSTANCE, IMAGE_ID, fromInstanceProps({ RemovalPolicy: 'retain' })));
    expect(ec2Mock).not.toHaveReceivedCommand(DescribeImageReferencesCommand);
  });
});
