import {
  DescribeInstancesCommand, GetConsoleOutputCommand, Instance, InstanceStateName, StopInstancesCommand, TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import 'aws-sdk-client-mock-jest';
import {
  INSTANCE_ID, SERVICE_TOKEN, awsError, captureLogs, createEvent, deleteEvent, expectOneLine, mockedClients, rejectionOf, reservationOf, updateEvent,
} from './helpers';
import { consoleTail } from '../../lambda/builder-setup';
import { isComplete, onEvent } from '../../lambda/index';
import { CustomResourceEvent } from '../../lambda/shared/types';
import { ResourceTypes } from '../../src/private/contract';

const { ec2Mock, stackIs } = mockedClients();
const logs = captureLogs();

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const MINUTE = 60_000;

function setupProps(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ServiceToken: SERVICE_TOKEN,
    Region: 'us-east-1',
    InstanceId: INSTANCE_ID,
    Link: '1',
    Links: '2',
    BudgetSeconds: '1800',
    TimeoutSeconds: '3600',
    StopBy: 'handler',
    ...overrides,
  };
}

function builder(state: InstanceStateName, setup?: string): Instance {
  return {
    InstanceId: INSTANCE_ID,
    State: { Name: state },
    Tags: [{ Key: 'Name', Value: 'Stack/Web/Builder' }, ...(setup ? [{ Key: 'cdk-ami:setup', Value: setup }] : [])],
  };
}

function givenBuilder(...states: Instance[]): void {
  let call = ec2Mock.on(DescribeInstancesCommand);
  for (const instance of states) call = call.resolvesOnce(reservationOf(instance));
}

function givenConsole(text: string | undefined): void {
  ec2Mock.on(GetConsoleOutputCommand).resolves({ InstanceId: INSTANCE_ID, Output: text === undefined ? undefined : Buffer.from(text).toString('base64') });
}

/** The isComplete event of a wait that started `minutesAgo` minutes ago. */
function poll(props = setupProps(), minutesAgo = 1): CustomResourceEvent {
  return createEvent(ResourceTypes.BUILDER_SETUP, props, { PhysicalResourceId: `${INSTANCE_ID}/setup-1`, WaitStartedAt: NOW - minutesAgo * MINUTE } as never);
}

beforeEach(() => {
  stackIs('UPDATE_IN_PROGRESS');
  jest.spyOn(Date, 'now').mockReturnValue(NOW);
  givenConsole('boot\n');
});

describe('Custom::AmiBuilderSetup onEvent', () => {
  test('create starts a wait named after the instance and link', async () => {
    expect(await onEvent(createEvent(ResourceTypes.BUILDER_SETUP, setupProps()))).toEqual({ PhysicalResourceId: `${INSTANCE_ID}/setup-1`, WaitStartedAt: NOW });
  });

  test('delete does nothing: the builder is CloudFormation\'s', async () => {
    expect(await onEvent(deleteEvent(ResourceTypes.BUILDER_SETUP, `${INSTANCE_ID}/setup-1`, setupProps()))).toEqual({ PhysicalResourceId: `${INSTANCE_ID}/setup-1` });
    expect(await isComplete(deleteEvent(ResourceTypes.BUILDER_SETUP, `${INSTANCE_ID}/setup-1`, setupProps()))).toEqual({ IsComplete: true });
    expect(ec2Mock.calls()).toHaveLength(0);
  });
});

describe('Custom::AmiBuilderSetup isComplete', () => {
  test('while the setup runs: pending, reading the tag and the console for a result', async () => {
    givenBuilder(builder('running'));
    expect(await isComplete(poll())).toEqual({ IsComplete: false });
    expect(ec2Mock).toHaveReceivedCommandWith(GetConsoleOutputCommand, { InstanceId: INSTANCE_ID, Latest: true });
    expect(logs.find('setup poll')[0]).toMatchObject({ instanceId: INSTANCE_ID, state: 'running', result: 'running', link: '1/2' });
  });

  test('succeeded (tag), running: stops the builder and keeps waiting; stopped: done', async () => {
    givenBuilder(builder('running', 'succeeded'), builder('stopped', 'succeeded'));
    expect(await isComplete(poll())).toEqual({ IsComplete: false });
    expect(ec2Mock).toHaveReceivedCommandWith(StopInstancesCommand, { InstanceIds: [INSTANCE_ID] });
    // The tag is the result: no console read.
    expect(ec2Mock).not.toHaveReceivedCommand(GetConsoleOutputCommand);
    expect(await isComplete(poll())).toEqual({ IsComplete: true, Data: { InstanceId: INSTANCE_ID, Setup: 'succeeded' } });
    expect(ec2Mock).toHaveReceivedCommandTimes(StopInstancesCommand, 1);
  });

  test('succeeded, stopping: waits without stopping again', async () => {
    givenBuilder(builder('stopping', 'succeeded'));
    expect(await isComplete(poll())).toEqual({ IsComplete: false });
    expect(ec2Mock).not.toHaveReceivedCommand(StopInstancesCommand);
  });

  test('succeeded through the console line alone (an image without the AWS CLI)', async () => {
    givenBuilder(builder('stopped'));
    givenConsole('Complete!\r\n\x1b[0mcdk-ami:setup=succeeded\r\n');
    expect(await isComplete(poll())).toMatchObject({ IsComplete: true, Data: { Setup: 'succeeded' } });
  });

  test('StopBy instance (Windows sysprep): waits for the instance to stop itself, never stops it', async () => {
    givenBuilder(builder('running', 'succeeded'), builder('stopped', 'succeeded'));
    const props = setupProps({ StopBy: 'instance' });
    expect(await isComplete(poll(props))).toEqual({ IsComplete: false });
    expect(await isComplete(poll(props))).toMatchObject({ IsComplete: true });
    expect(ec2Mock).not.toHaveReceivedCommand(StopInstancesCommand);
  });

  test('StopBy none: done while running (CreateImage reboots it)', async () => {
    givenBuilder(builder('running', 'succeeded'));
    expect(await isComplete(poll(setupProps({ StopBy: 'none' })))).toMatchObject({ IsComplete: true });
    expect(ec2Mock).not.toHaveReceivedCommand(StopInstancesCommand);
  });

  test('a failed setup fails with the exit code and the last lines of the console, as one line', async () => {
    givenBuilder(builder('running', 'failed:100'));
    const lines = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`);
    givenConsole([...lines, 'E: Unable to locate package nginxx', 'cdk-ami:setup=failed:100', ''].join('\n'));
    const err = await rejectionOf(isComplete(poll()));
    expectOneLine(err);
    expect(err.message).toBe(
      `The setup of builder instance ${INSTANCE_ID} failed with exit code 100. Last lines of its console output: `
      + `${lines.slice(-13).join(' | ')} | E: Unable to locate package nginxx | cdk-ami:setup=failed:100`,
    );
  });

  test('a failure marker on the console fails even without the tag', async () => {
    givenBuilder(builder('running'));
    givenConsole('oops\ncdk-ami:setup=failed:2\n');
    expect((await rejectionOf(isComplete(poll()))).message).toMatch(/failed with exit code 2\. Last lines of its console output: oops \| cdk-ami:setup=failed:2$/);
  });

  test.each<InstanceStateName>(['terminated', 'shutting-down', 'stopped'])('a builder %s before reporting fails, with its console', async (state) => {
    givenBuilder(builder(state));
    givenConsole('Kernel panic - not syncing\n');
    expect((await rejectionOf(isComplete(poll())))).toMatchObject({
      message: `Builder instance ${INSTANCE_ID} is ${state} before its setup reported a result. Last lines of its console output: Kernel panic - not syncing`,
    });
  });

  test('the last link fails at the timeout with the console; an earlier link hands over', async () => {
    givenBuilder(builder('running'), builder('running'));
    givenConsole('still compiling\n');
    const handover = await isComplete(poll(setupProps(), 30));
    expect(handover).toEqual({ IsComplete: true, Data: { InstanceId: INSTANCE_ID, Setup: 'pending' } });
    const err = await rejectionOf(isComplete(poll(setupProps({ Link: '2' }), 30)));
    expect(err.message).toBe(
      `The setup of builder instance ${INSTANCE_ID} did not finish within the setup timeout of 1 h (setup running); raise setupTimeout if it needs longer. Last lines of its console output: still compiling`,
    );
  });

  test('an instance EC2 does not know yet is pending for a few minutes, then an error', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejects(awsError('InvalidInstanceID.NotFound'));
    expect(await isComplete(poll(setupProps(), 1))).toEqual({ IsComplete: false });
    expect((await rejectionOf(isComplete(poll(setupProps(), 6)))).message).toBe(`Builder instance ${INSTANCE_ID} does not exist in us-east-1.`);
  });

  test('throttled reads poll again', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejects(awsError('RequestLimitExceeded'));
    expect(await isComplete(poll())).toEqual({ IsComplete: false });
  });

  test('an unreadable console does not hide the failure', async () => {
    givenBuilder(builder('running', 'failed:1'));
    ec2Mock.on(GetConsoleOutputCommand).rejects(awsError('UnauthorizedOperation', 'You are not authorized'));
    expect((await rejectionOf(isComplete(poll()))).message).toBe(
      `The setup of builder instance ${INSTANCE_ID} failed with exit code 1. Its console output could not be read (UnauthorizedOperation: You are not authorized); connect with Session Manager to look at the setup's log.`,
    );
  });

  test('an update with the same instance (e.g. a new setupTimeout) is done at once: the builder is baked and gone', async () => {
    const event = updateEvent(ResourceTypes.BUILDER_SETUP, `${INSTANCE_ID}/setup-1`, setupProps({ TimeoutSeconds: '7200' }), setupProps());
    expect(await isComplete(event)).toEqual({ IsComplete: true, Data: { InstanceId: INSTANCE_ID, Setup: 'unchanged' } });
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  test('an update to a new instance waits for it', async () => {
    givenBuilder({ ...builder('running'), InstanceId: 'i-0fffffffffffffff0' });
    const event = updateEvent(ResourceTypes.BUILDER_SETUP, `${INSTANCE_ID}/setup-1`, setupProps({ InstanceId: 'i-0fffffffffffffff0' }), setupProps(), { WaitStartedAt: NOW } as never);
    expect(await onEvent(event)).toEqual({ PhysicalResourceId: 'i-0fffffffffffffff0/setup-1', WaitStartedAt: NOW });
    expect(await isComplete(event)).toEqual({ IsComplete: false });
  });
});

describe('Custom::AmiBuilderSetup rollback', () => {
  test('an update back to the previous builder in a rollback is done at once, without reading it', async () => {
    stackIs('UPDATE_ROLLBACK_IN_PROGRESS');
    const event = updateEvent(ResourceTypes.BUILDER_SETUP, `${INSTANCE_ID}/setup-1`, setupProps(), setupProps({ InstanceId: 'i-0fffffffffffffff0' }));
    const started = await onEvent(event);
    expect(started).toEqual({ PhysicalResourceId: `${INSTANCE_ID}/setup-1`, WaitStartedAt: NOW, RollingBack: true });
    expect(await isComplete({ ...event, ...started } as never)).toEqual({ IsComplete: true, Data: { InstanceId: INSTANCE_ID, Setup: 'rolled back' } });
    expect(ec2Mock.calls()).toHaveLength(0);
  });
});

describe('Custom::AmiBuilderSetup of an image\'s test instance (TestOf)', () => {
  const PATH = 'Stack/Web';
  const testProps = (overrides: Record<string, unknown> = {}) => setupProps({ StopBy: undefined, TestOf: PATH, Links: '1', TimeoutSeconds: '1800', ...overrides });
  const tester = (state: InstanceStateName, result?: string): Instance => ({
    InstanceId: INSTANCE_ID,
    State: { Name: state },
    Tags: [{ Key: 'Name', Value: 'Stack/Web/Test' }, ...(result ? [{ Key: 'cdk-ami:test', Value: result }] : [])],
  });
  beforeEach(() => {
    ec2Mock.on(TerminateInstancesCommand).resolves({});
  });

  test('while the test runs: pending, nothing terminated; a builder\'s setup tag is not a test result', async () => {
    givenBuilder({ ...tester('running'), Tags: [{ Key: 'cdk-ami:setup', Value: 'succeeded' }] });
    givenConsole('cdk-ami:setup=succeeded\nrunning the test\n');
    expect(await isComplete(poll(testProps()))).toEqual({ IsComplete: false });
    expect(ec2Mock).not.toHaveReceivedCommand(TerminateInstancesCommand);
  });

  test('passed (tag or console line): terminates the test instance and hands over; never stops it', async () => {
    givenBuilder(tester('running', 'succeeded'));
    expect(await isComplete(poll(testProps()))).toEqual({ IsComplete: true, Data: { InstanceId: INSTANCE_ID, Setup: 'succeeded' } });
    expect(ec2Mock).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: [INSTANCE_ID] });
    expect(ec2Mock).not.toHaveReceivedCommand(StopInstancesCommand);

    ec2Mock.resetHistory();
    givenBuilder(tester('running'));
    givenConsole('ok\ncdk-ami:test=succeeded\n');
    expect(await isComplete(poll(testProps()))).toMatchObject({ IsComplete: true });
    expect(ec2Mock).toHaveReceivedCommandTimes(TerminateInstancesCommand, 1);
  });

  test('passed, but the terminate is throttled: polls again; an instance already gone is done', async () => {
    givenBuilder(tester('running', 'succeeded'), tester('shutting-down', 'succeeded'));
    ec2Mock.on(TerminateInstancesCommand).rejectsOnce(awsError('RequestLimitExceeded')).rejectsOnce(awsError('IncorrectInstanceState'));
    expect(await isComplete(poll(testProps()))).toEqual({ IsComplete: false });
    expect(await isComplete(poll(testProps()))).toMatchObject({ IsComplete: true });
  });

  test('failed: the event names the image, the exit code and the console\'s last lines, read before the instance is terminated', async () => {
    givenBuilder(tester('running', 'failed:7'));
    givenConsole('curl: (7) Failed to connect to localhost port 80\ncdk-ami:test=failed:7\n');
    const err = await rejectionOf(isComplete(poll(testProps())));
    expectOneLine(err);
    expect(err.message).toBe(`The test of ${PATH} (instance ${INSTANCE_ID}) failed with exit code 7. `
      + 'Last lines of its console output: curl: (7) Failed to connect to localhost port 80 | cdk-ami:test=failed:7');
    const order = ec2Mock.calls().map((c) => c.args[0].constructor.name);
    expect(order.indexOf('TerminateInstancesCommand')).toBeGreaterThan(order.indexOf('GetConsoleOutputCommand'));
  });

  test('failed, and the terminate is refused: the event still shows the test\'s result (CloudFormation deletes the instance)', async () => {
    givenBuilder(tester('running', 'failed:1'));
    ec2Mock.on(TerminateInstancesCommand).rejects(awsError('UnauthorizedOperation', 'not authorized'));
    expect((await rejectionOf(isComplete(poll(testProps())))).message).toMatch(/^The test of Stack\/Web \(instance i-[0-9a-f]+\) failed with exit code 1\./);
    expect(logs.find('the test instance could not be terminated; CloudFormation deletes it with the test')).toHaveLength(1);
  });

  test('passed, but the terminate is refused: fails in one sentence (the rollback deletes the instance) rather than leave it running', async () => {
    givenBuilder(tester('running', 'succeeded'));
    ec2Mock.on(TerminateInstancesCommand).rejects(awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.'));
    const err = await rejectionOf(isComplete(poll(testProps())));
    expectOneLine(err);
    expect(err.message).toBe(`The test of ${PATH} (instance ${INSTANCE_ID}) passed, but terminating the instance failed: `
      + 'UnauthorizedOperation: You are not authorized to perform this operation.');
  });

  test('timed out: the last link terminates the instance and fails naming test.timeout; an earlier link hands over and keeps it', async () => {
    givenBuilder(tester('running'), tester('running'));
    givenConsole('waiting for port 80\n');
    expect(await isComplete(poll(testProps({ Links: '2', TimeoutSeconds: '3600' }), 30))).toEqual({ IsComplete: true, Data: { InstanceId: INSTANCE_ID, Setup: 'pending' } });
    expect(ec2Mock).not.toHaveReceivedCommand(TerminateInstancesCommand);
    const err = await rejectionOf(isComplete(poll(testProps({ Link: '2', Links: '2', TimeoutSeconds: '3600' }), 30)));
    expect(err.message).toBe(`The test of ${PATH} (instance ${INSTANCE_ID}) did not finish within test.timeout of 1 h (test running); raise test.timeout if it needs longer. `
      + 'Last lines of its console output: waiting for port 80');
    expect(ec2Mock).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: [INSTANCE_ID] });
  });

  test('an instance that stopped or ended before reporting fails, naming the test', async () => {
    givenBuilder(tester('stopped'));
    givenConsole('Kernel panic\n');
    expect((await rejectionOf(isComplete(poll(testProps())))).message)
      .toBe(`Test instance ${INSTANCE_ID} of ${PATH} is stopped before its test reported a result. Last lines of its console output: Kernel panic`);
    expect(ec2Mock).toHaveReceivedCommand(TerminateInstancesCommand);
  });

  test('an update with the same instance, and a rollback, are done at once without a call', async () => {
    const same = updateEvent(ResourceTypes.BUILDER_SETUP, `${INSTANCE_ID}/setup-1`, testProps({ TimeoutSeconds: '3000' }), testProps());
    expect(await isComplete(same)).toMatchObject({ IsComplete: true, Data: { Setup: 'unchanged' } });
    stackIs('UPDATE_ROLLBACK_IN_PROGRESS');
    const back = updateEvent(ResourceTypes.BUILDER_SETUP, `${INSTANCE_ID}/setup-1`, testProps(), testProps({ InstanceId: 'i-0fffffffffffffff0' }));
    const started = await onEvent(back);
    expect(await isComplete({ ...back, ...started } as never)).toMatchObject({ IsComplete: true, Data: { Setup: 'rolled back' } });
    expect(ec2Mock.calls()).toHaveLength(0);
  });
});

describe('consoleTail', () => {
  test('an empty console says so', () => {
    expect(consoleTail('\n\r\n')).toMatch(/^Its console output is empty so far/);
  });

  test('long output keeps its end', () => {
    const tail = consoleTail(`${'x'.repeat(5000)}\nlast`);
    expect(tail.length).toBeLessThan(1600);
    expect(tail.endsWith('x | last')).toBe(true);
  });
});
