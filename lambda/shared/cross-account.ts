import {
  DescribeImageAttributeCommand, DescribeSnapshotAttributeCommand, EC2Client, Image, ModifyImageAttributeCommand, ModifySnapshotAttributeCommand,
} from '@aws-sdk/client-ec2';
import { declareCalls } from './calls';
import { AssumedRole } from './clients';
import { AmiError, errorMessage, isNotFound, toAmiError } from './errors';
import { describeImage, snapshotIdsOf } from './images';
import { log } from './log';
import { tagValue } from './ownership';
import { str } from './props';
import { ResourceProperties } from './types';
import { Tags } from '../../src/private/contract';

/**
 * A copy owned by another account: the source's share with that account (as
 * the stack's own role, in the source Region). The role is assumed in clients.ts.
 */
export const CALLS = declareCalls(
  'ec2:DescribeImageAttribute',
  'ec2:ModifyImageAttribute',
  'ec2:DescribeSnapshotAttribute',
  'ec2:ModifySnapshotAttribute',
);

/** Session names allow letters, digits and `+=,.@-`, up to 64 characters. */
const MAX_SESSION_NAME = 64;

/** The role a resource's EC2 calls are made as, when its image belongs to another account. */
export function roleOf(props: ResourceProperties, logicalId: string): AssumedRole | undefined {
  const roleArn = str(props.RoleArn);
  if (!roleArn) return undefined;
  return { roleArn, sessionName: `cdk-ami-${logicalId}`.replace(/[^\w+=,.@-]/g, '-').slice(0, MAX_SESSION_NAME) };
}

/** What a share added: `launch`, `volume`, both (`launch volume`) or nothing. */
export type ShareRecord = string;

/**
 * Lets `account` copy the source: launch permission on the image and
 * createVolumePermission on each of its snapshots (EC2 copies the snapshots as
 * the copying account). Returns what was added, so that only that is withdrawn.
 */
export async function shareSource(client: EC2Client, source: Image, account: string, region: string): Promise<ShareRecord> {
  const imageId = source.ImageId!;
  const added: string[] = [];
  try {
    const attr = await client.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }));
    if (!(attr.LaunchPermissions ?? []).some((p) => p.UserId === account)) {
      await client.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: [{ UserId: account }] } }));
      added.push('launch');
    }
    let volumeAdded = false;
    for (const snapshotId of snapshotIdsOf(source)) {
      const snap = await client.send(new DescribeSnapshotAttributeCommand({ SnapshotId: snapshotId, Attribute: 'createVolumePermission' }));
      if ((snap.CreateVolumePermissions ?? []).some((p) => p.UserId === account)) continue;
      await client.send(new ModifySnapshotAttributeCommand({
        SnapshotId: snapshotId, Attribute: 'createVolumePermission', OperationType: 'add', UserIds: [account],
      }));
      volumeAdded = true;
    }
    if (volumeAdded) added.push('volume');
  } catch (err) {
    throw new AmiError(
      `Sharing source image ${imageId} in ${region} with account ${account}, so that it can copy it, failed: ${errorMessage(err)}. Only an image this account owns can be shared; copy an image shared with you into this account first.`,
    );
  }
  log('info', 'source shared with the copying account', { imageId, region, account, added });
  return added.join(' ');
}

/** Withdraws what `shareSource` added. A source already gone has nothing left to withdraw. */
export async function withdrawShare(
  client: EC2Client, sourceImageId: string, account: string, record: ShareRecord | undefined, region: string,
): Promise<void> {
  const added = new Set((record ?? '').split(' ').filter(Boolean));
  if (added.size === 0) return;
  try {
    const source = await describeImage(client, sourceImageId);
    if (!source || source.State === 'deregistered') {
      log('info', 'source image gone; its share needs no withdrawal', { sourceImageId, region, account });
      return;
    }
    if (added.has('launch')) {
      await client.send(new ModifyImageAttributeCommand({ ImageId: sourceImageId, LaunchPermission: { Remove: [{ UserId: account }] } }));
    }
    if (added.has('volume')) {
      for (const snapshotId of snapshotIdsOf(source)) {
        await client.send(new ModifySnapshotAttributeCommand({
          SnapshotId: snapshotId, Attribute: 'createVolumePermission', OperationType: 'remove', UserIds: [account],
        }));
      }
    }
  } catch (err) {
    if (isNotFound(err)) {
      log('info', 'source image gone; its share needs no withdrawal', { sourceImageId, region, account });
      return;
    }
    throw toAmiError(err, `Withdrawing the share of source image ${sourceImageId} in ${region} with account ${account}`);
  }
  log('info', 'share of the source withdrawn', { sourceImageId, region, account, withdrawn: [...added] });
}

/** What the create of `copy` added to its source's permissions (its tag). */
export function shareRecordOf(copy: Image | undefined): ShareRecord | undefined {
  return copy ? tagValue(copy, Tags.SOURCE_SHARE) : undefined;
}
