import { RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { FAILING_RESOURCE } from './cfn-simulator';
import { lifecycleTemplate, SDK_ATTEMPTS, useLocalEc2 } from './harness';
import { ACCOUNT_ID } from './local-ec2';
import { AmiFromInstance, CopiedAmi, CopyOptions, LaunchPermission } from '../../src';

const h = useLocalEc2();
const HOME = 'us-east-1';
const TARGET = '222222222222';
const OTHER = '333333333333';
const ROLE_ARN = `arn:aws:iam::${TARGET}:role/cdk-ami-copies`;
const NAME = '/images/golden';
const OTHER_ROLE_ARN = `arn:aws:iam::${OTHER}:role/cdk-ami-copies`;

/**
 * An image of the stack (another account may only copy those: the provider shares only the
 * stack's own snapshots) and, unless `withCopy` is false, its copy made by TARGET.
 */
function copyTemplate(instanceId: string, props: Partial<CopyOptions> & { region?: string } = {}, extra = {}, withCopy = true) {
  return lifecycleTemplate((stack) => {
    const source = new AmiFromInstance(stack, 'Source', { instanceId });
    if (!withCopy) return;
    new CopiedAmi(stack, 'Copy', {
      source,
      region: 'eu-west-1',
      account: TARGET,
      copyRole: iam.Role.fromRoleArn(stack, 'CopyRole', ROLE_ARN, { mutable: false }),
      removalPolicy: RemovalPolicy.DESTROY,
      ...props,
    });
  }, extra);
}

function sourceShare(sourceId: string) {
  const image = h.ec2.image(sourceId)!;
  const snapshots = h.ec2.snapshots(HOME).filter((s) => image.blockDeviceMappings.some((d) => d.snapshotId === s.snapshotId));
  return {
    launch: image.launchPermissions.map((p) => p.userId),
    volume: snapshots.flatMap((s) => s.createVolumePermissions.map((p) => p.userId)),
  };
}

describe('copies owned by another account, against the local EC2 endpoint', () => {
  beforeEach(() => {
    h.ec2.addRole(ROLE_ARN, [ACCOUNT_ID]);
  });

  test('the target account makes the copy in its Region, and deleting the stack removes it there and withdraws the share', async () => {
    const sim = h.sim();
    expect(await sim.deploy(copyTemplate(h.ec2.addInstance({ region: HOME })))).toEqual({ ok: true });

    const source = h.ec2.liveImages(HOME)[0].imageId;
    const [copy] = h.ec2.liveImages('eu-west-1', TARGET);
    expect(copy).toMatchObject({ ownerId: TARGET, state: 'available', sourceImageId: source });
    expect(Object.values(sim.outputs())).toContain(copy.imageId);
    expect(copy.tags).toMatchObject({ 'cdk-ami:stack': sim.stackId });
    expect(h.ec2.snapshots('eu-west-1', TARGET).every((s) => s.tags['cdk-ami:stack'] === sim.stackId)).toBe(true);
    // Nothing lands in the stack's own account in that Region.
    expect(h.ec2.liveImages('eu-west-1')).toEqual([]);
    // The target account may launch the source and read its snapshots while the copy exists.
    expect(sourceShare(source)).toEqual({ launch: [TARGET], volume: [TARGET] });
    expect(h.ec2.callCount('AssumeRole')).toBeGreaterThan(0);

    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.liveImages('eu-west-1', TARGET)).toEqual([]);
    expect(h.ec2.snapshots('eu-west-1', TARGET)).toEqual([]);
    expect(sourceShare(source)).toEqual({ launch: [], volume: [] });
    expect(h.ec2.image(source)!.state).toBe('available');
  });

  test('one stack puts an image in several Regions and accounts and removes all of it again', async () => {
    h.ec2.addRole(OTHER_ROLE_ARN, [ACCOUNT_ID]);
    const instanceId = h.ec2.addInstance({ region: HOME });
    const sim = h.sim();
    // Every copy publishes its ID in its own Region and account.
    const template = lifecycleTemplate((stack) => {
      const golden = new AmiFromInstance(stack, 'Golden', { instanceId, removalPolicy: RemovalPolicy.DESTROY });
      golden.copyTo('EuWest1', 'eu-west-1', { removalPolicy: RemovalPolicy.DESTROY, parameterName: NAME });
      for (const [account, roleArn] of [[TARGET, ROLE_ARN], [OTHER, OTHER_ROLE_ARN]]) {
        golden.copyTo(`EuWest1In${account}`, 'eu-west-1', {
          account, copyRole: iam.Role.fromRoleArn(stack, `Role${account}`, roleArn, { mutable: false }), removalPolicy: RemovalPolicy.DESTROY, parameterName: NAME,
        });
      }
      golden.copyTo('ApSoutheast2', 'ap-southeast-2', {
        account: TARGET, copyRole: iam.Role.fromRoleArn(stack, 'RoleAgain', ROLE_ARN, { mutable: false }), removalPolicy: RemovalPolicy.DESTROY, parameterName: NAME,
      });
    });
    expect(await sim.deploy(template)).toEqual({ ok: true });
    const ids = Object.values(sim.outputs()) as string[];
    expect(ids).toHaveLength(5);
    const placed: [string, string][] = [[HOME, ACCOUNT_ID], ['eu-west-1', ACCOUNT_ID], ['eu-west-1', TARGET], ['eu-west-1', OTHER], ['ap-southeast-2', TARGET]];
    for (const [region, account] of placed) {
      const live = h.ec2.liveImages(region, account);
      expect(live.map((i) => [i.state, ids.includes(i.imageId)])).toEqual([['available', true]]);
      if (region !== HOME) expect(h.ec2.parameters(region, account).map((p) => [p.name, p.value])).toEqual([[NAME, live[0].imageId]]);
    }

    expect(await sim.deleteStack()).toEqual({ ok: true });
    for (const [region, account] of placed) {
      expect(h.ec2.liveImages(region, account)).toEqual([]);
      expect(h.ec2.snapshots(region, account)).toEqual([]);
      expect(h.ec2.parameters(region, account)).toEqual([]);
    }
  });

  test('a failed deployment rolls the copy and its parameter back in the target account despite RETAIN, and withdraws the share', async () => {
    const instanceId = h.ec2.addInstance({ region: HOME });
    const sim = h.sim();
    // The source first, so that the failed update rolls back only the copy.
    expect(await sim.deploy(copyTemplate(instanceId, {}, {}, false))).toEqual({ ok: true });
    const source = h.ec2.liveImages(HOME)[0].imageId;
    const ids = Object.keys(copyTemplate(instanceId, { parameterName: NAME }).Resources);
    const later = { Later: { Type: FAILING_RESOURCE, DependsOn: ids } };
    const result = await sim.deploy(copyTemplate(instanceId, { removalPolicy: RemovalPolicy.RETAIN, parameterName: NAME }, later));
    expect(result).toMatchObject({ ok: false, failedResource: 'Later' });
    expect(h.ec2.parameters('eu-west-1', TARGET)).toEqual([]);
    expect(h.ec2.liveImages('eu-west-1', TARGET)).toEqual([]);
    expect(h.ec2.snapshots('eu-west-1', TARGET)).toEqual([]);
    expect(sourceShare(source)).toEqual({ launch: [], volume: [] });
    expect(h.ec2.image(source)!.state).toBe('available');
  });

  test('RETAIN keeps the copy in the target account; the share is withdrawn, the copy does not need it', async () => {
    const sim = h.sim();
    expect(await sim.deploy(copyTemplate(h.ec2.addInstance({ region: HOME }), { removalPolicy: RemovalPolicy.RETAIN }))).toEqual({ ok: true });
    const source = h.ec2.liveImages(HOME)[0].imageId;
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.liveImages('eu-west-1', TARGET).map((i) => i.state)).toEqual(['available']);
    expect(sourceShare(source)).toEqual({ launch: [], volume: [] });
  });

  test('a launch permission the source itself gives the target account stays when the copy goes', async () => {
    const instanceId = h.ec2.addInstance({ region: HOME });
    const sim = h.sim();
    const golden = (withCopy: boolean) => lifecycleTemplate((stack) => {
      const image = new AmiFromInstance(stack, 'Golden', { instanceId, launchPermissions: [LaunchPermission.account(TARGET)] });
      if (withCopy) {
        image.copyTo('EuWest1', 'eu-west-1', {
          account: TARGET, copyRole: iam.Role.fromRoleArn(stack, 'Role', ROLE_ARN, { mutable: false }), removalPolicy: RemovalPolicy.DESTROY,
        });
      }
    });
    expect(await sim.deploy(golden(true))).toEqual({ ok: true });
    const source = h.ec2.liveImages(HOME)[0].imageId;
    expect(sourceShare(source)).toEqual({ launch: [TARGET], volume: [TARGET] });
    expect(await sim.deploy(golden(false))).toEqual({ ok: true });
    expect(h.ec2.liveImages('eu-west-1', TARGET)).toEqual([]);
    // The copy's share of the snapshots goes; the image's own launch permission stays.
    expect(sourceShare(source)).toEqual({ launch: [TARGET], volume: [] });
  });

  test('a role that does not trust the stack\'s account fails the copy with one sentence and leaves nothing shared', async () => {
    const instanceId = h.ec2.addInstance({ region: HOME });
    h.ec2.addRole(ROLE_ARN, [OTHER]);
    const sim = h.sim();
    expect(await sim.deploy(copyTemplate(instanceId, {}, {}, false))).toEqual({ ok: true });
    const source = h.ec2.liveImages(HOME)[0].imageId;
    const result = await sim.deploy(copyTemplate(instanceId));
    expect(result.ok).toBe(false);
    expect(result.reason!.split('\n')[0]).toMatch(new RegExp(`^The provider could not assume role ${ROLE_ARN}: User: .* is not authorized to perform: sts:AssumeRole`));
    expect(h.ec2.liveImages('eu-west-1', TARGET)).toEqual([]);
    expect(sourceShare(source)).toEqual({ launch: [], volume: [] });
  });

  describe('a share of the source that fails half-way withdraws what it added, and the reason is one sentence per failure', () => {
    /** The source is deployed first: the failed update that adds the copy rolls back only the copy. */
    async function failShare(fault: Parameters<typeof h.ec2.injectFault>[0]) {
      const instanceId = h.ec2.addInstance({ region: HOME });
      const sim = h.sim();
      expect(await sim.deploy(copyTemplate(instanceId, {}, {}, false))).toEqual({ ok: true });
      const source = h.ec2.liveImages(HOME)[0].imageId;
      h.ec2.injectFault(fault);
      const result = await sim.deploy(copyTemplate(instanceId));
      expect(result.ok).toBe(false);
      expect(sourceShare(source)).toEqual({ launch: [], volume: [] });
      expect(h.ec2.liveImages('eu-west-1', TARGET)).toEqual([]);
      return { source, reason: result.reason!.split('\n')[0] };
    }

    test('the snapshots\' share answers 5xx every time', async () => {
      const { source, reason } = await failShare({ action: 'ModifySnapshotAttribute', times: SDK_ATTEMPTS, kind: 'http503' });
      expect(reason).toBe(
        `Sharing source image ${source} in ${HOME} with account ${TARGET}, so that it can copy it, failed: EC2 answered HTTP 503 (Unavailable: The server is temporarily unavailable). Try the deployment again later.`,
      );
    });

    test('the snapshots\' share is refused (an SCP, say)', async () => {
      const { source, reason } = await failShare({ action: 'ModifySnapshotAttribute', times: 1, kind: 'unauthorized' });
      expect(reason).toBe(
        `Sharing source image ${source} in ${HOME} with account ${TARGET}, so that it can copy it, was refused: UnauthorizedOperation: You are not authorized to perform this operation. Encoded authorization failure message: AAAA. Check the policies that apply to the provider's role (service control policies, permissions boundaries).`,
      );
    });
  });

  test('a cross-account CopyImage that took effect while every answer was a 5xx: the copy is adopted, and deleting the stack removes it and withdraws the share', async () => {
    const instanceId = h.ec2.addInstance({ region: HOME });
    const sim = h.sim();
    expect(await sim.deploy(copyTemplate(instanceId, {}, {}, false))).toEqual({ ok: true });
    const source = h.ec2.liveImages(HOME)[0].imageId;
    h.ec2.injectFault({ action: 'CopyImage', times: SDK_ATTEMPTS, kind: 'tookEffect503' });
    expect(await sim.deploy(copyTemplate(instanceId))).toEqual({ ok: true });
    const copies = h.ec2.liveImages('eu-west-1', TARGET).map((i) => i.imageId);
    expect(copies).toHaveLength(1);
    expect(Object.values(sim.outputs())).toContain(copies[0]);
    expect(sourceShare(source)).toEqual({ launch: [TARGET], volume: [TARGET] });
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.liveImages('eu-west-1', TARGET)).toEqual([]);
  });

  describe('the parameter of the copy', () => {
    const AWAY = 'ap-southeast-2';
    const withParameter = (instanceId: string, props: Partial<CopyOptions> = {}, extra = {}) =>
      copyTemplate(instanceId, { region: AWAY, parameterName: NAME, ...props }, extra);
    /** The stack outputs its source's ID too: the copy's is the one of an image of the target account. */
    const copyId = (sim: ReturnType<typeof h.sim>) => (Object.values(sim.outputs()) as string[]).find((id) => h.ec2.image(id)?.ownerId === TARGET)!;

    test('is written in the copy\'s account and Region as the copy role, updated in place when the copy is replaced, and deleted with it (DESTROY)', async () => {
      const instanceId = h.ec2.addInstance({ region: HOME });
      const sim = h.sim();
      expect(await sim.deploy(withParameter(instanceId))).toEqual({ ok: true });
      const source = h.ec2.liveImages(HOME)[0].imageId;
      const first = copyId(sim);
      const [parameter] = h.ec2.parameters(AWAY, TARGET);
      expect(parameter).toMatchObject({ name: NAME, value: first, dataType: 'aws:ec2:image', version: 1 });
      expect(parameter.tags['cdk-ami:stack']).toBe(sim.stackId);
      // Nothing in the stack's own account.
      expect(h.ec2.parameters(AWAY)).toEqual([]);
      const [resource] = sim.logicalIdsOfType('Custom::AmiParameter');
      expect(sim.physicalId(resource)).toBe(`arn:aws:ssm:${AWAY}:${TARGET}:parameter/images/golden`);

      expect(await sim.deploy(withParameter(instanceId, { encrypted: true }))).toEqual({ ok: true });
      const second = copyId(sim);
      expect(second).not.toBe(first);
      expect(h.ec2.parameters(AWAY, TARGET)).toEqual([expect.objectContaining({ name: NAME, value: second, version: 2 })]);
      expect(sim.physicalId(resource)).toBe(`arn:aws:ssm:${AWAY}:${TARGET}:parameter/images/golden`);
      expect(h.ec2.liveImages(AWAY, TARGET).map((i) => i.imageId)).toEqual([second]);

      expect(await sim.deleteStack()).toEqual({ ok: true });
      expect(h.ec2.parameters(AWAY, TARGET)).toEqual([]);
      expect(h.ec2.liveImages(AWAY, TARGET)).toEqual([]);
      expect(sourceShare(source)).toEqual({ launch: [], volume: [] });
    });

    test('RETAIN keeps it in the copy\'s account, with the copy', async () => {
      const sim = h.sim();
      expect(await sim.deploy(withParameter(h.ec2.addInstance({ region: HOME }), { removalPolicy: RemovalPolicy.RETAIN }))).toEqual({ ok: true });
      const kept = copyId(sim);
      expect(await sim.deleteStack()).toEqual({ ok: true });
      expect(h.ec2.parameters(AWAY, TARGET)).toEqual([expect.objectContaining({ name: NAME, value: kept })]);
      expect(h.ec2.liveImages(AWAY, TARGET).map((i) => i.imageId)).toEqual([kept]);
    });

    test('a parameter someone else made in the copy\'s account is left alone: the deployment fails with one sentence and rolls the copy back', async () => {
      h.ec2.putParameter(AWAY, { name: NAME, value: 'ami-0fffffffffffffff0', tags: { team: 'other' } }, TARGET);
      const sim = h.sim();
      const result = await sim.deploy(withParameter(h.ec2.addInstance({ region: HOME })));
      expect(result.reason!.split('\n')[0]).toBe(
        `SSM parameter ${NAME} already exists in ${AWAY} of account ${TARGET} and was not made by this resource; cdk-ami does not overwrite it. Choose another parameterName, or delete the parameter.`,
      );
      expect(h.ec2.parameters(AWAY, TARGET)).toEqual([expect.objectContaining({ name: NAME, value: 'ami-0fffffffffffffff0', version: 1 })]);
      expect(h.ec2.liveImages(AWAY, TARGET)).toEqual([]);
    });
  });
});
