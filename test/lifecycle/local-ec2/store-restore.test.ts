/**
 * The local endpoint against the REAL AWS SDK v3 clients (see conformance.ts):
 * storing and restoring AMIs with S3 (store-restore.ts).
 */
import {
  CreateImageCommand,
  CreateRestoreImageTaskCommand,
  CreateStoreImageTaskCommand,
  DeregisterImageCommand,
  DescribeSnapshotsCommand,
  DescribeStoreImageTasksCommand,
  DescribeStoreImageTasksCommandInput,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { createImage, describeImage, ec2, failure, pollUntilSettled, server, useLocalEc2 } from './conformance';

useLocalEc2();

describe('store and restore AMIs with S3', () => {
  /** An available image made by CreateImage, with a data volume. */
  async function availableImage(client: EC2Client, name: string): Promise<string> {
    server.imageBehaviour = { pendingPolls: 0, finalState: 'available' };
    const instanceId = server.addInstance({
      region: 'us-east-1',
      volumes: [{ deviceName: '/dev/xvda', sizeGiB: 8 }, { deviceName: '/dev/sdb', sizeGiB: 30 }],
    });
    const { ImageId } = await client.send(new CreateImageCommand({ InstanceId: instanceId, Name: name, Description: `${name} image` }));
    await pollUntilSettled(client, ImageId!);
    server.imageBehaviour = { pendingPolls: 2, finalState: 'available' };
    return ImageId!;
  }

  test('CreateStoreImageTask writes <imageId>.bin once its task completes; DescribeStoreImageTasks reports rising progress', async () => {
    const client = ec2();
    const imageId = await availableImage(client, 'to-store');

    const { ObjectKey } = await client.send(new CreateStoreImageTaskCommand({
      ImageId: imageId,
      Bucket: 'ami-archive',
      S3ObjectTags: [{ Key: 'Retention', Value: '1y' }],
    }));
    expect(ObjectKey).toBe(`${imageId}.bin`);
    expect(server.s3Objects()).toEqual([]);

    const seen: Array<[string | undefined, number | undefined]> = [];
    for (let poll = 0; poll < 3; poll++) {
      const { StoreImageTaskResults } = await client.send(new DescribeStoreImageTasksCommand({ ImageIds: [imageId] }));
      expect(StoreImageTaskResults).toHaveLength(1);
      const [task] = StoreImageTaskResults!;
      expect(task).toMatchObject({ AmiId: imageId, Bucket: 'ami-archive', S3objectKey: `${imageId}.bin` });
      expect(task.TaskStartTime).toBeInstanceOf(Date);
      expect(task.StoreTaskFailureReason).toBeUndefined();
      seen.push([task.StoreTaskState, task.ProgressPercentage]);
      if (poll < 2) expect(server.s3Objects()).toEqual([]);
    }
    expect(seen).toEqual([['InProgress', 33], ['InProgress', 66], ['Completed', 100]]);

    const [object] = server.s3Objects();
    expect(object).toMatchObject({
      bucket: 'ami-archive',
      key: `${imageId}.bin`,
      tags: { Retention: '1y' },
      image: {
        name: 'to-store',
        description: 'to-store image',
        architecture: 'x86_64',
        rootDeviceName: '/dev/xvda',
        sourceImageId: imageId,
        sourceRegion: 'us-east-1',
        blockDeviceMappings: [{ deviceName: '/dev/xvda', volumeSizeGiB: 8 }, { deviceName: '/dev/sdb', volumeSizeGiB: 30 }],
      },
    });
    expect(server.storeTasks('us-east-1').map((t) => t.state)).toEqual(['Completed']);
  });

  test('filters select tasks by state and bucket, are ignored with ImageIds; failures report their reason and write nothing', async () => {
    const client = ec2();
    const first = await availableImage(client, 'first');
    const second = await availableImage(client, 'second');
    server.storeBehaviour = { pendingPolls: 0, finalState: 'Failed', failureReason: 'Access Denied to bucket' };
    await client.send(new CreateStoreImageTaskCommand({ ImageId: first, Bucket: 'bucket-a' }));
    server.storeBehaviour = { pendingPolls: 5, finalState: 'Completed' };
    await client.send(new CreateStoreImageTaskCommand({ ImageId: second, Bucket: 'bucket-b' }));

    const list = async (input: DescribeStoreImageTasksCommandInput) =>
      ((await client.send(new DescribeStoreImageTasksCommand(input))).StoreImageTaskResults ?? [])
        .map((t) => [t.AmiId, t.StoreTaskState, t.StoreTaskFailureReason]);

    // Newest first; this first poll settles the failing task.
    expect(await list({})).toEqual([[second, 'InProgress', undefined], [first, 'Failed', 'Access Denied to bucket']]);
    expect(await list({ Filters: [{ Name: 'task-state', Values: ['Failed'] }] })).toEqual([[first, 'Failed', 'Access Denied to bucket']]);
    expect(await list({ Filters: [{ Name: 'bucket', Values: ['bucket-b'] }] })).toEqual([[second, 'InProgress', undefined]]);
    expect(await list({ ImageIds: [first], Filters: [{ Name: 'bucket', Values: ['bucket-b'] }] })).toEqual([[first, 'Failed', 'Access Denied to bucket']]);
    expect(await list({ ImageIds: ['ami-0123456789abcdef0'] })).toEqual([]);
    expect((await failure(client.send(new DescribeStoreImageTasksCommand({ Filters: [{ Name: 'colour', Values: ['x'] }] })))).name)
      .toBe('InvalidParameterValue');
    expect(server.s3Objects()).toEqual([]);
    // Tasks belong to the region they were started in.
    expect(await ec2('eu-west-1').send(new DescribeStoreImageTasksCommand({}))).toMatchObject({ StoreImageTaskResults: [] });
  });

  test('only available images of the region can be stored, in a bucket of that region', async () => {
    const client = ec2();
    const pendingImage = await createImage(client, 'us-east-1', 'still-pending');
    const unavailable = await failure(client.send(new CreateStoreImageTaskCommand({ ImageId: pendingImage, Bucket: 'b' })));
    expect(unavailable.name).toBe('InvalidAMIID.Unavailable');

    const imageId = await availableImage(client, 'storable');
    expect((await failure(ec2('eu-west-1').send(new CreateStoreImageTaskCommand({ ImageId: imageId, Bucket: 'b' })))).name)
      .toBe('InvalidAMIID.NotFound');
    expect((await failure(client.send(new CreateStoreImageTaskCommand({ ImageId: 'ami-0123456789abcdef0', Bucket: 'b' })))).name)
      .toBe('InvalidAMIID.NotFound');

    server.setBucketRegion('eu-bucket', 'eu-west-1');
    const wrongRegion = await failure(client.send(new CreateStoreImageTaskCommand({ ImageId: imageId, Bucket: 'eu-bucket' })));
    expect(wrongRegion.name).toBe('InvalidParameterValue');
    expect(wrongRegion.message).toBe("The bucket 'eu-bucket' is in eu-west-1; it must be in us-east-1, the Region of the request");
    server.setBucketRegion('us-bucket', 'us-east-1');
    await expect(client.send(new CreateStoreImageTaskCommand({ ImageId: imageId, Bucket: 'us-bucket' }))).resolves.toMatchObject({ ObjectKey: `${imageId}.bin` });
    expect(server.storeTasks('us-east-1')).toHaveLength(1);
  });

  test('CreateRestoreImageTask creates a pending image with new, tagged snapshots; the name defaults to the stored one', async () => {
    const client = ec2();
    const originalId = await availableImage(client, 'round-trip');
    await client.send(new CreateStoreImageTaskCommand({ ImageId: originalId, Bucket: 'ami-archive' }));
    for (let poll = 0; poll < 3; poll++) await client.send(new DescribeStoreImageTasksCommand({}));
    const originalSnapshots = server.snapshots('us-east-1').map((s) => s.snapshotId);

    const clash = await failure(client.send(new CreateRestoreImageTaskCommand({ Bucket: 'ami-archive', ObjectKey: `${originalId}.bin` })));
    expect(clash.name).toBe('InvalidAMIName.Duplicate');
    expect(clash.message).toBe(`AMI name round-trip is already in use by AMI ${originalId}`);

    const { ImageId } = await client.send(new CreateRestoreImageTaskCommand({
      Bucket: 'ami-archive',
      ObjectKey: `${originalId}.bin`,
      Name: 'round-trip-restored',
      TagSpecifications: [
        { ResourceType: 'image', Tags: [{ Key: 'Restored', Value: 'yes' }] },
        { ResourceType: 'snapshot', Tags: [{ Key: 'From', Value: 's3' }] },
      ],
    }));
    expect(ImageId).toMatch(/^ami-[0-9a-f]{17}$/);
    const restored = await describeImage(client, ImageId!);
    expect(restored).toMatchObject({
      State: 'pending',
      Name: 'round-trip-restored',
      Description: 'round-trip image',
      Architecture: 'x86_64',
      RootDeviceName: '/dev/xvda',
      Tags: [{ Key: 'Restored', Value: 'yes' }],
    });
    const snapshotIds = restored.BlockDeviceMappings!.map((m) => m.Ebs!.SnapshotId!);
    expect(restored.BlockDeviceMappings!.map((m) => [m.DeviceName, m.Ebs!.VolumeSize])).toEqual([['/dev/xvda', 8], ['/dev/sdb', 30]]);
    expect(snapshotIds.some((id) => originalSnapshots.includes(id))).toBe(false);
    const { Snapshots } = await client.send(new DescribeSnapshotsCommand({ SnapshotIds: snapshotIds }));
    expect(Snapshots!.map((s) => [s.State, s.Tags])).toEqual([
      ['pending', [{ Key: 'From', Value: 's3' }]],
      ['pending', [{ Key: 'From', Value: 's3' }]],
    ]);
    expect((await pollUntilSettled(client, ImageId!)).State).toBe('available');

    // Once the original is gone, its name is free for a restore without Name.
    await client.send(new DeregisterImageCommand({ ImageId: originalId }));
    const again = await client.send(new CreateRestoreImageTaskCommand({ Bucket: 'ami-archive', ObjectKey: `${originalId}.bin` }));
    expect(server.image(again.ImageId!)!.name).toBe('round-trip');
  });

  test('seeded objects restore in any region; a missing object or a malformed name fails', async () => {
    const west = ec2('eu-west-1');
    server.putS3Object('archive', 'legacy/ami.bin', {
      name: 'legacy-arm',
      architecture: 'arm64',
      bootMode: 'uefi',
      rootDeviceName: '/dev/sda1',
      blockDeviceMappings: [{ deviceName: '/dev/sda1', volumeSizeGiB: 16, volumeType: 'gp3' }],
    }, { Source: 'seed' });
    expect(server.s3Objects().map((o) => [o.bucket, o.key, o.tags])).toEqual([['archive', 'legacy/ami.bin', { Source: 'seed' }]]);

    const { ImageId } = await west.send(new CreateRestoreImageTaskCommand({ Bucket: 'archive', ObjectKey: 'legacy/ami.bin' }));
    const image = await describeImage(west, ImageId!);
    expect(image).toMatchObject({ Name: 'legacy-arm', Architecture: 'arm64', BootMode: 'uefi', RootDeviceName: '/dev/sda1' });
    expect(image.BlockDeviceMappings![0].Ebs).toMatchObject({ VolumeSize: 16, VolumeType: 'gp3' });
    expect(server.liveImages('eu-west-1')).toHaveLength(1);

    const badName = await failure(west.send(new CreateRestoreImageTaskCommand({ Bucket: 'archive', ObjectKey: 'legacy/ami.bin', Name: 'x' })));
    expect(badName.name).toBe('InvalidAMIName.Malformed');
    expect(server.deleteS3Object('archive', 'legacy/ami.bin')).toBe(true);
    expect(server.deleteS3Object('archive', 'legacy/ami.bin')).toBe(false);
    const missing = await failure(west.send(new CreateRestoreImageTaskCommand({ Bucket: 'archive', ObjectKey: 'legacy/ami.bin', Name: 'other-name' })));
    expect(missing.name).toBe('InvalidParameterValue');
    expect(missing.message).toBe("The object 'legacy/ami.bin' does not exist in the S3 bucket 'archive'");
    expect(server.liveImages('eu-west-1')).toHaveLength(1);
  });
});
