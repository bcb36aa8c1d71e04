/**
 * The local endpoint against the REAL AWS SDK v3 clients (see conformance.ts):
 * AMIs: CreateImage, DescribeImages, DeregisterImage, CopyImage, RegisterImage (images.ts).
 */
import {
  CopyImageCommand,
  CreateImageCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeImagesCommandInput,
  DescribeSnapshotsCommand,
  EnableImageDeprecationCommand,
  EnableImageDeregistrationProtectionCommand,
  RegisterImageCommand,
  RegisterImageCommandInput,
} from '@aws-sdk/client-ec2';
import { createImage, describeImage, ec2, failure, MARKUP, pollUntilSettled, server, useLocalEc2 } from './conformance';

useLocalEc2();

describe('CreateImage', () => {
  test('applies tag specifications to image and snapshots and leaves out NoDevice mappings', async () => {
    const client = ec2();
    const instanceId = server.addInstance({
      region: 'us-east-1',
      volumes: [
        { deviceName: '/dev/xvda', sizeGiB: 8 },
        { deviceName: '/dev/sdb', sizeGiB: 30 },
        { deviceName: '/dev/sdc', sizeGiB: 100 },
      ],
    });

    const { ImageId } = await client.send(new CreateImageCommand({
      InstanceId: instanceId,
      Name: 'golden (v1.2) [build 7]',
      Description: 'golden image',
      NoReboot: true,
      BlockDeviceMappings: [{ DeviceName: '/dev/sdc', NoDevice: '' }],
      TagSpecifications: [
        { ResourceType: 'image', Tags: [{ Key: 'Name', Value: 'golden' }, { Key: 'Markup', Value: MARKUP }] },
        { ResourceType: 'snapshot', Tags: [{ Key: 'Owner', Value: 'ami-factory' }] },
      ],
    }));
    expect(ImageId).toMatch(/^ami-[0-9a-f]{17}$/);

    const image = await describeImage(client, ImageId!);
    expect(image).toMatchObject({
      ImageId,
      Name: 'golden (v1.2) [build 7]',
      Description: 'golden image',
      State: 'pending',
      OwnerId: '123456789012',
      ImageLocation: '123456789012/golden (v1.2) [build 7]',
      Architecture: 'x86_64',
      ImageType: 'machine',
      RootDeviceName: '/dev/xvda',
      RootDeviceType: 'ebs',
      VirtualizationType: 'hvm',
      DeregistrationProtection: 'disabled',
      Public: false,
    });
    expect(image.Tags).toEqual(expect.arrayContaining([{ Key: 'Name', Value: 'golden' }, { Key: 'Markup', Value: MARKUP }]));
    expect(image.BlockDeviceMappings!.map((m) => [m.DeviceName, m.Ebs?.VolumeSize, m.Ebs?.VolumeType, m.Ebs?.Encrypted])).toEqual([
      ['/dev/xvda', 8, 'gp3', false],
      ['/dev/sdb', 30, 'gp3', false],
    ]);

    const snapshotIds = image.BlockDeviceMappings!.map((m) => m.Ebs!.SnapshotId!);
    const { Snapshots } = await client.send(new DescribeSnapshotsCommand({ SnapshotIds: snapshotIds }));
    expect(Snapshots).toHaveLength(2);
    for (const snapshot of Snapshots!) {
      expect(snapshot.SnapshotId).toMatch(/^snap-[0-9a-f]{17}$/);
      expect(snapshot.Tags).toEqual([{ Key: 'Owner', Value: 'ami-factory' }]);
      expect(snapshot.Description).toBe(`Created by CreateImage(${instanceId}) for ${ImageId}`);
      expect(snapshot.StartTime).toBeInstanceOf(Date);
    }
    const byTag = await client.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: 'tag:Owner', Values: ['ami-*'] }] }));
    expect(byTag.Snapshots!.map((s) => s.SnapshotId).sort()).toEqual([...snapshotIds].sort());
  });

  test('stays pending for the scripted number of polls, with rising snapshot progress, then becomes available', async () => {
    const client = ec2();
    server.imageBehaviour = { pendingPolls: 3, finalState: 'available' };
    const imageId = await createImage(client, 'us-east-1', 'slow-image');
    const snapshotId = server.image(imageId)!.blockDeviceMappings[0].snapshotId;

    const seen: Array<[string | undefined, string | undefined]> = [];
    for (let poll = 0; poll < 4; poll++) {
      const image = await describeImage(client, imageId);
      const { Snapshots } = await client.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }));
      seen.push([image.State, `${Snapshots![0].State} ${Snapshots![0].Progress}`]);
    }
    expect(seen).toEqual([
      ['pending', 'pending 25%'],
      ['pending', 'pending 50%'],
      ['pending', 'pending 75%'],
      ['available', 'completed 100%'],
    ]);
  });

  test('a scripted failure reports its stateReason and puts the snapshots in error', async () => {
    const client = ec2();
    const imageId = await createImage(client, 'us-east-1', 'doomed-image');
    server.scriptImage(imageId, { pendingPolls: 1, finalState: 'failed', stateReason: { code: 'Client.InvalidSnapshot', message: 'broken volume' } });

    const image = await pollUntilSettled(client, imageId);
    expect(image.State).toBe('failed');
    expect(image.StateReason).toEqual({ Code: 'Client.InvalidSnapshot', Message: 'broken volume' });
    expect(server.snapshots('us-east-1').map((s) => s.state)).toEqual(['error']);
    expect(server.callCount('DescribeImages')).toBe(2);
  });

  test('notFoundAfterCreate imitates eventual consistency for DescribeImages by ID', async () => {
    const client = ec2();
    server.notFoundAfterCreate = 2;
    const imageId = await createImage(client, 'us-east-1', 'fresh-image');

    for (let call = 0; call < 2; call++) {
      const error = await failure(client.send(new DescribeImagesCommand({ ImageIds: [imageId] })));
      expect(error.name).toBe('InvalidAMIID.NotFound');
      expect(error.message).toBe(`The image id '[${imageId}]' does not exist`);
    }
    expect((await describeImage(client, imageId)).State).toBe('pending');
  });

  test('rejects malformed and duplicate names, unknown and terminated instances', async () => {
    const client = ec2();
    await createImage(client, 'us-east-1', 'taken');
    const instanceId = server.addInstance({ region: 'us-east-1' });
    const create = (Name: string, InstanceId = instanceId) => failure(client.send(new CreateImageCommand({ InstanceId, Name })));

    const duplicate = await create('taken');
    expect(duplicate.name).toBe('InvalidAMIName.Duplicate');
    expect(duplicate.message).toMatch(/^AMI name taken is already in use by AMI ami-[0-9a-f]{17}$/);
    expect(duplicate.$metadata.httpStatusCode).toBe(400);
    expect((await create('no')).name).toBe('InvalidAMIName.Malformed');
    expect((await create('bad*name')).name).toBe('InvalidAMIName.Malformed');
    expect((await create('x'.repeat(129))).name).toBe('InvalidAMIName.Malformed');
    expect((await create('fine-name', 'i-0123456789abcdef0')).name).toBe('InvalidInstanceID.NotFound');

    const terminated = server.addInstance({ region: 'us-east-1', state: 'terminated' });
    expect((await create('fine-name', terminated)).name).toBe('IncorrectInstanceState');
    // The same name is free in another region.
    await expect(createImage(ec2('eu-west-1'), 'eu-west-1', 'taken')).resolves.toMatch(/^ami-/);
  });

  test('changes a volume\'s size, type, IOPS and throughput as EbsBlockDevice allows, and refuses what it does not', async () => {
    const client = ec2();
    const instanceId = server.addInstance({
      region: 'us-east-1',
      volumes: [{ deviceName: '/dev/xvda', sizeGiB: 8 }, { deviceName: '/dev/sdb', sizeGiB: 30 }],
    });
    const { ImageId } = await client.send(new CreateImageCommand({
      InstanceId: instanceId,
      Name: 'resized root',
      BlockDeviceMappings: [
        { DeviceName: '/dev/xvda', Ebs: { VolumeSize: 20, VolumeType: 'gp3', Iops: 6000, Throughput: 500 } },
        { DeviceName: '/dev/sdb', Ebs: { VolumeType: 'io2', Iops: 10000, DeleteOnTermination: false } },
      ],
    }));
    const image = await describeImage(client, ImageId!);
    expect(image.BlockDeviceMappings).toEqual([
      { DeviceName: '/dev/xvda', Ebs: expect.objectContaining({ VolumeSize: 20, VolumeType: 'gp3', Iops: 6000, Throughput: 500, DeleteOnTermination: true }) },
      { DeviceName: '/dev/sdb', Ebs: expect.objectContaining({ VolumeSize: 30, VolumeType: 'io2', Iops: 10000, DeleteOnTermination: false }) },
    ]);

    const refused = async (mapping: { DeviceName: string; Ebs?: object; NoDevice?: string }) => client.send(new CreateImageCommand({
      InstanceId: instanceId, Name: `refused ${Math.random()}`, BlockDeviceMappings: [mapping],
    }));
    await expect(refused({ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 4 } })).rejects.toMatchObject({ name: 'InvalidBlockDeviceMapping' });
    await expect(refused({ DeviceName: '/dev/xvda', Ebs: { VolumeType: 'gp2', Iops: 3000 } }))
      .rejects.toMatchObject({ name: 'InvalidParameterCombination', message: 'The parameter iops is not supported for gp2 volumes.' });
    await expect(refused({ DeviceName: '/dev/xvda', Ebs: { VolumeType: 'io1' } })).rejects.toMatchObject({ name: 'InvalidParameterCombination' });
    await expect(refused({ DeviceName: '/dev/sdb', Ebs: { VolumeType: 'io2', Iops: 3000, Throughput: 200 } }))
      .rejects.toMatchObject({ name: 'InvalidParameterCombination', message: 'The parameter throughput is not supported for io2 volumes.' });
    await expect(refused({ DeviceName: '/dev/xvda', NoDevice: '' })).rejects.toMatchObject({ name: 'InvalidBlockDeviceMapping' });
  });
});

describe('DescribeImages', () => {
  test('filters by name, state, tag and tag-key; Owner other than self finds nothing', async () => {
    const client = ec2();
    server.imageBehaviour = { pendingPolls: 0, finalState: 'available' };
    const web = await createImage(client, 'us-east-1', 'web-2024-01', { Role: 'web', Stage: 'prod' });
    const api = await createImage(client, 'us-east-1', 'api-2024-01', { Role: 'api' });
    const ids = async (input: DescribeImagesCommandInput) =>
      ((await client.send(new DescribeImagesCommand(input))).Images ?? []).map((i) => i.ImageId).sort();

    expect(await ids({ Owners: ['self'], Filters: [{ Name: 'name', Values: ['web-*'] }] })).toEqual([web]);
    expect(await ids({ Filters: [{ Name: 'name', Values: ['web-2024-0?', 'api-2024-01'] }] })).toEqual([web, api].sort());
    expect(await ids({ Filters: [{ Name: 'tag:Role', Values: ['api'] }] })).toEqual([api]);
    expect(await ids({ Filters: [{ Name: 'tag-key', Values: ['Stage'] }] })).toEqual([web]);
    expect(await ids({ Filters: [{ Name: 'state', Values: ['available'] }, { Name: 'image-id', Values: [api] }] })).toEqual([api]);
    expect(await ids({ Owners: ['amazon'] })).toEqual([]);

    const invalid = await failure(client.send(new DescribeImagesCommand({ Filters: [{ Name: 'colour', Values: ['x'] }] })));
    expect(invalid.name).toBe('InvalidParameterValue');
  });

  test('unknown IDs are NotFound, malformed IDs Malformed, deregistered images absent', async () => {
    const client = ec2();
    const unknown = await failure(client.send(new DescribeImagesCommand({ ImageIds: ['ami-0123456789abcdef0'] })));
    expect(unknown.name).toBe('InvalidAMIID.NotFound');
    expect(unknown.message).toBe("The image id '[ami-0123456789abcdef0]' does not exist");
    const malformed = await failure(client.send(new DescribeImagesCommand({ ImageIds: ['ami-xyz'] })));
    expect(malformed.name).toBe('InvalidAMIID.Malformed');

    const imageId = await createImage(client, 'us-east-1', 'short-lived');
    await client.send(new DeregisterImageCommand({ ImageId: imageId }));
    const { Images } = await client.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
    expect(Images).toEqual([]);
  });
});

describe('deregistration and snapshots', () => {
  test('DeleteSnapshot refuses a snapshot in use; DeregisterImage with DeleteAssociatedSnapshots removes them', async () => {
    const client = ec2();
    server.imageBehaviour = { pendingPolls: 0, finalState: 'available' };
    const imageId = await createImage(client, 'us-east-1', 'to-delete');
    const [snapshot] = server.snapshots('us-east-1');

    const inUse = await failure(client.send(new DeleteSnapshotCommand({ SnapshotId: snapshot.snapshotId })));
    expect(inUse.name).toBe('InvalidSnapshot.InUse');
    expect(inUse.message).toBe(`The snapshot ${snapshot.snapshotId} is currently in use by ${imageId}`);

    const result = await client.send(new DeregisterImageCommand({ ImageId: imageId, DeleteAssociatedSnapshots: true }));
    expect(result.Return).toBe(true);
    expect(result.DeleteSnapshotResults).toEqual([{ SnapshotId: snapshot.snapshotId, ReturnCode: 'success' }]);
    expect(server.snapshots('us-east-1')).toEqual([]);
    expect(server.liveImages('us-east-1')).toEqual([]);
    expect(server.images('us-east-1').map((i) => i.state)).toEqual(['deregistered']);

    const gone = await failure(client.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshot.snapshotId] })));
    expect(gone.name).toBe('InvalidSnapshot.NotFound');
    const again = await failure(client.send(new DeregisterImageCommand({ ImageId: imageId })));
    expect(again.name).toBe('InvalidAMIID.Unavailable');
  });

  test('without DeleteAssociatedSnapshots the snapshots stay and can then be deleted', async () => {
    const client = ec2();
    const imageId = await createImage(client, 'us-east-1', 'keep-snapshots');
    const [snapshot] = server.snapshots('us-east-1');

    const result = await client.send(new DeregisterImageCommand({ ImageId: imageId }));
    expect(result.DeleteSnapshotResults).toBeUndefined();
    await client.send(new DeleteSnapshotCommand({ SnapshotId: snapshot.snapshotId }));
    expect(server.snapshots('us-east-1')).toEqual([]);
  });

  test('deregistration protection blocks DeregisterImage and shows in DescribeImages', async () => {
    const client = ec2();
    const imageId = await createImage(client, 'us-east-1', 'protected');
    await client.send(new EnableImageDeregistrationProtectionCommand({ ImageId: imageId, WithCooldown: false }));
    await client.send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: new Date('2030-06-01T12:00:20Z') }));

    const image = await describeImage(client, imageId);
    expect(image.DeregistrationProtection).toBe('enabled');
    expect(image.DeprecationTime).toBe('2030-06-01T12:00:00.000Z');
    const blocked = await failure(client.send(new DeregisterImageCommand({ ImageId: imageId })));
    expect(blocked.name).toBe('OperationNotPermitted');
    expect(blocked.message).toBe(`Deregistration protection is enabled for image ${imageId}`);
  });
});

describe('CopyImage', () => {
  test('copies across regions into separate state and is idempotent on ClientToken', async () => {
    server.imageBehaviour = { pendingPolls: 0, finalState: 'available' };
    const east = ec2('us-east-1');
    const west = ec2('eu-west-1');
    const sourceId = await createImage(east, 'us-east-1', 'source', { Team: 'platform' });
    await describeImage(east, sourceId); // settles the source

    server.imageBehaviour = { pendingPolls: 1, finalState: 'available' };
    const copy = {
      SourceImageId: sourceId,
      SourceRegion: 'us-east-1',
      Name: 'source-copy',
      ClientToken: 'copy-1',
      CopyImageTags: true,
      Encrypted: true,
      TagSpecifications: [{ ResourceType: 'image' as const, Tags: [{ Key: 'Copy', Value: 'yes' }] }],
    };
    const first = await west.send(new CopyImageCommand(copy));
    const retried = await west.send(new CopyImageCommand(copy));
    expect(retried.ImageId).toBe(first.ImageId);
    expect(server.images('eu-west-1')).toHaveLength(1);
    expect(server.snapshots('eu-west-1')).toHaveLength(1);

    const copied = await describeImage(west, first.ImageId!);
    expect(copied).toMatchObject({ State: 'pending', SourceImageId: sourceId, SourceImageRegion: 'us-east-1' });
    expect(copied.Tags).toEqual(expect.arrayContaining([{ Key: 'Team', Value: 'platform' }, { Key: 'Copy', Value: 'yes' }]));
    expect(copied.BlockDeviceMappings![0].Ebs!.Encrypted).toBe(true);
    expect((await describeImage(west, first.ImageId!)).State).toBe('available');

    const notInEast = await failure(east.send(new DescribeImagesCommand({ ImageIds: [first.ImageId!] })));
    expect(notInEast.name).toBe('InvalidAMIID.NotFound');
    expect(server.images('us-east-1').map((i) => i.imageId)).toEqual([sourceId]);
  });

  test('a source missing in SourceRegion is NotFound; deregistering a pending copy cancels it', async () => {
    server.imageBehaviour = { pendingPolls: 0, finalState: 'available' };
    const east = ec2('us-east-1');
    const west = ec2('eu-west-1');
    const sourceId = await createImage(east, 'us-east-1', 'source');
    await describeImage(east, sourceId);

    const wrongRegion = await failure(west.send(new CopyImageCommand({ SourceImageId: sourceId, SourceRegion: 'ap-south-1', Name: 'x-copy' })));
    expect(wrongRegion.name).toBe('InvalidAMIID.NotFound');

    const { ImageId } = await west.send(new CopyImageCommand({ SourceImageId: sourceId, SourceRegion: 'us-east-1', Name: 'x-copy' }));
    await west.send(new DeregisterImageCommand({ ImageId, DeleteAssociatedSnapshots: true }));
    expect(server.liveImages('eu-west-1')).toEqual([]);
    expect(server.snapshots('eu-west-1')).toEqual([]);
  });
});

describe('RegisterImage', () => {
  /** A RegisterImage request for one root snapshot on /dev/xvda. */
  const registration = (Name: string, SnapshotId: string, extra: Partial<RegisterImageCommandInput> = {}): RegisterImageCommandInput => ({
    Name,
    RootDeviceName: '/dev/xvda',
    BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId } }],
    ...extra,
  });

  test('registers an image over existing snapshots with its launch attributes; the snapshots are in use while it is registered', async () => {
    const client = ec2();
    const root = server.addSnapshot({ region: 'us-east-1', sizeGiB: 10, tags: { Origin: 'builder' } });
    const data = server.addSnapshot({ region: 'us-east-1', sizeGiB: 50, encrypted: true });

    const { ImageId } = await client.send(new RegisterImageCommand({
      Name: 'registered [arm] v1',
      Description: 'from snapshots',
      Architecture: 'arm64',
      BootMode: 'uefi',
      EnaSupport: true,
      ImdsSupport: 'v2.0',
      TpmSupport: 'v2.0',
      VirtualizationType: 'hvm',
      RootDeviceName: '/dev/xvda',
      BlockDeviceMappings: [
        { DeviceName: '/dev/xvda', Ebs: { SnapshotId: root, VolumeSize: 20, VolumeType: 'gp3', DeleteOnTermination: true } },
        { DeviceName: '/dev/sdf', Ebs: { SnapshotId: data, VolumeType: 'io2', Iops: 4000, DeleteOnTermination: false } },
        { DeviceName: '/dev/sdg', NoDevice: '' },
      ],
      TagSpecifications: [{ ResourceType: 'image', Tags: [{ Key: 'Markup', Value: MARKUP }] }],
    }));
    expect(ImageId).toMatch(/^ami-[0-9a-f]{17}$/);

    const image = await describeImage(client, ImageId!);
    expect(image).toMatchObject({
      Name: 'registered [arm] v1',
      Description: 'from snapshots',
      State: 'pending',
      Architecture: 'arm64',
      BootMode: 'uefi',
      EnaSupport: true,
      ImdsSupport: 'v2.0',
      TpmSupport: 'v2.0',
      VirtualizationType: 'hvm',
      RootDeviceName: '/dev/xvda',
      Tags: [{ Key: 'Markup', Value: MARKUP }],
    });
    expect(image.SourceInstanceId).toBeUndefined();
    expect(image.BlockDeviceMappings).toEqual([
      { DeviceName: '/dev/xvda', Ebs: { SnapshotId: root, VolumeSize: 20, VolumeType: 'gp3', DeleteOnTermination: true, Encrypted: false } },
      { DeviceName: '/dev/sdf', Ebs: { SnapshotId: data, VolumeSize: 50, VolumeType: 'io2', Iops: 4000, DeleteOnTermination: false, Encrypted: true } },
      { DeviceName: '/dev/sdg', NoDevice: '' },
    ]);
    // RegisterImage creates no snapshots and leaves the existing ones as they are.
    expect(server.snapshots('us-east-1').map((s) => [s.snapshotId, s.state, s.progress, s.tags])).toEqual([
      [root, 'completed', 100, { Origin: 'builder' }],
      [data, 'completed', 100, {}],
    ]);
    const bootMode = await client.send(new DescribeImageAttributeCommand({ ImageId, Attribute: 'bootMode' }));
    expect(bootMode.BootMode).toEqual({ Value: 'uefi' });
    const byArchitecture = await client.send(new DescribeImagesCommand({ Filters: [{ Name: 'architecture', Values: ['arm64'] }] }));
    expect(byArchitecture.Images!.map((i) => i.ImageId)).toEqual([ImageId]);

    // Default image behaviour: pending for 2 polls (the one above and this one), then available.
    expect((await describeImage(client, ImageId!)).State).toBe('available');
    expect(server.snapshots('us-east-1').map((s) => s.state)).toEqual(['completed', 'completed']);

    const inUse = await failure(client.send(new DeleteSnapshotCommand({ SnapshotId: data })));
    expect(inUse.name).toBe('InvalidSnapshot.InUse');
    expect(inUse.message).toBe(`The snapshot ${data} is currently in use by ${ImageId}`);
    await client.send(new DeregisterImageCommand({ ImageId }));
    await client.send(new DeleteSnapshotCommand({ SnapshotId: data }));
    expect(server.snapshots('us-east-1').map((s) => s.snapshotId)).toEqual([root]);
  });

  test("EC2's defaults apply: i386, paravirtual, gp2, the snapshot's size; unset attributes are not reported", async () => {
    const client = ec2();
    const snapshotId = server.addSnapshot({ region: 'us-east-1', sizeGiB: 12 });
    const { ImageId } = await client.send(new RegisterImageCommand(registration('plain-registration', snapshotId)));

    const image = await describeImage(client, ImageId!);
    expect(image).toMatchObject({ Architecture: 'i386', VirtualizationType: 'paravirtual', PlatformDetails: 'Linux/UNIX' });
    expect(image.BlockDeviceMappings).toEqual([
      { DeviceName: '/dev/xvda', Ebs: { SnapshotId: snapshotId, VolumeSize: 12, VolumeType: 'gp2', DeleteOnTermination: true, Encrypted: false } },
    ]);
    for (const member of ['BootMode', 'EnaSupport', 'ImdsSupport', 'TpmSupport', 'Tags'] as const) expect(image[member]).toBeUndefined();
    const bootMode = await client.send(new DescribeImageAttributeCommand({ ImageId, Attribute: 'bootMode' }));
    expect(bootMode.BootMode).toBeUndefined();
  });

  test('rejects bad names, duplicates, unknown or unfinished snapshots and root devices outside the mapping, creating nothing', async () => {
    const client = ec2();
    const snapshotId = server.addSnapshot({ region: 'us-east-1', sizeGiB: 8 });
    const pending = server.addSnapshot({ region: 'us-east-1', state: 'pending' });
    await client.send(new RegisterImageCommand(registration('taken-name', snapshotId)));
    const register = async (input: RegisterImageCommandInput) => failure(client.send(new RegisterImageCommand(input)));

    expect((await register(registration('no', snapshotId))).name).toBe('InvalidAMIName.Malformed');
    expect((await register(registration('bad*name', snapshotId))).name).toBe('InvalidAMIName.Malformed');
    const duplicate = await register(registration('taken-name', snapshotId));
    expect(duplicate.name).toBe('InvalidAMIName.Duplicate');
    expect(duplicate.message).toMatch(/^AMI name taken-name is already in use by AMI ami-[0-9a-f]{17}$/);

    const missing = await register(registration('fresh-name', 'snap-0123456789abcdef0'));
    expect(missing.name).toBe('InvalidSnapshot.NotFound');
    expect(missing.message).toBe("The snapshot 'snap-0123456789abcdef0' does not exist.");
    expect((await register(registration('fresh-name', 'snap-1'))).name).toBe('InvalidSnapshotID.Malformed');
    const unfinished = await register(registration('fresh-name', pending));
    expect(unfinished.name).toBe('IncorrectState');
    expect(unfinished.message).toBe(`Snapshot '${pending}' is not in a completed state (state: pending)`);
    // Snapshots live in one region.
    expect((await failure(ec2('eu-west-1').send(new RegisterImageCommand(registration('fresh-name', snapshotId))))).name)
      .toBe('InvalidSnapshot.NotFound');

    const wrongRoot = await register(registration('fresh-name', snapshotId, { RootDeviceName: '/dev/sda1' }));
    expect(wrongRoot.name).toBe('InvalidParameterValue');
    expect(wrongRoot.message).toMatch(/^Value \(\/dev\/sda1\) for parameter rootDeviceName is invalid/);
    const suppressedRoot = await register(registration('fresh-name', snapshotId, { BlockDeviceMappings: [{ DeviceName: '/dev/xvda', NoDevice: '' }] }));
    expect(suppressedRoot.name).toBe('InvalidParameterValue');
    expect((await register(registration('fresh-name', snapshotId, { RootDeviceName: undefined }))).name).toBe('MissingParameter');

    const tooSmall = await register(registration('fresh-name', snapshotId, {
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snapshotId, VolumeSize: 4 } }],
    }));
    expect(tooSmall.name).toBe('InvalidBlockDeviceMapping');
    expect(tooSmall.message).toBe(`Volume of size 4GB is smaller than snapshot '${snapshotId}', expect size >= 8GB`);
    const twice = await register(registration('fresh-name', snapshotId, {
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snapshotId } }, { DeviceName: '/dev/xvda', Ebs: { SnapshotId: snapshotId } }],
    }));
    expect(twice.name).toBe('InvalidBlockDeviceMapping');
    const snapshotTags = await register(registration('fresh-name', snapshotId, {
      TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'a', Value: 'b' }] }],
    }));
    expect(snapshotTags.name).toBe('InvalidParameterValue');
    expect((await register(registration('fresh-name', snapshotId, { TpmSupport: 'v2.0', BootMode: 'legacy-bios' }))).name).toBe('InvalidParameterCombination');

    expect(server.images('us-east-1').map((i) => i.name)).toEqual(['taken-name']);
    expect(server.snapshots('us-east-1')).toHaveLength(2);
  });
});
