import { DescribeStacksCommand, CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DeleteParameterCommand, GetParameterCommand, ListTagsForResourceCommand, PutParameterCommand, SSMClient, SSMServiceException } from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { CREATE_REQUEST, STACK_ID, captureLogs, createEvent, deleteEvent, expectOneLine, ownershipTagsFor, rejectionOf, updateEvent } from './helpers';
import { onEvent } from '../../lambda';
import { setSleep } from '../../lambda/shared/backoff';

const ssmMock = mockClient(SSMClient);
const cfnMock = mockClient(CloudFormationClient);
const stsMock = mockClient(STSClient);
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

function ssmError5xx(): SSMServiceException {
  return new SSMServiceException({ name: 'InternalServerError', $fault: 'server', $metadata: { httpStatusCode: 500 }, message: 'InternalServerError message' });
}

let previousSleep: ReturnType<typeof setSleep>;
beforeEach(() => {
  ssmMock.reset();
  cfnMock.reset();
  stsMock.reset();
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
    // Dropped: there is nothing left to remove.
    ssmMock.on(ListTagsForResourceCommand).rejects(ssmError('InvalidResourceId'));
    const err = await rejectionOf(onEvent(createEvent(PARAMETER, props())));
    expect(err.message).toBe(
      'SSM did not store image ami-0123456789abcdef0 in parameter /images/golden in eu-west-1: it validates an aws:ec2:image value after PutParameter has answered, and drops a value that is not an available image of this account in that Region.',
    );
    expectOneLine(err);
    expect(ssmMock).toHaveReceivedCommandTimes(GetParameterCommand, 12);
  });

  describe('a create that fails after PutParameter removes what this request wrote (the rollback cannot: it has no physical ID)', () => {
    beforeEach(() => {
      ssmMock.on(PutParameterCommand).resolves({ Version: 1 });
      ssmMock.on(GetParameterCommand).rejects(ssmError5xx());
    });

    test('a parameter with this request\'s tags is deleted, and the reason is the failure', async () => {
      ssmMock.on(ListTagsForResourceCommand).resolves({ TagList: ownershipTagsFor(CREATE_REQUEST) });
      const err = await rejectionOf(onEvent(createEvent(PARAMETER, props())));
      expect(err.message).toBe('Reading SSM parameter /images/golden in eu-west-1 failed: InternalServerError: InternalServerError message');
      expect(ssmMock).toHaveReceivedCommandWith(DeleteParameterCommand, { Name: '/images/golden' });
      expect(logs.find('parameter deleted: its create failed')).toHaveLength(1);
    });

    test('a parameter of an earlier request (one RETAIN kept and this create took over) stays', async () => {
      ssmMock.on(ListTagsForResourceCommand).resolves({ TagList: ownershipTagsFor('an-earlier-request') });
      await rejectionOf(onEvent(createEvent(PARAMETER, props())));
      expect(ssmMock).not.toHaveReceivedCommand(DeleteParameterCommand);
    });

    test('when the removal fails too, the reason says what to delete by hand, in its own sentence', async () => {
      ssmMock.on(ListTagsForResourceCommand).resolves({ TagList: ownershipTagsFor(CREATE_REQUEST) });
      ssmMock.on(DeleteParameterCommand).rejects(ssmError('AccessDeniedException', 'not allowed.'));
      const err = await rejectionOf(onEvent(createEvent(PARAMETER, props())));
      expect(err.message).toBe(
        'Reading SSM parameter /images/golden in eu-west-1 failed: InternalServerError: InternalServerError message. Removing the parameter it had written failed too (not allowed): delete SSM parameter /images/golden in eu-west-1 by hand.',
      );
      expectOneLine(err);
    });
  });

  test('a PutParameter whose every answer was a 5xx takes over the parameter when it carries this request\'s tags', async () => {
    ssmMock.on(PutParameterCommand, { Overwrite: false }).rejects(ssmError5xx());
    ssmMock.on(PutParameterCommand, { Overwrite: true }).resolves({ Version: 2 });
    ssmMock.on(ListTagsForResourceCommand).resolves({ TagList: ownershipTagsFor(CREATE_REQUEST) });
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: IMAGE, Version: 2 } });
    expect(await onEvent(createEvent(PARAMETER, props()))).toEqual({ PhysicalResourceId: ARN, Data: { ParameterName: '/images/golden' } });
    expect(ssmMock).not.toHaveReceivedCommand(DeleteParameterCommand);
  });

  test('a PutParameter whose every answer was a 5xx and that wrote nothing fails with the 5xx', async () => {
    ssmMock.on(PutParameterCommand).rejects(ssmError5xx());
    ssmMock.on(ListTagsForResourceCommand).rejects(ssmError('InvalidResourceId'));
    const err = await rejectionOf(onEvent(createEvent(PARAMETER, props())));
    expect(err.message).toBe('Creating SSM parameter /images/golden in eu-west-1 failed: InternalServerError: InternalServerError message');
    expect(ssmMock).toHaveReceivedCommandTimes(PutParameterCommand, 1);
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

describe('Custom::AmiParameter of a copy owned by another account', () => {
  const TARGET = '444455556666';
  const ROLE_ARN = `arn:aws:iam::${TARGET}:role/cdk-ami-copies`;
  const TARGET_ARN = `arn:aws:ssm:eu-west-1:${TARGET}:parameter/images/golden`;
  const crossProps = (extra: Record<string, unknown> = {}) => props({ RoleArn: ROLE_ARN, ...extra });

  /** The credentials the SSM client of the n-th call signs with (resolving them assumes the role). */
  async function credentialsOfCall(n: number) {
    const client = ssmMock.call(n).thisValue as SSMClient;
    return client.config.credentials();
  }

  beforeEach(() => {
    stsMock.on(AssumeRoleCommand).resolves({
      Credentials: { AccessKeyId: 'ASIATARGET', SecretAccessKey: 'secret', SessionToken: 'token', Expiration: new Date(Date.now() + 3600_000) },
    });
  });

  test('writes in the copy\'s account as the copy role; the physical ID is the ARN there', async () => {
    ssmMock.on(PutParameterCommand).resolves({ Version: 1 });
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: IMAGE, Version: 1 } });
    expect(await onEvent(createEvent(PARAMETER, crossProps()))).toEqual({ PhysicalResourceId: TARGET_ARN, Data: { ParameterName: '/images/golden' } });
    expect(ssmMock).toHaveReceivedCommandWith(PutParameterCommand, { Name: '/images/golden', Overwrite: false, Tags: ownershipTagsFor(CREATE_REQUEST) });
    expect(await credentialsOfCall(0)).toMatchObject({ accessKeyId: 'ASIATARGET', sessionToken: 'token' });
    expect(await (ssmMock.call(0).thisValue as SSMClient).config.region()).toBe('eu-west-1');
    expect(stsMock).toHaveReceivedCommandWith(AssumeRoleCommand, { RoleArn: ROLE_ARN, RoleSessionName: expect.stringMatching(/^cdk-ami-/) });
  });

  test('deletes (DESTROY) in the copy\'s account, only the parameter behind this physical ID', async () => {
    ssmMock.on(ListTagsForResourceCommand).resolves({ TagList: ownershipTagsFor(CREATE_REQUEST) });
    ssmMock.on(DeleteParameterCommand).resolves({});
    await onEvent(deleteEvent(PARAMETER, TARGET_ARN, crossProps({ RemovalPolicy: 'destroy' })));
    expect(ssmMock).toHaveReceivedCommandWith(DeleteParameterCommand, { Name: '/images/golden' });
    expect(await credentialsOfCall(0)).toMatchObject({ accessKeyId: 'ASIATARGET' });

    ssmMock.reset();
    // The same name in the stack's own account is another parameter.
    await onEvent(deleteEvent(PARAMETER, ARN, crossProps({ RemovalPolicy: 'destroy' })));
    expect(ssmMock.calls()).toHaveLength(0);
  });

  test('a new role is a new parameter: created, not overwritten', async () => {
    ssmMock.on(PutParameterCommand).resolves({ Version: 1 });
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: IMAGE, Version: 1 } });
    const other = 'arn:aws:iam::777788889999:role/cdk-ami-copies';
    const result = await onEvent(updateEvent(PARAMETER, TARGET_ARN, crossProps({ RoleArn: other }), crossProps()));
    expect(result.PhysicalResourceId).toBe('arn:aws:ssm:eu-west-1:777788889999:parameter/images/golden');
    expect(ssmMock).toHaveReceivedCommandWith(PutParameterCommand, { Overwrite: false });
  });

  test('messages name the account', async () => {
    ssmMock.on(PutParameterCommand).rejects(ssmError('ParameterAlreadyExists'));
    ssmMock.on(ListTagsForResourceCommand).resolves({ TagList: [] });
    const err = await rejectionOf(onEvent(createEvent(PARAMETER, crossProps())));
    expect(err.message).toBe(
      `SSM parameter /images/golden already exists in eu-west-1 of account ${TARGET} and was not made by this resource; cdk-ami does not overwrite it. Choose another parameterName, or delete the parameter.`,
    );
  });

  test('a role the provider cannot assume fails with one sentence', async () => {
    stsMock.on(AssumeRoleCommand).rejects(new Error('User: arn:aws:sts::123456789012:assumed-role/x/y is not authorized to perform: sts:AssumeRole'));
    // The real client resolves its credentials before it sends: the fake does the same.
    ssmMock.on(PutParameterCommand).callsFake(async (_input, getClient) => {
      await (getClient() as SSMClient).config.credentials();
      return { Version: 1 };
    });
    const err = await rejectionOf(onEvent(createEvent(PARAMETER, crossProps())));
    expect(err.message).toMatch(new RegExp(`^The provider could not assume role ${ROLE_ARN}: User: .* is not authorized to perform: sts:AssumeRole\\. The role must trust`));
    expectOneLine(err);
  });
});
