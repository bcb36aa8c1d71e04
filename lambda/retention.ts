import {
  CreateTagsCommand, DeleteTagsCommand, DescribeImagesCommand, DisableImageCommand, EC2Client,
  EnableImageDeprecationCommand, Image,
} from '@aws-sdk/client-ec2';
import { declareCalls } from './shared/calls';
import { ec2 } from './shared/clients';
import { roleOf } from './shared/cross-account';
import { errorMessage } from './shared/errors';
import { destroyImage } from './shared/images';
import { log } from './shared/log';
import { isOwnedBy, Ownership, ownershipOf, tagValue } from './shared/ownership';
import { num, required, str } from './shared/props';
import { imageReferences, warnIfReferenced } from './shared/references';
import { isRollingBack } from './shared/removal';
import { CustomResourceEvent, OnEventResponse } from './shared/types';
import { earliestDeprecationTime } from './waiter/governance';
import { ReceivedProperties, Removal, ResourceTypes, RetiredImageAction, Tags } from '../src/private/contract';

/**
 * Custom::AmiRetention — an image's retention policy. After each deployment
 * that hands over a generation (its `ImageId` is the hand-over's), the sweep
 * finds the operation's generations by their ownership tags, keeps the
 * current one, the previous one (a rollback's target) and the policy's, and
 * retires the others. On Delete (the stack, the construct or its retention
 * removed), the removal policy decides for every generation but the current
 * one, which the operation's own Delete handles after it. Housekeeping never
 * fails a deployment: what fails is logged and tried again by the next sweep.
 */
export const CALLS = declareCalls(
  'ec2:DescribeImages',
  'ec2:EnableImageDeprecation',
  'ec2:DisableImage',
  'ec2:CreateTags',
  'ec2:DeleteTags',
);

type Props = ReceivedProperties<typeof ResourceTypes.RETENTION>;
type Response = OnEventResponse<typeof ResourceTypes.RETENTION>;

/** Image states of a finished generation; one still pending (or failed) belongs to a deployment in progress. */
const GENERATION_STATES = new Set(['available', 'disabled']);
/** When a generation kept for now is looked at again: the sweep runs only on this resource's events. */
const NEXT_SWEEP = 'the next sweep (a deployment that hands over a new generation, or changes the retention or the removal policy)';

interface Sweep {
  readonly ec2: EC2Client;
  readonly region: string;
  readonly ownership: Ownership;
  readonly imageId: string;
}

export async function handleRetention(event: CustomResourceEvent): Promise<Response> {
  const props = event.ResourceProperties as Props;
  const region = required(props, 'Region');
  const sweep: Sweep = {
    ec2: ec2(region, roleOf(props, event.LogicalResourceId)),
    region,
    // The generations are the operation's: its owner hash, as its own handler computes it.
    ownership: ownershipOf({ StackId: event.StackId, LogicalResourceId: required(props, 'OperationLogicalId'), RequestId: event.RequestId }),
    imageId: required(props, 'ImageId'),
  };
  // Stable for the construct's life: no property replaces it.
  const physicalId = event.RequestType === 'Create' ? `retention-${sweep.ownership.owner}` : event.PhysicalResourceId;
  switch (event.RequestType) {
    case 'Create':
    case 'Update': {
      if (event.RequestType === 'Update' && await isRollingBack(event.StackId)) {
        log('info', `rollback: no retention sweep; ${NEXT_SWEEP} runs it`, { imageId: sweep.imageId, region });
        return { PhysicalResourceId: physicalId, Data: { Retired: '', Kept: '' } };
      }
      const previous = event.RequestType === 'Update' ? str(event.OldResourceProperties.ImageId) : undefined;
      const outcome = await sweepGenerations(sweep, props, previous);
      return { PhysicalResourceId: physicalId, Data: { Retired: outcome.retired.join(','), Kept: outcome.kept.join(',') } };
    }
    case 'Delete':
      await releaseGenerations(sweep, event.StackId, str(props.RemovalPolicy));
      return { PhysicalResourceId: physicalId };
  }
}

/** The construct's finished generations, newest first; never an image without its operation's owner tag. */
async function generations(sweep: Sweep): Promise<Image[]> {
  const found: Image[] = [];
  let nextToken: string | undefined;
  do {
    const out = await sweep.ec2.send(new DescribeImagesCommand({
      Owners: ['self'],
      IncludeDisabled: true,
      IncludeDeprecated: true,
      Filters: [
        { Name: `tag:${Tags.OWNER}`, Values: [sweep.ownership.owner] },
        { Name: `tag:${Tags.STACK}`, Values: [sweep.ownership.stack] },
      ],
      NextToken: nextToken,
    }));
    found.push(...out.Images ?? []);
    nextToken = out.NextToken;
  } while (nextToken);
  // The filters already ask for these; the check stays here so that nothing else is ever retired.
  return found
    .filter((image) => isOwnedBy(image, sweep.ownership) && GENERATION_STATES.has(image.State ?? ''))
    .sort((a, b) => created(b) - created(a));
}

/** The generations, or undefined (and a `warn` saying what that means) when they cannot be listed: housekeeping never fails. */
async function generationsOrWarn(sweep: Sweep, consequence: string): Promise<Image[] | undefined> {
  try {
    return await generations(sweep);
  } catch (err) {
    log('warn', consequence, { region: sweep.region, error: errorMessage(err) });
    return undefined;
  }
}

function created(image: Image): number {
  return Date.parse(image.CreationDate ?? '') || 0;
}

interface Outcome {
  readonly retired: string[];
  readonly kept: string[];
}

async function sweepGenerations(sweep: Sweep, props: Props, previous: string | undefined): Promise<Outcome> {
  const images = await generationsOrWarn(sweep, `retention sweep skipped: the generations could not be listed; ${NEXT_SWEEP} tries again`);
  if (!images) return { retired: [], kept: [] };
  const keep = keptByPolicy(images, sweep.imageId, previous, props);
  const action = required(props, 'Action') as RetiredImageAction;
  const outcome: Outcome = { retired: [], kept: [] };
  for (const image of images) {
    const imageId = image.ImageId!;
    const reason = keep.get(imageId) ?? await retire(sweep, image, action);
    if (reason === undefined) {
      outcome.retired.push(imageId);
      continue;
    }
    outcome.kept.push(imageId);
    await mark(sweep, image, true, reason);
  }
  log('info', 'retention sweep done', { region: sweep.region, retired: outcome.retired, kept: outcome.kept });
  return outcome;
}

/**
 * The generations the policy keeps, with the reason: the current one, the
 * previous one (this deployment's rollback target: on a Create, the newest
 * earlier generation), and the newest `KeepCount` or those younger than
 * `KeepForSeconds`.
 */
function keptByPolicy(images: Image[], current: string, previous: string | undefined, props: Props): Map<string, string> {
  const keep = new Map<string, string>();
  const rollbackTarget = previous !== undefined && previous !== current ? previous : images.find((i) => i.ImageId !== current)?.ImageId;
  const count = str(props.KeepCount) === undefined ? undefined : num(props.KeepCount, 1);
  const ageSeconds = str(props.KeepForSeconds) === undefined ? undefined : num(props.KeepForSeconds, 0);
  images.forEach((image, index) => {
    if (count !== undefined && index < count) keep.set(image.ImageId!, `one of the newest ${count}`);
    if (ageSeconds !== undefined && Date.now() - created(image) < ageSeconds * 1000) keep.set(image.ImageId!, `younger than ${ageSeconds} seconds`);
  });
  if (rollbackTarget) keep.set(rollbackTarget, 'the previous generation, which a rollback returns to');
  keep.set(current, 'the current generation');
  return keep;
}

/** Retires the generation; returns why it was kept instead, or undefined when it was retired (or already was). */
async function retire(sweep: Sweep, image: Image, action: RetiredImageAction): Promise<string | undefined> {
  const imageId = image.ImageId!;
  try {
    if (action === RetiredImageAction.DEPRECATE) {
      if (!image.DeprecationTime) {
        await sweep.ec2.send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: earliestDeprecationTime() }));
        log('info', 'generation deprecated', { imageId, region: sweep.region });
      }
      await mark(sweep, image, false);
      return undefined;
    }
    if (action === RetiredImageAction.DISABLE && image.State === 'disabled') {
      await mark(sweep, image, false);
      return undefined;
    }
    const users = await imageReferences(sweep.ec2, imageId);
    if (users.length > 0) {
      log('info', `kept: in use by ${users.join(', ')}`, { imageId, region: sweep.region, users });
      return `in use by ${users.join(', ')}`;
    }
    if (action === RetiredImageAction.DISABLE) {
      await sweep.ec2.send(new DisableImageCommand({ ImageId: imageId }));
      log('info', 'generation disabled', { imageId, region: sweep.region });
      await mark(sweep, image, false);
      return undefined;
    }
    // Deregistration protection makes this throw: the generation is kept, and the log says why.
    await destroyImage(sweep.ec2, imageId, image, sweep.ownership, sweep.region);
    log('info', 'generation deregistered', { imageId, region: sweep.region });
    return undefined;
  } catch (err) {
    log('warn', `kept: retiring it failed (${errorMessage(err)}); ${NEXT_SWEEP} tries again`, { imageId, region: sweep.region, action });
    return `retiring it failed: ${errorMessage(err)}`;
  }
}

/** Puts on (`retained`) or takes off the `cdk-ami:retained` mark, when it differs; a failure is logged. */
async function mark(sweep: Sweep, image: Image, retained: boolean, reason?: string): Promise<void> {
  const imageId = image.ImageId!;
  const marked = tagValue(image, Tags.RETAINED) !== undefined;
  if (marked === retained) return;
  try {
    if (retained) await sweep.ec2.send(new CreateTagsCommand({ Resources: [imageId], Tags: [{ Key: Tags.RETAINED, Value: 'true' }] }));
    else await sweep.ec2.send(new DeleteTagsCommand({ Resources: [imageId], Tags: [{ Key: Tags.RETAINED }] }));
    if (retained) log('info', 'generation kept', { imageId, region: sweep.region, reason });
  } catch (err) {
    log('warn', `could not ${retained ? 'mark' : 'unmark'} the generation as retained (${errorMessage(err)})`, { imageId, region: sweep.region, tag: Tags.RETAINED });
  }
}

/**
 * The resource goes (never in a rollback: then it only takes its marks off):
 * every generation loses the `cdk-ami:retained` mark; under DESTROY every
 * generation but the current one (and any newer, of a deployment in
 * progress) is deregistered with its snapshots; under RETAIN all stay.
 */
async function releaseGenerations(sweep: Sweep, stackId: string, removalPolicy: string | undefined): Promise<void> {
  const images = await generationsOrWarn(sweep, 'retention removed, but the generations could not be listed: remove their cdk-ami:retained tags by hand');
  if (!images) return;
  // A rollback removes only what the failed deployment made; the generations are older than that.
  const destroy = (removalPolicy ?? Removal.RETAIN).toLowerCase() === Removal.DESTROY && !await isRollingBack(stackId);
  const current = images.find((image) => image.ImageId === sweep.imageId);
  for (const image of images) {
    const imageId = image.ImageId!;
    const older = imageId !== sweep.imageId && (!current || created(image) <= created(current));
    if (!destroy || !older) {
      await mark(sweep, image, false);
      continue;
    }
    try {
      await warnIfReferenced(sweep.ec2, imageId, sweep.region);
      await destroyImage(sweep.ec2, imageId, image, sweep.ownership, sweep.region);
      log('info', 'generation deregistered: removalPolicy is DESTROY', { imageId, region: sweep.region });
    } catch (err) {
      log('warn', `generation left in place: deregistering it failed (${errorMessage(err)}); deregister it by hand`, { imageId, region: sweep.region });
      await mark(sweep, image, false);
    }
  }
  log('info', 'retention removed', { region: sweep.region, removalPolicy: removalPolicy ?? Removal.RETAIN, deregistered: destroy });
}
