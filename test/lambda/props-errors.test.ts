import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { FROM_INSTANCE, LOGICAL_ID, awsError, awsServerError, captureLogs, createEvent, deleteEvent, expectOneLine, fromInstanceProps, rejectionOf, waiterProps } from './helpers';
import { isComplete, onEvent } from '../../lambda/index';
import { cloudFormation, ec2, resetClients } from '../../lambda/shared/clients';
import {
  AmiError, errorCode, errorMessage, isNotFound, isThrottling, mayHaveTakenEffect, sentence, serverFailure, toAmiError,
} from '../../lambda/shared/errors';
import { log, setLogSink } from '../../lambda/shared/log';
import { bool, changed, num, required, str, tags } from '../../lambda/shared/props';
import { ResourceTypes } from '../../src/private/contract';

const logs = captureLogs();

describe('CloudFormation property values', () => {
  test.each([
    ['true', false, true],
    ['false', true, false],
    [true, false, true],
    [false, true, false],
    [undefined, true, true],
    [null, false, false],
    ['', true, true],
  ])('bool(%p, default %p) is %p', (value, defaultValue, expected) => {
    expect(bool(value, defaultValue)).toBe(expected);
  });

  test('bool rejects anything else', () => {
    expect(() => bool('TRUE', false)).toThrow(new AmiError('Expected "true" or "false", got "TRUE".'));
    expect(() => bool(1, false)).toThrow('Expected "true" or "false", got "1".');
  });

  test.each([
    ['3600', 0, 3600],
    [42, 0, 42],
    ['1.5', 0, 1.5],
    [undefined, 3000, 3000],
    [null, 3000, 3000],
    ['', 3000, 3000],
  ])('num(%p, default %p) is %p', (value, defaultValue, expected) => {
    expect(num(value, defaultValue)).toBe(expected);
  });

  test.each(['abc', 'Infinity', 'NaN'])('num rejects %p', (value) => {
    expect(() => num(value, 0)).toThrow(`Expected a number, got "${value}".`);
  });

  test('str: empty is absent, anything else a string', () => {
    expect(str(undefined)).toBeUndefined();
    expect(str(null)).toBeUndefined();
    expect(str('')).toBeUndefined();
    expect(str('x')).toBe('x');
    expect(str(12)).toBe('12');
  });

  test('required names the missing property', () => {
    expect(required({ Region: 'us-east-1' }, 'Region')).toBe('us-east-1');
    expect(() => required({ Region: '' }, 'Region')).toThrow('The resource property Region is required.');
    expect(() => required({} as Record<string, unknown>, 'ImageId')).toThrow('The resource property ImageId is required.');
  });

  test('tags reads the list CloudFormation renders, as strings', () => {
    expect(tags([{ Key: 'a', Value: '1' }, { Key: 'n', Value: 2 }, { Key: 'empty' }, { Value: 'no key' }, null, 'junk'])).toEqual([
      { Key: 'a', Value: '1' },
      { Key: 'n', Value: '2' },
      { Key: 'empty', Value: '' },
    ]);
    expect(tags(undefined)).toEqual([]);
    expect(tags('a=1')).toEqual([]);
  });

  test('changed lists the properties that differ; absent and empty are the same', () => {
    const before = { A: '1', B: 'x', C: '', L: [1, 2], M: { k: 'v' } };
    const after = { A: '1', B: 'y', D: null, L: [1, 2], M: { k: 'w' } };
    expect(changed(before, after, ['A', 'B', 'C', 'D', 'L', 'M', 'Z'])).toEqual(['B', 'M']);
  });
});

describe('errors', () => {
  test('AmiError is one line, message and stack', () => {
    const err = new AmiError('First line.\n  Second line.\n');
    expect(err.message).toBe('First line. Second line.');
    expectOneLine(err);
    expect(err).toBeInstanceOf(Error);
  });

  test('errorCode reads Code, code or name', () => {
    expect(errorCode({ Code: 'A', code: 'B', name: 'C' })).toBe('A');
    expect(errorCode({ code: 'B', name: 'C' })).toBe('B');
    expect(errorCode(awsError('InvalidAMIID.NotFound'))).toBe('InvalidAMIID.NotFound');
    expect(errorCode('text')).toBeUndefined();
    expect(errorCode(null)).toBeUndefined();
  });

  test('errorMessage of errors and anything else', () => {
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage(undefined)).toBe('undefined');
  });

  test('isNotFound: any *.NotFound and InvalidAMIID.Unavailable', () => {
    expect(isNotFound(awsError('InvalidAMIID.NotFound'))).toBe(true);
    expect(isNotFound(awsError('InvalidSnapshot.NotFound'))).toBe(true);
    expect(isNotFound(awsError('InvalidAMIID.Unavailable'))).toBe(true);
    expect(isNotFound(awsError('InvalidAMIID.Malformed'))).toBe(false);
    expect(isNotFound(undefined)).toBe(false);
  });

  test('isThrottling', () => {
    expect(isThrottling(awsError('RequestLimitExceeded'))).toBe(true);
    expect(isThrottling(awsError('UnauthorizedOperation'))).toBe(false);
    expect(isThrottling('slow down')).toBe(false);
  });

  test('mayHaveTakenEffect: a 5xx or no answer at all may hide a success; a 4xx and our own sentences do not', () => {
    expect(mayHaveTakenEffect(awsServerError())).toBe(true);
    expect(mayHaveTakenEffect(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(true);
    expect(mayHaveTakenEffect(awsError('InvalidParameterValue'))).toBe(false);
    expect(mayHaveTakenEffect(new AmiError('Explained.'))).toBe(false);
    expect(mayHaveTakenEffect('plain')).toBe(false);
  });

  test('serverFailure says what a 5xx answered, without a doubled full stop; undefined for anything else', () => {
    expect(serverFailure(awsServerError('Unavailable', 503, 'The service is unavailable.'))).toBe('HTTP 503 (Unavailable: The service is unavailable)');
    expect(serverFailure(awsError('UnauthorizedOperation'))).toBeUndefined();
  });

  test('sentence ends a text with one full stop', () => {
    expect(sentence('unavailable..')).toBe('unavailable.');
    expect(sentence('unavailable ')).toBe('unavailable.');
  });

  test('toAmiError keeps an AmiError as it is', () => {
    const err = new AmiError('Already explained.');
    expect(toAmiError(err, 'Ctx')).toBe(err);
  });

  test('toAmiError keeps the service error code', () => {
    const err = toAmiError(awsError('UnauthorizedOperation', 'You are not authorized.\nDetails'), 'Create of X');
    expect(err.message).toBe('Create of X failed: UnauthorizedOperation: You are not authorized. Details');
    expectOneLine(err);
  });

  test.each([
    ['an Error', new Error('boom'), 'Ctx failed unexpectedly: boom'],
    ['a TypeError', new TypeError("Cannot read properties of undefined (reading 'x')"), "Ctx failed unexpectedly: Cannot read properties of undefined (reading 'x')"],
    ['a string', 'plain', 'Ctx failed unexpectedly: plain'],
  ])('toAmiError of %s is unexpected', (_, thrown, message) => {
    const err = toAmiError(thrown, 'Ctx');
    expect(err.message).toBe(message);
    expectOneLine(err);
  });
});

describe('log', () => {
  test('writes one JSON object per line', () => {
    log('info', 'hello', { n: 1, nested: { a: [1] } });
    log('warn', 'no fields');
    expect(logs.lines()).toEqual([
      { level: 'info', message: 'hello', n: 1, nested: { a: [1] } },
      { level: 'warn', message: 'no fields' },
    ]);
  });

  test('the default sink writes to stdout', () => {
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const capturing = setLogSink(logs.originalSink());
    try {
      log('info', 'to stdout');
    } finally {
      setLogSink(capturing);
    }
    expect(write).toHaveBeenCalledWith('{"level":"info","message":"to stdout"}\n');
  });
});

describe('clients', () => {
  test('one EC2 client per Region, in that Region, with adaptive retries', async () => {
    const a = ec2('us-east-1');
    expect(ec2('us-east-1')).toBe(a);
    const b = ec2('eu-west-1');
    expect(b).not.toBe(a);
    expect(a).toBeInstanceOf(EC2Client);
    await expect(b.config.region()).resolves.toBe('eu-west-1');
    await expect(a.config.retryStrategy()).resolves.toHaveProperty('mode', 'adaptive');
    await expect(a.config.maxAttempts()).resolves.toBe(10);
  });

  test('one CloudFormation client', () => {
    const cfn = cloudFormation();
    expect(cfn).toBeInstanceOf(CloudFormationClient);
    expect(cloudFormation()).toBe(cfn);
  });

  test('resetClients forgets them', () => {
    const a = ec2('us-east-1');
    const cfn = cloudFormation();
    resetClients();
    expect(ec2('us-east-1')).not.toBe(a);
    expect(cloudFormation()).not.toBe(cfn);
  });
});

describe('entry points', () => {
  test('onEvent refuses a resource type it does not handle', async () => {
    const err = await rejectionOf(onEvent(createEvent('Custom::Nope', fromInstanceProps())));
    expect(err.message).toBe('cdk-ami does not handle resources of type Custom::Nope.');
    expectOneLine(err);
    expect(logs.lines()).toEqual([expect.objectContaining({
      level: 'error', message: err.message, phase: 'onEvent', requestType: 'Create', logicalResourceId: LOGICAL_ID,
    })]);
  });

  test('an unknown resource type is refused on Delete too, and the log names the physical ID', async () => {
    await expect(onEvent(deleteEvent('Custom::Nope', 'ami-0123456789abcdef0', fromInstanceProps()))).rejects.toThrow('cdk-ami does not handle');
    expect(logs.lines()[0]).toMatchObject({ requestType: 'Delete', physicalResourceId: 'ami-0123456789abcdef0' });
  });

  test('isComplete wraps whatever the handler throws', async () => {
    const err = await rejectionOf(isComplete(createEvent(FROM_INSTANCE, { Region: undefined })));
    expect(err.message).toBe('The resource property Region is required. The resource property InstanceId is required.');
    expectOneLine(err);
  });
});

describe('the handler refuses properties outside the contract (src/private/contract.ts)', () => {
  const ec2Mock = mockClient(EC2Client);
  beforeEach(() => ec2Mock.reset());
  afterAll(() => ec2Mock.restore());

  test('Create: one sentence per problem, before any EC2 call', async () => {
    const err = await rejectionOf(onEvent(createEvent(ResourceTypes.AMI_FROM_INSTANCE, fromInstanceProps({ NoReboot: 'sometimes', Snapshot: 'x' }))));
    expect(err.message).toBe('The resource property NoReboot must be "true" or "false", got "sometimes". The resource property Snapshot is not one that Custom::AmiFromInstance takes.');
    expectOneLine(err);
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  test('isComplete checks the waiter it polls', async () => {
    const err = await rejectionOf(isComplete(createEvent(ResourceTypes.WAITER, waiterProps({ Links: 'two' }))));
    expect(err.message).toBe('The resource property Links must be a number, got "two".');
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  test('Delete goes on with a warning: the properties may come from an older template', async () => {
    await expect(onEvent(deleteEvent(ResourceTypes.WAITER, 'ami-0123456789abcdef0/wait-1', waiterProps({ Retired: 'x' }))))
      .resolves.toEqual({ PhysicalResourceId: 'ami-0123456789abcdef0/wait-1' });
    expect(logs.lines()).toContainEqual(expect.objectContaining({
      level: 'warn', problems: ['The resource property Retired is not one that Custom::AmiWaiter takes.'],
    }));
  });
});
