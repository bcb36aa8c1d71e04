import { CopyImageCommand, DescribeImagesCommand, EC2Client, Image } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { CREATE_REQUEST, LOGICAL_ID, STACK_ID, TEAM_TAGS, awsError, captureLogs, createEvent, hash, oneLineFailure, ownershipTagsFor } from './helpers';
import { onEvent } from '../../lambda';
import { setSleep } from '../../lambda/shared/backoff';

const ec2Mock = mockClient(EC2Client);
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
  return { ImageId: SOURCE, State: 'available', BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-1', Encrypted: encrypted } }] };
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

  test('a source that cannot be read names the source', async () => {
    ec2Mock.on(DescribeImagesCommand).rejects(awsError('UnauthorizedOperation'));
    expect((await oneLineFailure(onEvent(createEvent(COPY, copyProps())))).message).toMatch(/Reading source image ami-0aaaaaaaaaaaaaaa0 in us-east-1 failed: UnauthorizedOperation/);
  });
});
