/**
 * EC2 Fast Launch for Windows AMIs: EnableFastLaunch, DescribeFastLaunchImages and DisableFastLaunch,
 * whose states advance by the DescribeFastLaunchImages polls that observe them (`fastLaunchBehaviour`).
 */
import { ActionHandler, Ec2Area } from './ec2-area';
import { ApiError, assertOneOf, invalidValue, missingParameter } from './errors';
import { assertWellFormedId, now } from './helpers';
import { itemSet, leaf, node, QueryParams } from './protocol';
import { ACCOUNT_ID, LocalFastLaunch, LocalImage } from './types';
import { RegionState } from './world';

const FAST_LAUNCH_RESOURCE_TYPES: ReadonlySet<string> = new Set(['snapshot']);
const MIN_FAST_LAUNCH_PARALLEL_LAUNCHES = 6;
/** Best knowledge: the console's default launch frequency, five snapshots. */
const DEFAULT_FAST_LAUNCH_TARGET = 5;

/** The members EnableFastLaunch, DisableFastLaunch and DescribeFastLaunchImages share. */
function renderFastLaunch(image: LocalImage, fastLaunch: LocalFastLaunch): string {
  const template = fastLaunch.launchTemplate;
  return leaf('imageId', image.imageId)
    + leaf('resourceType', 'snapshot')
    + node('snapshotConfiguration', leaf('targetResourceCount', fastLaunch.targetResourceCount))
    + (template ? node('launchTemplate', leaf('launchTemplateId', template.launchTemplateId), leaf('launchTemplateName', template.launchTemplateName), leaf('version', template.version)) : '')
    + leaf('maxParallelLaunches', fastLaunch.maxParallelLaunches)
    + leaf('ownerId', ACCOUNT_ID)
    + leaf('state', fastLaunch.state)
    + leaf('stateTransitionReason', fastLaunch.stateTransitionReason)
    + leaf('stateTransitionTime', fastLaunch.stateTransitionTime);
}

export class FastLaunchActions extends Ec2Area {
  readonly handlers: Readonly<Record<string, ActionHandler>> = {
    EnableFastLaunch: (region, params) => this.enableFastLaunch(region, params),
    DisableFastLaunch: (region, params) => this.disableFastLaunch(region, params),
    DescribeFastLaunchImages: (region, params) => this.describeFastLaunchImages(region, params),
  };

  /**
   * EnableFastLaunch, as the API reference describes it: only `snapshot` resources, MaxParallelLaunches
   * of 6 or more, a launch template by ID or name (not both) with a Version. EC2 Fast Launch is for
   * Windows images of this account that are available; called again on an enabled image it takes the
   * new settings (the console's "Configure fast launch" does this), and it is refused while EC2 still
   * removes the pre-provisioned snapshots of a disable. Codes and messages of refusals: best knowledge.
   */
  private enableFastLaunch(region: RegionState, params: QueryParams): string {
    const image = this.liveImage(region, params.required('ImageId'));
    const resourceType = params.get('ResourceType') ?? 'snapshot';
    assertOneOf('ResourceType', resourceType, FAST_LAUNCH_RESOURCE_TYPES);
    const maxParallelLaunches = params.int('MaxParallelLaunches');
    if (maxParallelLaunches !== undefined && maxParallelLaunches < MIN_FAST_LAUNCH_PARALLEL_LAUNCHES) {
      throw invalidValue(`Value (${maxParallelLaunches}) for parameter MaxParallelLaunches is invalid. Value must be 6 or greater.`);
    }
    const targetResourceCount = params.int('SnapshotConfiguration.TargetResourceCount');
    if (targetResourceCount !== undefined && targetResourceCount < 1) {
      throw invalidValue(`Value (${targetResourceCount}) for parameter SnapshotConfiguration.TargetResourceCount is invalid. Value must be 1 or greater.`);
    }
    const templateId = params.get('LaunchTemplate.LaunchTemplateId');
    const templateName = params.get('LaunchTemplate.LaunchTemplateName');
    const templateVersion = params.get('LaunchTemplate.Version');
    if (templateId !== undefined && templateName !== undefined) {
      throw new ApiError('InvalidParameterCombination', 'Specify either LaunchTemplateId or LaunchTemplateName, but not both.');
    }
    if ((templateId !== undefined || templateName !== undefined) && templateVersion === undefined) throw missingParameter('LaunchTemplate.Version');
    if (templateId === undefined && templateName === undefined && templateVersion !== undefined) throw missingParameter('LaunchTemplate.LaunchTemplateId or LaunchTemplate.LaunchTemplateName');
    if (templateId !== undefined && !region.launchTemplates.has(templateId)) {
      throw new ApiError('InvalidLaunchTemplateId.NotFound', `The specified launch template, with template ID ${templateId}, does not exist.`);
    }
    if (image.platform !== 'windows') {
      throw new ApiError('InvalidParameter', `EC2 Fast Launch is only supported for Windows AMIs, and ${image.imageId} is Linux/UNIX.`);
    }
    if (image.state !== 'available') {
      throw new ApiError('IncorrectState', `The image ${image.imageId} is ${image.state}; EC2 Fast Launch can only be enabled for an available image.`);
    }
    const current = image.fastLaunch;
    if (current && (current.state === 'disabling' || current.state === 'disabling-failed')) {
      throw new ApiError('IncorrectState', `EC2 Fast Launch for ${image.imageId} is ${current.state}: all pre-provisioned snapshots must be removed before it can be enabled again.`);
    }
    const behaviour = this.world.fastLaunchBehaviour;
    image.fastLaunch = {
      state: 'enabling',
      targetResourceCount: targetResourceCount ?? DEFAULT_FAST_LAUNCH_TARGET,
      maxParallelLaunches: maxParallelLaunches ?? MIN_FAST_LAUNCH_PARALLEL_LAUNCHES,
      launchTemplate: templateId !== undefined || templateName !== undefined
        ? { launchTemplateId: templateId, launchTemplateName: templateName, version: templateVersion! }
        : undefined,
      stateTransitionReason: current ? 'Client.UserInitiated - Fast launch settings updated' : 'Client.UserInitiated',
      stateTransitionTime: now(),
      remaining: behaviour.transitionPolls,
      failReason: behaviour.failReason,
    };
    return renderFastLaunch(image, image.fastLaunch);
  }

  /** DisableFastLaunch: `disabling` while EC2 removes the pre-provisioned snapshots, then gone. */
  private disableFastLaunch(region: RegionState, params: QueryParams): string {
    const image = this.liveImage(region, params.required('ImageId'));
    const current = image.fastLaunch;
    if (!current || current.state === 'disabling') {
      // Best knowledge: disabling what is not enabled is refused.
      throw new ApiError('InvalidParameter', `EC2 Fast Launch is not enabled for ${image.imageId}.`);
    }
    current.state = 'disabling';
    current.stateTransitionReason = params.bool('Force') ? 'Client.UserInitiated - Forced' : 'Client.UserInitiated';
    current.stateTransitionTime = now();
    current.remaining = this.world.fastLaunchBehaviour.transitionPolls;
    return renderFastLaunch(image, current);
  }

  /** DescribeFastLaunchImages by image ID (or all of the region's); each call advances a transition it reports. */
  private describeFastLaunchImages(region: RegionState, params: QueryParams): string {
    const imageIds = params.list('ImageId');
    imageIds.forEach((id) => assertWellFormedId(id, 'ami', 'InvalidAMIID.Malformed'));
    const images = [...region.images.values()].filter((image) => image.fastLaunch && (imageIds.length === 0 || imageIds.includes(image.imageId)));
    const items: string[] = [];
    for (const image of images) {
      const fastLaunch = image.fastLaunch!;
      if (fastLaunch.state === 'enabling' || fastLaunch.state === 'disabling') {
        if (fastLaunch.remaining > 0) {
          fastLaunch.remaining -= 1;
        } else {
          this.settleFastLaunch(image, fastLaunch);
        }
      }
      if (image.fastLaunch) items.push(renderFastLaunch(image, image.fastLaunch));
    }
    return itemSet('fastLaunchImageSet', items);
  }

  /** The end of a transition: disabling removes fast launch; enabling ends enabled, or failed as scripted. */
  private settleFastLaunch(image: LocalImage, fastLaunch: LocalFastLaunch): void {
    if (fastLaunch.state === 'disabling') {
      image.fastLaunch = undefined;
    } else if (fastLaunch.failReason) {
      fastLaunch.state = 'enabling-failed';
      fastLaunch.stateTransitionReason = fastLaunch.failReason;
      fastLaunch.stateTransitionTime = now();
    } else {
      fastLaunch.state = 'enabled';
      fastLaunch.stateTransitionTime = now();
    }
  }
}
