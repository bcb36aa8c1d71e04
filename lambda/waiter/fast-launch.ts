import {
  DescribeFastLaunchImagesCommand,
  DescribeFastLaunchImagesSuccessItem,
  DisableFastLaunchCommand,
  EC2Client,
  EnableFastLaunchCommand,
  Image,
} from '@aws-sdk/client-ec2';
import { declareCalls } from '../shared/calls';
import { AmiError, errorCode, isThrottling, sentence, toAmiError } from '../shared/errors';
import { log } from '../shared/log';
import { num, str } from '../shared/props';
import { ResourceProperties } from '../shared/types';

/** EC2 Fast Launch for Windows images (last waiter link; and before a deregistration). */
export const CALLS = declareCalls(
  'ec2:DescribeFastLaunchImages',
  'ec2:EnableFastLaunch',
  'ec2:DisableFastLaunch',
);

/** What the constructs render for `fastLaunch` (CloudFormation hands numbers over as strings). */
export interface FastLaunch {
  readonly targetResourceCount?: number;
  readonly maxParallelLaunches?: number;
  readonly launchTemplateId?: string;
  readonly launchTemplateName?: string;
  readonly launchTemplateVersion?: string;
}

export function readFastLaunch(props: ResourceProperties | undefined): FastLaunch | undefined {
  const value = props?.FastLaunch;
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'object') throw new AmiError(`FastLaunch must be an object, got "${String(value)}".`);
  const p = value as Record<string, unknown>;
  const optionalNumber = (v: unknown) => (str(v) === undefined ? undefined : num(v, 0));
  return {
    targetResourceCount: optionalNumber(p.TargetResourceCount),
    maxParallelLaunches: optionalNumber(p.MaxParallelLaunches),
    launchTemplateId: str(p.LaunchTemplateId),
    launchTemplateName: str(p.LaunchTemplateName),
    launchTemplateVersion: str(p.LaunchTemplateVersion),
  };
}

/** EnableFastLaunch needs a launch template version; the constructs always render one. */
const DEFAULT_VERSION = '$Default';

/** EC2's fast launch states in which nothing is under way. */
const FAILED_STATES = new Set(['enabling-failed', 'enabled-failed']);

export type FastLaunchProgress = { readonly done: true } | { readonly done: false; readonly state: string };

export async function describeFastLaunch(ec2: EC2Client, imageId: string): Promise<DescribeFastLaunchImagesSuccessItem | undefined> {
  const out = await ec2.send(new DescribeFastLaunchImagesCommand({ ImageIds: [imageId] }));
  return out.FastLaunchImages?.find((i) => i.ImageId === imageId);
}

/**
 * Brings the image's fast launch to what the properties want, reading EC2's
 * state first, so that a retried poll never enables twice: `wanted` undefined
 * disables it (only when the previous properties had it: fast launch turned on
 * outside CloudFormation is left alone). Done once EC2 reports `enabled` with
 * the wanted settings; a failure state is one sentence with EC2's reason.
 */
export async function reconcileFastLaunch(
  ec2: EC2Client, image: Image, before: FastLaunch | undefined, wanted: FastLaunch | undefined, region: string,
): Promise<FastLaunchProgress> {
  const imageId = image.ImageId!;
  if (!wanted && !before) return { done: true };
  try {
    const current = await describeFastLaunch(ec2, imageId);
    const state = current?.State;
    if (!wanted) {
      if (!current || state === 'disabling') return { done: true };
      await disable(ec2, imageId, state === 'disabling-failed');
      return { done: true };
    }
    if (state === 'disabling') return { done: false, state: 'disabling (EC2 removes the pre-provisioned snapshots before fast launch can be enabled again)' };
    if (state === 'disabling-failed') {
      throw new AmiError(`Fast launch of image ${imageId} in ${region} could not be disabled before it is enabled again (disabling-failed): ${sentence(reasonOf(current))}`);
    }
    if (current && matches(current, wanted)) {
      if (state === 'enabled') return { done: true };
      if (state && FAILED_STATES.has(state)) {
        throw new AmiError(
          `Fast launch of image ${imageId} in ${region} is ${state}: ${sentence(reasonOf(current))} Check the fast launch prerequisites (a Windows image created with Sysprep shutdown, a default VPC or a launch template, the Region's max parallel launches quota).`,
        );
      }
      return { done: false, state: state ?? 'enabling' };
    }
    // EC2 writes `windows` (the SDK's type says `Windows`); Linux images have no Platform.
    if (image.Platform?.toLowerCase() !== 'windows') {
      throw new AmiError(`Fast launch needs a Windows image, and image ${imageId} in ${region} is ${image.PlatformDetails ?? 'not Windows'}: remove fastLaunch.`);
    }
    await ec2.send(new EnableFastLaunchCommand({
      ImageId: imageId,
      ResourceType: 'snapshot',
      SnapshotConfiguration: wanted.targetResourceCount !== undefined ? { TargetResourceCount: wanted.targetResourceCount } : undefined,
      MaxParallelLaunches: wanted.maxParallelLaunches,
      LaunchTemplate: wanted.launchTemplateId || wanted.launchTemplateName ? {
        LaunchTemplateId: wanted.launchTemplateId,
        LaunchTemplateName: wanted.launchTemplateId ? undefined : wanted.launchTemplateName,
        Version: wanted.launchTemplateVersion ?? DEFAULT_VERSION,
      } : undefined,
    }));
    log('info', current ? 'fast launch settings updated' : 'fast launch enabling', { imageId, region, ...wanted });
    return { done: false, state: 'enabling' };
  } catch (err) {
    // Left as it is: the waiter polls again (the SDK has already retried).
    if (isThrottling(err)) throw err;
    throw toAmiError(err, `Fast launch of image ${imageId} in ${region}`);
  }
}

/**
 * Before an image is deregistered: DisableFastLaunch, which has EC2 remove the
 * pre-provisioned snapshots itself (they are EC2's to clean up, and nothing
 * waits for them). `force` when the image goes because a deployment failed:
 * errors while cleaning up do not keep it.
 */
export async function disableFastLaunchBeforeDeregister(ec2: EC2Client, imageId: string, region: string, force: boolean): Promise<void> {
  try {
    const current = await describeFastLaunch(ec2, imageId);
    if (!current || current.State === 'disabling') return;
    await disable(ec2, imageId, force || current.State === 'disabling-failed');
  } catch (err) {
    if (errorCode(err)?.startsWith('InvalidAMIID')) return;
    throw toAmiError(err, `Disabling fast launch of image ${imageId} in ${region} before deregistering it`);
  }
}

async function disable(ec2: EC2Client, imageId: string, force: boolean): Promise<void> {
  await ec2.send(new DisableFastLaunchCommand({ ImageId: imageId, Force: force || undefined }));
  log('info', 'fast launch disabling', { imageId, force });
}

/**
 * The settings EC2 reports are those wanted. What the user left to EC2 is not
 * compared: a setting removed from fastLaunch keeps the value EC2 has.
 */
function matches(current: DescribeFastLaunchImagesSuccessItem, wanted: FastLaunch): boolean {
  const same = <T>(want: T | undefined, have: T | undefined) => want === undefined || want === have;
  return same(wanted.targetResourceCount, current.SnapshotConfiguration?.TargetResourceCount)
    && same(wanted.maxParallelLaunches, current.MaxParallelLaunches)
    && sameTemplate(current.LaunchTemplate, wanted);
}

function sameTemplate(template: DescribeFastLaunchImagesSuccessItem['LaunchTemplate'], wanted: FastLaunch): boolean {
  if (!wanted.launchTemplateId && !wanted.launchTemplateName) return !template?.LaunchTemplateId && !template?.LaunchTemplateName;
  const sameId = wanted.launchTemplateId
    ? template?.LaunchTemplateId === wanted.launchTemplateId
    : template?.LaunchTemplateName === wanted.launchTemplateName;
  return sameId && (template?.Version ?? DEFAULT_VERSION) === (wanted.launchTemplateVersion ?? DEFAULT_VERSION);
}

function reasonOf(item: DescribeFastLaunchImagesSuccessItem | undefined): string {
  return item?.StateTransitionReason ?? 'EC2 gave no reason';
}
