import {
  CreateTagsCommand,
  DeleteSnapshotCommand,
  DeleteTagsCommand,
  DeregisterImageCommand,
  DisableImageDeregistrationProtectionCommand,
  DescribeImagesCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  Image,
  ModifyImageAttributeCommand,
  TagSpecification,
} from '@aws-sdk/client-ec2';
import { declareCalls } from './calls';
import { AmiError, errorCode, isNotFound, toAmiError } from './errors';
import { log } from './log';
import { Ownership, isOwnedBy, ownershipTags, withoutReservedTags } from './ownership';
import { Tag } from './types';
import { Tags } from '../../src/private/contract';

/** Reading, retagging and removing images (onEvent, and isComplete for unnamed imports). */
export const CALLS = declareCalls(
  'ec2:DescribeImages',
  'ec2:DescribeSnapshots',
  'ec2:CreateTags',
  'ec2:DeleteTags',
  'ec2:DeregisterImage',
  'ec2:DeleteSnapshot',
  'ec2:DisableImageDeregistrationProtection',
  'ec2:ModifyImageAttribute',
);

/** The image, or undefined when EC2 does not know it (any more). */
export async function describeImage(ec2: EC2Client, imageId: string): Promise<Image | undefined> {
  try {
    // EC2 hides disabled images unless asked: a disabled image is still ours, and finished.
    const out = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId], IncludeDisabled: true }));
    return out.Images?.[0];
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** An image of this account with exactly this name, if one exists. */
export async function findImageByName(ec2: EC2Client, name: string): Promise<Image | undefined> {
  const out = await ec2.send(new DescribeImagesCommand({
    Owners: ['self'],
    IncludeDisabled: true,
    Filters: [{ Name: 'name', Values: [name] }],
  }));
  return out.Images?.find((image) => image.Name === name);
}

export function snapshotIdsOf(image: Image): string[] {
  return (image.BlockDeviceMappings ?? [])
    .map((m) => m.Ebs?.SnapshotId)
    .filter((id): id is string => !!id);
}

/**
 * Tags for the image and its snapshots at creation: the user's, then ours. The
 * snapshots also get the snapshot-only tags, which win over a tag of the same key.
 */
export function tagSpecifications(
  userTags: Tag[], ownership: Ownership, resourceTypes: ('image' | 'snapshot')[] = ['image', 'snapshot'], snapshotTags: Tag[] = [],
): TagSpecification[] {
  const tagsOf = (type: 'image' | 'snapshot') => [
    ...withoutReservedTags(type === 'snapshot' ? mergeTags(userTags, snapshotTags) : userTags),
    ...ownershipTags(ownership),
  ];
  return resourceTypes.map((ResourceType) => ({ ResourceType, Tags: tagsOf(ResourceType) }));
}

/** `base` with `over` applied on top: a key in both takes the value of `over`. */
export function mergeTags(base: Tag[], over: Tag[]): Tag[] {
  const merged = new Map(base.map((t) => [t.Key, t.Value]));
  for (const t of over) merged.set(t.Key, t.Value);
  return [...merged.entries()].map(([Key, Value]) => ({ Key, Value }));
}

/**
 * Refuses to touch an image this resource did not create. The IAM policy
 * already limits the provider to its own stack's images; this narrows it to
 * this resource, and explains the refusal in words.
 */
export function assertOwned(image: Image, ownership: Ownership, region: string, action: string): void {
  if (!isOwnedBy(image, ownership)) {
    throw new AmiError(
      `Refusing to ${action} image ${image.ImageId} in ${region}: it does not carry this resource's ${Tags.OWNER} tag, so cdk-ami did not create it for this resource.`,
    );
  }
}

/**
 * Deregisters the image (as just described, or undefined if EC2 no longer
 * knows it) and deletes every snapshot it used. Already gone counts as done,
 * so a retried or repeated delete succeeds.
 */
export interface DestroyOptions {
  /** Lift deregistration protection (the image belongs to a failed deployment). */
  readonly overrideProtection?: boolean;
  /** The snapshots are the user's (AmiFromSnapshot): deregister only. */
  readonly keepSnapshots?: boolean;
}

export async function destroyImage(
  ec2: EC2Client, imageId: string, image: Image | undefined, ownership: Ownership, region: string, options: DestroyOptions = {},
): Promise<void> {
  if (!image || image.State === 'deregistered') {
    log('info', 'image already gone', { imageId, region });
    if (!options.keepSnapshots) await deleteLeftoverSnapshots(ec2, imageId, ownership, region);
    return;
  }
  assertOwned(image, ownership, region, 'delete');
  const snapshotIds = snapshotIdsOf(image);
  const deregistered = await deregister(ec2, imageId, region, options);
  if (!deregistered || options.keepSnapshots) return;
  const deletedWithImage = new Set(deregistered);
  log('info', 'image deregistered', { imageId, region, snapshotIds });
  // EC2 skips a snapshot it cannot delete with the image; delete those one by one.
  await deleteSnapshots(ec2, snapshotIds.filter((id) => !deletedWithImage.has(id)), region);
  await deleteLeftoverSnapshots(ec2, imageId, ownership, region);
}

/**
 * Deregisters the image with its snapshots; returns the IDs of the snapshots
 * EC2 deleted with it, or undefined when the image must stay (a rollback that
 * meets protection with a cooldown).
 */
async function deregister(ec2: EC2Client, imageId: string, region: string, options: DestroyOptions): Promise<string[] | undefined> {
  const withSnapshots = !options.keepSnapshots;
  try {
    return await deregisterWithSnapshots(ec2, imageId, withSnapshots);
  } catch (err) {
    if (isNotFound(err)) return [];
    if (errorCode(err) !== 'OperationNotPermitted') throw toAmiError(err, `Deregistering image ${imageId} in ${region}`);
  }
  if (!options.overrideProtection) {
    throw new AmiError(
      `Cannot delete image ${imageId} in ${region}: deregistration protection is on. Turn off deregistrationProtection and deploy, or set removalPolicy to RETAIN to keep the image.`,
    );
  }
  // The image belongs to a deployment that failed: lift the protection it gave it.
  await ec2.send(new DisableImageDeregistrationProtectionCommand({ ImageId: imageId }));
  try {
    return await deregisterWithSnapshots(ec2, imageId, withSnapshots);
  } catch (err) {
    if (errorCode(err) !== 'OperationNotPermitted') throw toAmiError(err, `Deregistering image ${imageId} in ${region}`);
    // Protection with a cooldown holds for 24 hours; failing here would leave
    // the stack's rollback stuck, so the image stays and the log says why.
    log('warn', 'image kept: deregistration protection has a 24-hour cooldown', {
      imageId, region, action: `deregister ${imageId} and delete its snapshots after the cooldown`,
    });
    return undefined;
  }
}

async function deregisterWithSnapshots(ec2: EC2Client, imageId: string, withSnapshots: boolean): Promise<string[]> {
  const out = await ec2.send(new DeregisterImageCommand({ ImageId: imageId, DeleteAssociatedSnapshots: withSnapshots }));
  return (out.DeleteSnapshotResults ?? []).filter((r) => r.ReturnCode === 'success' && r.SnapshotId).map((r) => r.SnapshotId!);
}

/**
 * Snapshots a failed or cancelled image made before its block device mappings
 * were recorded: EC2 names the image in their description.
 */
async function deleteLeftoverSnapshots(ec2: EC2Client, imageId: string, ownership: Ownership, region: string): Promise<void> {
  const out = await ec2.send(new DescribeSnapshotsCommand({
    OwnerIds: ['self'],
    Filters: [
      { Name: `tag:${Tags.OWNER}`, Values: [ownership.owner] },
      { Name: 'description', Values: [`*${imageId}*`] },
    ],
  }));
  // A match still in use belongs to another image (e.g. a copy that copied our tags): not ours to delete.
  await deleteSnapshots(ec2, (out.Snapshots ?? []).map((s) => s.SnapshotId!).filter(Boolean), region, true);
}

/** Deletes the snapshots; already gone is fine, and with `skipInUse` one an image still uses is left (and logged). */
export async function deleteSnapshots(ec2: EC2Client, snapshotIds: string[], region: string, skipInUse = false): Promise<void> {
  for (const snapshotId of snapshotIds) {
    try {
      await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
      log('info', 'snapshot deleted', { snapshotId, region });
    } catch (err) {
      if (isNotFound(err)) continue;
      if (skipInUse && errorCode(err) === 'InvalidSnapshot.InUse') {
        log('info', 'snapshot in use by another image; left alone', { snapshotId, region });
        continue;
      }
      throw toAmiError(err, `Deleting snapshot ${snapshotId} in ${region}`);
    }
  }
}

/** The snapshot-only tags before and after an update. */
export interface SnapshotTagChange {
  readonly before: Tag[];
  readonly after: Tag[];
}

/**
 * Applies tag changes in place to the image and (unless they are the user's)
 * all its snapshots, which also carry the snapshot-only tags.
 */
export async function updateTags(
  ec2: EC2Client, image: Image, before: Tag[], after: Tag[], includeSnapshots = true, snapshotTags: SnapshotTagChange = { before: [], after: [] },
): Promise<void> {
  const imageChange = tagChange(before, after);
  const snapshotIds = includeSnapshots ? snapshotIdsOf(image) : [];
  const snapshotChange = tagChange(mergeTags(before, snapshotTags.before), mergeTags(after, snapshotTags.after));
  if (snapshotIds.length === 0 || JSON.stringify(imageChange) === JSON.stringify(snapshotChange)) {
    await applyTagChange(ec2, [image.ImageId!, ...snapshotIds], imageChange);
  } else {
    await applyTagChange(ec2, [image.ImageId!], imageChange);
    await applyTagChange(ec2, snapshotIds, snapshotChange);
  }
  if (imageChange.removed.length + imageChange.upserted.length + snapshotChange.removed.length + snapshotChange.upserted.length > 0) {
    log('info', 'tags updated', {
      imageId: image.ImageId,
      removed: imageChange.removed,
      changed: imageChange.upserted.map((t) => t.Key),
      ...(snapshotIds.length ? { snapshotsRemoved: snapshotChange.removed, snapshotsChanged: snapshotChange.upserted.map((t) => t.Key) } : {}),
    });
  }
}

/** Applies a change of the user's tags in place to this stack's `resources` (never `cdk-ami:*` keys). */
export async function retag(ec2: EC2Client, resources: string[], before: Tag[], after: Tag[]): Promise<void> {
  if (resources.length > 0) await applyTagChange(ec2, resources, tagChange(before, after));
}

interface TagChange {
  readonly removed: string[];
  readonly upserted: Tag[];
}

function tagChange(before: Tag[], after: Tag[]): TagChange {
  const oldTags = new Map(withoutReservedTags(before).map((t) => [t.Key, t.Value]));
  const newTags = new Map(withoutReservedTags(after).map((t) => [t.Key, t.Value]));
  return {
    removed: [...oldTags.keys()].filter((k) => !newTags.has(k)),
    upserted: [...newTags.entries()].filter(([k, v]) => oldTags.get(k) !== v).map(([Key, Value]) => ({ Key, Value })),
  };
}

async function applyTagChange(ec2: EC2Client, resources: string[], change: TagChange): Promise<void> {
  if (change.removed.length > 0) {
    await ec2.send(new DeleteTagsCommand({ Resources: resources, Tags: change.removed.map((Key) => ({ Key })) }));
  }
  if (change.upserted.length > 0) {
    await ec2.send(new CreateTagsCommand({ Resources: resources, Tags: change.upserted }));
  }
}

export async function updateDescription(ec2: EC2Client, imageId: string, description: string | undefined): Promise<void> {
  await ec2.send(new ModifyImageAttributeCommand({ ImageId: imageId, Description: { Value: description ?? '' } }));
  log('info', 'description updated', { imageId });
}
