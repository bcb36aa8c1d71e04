import { DeleteSnapshotCommand, DeregisterImageCommand, DescribeImagesCommand, DescribeSnapshotsCommand, EC2Client, Image } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { CREATE_REQUEST, LOGICAL_ID, REGION, STACK_ID, awsError, captureLogs, ownershipTagsFor } from './helpers';
import { ec2 } from '../../lambda/shared/clients';
import { describeImage, destroyImage, findImageByName, snapshotIdsOf, tagSpecifications } from '../../lambda/shared/images';
import { ownershipOf } from '../../lambda/shared/ownership';

const ec2Mock = mockClient(EC2Client);
captureLogs();

const ownership = ownershipOf({ StackId: STACK_ID, LogicalResourceId: LOGICAL_ID, RequestId: CREATE_REQUEST });

beforeEach(() => {
  ec2Mock.reset();
});

describe('describeImage', () => {
  test('returns the image EC2 describes', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-1', State: 'available' }] });
    await expect(describeImage(ec2(REGION), 'ami-1')).resolves.toEqual({ ImageId: 'ami-1', State: 'available' });
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeImagesCommand, { ImageIds: ['ami-1'] });
  });

  test.each(['InvalidAMIID.NotFound', 'InvalidAMIID.Unavailable'])('%s means no image', async (code) => {
    ec2Mock.on(DescribeImagesCommand).rejects(awsError(code));
    await expect(describeImage(ec2(REGION), 'ami-1')).resolves.toBeUndefined();
  });

  test('an answer without Images means no image', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({});
    await expect(describeImage(ec2(REGION), 'ami-1')).resolves.toBeUndefined();
  });

  test('other errors are thrown as they are', async () => {
    const error = awsError('InvalidAMIID.Malformed');
    ec2Mock.on(DescribeImagesCommand).rejects(error);
    await expect(describeImage(ec2(REGION), 'ami-x')).rejects.toBe(error);
  });
});

describe('findImageByName', () => {
  test('asks for own images with the name and returns the exact match only', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-1', Name: 'golden-2' }, { ImageId: 'ami-2', Name: 'golden' }] });
    await expect(findImageByName(ec2(REGION), 'golden')).resolves.toEqual({ ImageId: 'ami-2', Name: 'golden' });
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeImagesCommand, { Owners: ['self'], Filters: [{ Name: 'name', Values: ['golden'] }] });
  });
});

describe('snapshotIdsOf', () => {
  test('lists the EBS snapshots of the mappings, skipping instance store and NoDevice', () => {
    expect(snapshotIdsOf({
      BlockDeviceMappings: [
        { DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-1' } },
        { DeviceName: '/dev/sdb', VirtualName: 'ephemeral0' },
        { DeviceName: '/dev/sdc', NoDevice: '' },
        { DeviceName: '/dev/sdd', Ebs: {} },
        { DeviceName: '/dev/sde', Ebs: { SnapshotId: 'snap-2' } },
      ],
    })).toEqual(['snap-1', 'snap-2']);
  });

  test('an image without mappings has no snapshots', () => {
    expect(snapshotIdsOf({})).toEqual([]);
  });
});

describe('tagSpecifications', () => {
  test('user tags first, then the ownership tags, for image and snapshot', () => {
    const tags = [{ Key: 'team', Value: 'infra' }, ...ownershipTagsFor(CREATE_REQUEST)];
    expect(tagSpecifications([{ Key: 'team', Value: 'infra' }], ownership)).toEqual([
      { ResourceType: 'image', Tags: tags },
      { ResourceType: 'snapshot', Tags: tags },
    ]);
  });

  test('cdk-ami: keys from the user are dropped, and the resource types can be chosen', () => {
    expect(tagSpecifications([{ Key: 'cdk-ami:request', Value: 'mine' }], ownership, ['image'])).toEqual([
      { ResourceType: 'image', Tags: ownershipTagsFor(CREATE_REQUEST) },
    ]);
  });
});

describe('destroyImage leftover sweep', () => {
  test('a swept snapshot still in use by another image is left alone; the delete succeeds', async () => {
    ec2Mock.on(DeregisterImageCommand).resolves({ DeleteSnapshotResults: [{ SnapshotId: 'snap-1', ReturnCode: 'success' }] });
    ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: 'snap-copy' }] });
    ec2Mock.on(DeleteSnapshotCommand, { SnapshotId: 'snap-copy' }).rejects(awsError('InvalidSnapshot.InUse'));
    const image: Image = {
      ImageId: 'ami-1',
      State: 'available',
      Tags: ownershipTagsFor(CREATE_REQUEST),
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-1' } }],
    };
    await expect(destroyImage(ec2(REGION), 'ami-1', image, ownership, REGION)).resolves.toBeUndefined();
    expect(ec2Mock).toHaveReceivedCommandWith(DeleteSnapshotCommand, { SnapshotId: 'snap-copy' });
  });
});
