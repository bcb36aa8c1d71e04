/**
 * The removal rule, for every kind of data cdk-ami holds (images, copies,
 * stored objects, parameters): destroy when the policy is DESTROY, or while
 * the stack rolls back the deployment that created the data; RETAIN keeps it
 * otherwise. The policy may be set three ways, and all three reach the
 * handler: the construct's `removalPolicy` prop, `applyRemovalPolicy`, and
 * aws-cdk-lib's `RemovalPolicies` aspect. The simulator honours each
 * resource's DeletionPolicy as CloudFormation does, so a policy that became a
 * `DeletionPolicy: Retain` instead would keep what a rollback must remove.
 */
import { IResource, RemovalPolicies, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { FAILING_RESOURCE, StackTemplate } from './cfn-simulator';
import { Harness, lifecycleTemplate, sourceImage, useLocalEc2 } from './harness';
import { setSleep } from '../../lambda/shared/backoff';
import { Ami, AmiFromInstance, CopiedAmi, StoredAmi } from '../../src';

const h = useLocalEc2();
const HOME = 'us-east-1';
const AWAY = 'eu-west-1';
const BUCKET = 'stored-amis';

let previousSleep: ReturnType<typeof setSleep>;
beforeEach(() => {
  // The parameter handler reads its value back with pauses: no real waiting here.
  previousSleep = setSleep(async () => {});
});
afterEach(() => setSleep(previousSleep));

/** One kind of data: how a stack makes it with a policy prop, what gets `applyRemovalPolicy`, and how much of it exists. */
interface Kind {
  readonly name: string;
  /** Made before the stack, once per test (a copy's source). */
  readonly prepare?: (h: Harness) => Promise<string>;
  /** Builds the data holder with `removalPolicy` as its prop (undefined: the default); returns what `applyRemovalPolicy` is called on. */
  readonly build: (stack: Stack, removalPolicy: RemovalPolicy | undefined, prepared: string) => IResource;
  /** How many of this kind's data the local endpoint holds. */
  readonly count: () => number;
}

const KINDS: Kind[] = [
  {
    name: 'an image (AmiFromInstance)',
    build: (stack, removalPolicy) => new AmiFromInstance(stack, 'Image', { instanceId: h.ec2.addInstance({ region: HOME }), removalPolicy }),
    count: () => h.ec2.liveImages(HOME).length,
  },
  {
    name: 'a copy (CopiedAmi)',
    prepare: (harness) => sourceImage(harness),
    build: (stack, removalPolicy, source) => new CopiedAmi(stack, 'Copy', { source: Ami.fromImageId(stack, 'Source', source), region: AWAY, removalPolicy }),
    count: () => h.ec2.liveImages(AWAY).length,
  },
  {
    name: 'a stored object (StoredAmi)',
    prepare: (harness) => sourceImage(harness),
    build: (stack, removalPolicy, source) => new StoredAmi(stack, 'Stored', {
      image: Ami.fromImageId(stack, 'Source', source), bucket: s3.Bucket.fromBucketName(stack, 'Bucket', BUCKET), removalPolicy,
    }),
    count: () => h.ec2.s3Objects().filter((o) => o.bucket === BUCKET).length,
  },
  {
    name: 'a parameter (of a copy in another Region)',
    prepare: (harness) => sourceImage(harness),
    // The copy keeps the default (RETAIN); the prop is the copy's, which the parameter follows, and applyRemovalPolicy is the parameter's own.
    build: (stack, removalPolicy, source) => new CopiedAmi(stack, 'Copy', {
      source: Ami.fromImageId(stack, 'Source', source), region: AWAY, parameterName: '/images/golden', removalPolicy,
    }).parameter!,
    count: () => h.ec2.parameters(AWAY).length,
  },
];

/** With `fail`, the template gets a resource created after all others that fails the deployment. */
function failingAfter(template: StackTemplate, fail: boolean): StackTemplate {
  if (!fail) return template;
  return { ...template, Resources: { ...template.Resources, Later: { Type: FAILING_RESOURCE, DependsOn: Object.keys(template.Resources) } } };
}

/** The three ways a policy reaches a construct. */
const WAYS: [string, (stack: Stack, kind: Kind, policy: RemovalPolicy, prepared: string) => void][] = [
  ['the removalPolicy prop', (stack, kind, policy, prepared) => { kind.build(stack, policy, prepared); }],
  ['applyRemovalPolicy', (stack, kind, policy, prepared) => kind.build(stack, undefined, prepared).applyRemovalPolicy(policy)],
  ['the RemovalPolicies aspect', (stack, kind, policy, prepared) => {
    kind.build(stack, undefined, prepared);
    RemovalPolicies.of(stack).apply(policy);
  }],
];

const CASES = KINDS.flatMap((kind) => WAYS.map(([way, apply]) => [kind.name, way, kind, apply] as const));

describe.each(CASES)('%s, policy set by %s', (_name, _way, kind, apply) => {
  /** Deploys the kind with `policy`; with `failLater`, a resource created after all of it fails the deployment. */
  async function deployed(policy: RemovalPolicy, failLater = false) {
    const prepared = kind.prepare ? await kind.prepare(h) : '';
    const before = kind.count();
    const template = failingAfter(lifecycleTemplate((stack) => apply(stack, kind, policy, prepared)), failLater);
    const sim = h.sim();
    return { sim, result: await sim.deploy(template), before };
  }

  test('RETAIN keeps it when the stack is deleted', async () => {
    const { sim, result, before } = await deployed(RemovalPolicy.RETAIN);
    expect(result).toEqual({ ok: true });
    expect(kind.count()).toBe(before + 1);
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(kind.count()).toBe(before + 1);
  });

  test('the rollback of the deployment that created it removes it despite RETAIN', async () => {
    const { sim, result, before } = await deployed(RemovalPolicy.RETAIN, true);
    expect(result).toMatchObject({ ok: false, failedResource: 'Later' });
    expect(sim.status).toBe('ROLLBACK_COMPLETE');
    expect(kind.count()).toBe(before);
  });

  test('DESTROY removes it when the stack is deleted', async () => {
    const { sim, result, before } = await deployed(RemovalPolicy.DESTROY);
    expect(result).toEqual({ ok: true });
    expect(kind.count()).toBe(before + 1);
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(kind.count()).toBe(before);
  });
});

describe('storeTo with DESTROY, then applyRemovalPolicy(RETAIN): the last word holds, with the rule', () => {
  async function deploy(failLater: boolean) {
    const source = await sourceImage(h);
    const template = failingAfter(lifecycleTemplate((stack) => {
      const stored = Ami.fromImageId(stack, 'Source', source).storeTo('Stored', s3.Bucket.fromBucketName(stack, 'Bucket', BUCKET), { removalPolicy: RemovalPolicy.DESTROY });
      stored.applyRemovalPolicy(RemovalPolicy.RETAIN);
    }), failLater);
    const sim = h.sim();
    return { sim, result: await sim.deploy(template) };
  }

  test('deleting the stack keeps the object', async () => {
    const { sim, result } = await deploy(false);
    expect(result).toEqual({ ok: true });
    expect(await sim.deleteStack()).toEqual({ ok: true });
    expect(h.ec2.s3Objects()).toHaveLength(1);
  });

  test('the rollback of the deployment that stored it removes it', async () => {
    const { result } = await deploy(true);
    expect(result).toMatchObject({ ok: false, failedResource: 'Later' });
    expect(h.ec2.s3Objects()).toEqual([]);
  });
});
