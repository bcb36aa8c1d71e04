import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { resetClients } from '../../lambda/shared/clients';
import { setLogSink } from '../../lambda/shared/log';
import { newStack } from '../util';
import { CfnSimulator, dependencies, NativeResource, SimulatorOptions, StackTemplate, TemplateResource } from './cfn-simulator';
import { LaunchTemplateData, LocalEc2, LocalImage, fastRetryStrategy, withEndpointEnv } from './local-ec2';
import { AmiFromInstance } from '../../src';

/**
 * The part of a synthesized template CloudFormation hands to our handlers: the
 * custom resources and the outputs (Lambda, IAM, ... are CloudFormation's job).
 */
export function lifecycleTemplate(
  build: (stack: Stack) => void, extra: Record<string, TemplateResource> = {}, nativeTypes: readonly string[] = [],
): StackTemplate {
  const stack = newStack('LifecycleStack');
  build(stack);
  const full = Template.fromStack(stack).toJSON() as StackTemplate;
  checkRolesWaitForPolicies(full);
  const kept = Object.entries(full.Resources).filter(([, r]) => r.Type.startsWith('Custom::') || nativeTypes.includes(r.Type));
  const ids = new Set(kept.map(([id]) => id));
  const all = Object.keys(full.Resources);
  // What a resource waits for through resources left out (a link that DependsOn a policy that
  // names an instance waits for the instance): CloudFormation keeps that order, so must the simulation.
  const keptDependencies = (id: string, seen = new Set<string>()): string[] => dependencies(full.Resources[id], all).flatMap((dep) => {
    if (ids.has(dep)) return [dep];
    if (seen.has(dep)) return [];
    seen.add(dep);
    return keptDependencies(dep, seen);
  });
  const resources = Object.fromEntries(kept.map(([id, r]) => {
    const { DependsOn: _declared, ...rest } = r;
    const waitsFor = [...new Set(keptDependencies(id))];
    return [id, waitsFor.length === 0 ? rest : { ...rest, DependsOn: waitsFor }];
  }));
  return { Resources: { ...resources, ...extra }, Outputs: full.Outputs };
}

/**
 * The simulator does not run IAM, so the order a role's policies are created in is checked here:
 * a resource that hands a role of the stack to AWS (VM Import's service role, the role of an instance's
 * profile, given itself or by its launch template) must wait for every policy attached to that role, or CloudFormation may create the policy
 * in parallel with the call that needs it (and delete it while the resource still uses it).
 */
export function checkRolesWaitForPolicies(template: StackTemplate): void {
  const all = Object.keys(template.Resources);
  const closure = new Map<string, Set<string>>();
  const dependsOn = (id: string): Set<string> => {
    let found = closure.get(id);
    if (found) return found;
    found = new Set<string>();
    closure.set(id, found);
    for (const dep of dependencies(template.Resources[id], all)) {
      found.add(dep);
      dependsOn(dep).forEach((d) => found!.add(d));
    }
    return found;
  };
  const ofType = (type: string) => all.filter((id) => template.Resources[id].Type === type);
  const rolesOf = (resource: TemplateResource) => [((resource.Properties?.Roles ?? []) as { Ref?: string }[])].flat().map((r) => r.Ref);
  // The provider's functions need not wait for one image's policies: that image's resources do.
  const handers = Object.entries(template.Resources).filter(([, r]) => r.Type.startsWith('Custom::') || r.Type === 'AWS::EC2::Instance');
  // The roles a resource's properties name: directly, through an instance profile, or through a launch template's profile.
  const handedRoles = (resource: TemplateResource): string[] => {
    const { ServiceToken: _token, ...properties } = resource.Properties ?? {};
    return dependencies({ Type: resource.Type, Properties: properties }, all).flatMap((dep) => {
      const named = template.Resources[dep];
      if (named.Type === 'AWS::IAM::Role') return [dep];
      if (named.Type === 'AWS::IAM::InstanceProfile') return rolesOf(named).filter((r): r is string => r !== undefined);
      return named.Type === 'AWS::EC2::LaunchTemplate' ? handedRoles(named) : [];
    });
  };
  for (const [id, resource] of handers) {
    const roles = new Set(handedRoles(resource));
    for (const policy of ofType('AWS::IAM::Policy')) {
      const role = rolesOf(template.Resources[policy]).find((r) => r !== undefined && roles.has(r));
      // A policy that names the resource (an instance's own ID) cannot come first: it follows it, and its user must wait for it.
      if (!role || dependsOn(policy).has(id) || dependsOn(id).has(policy)) continue;
      throw new Error(`${id} (${resource.Type}) hands role ${role} to AWS without waiting for its policy ${policy}: add a DependsOn`);
    }
  }
}

/** AWS::EC2::Instance properties whose change replaces the instance (the others update it in place). */
const INSTANCE_REPLACED_ON = new Set(['ImageId', 'SubnetId', 'AvailabilityZone', 'BlockDeviceMappings', 'KeyName', 'LaunchTemplate', 'NetworkInterfaces', 'PrivateIpAddress']);

/** A builder or test instance as CloudFormation created it in the local endpoint: its ID, tags and user data. */
export interface StandInInstance {
  readonly instanceId: string;
  readonly logicalId: string;
  readonly userData: string;
  readonly tags: Record<string, string>;
}

/**
 * Stands in for CloudFormation's AWS::EC2::Instance: creates the instance in the local endpoint
 * (running, with the template's tags and root volume size), hands it to `boot` (which scripts what
 * its user data does), and terminates it on delete. An instance of a launch template the endpoint
 * knows (`launchTemplateStandIn`) is launched as RunInstances does: what the instance gives
 * (image, type, subnet, groups, user data, profile, tags) over the version's settings; an unknown
 * template or version fails the create with EC2's error.
 */
export function instanceStandIn(
  h: Harness, region: string, boot: (instance: StandInInstance) => void,
): NativeResource & { created: StandInInstance[] } {
  const created: StandInInstance[] = [];
  return {
    created,
    update(logicalId, physicalId, props, oldProps) {
      const changed = Object.keys({ ...props, ...oldProps }).filter((k) => JSON.stringify(props[k]) !== JSON.stringify(oldProps[k]));
      if (changed.some((k) => INSTANCE_REPLACED_ON.has(k))) return this.create(logicalId, props);
      // In place (InstanceType, UserData, Tags, ...): EC2 refuses to modify a terminated instance.
      const state = h.ec2.instances(region).find((i) => i.instanceId === physicalId)?.state;
      if (state === 'terminated') {
        throw new Error(`Resource handler returned message: "The instance '${physicalId}' is not in a state from which it can be modified (changed: ${changed.join(', ')})"`);
      }
      return physicalId;
    },
    create(logicalId, props) {
      const userData = (props.UserData as { 'Fn::Base64'?: string } | undefined)?.['Fn::Base64'] ?? '';
      const spec = props.LaunchTemplate as { LaunchTemplateId?: string; Version?: string } | undefined;
      let template: LaunchTemplateData | undefined;
      try {
        template = spec?.LaunchTemplateId ? h.ec2.launchTemplateVersion(region, spec.LaunchTemplateId, spec.Version ?? '1') : undefined;
      } catch (err) {
        throw new Error(`Resource handler returned message: "${(err as Error).message}"`);
      }
      const tags = {
        ...template?.instanceTags,
        ...Object.fromEntries(((props.Tags ?? []) as { Key: string; Value: string }[]).map((t) => [t.Key, t.Value])),
      };
      const mappings = (props.BlockDeviceMappings ?? []) as { DeviceName: string; Ebs?: { VolumeSize?: string } }[];
      const root = mappings[0];
      const instanceId = h.ec2.addInstance({
        region,
        tags,
        imageId: (props.ImageId as string | undefined) ?? template?.imageId,
        ...(root ? { rootDeviceName: root.DeviceName, volumes: [{ deviceName: root.DeviceName, sizeGiB: Number(root.Ebs?.VolumeSize ?? 8) }] } : {}),
        launch: {
          instanceType: (props.InstanceType as string | undefined) ?? template?.instanceType,
          subnetId: props.SubnetId as string | undefined,
          securityGroupIds: (props.SecurityGroupIds as string[] | undefined) ?? template?.securityGroupIds,
          httpTokens: template?.httpTokens,
          iamInstanceProfile: props.IamInstanceProfile as string | undefined,
          userData,
          launchTemplate: template ? { launchTemplateId: spec!.LaunchTemplateId!, version: spec!.Version ?? '1' } : undefined,
        },
      });
      const instance = { instanceId, logicalId, userData, tags };
      created.push(instance);
      boot(instance);
      return instanceId;
    },
    delete(physicalId) {
      h.ec2.setInstanceState(region, physicalId, 'terminated');
    },
  };
}

/**
 * Stands in for CloudFormation's AWS::EC2::LaunchTemplate: a template in the local endpoint with
 * what `LaunchTemplateData` launches; an update adds a version (as CloudFormation does), which
 * `Fn::GetAtt LatestVersionNumber` then names.
 */
export function launchTemplateStandIn(h: Harness, region: string): NativeResource {
  const dataOf = (props: Record<string, unknown>): LaunchTemplateData => {
    const data = (props.LaunchTemplateData ?? {}) as {
      ImageId?: string;
      InstanceType?: string;
      SecurityGroupIds?: string[];
      MetadataOptions?: { HttpTokens?: 'required' | 'optional' };
      TagSpecifications?: { ResourceType: string; Tags: { Key: string; Value: string }[] }[];
    };
    const instanceTags = data.TagSpecifications?.find((t) => t.ResourceType === 'instance')?.Tags;
    return {
      imageId: data.ImageId,
      instanceType: data.InstanceType,
      securityGroupIds: data.SecurityGroupIds,
      httpTokens: data.MetadataOptions?.HttpTokens,
      instanceTags: instanceTags ? Object.fromEntries(instanceTags.map((t) => [t.Key, t.Value])) : undefined,
    };
  };
  return {
    create(_logicalId, props) {
      const physicalId = h.ec2.addLaunchTemplate({ region, data: dataOf(props) });
      return { physicalId, attributes: { LatestVersionNumber: '1' } };
    },
    update(_logicalId, physicalId, props) {
      return { physicalId, attributes: { LatestVersionNumber: h.ec2.addLaunchTemplateVersion(region, physicalId, dataOf(props)) } };
    },
    delete() {
      // Nothing to do: the endpoint keeps templates until its reset, and nothing lists them.
    },
  };
}

/** Attempts the handlers' SDK clients make of each call under the harness: a fault on that many calls outlasts their retries. */
export const SDK_ATTEMPTS = 10;

export interface Harness {
  readonly ec2: LocalEc2;
  readonly logs: Record<string, unknown>[];
  sim(options?: SimulatorOptions): CfnSimulator;
}

/**
 * Starts the local EC2 endpoint for a test file and points the handlers'
 * SDK clients at it, with a retry strategy that retries like the SDK but
 * without sleeping (throttling would otherwise cost real seconds).
 */
export function useLocalEc2(): Harness {
  const state: { ec2?: LocalEc2; restoreEnv?: () => void; restoreLog?: unknown; sims: CfnSimulator[] } = { sims: [] };
  const logs: Record<string, unknown>[] = [];
  beforeAll(async () => {
    state.ec2 = await LocalEc2.start();
    state.restoreEnv = withEndpointEnv(state.ec2.url);
  });
  beforeEach(() => {
    state.ec2!.reset();
    logs.length = 0;
    setLogSink((line) => logs.push(JSON.parse(line)));
    resetClients({ retryStrategy: fastRetryStrategy(SDK_ATTEMPTS) });
  });
  afterEach(() => {
    for (const sim of state.sims.splice(0)) sim.stopClock();
  });
  afterAll(async () => {
    state.restoreEnv?.();
    await state.ec2?.stop();
  });
  return {
    get ec2() { return state.ec2!; },
    logs,
    sim(options?: SimulatorOptions) {
      const sim = new CfnSimulator(state.ec2!, options);
      sim.startClock();
      state.sims.push(sim);
      return sim;
    },
  };
}

/** The image ID the stack's one output shows (templates with one image). */
export function outputImageId(sim: CfnSimulator): string {
  const ids = Object.values(sim.outputs()) as string[];
  expect(ids).toHaveLength(1);
  return ids[0];
}

/** The one image the stack's outputs name (templates with one image), as the local endpoint holds it. */
export function outputImage(ec2: LocalEc2, sim: CfnSimulator): LocalImage {
  return ec2.image(outputImageId(sim))!;
}

/** An available image of the stack's account in `region`, made through a stack of its own (the source of a copy). */
export async function sourceImage(h: Harness, region = 'us-east-1'): Promise<string> {
  const instanceId = h.ec2.addInstance({ region });
  const sim = h.sim();
  expect(await sim.deploy(lifecycleTemplate((stack) => new AmiFromInstance(stack, 'Source', { instanceId })))).toEqual({ ok: true });
  return outputImageId(sim);
}
