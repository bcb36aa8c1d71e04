/**
 * The README's rollout recipe, deployed twice through the CloudFormation
 * simulator: an image with a test, a launch template that takes the image's
 * ID, and an Auto Scaling group that rolls onto each new template version,
 * waiting for every new instance's signal. A second deployment that bakes a
 * new image either rolls out, fails its test, or fails its rollout; the group
 * must always end on an image that exists, and the previous image must exist
 * until the rollout has succeeded.
 */
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AutoScalingGroups, GroupInstance, GroupPolicies, autoScalingGroupStandIn } from './auto-scaling';
import { StackTemplate } from './cfn-simulator';
import { instanceStandIn, launchTemplateStandIn, lifecycleTemplate, outputImageId, StandInInstance, useLocalEc2 } from './harness';
import { AmiFromInstance, ImageTest } from '../../src';
import { ResourceTypes, Tags } from '../../src/private/contract';

const REGION = 'us-east-1';
const INSTANCE = 'AWS::EC2::Instance';
const LAUNCH_TEMPLATE = 'AWS::EC2::LaunchTemplate';
const GROUP = 'AWS::AutoScaling::AutoScalingGroup';
const h = useLocalEc2();

/** The recipe's stack with the image made from `instanceId`. */
function template(instanceId: string, removalPolicy = RemovalPolicy.DESTROY): StackTemplate {
  return lifecycleTemplate((stack: Stack) => {
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
      vpcId: 'vpc-0123456789abcdef0',
      availabilityZones: ['us-east-1a', 'us-east-1b'],
      privateSubnetIds: ['subnet-0000000000000000a', 'subnet-0000000000000000b'],
    });
    const settings: ec2.LaunchTemplateProps = { instanceType: new ec2.InstanceType('t3.small'), requireImdsv2: true };
    const check = ec2.UserData.forLinux();
    check.addCommands('curl -fsS http://localhost/');
    const image = new AmiFromInstance(stack, 'Web', {
      instanceId,
      test: ImageTest.script(check, { launchTemplate: new ec2.LaunchTemplate(stack, 'TestTemplate', settings), vpc }),
      removalPolicy,
    });
    new autoscaling.AutoScalingGroup(stack, 'WebGroup', {
      vpc,
      launchTemplate: new ec2.LaunchTemplate(stack, 'WebTemplate', {
        ...settings, machineImage: image, role: new iam.Role(stack, 'WebRole', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') }),
      }),
      minCapacity: 2,
      maxCapacity: 4,
      updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({ maxBatchSize: 1, minInstancesInService: 2 }),
      signals: autoscaling.Signals.waitForMinCapacity(),
    });
  }, {}, [INSTANCE, LAUNCH_TEMPLATE, GROUP]);
}

/** How the next test instance ends: its exit code (0: passes). */
let testExitCode: number;
/** Whether an instance of the group launched from an image serves (and so signals success). */
let serves: (instance: GroupInstance) => boolean;
/** The state of every image of this stack each time the group launched an instance. */
let imagesAtLaunch: Record<string, string | undefined>[];

/** The test instance, as the test's script reports on itself. */
function runTest(instance: StandInInstance): void {
  const result = testExitCode === 0 ? 'succeeded' : `failed:${testExitCode}`;
  h.ec2.scriptInstance(REGION, instance.instanceId, {
    afterDescribes: 1,
    tags: { [Tags.TEST]: result },
    consoleOutput: `checking...\n${Tags.TEST}=${result}\n`,
  });
}

interface Rollout {
  readonly sim: ReturnType<typeof h.sim>;
  readonly group: AutoScalingGroups;
  readonly testInstances: StandInInstance[];
}

/** A simulator whose CloudFormation runs the test instance, the launch templates and the group. */
function rollout(first: StackTemplate): Rollout {
  const [groupId] = Object.keys(first.Resources).filter((id) => first.Resources[id].Type === GROUP);
  const policies = first.Resources[groupId] as GroupPolicies;
  const group = autoScalingGroupStandIn(h, REGION, policies, (instance) => {
    imagesAtLaunch.push(Object.fromEntries(h.ec2.images(REGION).map((i) => [i.imageId, i.state])));
    return serves(instance);
  });
  const testInstances = instanceStandIn(h, REGION, runTest);
  const sim = h.sim({ nativeResources: { [INSTANCE]: testInstances, [LAUNCH_TEMPLATE]: launchTemplateStandIn(h, REGION), [GROUP]: group } });
  return { sim, group, testInstances: testInstances.created };
}

/** The image the group's launch template version names (what a scale-out would launch). */
function groupImage(r: Rollout, stackTemplate: StackTemplate): string {
  const [groupId] = r.sim.logicalIdsOfType(GROUP);
  const groupTemplate = stackTemplate.Resources[groupId].Properties!.LaunchTemplate as { LaunchTemplateId: { Ref: string } };
  const templateLogicalId = groupTemplate.LaunchTemplateId.Ref;
  const version = r.sim.attribute(templateLogicalId, 'LatestVersionNumber')!;
  return h.ec2.launchTemplateVersion(REGION, r.sim.physicalId(templateLogicalId)!, version).imageId!;
}

const state = (imageId: string) => h.ec2.image(imageId)?.state;
const imagesOfGroup = (r: Rollout) => [...new Set(r.group.instances().map((i) => i.imageId))];
const running = (ids: string[]) => ids.filter((id) => h.ec2.instances(REGION).find((i) => i.instanceId === id)?.state === 'running');

beforeEach(() => {
  testExitCode = 0;
  serves = () => true;
  imagesAtLaunch = [];
});

/** The first deployment: image A, tested, and the group on it. */
async function deployFirst(removalPolicy?: RemovalPolicy): Promise<{ r: Rollout; a: string; first: StackTemplate }> {
  const first = template(h.ec2.addInstance({ region: REGION }), removalPolicy);
  const r = rollout(first);
  expect(await r.sim.deploy(first)).toEqual({ ok: true });
  const a = outputImageId(r.sim);
  expect(imagesOfGroup(r)).toEqual([a]);
  expect(r.group.instances()).toHaveLength(2);
  return { r, a, first };
}

describe('rolling out a tested image (README: Rolling out a tested image)', () => {
  test('a good rollout: tested, then the group replaces its instances; the previous image goes only after the group succeeded', async () => {
    const { r, a } = await deployFirst();
    const second = template(h.ec2.addInstance({ region: REGION }));
    imagesAtLaunch = [];

    expect(await r.sim.deploy(second)).toEqual({ ok: true });
    const b = outputImageId(r.sim);
    expect(b).not.toBe(a);
    expect(groupImage(r, second)).toBe(b);
    expect(imagesOfGroup(r)).toEqual([b]);
    expect(r.group.instances()).toHaveLength(2);
    // Every launch of the rolling update saw both images available: B tested, A still there to roll back to.
    expect(imagesAtLaunch).toHaveLength(2);
    for (const images of imagesAtLaunch) expect(images).toMatchObject({ [a]: 'available', [b]: 'available' });
    // The test ran before the group saw B, and its instance is gone.
    expect(r.testInstances).toHaveLength(2);
    expect(running(r.testInstances.map((i) => i.instanceId))).toEqual([]);
    // A is removed in the cleanup phase, after the group's update completed.
    const [groupId] = r.sim.logicalIdsOfType(GROUP);
    const [operation] = r.sim.logicalIdsOfType(ResourceTypes.AMI_FROM_INSTANCE);
    const groupUpdated = r.sim.events.findIndex((e) => e.logicalId === groupId && e.status === 'UPDATE_COMPLETE');
    const previousDeleted = r.sim.events.findIndex((e) => e.logicalId === operation && e.status === 'DELETE_COMPLETE');
    expect(groupUpdated).toBeGreaterThan(-1);
    expect(previousDeleted).toBeGreaterThan(groupUpdated);
    expect(state(a)).toBe('deregistered');
  });

  test('RETAIN keeps the previous image after a good rollout', async () => {
    const { r, a } = await deployFirst(RemovalPolicy.RETAIN);
    expect(await r.sim.deploy(template(h.ec2.addInstance({ region: REGION }), RemovalPolicy.RETAIN))).toEqual({ ok: true });
    expect(imagesOfGroup(r)).toEqual([outputImageId(r.sim)]);
    expect(state(a)).toBe('available');
  });

  test('a failed test: the group never sees the new image, which the rollback removes with the test instance', async () => {
    const { r, a, first } = await deployFirst();
    testExitCode = 3;
    imagesAtLaunch = [];

    const result = await r.sim.deploy(template(h.ec2.addInstance({ region: REGION })));
    expect(result.ok).toBe(false);
    expect(result.reason!.split('\n')[0]).toMatch(/exit code 3/);
    expect(imagesAtLaunch).toEqual([]);
    expect(r.sim.events.filter((e) => e.logicalId.startsWith('WebTemplate') && e.status === 'UPDATE_COMPLETE')).toEqual([]);
    expect(groupImage(r, first)).toBe(a);
    expect(imagesOfGroup(r)).toEqual([a]);
    expect(h.ec2.liveImages(REGION).map((i) => i.imageId)).toEqual([a]);
    expect(running(r.testInstances.map((i) => i.instanceId))).toEqual([]);
  });

  test('a failed rollout: the group\'s new instance sends no signal, the rollback puts the group back on the previous image, which exists, and removes the new one', async () => {
    const { r, a, first } = await deployFirst();
    const [groupId] = r.sim.logicalIdsOfType(GROUP);
    // The new image passed its test, but the group's instances do not serve from it.
    serves = (instance) => instance.imageId === a;
    imagesAtLaunch = [];

    const result = await r.sim.deploy(template(h.ec2.addInstance({ region: REGION })));
    expect(result).toMatchObject({ ok: false, failedResource: groupId });
    expect(result.reason).toMatch(/^Received 0 SUCCESS signal\(s\) out of 1/);
    expect(r.sim.status).toBe('UPDATE_ROLLBACK_COMPLETE');
    // The group tried the new image once (it had passed its test), while the previous image was available.
    const [b] = r.group.launches.filter((l) => l.imageId !== a).map((l) => l.imageId);
    expect(b).toBeDefined();
    expect(imagesAtLaunch[0]).toMatchObject({ [a]: 'available', [b]: 'available' });
    // Rolled back: the group names the previous version, whose image exists, and runs only instances of it.
    expect(groupImage(r, first)).toBe(a);
    expect(state(a)).toBe('available');
    expect(imagesOfGroup(r)).toEqual([a]);
    expect(r.group.instances()).toHaveLength(2);
    // The new image and the test instance are gone.
    expect(state(b)).toBe('deregistered');
    expect(h.ec2.liveImages(REGION).map((i) => i.imageId)).toEqual([a]);
    expect(running(r.testInstances.map((i) => i.instanceId))).toEqual([]);
  });
});
