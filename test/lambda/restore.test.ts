import {
  CreateRestoreImageTaskCommand, DescribeImagesCommand,
} from '@aws-sdk/client-ec2';
import 'aws-sdk-client-mock-jest';
import { awsError, captureLogs, createEvent, imageProps, ownedImage, ownTags, mockedClients, oneLineFailure, recordSleeps } from './helpers';
import { onEvent } from '../../lambda';

const { ec2Mock } = mockedClients({ images: [] });
captureLogs();
// A taken name is looked up again for some seconds; no test waits for them.
recordSleeps();
const RESTORED = 'Custom::RestoredAmi';
const OURS = ownTags();

const restoreProps = (extra: Record<string, unknown> = {}) => imageProps('Stack/Restored', {
  Bucket: 'stored-amis', ObjectKey: 'ami-0aaaaaaaaaaaaaaa0.bin', RemovalPolicy: 'retain',
}, extra);

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
    expect((await oneLineFailure(onEvent(createEvent(RESTORED, restoreProps({ ImageName: 'restored' }))))).message).toMatch(message);
  });

  test.each(['The object is not a stored AMI.', 'The object is not a stored AMI'])('EC2\'s message "%s" ends its clause with one full stop', async (ec2Message) => {
    ec2Mock.on(CreateRestoreImageTaskCommand).rejects(awsError('InvalidParameterValue', ec2Message));
    expect((await oneLineFailure(onEvent(createEvent(RESTORED, restoreProps()))))).toHaveProperty('message',
      'Cannot restore an image from s3://stored-amis/ami-0aaaaaaaaaaaaaaa0.bin in us-east-1: The object is not a stored AMI. The object must be one that CreateStoreImageTask wrote, in a bucket of this Region that the provider can read.');
  });
});
