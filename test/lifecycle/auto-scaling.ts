/**
 * Stand-ins for two resource types CloudFormation handles itself, as a rollout
 * uses them: AWS::EC2::LaunchTemplate (an update adds a version; `Fn::GetAtt
 * LatestVersionNumber`) and AWS::AutoScaling::AutoScalingGroup with an
 * AutoScalingRollingUpdate policy that waits on signals (each new instance
 * must signal success, or the update fails and CloudFormation rolls back).
 * Instances are launched in the local endpoint from the image the group's
 * template version names; as RunInstances, a launch fails when that image is
 * not available.
 */
import { NativeResource } from './cfn-simulator';
import { Harness } from './harness';

/** One version of a launch template, as CloudFormation made it. */
export interface TemplateVersion {
  readonly version: number;
  readonly imageId: string;
}

/** A launch template stand-in and what it holds. */
export interface LaunchTemplates extends NativeResource {
  /** The versions of a template, oldest first. */
  versions(templateId: string): readonly TemplateVersion[];
}

/**
 * AWS::EC2::LaunchTemplate: a create makes version 1 (also its default version,
 * which CloudFormation never changes); an update adds a version with the new
 * data and leaves the others, also in a rollback (which updates it back to the
 * previous data: one more version). A new LaunchTemplateName replaces it.
 */
export function launchTemplateStandIn(h: Harness, region: string): LaunchTemplates {
  const byId = new Map<string, TemplateVersion[]>();
  const imageOf = (props: Record<string, unknown>): string => String((props.LaunchTemplateData as Record<string, unknown> | undefined)?.ImageId ?? '');
  return {
    versions: (templateId) => byId.get(templateId) ?? [],
    create(_logicalId, props) {
      const imageId = imageOf(props);
      const templateId = h.ec2.addLaunchTemplate({ region, imageId });
      byId.set(templateId, [{ version: 1, imageId }]);
      return templateId;
    },
    update(logicalId, templateId, props, oldProps) {
      if (props.LaunchTemplateName !== oldProps.LaunchTemplateName) return this.create(logicalId, props);
      const versions = byId.get(templateId)!;
      versions.push({ version: versions.length + 1, imageId: imageOf(props) });
      return templateId;
    },
    delete(templateId) {
      byId.delete(templateId);
    },
    attributes(templateId) {
      return { LatestVersionNumber: String(byId.get(templateId)?.length ?? 0), DefaultVersionNumber: '1' };
    },
  };
}

/** An instance of the group: the template version it was launched from. */
export interface GroupInstance {
  readonly instanceId: string;
  readonly version: number;
  readonly imageId: string;
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
  h: Harness, region: string, templates: LaunchTemplates, policies: GroupPolicies,
  signals: (instance: GroupInstance) => boolean,
): AutoScalingGroups {
  let members: GroupInstance[] = [];
  const launches: Launch[] = [];

  const templateOf = (props: Record<string, unknown>): TemplateVersion => {
    const spec = props.LaunchTemplate as { LaunchTemplateId: string; Version: string };
    const found = templates.versions(spec.LaunchTemplateId).find((v) => v.version === Number(spec.Version));
    if (!found) throw new Error(`The specified launch template, with template ID ${spec.LaunchTemplateId}, version ${spec.Version}, does not exist.`);
    return found;
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
