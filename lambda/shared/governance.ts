import {
  DisableImageDeprecationCommand,
  DisableImageDeregistrationProtectionCommand,
  EC2Client,
  EnableImageDeprecationCommand,
  EnableImageDeregistrationProtectionCommand,
  GetImageBlockPublicAccessStateCommand,
  Image,
  LaunchPermission,
  ModifyImageAttributeCommand,
  ModifySnapshotAttributeCommand,
} from '@aws-sdk/client-ec2';
import { declareCalls } from './calls';
import { AmiError, toAmiError } from './errors';
import { snapshotIdsOf } from './images';
import { log } from './log';
import { bool, str } from './props';
import { ResourceProperties } from './types';

/** Sharing, deprecation and protection (isComplete, last link). */
export const CALLS = declareCalls(
  'ec2:ModifyImageAttribute',
  'ec2:ModifySnapshotAttribute',
  'ec2:EnableImageDeprecation',
  'ec2:DisableImageDeprecation',
  'ec2:EnableImageDeregistrationProtection',
  'ec2:DisableImageDeregistrationProtection',
  'ec2:GetImageBlockPublicAccessState',
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
  readonly deprecateAt?: string;
  readonly protection: string;
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
    protection: str(props?.DeregistrationProtection) ?? 'disabled',
  };
}

export async function applyGovernance(ec2: EC2Client, image: Image, before: Governance, after: Governance, region: string): Promise<void> {
  const imageId = image.ImageId!;
  try {
    await applyLaunchPermissions(ec2, imageId, before, after, region);
    await applySnapshotPermissions(ec2, image, before, after);
    await applyDeprecation(ec2, imageId, before, after);
    await applyProtection(ec2, imageId, before, after);
  } catch (err) {
    throw toAmiError(err, `Applying sharing, deprecation or protection to image ${imageId} in ${region}`);
  }
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

async function applyDeprecation(ec2: EC2Client, imageId: string, before: Governance, after: Governance): Promise<void> {
  if (before.deprecateAt === after.deprecateAt) return;
  if (after.deprecateAt) {
    await ec2.send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: new Date(after.deprecateAt) }));
  } else {
    await ec2.send(new DisableImageDeprecationCommand({ ImageId: imageId }));
  }
  log('info', 'deprecation updated', { imageId, deprecateAt: after.deprecateAt ?? null });
}

async function applyProtection(ec2: EC2Client, imageId: string, before: Governance, after: Governance): Promise<void> {
  if (before.protection === after.protection) return;
  if (after.protection === 'disabled') {
    await ec2.send(new DisableImageDeregistrationProtectionCommand({ ImageId: imageId }));
  } else {
    await ec2.send(new EnableImageDeregistrationProtectionCommand({ ImageId: imageId, WithCooldown: after.protection === 'enabled-with-cooldown' }));
  }
  log('info', 'deregistration protection updated', { imageId, protection: after.protection });
}
