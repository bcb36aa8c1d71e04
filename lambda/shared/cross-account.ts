import {
  DescribeImageAttributeCommand, DescribeSnapshotAttributeCommand, EC2Client, Image, ModifyImageAttributeCommand, ModifySnapshotAttributeCommand,
} from '@aws-sdk/client-ec2';
import { declareCalls } from './calls';
import { AssumedRole } from './clients';
import { AmiError, errorCode, errorMessage, isNotFound, isRefused, sentence, serverFailure, toAmiError, withoutFullStop } from './errors';
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

/** What a share has added so far: withdrawn exactly, should the share fail part-way. */
interface Added {
  launch: boolean;
  readonly snapshotIds: string[];
}

/**
 * Lets `account` copy the source: launch permission on the image and
 * createVolumePermission on each of its snapshots (EC2 copies the snapshots as
 * the copying account). Returns what was added, so that only that is withdrawn.
 * A share that fails part-way withdraws what it added before it fails.
 */
export async function shareSource(client: EC2Client, source: Image, account: string, region: string): Promise<ShareRecord> {
  const imageId = source.ImageId!;
  const added: Added = { launch: false, snapshotIds: [] };
  try {
    const attr = await client.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }));
    if (!(attr.LaunchPermissions ?? []).some((p) => p.UserId === account)) {
      await client.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: [{ UserId: account }] } }));
      added.launch = true;
    }
    for (const snapshotId of snapshotIdsOf(source)) {
      const snap = await client.send(new DescribeSnapshotAttributeCommand({ SnapshotId: snapshotId, Attribute: 'createVolumePermission' }));
      if ((snap.CreateVolumePermissions ?? []).some((p) => p.UserId === account)) continue;
      await client.send(new ModifySnapshotAttributeCommand({
        SnapshotId: snapshotId, Attribute: 'createVolumePermission', OperationType: 'add', UserIds: [account],
      }));
      added.snapshotIds.push(snapshotId);
    }
  } catch (err) {
    const what = `Sharing source image ${imageId} in ${region} with account ${account}, so that it can copy it,`;
    throw new AmiError(`${shareFailure(what, err)}${await undoPartialShare(client, imageId, account, added)}`);
  }
  const record = [...(added.launch ? ['launch'] : []), ...(added.snapshotIds.length ? ['volume'] : [])];
  log('info', 'source shared with the copying account', { imageId, region, account, added: record });
  return record.join(' ');
}

/** Why a share failed, in one sentence that fits the failure. */
function shareFailure(what: string, err: unknown): string {
  const server = serverFailure(err);
  if (server) return `${what} failed: EC2 answered ${server}. Try the deployment again later.`;
  if (isRefused(err)) {
    return `${what} was refused: ${errorCode(err)}: ${sentence(errorMessage(err))} Check the policies that apply to the provider's role (service control policies, permissions boundaries).`;
  }
  return sentence(toAmiError(err, what).message);
}

/** Withdraws a part-way share; says what is left when that fails too (nothing when it worked). */
async function undoPartialShare(client: EC2Client, imageId: string, account: string, added: Added): Promise<string> {
  if (!added.launch && added.snapshotIds.length === 0) return '';
  try {
    await removePermissions(client, imageId, account, added.launch, added.snapshotIds);
    log('info', 'part-way share of the source withdrawn', { imageId, account, launch: added.launch, snapshotIds: added.snapshotIds });
    return '';
  } catch (err) {
    const left = [
      ...(added.launch ? [`the launch permission of image ${imageId}`] : []),
      ...(added.snapshotIds.length ? [`the createVolumePermission of snapshots ${added.snapshotIds.join(', ')}`] : []),
    ];
    return ` Withdrawing what it had shared failed too (${withoutFullStop(errorMessage(err))}): remove account ${account} from ${left.join(' and ')} by hand.`;
  }
}

/** Removes `account` from the image's launch permission (when `launch`) and the snapshots' createVolumePermission. */
async function removePermissions(client: EC2Client, imageId: string, account: string, launch: boolean, snapshotIds: string[]): Promise<void> {
  if (launch) {
    await client.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Remove: [{ UserId: account }] } }));
  }
  for (const snapshotId of snapshotIds) {
    await client.send(new ModifySnapshotAttributeCommand({
      SnapshotId: snapshotId, Attribute: 'createVolumePermission', OperationType: 'remove', UserIds: [account],
    }));
  }
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
    await removePermissions(client, sourceImageId, account, added.has('launch'), added.has('volume') ? snapshotIdsOf(source) : []);
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
