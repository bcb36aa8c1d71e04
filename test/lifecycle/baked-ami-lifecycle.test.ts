import { Duration, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { instanceStandIn, lifecycleTemplate, outputImageId, SDK_ATTEMPTS, StandInInstance, useLocalEc2 } from './harness';
import { BakedAmi, BakedAmiProps, BeforeImaging, InstanceAction } from '../../src';

const REGION = 'us-east-1';
const INSTANCE = 'AWS::EC2::Instance';
const h = useLocalEc2();

/** What the builder's user data does once it runs: how long, what it prints, how it ends. */
interface Boot {
  /** Polls of the setup wait while the setup runs. */
  readonly polls: number;
  readonly console: string;
  /** The exit code of the setup (0: success). */
  readonly exitCode?: number;
  /** The image has no AWS CLI: the result is only the console line. */
  readonly consoleOnly?: boolean;
  /** Windows sysprep: the instance shuts itself down after reporting success. */
  readonly shutsDown?: boolean;
  /** The setup never ends. */
  readonly hangs?: boolean;
}

let boot: Boot;

/** Plays the builder's user data against the local endpoint, as the script of BakedAmi reports. */
function play(instance: StandInInstance): void {
  expect(instance.userData).toMatch(/# cdk-ami recipe [0-9a-f]{32}:/);
  const result = boot.exitCode ? `failed:${boot.exitCode}` : 'succeeded';
  if (boot.hangs) {
    h.ec2.writeConsole(REGION, instance.instanceId, boot.console);
    return;
  }
  h.ec2.scriptInstance(REGION, instance.instanceId, {
    afterDescribes: boot.polls,
    tags: boot.consoleOnly ? undefined : { 'cdk-ami:setup': result },
    consoleOutput: `${boot.console}cdk-ami:setup=${result}\n`,
    state: boot.shutsDown && !boot.exitCode ? 'stopped' : undefined,
  });
}

function sim() {
  const builders = instanceStandIn(h, REGION, play);
  const s = h.sim({ nativeResources: { [INSTANCE]: builders } });
  return Object.assign(s, { builders: builders.created });
}

type Props = Partial<BakedAmiProps>;
function template(props: Props = {}, commands = ['dnf install -y nginx'], appTags: Record<string, string> = {}) {
  return lifecycleTemplate((stack: Stack) => {
    for (const [key, value] of Object.entries(appTags)) Tags.of(stack.node.root).add(key, value);
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1 });
    const setup = ec2.UserData.forLinux();
    setup.addCommands(...commands);
    new BakedAmi(stack, 'Web', {
      machineImage: ec2.MachineImage.genericLinux({ [REGION]: 'ami-0123456789abcdef0' }),
      vpc,
      setup,
      ...props,
    });
  }, {}, [INSTANCE]);
}

function instanceState(instanceId: string): string {
  return h.ec2.instances(REGION).find((i) => i.instanceId === instanceId)!.state;
}

function liveImageIds(): string[] {
  return h.ec2.liveImages(REGION).map((i) => i.imageId);
}

const actions = () => h.ec2.calls.map((c) => c.action);

beforeEach(() => {
  boot = { polls: 4, console: 'Installing nginx...\nComplete!\n' };
});

describe('BakedAmi lifecycle against the local EC2 endpoint', () => {
  test('bakes: waits for the setup, stops the builder, images it stopped, then terminates it', async () => {
    const s = sim();
    expect(await s.deploy(template())).toEqual({ ok: true });

    const [builder] = s.builders;
    const image = h.ec2.image(outputImageId(s))!;
    expect(image.state).toBe('available');
    expect(image.sourceInstanceId).toBe(builder.instanceId);
    // The setup was waited for: polls while it ran, then the result.
    const polls = h.logs.filter((l) => l.message === 'setup poll');
    expect(polls.slice(0, 4).map((p) => p.result)).toEqual(Array(4).fill('running'));
    expect(polls[4]).toMatchObject({ result: 'succeeded', state: 'running' });
    // Stopped by the handler before CreateImage, terminated after the image is available.
    const calls = actions();
    expect(calls.indexOf('StopInstances')).toBeGreaterThan(-1);
    expect(calls.indexOf('StopInstances')).toBeLessThan(calls.indexOf('CreateImage'));
    expect(calls.lastIndexOf('TerminateInstances')).toBeGreaterThan(calls.lastIndexOf('CreateImage'));
    expect(instanceState(builder.instanceId)).toBe('terminated');
    expect(builder.tags['cdk-ami:builder']).toMatch(/^[0-9a-f]{16}$/);
  });

  test('a CreateImage that took effect while every answer was a 5xx bakes one image, the one it started', async () => {
    h.ec2.injectFault({ action: 'CreateImage', times: SDK_ATTEMPTS, kind: 'tookEffect500' });
    const s = sim();
    expect(await s.deploy(template())).toEqual({ ok: true });
    expect(liveImageIds()).toEqual([outputImageId(s)]);
    expect(h.ec2.image(outputImageId(s))!.state).toBe('available');
  });

  test('a setup that fails: the event has the exit code and the console\'s last lines, and nothing is left', async () => {
    boot = { polls: 2, exitCode: 1, console: 'Installing nginxx...\nError: Unable to find a match: nginxx\n' };
    const s = sim();
    const result = await s.deploy(template({}, ['dnf install -y nginxx']));

    expect(result.ok).toBe(false);
    expect(result.failedResource).toMatch(/^WebSetupWaiter1/);
    const sentence = result.reason!.split('\n')[0];
    expect(sentence).toMatch(/^The setup of builder instance i-[0-9a-f]{17} failed with exit code 1\. Last lines of its console output: .*Error: Unable to find a match: nginxx \| cdk-ami:setup=failed:1$/);
    expect(liveImageIds()).toEqual([]);
    expect(h.ec2.callCount('CreateImage')).toBe(0);
    // The rollback deleted the builder.
    expect(instanceState(s.builders[0].instanceId)).toBe('terminated');
  });

  test('a setup that never ends fails at the setup timeout with the console\'s last lines', async () => {
    boot = { polls: 0, hangs: true, console: 'Downloading 4 GB of dependencies...\n' };
    const s = sim();
    const result = await s.deploy(template({ setupTimeout: Duration.minutes(10) }));
    expect(result.ok).toBe(false);
    expect(result.reason!.split('\n')[0]).toMatch(
      /^The setup of builder instance i-[0-9a-f]+ did not finish within the setup timeout of 10 min \(setup running\); raise setupTimeout if it needs longer\. Last lines of its console output: Downloading 4 GB of dependencies\.\.\.$/,
    );
    expect(liveImageIds()).toEqual([]);
    expect(instanceState(s.builders[0].instanceId)).toBe('terminated');
  });

  test('an image without the AWS CLI reports through its console line alone', async () => {
    boot = { polls: 1, consoleOnly: true, console: 'ok\n' };
    const s = sim();
    expect(await s.deploy(template())).toEqual({ ok: true });
    expect(h.ec2.image(outputImageId(s))!.state).toBe('available');
    expect(h.ec2.instances(REGION)[0].tags['cdk-ami:setup']).toBeUndefined();
  });

  test('an unchanged recipe bakes nothing; a changed one bakes a new image on a new builder', async () => {
    const s = sim();
    await s.deploy(template({ removalPolicy: RemovalPolicy.DESTROY }));
    const first = outputImageId(s);
    const callsAfterFirst = h.ec2.calls.length;

    // Unchanged: CloudFormation sends nothing; the terminated builder is not touched.
    expect(await s.deploy(template({ removalPolicy: RemovalPolicy.DESTROY }))).toEqual({ ok: true });
    expect(h.ec2.calls.length).toBe(callsAfterFirst);
    expect(s.builders).toHaveLength(1);
    expect(outputImageId(s)).toBe(first);

    // Changed setup: a new builder (new logical ID), a new image; the old image goes (DESTROY).
    expect(await s.deploy(template({ removalPolicy: RemovalPolicy.DESTROY }, ['dnf install -y nginx', 'systemctl enable nginx']))).toEqual({ ok: true });
    expect(s.builders).toHaveLength(2);
    expect(s.builders[1].logicalId).not.toBe(s.builders[0].logicalId);
    const second = outputImageId(s);
    expect(second).not.toBe(first);
    expect(h.ec2.image(second)!.sourceInstanceId).toBe(s.builders[1].instanceId);
    expect(liveImageIds()).toEqual([second]);
    expect(h.ec2.instances(REGION).map((i) => i.state)).toEqual(['terminated', 'terminated']);

    // Changed instance type (an in-place update for CloudFormation): also a new builder and image.
    expect(await s.deploy(template({ removalPolicy: RemovalPolicy.DESTROY, instanceType: new ec2.InstanceType('c7i.large') },
      ['dnf install -y nginx', 'systemctl enable nginx']))).toEqual({ ok: true });
    expect(s.builders).toHaveLength(3);
    expect(outputImageId(s)).not.toBe(second);
  });

  test('an app-wide tag updates the image and its snapshots in place; the builder is not touched, and a new setup still rebakes', async () => {
    const s = sim();
    await s.deploy(template());
    const first = outputImageId(s);
    const builderCalls = () => h.ec2.calls.filter((c) => /Instances$/.test(c.action)).length;
    const before = builderCalls();

    expect(await s.deploy(template({}, undefined, { CostCenter: '1002' }))).toEqual({ ok: true });
    expect(outputImageId(s)).toBe(first);
    expect(s.builders).toHaveLength(1);
    expect(h.ec2.callCount('CreateImage')).toBe(1);
    expect(builderCalls()).toBe(before);
    expect(h.ec2.image(first)!.tags.CostCenter).toBe('1002');
    const snapshots = h.ec2.snapshots(REGION);
    expect(snapshots.length).toBeGreaterThan(0);
    for (const snapshot of snapshots) expect(snapshot.tags.CostCenter).toBe('1002');
    expect(s.builders[0].tags.CostCenter).toBeUndefined();

    expect(await s.deploy(template({}, ['dnf install -y httpd'], { CostCenter: '1002' }))).toEqual({ ok: true });
    expect(s.builders).toHaveLength(2);
    const second = outputImageId(s);
    expect(second).not.toBe(first);
    expect(h.ec2.image(second)!.tags.CostCenter).toBe('1002');
  });

  test('a rebake whose setup fails rolls back to the previous image, and removes the new builder', async () => {
    const s = sim();
    await s.deploy(template());
    const first = outputImageId(s);
    boot = { polls: 1, exitCode: 2, console: 'curl: (6) Could not resolve host\n' };
    const result = await s.deploy(template({}, ['curl -fsS https://example.invalid/install.sh | sh']));
    expect(result.ok).toBe(false);
    expect(result.reason!.split('\n')[0]).toMatch(/failed with exit code 2\. Last lines of its console output: curl: \(6\) Could not resolve host \| cdk-ami:setup=failed:2$/);
    expect(outputImageId(s)).toBe(first);
    expect(liveImageIds()).toEqual([first]);
    expect(s.builders.map((b) => instanceState(b.instanceId))).toEqual(['terminated', 'terminated']);
    // The stack is usable again: the next change bakes.
    boot = { polls: 1, console: 'ok\n' };
    expect(await s.deploy(template({}, ['dnf install -y httpd']))).toEqual({ ok: true });
    expect(outputImageId(s)).not.toBe(first);
  });

  test('a setupTimeout change with as many links updates the waits in place and bakes nothing', async () => {
    const s = sim();
    await s.deploy(template());
    const first = outputImageId(s);
    expect(await s.deploy(template({ setupTimeout: Duration.minutes(90) }))).toEqual({ ok: true });
    expect(outputImageId(s)).toBe(first);
    expect(s.builders).toHaveLength(1);
    expect(h.ec2.callCount('CreateImage')).toBe(1);
  });

  test('with RETAIN, a rebake keeps the previous image', async () => {
    const s = sim();
    await s.deploy(template());
    const first = outputImageId(s);
    await s.deploy(template({}, ['dnf install -y httpd']));
    expect(liveImageIds().sort()).toEqual([first, outputImageId(s)].sort());
  });

  test('instanceAction STOP leaves the builder stopped; NONE with BeforeImaging.REBOOT leaves it running', async () => {
    const stop = sim();
    await stop.deploy(template({ instanceAction: InstanceAction.STOP }));
    expect(instanceState(stop.builders[0].instanceId)).toBe('stopped');

    const stopsBefore = h.ec2.callCount('StopInstances');
    const none = sim();
    await none.deploy(template({ instanceAction: InstanceAction.NONE, beforeImaging: BeforeImaging.REBOOT }));
    expect(instanceState(none.builders[0].instanceId)).toBe('running');
    // Imaged running: CreateImage reboots it (NoReboot false), nobody stopped it.
    expect(h.ec2.callCount('StopInstances')).toBe(stopsBefore);
  });

  test('deleting the stack deletes the terminated builder without error, and applies the removal policy', async () => {
    const s = sim();
    await s.deploy(template({ removalPolicy: RemovalPolicy.DESTROY }));
    expect(await s.deleteStack()).toEqual({ ok: true });
    expect(liveImageIds()).toEqual([]);
    expect(h.ec2.snapshots(REGION)).toEqual([]);
    expect(instanceState(s.builders[0].instanceId)).toBe('terminated');
  });

  test('Windows: the builder shuts itself down (sysprep) after reporting success; nobody else stops it', async () => {
    boot = { polls: 3, shutsDown: true, console: 'EC2Launch: sysprep\n' };
    const s = sim();
    const windowsTemplate = lifecycleTemplate((stack: Stack) => {
      const setup = ec2.UserData.forWindows();
      setup.addCommands('Install-WindowsFeature Web-Server');
      new BakedAmi(stack, 'Iis', {
        machineImage: ec2.MachineImage.genericWindows({ [REGION]: 'ami-0123456789abcdef0' }),
        vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 1 }),
        setup,
      });
    }, {}, [INSTANCE]);
    expect(await s.deploy(windowsTemplate)).toEqual({ ok: true });
    expect(s.builders[0].userData).toMatch(/^<powershell>/);
    expect(h.ec2.callCount('StopInstances')).toBe(0);
    expect(h.ec2.image(outputImageId(s))!.state).toBe('available');
    expect(instanceState(s.builders[0].instanceId)).toBe('terminated');
  });
});
