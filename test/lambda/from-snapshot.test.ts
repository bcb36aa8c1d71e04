import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  CreateTagsCommand, DeregisterImageCommand, DescribeImagesCommand, DescribeSnapshotsCommand,
  DeleteSnapshotCommand, RegisterImageCommand,
} from '@aws-sdk/client-ec2';
import 'aws-sdk-client-mock-jest';
import { awsError, captureLogs, createEvent, deleteEvent, imageProps, ownedImage, ownTags, updateEvent, mockedClients, oneLineFailure, recordSleeps } from './helpers';
import { onEvent } from '../../lambda';

const { ec2Mock, cfnMock } = mockedClients({ images: [] });
captureLogs();
// A taken name is looked up again for some seconds; no test waits for them.
recordSleeps();
const REGISTERED = 'Custom::AmiFromSnapshot';
const OURS = ownTags();

const registerProps = (extra: Record<string, unknown> = {}) => imageProps('Stack/Registered', {
  RootSnapshotId: 'snap-0root00000000000',
  RootDeviceName: '/dev/xvda',
  DataVolumes: [{ DeviceName: '/dev/sdf', SnapshotId: 'snap-0data00000000000' }],
  Architecture: 'arm64',
  BootMode: 'uefi',
  EnaSupport: 'true',
  ImdsSupport: 'v2.0',
  VolumeType: 'gp3',
  RemovalPolicy: 'destroy',
}, extra);

describe('Custom::AmiFromSnapshot', () => {
  test('registers the snapshots, tagging only the image', async () => {
    ec2Mock.on(RegisterImageCommand).resolves({ ImageId: 'ami-0ddddddddddddddd0' });
    expect((await onEvent(createEvent(REGISTERED, registerProps()))).PhysicalResourceId).toBe('ami-0ddddddddddddddd0');
    expect(ec2Mock).toHaveReceivedCommandWith(RegisterImageCommand, {
      Architecture: 'arm64',
      BootMode: 'uefi',
      EnaSupport: true,
      ImdsSupport: 'v2.0',
      RootDeviceName: '/dev/xvda',
      VirtualizationType: 'hvm',
      BlockDeviceMappings: [
        { DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-0root00000000000', DeleteOnTermination: true, VolumeType: 'gp3' } },
        { DeviceName: '/dev/sdf', Ebs: { SnapshotId: 'snap-0data00000000000', DeleteOnTermination: true, VolumeType: 'gp3' } },
      ],
      TagSpecifications: [{ ResourceType: 'image', Tags: OURS }],
    });
  });

  test.each([
    ['InvalidSnapshot.NotFound', /^A snapshot of the image does not exist in us-east-1/],
    ['IncorrectState', /^A snapshot of the image is not completed yet in us-east-1/],
    ['InvalidAMIName.Duplicate', /^Image name ".*" is already used in us-east-1/],
    ['InvalidParameterValue', /^RegisterImage of snapshot snap-0root00000000000 in us-east-1 failed: InvalidParameterValue/],
  ])('%s becomes one sentence', async (code, message) => {
    ec2Mock.on(RegisterImageCommand).rejects(awsError(code));
    expect((await oneLineFailure(onEvent(createEvent(REGISTERED, registerProps())))).message).toMatch(message);
  });

  test('delete deregisters the image but never touches the user\'s snapshots', async () => {
    const image = ownedImage({ BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-0root00000000000' } }] });
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [image] });
    ec2Mock.on(DeregisterImageCommand).resolves({});
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'S', StackStatus: 'DELETE_IN_PROGRESS', CreationTime: new Date() }] });
    await onEvent(deleteEvent(REGISTERED, image.ImageId!, registerProps()));
    expect(ec2Mock).toHaveReceivedCommandWith(DeregisterImageCommand, { ImageId: image.ImageId, DeleteAssociatedSnapshots: false });
    expect(ec2Mock).not.toHaveReceivedCommand(DeleteSnapshotCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(DescribeSnapshotsCommand);
  });

  test('tag changes reach the image only', async () => {
    const image = ownedImage();
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [image] });
    await onEvent(updateEvent(REGISTERED, image.ImageId!, registerProps({ Tags: [{ Key: 'team', Value: 'platform' }] }), registerProps()));
    expect(ec2Mock).toHaveReceivedCommandWith(CreateTagsCommand, { Resources: [image.ImageId], Tags: [{ Key: 'team', Value: 'platform' }] });
  });
});
