import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  CreateImageCommand, CreateTagsCommand, DeleteSnapshotCommand, DeleteTagsCommand, DeregisterImageCommand, DescribeImagesCommand,
  DescribeInstancesCommand, DescribeSnapshotsCommand, EC2Client, ModifyImageAttributeCommand,
} from '@aws-sdk/client-ec2';
import 'aws-sdk-client-mock-jest';
import {
  FROM_INSTANCE, IMAGE_ID, LOGICAL_ID, STACK_ID, UPDATE_REQUEST, awsError, captureLogs, deleteEvent, expectOneLine, foreignImage, fromInstanceProps,
  hash, mockedClients, ownedImage, ownershipTagsFor, rejectionOf, reservationOf, updateEvent,
} from './helpers';
import { onEvent } from '../../lambda/index';

const { ec2Mock, cfnMock, stackIs, mutatingCalls } = mockedClients();
const logs = captureLogs();

const OWNER = hash(`${STACK_ID}/${LOGICAL_ID}`);

beforeEach(() => {
  ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMAGE_ID] }).resolves({ Images: [ownedImage()] });
  ec2Mock.on(CreateImageCommand).resolves({ ImageId: 'ami-0replacement00000' });
  ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
  stackIs('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
});

function update(props: Record<string, unknown>, oldProps: Record<string, unknown>) {
  return onEvent(updateEvent(FROM_INSTANCE, IMAGE_ID, fromInstanceProps(props), fromInstanceProps(oldProps)));
}

describe('Update in place', () => {
  test('a new description is set with ModifyImageAttribute', async () => {
    const result = await update({ Description: 'v2' }, { Description: 'v1' });

    expect(result).toEqual({ PhysicalResourceId: IMAGE_ID });
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeImagesCommand, { ImageIds: [IMAGE_ID] });
    expect(ec2Mock).toHaveReceivedCommandWith(ModifyImageAttributeCommand, { ImageId: IMAGE_ID, Description: { Value: 'v2' } });
    expect(mutatingCalls()).toEqual(['ModifyImageAttributeCommand']);
    expect(logs.find('description updated')).toHaveLength(1);
  });

  test('a removed description is cleared', async () => {
    await update({ Description: undefined }, { Description: 'v1' });
    expect(ec2Mock).toHaveReceivedCommandWith(ModifyImageAttributeCommand, { ImageId: IMAGE_ID, Description: { Value: '' } });
  });

  test('tag changes: removed keys are deleted, changed and added keys are set, on the image and its snapshots', async () => {
    await update(
      { Tags: [{ Key: 'keep', Value: '1' }, { Key: 'change', Value: 'new' }, { Key: 'add', Value: 'x' }] },
      { Tags: [{ Key: 'keep', Value: '1' }, { Key: 'change', Value: 'old' }, { Key: 'drop', Value: 'y' }] },
    );

    const resources = [IMAGE_ID, 'snap-root', 'snap-data'];
    expect(ec2Mock).toHaveReceivedCommandTimes(DeleteTagsCommand, 1);
    expect(ec2Mock).toHaveReceivedCommandWith(DeleteTagsCommand, { Resources: resources, Tags: [{ Key: 'drop' }] });
    expect(ec2Mock).toHaveReceivedCommandTimes(CreateTagsCommand, 1);
    expect(ec2Mock).toHaveReceivedCommandWith(CreateTagsCommand, {
      Resources: resources,
      Tags: [{ Key: 'change', Value: 'new' }, { Key: 'add', Value: 'x' }],
    });
    expect(ec2Mock).not.toHaveReceivedCommand(ModifyImageAttributeCommand);
    expect(logs.find('tags updated')).toEqual([
      expect.objectContaining({ imageId: IMAGE_ID, removed: ['drop'], changed: ['change', 'add'] }),
    ]);
  });

  test('only added tags: CreateTags without DeleteTags', async () => {
    await update({ Tags: [{ Key: 'team', Value: 'infra' }, { Key: 'new', Value: 'v' }] }, {});
    expect(ec2Mock).not.toHaveReceivedCommand(DeleteTagsCommand);
    expect(ec2Mock).toHaveReceivedCommandWith(CreateTagsCommand, { Tags: [{ Key: 'new', Value: 'v' }] });
  });

  test('only removed tags: DeleteTags without CreateTags', async () => {
    await update({ Tags: undefined }, {});
    expect(ec2Mock).toHaveReceivedCommandWith(DeleteTagsCommand, { Tags: [{ Key: 'team' }] });
    expect(ec2Mock).not.toHaveReceivedCommand(CreateTagsCommand);
  });

  test.each([
    [
      'cdk-ami: tags in the properties are never deleted nor overwritten',
      [{ Key: 'team', Value: 'infra' }, { Key: 'cdk-ami:owner', Value: 'hijack' }],
      [{ Key: 'team', Value: 'infra' }, { Key: 'cdk-ami:stack', Value: 'whatever' }],
    ],
    ['tags in another order are no change', [{ Key: 'a', Value: '1' }, { Key: 'b', Value: '2' }], [{ Key: 'b', Value: '2' }, { Key: 'a', Value: '1' }]],
  ])('%s', async (_name, tags, oldTags) => {
    await update({ Tags: tags }, { Tags: oldTags });
    expect(mutatingCalls()).toEqual([]);
  });

  test('an image without snapshots gets its tags changed on the image alone', async () => {
    ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMAGE_ID] }).resolves({ Images: [ownedImage({ BlockDeviceMappings: undefined })] });
    await update({ Tags: [{ Key: 'team', Value: 'platform' }] }, {});
    expect(ec2Mock).toHaveReceivedCommandWith(CreateTagsCommand, { Resources: [IMAGE_ID], Tags: [{ Key: 'team', Value: 'platform' }] });
  });

  test('nothing to change (e.g. only the removal policy): no EC2 change at all', async () => {
    const result = await update({ RemovalPolicy: 'destroy', Tags: [{ Key: 'team', Value: 'infra' }] }, { RemovalPolicy: 'retain' });
    expect(result).toEqual({ PhysicalResourceId: IMAGE_ID });
    expect(mutatingCalls()).toEqual([]);
    expect(logs.find('tags updated')).toEqual([]);
  });

  test('an image deregistered outside CloudFormation cannot be updated', async () => {
    ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMAGE_ID] }).resolves({ Images: [] });
    const err = await rejectionOf(update({ Description: 'v2' }, {}));
    expect(err.message).toBe(
      `Image ${IMAGE_ID} no longer exists in us-east-1; it was deregistered outside CloudFormation. Change imageName or remove and re-add the construct to create a new one.`,
    );
    expectOneLine(err);
  });

  test('refuses to update an image without this resource\'s owner tag', async () => {
    ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMAGE_ID] }).resolves({ Images: [foreignImage({ ImageId: IMAGE_ID })] });
    const err = await rejectionOf(update({ Description: 'v2' }, {}));
    expect(err.message).toBe(
      `Refusing to update image ${IMAGE_ID} in us-east-1: it does not carry this resource's cdk-ami:owner tag, so cdk-ami did not create it for this resource.`,
    );
    expect(mutatingCalls()).toEqual([]);
  });

  test('an EC2 error while updating names the image', async () => {
    ec2Mock.on(CreateTagsCommand).rejects(awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.'));
    const err = await rejectionOf(update({ Tags: [{ Key: 'team', Value: 'platform' }] }, {}));
    expect(err.message).toBe(
      `Updating image ${IMAGE_ID} in us-east-1 failed: UnauthorizedOperation: You are not authorized to perform this operation.`,
    );
    expectOneLine(err);
  });
});

describe('Update with replacement', () => {
  test.each([
    ['InstanceId', { InstanceId: 'i-0fedcba9876543210' }],
    ['ImageName', { ImageName: 'golden-v2' }],
    ['NoReboot', { NoReboot: 'true' }],
    ['IncludeDataVolumes', { IncludeDataVolumes: 'false' }],
    ['NamePrefix', { NamePrefix: 'Stack/Moved/Golden' }],
  ])('a change of %s creates a new image with a new physical ID', async (name, change) => {
    ec2Mock.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({ Images: [] });
    ec2Mock.on(DescribeInstancesCommand).resolves(reservationOf({ RootDeviceName: '/dev/xvda' }));

    const result = await update(change, {});

    expect(result).toEqual({ PhysicalResourceId: 'ami-0replacement00000' });
    expect(ec2Mock).toHaveReceivedCommandTimes(CreateImageCommand, 1);
    const input = ec2Mock.commandCalls(CreateImageCommand)[0].args[0].input;
    // The new image is this update's generation.
    expect(input.TagSpecifications![0].Tags).toEqual([{ Key: 'team', Value: 'infra' }, ...ownershipTagsFor(UPDATE_REQUEST)]);
    expect(input.Name).toBe(name === 'ImageName'
      ? 'golden-v2'
      : `${name === 'NamePrefix' ? 'Stack/Moved/Golden' : 'Stack/Golden'}-${hash(UPDATE_REQUEST).slice(0, 12)}`);
    expect(mutatingCalls()).toEqual(['CreateImageCommand']);
    expect(logs.find('replacing image')).toEqual([expect.objectContaining({ imageId: IMAGE_ID, changed: [name] })]);
  });

  test('a change of Region creates the new image in the new Region', async () => {
    ec2Mock.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({ Images: [] });

    const result = await update({ Region: 'eu-west-1' }, {});

    expect(result).toEqual({ PhysicalResourceId: 'ami-0replacement00000' });
    const call = ec2Mock.commandCalls(CreateImageCommand)[0];
    await expect((call.thisValue as EC2Client).config.region()).resolves.toBe('eu-west-1');
    expect(logs.find('replacing image')).toEqual([expect.objectContaining({ changed: ['Region'] })]);
  });

  test('changing the instance while keeping a fixed imageName fails with a message about replacement', async () => {
    // The image being replaced still holds the name: CloudFormation deletes it only after the update.
    ec2Mock.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({ Images: [ownedImage({ ImageId: IMAGE_ID, Name: 'golden' })] });

    const err = await rejectionOf(update({ ImageName: 'golden', InstanceId: 'i-0fedcba9876543210' }, { ImageName: 'golden' }));

    expect(err.message).toBe(
      `Image name "golden" is used in us-east-1 by ${IMAGE_ID}, the image this update replaces: CloudFormation creates the new image before it deletes the old one, so the new image needs another name. Change imageName too, or omit it to get a unique one.`,
    );
    expectOneLine(err);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateImageCommand);
  });

  test('a replacement whose name is held by an earlier retained image (not the one replaced) says so', async () => {
    ec2Mock.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({
      Images: [ownedImage({ ImageId: 'ami-0retained00000000', Name: 'golden-v1' }, 'an-earlier-request')],
    });
    const err = await rejectionOf(update({ ImageName: 'golden-v1' }, { ImageName: 'golden-v2' }));
    expect(err.message).toBe(
      'Image name "golden-v1" is already used in us-east-1 by ami-0retained00000000, an earlier image of this resource that was kept (removalPolicy RETAIN). Give the new image another imageName, or omit imageName to get a unique one.',
    );
  });

  test('a description or tag change alone is no replacement', async () => {
    const result = await update({ Description: 'v2', Tags: [{ Key: 'team', Value: 'x' }] }, { Description: 'v1' });
    expect(result).toEqual({ PhysicalResourceId: IMAGE_ID });
    expect(ec2Mock).not.toHaveReceivedCommand(CreateImageCommand);
  });
});

describe('Delete', () => {
  function destroy(physicalId = IMAGE_ID, props: Record<string, unknown> = { RemovalPolicy: 'destroy' }) {
    return onEvent(deleteEvent(FROM_INSTANCE, physicalId, fromInstanceProps(props)));
  }

  test.each(['CREATE_FAILED-marker', 'AWSCDK::CustomResourceProviderFramework::CREATE_FAILED', 'i-0abc1234567890def'])(
    'a physical ID that is no AMI (%s) is a no-op', async (physicalId) => {
      await expect(destroy(physicalId)).resolves.toEqual({ PhysicalResourceId: physicalId });
      expect(ec2Mock.calls()).toHaveLength(0);
      expect(cfnMock.calls()).toHaveLength(0);
      expect(logs.find('no image behind this resource')).toEqual([expect.objectContaining({ physicalId })]);
    });

  test('deregisters with DeleteAssociatedSnapshots, deletes the snapshots EC2 skipped, and sweeps leftovers', async () => {
    ec2Mock.on(DeregisterImageCommand).resolves({
      Return: true,
      DeleteSnapshotResults: [
        { SnapshotId: 'snap-root', ReturnCode: 'success' },
        { SnapshotId: 'snap-data', ReturnCode: 'skipped' },
      ],
    });
    ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: 'snap-leftover' }, {}] });

    await expect(destroy()).resolves.toEqual({ PhysicalResourceId: IMAGE_ID });

    expect(ec2Mock).toHaveReceivedCommandWith(DeregisterImageCommand, { ImageId: IMAGE_ID, DeleteAssociatedSnapshots: true });
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeSnapshotsCommand, {
      OwnerIds: ['self'],
      Filters: [
        { Name: 'tag:cdk-ami:owner', Values: [OWNER] },
        { Name: 'description', Values: [`*${IMAGE_ID}*`] },
      ],
    });
    expect(ec2Mock.commandCalls(DeleteSnapshotCommand).map((c) => c.args[0].input.SnapshotId)).toEqual(['snap-data', 'snap-leftover']);
    expect(mutatingCalls()).toEqual(['DeregisterImageCommand', 'DeleteSnapshotCommand', 'DeleteSnapshotCommand']);
    // The stack status only decides whether protection may be lifted (a rollback).
    expect(cfnMock).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: STACK_ID });
    expect(logs.find('deleting image')).toEqual([expect.objectContaining({ imageId: IMAGE_ID, reason: 'removalPolicy is DESTROY' })]);
    expect(logs.find('snapshot deleted').map((l) => l.snapshotId)).toEqual(['snap-data', 'snap-leftover']);
  });

  test('when DeregisterImage reports no snapshot results, every snapshot of the image is deleted one by one', async () => {
    ec2Mock.on(DeregisterImageCommand).resolves({ Return: true });
    await destroy();
    expect(ec2Mock.commandCalls(DeleteSnapshotCommand).map((c) => c.args[0].input.SnapshotId)).toEqual(['snap-root', 'snap-data']);
  });

  test('refuses to delete an image without this resource\'s owner tag', async () => {
    ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMAGE_ID] }).resolves({ Images: [foreignImage({ ImageId: IMAGE_ID })] });
    const err = await rejectionOf(destroy());
    expect(err.message).toBe(
      `Refusing to delete image ${IMAGE_ID} in us-east-1: it does not carry this resource's cdk-ami:owner tag, so cdk-ami did not create it for this resource.`,
    );
    expectOneLine(err);
    expect(mutatingCalls()).toEqual([]);
  });

  test.each([
    ['DescribeImages says NotFound', () => ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMAGE_ID] }).rejects(awsError('InvalidAMIID.NotFound'))],
    ['DescribeImages says Unavailable', () => ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMAGE_ID] }).rejects(awsError('InvalidAMIID.Unavailable'))],
    ['DescribeImages returns nothing', () => ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMAGE_ID] }).resolves({ Images: [] })],
    ['the image is deregistered', () => ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMAGE_ID] }).resolves({ Images: [ownedImage({ State: 'deregistered' })] })],
  ])('an image already gone (%s) is success; leftover snapshots are still swept', async (_, arrange) => {
    arrange();
    ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: 'snap-orphan' }] });

    await expect(destroy()).resolves.toEqual({ PhysicalResourceId: IMAGE_ID });

    expect(ec2Mock).not.toHaveReceivedCommand(DeregisterImageCommand);
    expect(ec2Mock).toHaveReceivedCommandWith(DeleteSnapshotCommand, { SnapshotId: 'snap-orphan' });
    expect(logs.find('image already gone')).toHaveLength(1);
  });

  test('a sweep that finds nothing deletes nothing', async () => {
    ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMAGE_ID] }).resolves({ Images: [] });
    ec2Mock.on(DescribeSnapshotsCommand).resolves({});
    await destroy();
    expect(mutatingCalls()).toEqual([]);
  });

  test('DeregisterImage NotFound (deregistered meanwhile) still deletes the snapshots', async () => {
    ec2Mock.on(DeregisterImageCommand).rejects(awsError('InvalidAMIID.NotFound'));
    await expect(destroy()).resolves.toEqual({ PhysicalResourceId: IMAGE_ID });
    expect(ec2Mock.commandCalls(DeleteSnapshotCommand).map((c) => c.args[0].input.SnapshotId)).toEqual(['snap-root', 'snap-data']);
  });

  test('deregistration protection: says how to get out', async () => {
    ec2Mock.on(DeregisterImageCommand).rejects(awsError('OperationNotPermitted', 'Deregistration protection is enabled'));
    const err = await rejectionOf(destroy());
    expect(err.message).toBe(
      `Cannot delete image ${IMAGE_ID} in us-east-1: deregistration protection is on. Turn off deregistrationProtection and deploy, or set removalPolicy to RETAIN to keep the image.`,
    );
    expectOneLine(err);
    expect(ec2Mock).not.toHaveReceivedCommand(DeleteSnapshotCommand);
  });

  test('any other DeregisterImage error names the image', async () => {
    ec2Mock.on(DeregisterImageCommand).rejects(awsError('UnauthorizedOperation', 'not authorized'));
    await expect(destroy()).rejects.toThrow(`Deregistering image ${IMAGE_ID} in us-east-1 failed: UnauthorizedOperation: not authorized`);
  });

  test('a snapshot already gone is fine', async () => {
    ec2Mock.on(DeregisterImageCommand).resolves({});
    ec2Mock.on(DeleteSnapshotCommand).rejects(awsError('InvalidSnapshot.NotFound'));
    await expect(destroy()).resolves.toEqual({ PhysicalResourceId: IMAGE_ID });
    expect(ec2Mock).toHaveReceivedCommandTimes(DeleteSnapshotCommand, 2);
  });

  test('a snapshot that cannot be deleted fails the delete and names it', async () => {
    ec2Mock.on(DeregisterImageCommand).resolves({});
    ec2Mock.on(DeleteSnapshotCommand, { SnapshotId: 'snap-data' }).rejects(awsError('InvalidSnapshot.InUse', 'The snapshot snap-data is currently in use by ami-0other'));
    const err = await rejectionOf(destroy());
    expect(err.message).toBe('Deleting snapshot snap-data in us-east-1 failed: InvalidSnapshot.InUse: The snapshot snap-data is currently in use by ami-0other');
    expectOneLine(err);
  });

  test('a non-Error thrown by the SDK is reported as unexpected, and logged as text', async () => {
    ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMAGE_ID] }).callsFake(() => Promise.reject('socket closed'));
    const err = await rejectionOf(destroy());
    expect(err.message).toBe(`Delete of ${LOGICAL_ID} failed unexpectedly: socket closed`);
    expect(logs.lines().filter((l) => l.level === 'error')).toEqual([expect.objectContaining({ cause: 'socket closed' })]);
  });

  test('an error describing the image fails the delete with the request named', async () => {
    ec2Mock.on(DescribeImagesCommand, { ImageIds: [IMAGE_ID] }).rejects(awsError('UnauthorizedOperation', 'not authorized'));
    const err = await rejectionOf(destroy());
    expect(err.message).toBe(`Delete of ${LOGICAL_ID} failed: UnauthorizedOperation: not authorized`);
    expectOneLine(err);
    const errorLog = logs.lines().filter((l) => l.level === 'error');
    expect(errorLog).toEqual([expect.objectContaining({
      message: err.message,
      phase: 'onEvent',
      requestType: 'Delete',
      logicalResourceId: LOGICAL_ID,
      physicalResourceId: IMAGE_ID,
      cause: expect.stringContaining('UnauthorizedOperation'),
    })]);
  });
});
