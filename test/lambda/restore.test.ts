import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import {
  CreateRestoreImageTaskCommand, DescribeImagesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { CREATE_REQUEST, awsError, captureLogs, createEvent, expectOneLine, ownedImage, ownershipTagsFor } from './helpers';
import { onEvent } from '../../lambda';

const ec2Mock = mockClient(EC2Client);
const cfnMock = mockClient(CloudFormationClient);
captureLogs();
const RESTORED = 'Custom::RestoredAmi';
const OURS = [{ Key: 'team', Value: 'infra' }, ...ownershipTagsFor(CREATE_REQUEST)];

beforeEach(() => {
  ec2Mock.reset();
  cfnMock.reset();
  ec2Mock.on(DescribeImagesCommand).resolves({ Images: [] });
});

const restoreProps = (extra: Record<string, unknown> = {}) => ({
  Region: 'us-east-1',
  NamePrefix: 'Stack/Restored',
  Bucket: 'stored-amis',
  ObjectKey: 'ami-0aaaaaaaaaaaaaaa0.bin',
  RemovalPolicy: 'retain',
  Tags: [{ Key: 'team', Value: 'infra' }],
  ...extra,
});

async function failure(promise: Promise<unknown>): Promise<Error> {
  const err = await promise.then(() => undefined, (e: Error) => e);
  expectOneLine(err!);
  return err!;
}

describe('Custom::RestoredAmi', () => {
  test('restores under an explicit unique name with image and snapshot tags', async () => {
    ec2Mock.on(CreateRestoreImageTaskCommand).resolves({ ImageId: 'ami-0bbbbbbbbbbbbbbb0' });
    const out = await onEvent(createEvent(RESTORED, restoreProps()));
    expect(out.PhysicalResourceId).toBe('ami-0bbbbbbbbbbbbbbb0');
    const input = ec2Mock.commandCalls(CreateRestoreImageTaskCommand)[0].args[0].input;
    expect(input).toMatchObject({ Bucket: 'stored-amis', ObjectKey: 'ami-0aaaaaaaaaaaaaaa0.bin' });
    expect(input.Name).toMatch(/^Stack\/Restored-[0-9a-f]{12}$/);
    expect(input.TagSpecifications).toEqual([{ ResourceType: 'image', Tags: OURS }, { ResourceType: 'snapshot', Tags: OURS }]);
  });

  test('a retried request adopts its image instead of restoring twice', async () => {
    const event = createEvent(RESTORED, restoreProps());
    ec2Mock.on(DescribeImagesCommand).callsFake(async (input) => ({
      Images: [ownedImage({ ImageId: 'ami-0ccccccccccccccc0', Name: input.Filters[0].Values[0] })],
    }));
    expect((await onEvent(event)).PhysicalResourceId).toBe('ami-0ccccccccccccccc0');
    expect(ec2Mock).not.toHaveReceivedCommand(CreateRestoreImageTaskCommand);
  });

  test.each([
    ['InvalidParameterValue', /^Cannot restore an image from s3:\/\/stored-amis\/ami-0aaaaaaaaaaaaaaa0\.bin in us-east-1: .*The object must be one that CreateStoreImageTask wrote/],
    ['InvalidAMIName.Duplicate', /^Image name "restored" is already used in us-east-1/],
    ['InvalidAMIName.Malformed', /^Image name "restored" is not valid/],
    ['UnauthorizedOperation', /^CreateRestoreImageTask from s3:\/\/stored-amis\/ami-0aaaaaaaaaaaaaaa0\.bin in us-east-1 failed: UnauthorizedOperation/],
  ])('%s becomes one sentence', async (code, message) => {
    ec2Mock.on(CreateRestoreImageTaskCommand).rejects(awsError(code));
    expect((await failure(onEvent(createEvent(RESTORED, restoreProps({ ImageName: 'restored' }))))).message).toMatch(message);
  });
});
