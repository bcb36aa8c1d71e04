import { DescribeStacksCommand, CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DeleteParameterCommand, GetParameterCommand, ListTagsForResourceCommand, PutParameterCommand, SSMClient, SSMServiceException } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { CREATE_REQUEST, STACK_ID, captureLogs, createEvent, deleteEvent, expectOneLine, ownershipTagsFor, rejectionOf, updateEvent } from './helpers';
import { onEvent } from '../../lambda';
import { setSleep } from '../../lambda/shared/backoff';

const ssmMock = mockClient(SSMClient);
const cfnMock = mockClient(CloudFormationClient);
const logs = captureLogs();
const PARAMETER = 'Custom::AmiParameter';
const IMAGE = 'ami-0123456789abcdef0';
const ARN = 'arn:aws:ssm:eu-west-1:123456789012:parameter/images/golden';
const props = (extra: Record<string, unknown> = {}) => ({
  Region: 'eu-west-1', Name: '/images/golden', ImageId: IMAGE, Description: 'AMI ID of S/Copy', RemovalPolicy: 'retain', ...extra,
});

function ssmError(name: string, message = `${name} message`): SSMServiceException {
  return new SSMServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 400 }, message });
}

let previousSleep: ReturnType<typeof setSleep>;
beforeEach(() => {
  ssmMock.reset();
  cfnMock.reset();
  cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'S', StackStatus: 'UPDATE_IN_PROGRESS', CreationTime: new Date() }] });
  previousSleep = setSleep(async () => undefined);
});
afterEach(() => setSleep(previousSleep));

describe('Custom::AmiParameter', () => {
  test('creates an aws:ec2:image String without overwrite, tagged as this resource\'s; the physical ID is its ARN', async () => {
    ssmMock.on(PutParameterCommand).resolves({ Version: 1 });
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: IMAGE, Version: 1 } });
    expect(await onEvent(createEvent(PARAMETER, props()))).toEqual({ PhysicalResourceId: ARN, Data: { ParameterName: '/images/golden' } });
    expect(ssmMock).toHaveReceivedCommandWith(PutParameterCommand, {
      Name: '/images/golden', Value: IMAGE, Type: 'String', DataType: 'aws:ec2:image', Overwrite: false, Tags: ownershipTagsFor(CREATE_REQUEST),
    });
  });

  test('a value SSM never shows (its asynchronous validation dropped it) fails with one sentence', async () => {
    ssmMock.on(PutParameterCommand).resolves({ Version: 1 });
    ssmMock.on(GetParameterCommand).rejects(ssmError('ParameterNotFound'));
    const err = await rejectionOf(onEvent(createEvent(PARAMETER, props())));
    expect(err.message).toBe(
      'SSM did not store image ami-0123456789abcdef0 in parameter /images/golden in eu-west-1: it validates an aws:ec2:image value after PutParameter has answered, and drops a value that is not an available image of this account in that Region.',
    );
    expectOneLine(err);
    expect(ssmMock).toHaveReceivedCommandTimes(GetParameterCommand, 12);
  });

  test('an existing parameter of another resource is not overwritten', async () => {
    ssmMock.on(PutParameterCommand).rejects(ssmError('ParameterAlreadyExists'));
    ssmMock.on(ListTagsForResourceCommand).resolves({ TagList: ownershipTagsFor(CREATE_REQUEST, 'OtherResource') });
    const err = await rejectionOf(onEvent(createEvent(PARAMETER, props())));
    expect(err.message).toMatch(/^SSM parameter \/images\/golden already exists in eu-west-1 and was not made by this resource; cdk-ami does not overwrite it\./);
    expect(ssmMock).toHaveReceivedCommandTimes(PutParameterCommand, 1);
  });

  test('SSM\'s refusal of a name becomes one sentence', async () => {
    ssmMock.on(PutParameterCommand).rejects(ssmError('ValidationException', 'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive).'));
    const err = await rejectionOf(onEvent(createEvent(PARAMETER, props({ Name: 'awsx' }))));
    expect(err.message).toBe('SSM refused parameter awsx in eu-west-1: Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive).');
  });

  test('an update of a parameter no longer tagged as this resource\'s fails without writing', async () => {
    ssmMock.on(ListTagsForResourceCommand).resolves({ TagList: [{ Key: 'team', Value: 'other' }] });
    const err = await rejectionOf(onEvent(updateEvent(PARAMETER, ARN, props({ ImageId: 'ami-0bbbbbbbbbbbbbbb0' }), props())));
    expect(err.message).toBe('SSM parameter /images/golden in eu-west-1 is no longer tagged as this resource\'s; cdk-ami does not overwrite it.');
    expect(ssmMock).not.toHaveReceivedCommand(PutParameterCommand);
  });

  test('an update of a parameter deleted outside CloudFormation creates it again', async () => {
    ssmMock.on(ListTagsForResourceCommand).rejects(ssmError('InvalidResourceId'));
    ssmMock.on(PutParameterCommand).resolves({ Version: 1 });
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: 'ami-0bbbbbbbbbbbbbbb0', Version: 1 } });
    await onEvent(updateEvent(PARAMETER, ARN, props({ ImageId: 'ami-0bbbbbbbbbbbbbbb0' }), props()));
    expect(ssmMock).toHaveReceivedCommandWith(PutParameterCommand, { Overwrite: false, Value: 'ami-0bbbbbbbbbbbbbbb0' });
    expect(logs.find('parameter no longer exists; creating it again')).toHaveLength(1);
  });

  test('DESTROY leaves a parameter that is not tagged as this resource\'s', async () => {
    ssmMock.on(ListTagsForResourceCommand).resolves({ TagList: [{ Key: 'cdk-ami:stack', Value: STACK_ID }] });
    await onEvent(deleteEvent(PARAMETER, ARN, props({ RemovalPolicy: 'destroy' })));
    expect(ssmMock).not.toHaveReceivedCommand(DeleteParameterCommand);
    expect(logs.find('parameter is not tagged as this resource\'s; left in place')).toHaveLength(1);
  });

  test('the Delete of a create that failed touches nothing', async () => {
    await onEvent(deleteEvent(PARAMETER, 'AWSCDK::CustomResourceProviderFramework::CREATE_FAILED', props({ RemovalPolicy: 'destroy' })));
    expect(ssmMock.calls()).toHaveLength(0);
  });
});
