/**
 * Retention through the CloudFormation simulator and the local EC2 endpoint:
 * each deployment replaces the image (a new source instance), and the
 * Custom::AmiRetention resource retires the earlier generations beyond the
 * policy once the new one is handed over, keeping the previous one (a
 * rollback's target) and any still in use, for images and their copies in
 * other Regions and accounts; stack and construct deletion follow the removal
 * policy for every generation; faults on the sweep's calls end in success
 * with nothing lost that the policy keeps.
 */
import { CfnResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CfnSimulator, FAILING_RESOURCE, StackTemplate } from './cfn-simulator';
import { lifecycleTemplate, SDK_ATTEMPTS, useLocalEc2 } from './harness';
import { ACCOUNT_ID } from './local-ec2';
import { setSleep } from '../../lambda/shared/backoff';
import { AmiFromInstance, CopiedAmi, ImageRetention, ImageRetentionOptions, RetiredImageAction } from '../../src';

const h = useLocalEc2();
const HOME = 'us-east-1';
const AWAY = 'eu-west-1';
const TARGET = '222222222222';
const ROLE_ARN = `arn:aws:iam::${TARGET}:role/cdk-ami-copies`;
const DAY_MS = 24 * 3600 * 1000;

let previousSleep: ReturnType<typeof setSleep>;
beforeEach(() => {
  // The parameter handler reads its value back with pauses: no real waiting here.
  previousSleep = setSleep(async () => {});
});
afterEach(() => setSleep(previousSleep));

interface Options {
  readonly retention?: ImageRetention;
  readonly removalPolicy?: RemovalPolicy;
  /** Adds copies of the image (given the stack and the image). */
  readonly copies?: (stack: Stack, golden: AmiFromInstance) => void;
  /** Leaves the image out (the construct removed). */
  readonly empty?: boolean;
}

/** The stack with one image made from `instanceId`: a new instance replaces the image. */
function template(instanceId: string, options: Options = {}): StackTemplate {
  return lifecycleTemplate((stack) => {
    // CloudFormation keeps a stack with at least one resource; the simulator leaves this one to CloudFormation.
    if (options.empty) return void new CfnResource(stack, 'Placeholder', { type: 'AWS::CloudFormation::WaitConditionHandle' });
    const golden = new AmiFromInstance(stack, 'Golden', { instanceId, retention: options.retention, removalPolicy: options.removalPolicy });
    options.copies?.(stack, golden);
  });
}

/** Deploys `count` generations (a new instance each); returns their image IDs, oldest first. */
async function generations(
  sim: CfnSimulator, count: number, options: Options = {}, region = HOME, account = ACCOUNT_ID, daysBetween = 0,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    if (i > 0) sim.now += daysBetween * DAY_MS;
    expect(await sim.deploy(template(h.ec2.addInstance({ region: HOME }), options))).toEqual({ ok: true });
    ids.push(newest(region, account));
  }
  return ids;
}

function newest(region = HOME, account = ACCOUNT_ID): string {
  const images = h.ec2.liveImages(region, account).sort((a, b) => a.creationDate.localeCompare(b.creationDate) || a.imageId.localeCompare(b.imageId));
  return images[images.length - 1].imageId;
}

function live(region = HOME, account = ACCOUNT_ID): string[] {
  return h.ec2.liveImages(region, account).map((i) => i.imageId).sort();
}

function retained(region = HOME, account = ACCOUNT_ID): string[] {
  return h.ec2.liveImages(region, account).filter((i) => i.tags['cdk-ami:retained'] !== undefined).map((i) => i.imageId).sort();
}

/** Snapshots of images that are gone. */
function orphanSnapshots(region = HOME, account = ACCOUNT_ID): string[] {
  const used = new Set(h.ec2.liveImages(region, account).flatMap((i) => i.blockDeviceMappings.map((d) => d.snapshotId)));
  return h.ec2.snapshots(region, account).map((s) => s.snapshotId).filter((id) => !used.has(id));
}

const keep = (count: number, options?: ImageRetentionOptions) => ImageRetention.keep(count, options);

describe('keep N over several replacements', () => {
  test('keep(2) with DESTROY: the newest two stay; the older ones go with their snapshots, one deployment after they leave the policy', async () => {
    const sim = h.sim();
    const options = { retention: keep(2), removalPolicy: RemovalPolicy.DESTROY };
    const [a, b] = await generations(sim, 2, options);
    // DESTROY would have removed A in the cleanup: it is the rollback target, and the policy keeps it.
    expect(live()).toEqual([a, b].sort());
    expect(retained()).toEqual([a, b].sort());
    expect(h.logs).toContainEqual(expect.objectContaining({ message: 'image retained', imageId: a }));

    const [c, d] = await generations(sim, 2, options);
    expect(live()).toEqual([c, d].sort());
    expect(orphanSnapshots()).toEqual([]);
    const [retention] = sim.logicalIdsOfType('Custom::AmiRetention');
    expect(sim.attribute(retention, 'Kept')).toBe([d, c].join(','));
    expect(sim.attribute(retention, 'Retired')).toBe(b);
  });

  test('keep(1): the previous generation stays for one more deployment, as a rollback needs it', async () => {
    const sim = h.sim();
    const [a, b, c] = await generations(sim, 3, { retention: keep(1) });
    expect(live()).toEqual([b, c].sort());
    expect(live()).not.toContain(a);
  });

  test('a deployment that fails after the hand-over rolls back to the previous generation, which is still there', async () => {
    const sim = h.sim();
    const [, b] = await generations(sim, 2, { retention: keep(1) });
    const failing = template(h.ec2.addInstance({ region: HOME }), { retention: keep(1) });
    const later = { Type: FAILING_RESOURCE, DependsOn: Object.keys(failing.Resources) };
    const result = await sim.deploy({ ...failing, Resources: { ...failing.Resources, Later: later } });
    expect(result).toMatchObject({ ok: false, failedResource: 'Later' });
    expect(sim.status).toBe('UPDATE_ROLLBACK_COMPLETE');
    // The failed deployment's generation is gone; the one it replaced stays (the one before was beyond keep(1)).
    expect(live()).toEqual([b]);
    expect(Object.values(sim.outputs())).toEqual([b]);
  });

  test('without retention nothing changes: RETAIN keeps every generation, untagged', async () => {
    const sim = h.sim();
    const ids = await generations(sim, 3);
    expect(live()).toEqual(ids.sort());
    expect(retained()).toEqual([]);
  });
});

test('keepFor: the generations younger than the age stay, by their creation date', async () => {
  const sim = h.sim();
  // Deployed every 3 days; after the last, the ones 6 days old or younger stay.
  const ids = await generations(sim, 5, { retention: ImageRetention.keepFor(Duration.days(7)) }, HOME, ACCOUNT_ID, 3);
  expect(live()).toEqual(ids.slice(2).sort());
});

describe('each action', () => {
  test('DEPRECATE deprecates the older generations and keeps them', async () => {
    const sim = h.sim();
    const [a, b, c] = await generations(sim, 3, { retention: keep(1, { action: RetiredImageAction.DEPRECATE }) });
    expect(live()).toEqual([a, b, c].sort());
    expect(h.ec2.image(a)!.deprecationTime).toBeDefined();
    expect(h.ec2.image(b)!.deprecationTime).toBeUndefined();
    expect(h.ec2.image(c)!.deprecationTime).toBeUndefined();
  });

  test('DISABLE disables the older generations, keeping their snapshots', async () => {
    const sim = h.sim();
    const [a, b] = await generations(sim, 3, { retention: keep(1, { action: RetiredImageAction.DISABLE }) });
    expect(h.ec2.image(a)!.state).toBe('disabled');
    expect(h.ec2.image(b)!.state).toBe('available');
    expect(orphanSnapshots()).toEqual([]);
  });
});

test('a generation in use is kept and logged; once it is free, an unchanged deployment does not sweep, the next generation\'s does', async () => {
  const sim = h.sim();
  const options = { retention: keep(1) };
  const [a] = await generations(sim, 2, options);
  const instance = h.ec2.addInstance({ region: HOME, imageId: a });
  const third = template(h.ec2.addInstance({ region: HOME }), options);
  expect(await sim.deploy(third)).toEqual({ ok: true });
  expect(live()).toContain(a);
  expect(retained()).toContain(a);
  expect(h.logs).toContainEqual(expect.objectContaining({ message: expect.stringMatching(new RegExp(`^kept: in use by .*instance/${instance}`)), imageId: a }));

  h.ec2.setInstanceState(HOME, instance, 'terminated');
  // The retention resource gets no event from a deployment that changes nothing of it.
  expect(await sim.deploy(third)).toEqual({ ok: true });
  expect(live()).toContain(a);
  const [d] = await generations(sim, 1, options);
  expect(live()).not.toContain(a);
  expect(live()).toHaveLength(2);
  expect(live()).toContain(d);
});

describe('copies follow the same rules, with their parameters', () => {
  test('a copy in another Region (copyTo keeps the source\'s retention): its own generations, and its parameter names the current one', async () => {
    const sim = h.sim();
    const options: Options = { retention: keep(1), copies: (_stack, golden) => golden.copyTo('InEurope', AWAY, { parameterName: '/images/golden' }) };
    await generations(sim, 3, options);
    const copies = live(AWAY);
    expect(copies).toHaveLength(2);
    const [parameter] = h.ec2.parameters(AWAY);
    expect(parameter.value).toBe(newest(AWAY));
    expect(live()).toHaveLength(2);
  });

  test('a copy owned by another account is swept there as the copy role', async () => {
    h.ec2.addRole(ROLE_ARN, [ACCOUNT_ID]);
    const sim = h.sim();
    const options: Options = {
      retention: keep(1),
      copies: (stack, golden) => new CopiedAmi(stack, 'Copy', {
        source: golden,
        region: AWAY,
        account: TARGET,
        retention: keep(1),
        parameterName: '/images/golden',
        copyRole: iam.Role.fromRoleArn(stack, 'CopyRole', ROLE_ARN, { mutable: false }),
      }),
    };
    await generations(sim, 4, options);
    expect(live(AWAY, TARGET)).toHaveLength(2);
    expect(orphanSnapshots(AWAY, TARGET)).toEqual([]);
    expect(h.ec2.parameters(AWAY, TARGET)[0].value).toBe(newest(AWAY, TARGET));
    expect(retained(AWAY, TARGET)).toHaveLength(2);
  });
});

describe('stack deletion follows the removal policy for every generation', () => {
  test('DESTROY reaches every generation of a copy owned by another account, there', async () => {
    h.ec2.addRole(ROLE_ARN, [ACCOUNT_ID]);
    const sim = h.sim();
    await generations(sim, 3, {
      retention: keep(2),
      removalPolicy: RemovalPolicy.DESTROY,
      copies: (stack, golden) => golden.copyTo('Copy', AWAY, {
        account: TARGET, removalPolicy: RemovalPolicy.DESTROY, copyRole: iam.Role.fromRoleArn(stack, 'CopyRole', ROLE_ARN, { mutable: false }),
      }),
    });
    expect(live(AWAY, TARGET)).toHaveLength(2);
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(live(AWAY, TARGET)).toEqual([]);
    expect(h.ec2.snapshots(AWAY, TARGET)).toEqual([]);
    expect(live()).toEqual([]);
  });

  test('DESTROY: every generation goes, with its snapshots', async () => {
    const sim = h.sim();
    await generations(sim, 3, { retention: keep(2), removalPolicy: RemovalPolicy.DESTROY });
    expect(live()).toHaveLength(2);
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(live()).toEqual([]);
    expect(h.ec2.snapshots(HOME)).toEqual([]);
  });

  test('RETAIN: every generation stays, without the retained mark', async () => {
    const sim = h.sim();
    const ids = await generations(sim, 3, { retention: keep(2) });
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(live()).toEqual(ids.slice(1).sort());
    expect(retained()).toEqual([]);
  });
});

describe('changes between deployments', () => {
  test('a smaller count retires the surplus at once, without a replacement', async () => {
    const sim = h.sim();
    const instanceId = h.ec2.addInstance({ region: HOME });
    const ids = [...await generations(sim, 3, { retention: keep(3) })];
    expect(await sim.deploy(template(instanceId, { retention: keep(3) }))).toEqual({ ok: true });
    ids.push(newest());
    expect(live()).toEqual(ids.slice(1).sort());
    // The same image, a smaller count: the current one and the one before it stay.
    expect(await sim.deploy(template(instanceId, { retention: keep(1) }))).toEqual({ ok: true });
    expect(live()).toEqual(ids.slice(2).sort());
  });

  test('retention removed under DESTROY: the earlier generations go, the current one stays with its construct', async () => {
    const sim = h.sim();
    const instanceId = h.ec2.addInstance({ region: HOME });
    await generations(sim, 2, { retention: keep(2), removalPolicy: RemovalPolicy.DESTROY });
    expect(await sim.deploy(template(instanceId, { retention: keep(2), removalPolicy: RemovalPolicy.DESTROY }))).toEqual({ ok: true });
    const current = newest();
    expect(live()).toHaveLength(2);
    expect(await sim.deploy(template(instanceId, { removalPolicy: RemovalPolicy.DESTROY }))).toEqual({ ok: true });
    expect(live()).toEqual([current]);
    expect(retained()).toEqual([]);
  });

  test('retention removed under RETAIN: every generation stays, unmarked, and a later replacement keeps today\'s meaning', async () => {
    const sim = h.sim();
    const instanceId = h.ec2.addInstance({ region: HOME });
    const ids = await generations(sim, 2, { retention: keep(2) });
    expect(await sim.deploy(template(instanceId, { retention: keep(2) }))).toEqual({ ok: true });
    ids.push(newest());
    expect(await sim.deploy(template(instanceId))).toEqual({ ok: true });
    expect(live()).toEqual(ids.slice(1).sort());
    expect(retained()).toEqual([]);
  });

  test('the construct removed under DESTROY: all its generations go', async () => {
    const sim = h.sim();
    await generations(sim, 3, { retention: keep(2), removalPolicy: RemovalPolicy.DESTROY });
    expect(await sim.deploy(template('', { empty: true }))).toEqual({ ok: true });
    expect(live()).toEqual([]);
    expect(h.ec2.snapshots(HOME)).toEqual([]);
  });
});

describe('faults on the sweep\'s calls end in success, with nothing lost that the policy keeps', () => {
  test.each(['DescribeImageReferences', 'DeregisterImage', 'DescribeImages'])(
    '%s failing past the SDK\'s retries: the deployment succeeds, the generation stays, and the next generation\'s sweep retires it', async (action) => {
      const sim = h.sim();
      const options = { retention: keep(1) };
      const [a, b] = await generations(sim, 2, options);
      // DescribeImages also serves the waiter and the operation; fail only the sweep's own call.
      if (action === 'DescribeImages') {
        const instanceId = h.ec2.addInstance({ region: HOME });
        const rendered = template(instanceId, options);
        const withoutRetention = template(instanceId);
        expect(await sim.deploy(withoutRetention)).toEqual({ ok: true });
        h.ec2.injectFault({ action, times: SDK_ATTEMPTS, kind: 'http503' });
        expect(await sim.deploy(rendered)).toEqual({ ok: true });
        expect(h.logs).toContainEqual(expect.objectContaining({ level: 'warn', message: expect.stringContaining('retention sweep skipped') }));
      } else {
        h.ec2.injectFault({ action, times: SDK_ATTEMPTS, kind: 'http503' });
        const [c] = await generations(sim, 1, options);
        expect(live()).toEqual([a, b, c].sort());
        expect(h.logs).toContainEqual(expect.objectContaining({ level: 'warn', imageId: a, message: expect.stringContaining('kept: retiring it failed') }));
      }
      await generations(sim, 1, options);
      expect(live()).toHaveLength(2);
      expect(live()).not.toContain(a);
    });

  test.each([
    ['DisableImage', RetiredImageAction.DISABLE, 'disabled'],
    ['EnableImageDeprecation', RetiredImageAction.DEPRECATE, 'deprecated'],
  ] as const)('%s failing past the SDK\'s retries: logged, and the next generation\'s sweep retires it', async (action, retired, state) => {
    const sim = h.sim();
    const options = { retention: keep(1, { action: retired }) };
    const [a] = await generations(sim, 2, options);
    h.ec2.injectFault({ action, times: SDK_ATTEMPTS, kind: 'http500' });
    await generations(sim, 1, options);
    const isRetired = () => (state === 'disabled' ? h.ec2.image(a)!.state === 'disabled' : h.ec2.image(a)!.deprecationTime !== undefined);
    expect(isRetired()).toBe(false);
    expect(h.logs).toContainEqual(expect.objectContaining({ level: 'warn', imageId: a, message: expect.stringContaining('kept: retiring it failed') }));
    await generations(sim, 1, options);
    expect(isRetired()).toBe(true);
  });

  test('CreateTags failing past the SDK\'s retries: logged, and RETAIN keeps the unmarked generation in the cleanup', async () => {
    const sim = h.sim();
    const [a] = await generations(sim, 1, { retention: keep(2) });
    h.ec2.injectFault({ action: 'CreateTags', times: 2 * SDK_ATTEMPTS, kind: 'http503' });
    const [b] = await generations(sim, 1, { retention: keep(2) });
    expect(live()).toEqual([a, b].sort());
    expect(h.logs).toContainEqual(expect.objectContaining({ level: 'warn', message: expect.stringContaining('could not mark the generation as retained') }));
  });

  test('throttling on every call of the sweep is absorbed by the SDK', async () => {
    const sim = h.sim();
    await generations(sim, 2, { retention: keep(1) });
    h.ec2.injectFault({ action: 'DescribeImageReferences', times: SDK_ATTEMPTS - 1, kind: 'throttle' });
    h.ec2.injectFault({ action: 'CreateTags', times: SDK_ATTEMPTS - 1, kind: 'throttle' });
    await generations(sim, 1, { retention: keep(1) });
    expect(live()).toHaveLength(2);
    expect(retained()).toHaveLength(2);
  });
});
