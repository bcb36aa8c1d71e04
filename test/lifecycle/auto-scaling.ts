/**
 * A stand-in for CloudFormation's AWS::AutoScaling::AutoScalingGroup as a
 * rollout uses it: one launch template (the harness's `launchTemplateStandIn`
 * keeps its versions in the local endpoint) and an AutoScalingRollingUpdate
 * policy that waits on signals (each new instance must signal success, or the
 * update fails and CloudFormation rolls back). Instances are launched in the
 * local endpoint from the image the group's template version names; as
 * RunInstances, a launch fails when that image is not available.
 */
import { NativeResource } from './cfn-simulator';
import { Harness } from './harness';

/** A launch template version: its number and the image it launches. */
export interface TemplateVersion {
  readonly version: string;
  readonly imageId: string;
}

/** An instance of the group: the template version it was launched from. */
export interface GroupInstance extends TemplateVersion {
  readonly instanceId: string;
}

/** What a group stand-in needs from the template besides the properties CloudFormation resolves. */
export interface GroupPolicies {
  /** The resource's UpdatePolicy, as synthesized. */
  readonly UpdatePolicy?: { AutoScalingRollingUpdate?: { MaxBatchSize?: number; WaitOnResourceSignals?: boolean } };
  /** The resource's CreationPolicy, as synthesized. */
  readonly CreationPolicy?: { ResourceSignal?: unknown };
}

/** One launch of the group: the template version and image, and whether the instance signalled success. */
export interface Launch extends TemplateVersion {
  /** False too when the instance could not be launched (its image is not available). */
  readonly signalled: boolean;
}

/** A group stand-in, what it holds, and what it saw while it rolled. */
export interface AutoScalingGroups extends NativeResource {
  /** Every launch, in order. */
  readonly launches: readonly Launch[];
  /** The group's instances. */
  instances(): readonly GroupInstance[];
}

/**
 * AWS::AutoScaling::AutoScalingGroup of one launch template. A create launches
 * DesiredCapacity (or MinSize) instances; with a CreationPolicy each must signal.
 * An update that names another template version replaces every instance not
 * launched from it, MaxBatchSize at a time: new instances first, and with
 * WaitOnResourceSignals each must signal success (`signals` decides) before the
 * batch's old instances are terminated. A launch from an image that is not
 * available fails as RunInstances does, and then sends no signal.
 */
export function autoScalingGroupStandIn(
  h: Harness, region: string, policies: GroupPolicies, signals: (instance: GroupInstance) => boolean,
): AutoScalingGroups {
  let members: GroupInstance[] = [];
  const launches: Launch[] = [];

  const templateOf = (props: Record<string, unknown>): TemplateVersion => {
    const spec = props.LaunchTemplate as { LaunchTemplateId: string; Version: string };
    const data = h.ec2.launchTemplateVersion(region, spec.LaunchTemplateId, spec.Version);
    return { version: spec.Version, imageId: data.imageId ?? '' };
  };

  /** RunInstances of one instance (none when its image cannot be launched), and whether it signals success. */
  const launch = (template: TemplateVersion): { instance?: GroupInstance; signalled: boolean } => {
    if (h.ec2.image(template.imageId)?.state !== 'available') {
      launches.push({ ...template, signalled: false });
      return { signalled: false };
    }
    const instance = { instanceId: h.ec2.addInstance({ region, imageId: template.imageId }), ...template };
    const signalled = signals(instance);
    launches.push({ ...template, signalled });
    return { instance, signalled };
  };

  const failedSignals = (received: number, expected: number): Error => new Error(
    `Received ${received} SUCCESS signal(s) out of ${expected}. Unable to satisfy 100% MinSuccessfulInstancesPercent requirement`,
  );

  return {
    launches,
    instances: () => members,
    create(_logicalId, props) {
      const template = templateOf(props);
      const desired = Number(props.DesiredCapacity ?? props.MinSize);
      const launched = Array.from({ length: desired }, () => launch(template));
      members = launched.flatMap((l) => l.instance ?? []);
      const signalled = launched.filter((l) => l.signalled).length;
      if (policies.CreationPolicy?.ResourceSignal && signalled < desired) throw failedSignals(signalled, desired);
      return 'group-physical';
    },
    update(_logicalId, physicalId, props) {
      const template = templateOf(props);
      const desired = Number(props.DesiredCapacity ?? props.MinSize);
      const rolling = policies.UpdatePolicy?.AutoScalingRollingUpdate;
      const batchSize = Math.max(1, Number(rolling?.MaxBatchSize ?? 1));
      const waits = rolling?.WaitOnResourceSignals === true;
      for (;;) {
        const batch = members.filter((m) => m.version !== template.version).slice(0, batchSize);
        if (batch.length === 0) return physicalId;
        // New instances first, as many as keep the desired capacity once the batch is gone.
        const needed = Math.max(0, desired - (members.length - batch.length));
        const launched = Array.from({ length: needed }, () => launch(template));
        members = [...members, ...launched.flatMap((l) => l.instance ?? [])];
        const signalled = launched.filter((l) => l.signalled).length;
        // The batch's old instances stay in service; the rollback replaces the new ones.
        if (waits && signalled < needed) throw failedSignals(signalled, needed);
        for (const old of batch) h.ec2.setInstanceState(region, old.instanceId, 'terminated');
        members = members.filter((m) => !batch.includes(m));
      }
    },
    delete() {
      for (const member of members) h.ec2.setInstanceState(region, member.instanceId, 'terminated');
      members = [];
    },
  };
}
