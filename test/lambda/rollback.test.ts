/**
 * A rollback re-applies the previous properties. When the image was
 * deregistered outside CloudFormation, or the previous governance cannot be
 * restored, it must still complete: a failed rollback leaves the stack in
 * UPDATE_ROLLBACK_FAILED.
 */
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CreateTagsCommand, DescribeImagesCommand, EnableImageDeprecationCommand, ModifyImageAttributeCommand } from '@aws-sdk/client-ec2';
import 'aws-sdk-client-mock-jest';
import {
  FROM_INSTANCE, IMAGE_ID, STACK_ID, WAITER, awsError, captureLogs, expectOneLine, fromInstanceProps, lastLinkUpdate, mockedClients, ownedImage,
  rejectionOf, updateEvent, waiterProps,
} from './helpers';
import { isComplete, onEvent } from '../../lambda';

const { ec2Mock, cfnMock, stackIs } = mockedClients({ images: [ownedImage()] });
const logs = captureLogs();

function imageGone() {
  ec2Mock.on(DescribeImagesCommand).rejects(awsError('InvalidAMIID.NotFound', `The image id '[${IMAGE_ID}]' does not exist`));
}

/** The waiter's Update as the Provider framework runs it: onEvent, then isComplete with onEvent's answer merged in. */
async function waiterUpdate(props: Record<string, unknown>, old: Record<string, unknown>) {
  const event = lastLinkUpdate(props, old);
  const started = await onEvent(event);
  return isComplete({ ...event, ...started });
}

describe('waiter onEvent', () => {
  test.each(['UPDATE_ROLLBACK_IN_PROGRESS', 'ROLLBACK_IN_PROGRESS'] as const)('an Update during %s tells isComplete it is a rollback', async (status) => {
    stackIs(status);
    const event = lastLinkUpdate({}, { DeprecateAt: '2030-01-01T00:00:00.000Z' });
    await expect(onEvent(event)).resolves.toEqual(expect.objectContaining({ RollingBack: true }));
    expect(cfnMock).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: STACK_ID });
  });

  test('an Update during UPDATE_IN_PROGRESS is not a rollback', async () => {
    stackIs('UPDATE_IN_PROGRESS');
    const event = lastLinkUpdate({}, {});
    await expect(onEvent(event)).resolves.not.toHaveProperty('RollingBack');
  });
});

describe('the image was deregistered outside CloudFormation', () => {
  test('a rollback that re-applies governance to it completes, and the log says why', async () => {
    stackIs('UPDATE_ROLLBACK_IN_PROGRESS');
    imageGone();
    const result = await waiterUpdate({ DeprecateAt: '2030-01-01T00:00:00.000Z' }, { DeprecateAt: '2031-01-01T00:00:00.000Z' });
    expect(result).toEqual({ IsComplete: true, Data: { ImageId: IMAGE_ID, ImageName: '', State: 'deregistered' } });
    expect(ec2Mock).not.toHaveReceivedCommand(EnableImageDeprecationCommand);
    expect(logs.find('image no longer exists; the rollback has nothing to re-apply')).toEqual([
      expect.objectContaining({ level: 'warn', imageId: IMAGE_ID, link: '2/2' }),
    ]);
  });

  test('a rollback to a replaced image that is gone completes on every link', async () => {
    stackIs('UPDATE_ROLLBACK_IN_PROGRESS');
    imageGone();
    const event = updateEvent(WAITER, `${IMAGE_ID}/wait-1`, waiterProps({ Link: '1' }), waiterProps({ Link: '1', ImageId: 'ami-0new0000000000000' }));
    const started = await onEvent(event);
    await expect(isComplete({ ...event, ...started })).resolves.toEqual(expect.objectContaining({ IsComplete: true }));
  });

  test('a forward update of its governance fails at once with a sentence, without waiting for it to appear', async () => {
    stackIs('UPDATE_IN_PROGRESS');
    imageGone();
    const err = await rejectionOf(waiterUpdate({ DeprecateAt: '2030-01-01T00:00:00.000Z' }, {}));
    expect(err.message).toBe(
      `Image ${IMAGE_ID} no longer exists in us-east-1; it was deregistered outside CloudFormation. Change imageName or remove and re-add the construct to create a new one.`,
    );
    expectOneLine(err);
  });

  test('a rollback of its description and tags completes', async () => {
    stackIs('UPDATE_ROLLBACK_IN_PROGRESS');
    imageGone();
    const event = updateEvent(FROM_INSTANCE, IMAGE_ID, fromInstanceProps({ Description: 'v1' }), fromInstanceProps({ Description: 'v2' }));
    await expect(onEvent(event)).resolves.toEqual({ PhysicalResourceId: IMAGE_ID });
    expect(ec2Mock).not.toHaveReceivedCommand(ModifyImageAttributeCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateTagsCommand);
    expect(logs.find('image no longer exists; the rollback has nothing to revert')).toHaveLength(1);
  });

  test('a forward update of its description still fails with a sentence', async () => {
    stackIs('UPDATE_IN_PROGRESS');
    imageGone();
    const event = updateEvent(FROM_INSTANCE, IMAGE_ID, fromInstanceProps({ Description: 'v2' }), fromInstanceProps({ Description: 'v1' }));
    const err = await rejectionOf(onEvent(event));
    expect(err.message).toMatch(new RegExp(`^Image ${IMAGE_ID} no longer exists in us-east-1; it was deregistered outside CloudFormation\\.`));
  });
});

describe('governance that cannot be restored', () => {
  test('during a rollback the failure is logged and the rollback completes', async () => {
    stackIs('UPDATE_ROLLBACK_IN_PROGRESS');
    ec2Mock.on(ModifyImageAttributeCommand).rejects(awsError('InvalidAMIAttributeItemValue', 'Invalid attribute item value "444455556666"'));
    const result = await waiterUpdate({ LaunchPermissions: [{ UserId: '444455556666' }] }, {});
    expect(result.IsComplete).toBe(true);
    expect(logs.find('the rollback could not restore sharing, deprecation or protection')).toEqual([expect.objectContaining({
      level: 'warn', imageId: IMAGE_ID, error: expect.stringContaining('InvalidAMIAttributeItemValue'),
    })]);
  });

  test('outside a rollback it fails the update', async () => {
    stackIs('UPDATE_IN_PROGRESS');
    ec2Mock.on(ModifyImageAttributeCommand).rejects(awsError('InvalidAMIAttributeItemValue', 'Invalid attribute item value "444455556666"'));
    const err = await rejectionOf(waiterUpdate({ LaunchPermissions: [{ UserId: '444455556666' }] }, {}));
    expect(err.message).toMatch(/^Applying IMDSv2, sharing, deprecation, protection or disabling to image ami-0123456789abcdef0 in us-east-1 failed: InvalidAMIAttributeItemValue/);
  });
});
