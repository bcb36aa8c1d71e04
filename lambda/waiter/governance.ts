import {
  DisableImageCommand,
  DisableImageDeprecationCommand,
  DisableImageDeregistrationProtectionCommand,
  EC2Client,
  EnableImageCommand,
  EnableImageDeprecationCommand,
  EnableImageDeregistrationProtectionCommand,
  GetImageBlockPublicAccessStateCommand,
  Image,
  LaunchPermission,
  ModifyImageAttributeCommand,
  ModifySnapshotAttributeCommand,
} from '@aws-sdk/client-ec2';
import { declareCalls } from '../shared/calls';
import { AmiError, toAmiError } from '../shared/errors';
import { snapshotIdsOf } from '../shared/images';
import { log } from '../shared/log';
import { bool, str } from '../shared/props';
import { ResourceProperties } from '../shared/types';

/** Sharing, deprecation and protection (isComplete, last link). */
export const CALLS = declareCalls(
  'ec2:ModifyImageAttribute',
  'ec2:ModifySnapshotAttribute',
  'ec2:EnableImageDeprecation',
  'ec2:DisableImageDeprecation',
  'ec2:EnableImageDeregistrationProtection',
  'ec2:DisableImageDeregistrationProtection',
  'ec2:GetImageBlockPublicAccessState',
  'ec2:DisableImage',
  'ec2:EnableImage',
);

/**
 * Sharing, deprecation and deregistration protection, as the last waiter link
 * carries them. Applied as the difference between the properties the image
 * already has (`before`: empty for a new image) and the wanted ones, so a
 * change never replaces the image.
 */
interface Governance {
  readonly launchPermissions: LaunchPermission[];
  readonly snapshotUsers: string[];
  /** An absolute time (ISO-8601, may be in the past). */
  readonly deprecateAt?: string;
  /** Seconds after the image's CreationDate. At most one of the two is set. */
  readonly deprecateAfterSeconds?: number;
  readonly protection: string;
  /** `v2.0`: instances launched from the image require IMDSv2. */
  readonly imdsSupport?: string;
  /** When the image was disabled (a time that had passed at synth); unset: enabled. */
  readonly disableAt?: string;
}

export function readGovernance(props: ResourceProperties | undefined): Governance {
  const launchPermissions: LaunchPermission[] = Array.isArray(props?.LaunchPermissions)
    ? (props!.LaunchPermissions as Record<string, string>[]).map((p) => ({ ...p }))
    : [];
  if (bool(props?.Public, false)) launchPermissions.push({ Group: 'all' });
  const users = launchPermissions.map((p) => p.UserId).filter((u): u is string => !!u);
  return {
    launchPermissions,
    snapshotUsers: bool(props?.ShareSnapshots, false) ? users : [],
    deprecateAt: str(props?.DeprecateAt),
    deprecateAfterSeconds: wholeSeconds(props?.DeprecateAfterSeconds),
    protection: str(props?.DeregistrationProtection) ?? 'disabled',
    imdsSupport: str(props?.ImdsSupport),
    disableAt: str(props?.DisableAt),
  };
}

function wholeSeconds(value: unknown): number | undefined {
  const text = str(value);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new AmiError(`DeprecateAfterSeconds must be a whole number of seconds, got "${text}".`);
  return Number(text);
}

export async function applyGovernance(ec2: EC2Client, image: Image, before: Governance, after: Governance, region: string): Promise<void> {
  const imageId = image.ImageId!;
  if (after.deprecateAt && after.deprecateAfterSeconds !== undefined) {
    throw new AmiError(`Image ${imageId} has both DeprecateAt and DeprecateAfterSeconds; set at most one of them.`);
  }
  try {
    // First, so that no instance is launched from the image without it.
    await applyImdsSupport(ec2, image, after);
    const disabled = image.State === 'disabled';
    if (after.disableAt) {
      // DisableImage removes every launch permission, so none are changed here; it comes last.
      await applySnapshotPermissions(ec2, image, before, after);
      await applyDeprecation(ec2, image, before, after);
      await applyProtection(ec2, imageId, before, after);
      if (!disabled) await disableImage(ec2, imageId, after.disableAt);
      return;
    }
    if (disabled) {
      // EnableImage gives none of the launch permissions back: all are granted again.
      await ec2.send(new EnableImageCommand({ ImageId: imageId }));
      log('info', 'image enabled', { imageId });
    }
    await applyLaunchPermissions(ec2, imageId, disabled ? { ...before, launchPermissions: [] } : before, after, region);
    await applySnapshotPermissions(ec2, image, before, after);
    await applyDeprecation(ec2, image, before, after);
    await applyProtection(ec2, imageId, before, after);
  } catch (err) {
    throw toAmiError(err, `Applying IMDSv2, sharing, deprecation, protection or disabling to image ${imageId} in ${region}`);
  }
}

/**
 * ModifyImageAttribute ImdsSupport, unless the image has it (RegisterImage set
 * it, or a retried poll did): EC2 cannot take it back, so it is only ever added.
 */
async function applyImdsSupport(ec2: EC2Client, image: Image, after: Governance): Promise<void> {
  if (after.imdsSupport === undefined || image.ImdsSupport === after.imdsSupport) return;
  await ec2.send(new ModifyImageAttributeCommand({ ImageId: image.ImageId!, ImdsSupport: { Value: after.imdsSupport } }));
  log('info', 'IMDSv2 required', { imageId: image.ImageId, imdsSupport: after.imdsSupport });
}

async function disableImage(ec2: EC2Client, imageId: string, disableAt: string): Promise<void> {
  await ec2.send(new DisableImageCommand({ ImageId: imageId }));
  log('info', 'image disabled', { imageId, disableAt });
}

const key = (p: LaunchPermission) => JSON.stringify([p.UserId, p.Group, p.OrganizationArn, p.OrganizationalUnitArn]);

function difference<T>(a: T[], b: T[], keyOf: (x: T) => string): T[] {
  const keys = new Set(b.map(keyOf));
  return a.filter((x) => !keys.has(keyOf(x)));
}

async function applyLaunchPermissions(ec2: EC2Client, imageId: string, before: Governance, after: Governance, region: string): Promise<void> {
  const add = difference(after.launchPermissions, before.launchPermissions, key);
  const remove = difference(before.launchPermissions, after.launchPermissions, key);
  if (add.length + remove.length === 0) return;
  if (add.some((p) => p.Group === 'all')) await assertPublicSharingAllowed(ec2, imageId, region);
  await ec2.send(new ModifyImageAttributeCommand({
    ImageId: imageId,
    LaunchPermission: { Add: add.length ? add : undefined, Remove: remove.length ? remove : undefined },
  }));
  log('info', 'launch permissions updated', { imageId, added: add, removed: remove });
}

/** EC2 refuses public sharing under image block public access; say so in words, before trying. */
async function assertPublicSharingAllowed(ec2: EC2Client, imageId: string, region: string): Promise<void> {
  const out = await ec2.send(new GetImageBlockPublicAccessStateCommand({}));
  if (out.ImageBlockPublicAccessState === 'block-new-sharing') {
    throw new AmiError(
      `Image ${imageId} cannot be made public: image block public access is on for this account in ${region} (block-new-sharing). Turn it off (EC2 DisableImageBlockPublicAccess) or remove dangerouslyMakePublic.`,
    );
  }
}

async function applySnapshotPermissions(ec2: EC2Client, image: Image, before: Governance, after: Governance): Promise<void> {
  const add = difference(after.snapshotUsers, before.snapshotUsers, (u) => u);
  const remove = difference(before.snapshotUsers, after.snapshotUsers, (u) => u);
  if (add.length + remove.length === 0) return;
  for (const snapshotId of snapshotIdsOf(image)) {
    if (add.length) {
      await ec2.send(new ModifySnapshotAttributeCommand({ SnapshotId: snapshotId, Attribute: 'createVolumePermission', OperationType: 'add', UserIds: add }));
    }
    if (remove.length) {
      await ec2.send(new ModifySnapshotAttributeCommand({ SnapshotId: snapshotId, Attribute: 'createVolumePermission', OperationType: 'remove', UserIds: remove }));
    }
  }
  log('info', 'snapshot permissions updated', { imageId: image.ImageId, added: add, removed: remove });
}

async function applyDeprecation(ec2: EC2Client, image: Image, before: Governance, after: Governance): Promise<void> {
  const imageId = image.ImageId!;
  if (before.deprecateAt === after.deprecateAt && before.deprecateAfterSeconds === after.deprecateAfterSeconds) return;
  if (!after.deprecateAt && after.deprecateAfterSeconds === undefined) {
    await ec2.send(new DisableImageDeprecationCommand({ ImageId: imageId }));
    log('info', 'deprecation updated', { imageId, deprecateAt: null });
    return;
  }
  const wanted = deprecationTime(image, after);
  const earliest = earliestDeprecationTime();
  const deprecateAt = wanted < earliest ? earliest : wanted;
  if (deprecateAt !== wanted) {
    // EC2 refuses a time in the past: a date that passed since synth (or an
    // image older than its deprecateAfter) is deprecated as soon as EC2 allows.
    log('warn', 'deprecation time has passed; deprecating at the earliest time EC2 accepts', {
      imageId, requested: wanted.toISOString(), deprecateAt: deprecateAt.toISOString(),
    });
  }
  await ec2.send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: deprecateAt }));
  log('info', 'deprecation updated', {
    imageId,
    deprecateAt: deprecateAt.toISOString(),
    ...(after.deprecateAfterSeconds !== undefined ? { deprecateAfterSeconds: after.deprecateAfterSeconds, creationDate: image.CreationDate } : {}),
  });
}

/** DeprecateAt, or the image's CreationDate plus DeprecateAfterSeconds. */
function deprecationTime(image: Image, g: Governance): Date {
  if (g.deprecateAt) {
    const at = new Date(g.deprecateAt);
    if (Number.isNaN(at.getTime())) throw new AmiError(`DeprecateAt must be an ISO-8601 time, got "${g.deprecateAt}".`);
    return at;
  }
  // An image EC2 reports without a creation date counts from now.
  const created = image.CreationDate ? Date.parse(image.CreationDate) : Date.now();
  return new Date(created + g.deprecateAfterSeconds! * 1000);
}

/**
 * EC2 rounds DeprecateAt to the nearest minute and refuses a time in the past:
 * the first whole minute at least a minute from now is in the future when the
 * request arrives, whatever the rounding.
 */
export function earliestDeprecationTime(now = Date.now()): Date {
  return new Date(Math.ceil((now + MINUTE_MS) / MINUTE_MS) * MINUTE_MS);
}

const MINUTE_MS = 60_000;

async function applyProtection(ec2: EC2Client, imageId: string, before: Governance, after: Governance): Promise<void> {
  if (before.protection === after.protection) return;
  if (after.protection === 'disabled') {
    await ec2.send(new DisableImageDeregistrationProtectionCommand({ ImageId: imageId }));
  } else {
    await ec2.send(new EnableImageDeregistrationProtectionCommand({ ImageId: imageId, WithCooldown: after.protection === 'enabled-with-cooldown' }));
  }
  log('info', 'deregistration protection updated', { imageId, protection: after.protection });
}
