import { EC2Client, Image } from '@aws-sdk/client-ec2';
import { ec2 } from './clients';
import { roleOf } from './cross-account';
import { AmiError, toAmiError } from './errors';
import { assertOwned, describeImage, destroyImage, updateDescription, updateTags } from './images';
import { log } from './log';
import { Ownership, ownershipOf, shortHash } from './ownership';
import { bool, changed, required, str, tags } from './props';
import { warnIfReferenced } from './references';
import { decideRemoval, heldImage, isRollingBack } from './removal';
import { CustomResourceEvent, OnEventResponse, ResourceProperties } from './types';
import { createOnlyProperties, GeneratedNames, OperationType, ReceivedProperties } from '../../src/private/contract';
import { disableFastLaunchBeforeDeregister } from '../waiter/fast-launch';

/** What one image kind's operation handler is given for a create. */
export interface OperationContext<T extends OperationType = OperationType> {
  readonly event: CustomResourceEvent;
  /** The resource's properties, by the contract's schema of its type (checked on arrival). */
  readonly props: ReceivedProperties<T>;
  readonly region: string;
  readonly ec2: EC2Client;
  readonly ownership: Ownership;
  /** The AMI name to create: the user's, or a unique one for this request. */
  readonly imageName: string;
}

/**
 * One image kind (AmiFromInstance, CopiedAmi, ...). Everything but the create
 * call is shared: update in place, replacement, delete and removal policy.
 */
export interface ImageOperation<T extends OperationType = OperationType> {
  /** Human name used in messages, e.g. "CreateImage". */
  readonly action: string;
  /**
   * The image's snapshots belong to the user (AmiFromSnapshot registers their
   * snapshots): never retag or delete them.
   */
  readonly snapshotsBelongToUser?: boolean;
  /**
   * The images behind a physical ID that is not an image ID (an import task),
   * for update and delete. May cancel work still in progress (delete only).
   */
  imagesOf?(ctx: { ec2: EC2Client; region: string }, physicalId: string, forDelete: boolean): Promise<string[]>;
  /** Starts the EC2 action and returns the image ID at once (the waiters wait). */
  create(ctx: OperationContext<T>): Promise<string>;
  /**
   * After a delete (the image removed or retained): undoes what the create did
   * outside the image, e.g. a copy's share of its source. `image` is the image
   * as it was before the delete, if it still existed.
   */
  afterDelete?(ctx: Omit<OperationContext<T>, 'imageName'>, image: Image | undefined): Promise<void>;
}

/** What every request of an operation resource works with. */
interface Request {
  readonly event: CustomResourceEvent;
  readonly props: ResourceProperties;
  readonly region: string;
  readonly ec2: EC2Client;
  readonly ownership: Ownership;
}

export async function handleOperation(op: ImageOperation, event: CustomResourceEvent): Promise<OnEventResponse> {
  const props = event.ResourceProperties as ResourceProperties;
  const region = required(props, 'Region');
  // An image owned by another account is made, read and removed there, as the role the user named.
  const req: Request = { event, props, region, ec2: ec2(region, roleOf(props, event.LogicalResourceId)), ownership: ownershipOf(event) };

  switch (event.RequestType) {
    case 'Create':
      return { PhysicalResourceId: await create(op, req) };

    case 'Update': {
      const before = event.OldResourceProperties as ResourceProperties;
      // The contract marks which properties replace the image (createOnly).
      const replacedBy = changed(before, props, createOnlyProperties(event.ResourceType as OperationType));
      if (replacedBy.length > 0) {
        log('info', 'replacing image', { imageId: event.PhysicalResourceId, changed: replacedBy });
        // CloudFormation then deletes the old image under its removal policy.
        return { PhysicalResourceId: await create(op, req) };
      }
      for (const imageId of await imagesOf(op, req, event.PhysicalResourceId, false)) {
        await updateInPlace(req, imageId, before, !op.snapshotsBelongToUser);
      }
      return { PhysicalResourceId: event.PhysicalResourceId };
    }

    case 'Delete':
      for (const imageId of await imagesOf(op, req, event.PhysicalResourceId, true)) {
        const image = await deleteImage(req, imageId, !!op.snapshotsBelongToUser);
        await op.afterDelete?.(req, image);
      }
      return { PhysicalResourceId: event.PhysicalResourceId };
  }
}

async function imagesOf(op: ImageOperation, req: Request, physicalId: string, forDelete: boolean): Promise<string[]> {
  if (op.imagesOf) return op.imagesOf(req, physicalId, forDelete);
  if (physicalId.startsWith('ami-')) return [physicalId];
  // The create failed before EC2 returned an image: nothing to change or clean up.
  log('info', 'no image behind this resource', { physicalId });
  return [];
}

async function create(op: ImageOperation, req: Request): Promise<string> {
  const imageName = str(req.props.ImageName) ?? uniqueName(required(req.props, 'NamePrefix'), req.event.RequestId);
  const imageId = await op.create({ ...req, imageName });
  log('info', `${op.action} started`, { imageId, imageName, region: req.region });
  return imageId;
}

/**
 * A name nobody else has: the construct path plus a hash of this request. The
 * same request (a retried Lambda) gets the same name, so it finds its image.
 */
export function uniqueName(prefix: string, requestId: string): string {
  return `${prefix.slice(0, GeneratedNames.MAX_PREFIX_LENGTH)}-${shortHash(requestId).slice(0, GeneratedNames.HASH_LENGTH)}`;
}

async function updateInPlace(req: Request, imageId: string, before: ResourceProperties, retagSnapshots: boolean): Promise<void> {
  const image = await describeImage(req.ec2, imageId);
  if (!image || image.State === 'deregistered') {
    if (await isRollingBack(req.event.StackId)) {
      // Reverting description or tags of an image deregistered outside CloudFormation:
      // nothing to revert, and failing would leave the stack in UPDATE_ROLLBACK_FAILED.
      log('warn', 'image no longer exists; the rollback has nothing to revert', { imageId, region: req.region });
      return;
    }
    throw new AmiError(
      `Image ${imageId} no longer exists in ${req.region}; it was deregistered outside CloudFormation. Change imageName or remove and re-add the construct to create a new one.`,
    );
  }
  assertOwned(image, req.ownership, req.region, 'update');
  try {
    if (changed(before, req.props, ['Description']).length > 0) {
      await updateDescription(req.ec2, imageId, str(req.props.Description));
    }
    await updateTags(req.ec2, image, tags(before.Tags), tags(req.props.Tags), retagSnapshots, {
      before: tags(before.SnapshotTags), after: tags(req.props.SnapshotTags),
    });
  } catch (err) {
    throw toAmiError(err, `Updating image ${imageId} in ${req.region}`);
  }
}

/** Deletes or retains the image, as the removal rule decides; returns it as it was before. */
async function deleteImage(req: Request, physicalId: string, keepSnapshots: boolean): Promise<Image | undefined> {
  const image = await describeImage(req.ec2, physicalId);
  const decision = await decideRemoval(str(req.props.RemovalPolicy), req.event.StackId, heldImage(image));
  if (!decision.destroy) {
    log('info', 'image retained', { imageId: physicalId, region: req.region, reason: decision.reason });
    return image;
  }
  log('info', 'deleting image', { imageId: physicalId, region: req.region, reason: decision.reason });
  // Only an image that was handed out can be in use; a failed deployment's never was.
  if (image && image.State !== 'deregistered' && !decision.overridesProtection) await warnIfReferenced(req.ec2, physicalId, req.region);
  if (image && image.State !== 'deregistered' && bool(req.props.FastLaunch, false)) {
    // EC2 cleans up the pre-provisioned snapshots itself once fast launch is disabled.
    await disableFastLaunchBeforeDeregister(req.ec2, physicalId, req.region, decision.overridesProtection);
  }
  await destroyImage(req.ec2, physicalId, image, req.ownership, req.region, { overrideProtection: decision.overridesProtection, keepSnapshots });
  return image;
}
