import { CreateImageCommand, DescribeImagesCommand, DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  CREATE_REQUEST, FROM_INSTANCE, INSTANCE_ID, REGION, awsError, awsServerError, captureLogs, createEvent, expectOneLine, foreignImage,
  fromInstanceProps, hash, ownedImage, ownershipTagsFor, recordSleeps, rejectionOf, reservationOf,
} from './helpers';
import { onEvent } from '../../lambda/index';
import { GeneratedNames } from '../../src/private/contract';

const ec2Mock = mockClient(EC2Client);
const logs = captureLogs();
const slept = recordSleeps();

/** The name the handler gives an image when the user gives none. */
const DEFAULT_NAME = `Stack/Golden-${hash(CREATE_REQUEST).slice(0, 12)}`;

beforeEach(() => {
  ec2Mock.reset();
  // No image holds the name yet, unless a test says otherwise.
  ec2Mock.on(DescribeImagesCommand).resolves({ Images: [] });
  ec2Mock.on(CreateImageCommand).resolves({ ImageId: 'ami-0new0000000000000' });
});

function create(overrides: Record<string, unknown> = {}) {
  return onEvent(createEvent(FROM_INSTANCE, fromInstanceProps(overrides)));
}

describe('Create: CreateImage request', () => {
  test('starts CreateImage with a unique name, reboot, and tags on image and snapshots', async () => {
    const result = await create();

    expect(result).toEqual({ PhysicalResourceId: 'ami-0new0000000000000' });
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeImagesCommand, {
      Owners: ['self'],
      Filters: [{ Name: 'name', Values: [DEFAULT_NAME] }],
    });
    expect(ec2Mock).toHaveReceivedCommandTimes(CreateImageCommand, 1);
    const input = ec2Mock.commandCalls(CreateImageCommand)[0].args[0].input;
    const tags = [{ Key: 'team', Value: 'infra' }, ...ownershipTagsFor(CREATE_REQUEST)];
    expect(input).toEqual({
      InstanceId: INSTANCE_ID,
      Name: DEFAULT_NAME,
      NoReboot: false,
      TagSpecifications: [
        { ResourceType: 'image', Tags: tags },
        { ResourceType: 'snapshot', Tags: tags },
      ],
    });
    expect(input.BlockDeviceMappings).toBeUndefined();
    expect(input.Description).toBeUndefined();
    expect(ec2Mock).not.toHaveReceivedCommand(DescribeInstancesCommand);
    expect(logs.find('CreateImage started')).toEqual([expect.objectContaining({
      imageId: 'ami-0new0000000000000', imageName: DEFAULT_NAME, region: REGION,
    })]);
  });

  test('the ownership tags are the stack ID, a hash of stack and logical ID, and a hash of the request', async () => {
    await create({ Tags: undefined });
    const tags = ec2Mock.commandCalls(CreateImageCommand)[0].args[0].input.TagSpecifications![0].Tags;
    expect(tags).toEqual([
      { Key: 'cdk-ami:stack', Value: 'arn:aws:cloudformation:us-east-1:123456789012:stack/S/uuid' },
      { Key: 'cdk-ami:owner', Value: hash('arn:aws:cloudformation:us-east-1:123456789012:stack/S/uuid/GoldenResource') },
      { Key: 'cdk-ami:request', Value: hash('create-request-0001') },
    ]);
  });

  test('uses the given name, description and NoReboot', async () => {
    await create({ ImageName: 'golden-2024', Description: 'Golden image', NoReboot: 'true' });

    expect(ec2Mock).toHaveReceivedCommandWith(DescribeImagesCommand, { Filters: [{ Name: 'name', Values: ['golden-2024'] }] });
    expect(ec2Mock).toHaveReceivedCommandWith(CreateImageCommand, {
      InstanceId: INSTANCE_ID,
      Name: 'golden-2024',
      Description: 'Golden image',
      NoReboot: true,
    });
  });

  test('a user tag never overrides a cdk-ami: tag', async () => {
    await create({
      Tags: [
        { Key: 'cdk-ami:owner', Value: 'someone-else' },
        { Key: 'cdk-ami:stack', Value: 'arn:other' },
        { Key: 'env', Value: 'prod' },
        { Key: 'empty' },
      ],
    });

    for (const spec of ec2Mock.commandCalls(CreateImageCommand)[0].args[0].input.TagSpecifications!) {
      expect(spec.Tags).toEqual([
        { Key: 'env', Value: 'prod' },
        { Key: 'empty', Value: '' },
        ...ownershipTagsFor(CREATE_REQUEST),
      ]);
    }
  });

  test('the default name keeps at most the contract\'s 100 characters of the prefix (what a construct renders) and adds a 12-character suffix', async () => {
    expect(GeneratedNames).toEqual({ MAX_PREFIX_LENGTH: 100, HASH_LENGTH: 12 });
    const longPrefix = 'P'.repeat(120);
    await create({ NamePrefix: longPrefix });
    const name = ec2Mock.commandCalls(CreateImageCommand)[0].args[0].input.Name!;
    expect(name).toBe(`${'P'.repeat(100)}-${hash(CREATE_REQUEST).slice(0, 12)}`);
    expect(name.length).toBeLessThanOrEqual(128);
  });

  test('an image with a similar name (the filter matched something else) does not block the create', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [foreignImage({ Name: `${DEFAULT_NAME}-other` })] });
    await expect(create()).resolves.toEqual({ PhysicalResourceId: 'ami-0new0000000000000' });
  });

  test('DescribeImages without an Images list counts as no image', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({});
    await expect(create()).resolves.toEqual({ PhysicalResourceId: 'ami-0new0000000000000' });
  });
});

describe('Create: IncludeDataVolumes=false', () => {
  test('maps every device but the root to NoDevice', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves(reservationOf({
      InstanceId: INSTANCE_ID,
      RootDeviceName: '/dev/xvda',
      BlockDeviceMappings: [
        { DeviceName: '/dev/xvda', Ebs: { VolumeId: 'vol-root' } },
        { DeviceName: '/dev/sdb', Ebs: { VolumeId: 'vol-data1' } },
        { Ebs: { VolumeId: 'vol-unnamed' } },
        { DeviceName: '/dev/sdc', Ebs: { VolumeId: 'vol-data2' } },
      ],
    }));

    await create({ IncludeDataVolumes: 'false' });

    expect(ec2Mock).toHaveReceivedCommandWith(DescribeInstancesCommand, { InstanceIds: [INSTANCE_ID] });
    expect(ec2Mock).toHaveReceivedCommandWith(CreateImageCommand, {
      BlockDeviceMappings: [
        { DeviceName: '/dev/sdb', NoDevice: '' },
        { DeviceName: '/dev/sdc', NoDevice: '' },
      ],
    });
  });

  test('BlockDevices as CloudFormation passes them (strings) become EBS changes and NoDevice, overriding the left-out mapping', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves(reservationOf({
      InstanceId: INSTANCE_ID,
      RootDeviceName: '/dev/xvda',
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda' }, { DeviceName: '/dev/sdb' }, { DeviceName: '/dev/sdc' }],
    }));
    await create({
      IncludeDataVolumes: 'false',
      BlockDevices: [
        { DeviceName: '/dev/xvda', VolumeSize: '30', VolumeType: 'gp3', Iops: '6000', Throughput: '500', DeleteOnTermination: 'false' },
        { DeviceName: '/dev/sdb', VolumeSize: '40' },
      ],
    });
    expect(ec2Mock).toHaveReceivedCommandWith(CreateImageCommand, {
      BlockDeviceMappings: [
        { DeviceName: '/dev/sdc', NoDevice: '' },
        { DeviceName: '/dev/xvda', Ebs: { VolumeSize: 30, VolumeType: 'gp3', Iops: 6000, Throughput: 500, DeleteOnTermination: false } },
        { DeviceName: '/dev/sdb', Ebs: { VolumeSize: 40 } },
      ],
    });
  });

  test('an instance with only its root volume gets no NoDevice mappings', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves(reservationOf({ InstanceId: INSTANCE_ID, RootDeviceName: '/dev/xvda' }));
    await create({ IncludeDataVolumes: 'false' });
    expect(ec2Mock).toHaveReceivedCommandWith(CreateImageCommand, { BlockDeviceMappings: [] });
  });

  test.each([
    ['no reservation', {}],
    ['an empty reservation', { Reservations: [{}] }],
  ])('DescribeInstances with %s: the instance does not exist', async (_, output) => {
    ec2Mock.on(DescribeInstancesCommand).resolves(output);
    const err = await rejectionOf(create({ IncludeDataVolumes: 'false' }));
    expect(err.message).toBe(`Instance ${INSTANCE_ID} does not exist in us-east-1.`);
    expectOneLine(err);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateImageCommand);
  });

  test('InvalidInstanceID.NotFound: the instance does not exist', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejects(awsError('InvalidInstanceID.NotFound'));
    const err = await rejectionOf(create({ IncludeDataVolumes: 'false' }));
    expect(err.message).toBe('Instance i-0abc1234567890def does not exist in us-east-1.');
    expectOneLine(err);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateImageCommand);
  });

  test('InvalidInstanceID.Malformed: says what an instance ID looks like', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejects(awsError('InvalidInstanceID.Malformed'));
    const err = await rejectionOf(create({ IncludeDataVolumes: 'false', InstanceId: 'i-xyz' }));
    expect(err.message).toBe('Instance ID "i-xyz" is malformed: instance IDs look like i-0123456789abcdef0.');
  });

  test('any other error reading the instance names the call and EC2\'s code', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejects(awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.'));
    const err = await rejectionOf(create({ IncludeDataVolumes: 'false' }));
    expect(err.message).toBe(
      `Reading instance ${INSTANCE_ID} in us-east-1 failed: UnauthorizedOperation: You are not authorized to perform this operation.`,
    );
    expectOneLine(err);
  });
});

describe('Create: idempotency by name and ownership tags', () => {
  test('a retried request adopts the image it already started instead of calling CreateImage', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [ownedImage({ ImageId: 'ami-0started000000000', Name: DEFAULT_NAME, State: 'pending' })] });

    await expect(create()).resolves.toEqual({ PhysicalResourceId: 'ami-0started000000000' });

    expect(ec2Mock).not.toHaveReceivedCommand(CreateImageCommand);
    expect(logs.find('adopting the image this request already started')).toEqual([
      expect.objectContaining({ imageId: 'ami-0started000000000', imageName: DEFAULT_NAME }),
    ]);
  });

  test('a name taken by an earlier, retained image of this resource is an error that says so', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [ownedImage({ ImageId: 'ami-0old0000000000000', Name: 'golden' }, 'an-earlier-request')] });

    const err = await rejectionOf(create({ ImageName: 'golden' }));

    expect(err.message).toBe(
      'Image name "golden" is already used in us-east-1 by ami-0old0000000000000, an earlier image of this resource that was kept (removalPolicy RETAIN). Give the new image another imageName, or omit imageName to get a unique one.',
    );
    expectOneLine(err);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateImageCommand);
  });

  test('a name taken by an image this resource did not create is an error that says so', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [foreignImage({ Name: 'golden' })] });

    const err = await rejectionOf(create({ ImageName: 'golden' }));

    expect(err.message).toBe(
      'Image name "golden" is already used in us-east-1 by ami-0fffffffffffffff0, which this resource did not create. Choose another imageName, or omit it to get a unique one.',
    );
    expect(ec2Mock).not.toHaveReceivedCommand(CreateImageCommand);
  });

  test('an untagged image with the name is not ours', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-0untagged00000000', Name: 'golden' }] });
    const err = await rejectionOf(create({ ImageName: 'golden' }));
    expect(err.message).toContain('which this resource did not create');
  });

  test('an image of this resource with the same owner but another request tag is not adopted', async () => {
    const image = ownedImage({ Name: 'golden' });
    image.Tags = image.Tags!.map((t) => (t.Key === 'cdk-ami:request' ? { ...t, Value: 'other' } : t));
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [image] });
    await expect(create({ ImageName: 'golden' })).rejects.toThrow('an earlier image of this resource that was kept');
  });

  describe('a CreateImage whose every answer was a 5xx (EC2 may have started the image)', () => {
    beforeEach(() => {
      ec2Mock.on(CreateImageCommand).rejects(awsServerError());
    });

    test('adopts the image it started, found by its name and this request\'s tags', async () => {
      ec2Mock.on(DescribeImagesCommand)
        .resolvesOnce({ Images: [] })
        .resolves({ Images: [ownedImage({ ImageId: 'ami-0started000000000', Name: DEFAULT_NAME, State: 'pending' })] });
      await expect(create()).resolves.toEqual({ PhysicalResourceId: 'ami-0started000000000' });
      expect(ec2Mock).toHaveReceivedCommandTimes(CreateImageCommand, 1);
    });

    test('an image that DescribeImages shows only seconds later (eventual consistency) is still adopted', async () => {
      ec2Mock.on(DescribeImagesCommand)
        .resolvesOnce({ Images: [] })
        .resolvesOnce({ Images: [] })
        .resolvesOnce({ Images: [] })
        .resolves({ Images: [ownedImage({ ImageId: 'ami-0started000000000', Name: DEFAULT_NAME, State: 'pending' })] });
      await expect(create()).resolves.toEqual({ PhysicalResourceId: 'ami-0started000000000' });
      expect(slept).toEqual([1000, 2000]);
      expect(ec2Mock).toHaveReceivedCommandTimes(CreateImageCommand, 1);
    });

    test('with no such image after looking for some seconds, fails with the 5xx', async () => {
      const err = await rejectionOf(create());
      expect(err.message).toBe(`CreateImage of instance ${INSTANCE_ID} in us-east-1 failed: Unavailable: The service is unavailable.`);
      // One lookup before the start, then four after it, 1 + 2 + 4 s apart.
      expect(ec2Mock).toHaveReceivedCommandTimes(DescribeImagesCommand, 5);
      expect(slept).toEqual([1000, 2000, 4000]);
    });

    test('looks again only while the invocation has time to report the failure', async () => {
      const context = { getRemainingTimeInMillis: () => 22_500 };
      await expect(onEvent(createEvent(FROM_INSTANCE, fromInstanceProps()), context)).rejects.toThrow('Unavailable');
      // 20 s are kept to report the failure: room for the 1 s and 2 s waits, not the 4 s one.
      expect(slept).toEqual([1000, 2000]);
    });

    test('when EC2 cannot be asked either, fails with the 5xx and logs the name to look for', async () => {
      ec2Mock.on(DescribeImagesCommand).resolvesOnce({ Images: [] }).rejects(awsServerError());
      await expect(create()).rejects.toThrow(`CreateImage of instance ${INSTANCE_ID} in us-east-1 failed: Unavailable`);
      expect(logs.find('could not look for an image the failed start may have made; deregister it if it exists')).toEqual([
        expect.objectContaining({ imageName: DEFAULT_NAME, region: 'us-east-1' }),
      ]);
    });
  });

  describe('InvalidAMIName.Duplicate race', () => {
    beforeEach(() => {
      ec2Mock.on(CreateImageCommand).rejects(awsError('InvalidAMIName.Duplicate', 'AMI name golden is already in use by AMI ami-0x'));
    });

    test('adopts the image our own earlier attempt created meanwhile', async () => {
      ec2Mock.on(DescribeImagesCommand)
        .resolvesOnce({ Images: [] })
        .resolves({ Images: [ownedImage({ ImageId: 'ami-0raced00000000000', Name: 'golden' })] });

      await expect(create({ ImageName: 'golden' })).resolves.toEqual({ PhysicalResourceId: 'ami-0raced00000000000' });
      expect(ec2Mock).toHaveReceivedCommandTimes(DescribeImagesCommand, 2);
      expect(ec2Mock).toHaveReceivedCommandTimes(CreateImageCommand, 1);
    });

    test('a name held by someone else is reported as such', async () => {
      ec2Mock.on(DescribeImagesCommand)
        .resolvesOnce({ Images: [] })
        .resolves({ Images: [foreignImage({ Name: 'golden' })] });

      await expect(create({ ImageName: 'golden' })).rejects.toThrow(
        'Image name "golden" is already used in us-east-1 by ami-0fffffffffffffff0, which this resource did not create.',
      );
    });

    test('a holder that is not visible yet still gets a clear message', async () => {
      const err = await rejectionOf(create({ ImageName: 'golden' }));
      expect(err.message).toBe('Image name "golden" is already used in us-east-1. Choose another imageName, or omit it to get a unique one.');
      expectOneLine(err);
    });
  });
});

describe('Create: CreateImage errors in words', () => {
  test('InvalidInstanceID.NotFound', async () => {
    ec2Mock.on(CreateImageCommand).rejects(awsError('InvalidInstanceID.NotFound', "The instance ID 'i-0abc1234567890def' does not exist"));
    const err = await rejectionOf(create());
    expect(err.message).toBe('Instance i-0abc1234567890def does not exist in us-east-1.');
    expectOneLine(err);
  });

  test('IncorrectInstanceState keeps EC2\'s explanation', async () => {
    ec2Mock.on(CreateImageCommand).rejects(awsError('IncorrectInstanceState', "The instance 'i-0abc1234567890def' is not in a state from which it can be imaged."));
    const err = await rejectionOf(create());
    expect(err.message).toBe(
      "Instance i-0abc1234567890def in us-east-1 cannot be imaged in its current state: The instance 'i-0abc1234567890def' is not in a state from which it can be imaged.",
    );
  });

  test('InvalidAMIName.Malformed names the bad name', async () => {
    ec2Mock.on(CreateImageCommand).rejects(awsError('InvalidAMIName.Malformed', 'AMI names must be between 3 and 128 characters long'));
    await expect(create({ ImageName: 'x!' })).rejects.toThrow('Image name "x!" is not valid: AMI names must be between 3 and 128 characters long');
  });

  test('other service errors keep the code and message on one line', async () => {
    ec2Mock.on(CreateImageCommand).rejects(awsError('UnauthorizedOperation', 'You are not authorized.\nEncoded authorization failure message: abc'));
    const err = await rejectionOf(create());
    expect(err.message).toBe(
      'CreateImage of instance i-0abc1234567890def in us-east-1 failed: UnauthorizedOperation: You are not authorized. Encoded authorization failure message: abc',
    );
    expectOneLine(err);
  });

  test('a plain error is reported as unexpected', async () => {
    ec2Mock.on(CreateImageCommand).rejects(new Error('socket hang up'));
    await expect(create()).rejects.toThrow('CreateImage of instance i-0abc1234567890def in us-east-1 failed unexpectedly: socket hang up');
  });

  test('a non-Error rejection is reported as unexpected', async () => {
    ec2Mock.on(CreateImageCommand).callsFake(() => Promise.reject('connection reset'));
    await expect(create()).rejects.toThrow('CreateImage of instance i-0abc1234567890def in us-east-1 failed unexpectedly: connection reset');
  });
});

describe('Create: property errors', () => {
  test.each([
    ['InstanceId', { InstanceId: undefined }, 'The resource property InstanceId is required.'],
    ['Region', { Region: '' }, 'The resource property Region is required.'],
    ['NamePrefix without ImageName', { NamePrefix: undefined }, 'The resource property NamePrefix is required.'],
    ['NoReboot', { NoReboot: 'yes' }, 'The resource property NoReboot must be "true" or "false", got "yes".'],
    ['IncludeDataVolumes', { IncludeDataVolumes: 'maybe' }, 'The resource property IncludeDataVolumes must be "true" or "false", got "maybe".'],
  ])('%s', async (_, overrides, message) => {
    const err = await rejectionOf(create(overrides));
    expect(err.message).toBe(message);
    expectOneLine(err);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateImageCommand);
  });
});
