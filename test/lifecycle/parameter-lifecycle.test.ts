/**
 * The aws:ec2:image parameter of a copy in another Region, written there by
 * the provider (Custom::AmiParameter): through the real handlers, the local
 * endpoint's Parameter Store in each Region and the CloudFormation simulator.
 */
import { RemovalPolicies, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { FAILING_RESOURCE } from './cfn-simulator';
import { lifecycleTemplate, outputImageId, SDK_ATTEMPTS, sourceImage, useLocalEc2 } from './harness';
import { setSleep } from '../../lambda/shared/backoff';
import { Ami, AmiFromInstance, CopiedAmi, LaunchPermission } from '../../src';

const h = useLocalEc2();
const HOME = 'us-east-1';
const AWAY = 'eu-west-1';
const NAME = '/images/golden';

let previousSleep: ReturnType<typeof setSleep>;
const slept: number[] = [];
beforeEach(() => {
  slept.length = 0;
  previousSleep = setSleep(async (ms) => { slept.push(ms); });
});
afterEach(() => setSleep(previousSleep));

type CopyProps = Partial<ConstructorParameters<typeof CopiedAmi>[2]>;
function copyTemplate(sourceId: string, props: CopyProps = {}, extra = {}) {
  return lifecycleTemplate((stack) => new CopiedAmi(stack, 'Copy', {
    source: Ami.fromImageId(stack, 'Source', sourceId), region: AWAY, parameterName: NAME, ...props,
  }), extra);
}

describe('the parameter of a copy in another Region', () => {
  test('is written in the copy\'s Region as an aws:ec2:image String, tagged as the stack\'s, with the copy\'s ID', async () => {
    const source = await sourceImage(h);
    const sim = h.sim();
    expect(await sim.deploy(copyTemplate(source))).toEqual({ ok: true });
    const [parameter] = h.ec2.parameters(AWAY);
    expect(parameter).toMatchObject({ name: NAME, value: outputImageId(sim), type: 'String', dataType: 'aws:ec2:image', version: 1 });
    expect(parameter.tags['cdk-ami:stack']).toBe(sim.stackId);
    expect(h.ec2.parameters(HOME)).toEqual([]);
    const [resource] = sim.logicalIdsOfType('Custom::AmiParameter');
    expect(sim.physicalId(resource)).toBe(`arn:aws:ssm:${AWAY}:123456789012:parameter/images/golden`);
  });

  test('one stack images an instance, copies it to two Regions and publishes one parameter in each', async () => {
    const instanceId = h.ec2.addInstance({ region: HOME });
    const sim = h.sim();
    expect(await sim.deploy(lifecycleTemplate((stack) => {
      const golden = new AmiFromInstance(stack, 'Golden', { instanceId, parameterName: NAME });
      golden.copyTo('Away', AWAY, { parameterName: NAME });
      golden.copyTo('ApSoutheast2', 'ap-southeast-2', { parameterName: NAME });
    }, {}, ['AWS::SSM::Parameter']))).toEqual({ ok: true });
    for (const region of [AWAY, 'ap-southeast-2']) {
      expect(h.ec2.parameters(region).map((p) => [p.name, p.value])).toEqual([[NAME, h.ec2.liveImages(region)[0].imageId]]);
    }
    // The stack's own Region keeps CloudFormation's AWS::SSM::Parameter, which the local endpoint does not run.
    expect(h.ec2.parameters(HOME)).toEqual([]);
  });

  test('a replacement copy updates the value in place; DESTROY then removes the old copy', async () => {
    const source = await sourceImage(h);
    const sim = h.sim();
    await sim.deploy(copyTemplate(source, { removalPolicy: RemovalPolicy.DESTROY }));
    const first = outputImageId(sim);
    const [resource] = sim.logicalIdsOfType('Custom::AmiParameter');
    const physicalId = sim.physicalId(resource);
    expect(await sim.deploy(copyTemplate(source, { removalPolicy: RemovalPolicy.DESTROY, encrypted: true }))).toEqual({ ok: true });
    const second = outputImageId(sim);
    expect(second).not.toBe(first);
    expect(h.ec2.parameters(AWAY)).toEqual([expect.objectContaining({ name: NAME, value: second, version: 2 })]);
    expect(sim.physicalId(resource)).toBe(physicalId);
    expect(h.ec2.liveImages(AWAY).map((i) => i.imageId)).toEqual([second]);
  });

  test('a new parameterName makes the new parameter and deletes the old one (DESTROY), or keeps it (RETAIN)', async () => {
    const source = await sourceImage(h);
    const destroy = h.sim();
    await destroy.deploy(copyTemplate(source, { removalPolicy: RemovalPolicy.DESTROY, parameterName: '/images/old' }));
    expect(await destroy.deploy(copyTemplate(source, { removalPolicy: RemovalPolicy.DESTROY, parameterName: '/images/new' }))).toEqual({ ok: true });
    expect(h.ec2.parameters(AWAY).map((p) => p.name)).toEqual(['/images/new']);

    const retain = h.sim({ stackName: 'Retaining' });
    await retain.deploy(copyTemplate(source, { parameterName: 'kept' }));
    expect(await retain.deploy(copyTemplate(source, { parameterName: 'current' }))).toEqual({ ok: true });
    expect(h.ec2.parameters(AWAY).map((p) => p.name).sort()).toEqual(['/images/new', 'current', 'kept']);
  });

  test('deleting the stack deletes the parameter with DESTROY and keeps it with RETAIN', async () => {
    const source = await sourceImage(h);
    const destroy = h.sim();
    await destroy.deploy(copyTemplate(source, { removalPolicy: RemovalPolicy.DESTROY }));
    expect(await destroy.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.parameters(AWAY)).toEqual([]);

    const retain = h.sim();
    await retain.deploy(copyTemplate(source));
    const kept = outputImageId(retain);
    expect(await retain.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.parameters(AWAY)).toEqual([expect.objectContaining({ name: NAME, value: kept })]);
    expect(h.logs).toContainEqual(expect.objectContaining({ message: 'parameter retained', name: NAME }));
  });

  test('a later failure rolls the parameter back despite RETAIN, with the copy', async () => {
    const source = await sourceImage(h);
    const sim = h.sim();
    const ids = Object.keys(copyTemplate(source).Resources);
    const result = await sim.deploy(copyTemplate(source, {}, { Later: { Type: FAILING_RESOURCE, DependsOn: ids } }));
    expect(result).toMatchObject({ ok: false, failedResource: 'Later' });
    expect(h.ec2.parameters(AWAY)).toEqual([]);
    expect(h.ec2.liveImages(AWAY)).toEqual([]);
  });

  test('a rolled-back update restores the previous image ID', async () => {
    const source = await sourceImage(h);
    const sim = h.sim();
    await sim.deploy(copyTemplate(source));
    const first = outputImageId(sim);
    const ids = Object.keys(copyTemplate(source, { encrypted: true }).Resources);
    const result = await sim.deploy(copyTemplate(source, { encrypted: true }, { Later: { Type: FAILING_RESOURCE, DependsOn: ids } }));
    expect(result.ok).toBe(false);
    expect(h.ec2.parameters(AWAY)).toEqual([expect.objectContaining({ name: NAME, value: first })]);
    expect(h.ec2.image(first)!.state).toBe('available');
  });

  test('a parameter someone else made is neither overwritten nor deleted: the deployment fails with one sentence', async () => {
    const source = await sourceImage(h);
    h.ec2.putParameter(AWAY, { name: NAME, value: 'ami-0fffffffffffffff0', tags: { team: 'other' } });
    const sim = h.sim();
    const result = await sim.deploy(copyTemplate(source, { removalPolicy: RemovalPolicy.DESTROY }));
    expect(result.reason!.split('\n')[0]).toBe(
      `SSM parameter ${NAME} already exists in ${AWAY} and was not made by this resource; cdk-ami does not overwrite it. Choose another parameterName, or delete the parameter.`,
    );
    expect(h.ec2.parameters(AWAY)).toEqual([expect.objectContaining({ name: NAME, value: 'ami-0fffffffffffffff0', version: 1 })]);
    expect(h.ec2.callCount('DeleteParameter')).toBe(0);
    // The copy made for it is rolled back.
    expect(h.ec2.liveImages(AWAY)).toEqual([]);
  });

  test('a parameter RETAIN kept is taken over when the same resource is created again', async () => {
    const source = await sourceImage(h);
    const sim = h.sim();
    await sim.deploy(copyTemplate(source));
    await sim.deleteStack();
    const kept = h.ec2.parameters(AWAY)[0];
    // The same stack (ID) and resource: a stack re-created after a delete gets a new ID, so this is the retry of a create.
    expect(await sim.deploy(copyTemplate(source))).toEqual({ ok: true });
    expect(h.ec2.parameters(AWAY)).toEqual([expect.objectContaining({ name: NAME, value: outputImageId(sim), version: kept.version + 1 })]);
  });

  test('SSM validates the image after PutParameter: the handler reads the value back until it is there', async () => {
    const source = await sourceImage(h);
    h.ec2.parameterValidationReads = 2;
    const sim = h.sim();
    expect(await sim.deploy(copyTemplate(source))).toEqual({ ok: true });
    expect(h.ec2.parameters(AWAY)).toEqual([expect.objectContaining({ value: outputImageId(sim) })]);
    expect(h.ec2.callCount('GetParameter')).toBe(3);
    expect(slept).toEqual([2500, 2500]);
  });

  test('a create that fails after PutParameter removes the parameter it wrote, so a later stack can have the name', async () => {
    const source = await sourceImage(h);
    h.ec2.injectFault({ action: 'GetParameter', times: SDK_ATTEMPTS, kind: 'http500' });
    const result = await h.sim().deploy(copyTemplate(source));
    expect(result).toMatchObject({ ok: false });
    expect(result.reason!.split('\n')[0]).toMatch(new RegExp(`^Reading SSM parameter ${NAME} in ${AWAY} failed: InternalServerError`));
    expect(h.ec2.parameters(AWAY)).toEqual([]);
    expect(h.ec2.liveImages(AWAY)).toEqual([]);

    const later = h.sim();
    expect(await later.deploy(copyTemplate(source))).toEqual({ ok: true });
    expect(h.ec2.parameters(AWAY)).toEqual([expect.objectContaining({ name: NAME, value: outputImageId(later) })]);
  });

  test('a PutParameter that took effect while every answer was a 5xx: the parameter it wrote is this request\'s, and is taken over', async () => {
    const source = await sourceImage(h);
    h.ec2.injectFault({ action: 'PutParameter', times: SDK_ATTEMPTS, kind: 'tookEffect500' });
    const sim = h.sim();
    expect(await sim.deploy(copyTemplate(source, { removalPolicy: RemovalPolicy.DESTROY }))).toEqual({ ok: true });
    expect(h.ec2.parameters(AWAY)).toEqual([expect.objectContaining({ name: NAME, value: outputImageId(sim) })]);
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.parameters(AWAY)).toEqual([]);
  });

  test('copyTo shares the copy with accounts, organizations and OUs in its own Region, and publishes it there', async () => {
    const org = 'arn:aws:organizations::123456789012:organization/o-abcdefghij';
    const ou = 'arn:aws:organizations::123456789012:ou/o-abcdefghij/ou-ab12-cdef3456';
    const instanceId = h.ec2.addInstance({ region: HOME });
    const sim = h.sim();
    expect(await sim.deploy(lifecycleTemplate((stack) => {
      const golden = new AmiFromInstance(stack, 'Golden', { instanceId });
      const copy = golden.copyTo('Away', AWAY, { parameterName: NAME, launchPermissions: [LaunchPermission.organization(org)] });
      copy.addLaunchPermission(LaunchPermission.organizationalUnit(ou), LaunchPermission.account('111122223333'));
    }))).toEqual({ ok: true });
    const [copy] = h.ec2.liveImages(AWAY);
    expect(copy.launchPermissions).toEqual(expect.arrayContaining([{ organizationArn: org }, { organizationalUnitArn: ou }, { userId: '111122223333' }]));
    expect(h.ec2.liveImages(HOME)[0].launchPermissions).toEqual([]);
    expect(h.ec2.parameters(AWAY)).toEqual([expect.objectContaining({ value: copy.imageId })]);
  });
});

describe('the parameter in the stack\'s Region (CloudFormation\'s AWS::SSM::Parameter, as its DeletionPolicy says)', () => {
  /** CloudFormation's own parameters, in a map of their own: the local endpoint does not run AWS::SSM::Parameter. */
  function cloudFormationParameters() {
    const live = new Map<string, unknown>();
    const nativeResources = {
      'AWS::SSM::Parameter': {
        create: (_: string, props: Record<string, unknown>) => { live.set(String(props.Name), props.Value); return String(props.Name); },
        delete: (name: string) => { live.delete(name); },
      },
    };
    return { live, nativeResources };
  }
  const imageWithParameter = (instanceId: string, policies: (stack: Stack) => void, extra = {}) => lifecycleTemplate((stack) => {
    new AmiFromInstance(stack, 'Golden', { instanceId, parameterName: NAME });
    policies(stack);
  }, extra, ['AWS::SSM::Parameter']);

  test('under RemovalPolicies.of(stack).retain(), a deployment that rolls back removes the parameter it created', async () => {
    const instanceId = h.ec2.addInstance({ region: HOME });
    const { live, nativeResources } = cloudFormationParameters();
    const sim = h.sim({ nativeResources });
    const retain = (stack: Stack) => RemovalPolicies.of(stack).retain();
    const ids = Object.keys(imageWithParameter(instanceId, retain).Resources);
    const result = await sim.deploy(imageWithParameter(instanceId, retain, { Later: { Type: FAILING_RESOURCE, DependsOn: ids } }));
    expect(result).toMatchObject({ ok: false, failedResource: 'Later' });
    expect([...live.keys()]).toEqual([]);
    expect(h.ec2.liveImages(HOME)).toEqual([]);
  });

  test('under the image\'s RETAIN the stack\'s deletion keeps it, as it keeps the image; under DESTROY both go', async () => {
    for (const [policy, kept] of [[RemovalPolicy.RETAIN, 1], [RemovalPolicy.DESTROY, 0]] as const) {
      const instanceId = h.ec2.addInstance({ region: HOME });
      const { live, nativeResources } = cloudFormationParameters();
      const sim = h.sim({ nativeResources });
      expect(await sim.deploy(imageWithParameter(instanceId, (stack) => RemovalPolicies.of(stack).apply(policy)))).toEqual({ ok: true });
      expect([...live.keys()]).toEqual([NAME]);
      expect(await sim.deleteStack()).toEqual({ ok: true });
      expect([policy, live.size]).toEqual([policy, kept]);
    }
  });
});
