import {
  DescribeInstancesCommand, EC2Client, GetConsoleOutputCommand, Instance, StopInstancesCommand, TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { declareCalls } from './shared/calls';
import { ec2 } from './shared/clients';
import { AmiError, errorCode, errorMessage, isNotFound, isThrottling, toAmiError } from './shared/errors';
import { LinkTiming, NOT_FOUND_GRACE_MS, POLL_INTERVAL_MS, readLinkTiming, startWait } from './shared/links';
import { log } from './shared/log';
import { tagValue } from './shared/ownership';
import { required, str } from './shared/props';
import { CustomResourceEvent, IsCompleteResponse, OnEventResponse } from './shared/types';
import { formatDuration } from './waiter/waiter';
import { ReceivedProperties, ResourceTypes, SETUP_SUCCEEDED, StopBy, Tags } from '../src/private/contract';

/** The properties of a builder setup resource, by the contract. */
type Setup = typeof ResourceTypes.BUILDER_SETUP;
type Props = ReceivedProperties<Setup>;

export const CALLS = declareCalls(
  'ec2:DescribeInstances',
  'ec2:GetConsoleOutput',
  'ec2:StopInstances',
  'ec2:TerminateInstances',
);

/**
 * Custom::AmiBuilderSetup — one link of the chain that waits for a BakedAmi's
 * builder instance to finish its setup, and brings it to the state it is
 * imaged in. The setup script reports its result as the last thing it does:
 * it tags its own instance `cdk-ami:setup` = `succeeded` or `failed:<exit
 * code>`, and writes the same as a marker line on the console (for images
 * without the AWS CLI). A failed or timed-out setup fails with the last lines
 * of the builder's console output, which is what the stack event shows.
 *
 * With `TestOf`, the instance is an image's test instance instead: it
 * reports `cdk-ami:test` the same way, and the link terminates it once it
 * reported (passed or failed) or its time is up, so it lives only while the
 * test runs.
 */

/** Who brings the builder to `stopped` before it is imaged. */
type StopByValue = typeof StopBy[keyof typeof StopBy];

/** How much of the console the stack event shows: enough to see the error, short enough for the event. */
const CONSOLE_LINES = 15;
const CONSOLE_CHARS = 1500;

/** How a link names what it waits for, and the key the instance reports under. */
interface Subject {
  readonly resultKey: string;
  /** The subject of the event's sentences, e.g. `The setup of builder instance i-…`. */
  readonly run: string;
  /** The instance, e.g. `Builder instance i-…`. */
  readonly instance: string;
  /** What reports: `setup` or `test`. */
  readonly noun: string;
  /** The prop that sets the wait's length. */
  readonly timeoutField: string;
  /** Test instances are terminated once they reported. */
  readonly terminates: boolean;
}

function subjectOf(props: Props, instanceId: string): Subject {
  const testOf = str(props.TestOf);
  if (testOf) {
    return {
      resultKey: Tags.TEST,
      run: `The test of ${testOf} (instance ${instanceId})`,
      instance: `Test instance ${instanceId} of ${testOf}`,
      noun: 'test',
      timeoutField: 'test.timeout',
      terminates: true,
    };
  }
  return {
    resultKey: Tags.SETUP,
    run: `The setup of builder instance ${instanceId}`,
    instance: `Builder instance ${instanceId}`,
    noun: 'setup',
    timeoutField: 'setupTimeout',
    terminates: false,
  };
}

export async function setupOnEvent(event: CustomResourceEvent): Promise<OnEventResponse<Setup>> {
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
  const physicalId = `${required(event.ResourceProperties, 'InstanceId')}/setup-${required(event.ResourceProperties, 'Link')}`;
  // A rollback returns to the builder of the previous bake, terminated since: isComplete has nothing to wait for.
  return startWait(event, physicalId);
}

export async function setupIsComplete(event: CustomResourceEvent): Promise<IsCompleteResponse<Setup>> {
  if (event.RequestType === 'Delete') return { IsComplete: true };
  const props = event.ResourceProperties as Props;
  const instanceId = required(props, 'InstanceId');
  if (event.RequestType === 'Update' && str(event.OldResourceProperties.InstanceId) === instanceId) {
    // The same builder, baked already (and likely terminated since): nothing to wait for.
    return done(instanceId, 'unchanged');
  }
  if (event.RollingBack) {
    log('info', 'rollback to the previous builder: nothing to wait for', { instanceId });
    return done(instanceId, 'rolled back');
  }
  const s = readSetup(props, event.WaitStartedAt);
  const client = ec2(s.region);

  let instance: Instance | undefined;
  try {
    instance = await describeInstance(client, instanceId);
  } catch (err) {
    if (isThrottling(err)) return pendingOrBudgetSpent(client, s, 'pending (throttled)');
    throw toAmiError(err, `Reading ${s.subject.instance.replace(/^\w/, (c) => c.toLowerCase())} in ${s.region}`);
  }
  if (!instance) {
    if (s.elapsedMs < NOT_FOUND_GRACE_MS) return pendingOrBudgetSpent(client, s, 'not visible yet');
    throw new AmiError(`${s.subject.instance} does not exist in ${s.region}.`);
  }

  const state = instance.State?.Name ?? 'unknown';
  let result = tagValue(instance, s.subject.resultKey);
  let output: ConsoleOutput | undefined;
  if (!result) {
    output = await readConsole(client, instanceId, s.subject.resultKey);
    result = output.marker;
  }
  log('info', `${s.subject.noun} poll`, { instanceId, state, result: result ?? 'running', elapsedSeconds: s.elapsedSeconds, link: s.linkLabel });

  if (result && result !== SETUP_SUCCEEDED) {
    const exitCode = result.replace(/^failed:/, '');
    const tail = (output ?? await readConsole(client, instanceId, s.subject.resultKey)).tail;
    await terminateAfterReport(client, s);
    throw new AmiError(`${s.subject.run} failed with exit code ${exitCode}. ${tail}`);
  }
  // A passed test whose instance is ending (an earlier poll's terminate, answered too late) is done below.
  if ((state === 'terminated' || state === 'shutting-down') && !(result && s.subject.terminates)) {
    throw new AmiError(`${s.subject.instance} is ${state} before its ${s.subject.noun} reported a result. ${(output ?? await readConsole(client, instanceId, s.subject.resultKey)).tail}`);
  }
  if (!result) {
    if (state === 'stopped' || state === 'stopping') {
      const tail = (output ?? await readConsole(client, instanceId, s.subject.resultKey)).tail;
      await terminateAfterReport(client, s);
      throw new AmiError(`${s.subject.instance} is ${state} before its ${s.subject.noun} reported a result. ${tail}`);
    }
    return pendingOrBudgetSpent(client, s, `${s.subject.noun} running`);
  }

  // A test passed: its instance has done its work.
  if (s.subject.terminates) {
    if (!await terminateAfterReport(client, s, true)) return pendingOrBudgetSpent(client, s, 'test passed, terminating the instance (throttled)');
    return done(instanceId, SETUP_SUCCEEDED);
  }

  // Setup succeeded: the builder is imaged once it is in the state the recipe asks for.
  switch (s.stopBy) {
    case StopBy.NONE:
      if (state === 'running') return done(instanceId, SETUP_SUCCEEDED);
      return pendingOrBudgetSpent(client, s, `setup succeeded, instance ${state}`);
    case StopBy.INSTANCE:
      // Windows: EC2Launch's sysprep shuts the instance down itself after reporting success.
      if (state === 'stopped') return done(instanceId, SETUP_SUCCEEDED);
      return pendingOrBudgetSpent(client, s, `setup succeeded, waiting for the instance to shut itself down (${state})`);
    case StopBy.HANDLER:
      if (state === 'stopped') return done(instanceId, SETUP_SUCCEEDED);
      if (state === 'running') await stopBuilder(client, instanceId, s.region);
      return pendingOrBudgetSpent(client, s, `setup succeeded, stopping the instance (${state})`);
  }
}

function done(instanceId: string, setup: string): IsCompleteResponse<Setup> {
  return { IsComplete: true, Data: { InstanceId: instanceId, Setup: setup } };
}

async function describeInstance(client: EC2Client, instanceId: string): Promise<Instance | undefined> {
  try {
    const out = await client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    return out.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === instanceId);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

async function stopBuilder(client: EC2Client, instanceId: string, region: string): Promise<void> {
  try {
    await client.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    log('info', 'builder stop requested', { instanceId, region });
  } catch (err) {
    // Stopping already, or throttled: the next poll looks again.
    if (errorCode(err) === 'IncorrectInstanceState' || isThrottling(err)) return;
    throw toAmiError(err, `Stopping builder instance ${instanceId} in ${region} after its setup succeeded`);
  }
}

/**
 * Terminates a test instance once it reported (or its time is up). True once
 * EC2 accepted (or the instance is gone already); false when throttled, for
 * the next poll to try again. After a failure the deployment fails anyway,
 * and CloudFormation deletes the instance in the rollback: an error is only
 * logged, so that the event shows the test's result. After a pass, an
 * instance that cannot be terminated fails the deployment (whose rollback
 * deletes it) rather than run on unnoticed.
 */
async function terminateAfterReport(client: EC2Client, s: SetupLink, passed = false): Promise<boolean> {
  if (!s.subject.terminates) return true;
  try {
    await client.send(new TerminateInstancesCommand({ InstanceIds: [s.instanceId] }));
    log('info', 'test instance terminated', { instanceId: s.instanceId, region: s.region });
    return true;
  } catch (err) {
    if (errorCode(err) === 'InvalidInstanceID.NotFound' || errorCode(err) === 'IncorrectInstanceState') return true;
    if (isThrottling(err)) return false;
    if (passed) throw toAmiError(err, `${s.subject.run} passed, but terminating the instance`);
    log('warn', 'the test instance could not be terminated; CloudFormation deletes it with the test', { instanceId: s.instanceId, region: s.region, error: errorMessage(err) });
    return true;
  }
}

interface ConsoleOutput {
  /** The last result marker on the console, if any. */
  readonly marker?: string;
  /** One sentence with the last lines of the console, for the stack event. */
  readonly tail: string;
}

/**
 * The builder's console (serial port) output: EC2 returns it base64-encoded;
 * `Latest` asks Nitro instances for the most recent output rather than the
 * buffer captured at the last boot.
 */
export async function readConsole(client: EC2Client, instanceId: string, resultKey: string = Tags.SETUP): Promise<ConsoleOutput> {
  let text: string;
  try {
    const out = await client.send(new GetConsoleOutputCommand({ InstanceId: instanceId, Latest: true }));
    text = out.Output ? Buffer.from(out.Output, 'base64').toString('utf8') : '';
  } catch (err) {
    log('warn', 'console output unavailable', { instanceId, error: errorMessage(err) });
    return { tail: `Its console output could not be read (${errorCode(err) ?? 'error'}: ${errorMessage(err)}); connect with Session Manager to look at the setup's log.` };
  }
  return { marker: lastMarker(text, resultKey), tail: consoleTail(text) };
}

function lastMarker(text: string, resultKey: string): string | undefined {
  const markers = [...text.matchAll(new RegExp(`${resultKey}=(${SETUP_SUCCEEDED}|failed:-?\\d+)`, 'g'))];
  return markers.length ? markers[markers.length - 1][1] : undefined;
}

/** The last non-empty lines of the console, without terminal escapes, joined into one line. */
export function consoleTail(text: string): string {
  const lines = text
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    // eslint-disable-next-line no-control-regex
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  if (lines.length === 0) {
    return 'Its console output is empty so far (EC2 may publish it late); connect with Session Manager to look at the setup\'s log.';
  }
  let tail = lines.slice(-CONSOLE_LINES).join(' | ');
  if (tail.length > CONSOLE_CHARS) tail = '…' + tail.slice(-CONSOLE_CHARS);
  return `Last lines of its console output: ${tail}`;
}

interface SetupLink extends LinkTiming {
  readonly region: string;
  readonly instanceId: string;
  readonly stopBy: StopByValue;
  readonly subject: Subject;
}

function readSetup(props: Props, startedAt: number | undefined): SetupLink {
  const stopBy = str(props.StopBy) ?? StopBy.HANDLER;
  return {
    region: required(props, 'Region'),
    instanceId: required(props, 'InstanceId'),
    stopBy: stopBy as StopByValue,
    subject: subjectOf(props, required(props, 'InstanceId')),
    ...readLinkTiming(props, startedAt),
  };
}

/**
 * Still waiting. A link whose budget is spent hands over to the next one; the
 * last link fails with the setup timeout and the console's last lines.
 */
async function pendingOrBudgetSpent(client: EC2Client, s: SetupLink, state: string): Promise<IsCompleteResponse<Setup>> {
  if (s.elapsedMs + POLL_INTERVAL_MS < s.budgetMs) return { IsComplete: false };
  if (!s.isLastLink) {
    log('info', 'link budget spent; the next link keeps waiting', { instanceId: s.instanceId, state, link: s.linkLabel });
    return done(s.instanceId, 'pending');
  }
  const output = await readConsole(client, s.instanceId, s.subject.resultKey);
  await terminateAfterReport(client, s);
  const within = s.subject.terminates ? `${s.subject.timeoutField} of` : 'the setup timeout of';
  throw new AmiError(
    `${s.subject.run} did not finish within ${within} ${formatDuration(s.totalTimeoutSeconds)} (${state}); raise ${s.subject.timeoutField} if it needs longer. ${output.tail}`,
  );
}
