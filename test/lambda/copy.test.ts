import {
  CopyImageCommand, DescribeImageAttributeCommand, DescribeImagesCommand, DescribeSnapshotAttributeCommand, EC2Client, Image,
  ModifyImageAttributeCommand, ModifySnapshotAttributeCommand,
} from '@aws-sdk/client-ec2';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  CREATE_REQUEST, LOGICAL_ID, STACK_ID, TEAM_TAGS, awsError, awsServerError, captureLogs, createEvent, hash, oneLineFailure, ownedImage,
  ownershipTagsFor,
} from './helpers';
import { onEvent } from '../../lambda';
import { setSleep } from '../../lambda/shared/backoff';

const ec2Mock = mockClient(EC2Client);
const stsMock = mockClient(STSClient);
captureLogs();
const COPY = 'Custom::CopiedAmi';
const SOURCE = 'ami-0aaaaaaaaaaaaaaa0';

function copyProps(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Region: 'eu-west-1',
    NamePrefix: 'Stack/Copy',
    SourceImageId: SOURCE,
    SourceRegion: 'us-east-1',
    CopyImageTags: 'false',
    RemovalPolicy: 'retain',
    Tags: TEAM_TAGS,
    ...overrides,
  };
}

function source(encrypted = false): Image {
  return {
    ImageId: SOURCE,
    OwnerId: STACK_ID.split(':')[4],
    State: 'available',
    BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-1', Encrypted: encrypted } }],
  };
}

let previousSleep: ReturnType<typeof setSleep>;
beforeEach(() => {
  ec2Mock.reset();
  previousSleep = setSleep(async () => undefined);
});
afterEach(() => setSleep(previousSleep));

describe('Custom::CopiedAmi create', () => {
  test('calls CopyImage in the destination with a token from the request, tags, and the options', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [source()] });
    ec2Mock.on(CopyImageCommand).resolves({ ImageId: 'ami-0bbbbbbbbbbbbbbb0' });
    const out = await onEvent(createEvent(COPY, copyProps({
      ImageName: 'golden-eu', Encrypted: 'true', KmsKeyId: 'arn:aws:kms:eu-west-1:1:key/k', CopyImageTags: 'true', CompletionDurationMinutes: '120',
    })));
    expect(out.PhysicalResourceId).toBe('ami-0bbbbbbbbbbbbbbb0');
    expect(ec2Mock).toHaveReceivedCommandWith(CopyImageCommand, {
      SourceImageId: SOURCE,
      SourceRegion: 'us-east-1',
      Name: 'golden-eu',
      Encrypted: true,
      KmsKeyId: 'arn:aws:kms:eu-west-1:1:key/k',
      CopyImageTags: true,
      SnapshotCopyCompletionDurationMinutes: 120,
      ClientToken: hash(`${STACK_ID}/${LOGICAL_ID}/${CREATE_REQUEST}`),
      TagSpecifications: [
        { ResourceType: 'image', Tags: [{ Key: 'team', Value: 'infra' }, ...ownershipTagsFor(CREATE_REQUEST)] },
        { ResourceType: 'snapshot', Tags: [{ Key: 'team', Value: 'infra' }, ...ownershipTagsFor(CREATE_REQUEST)] },
      ],
    });
    const call = ec2Mock.commandCalls(CopyImageCommand)[0];
    expect(await call.thisValue.config.region()).toBe('eu-west-1');
  });

  test('leaves encryption to EC2 when Encrypted is not given', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [source(true)] });
    ec2Mock.on(CopyImageCommand).resolves({ ImageId: 'ami-0bbbbbbbbbbbbbbb0' });
    await onEvent(createEvent(COPY, copyProps()));
    expect(ec2Mock.commandCalls(CopyImageCommand)[0].args[0].input.Encrypted).toBeUndefined();
    expect(ec2Mock.commandCalls(CopyImageCommand)[0].args[0].input.SnapshotCopyCompletionDurationMinutes).toBeUndefined();
  });

  test('refuses an unencrypted copy of an encrypted source', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [source(true)] });
    const err = await oneLineFailure(onEvent(createEvent(COPY, copyProps({ Encrypted: 'false' }))));
    expect(err.message).toMatch(/ami-0aaaaaaaaaaaaaaa0 in us-east-1 has encrypted snapshots and EC2 cannot make an unencrypted copy of it/);
    expect(ec2Mock).not.toHaveReceivedCommand(CopyImageCommand);
  });

  test.each([
    [{ Images: [] }, /Source image ami-0aaaaaaaaaaaaaaa0 does not exist in us-east-1, or this account cannot see it; it cannot be copied to eu-west-1\./],
    [{ Images: [{ ...source(), State: 'pending' as const }] }, /Source image ami-0aaaaaaaaaaaaaaa0 in us-east-1 is pending; only available images can be copied\./],
  ])('a source that cannot be copied fails before CopyImage', async (answer, message) => {
    ec2Mock.on(DescribeImagesCommand).resolves(answer as never);
    expect((await oneLineFailure(onEvent(createEvent(COPY, copyProps())))).message).toMatch(message);
  });

  test('ResourceLimitExceeded is retried with backoff, and then succeeds', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [source()] });
    ec2Mock.on(CopyImageCommand)
      .rejectsOnce(awsError('ResourceLimitExceeded'))
      .rejectsOnce(awsError('ResourceLimitExceeded'))
      .resolves({ ImageId: 'ami-0bbbbbbbbbbbbbbb0' });
    expect((await onEvent(createEvent(COPY, copyProps()))).PhysicalResourceId).toBe('ami-0bbbbbbbbbbbbbbb0');
    expect(ec2Mock).toHaveReceivedCommandTimes(CopyImageCommand, 3);
    // Same token every time: EC2 never starts two copies.
    expect(new Set(ec2Mock.commandCalls(CopyImageCommand).map((c) => c.args[0].input.ClientToken)).size).toBe(1);
  });

  test.each([
    ['ResourceLimitExceeded', /EC2 had no capacity to start CopyImage in eu-west-1 for 280 s: too many image operations/],
    ['InvalidAMIID.NotFound', /Source image ami-0aaaaaaaaaaaaaaa0 does not exist in us-east-1, or is not visible from eu-west-1/],
    ['InvalidAMIName.Duplicate', /Image name "golden" is already used in eu-west-1\. Choose another imageName/],
    ['InvalidAMIName.Malformed', /Image name "golden" is not valid/],
    ['InvalidParameterCombination', /EC2 rejected the copy of ami-0aaaaaaaaaaaaaaa0 from us-east-1 to eu-west-1/],
    ['KMS.DisabledException', /failed on its KMS key: .*Check that the key is enabled, in eu-west-1/],
    ['InternalError', /CopyImage of ami-0aaaaaaaaaaaaaaa0 from us-east-1 to eu-west-1 failed: InternalError/],
  ])('%s becomes one sentence', async (code, message) => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [source()] });
    ec2Mock.on(CopyImageCommand).rejects(awsError(code));
    expect((await oneLineFailure(onEvent(createEvent(COPY, copyProps({ ImageName: 'golden' }))))).message).toMatch(message);
  });

  test('a CopyImage whose every answer was a 5xx adopts the copy it started, found by its name and this request\'s tags', async () => {
    ec2Mock.on(DescribeImagesCommand, { ImageIds: [SOURCE] }).resolves({ Images: [source()] });
    ec2Mock.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({ Images: [ownedImage({ ImageId: 'ami-0started000000000', Name: 'golden', State: 'pending' })] });
    ec2Mock.on(CopyImageCommand).rejects(awsServerError('InternalError', 500));
    expect((await onEvent(createEvent(COPY, copyProps({ ImageName: 'golden' })))).PhysicalResourceId).toBe('ami-0started000000000');
  });

  test('EC2\'s message ending in a full stop does not double it', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [source()] });
    ec2Mock.on(CopyImageCommand).rejects(awsError('KMS.DisabledException', 'The key is disabled.'));
    const err = await oneLineFailure(onEvent(createEvent(COPY, copyProps())));
    expect(err.message).toBe(
      'The copy of ami-0aaaaaaaaaaaaaaa0 to eu-west-1 failed on its KMS key: The key is disabled. Check that the key is enabled, in eu-west-1, and usable by the provider\'s role.',
    );
  });

  test('a source that cannot be read names the source', async () => {
    ec2Mock.on(DescribeImagesCommand).rejects(awsError('UnauthorizedOperation'));
    expect((await oneLineFailure(onEvent(createEvent(COPY, copyProps())))).message).toMatch(/Reading source image ami-0aaaaaaaaaaaaaaa0 in us-east-1 failed: UnauthorizedOperation/);
  });
});

describe('Custom::CopiedAmi owned by another account: the share of the source', () => {
  const TARGET = '444455556666';
  const crossProps = () => copyProps({ Account: TARGET, RoleArn: `arn:aws:iam::${TARGET}:role/cdk-ami-copies` });

  beforeEach(() => {
    stsMock.reset();
    stsMock.on(AssumeRoleCommand).resolves({
      Credentials: { AccessKeyId: 'ASIATARGET', SecretAccessKey: 'secret', SessionToken: 'token', Expiration: new Date(Date.now() + 3600_000) },
    });
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [source()] });
    ec2Mock.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [] });
    ec2Mock.on(DescribeSnapshotAttributeCommand).resolves({ CreateVolumePermissions: [] });
  });

  const launchRemoved = () => ec2Mock.commandCalls(ModifyImageAttributeCommand).filter((c) => c.args[0].input.LaunchPermission?.Remove);

  test('a snapshot share that answers 5xx withdraws the launch permission it added; the reason has one sentence for the 5xx', async () => {
    ec2Mock.on(ModifySnapshotAttributeCommand).rejects(awsServerError());
    const err = await oneLineFailure(onEvent(createEvent(COPY, crossProps())));
    expect(err.message).toBe(
      `Sharing source image ${SOURCE} in us-east-1 with account ${TARGET}, so that it can copy it, failed: EC2 answered HTTP 503 (Unavailable: The service is unavailable). Try the deployment again later.`,
    );
    expect(launchRemoved()).toHaveLength(1);
    expect(launchRemoved()[0].args[0].input).toEqual({ ImageId: SOURCE, LaunchPermission: { Remove: [{ UserId: TARGET }] } });
    expect(ec2Mock).not.toHaveReceivedCommand(CopyImageCommand);
  });

  test('a refused snapshot share withdraws the launch permission; the reason says it was refused and where to look', async () => {
    ec2Mock.on(ModifySnapshotAttributeCommand).rejects(awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.'));
    const err = await oneLineFailure(onEvent(createEvent(COPY, crossProps())));
    expect(err.message).toBe(
      `Sharing source image ${SOURCE} in us-east-1 with account ${TARGET}, so that it can copy it, was refused: UnauthorizedOperation: You are not authorized to perform this operation. Check the policies that apply to the provider's role (service control policies, permissions boundaries).`,
    );
    expect(launchRemoved()).toHaveLength(1);
  });

  test('a launch permission the source already gave is not withdrawn', async () => {
    ec2Mock.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [{ UserId: TARGET }] });
    ec2Mock.on(ModifySnapshotAttributeCommand).rejects(awsServerError());
    await oneLineFailure(onEvent(createEvent(COPY, crossProps())));
    expect(ec2Mock).not.toHaveReceivedCommand(ModifyImageAttributeCommand);
  });

  test('when the withdrawal fails too, the reason says what to remove by hand', async () => {
    ec2Mock.on(ModifySnapshotAttributeCommand).rejects(awsServerError());
    ec2Mock.on(ModifyImageAttributeCommand, { LaunchPermission: { Remove: [{ UserId: TARGET }] } }).rejects(awsServerError());
    const err = await oneLineFailure(onEvent(createEvent(COPY, crossProps())));
    expect(err.message).toMatch(new RegExp(`Try the deployment again later\\. Withdrawing what it had shared failed too \\(The service is unavailable\\): remove account ${TARGET} from the launch permission of image ${SOURCE} by hand\\.$`));
  });

  test('a source of another account cannot be shared: one sentence, before any change', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [{ ...source(), OwnerId: '999988887777' }] });
    const err = await oneLineFailure(onEvent(createEvent(COPY, crossProps())));
    expect(err.message).toBe(
      `Source image ${SOURCE} in us-east-1 belongs to account 999988887777, so this stack's account 123456789012 cannot share it with account ${TARGET} for the copy. Copy it into this account first (a CopiedAmi without account), and copy that copy.`,
    );
    expect(ec2Mock).not.toHaveReceivedCommand(ModifyImageAttributeCommand);
  });
});
