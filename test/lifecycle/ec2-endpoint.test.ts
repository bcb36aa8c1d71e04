/**
 * Proves the local endpoint against the REAL AWS SDK v3 clients: every request below is
 * serialized by the SDK's ec2Query / awsQuery protocol, signed, sent over HTTP and parsed back.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  CancelImportTaskCommand,
  CopyImageCommand,
  CreateImageCommand,
  CreateRestoreImageTaskCommand,
  CreateStoreImageTaskCommand,
  CreateTagsCommand,
  CreateVolumePermissionModifications,
  DeleteSnapshotCommand,
  DeleteTagsCommand,
  DeregisterImageCommand,
  DescribeFastLaunchImagesCommand,
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeImagesCommandInput,
  DescribeImportImageTasksCommand,
  DescribeInstancesCommand,
  DescribeSnapshotAttributeCommand,
  DescribeSnapshotsCommand,
  DescribeStoreImageTasksCommand,
  DescribeStoreImageTasksCommandInput,
  DescribeVolumesCommand,
  DisableFastLaunchCommand,
  DisableImageBlockPublicAccessCommand,
  DisableImageDeprecationCommand,
  DisableImageDeregistrationProtectionCommand,
  EC2Client,
  EnableFastLaunchCommand,
  EnableImageBlockPublicAccessCommand,
  EnableImageDeprecationCommand,
  EnableImageDeregistrationProtectionCommand,
  GetImageBlockPublicAccessStateCommand,
  Image,
  ImportImageCommand,
  ImportImageCommandInput,
  ImportImageTask,
  ModifyImageAttributeCommand,
  ModifySnapshotAttributeCommand,
  PermissionGroup,
  RegisterImageCommand,
  RegisterImageCommandInput,
  SnapshotAttributeName,
  StopInstancesCommand,
  GetConsoleOutputCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  DeleteParameterCommand, GetParameterCommand, ListTagsForResourceCommand, PutParameterCommand, SSMClient,
} from '@aws-sdk/client-ssm';
import { fastRetryStrategy, FastRetryStrategy, LocalEc2, withEndpointEnv } from './local-ec2';

const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
/** A tag value full of XML specials: it must survive our escaping and the SDK's XML parser. */
const MARKUP = '<a & "b"> \'c\'';

let server: LocalEc2;

beforeAll(async () => {
  server = await LocalEc2.start();
});

afterAll(async () => {
  await server.stop();
});

beforeEach(() => {
  server.reset();
});

/** A real EC2 client for `region`, retrying like the SDK but without its slow backoff. */
function ec2(region = 'us-east-1', retryStrategy: FastRetryStrategy = fastRetryStrategy(3)): EC2Client {
  return new EC2Client({ region, endpoint: server.url, credentials: CREDENTIALS, retryStrategy });
}

/** The rejection of a promise that must fail. */
async function failure(promise: Promise<unknown>): Promise<Error & { $metadata: { httpStatusCode?: number; attempts?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { $metadata: { httpStatusCode?: number; attempts?: number } };
  }
  throw new Error('expected the call to fail');
}

async function describeImage(client: EC2Client, imageId: string): Promise<Image> {
  const { Images } = await client.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
  expect(Images).toHaveLength(1);
  return Images![0];
}

/** Creates an image from a fresh one-volume instance and returns its ID. */
async function createImage(client: EC2Client, region: string, name: string, tags: Record<string, string> = {}): Promise<string> {
  const instanceId = server.addInstance({ region });
  const Tags = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
  const { ImageId } = await client.send(new CreateImageCommand({
    InstanceId: instanceId,
    Name: name,
    TagSpecifications: Tags.length > 0 ? [{ ResourceType: 'image', Tags }] : undefined,
  }));
  return ImageId!;
}

/** Polls until the image leaves `pending`, the way a waiter would. */
async function pollUntilSettled(client: EC2Client, imageId: string): Promise<Image> {
  for (let poll = 0; poll < 20; poll++) {
    const image = await describeImage(client, imageId);
    if (image.State !== 'pending') return image;
  }
  throw new Error(`${imageId} stayed pending`);
}

describe('SSM parameters (awsJson1_1)', () => {
  function ssm(region: string): SSMClient {
    return new SSMClient({ region, endpoint: server.url, credentials: CREDENTIALS, retryStrategy: fastRetryStrategy(3) });
  }
  let images = 0;
  async function availableImage(region: string): Promise<string> {
    const client = ec2(region);
    const imageId = await createImage(client, region, `for-a-parameter-${++images}`);
    await pollUntilSettled(client, imageId);
    return imageId;
  }
  const put = (Name: string, Value: string, extra = {}) => new PutParameterCommand({ Name, Value, Type: 'String', DataType: 'aws:ec2:image', ...extra });

  test('an aws:ec2:image parameter holds an available image of its Region; GetParameter, tags and DeleteParameter', async () => {
    const imageId = await availableImage('eu-west-1');
    const client = ssm('eu-west-1');
    expect(await client.send(put('/images/golden', imageId, { Tags: [{ Key: 'team', Value: MARKUP }] }))).toMatchObject({ Version: 1, Tier: 'Standard' });
    const { Parameter } = await client.send(new GetParameterCommand({ Name: '/images/golden' }));
    expect(Parameter).toMatchObject({ Name: '/images/golden', Value: imageId, Version: 1, DataType: 'aws:ec2:image', ARN: 'arn:aws:ssm:eu-west-1:123456789012:parameter/images/golden' });
    expect(Parameter!.LastModifiedDate).toBeInstanceOf(Date);
    expect((await client.send(new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: '/images/golden' }))).TagList).toEqual([{ Key: 'team', Value: MARKUP }]);
    // Parameters are regional.
    expect((await failure(ssm('us-east-1').send(new GetParameterCommand({ Name: '/images/golden' })))).name).toBe('ParameterNotFound');
    await client.send(new DeleteParameterCommand({ Name: '/images/golden' }));
    expect((await failure(client.send(new DeleteParameterCommand({ Name: '/images/golden' })))).name).toBe('ParameterNotFound');
    expect((await failure(client.send(new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: '/images/golden' })))).name).toBe('InvalidResourceId');
  });

  test('PutParameter without Overwrite refuses an existing name; Overwrite raises the version and keeps the tags; never both with Tags', async () => {
    const first = await availableImage('eu-west-1');
    const second = await availableImage('eu-west-1');
    const client = ssm('eu-west-1');
    await client.send(put('golden', first, { Tags: [{ Key: 'owner', Value: 'me' }] }));
    const exists = await failure(client.send(put('golden', second)));
    expect([exists.name, exists.$metadata.httpStatusCode]).toEqual(['ParameterAlreadyExists', 400]);
    expect((await failure(client.send(put('golden', second, { Overwrite: true, Tags: [{ Key: 'owner', Value: 'you' }] })))).name).toBe('ValidationException');
    expect(await client.send(put('golden', second, { Overwrite: true }))).toMatchObject({ Version: 2 });
    expect(server.parameters('eu-west-1')).toEqual([expect.objectContaining({ name: 'golden', value: second, version: 2, tags: { owner: 'me' } })]);
  });

  test('an aws:ec2:image value is validated after PutParameter answers: a missing image (or one of another Region) is dropped', async () => {
    const elsewhere = await availableImage('us-east-1');
    const client = ssm('eu-west-1');
    expect(await client.send(put('golden', elsewhere))).toMatchObject({ Version: 1 });
    expect((await failure(client.send(new GetParameterCommand({ Name: 'golden' })))).name).toBe('ParameterNotFound');
    expect(server.parameters('eu-west-1')).toEqual([]);
  });

  test('parameterValidationReads: reads see the old state until validation ends', async () => {
    const imageId = await availableImage('eu-west-1');
    server.parameterValidationReads = 1;
    const client = ssm('eu-west-1');
    await client.send(put('golden', imageId));
    expect((await failure(client.send(new GetParameterCommand({ Name: 'golden' })))).name).toBe('ParameterNotFound');
    expect((await client.send(new GetParameterCommand({ Name: 'golden' }))).Parameter!.Value).toBe(imageId);
  });

  test.each([
    ['/aws/golden', /can't be prefixed with "aws" or "ssm"/],
    ['with space', /can't contain characters other than/],
  ])('the name %s is refused with ValidationException', async (name, message) => {
    const err = await failure(ssm('eu-west-1').send(put(name, 'ami-0123456789abcdef0')));
    expect(err.name).toBe('ValidationException');
    expect(err.message).toMatch(message);
  });
});

describe('instances', () => {
  test('DescribeInstances returns state, root device, volumes and tags; regions are separate', async () => {
    const instanceId = server.addInstance({
      region: 'us-east-1',
      volumes: [{ deviceName: '/dev/xvda', sizeGiB: 8 }, { deviceName: '/dev/sdb', sizeGiB: 20 }],
      tags: { Name: 'builder' },
    });

    const { Reservations } = await ec2().send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const instance = Reservations![0].Instances![0];
    expect(instance).toMatchObject({
      InstanceId: instanceId,
      State: { Code: 16, Name: 'running' },
      RootDeviceName: '/dev/xvda',
      Tags: [{ Key: 'Name', Value: 'builder' }],
    });
    expect(instance.BlockDeviceMappings!.map((m) => [m.DeviceName, m.Ebs?.Status, m.Ebs?.DeleteOnTermination])).toEqual([
      ['/dev/xvda', 'attached', true],
      ['/dev/sdb', 'attached', true],
    ]);
    expect(instance.BlockDeviceMappings![0].Ebs!.VolumeId).toMatch(/^vol-[0-9a-f]{17}$/);

    const elsewhere = await failure(ec2('us-west-2').send(new DescribeInstancesCommand({ InstanceIds: [instanceId] })));
    expect(elsewhere.name).toBe('InvalidInstanceID.NotFound');
    expect(elsewhere.message).toBe(`The instance ID '${instanceId}' does not exist`);
    const malformed = await failure(ec2().send(new DescribeInstancesCommand({ InstanceIds: ['i-123'] })));
    expect(malformed.name).toBe('InvalidInstanceID.Malformed');
  });

  test('StopInstances and TerminateInstances report the transition and settle', async () => {
    const client = ec2();
    const instanceId = server.addInstance({ region: 'us-east-1' });

    const stopped = await client.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    expect(stopped.StoppingInstances).toEqual([{
      InstanceId: instanceId,
      CurrentState: { Code: 64, Name: 'stopping' },
      PreviousState: { Code: 16, Name: 'running' },
    }]);
    expect(server.instances('us-east-1')[0].state).toBe('stopped');

    const terminated = await client.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    expect(terminated.TerminatingInstances![0]).toMatchObject({ CurrentState: { Name: 'shutting-down' }, PreviousState: { Name: 'stopped' } });
    const { Reservations } = await client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    expect(Reservations![0].Instances![0].State).toEqual({ Code: 48, Name: 'terminated' });
  });
});

describe('GetConsoleOutput and scripted instances', () => {
  test('returns the console base64-encoded, and nothing before the instance wrote any', async () => {
    const client = ec2();
    const instanceId = server.addInstance({ region: 'us-east-1' });
    const empty = await client.send(new GetConsoleOutputCommand({ InstanceId: instanceId, Latest: true }));
    expect(empty.InstanceId).toBe(instanceId);
    expect(empty.Output).toBeUndefined();
    expect(empty.Timestamp).toBeInstanceOf(Date);

    server.writeConsole('us-east-1', instanceId, 'Cloud-init v. 22.2.2 running\nerror: ünïcode line\n');
    const out = await client.send(new GetConsoleOutputCommand({ InstanceId: instanceId, Latest: true }));
    expect(Buffer.from(out.Output!, 'base64').toString('utf8')).toBe('Cloud-init v. 22.2.2 running\nerror: ünïcode line\n');

    const missing = await failure(client.send(new GetConsoleOutputCommand({ InstanceId: 'i-0123456789abcdef0' })));
    expect(missing.name).toBe('InvalidInstanceID.NotFound');
  });

  test('a scripted instance tags itself, writes its console and stops after the given polls', async () => {
    const client = ec2();
    const instanceId = server.addInstance({ region: 'us-east-1' });
    server.scriptInstance('us-east-1', instanceId, { afterDescribes: 2, tags: { 'cdk-ami:setup': 'succeeded' }, consoleOutput: 'done\n', state: 'stopped' });
    const describe = async () => (await client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations![0].Instances![0];
    expect((await describe()).Tags ?? []).toEqual([]);
    expect((await describe()).State!.Name).toBe('running');
    const third = await describe();
    expect(third.Tags).toEqual([{ Key: 'cdk-ami:setup', Value: 'succeeded' }]);
    expect(third.State).toEqual({ Code: 80, Name: 'stopped' });
    const out = await client.send(new GetConsoleOutputCommand({ InstanceId: instanceId }));
    expect(Buffer.from(out.Output!, 'base64').toString('utf8')).toBe('done\n');
  });
});

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

describe('tags and attributes', () => {
  test('CreateTags and DeleteTags work on images, snapshots and instances', async () => {
    const client = ec2();
    const imageId = await createImage(client, 'us-east-1', 'tagged');
    const [snapshot] = server.snapshots('us-east-1');
    const instanceId = server.instances('us-east-1')[0].instanceId;
    const resources = [imageId, snapshot.snapshotId, instanceId];

    await client.send(new CreateTagsCommand({ Resources: resources, Tags: [{ Key: 'a', Value: '1' }, { Key: 'b', Value: '2' }] }));
    await client.send(new DeleteTagsCommand({ Resources: resources, Tags: [{ Key: 'a' }, { Key: 'b', Value: 'not-2' }] }));
    expect(server.image(imageId)!.tags).toEqual({ b: '2' });
    expect(server.snapshots('us-east-1')[0].tags).toEqual({ b: '2' });
    expect(server.instances('us-east-1')[0].tags).toEqual({ b: '2' });

    const missing = await failure(client.send(new CreateTagsCommand({ Resources: ['snap-0123456789abcdef0'], Tags: [{ Key: 'a', Value: '1' }] })));
    expect(missing.name).toBe('InvalidSnapshot.NotFound');
  });

  test('ModifyImageAttribute stores description and launch permissions; DescribeImageAttribute returns them', async () => {
    const client = ec2();
    const imageId = await createImage(client, 'us-east-1', 'shared');

    await client.send(new ModifyImageAttributeCommand({
      ImageId: imageId,
      Description: { Value: 'shared image' },
      LaunchPermission: {
        Add: [{ UserId: '111111111111' }, { OrganizationArn: 'arn:aws:organizations::123456789012:organization/o-abc' }],
      },
    }));
    await client.send(new ModifyImageAttributeCommand({
      ImageId: imageId,
      LaunchPermission: { Add: [{ UserId: '222222222222' }], Remove: [{ UserId: '111111111111' }] },
    }));

    const permissions = await client.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }));
    expect(permissions.ImageId).toBe(imageId);
    expect(permissions.LaunchPermissions).toEqual([
      { OrganizationArn: 'arn:aws:organizations::123456789012:organization/o-abc' },
      { UserId: '222222222222' },
    ]);
    const description = await client.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'description' }));
    expect(description.Description).toEqual({ Value: 'shared image' });
    expect((await describeImage(client, imageId)).Description).toBe('shared image');
  });
});

describe('launch permissions and deprecation', () => {
  const ORG = 'arn:aws:organizations::123456789012:organization/o-abc';
  const OU = 'arn:aws:organizations::123456789012:ou/o-abc/ou-ab12-cdef3456';

  test('LaunchPermission.Add/.Remove take accounts, the all group, organizations and OUs; isPublic follows the all group', async () => {
    const client = ec2();
    const imageId = await createImage(client, 'us-east-1', 'shared-widely');
    const launchPermissions = async () =>
      (await client.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }))).LaunchPermissions;

    await client.send(new ModifyImageAttributeCommand({
      ImageId: imageId,
      LaunchPermission: { Add: [{ UserId: '111111111111' }, { Group: 'all' }, { OrganizationArn: ORG }, { OrganizationalUnitArn: OU }] },
    }));
    expect(await launchPermissions()).toEqual([
      { UserId: '111111111111' }, { Group: 'all' }, { OrganizationArn: ORG }, { OrganizationalUnitArn: OU },
    ]);
    expect((await describeImage(client, imageId)).Public).toBe(true);
    const publicImages = await client.send(new DescribeImagesCommand({ Filters: [{ Name: 'is-public', Values: ['true'] }] }));
    expect(publicImages.Images!.map((i) => i.ImageId)).toEqual([imageId]);

    await client.send(new ModifyImageAttributeCommand({
      ImageId: imageId,
      LaunchPermission: { Remove: [{ OrganizationArn: ORG }, { Group: 'all' }] },
    }));
    expect(await launchPermissions()).toEqual([{ UserId: '111111111111' }, { OrganizationalUnitArn: OU }]);
    expect((await describeImage(client, imageId)).Public).toBe(false);

    // The older form: Attribute + OperationType + UserId.N / UserGroup.N / OrganizationArn.N / OrganizationalUnitArn.N.
    await client.send(new ModifyImageAttributeCommand({
      ImageId: imageId, Attribute: 'launchPermission', OperationType: 'add', OrganizationArns: [ORG], UserIds: ['222222222222'],
    }));
    await client.send(new ModifyImageAttributeCommand({
      ImageId: imageId, Attribute: 'launchPermission', OperationType: 'remove', UserIds: ['111111111111'], OrganizationalUnitArns: [OU],
    }));
    expect(await launchPermissions()).toEqual([{ UserId: '222222222222' }, { OrganizationArn: ORG }]);
    expect(server.image(imageId)!.launchPermissions).toEqual([{ userId: '222222222222' }, { organizationArn: ORG }]);

    const badAccount = await failure(client.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: [{ UserId: '12345' }] } })));
    expect(badAccount.name).toBe('InvalidAMIAttributeItemValue');
    const unknown = await failure(client.send(new ModifyImageAttributeCommand({
      ImageId: 'ami-0123456789abcdef0', LaunchPermission: { Add: [{ UserId: '111111111111' }] },
    })));
    expect(unknown.name).toBe('InvalidAMIID.NotFound');
  });

  test('DescribeImages reports deprecationTime after EnableImageDeprecation and drops it after DisableImageDeprecation', async () => {
    const client = ec2();
    const imageId = await createImage(client, 'us-east-1', 'deprecating');
    expect((await describeImage(client, imageId)).DeprecationTime).toBeUndefined();

    await client.send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: new Date('2031-01-15T08:29:31Z') }));
    expect((await describeImage(client, imageId)).DeprecationTime).toBe('2031-01-15T08:30:00.000Z');
    expect(server.image(imageId)!.deprecationTime).toBe('2031-01-15T08:30:00.000Z');

    const disabled = await client.send(new DisableImageDeprecationCommand({ ImageId: imageId }));
    expect(disabled.Return).toBe(true);
    expect((await describeImage(client, imageId)).DeprecationTime).toBeUndefined();
    expect(server.image(imageId)!.deprecationTime).toBeUndefined();
  });

  test('EnableImageDeprecation refuses a time in the past (after rounding) and more than 10 years ahead, as EC2 documents', async () => {
    const client = ec2();
    const imageId = await createImage(client, 'us-east-1', 'deprecating');
    const past = await failure(client.send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: new Date(Date.now() - 60_000) })));
    expect(past.name).toBe('InvalidParameterValue');
    expect(past.$metadata.httpStatusCode).toBe(400);
    const elevenYears = new Date(Date.now() + 11 * 365 * 24 * 3600_000);
    const tooLate = await failure(client.send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: elevenYears })));
    expect(tooLate.name).toBe('InvalidParameterValue');
    expect(server.image(imageId)!.deprecationTime).toBeUndefined();
    await client.send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: new Date(Date.now() + 2 * 60_000) }));
    expect(server.image(imageId)!.deprecationTime).toBeDefined();
  });
});

describe('snapshot sharing', () => {
  test('ModifySnapshotAttribute takes both request forms; DescribeSnapshotAttribute and snapshots() report the permissions', async () => {
    const client = ec2();
    await createImage(client, 'us-east-1', 'snapshot-source');
    const [{ snapshotId }] = server.snapshots('us-east-1');
    const describe = (Attribute: SnapshotAttributeName) => client.send(new DescribeSnapshotAttributeCommand({ SnapshotId: snapshotId, Attribute }));

    const initial = await describe('createVolumePermission');
    expect(initial.SnapshotId).toBe(snapshotId);
    expect(initial.CreateVolumePermissions).toEqual([]);

    // What the SDK sends: Attribute=createVolumePermission&OperationType=add&UserId.1=…&UserId.2=…
    await client.send(new ModifySnapshotAttributeCommand({
      SnapshotId: snapshotId, Attribute: 'createVolumePermission', OperationType: 'add', UserIds: ['111111111111', '222222222222'],
    }));
    // What the SDK sends: CreateVolumePermission.Add.1.Group=all&CreateVolumePermission.Remove.1.UserId=…
    await client.send(new ModifySnapshotAttributeCommand({
      SnapshotId: snapshotId, CreateVolumePermission: { Add: [{ Group: 'all' }], Remove: [{ UserId: '111111111111' }] },
    }));
    expect((await describe('createVolumePermission')).CreateVolumePermissions).toEqual([{ UserId: '222222222222' }, { Group: 'all' }]);
    expect(server.snapshots('us-east-1')[0].createVolumePermissions).toEqual([{ userId: '222222222222' }, { group: 'all' }]);

    // Adding a permission twice keeps one entry; UserGroup.N removes the group.
    await client.send(new ModifySnapshotAttributeCommand({ SnapshotId: snapshotId, CreateVolumePermission: { Add: [{ UserId: '222222222222' }] } }));
    await client.send(new ModifySnapshotAttributeCommand({
      SnapshotId: snapshotId, Attribute: 'createVolumePermission', OperationType: 'remove', GroupNames: ['all'],
    }));
    expect((await describe('createVolumePermission')).CreateVolumePermissions).toEqual([{ UserId: '222222222222' }]);
    expect((await describe('productCodes')).ProductCodes).toEqual([]);
  });

  test('unknown snapshots are NotFound; bad accounts, groups and attributes are rejected without changing anything', async () => {
    const client = ec2();
    await createImage(client, 'us-east-1', 'snapshot-source');
    const [{ snapshotId }] = server.snapshots('us-east-1');
    const missingId = 'snap-0123456789abcdef0';

    const modifyMissing = await failure(client.send(new ModifySnapshotAttributeCommand({
      SnapshotId: missingId, Attribute: 'createVolumePermission', OperationType: 'add', UserIds: ['111111111111'],
    })));
    expect(modifyMissing.name).toBe('InvalidSnapshot.NotFound');
    expect(modifyMissing.message).toBe(`The snapshot '${missingId}' does not exist.`);
    const describeMissing = await failure(client.send(new DescribeSnapshotAttributeCommand({ SnapshotId: missingId, Attribute: 'createVolumePermission' })));
    expect(describeMissing.name).toBe('InvalidSnapshot.NotFound');
    const malformed = await failure(client.send(new DescribeSnapshotAttributeCommand({ SnapshotId: 'snap-1', Attribute: 'createVolumePermission' })));
    expect(malformed.name).toBe('InvalidSnapshotID.Malformed');

    const modify = (CreateVolumePermission: CreateVolumePermissionModifications) =>
      failure(client.send(new ModifySnapshotAttributeCommand({ SnapshotId: snapshotId, CreateVolumePermission })));
    expect((await modify({ Add: [{ UserId: '111111111111' }, { UserId: 'not-an-account' }] })).name).toBe('InvalidUserID.Malformed');
    expect((await modify({ Add: [{ Group: 'everyone' as PermissionGroup }] })).name).toBe('InvalidParameterValue');
    expect((await modify({})).name).toBe('MissingParameter');
    const productCodes = await failure(client.send(new ModifySnapshotAttributeCommand({
      SnapshotId: snapshotId, Attribute: 'productCodes', OperationType: 'add', UserIds: ['111111111111'],
    })));
    expect(productCodes.name).toBe('InvalidParameterValue');
    const unknownAttribute = await failure(client.send(new DescribeSnapshotAttributeCommand({
      SnapshotId: snapshotId, Attribute: 'colour' as SnapshotAttributeName,
    })));
    expect(unknownAttribute.name).toBe('InvalidParameterValue');
    expect(server.snapshots('us-east-1')[0].createVolumePermissions).toEqual([]);
  });
});

describe('block public access for AMIs', () => {
  test('GetImageBlockPublicAccessState is per region and unblocked by default; the script and the API change it', async () => {
    const east = ec2('us-east-1');
    const west = ec2('eu-west-1');
    expect(await east.send(new GetImageBlockPublicAccessStateCommand({}))).toMatchObject({ ImageBlockPublicAccessState: 'unblocked', ManagedBy: 'account' });

    server.setImageBlockPublicAccess('us-east-1', 'block-new-sharing');
    expect((await east.send(new GetImageBlockPublicAccessStateCommand({}))).ImageBlockPublicAccessState).toBe('block-new-sharing');
    expect((await west.send(new GetImageBlockPublicAccessStateCommand({}))).ImageBlockPublicAccessState).toBe('unblocked');

    expect((await east.send(new DisableImageBlockPublicAccessCommand({}))).ImageBlockPublicAccessState).toBe('unblocked');
    const enabled = await west.send(new EnableImageBlockPublicAccessCommand({ ImageBlockPublicAccessState: 'block-new-sharing' }));
    expect(enabled.ImageBlockPublicAccessState).toBe('block-new-sharing');
    expect([server.imageBlockPublicAccess('us-east-1'), server.imageBlockPublicAccess('eu-west-1')]).toEqual(['unblocked', 'block-new-sharing']);
  });

  test('while new sharing is blocked, adding the all group fails and changes nothing; accounts can be added, public images stay public', async () => {
    const client = ec2();
    const alreadyPublic = await createImage(client, 'us-east-1', 'already-public');
    await client.send(new ModifyImageAttributeCommand({ ImageId: alreadyPublic, LaunchPermission: { Add: [{ Group: 'all' }] } }));
    const imageId = await createImage(client, 'us-east-1', 'private');
    server.setImageBlockPublicAccess('us-east-1', 'block-new-sharing');

    const blocked = await failure(client.send(new ModifyImageAttributeCommand({
      ImageId: imageId,
      Description: { Value: 'should not stick' },
      LaunchPermission: { Add: [{ UserId: '111111111111' }, { Group: 'all' }] },
    })));
    expect(blocked.name).toBe('OperationNotPermitted');
    expect(blocked.$metadata.httpStatusCode).toBe(400);
    expect(blocked.message).toBe('You can’t publicly share this image because block public access for AMIs is enabled for this account. '
      + 'To publicly share the image, you must call the DisableImageBlockPublicAccess API.');
    const blockedOldForm = await failure(client.send(new ModifyImageAttributeCommand({
      ImageId: imageId, Attribute: 'launchPermission', OperationType: 'add', UserGroups: ['all'],
    })));
    expect(blockedOldForm.name).toBe('OperationNotPermitted');
    expect(server.image(imageId)).toMatchObject({ description: undefined, launchPermissions: [] });

    await client.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: [{ UserId: '111111111111' }] } }));
    expect(server.image(imageId)!.launchPermissions).toEqual([{ userId: '111111111111' }]);
    expect((await describeImage(client, alreadyPublic)).Public).toBe(true);
    // Making an image private is always allowed.
    await client.send(new ModifyImageAttributeCommand({ ImageId: alreadyPublic, LaunchPermission: { Remove: [{ Group: 'all' }] } }));
    expect((await describeImage(client, alreadyPublic)).Public).toBe(false);

    // Another region is not blocked.
    const westClient = ec2('eu-west-1');
    const westImage = await createImage(westClient, 'eu-west-1', 'west-public');
    await westClient.send(new ModifyImageAttributeCommand({ ImageId: westImage, LaunchPermission: { Add: [{ Group: 'all' }] } }));
    expect((await describeImage(westClient, westImage)).Public).toBe(true);
  });
});

describe('deregistration protection cooldown', () => {
  test('protection enabled with cooldown stays in effect after Disable (disabled-until) until endCooldown', async () => {
    const client = ec2();
    const imageId = await createImage(client, 'us-east-1', 'cooldown');
    const protection = async () => (await describeImage(client, imageId)).DeregistrationProtection;

    await client.send(new EnableImageDeregistrationProtectionCommand({ ImageId: imageId, WithCooldown: true }));
    expect(await protection()).toBe('enabled-with-cooldown');
    const attribute = await client.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'deregistrationProtection' }));
    expect(attribute.DeregistrationProtection).toEqual({ Value: 'enabled-with-cooldown' });

    const before = Date.now();
    const disabled = await client.send(new DisableImageDeregistrationProtectionCommand({ ImageId: imageId }));
    expect(disabled.Return).toBe('true');
    const reported = await protection();
    const match = /^disabled-until (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)$/.exec(reported ?? '');
    expect(match).not.toBeNull();
    const cooldownEnds = Date.parse(match![1]);
    expect(cooldownEnds).toBeGreaterThanOrEqual(before + 24 * 3600_000);
    expect(cooldownEnds).toBeLessThanOrEqual(Date.now() + 24 * 3600_000);
    expect(server.image(imageId)).toMatchObject({ deregistrationProtection: 'disabled-until', protectionCooldownEnds: match![1] });
    const attributeDuringCooldown = await client.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'deregistrationProtection' }));
    expect(attributeDuringCooldown.DeregistrationProtection).toEqual({ Value: reported });

    const blocked = await failure(client.send(new DeregisterImageCommand({ ImageId: imageId })));
    expect(blocked.name).toBe('OperationNotPermitted');
    expect(blocked.message).toBe(`Deregistration protection for image ${imageId} stays in effect until its cooldown ends at ${match![1]}`);
    // Disabling again does not restart the cooldown.
    await client.send(new DisableImageDeregistrationProtectionCommand({ ImageId: imageId }));
    expect(await protection()).toBe(reported);

    server.endCooldown(imageId);
    expect(await protection()).toBe('disabled');
    expect(server.image(imageId)!.protectionCooldownEnds).toBeUndefined();
    expect(() => server.endCooldown(imageId)).toThrow(/not in a deregistration-protection cooldown/);
    expect(() => server.endCooldown('ami-0123456789abcdef0')).toThrow(/No image/);
    await client.send(new DeregisterImageCommand({ ImageId: imageId }));
    expect(server.image(imageId)!.state).toBe('deregistered');
  });

  test('protection without cooldown ends at once; enabling again during a cooldown cancels it', async () => {
    const client = ec2();
    const plain = await createImage(client, 'us-east-1', 'plain-protection');
    await client.send(new EnableImageDeregistrationProtectionCommand({ ImageId: plain }));
    expect((await describeImage(client, plain)).DeregistrationProtection).toBe('enabled');
    await client.send(new DisableImageDeregistrationProtectionCommand({ ImageId: plain }));
    expect((await describeImage(client, plain)).DeregistrationProtection).toBe('disabled');
    await client.send(new DeregisterImageCommand({ ImageId: plain }));

    const cooled = await createImage(client, 'us-east-1', 'cooled');
    await client.send(new EnableImageDeregistrationProtectionCommand({ ImageId: cooled, WithCooldown: true }));
    await client.send(new DisableImageDeregistrationProtectionCommand({ ImageId: cooled }));
    await client.send(new EnableImageDeregistrationProtectionCommand({ ImageId: cooled, WithCooldown: false }));
    expect((await describeImage(client, cooled)).DeregistrationProtection).toBe('enabled');
    expect(() => server.endCooldown(cooled)).toThrow();
    expect((await failure(client.send(new DeregisterImageCommand({ ImageId: cooled })))).message)
      .toBe(`Deregistration protection is enabled for image ${cooled}`);
    await client.send(new DisableImageDeregistrationProtectionCommand({ ImageId: cooled }));
    await client.send(new DeregisterImageCommand({ ImageId: cooled }));
    expect(server.liveImages('us-east-1')).toEqual([]);
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

describe('VM Import (ImportImage)', () => {
  const DISK = { Description: 'root disk', Format: 'VMDK', UserBucket: { S3Bucket: 'vm-uploads', S3Key: 'images/web.vmdk' } };

  async function describeTask(client: EC2Client, importTaskId: string): Promise<ImportImageTask> {
    const { ImportImageTasks } = await client.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [importTaskId] }));
    expect(ImportImageTasks).toHaveLength(1);
    return ImportImageTasks![0];
  }

  /** What successive polls report: `status/statusMessage/progress`. */
  async function statusesUntilDone(client: EC2Client, importTaskId: string): Promise<string[]> {
    const seen: string[] = [];
    for (let poll = 0; poll < 40; poll++) {
      const task = await describeTask(client, importTaskId);
      seen.push([task.Status, task.StatusMessage, task.Progress].filter((part) => part !== undefined).join('/'));
      if (task.Status === 'completed' || task.Status === 'deleted') return seen;
    }
    throw new Error(`${importTaskId} did not finish`);
  }

  test('advances one step per poll through the real sequence and completes with an available, untagged AMI', async () => {
    const client = ec2();
    const started = await client.send(new ImportImageCommand({
      Description: 'web server VM',
      DiskContainers: [DISK],
      LicenseType: 'BYOL',
      RoleName: 'vmimport',
      TagSpecifications: [{ ResourceType: 'import-image-task', Tags: [{ Key: 'Project', Value: 'migration' }] }],
    }));
    expect(started.ImportTaskId).toMatch(/^import-ami-[0-9a-f]{17}$/);
    expect(started).toMatchObject({
      Status: 'active',
      StatusMessage: 'pending',
      Progress: '2',
      Description: 'web server VM',
      LicenseType: 'BYOL',
      Tags: [{ Key: 'Project', Value: 'migration' }],
      SnapshotDetails: [{
        Description: 'root disk',
        DiskImageSize: 0,
        Format: 'VMDK',
        Url: 's3://vm-uploads/images/web.vmdk',
        UserBucket: { S3Bucket: 'vm-uploads', S3Key: 'images/web.vmdk' },
      }],
    });
    expect(started.ImageId).toBeUndefined();
    expect(started.Architecture).toBeUndefined();

    expect(await statusesUntilDone(client, started.ImportTaskId!)).toEqual([
      'active/pending/2',
      'active/validating/3',
      'active/validated/6',
      'active/converting/19',
      'active/updating/27',
      'active/updated/30',
      'active/preparing to boot/34',
      'active/booting/39',
      'active/booted/46',
      'active/preparing ami/57',
      'completed',
    ]);

    const done = await describeTask(client, started.ImportTaskId!);
    expect(done).toMatchObject({ Status: 'completed', Architecture: 'x86_64', Platform: 'Linux', LicenseType: 'BYOL' });
    expect(done.ImageId).toMatch(/^ami-[0-9a-f]{17}$/);
    const [detail] = done.SnapshotDetails!;
    expect(detail).toMatchObject({ DeviceName: '/dev/sda1', Status: 'completed', DiskImageSize: 8 * 1024 ** 3, Format: 'VMDK' });
    expect(detail.SnapshotId).toMatch(/^snap-[0-9a-f]{17}$/);

    const image = await describeImage(client, done.ImageId!);
    expect(image).toMatchObject({ State: 'available', Name: started.ImportTaskId, RootDeviceName: '/dev/sda1', Architecture: 'x86_64' });
    expect(image.Tags).toBeUndefined();
    expect(image.BlockDeviceMappings![0].Ebs!.SnapshotId).toBe(detail.SnapshotId);
    const { Snapshots } = await client.send(new DescribeSnapshotsCommand({ SnapshotIds: [detail.SnapshotId!] }));
    expect(Snapshots![0]).toMatchObject({ State: 'completed', VolumeSize: 8, Description: `Created by AWS-VMImport service for ${started.ImportTaskId}` });
    expect(Snapshots![0].Tags).toBeUndefined();
    // Later polls report the same completed task and create nothing more.
    expect((await describeTask(client, started.ImportTaskId!)).ImageId).toBe(done.ImageId);
    expect(server.images('us-east-1')).toHaveLength(1);
  });

  test('is idempotent on ClientToken; a scripted failure ends deleted with its message; filters use Filters.N', async () => {
    const client = ec2();
    const request: ImportImageCommandInput = { ClientToken: 'import-1', DiskContainers: [DISK], Architecture: 'x86_64' };
    const first = await client.send(new ImportImageCommand(request));
    const retried = await client.send(new ImportImageCommand(request));
    expect(retried.ImportTaskId).toBe(first.ImportTaskId);
    expect(server.importTasks('us-east-1')).toHaveLength(1);
    const mismatch = await failure(client.send(new ImportImageCommand({ ...request, Architecture: 'i386' })));
    expect(mismatch.name).toBe('IdempotentParameterMismatch');

    server.importBehaviour = { finalStatus: 'deleted', failureMessage: 'ClientError: Unsupported kernel version 2.6.18', pollsPerStep: 2 };
    const doomed = await client.send(new ImportImageCommand({ DiskContainers: [DISK], Platform: 'Linux' }));
    expect(await statusesUntilDone(client, doomed.ImportTaskId!)).toEqual([
      'active/pending/2', 'active/pending/2',
      'active/validating/3', 'active/validating/3',
      'active/validated/6', 'active/validated/6',
      'active/converting/19', 'active/converting/19',
      'deleting/ClientError: Unsupported kernel version 2.6.18', 'deleting/ClientError: Unsupported kernel version 2.6.18',
      'deleted/ClientError: Unsupported kernel version 2.6.18',
    ]);
    expect((await describeTask(client, doomed.ImportTaskId!)).ImageId).toBeUndefined();
    expect(server.images('us-east-1')).toEqual([]);

    const byState = async (state: string) => ((await client.send(new DescribeImportImageTasksCommand({
      Filters: [{ Name: 'task-state', Values: [state] }],
    }))).ImportImageTasks ?? []).map((task) => task.ImportTaskId);
    expect(await byState('deleted')).toEqual([doomed.ImportTaskId]);
    expect(await byState('active')).toEqual([first.ImportTaskId]);
    expect(server.calls.filter((c) => c.action === 'DescribeImportImageTasks').every((c) => c.status === 200)).toBe(true);
  });

  test('CancelImportTask moves an active task to deleting, then deleted; finished and unknown tasks cannot be cancelled', async () => {
    const client = ec2();
    const { ImportTaskId } = await client.send(new ImportImageCommand({ DiskContainers: [DISK] }));
    await describeTask(client, ImportTaskId!);
    await describeTask(client, ImportTaskId!);

    const cancelled = await client.send(new CancelImportTaskCommand({ ImportTaskId }));
    expect(cancelled).toMatchObject({ ImportTaskId, PreviousState: 'active', State: 'deleting' });
    expect(await statusesUntilDone(client, ImportTaskId!)).toEqual(['deleting/user canceled', 'deleted/user canceled']);
    const again = await failure(client.send(new CancelImportTaskCommand({ ImportTaskId })));
    expect(again.name).toBe('IncorrectState');
    expect(again.message).toBe(`The import task '${ImportTaskId}' is deleted and can no longer be canceled`);

    server.importBehaviour = { finalStatus: 'completed' };
    const finished = await client.send(new ImportImageCommand({ DiskContainers: [DISK] }));
    await statusesUntilDone(client, finished.ImportTaskId!);
    expect((await failure(client.send(new CancelImportTaskCommand({ ImportTaskId: finished.ImportTaskId })))).name).toBe('IncorrectState');

    const unknown = await failure(client.send(new CancelImportTaskCommand({ ImportTaskId: 'import-ami-0123456789abcdef0' })));
    expect(unknown.name).toBe('InvalidConversionTaskId.Malformed');
  });

  test('expireImportTask makes DescribeImportImageTasks forget a task; tasks are regional', async () => {
    const client = ec2();
    const kept = await client.send(new ImportImageCommand({ DiskContainers: [DISK] }));
    const expired = await client.send(new ImportImageCommand({ DiskContainers: [DISK] }));
    server.expireImportTask(expired.ImportTaskId!);

    const gone = await failure(client.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [expired.ImportTaskId!] })));
    expect(gone.name).toBe('InvalidConversionTaskId.Malformed');
    expect(gone.message).toBe(`The import task ID '${expired.ImportTaskId}' is malformed or does not exist`);
    const { ImportImageTasks } = await client.send(new DescribeImportImageTasksCommand({}));
    expect(ImportImageTasks!.map((task) => task.ImportTaskId)).toEqual([kept.ImportTaskId]);
    expect(() => server.expireImportTask(expired.ImportTaskId!)).toThrow(/No import task/);
    expect((await failure(ec2('eu-west-1').send(new DescribeImportImageTasksCommand({ ImportTaskIds: [kept.ImportTaskId!] })))).name)
      .toBe('InvalidConversionTaskId.Malformed');
  });

  test('imports from an EBS snapshot (its size), encrypted, as Windows; validates disk containers and enums', async () => {
    const client = ec2();
    const snapshotId = server.addSnapshot({ region: 'us-east-1', sizeGiB: 30 });
    server.importBehaviour = { finalStatus: 'completed', pollsPerStep: 1 };
    const { ImportTaskId } = await client.send(new ImportImageCommand({
      DiskContainers: [{ SnapshotId: snapshotId }, { Format: 'raw', Url: 's3://vm-uploads/data.raw' }],
      Platform: 'Windows',
      BootMode: 'uefi',
      Encrypted: true,
      KmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/abcd',
    }));
    await statusesUntilDone(client, ImportTaskId!);
    const done = await describeTask(client, ImportTaskId!);
    expect(done).toMatchObject({ Platform: 'Windows', LicenseType: 'AWS', BootMode: 'uefi', Encrypted: true });
    expect(done.SnapshotDetails!.map((d) => [d.DeviceName, d.DiskImageSize, d.Url])).toEqual([
      ['/dev/sda1', 30 * 1024 ** 3, undefined],
      ['/dev/sdb', 8 * 1024 ** 3, 's3://vm-uploads/data.raw'],
    ]);
    const image = await describeImage(client, done.ImageId!);
    expect(image).toMatchObject({ Platform: 'windows', PlatformDetails: 'Windows', BootMode: 'uefi' });
    expect(image.BlockDeviceMappings!.map((m) => [m.DeviceName, m.Ebs!.VolumeSize, m.Ebs!.Encrypted])).toEqual([
      ['/dev/sda1', 30, true],
      ['/dev/sdb', 8, true],
    ]);

    const start = (input: ImportImageCommandInput) => failure(client.send(new ImportImageCommand(input)));
    expect((await start({})).name).toBe('MissingParameter');
    expect((await start({ DiskContainers: [{ Format: 'ISO', Url: 's3://b/k.iso' }] })).name).toBe('InvalidParameterValue');
    expect((await start({ DiskContainers: [{ Format: 'VMDK' }] })).name).toBe('InvalidParameterValue');
    expect((await start({ DiskContainers: [{ Url: 's3://b/k.vmdk' }] })).name).toBe('MissingParameter');
    expect((await start({ DiskContainers: [DISK], BootMode: 'uefi-preferred' })).name).toBe('InvalidParameterValue');
    expect((await start({ DiskContainers: [{ SnapshotId: 'snap-0123456789abcdef0' }] })).name).toBe('InvalidSnapshot.NotFound');
    const wrongType = await start({ DiskContainers: [DISK], TagSpecifications: [{ ResourceType: 'image', Tags: [{ Key: 'a', Value: 'b' }] }] });
    expect(wrongType.name).toBe('InvalidParameterValue');
    expect(server.importTasks('us-east-1')).toHaveLength(1);
  });
});

describe('EC2 Fast Launch', () => {
  async function windowsImage(client: EC2Client): Promise<string> {
    const instanceId = server.addInstance({ region: 'us-east-1', platform: 'windows' });
    const { ImageId } = await client.send(new CreateImageCommand({ InstanceId: instanceId, Name: 'windows' }));
    await pollUntilSettled(client, ImageId!);
    return ImageId!;
  }
  const describeFastLaunch = async (client: EC2Client, imageId: string) =>
    (await client.send(new DescribeFastLaunchImagesCommand({ ImageIds: [imageId] }))).FastLaunchImages ?? [];

  test('EnableFastLaunch starts enabling; DescribeFastLaunchImages advances it to enabled; the settings can change; DisableFastLaunch removes it after disabling', async () => {
    const client = ec2();
    const imageId = await windowsImage(client);
    const templateId = server.addLaunchTemplate({ region: 'us-east-1', imageId: 'ami-0123456789abcdef0' });
    expect(await describeFastLaunch(client, imageId)).toEqual([]);

    const enabled = await client.send(new EnableFastLaunchCommand({
      ImageId: imageId,
      ResourceType: 'snapshot',
      SnapshotConfiguration: { TargetResourceCount: 10 },
      MaxParallelLaunches: 8,
      LaunchTemplate: { LaunchTemplateId: templateId, Version: '3' },
    }));
    expect(enabled).toMatchObject({
      ImageId: imageId,
      ResourceType: 'snapshot',
      SnapshotConfiguration: { TargetResourceCount: 10 },
      MaxParallelLaunches: 8,
      LaunchTemplate: { LaunchTemplateId: templateId, Version: '3' },
      OwnerId: '123456789012',
      State: 'enabling',
    });
    expect((await describeFastLaunch(client, imageId)).map((i) => i.State)).toEqual(['enabling']);
    expect((await describeFastLaunch(client, imageId))[0]).toMatchObject({ State: 'enabled', StateTransitionTime: expect.any(Date) });

    await client.send(new EnableFastLaunchCommand({ ImageId: imageId, MaxParallelLaunches: 12 }));
    expect((await describeFastLaunch(client, imageId))[0]).toMatchObject({ State: 'enabling', MaxParallelLaunches: 12, SnapshotConfiguration: { TargetResourceCount: 5 } });
    expect((await describeFastLaunch(client, imageId))[0].LaunchTemplate).toBeUndefined();

    const disabled = await client.send(new DisableFastLaunchCommand({ ImageId: imageId }));
    expect(disabled.State).toBe('disabling');
    const again = await failure(client.send(new EnableFastLaunchCommand({ ImageId: imageId })));
    expect(again.name).toBe('IncorrectState');
    expect((await describeFastLaunch(client, imageId)).map((i) => i.State)).toEqual(['disabling']);
    expect(await describeFastLaunch(client, imageId)).toEqual([]);
    const notEnabled = await failure(client.send(new DisableFastLaunchCommand({ ImageId: imageId })));
    expect(notEnabled.name).toBe('InvalidParameter');
  });

  test('EnableFastLaunch refuses what the API reference rules out: Linux images, fewer than 6 parallel launches, a template by ID and name or without version', async () => {
    const client = ec2();
    const linux = await createImage(client, 'us-east-1', 'linux');
    await pollUntilSettled(client, linux);
    expect((await failure(client.send(new EnableFastLaunchCommand({ ImageId: linux })))).name).toBe('InvalidParameter');
    const windows = await windowsImage(client);
    expect((await failure(client.send(new EnableFastLaunchCommand({ ImageId: windows, MaxParallelLaunches: 5 })))).name).toBe('InvalidParameterValue');
    expect((await failure(client.send(new EnableFastLaunchCommand({ ImageId: windows, ResourceType: 'instance' })))).name).toBe('InvalidParameterValue');
    expect((await failure(client.send(new EnableFastLaunchCommand({
      ImageId: windows, LaunchTemplate: { LaunchTemplateId: 'lt-0123456789abcdef0', LaunchTemplateName: 'x', Version: '1' },
    })))).name).toBe('InvalidParameterCombination');
    expect((await failure(client.send(new EnableFastLaunchCommand({
      ImageId: windows, LaunchTemplate: { LaunchTemplateId: 'lt-0123456789abcdef0', Version: '1' },
    })))).name).toBe('InvalidLaunchTemplateId.NotFound');
    expect((await failure(client.send(new EnableFastLaunchCommand({ ImageId: 'ami-0123456789abcdef0' })))).name).toBe('InvalidAMIID.NotFound');
    expect(await describeFastLaunch(client, windows)).toEqual([]);
  });

  test('a scripted failure ends enabling in enabling-failed with its reason', async () => {
    const client = ec2();
    const imageId = await windowsImage(client);
    server.fastLaunchBehaviour({ transitionPolls: 0, failReason: 'Client.InvalidVpc - no default VPC' });
    await client.send(new EnableFastLaunchCommand({ ImageId: imageId }));
    expect((await describeFastLaunch(client, imageId))[0]).toMatchObject({ State: 'enabling-failed', StateTransitionReason: 'Client.InvalidVpc - no default VPC' });
  });
});

describe('faults and retries', () => {
  test('throttling is answered like EC2 (503 RequestLimitExceeded), classified as THROTTLING and retried', async () => {
    const retry = fastRetryStrategy(3);
    const client = ec2('us-east-1', retry);
    server.injectFault({ action: 'DescribeImages', times: 2, kind: 'throttle' });

    const { Images } = await client.send(new DescribeImagesCommand({ Owners: ['self'] }));
    expect(Images).toEqual([]);
    expect(retry.errorTypes).toEqual(['THROTTLING', 'THROTTLING']);
    expect(server.calls.map((c) => [c.action, c.status, c.code, c.attempt])).toEqual([
      ['DescribeImages', 503, 'RequestLimitExceeded', 1],
      ['DescribeImages', 503, 'RequestLimitExceeded', 2],
      ['DescribeImages', 200, undefined, 3],
    ]);
  });

  test('a fault lasting beyond the retry budget surfaces as the service error', async () => {
    const client = ec2('us-east-1', fastRetryStrategy(3));
    server.injectFault({ times: 5, kind: 'throttle' });

    const error = await failure(client.send(new DescribeImagesCommand({})));
    expect(error.name).toBe('RequestLimitExceeded');
    expect(error.$metadata.httpStatusCode).toBe(503);
    expect(error.$metadata.attempts).toBe(3);
    expect(server.callCount('DescribeImages')).toBe(3);
  });

  test("the SDK's own standard retry strategy retries 5xx faults", async () => {
    const client = new EC2Client({ region: 'us-east-1', endpoint: server.url, credentials: CREDENTIALS, maxAttempts: 3 });
    server.injectFault({ action: 'DescribeImages', times: 1, kind: 'http500' });
    server.injectFault({ action: 'DescribeImages', times: 1, kind: 'http503' });

    const output = await client.send(new DescribeImagesCommand({}));
    expect(output.$metadata.attempts).toBe(3);
    expect(server.calls.map((c) => c.code)).toEqual(['InternalError', 'Unavailable', undefined]);
  });

  test('throttleRate throttles the same calls for the same seed', async () => {
    const throttledCalls = async (seed: number): Promise<boolean[]> => {
      server.reset();
      server.throttleRate(0.3, seed);
      const client = ec2('us-east-1', fastRetryStrategy(10));
      for (let i = 0; i < 10; i++) await client.send(new DescribeImagesCommand({}));
      return server.calls.map((c) => c.status === 503);
    };

    const first = await throttledCalls(42);
    expect(await throttledCalls(42)).toEqual(first);
    expect(first.filter(Boolean).length).toBeGreaterThan(0);
    expect(first.filter((throttled) => !throttled)).toHaveLength(10);
  });

  test('capacity is answered like EC2 (400 ResourceLimitExceeded), a client error the SDK does not retry', async () => {
    const retry = fastRetryStrategy(3);
    server.injectFault({ action: 'CreateImage', times: 1, kind: 'capacity' });
    const error = await failure(ec2('us-east-1', retry).send(new CreateImageCommand({ InstanceId: server.addInstance({ region: 'us-east-1' }), Name: 'n' })));
    expect(error.name).toBe('ResourceLimitExceeded');
    expect(error.$metadata.httpStatusCode).toBe(400);
    expect(retry.errorTypes).toEqual(['CLIENT_ERROR']);
    expect(server.callCount('CreateImage')).toBe(1);
  });

  test('unauthorized is answered like EC2 when IAM denies a call (403 UnauthorizedOperation), a client error the SDK does not retry', async () => {
    const retry = fastRetryStrategy(3);
    server.injectFault({ action: 'CreateTags', times: 1, kind: 'unauthorized' });
    const error = await failure(ec2('us-east-1', retry).send(new CreateTagsCommand({ Resources: [server.addSnapshot({ region: 'us-east-1' })], Tags: [{ Key: 'k', Value: 'v' }] })));
    expect(error.name).toBe('UnauthorizedOperation');
    expect(error.$metadata.httpStatusCode).toBe(403);
    expect(retry.errorTypes).toEqual(['CLIENT_ERROR']);
    expect(server.callCount('CreateTags')).toBe(1);
  });

  test('a proxy502 is an HTML page with status 502, which the SDK retries and then cannot parse', async () => {
    const retry = fastRetryStrategy(2);
    // One for the raw request below, two for the SDK's attempts.
    server.injectFault({ action: 'DescribeImages', times: 3, kind: 'proxy502' });
    const response = await fetch(`${server.url}/`, {
      method: 'POST',
      headers: { 'Authorization': 'AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/ec2/aws4_request', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'Action=DescribeImages&Version=2016-11-15',
    });
    expect(response.status).toBe(502);
    expect(response.headers.get('content-type')).toBe('text/html');
    expect(response.headers.get('x-amzn-requestid')).toBeNull();
    expect(await response.text()).toMatch(/<title>502 Bad Gateway<\/title>/);

    const error = await failure(ec2('us-east-1', retry).send(new DescribeImagesCommand({})));
    // Both attempts are classified TRANSIENT (5xx); the second exhausts the budget.
    expect(retry.errorTypes).toEqual(['TRANSIENT', 'TRANSIENT']);
    expect(error.$metadata.httpStatusCode).toBe(502);
    expect(error.name).not.toMatch(/\./);
  });

  test('an action the endpoint does not implement is InvalidAction', async () => {
    const error = await failure(ec2().send(new DescribeVolumesCommand({})));
    expect(error.name).toBe('InvalidAction');
    expect(error.$metadata.httpStatusCode).toBe(400);
  });
});

describe('CloudFormation DescribeStacks', () => {
  test('reports the scripted status by name and by ID; unknown stacks are a ValidationError', async () => {
    const client = new CloudFormationClient({ region: 'eu-west-1', endpoint: server.url, credentials: CREDENTIALS });
    const stackId = server.setStackStatus('ami-pipeline', 'CREATE_IN_PROGRESS', 'eu-west-1');
    server.setStackStatus(stackId, 'CREATE_COMPLETE');

    const byName = await client.send(new DescribeStacksCommand({ StackName: 'ami-pipeline' }));
    expect(byName.Stacks).toHaveLength(1);
    expect(byName.Stacks![0]).toMatchObject({ StackId: stackId, StackName: 'ami-pipeline', StackStatus: 'CREATE_COMPLETE' });
    expect(byName.Stacks![0].CreationTime).toBeInstanceOf(Date);
    const byId = await client.send(new DescribeStacksCommand({ StackName: stackId }));
    expect(byId.Stacks![0].StackName).toBe('ami-pipeline');

    const missing = await failure(client.send(new DescribeStacksCommand({ StackName: 'nope' })));
    expect(missing.name).toBe('ValidationError');
    expect(missing.message).toBe('Stack with id nope does not exist');
    expect(server.calls.at(-1)).toMatchObject({ service: 'cloudformation', action: 'DescribeStacks', region: 'eu-west-1', status: 400 });
  });
});

describe('withEndpointEnv', () => {
  test('clients built without endpoint options reach the local endpoint', async () => {
    const restore = withEndpointEnv(server.url);
    try {
      server.setStackStatus('env-stack', 'UPDATE_COMPLETE');
      const instanceId = server.addInstance({ region: 'us-east-1' });

      const { Reservations } = await new EC2Client({}).send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
      expect(Reservations![0].Instances![0].InstanceId).toBe(instanceId);
      const { Stacks } = await new CloudFormationClient({}).send(new DescribeStacksCommand({ StackName: 'env-stack' }));
      expect(Stacks![0].StackStatus).toBe('UPDATE_COMPLETE');
    } finally {
      restore();
    }
  });
});
