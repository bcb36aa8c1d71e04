import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { NativeResource } from './cfn-simulator';
import { instanceStandIn, launchTemplateStandIn, lifecycleTemplate, outputImageId, SDK_ATTEMPTS, StandInInstance, useLocalEc2 } from './harness';
import { FaultKind } from './local-ec2';
import { AmiFromInstance, ImageTest, ImageTestOptions, LaunchPermission } from '../../src';

const REGION = 'us-east-1';
const INSTANCE = 'AWS::EC2::Instance';
const TEMPLATE = 'AWS::EC2::LaunchTemplate';
const PARAMETER = 'AWS::SSM::Parameter';
const GRANTEE = '111111111111';
const h = useLocalEc2();

/** What the test instance's user data does once it runs: how long, what it prints, how it ends. */
interface Run {
  /** Polls of the test's wait while the test runs. */
  readonly polls: number;
  readonly console: string;
  /** The test's exit code (0: passed). */
  readonly exitCode?: number;
  /** The test never ends. */
  readonly hangs?: boolean;
}

let run: Run;

/** Plays the test instance's user data against the local endpoint, as the script reports (a tag and a console line). */
function play(instance: StandInInstance): void {
  expect(instance.userData).toMatch(/# cdk-ami test [0-9a-f]{32}:/);
  const result = run.exitCode ? `failed:${run.exitCode}` : 'succeeded';
  if (run.hangs) {
    h.ec2.writeConsole(REGION, instance.instanceId, run.console);
    return;
  }
  h.ec2.scriptInstance(REGION, instance.instanceId, {
    afterDescribes: run.polls,
    tags: { 'cdk-ami:test': result },
    consoleOutput: `${run.console}cdk-ami:test=${result}\n`,
  });
}

/** CloudFormation's SSM parameter, as far as its consumers see it: the value it was last given. */
function parameterStandIn(values: Map<string, string>): NativeResource {
  const put = (props: Record<string, unknown>) => {
    values.set(props.Name as string, props.Value as string);
    return props.Name as string;
  };
  return { create: (_id, props) => put(props), update: (_id, _physical, props) => put(props), delete: (name) => values.delete(name) };
}

function sim() {
  const instances = instanceStandIn(h, REGION, play);
  const parameters = new Map<string, string>();
  const s = h.sim({
    nativeResources: { [INSTANCE]: instances, [TEMPLATE]: launchTemplateStandIn(h, REGION), [PARAMETER]: parameterStandIn(parameters) },
  });
  return Object.assign(s, { testInstances: instances.created, parameters });
}

interface Setup {
  /** The instance the image is made from: a new one is a new image. */
  readonly source: string;
  readonly commands?: string[];
  readonly options?: (stack: Stack) => ImageTestOptions;
  readonly windows?: boolean;
  /** No test at all. */
  readonly untested?: boolean;
}

function template(setup: Setup) {
  return lifecycleTemplate((stack: Stack) => {
    const windows = setup.windows ?? false;
    const check = windows ? ec2.UserData.forWindows() : ec2.UserData.forLinux();
    check.addCommands(...(setup.commands ?? ['curl -fsS http://localhost/']));
    new AmiFromInstance(stack, 'Golden', {
      instanceId: setup.source,
      osType: windows ? ec2.OperatingSystemType.WINDOWS : undefined,
      parameterName: '/golden/latest',
      launchPermissions: [LaunchPermission.account(GRANTEE)],
      removalPolicy: RemovalPolicy.DESTROY,
      test: setup.untested ? undefined : ImageTest.script(check, setup.options?.(stack) ?? { vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 1 }) }),
    });
  }, {}, [INSTANCE, TEMPLATE, PARAMETER]);
}

const instance = (instanceId: string) => h.ec2.instances(REGION).find((i) => i.instanceId === instanceId)!;
const liveImageIds = () => h.ec2.liveImages(REGION).map((i) => i.imageId);
const actions = () => h.ec2.calls.map((c) => c.action);
const launchPermissions = (imageId: string) => h.ec2.image(imageId)!.launchPermissions.map((p) => p.userId);

beforeEach(() => {
  run = { polls: 3, console: 'HTTP/1.1 200 OK\n' };
});

describe('an image\'s test against the local EC2 endpoint', () => {
  test('passes: the test instance runs on the available image, is terminated, and only then is the image shared and handed out', async () => {
    const s = sim();
    const source = h.ec2.addInstance({ region: REGION });
    expect(await s.deploy(template({ source }))).toEqual({ ok: true });

    const imageId = outputImageId(s);
    const [tester] = s.testInstances;
    expect(h.ec2.image(imageId)!.sourceInstanceId).toBe(source);
    // Launched from the new image, in the given network, IMDSv2 only (cdk-ami's unnamed template), t3.micro.
    expect(instance(tester.instanceId)).toMatchObject({ imageId, state: 'terminated', launch: { instanceType: 't3.micro', httpTokens: 'required' } });
    expect(tester.tags['cdk-ami:tester']).toMatch(/^[0-9a-f]{16}$/);
    // The test was waited for, then its instance terminated, then the settings applied and the ID handed out.
    const polls = h.logs.filter((l) => l.message === 'test poll');
    expect(polls.map((p) => p.result)).toEqual([...Array(3).fill('running'), 'succeeded']);
    const calls = actions();
    const terminated = calls.indexOf('TerminateInstances');
    expect(terminated).toBeGreaterThan(calls.indexOf('CreateImage'));
    expect(calls.indexOf('ModifyImageAttribute')).toBeGreaterThan(terminated);
    expect(launchPermissions(imageId)).toEqual([GRANTEE]);
    expect(s.parameters.get('/golden/latest')).toBe(imageId);
  });

  test('a new image whose test fails: rolled back to the previous image, which consumers keep; the new image and test instance are gone', async () => {
    const s = sim();
    const first = h.ec2.addInstance({ region: REGION });
    await s.deploy(template({ source: first }));
    const previous = outputImageId(s);
    const callsBefore = h.ec2.calls.length;

    run = { polls: 1, exitCode: 7, console: 'curl: (7) Failed to connect to localhost port 80\n' };
    const result = await s.deploy(template({ source: h.ec2.addInstance({ region: REGION }) }));

    expect(result.ok).toBe(false);
    expect(result.failedResource).toMatch(/^GoldenTestResultWaiter/);
    expect(result.reason!.split('\n')[0]).toMatch(new RegExp(
      '^The test of LifecycleStack/Golden \\(instance i-[0-9a-f]{17}\\) failed with exit code 7\\. '
      + 'Last lines of its console output: curl: \\(7\\) Failed to connect to localhost port 80 \\| cdk-ami:test=failed:7$'));
    expect(outputImageId(s)).toBe(previous);
    expect(s.parameters.get('/golden/latest')).toBe(previous);
    expect(liveImageIds()).toEqual([previous]);
    expect(s.testInstances.map((t) => instance(t.instanceId).state)).toEqual(['terminated', 'terminated']);
    // The failed image was never shared: its settings wait for the hand-over link.
    expect(h.ec2.calls.slice(callsBefore).filter((c) => c.action === 'ModifyImageAttribute')).toEqual([]);

    // The stack is usable again.
    run = { polls: 1, console: 'ok\n' };
    expect(await s.deploy(template({ source: h.ec2.addInstance({ region: REGION }) }))).toEqual({ ok: true });
    expect(outputImageId(s)).not.toBe(previous);
  });

  test('a first deployment whose test fails leaves nothing behind', async () => {
    run = { polls: 0, exitCode: 1, console: 'nginx: [emerg] unknown directive\n' };
    const s = sim();
    const result = await s.deploy(template({ source: h.ec2.addInstance({ region: REGION }) }));
    expect(result.ok).toBe(false);
    expect(liveImageIds()).toEqual([]);
    expect(h.ec2.snapshots(REGION)).toEqual([]);
    expect(instance(s.testInstances[0].instanceId).state).toBe('terminated');
  });

  test('a test that never ends fails at test.timeout, terminates its instance, and nothing is left', async () => {
    run = { polls: 0, hangs: true, console: 'waiting for port 80...\n' };
    const s = sim();
    const result = await s.deploy(template({
      source: h.ec2.addInstance({ region: REGION }),
      options: (stack) => ({ vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 1 }), timeout: Duration.minutes(10) }),
    }));
    expect(result.ok).toBe(false);
    expect(result.reason!.split('\n')[0]).toMatch(new RegExp(
      '^The test of LifecycleStack/Golden \\(instance i-[0-9a-f]+\\) did not finish within test.timeout of 10 min \\(test running\\); '
      + 'raise test.timeout if it needs longer\\. Last lines of its console output: waiting for port 80\\.\\.\\.$'));
    expect(liveImageIds()).toEqual([]);
    expect(instance(s.testInstances[0].instanceId).state).toBe('terminated');
    expect(actions()).toContain('TerminateInstances');
  });

  test('the consumers\' launch template: the test instance has its settings; a new version tests the same image again', async () => {
    const s = sim();
    const source = h.ec2.addInstance({ region: REGION });
    const withTemplate = (instanceType: string) => template({
      source,
      options: (stack) => ({
        launchTemplate: new ec2.LaunchTemplate(stack, 'Consumers', {
          instanceType: new ec2.InstanceType(instanceType),
          requireImdsv2: true,
          securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'Web', 'sg-0123456789abcdef0'),
        }),
      }),
    });
    expect(await s.deploy(withTemplate('c7i.large'))).toEqual({ ok: true });
    const imageId = outputImageId(s);
    const [first] = s.testInstances;
    expect(instance(first.instanceId).launch).toMatchObject({
      instanceType: 'c7i.large', securityGroupIds: ['sg-0123456789abcdef0'], httpTokens: 'required', launchTemplate: { version: '1' },
    });
    expect(instance(first.instanceId)).toMatchObject({ imageId, state: 'terminated' });
    // The template's own tags reach the instance; cdk-ami's are added.
    expect(first.tags).toMatchObject({ 'Name': 'LifecycleStack/Golden/Test', 'cdk-ami:tester': expect.any(String) });

    expect(await s.deploy(withTemplate('m7i.large'))).toEqual({ ok: true });
    expect(s.testInstances).toHaveLength(2);
    expect(instance(s.testInstances[1].instanceId)).toMatchObject({ imageId, launch: { instanceType: 'm7i.large', launchTemplate: { version: '2' } } });
    expect(outputImageId(s)).toBe(imageId);
    expect(h.ec2.callCount('CreateImage')).toBe(1);
  });

  test('the consumers\' launch template and a VPC: the VPC\'s subnet, the template\'s security group', async () => {
    const s = sim();
    const source = h.ec2.addInstance({ region: REGION });
    expect(await s.deploy(template({
      source,
      options: (stack) => ({
        launchTemplate: new ec2.LaunchTemplate(stack, 'Consumers', {
          instanceType: new ec2.InstanceType('c7i.large'),
          securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'Web', 'sg-0123456789abcdef0'),
        }),
        vpc: ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
          vpcId: 'vpc-0123456789abcdef0', availabilityZones: ['us-east-1a'], privateSubnetIds: ['subnet-0123456789abcdef0'],
        }),
      }),
    }))).toEqual({ ok: true });
    expect(instance(s.testInstances[0].instanceId).launch).toMatchObject({
      subnetId: 'subnet-0123456789abcdef0', securityGroupIds: ['sg-0123456789abcdef0'],
    });
  });

  test('an unchanged stack tests nothing again; a new test script does, on the same image', async () => {
    const s = sim();
    const source = h.ec2.addInstance({ region: REGION });
    await s.deploy(template({ source }));
    const imageId = outputImageId(s);
    const calls = h.ec2.calls.length;
    expect(await s.deploy(template({ source }))).toEqual({ ok: true });
    expect(h.ec2.calls.length).toBe(calls);

    expect(await s.deploy(template({ source, commands: ['systemctl is-active nginx'] }))).toEqual({ ok: true });
    expect(s.testInstances).toHaveLength(2);
    expect(instance(s.testInstances[1].instanceId)).toMatchObject({ imageId, state: 'terminated' });
    expect(outputImageId(s)).toBe(imageId);
    expect(launchPermissions(imageId)).toEqual([GRANTEE]);
  });

  test('a test added to an existing image runs on it without taking its settings away; removing the test keeps them too', async () => {
    const s = sim();
    const source = h.ec2.addInstance({ region: REGION });
    await s.deploy(template({ source, untested: true }));
    const imageId = outputImageId(s);
    expect(launchPermissions(imageId)).toEqual([GRANTEE]);

    // The launch permission is modified once, by the hand-over link (adding what is there): never taken away in between.
    const modifications = () => h.ec2.calls.filter((c) => c.action === 'ModifyImageAttribute').length;
    let before = modifications();
    expect(await s.deploy(template({ source }))).toEqual({ ok: true });
    expect(outputImageId(s)).toBe(imageId);
    expect(instance(s.testInstances[0].instanceId)).toMatchObject({ imageId, state: 'terminated' });
    expect(modifications() - before).toBe(1);
    expect(launchPermissions(imageId)).toEqual([GRANTEE]);

    before = modifications();
    expect(await s.deploy(template({ source, untested: true }))).toEqual({ ok: true });
    expect(outputImageId(s)).toBe(imageId);
    expect(modifications() - before).toBe(1);
    expect(launchPermissions(imageId)).toEqual([GRANTEE]);
  });

  test('Windows: PowerShell on a t3.medium, reported the same way', async () => {
    const s = sim();
    expect(await s.deploy(template({ source: h.ec2.addInstance({ region: REGION, platform: 'windows' }), windows: true, commands: ['Invoke-WebRequest http://localhost/ -UseBasicParsing'] })))
      .toEqual({ ok: true });
    const [tester] = s.testInstances;
    expect(tester.userData).toMatch(/^<powershell># cdk-ami test /);
    expect(instance(tester.instanceId)).toMatchObject({ state: 'terminated', launch: { instanceType: 't3.medium' } });
    expect(h.ec2.image(outputImageId(s))!.state).toBe('available');
  });

  test('deleting the stack deletes the terminated test instance without error and applies the removal policy', async () => {
    const s = sim();
    await s.deploy(template({ source: h.ec2.addInstance({ region: REGION }) }));
    expect(await s.deleteStack()).toEqual({ ok: true });
    expect(liveImageIds()).toEqual([]);
  });

  describe('faults on the test\'s calls end in success or one clear sentence, with nothing leaked', () => {
    const cases: [string, FaultKind][] = (['DescribeInstances', 'GetConsoleOutput', 'TerminateInstances'] as const)
      .flatMap((action) => (['throttle', 'http500', 'unauthorized'] as FaultKind[]).map((kind): [string, FaultKind] => [action, kind]));
    test.each(cases)('%s: %s', async (action, kind) => {
      const s = sim();
      h.ec2.injectFault({ action, times: SDK_ATTEMPTS, kind });
      const result = await s.deploy(template({ source: h.ec2.addInstance({ region: REGION }) }));
      expect(s.testInstances.map((t) => instance(t.instanceId).state)).toEqual(['terminated']);
      if (result.ok) {
        expect(liveImageIds()).toEqual([outputImageId(s)]);
        expect(launchPermissions(outputImageId(s))).toEqual([GRANTEE]);
      } else {
        const sentence = result.reason!.split('\n')[0];
        expect(sentence).toMatch(/^(The test of LifecycleStack\/Golden \(instance i-\w+\) passed, but terminating the instance|Reading test instance i-\w+ of LifecycleStack\/Golden in us-east-1) failed: \w+: .+$/);
        expect(liveImageIds()).toEqual([]);
      }
    });
  });
});
