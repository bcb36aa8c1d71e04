import { DescribeSnapshotsCommand, EC2Client, ImportSnapshotCommand, ImportSnapshotTask } from '@aws-sdk/client-ec2';
import { startOrAdopt } from './shared/adopt';
import { whenCapacityAllows } from './shared/backoff';
import { declareCalls } from './shared/calls';
import { ec2 } from './shared/clients';
import { AmiError, errorCode, errorMessage, toAmiError } from './shared/errors';
import { deleteSnapshots, mergeTags, retag } from './shared/images';
import { log } from './shared/log';
import { ownershipOf, ownershipTags, shortHash, withoutReservedTags } from './shared/ownership';
import { bool, changed, required, str, tags } from './shared/props';
import { decideRemoval } from './shared/removal';
import { cancelTask, describeSnapshotTasks, isActive, snapshotTaskOfRequest, taskIdsOf } from './shared/snapshot-import-tasks';
import { CustomResourceEvent, OnEventResponse, Tag } from './shared/types';
import { createOnlyProperties, ReceivedProperties, ResourceTypes, Tags } from '../src/private/contract';

type Kind = typeof ResourceTypes.IMPORTED_SNAPSHOTS;
type Props = ReceivedProperties<Kind>;

/** Custom::ImportedSnapshots's own calls (onEvent). */
export const CALLS = declareCalls(
  'ec2:ImportSnapshot',
  'ec2:DescribeSnapshots',
);

interface Disk {
  readonly Format?: string;
  readonly Url?: string;
  readonly S3Bucket?: string;
  readonly S3Key?: string;
}

/**
 * Custom::ImportedSnapshots — one EC2 ImportSnapshot task per disk of an
 * AmiFromDisks. The physical ID is the task IDs in disk order, comma-joined;
 * the waiter's two stages follow the tasks and adopt their snapshots, and the
 * image is registered from them by a Custom::AmiFromSnapshot.
 */
export async function handleImportedSnapshots(event: CustomResourceEvent): Promise<OnEventResponse<Kind>> {
  const props = event.ResourceProperties as Props;
  const region = required(props, 'Region');
  const client = ec2(region);
  switch (event.RequestType) {
    case 'Create':
      return { PhysicalResourceId: await startImports(client, event, props, region) };
    case 'Update':
      // A change of a createOnly property imports the disks again (new tasks, a new physical ID).
      if (changed(event.OldResourceProperties, props, createOnlyProperties(ResourceTypes.IMPORTED_SNAPSHOTS)).length > 0) {
        return { PhysicalResourceId: await startImports(client, event, props, region) };
      }
      // The image's operation retags the image; the imported snapshots are this resource's.
      if (changed(event.OldResourceProperties, props, ['Tags', 'SnapshotTags']).length > 0) {
        const snapshotIds = await importedSnapshots(client, event.PhysicalResourceId, event);
        await retag(client, snapshotIds, snapshotTagsOf(event.OldResourceProperties as Props), snapshotTagsOf(props));
        log('info', 'imported snapshots retagged', { snapshotIds, region });
      }
      return { PhysicalResourceId: event.PhysicalResourceId };
    case 'Delete':
      await deleteImports(client, event, props, region);
      return { PhysicalResourceId: event.PhysicalResourceId };
  }
}

async function startImports(client: EC2Client, event: CustomResourceEvent, props: Props, region: string): Promise<string> {
  const disks = (Array.isArray(props.Disks) ? props.Disks : []) as Disk[];
  if (disks.length === 0) throw new AmiError('AmiFromDisks needs at least one disk.');
  const ownership = ownershipOf(event);
  const taskTags = [...withoutReservedTags(tags(props.Tags)), ...ownershipTags(ownership)];
  const encrypted = str(props.Encrypted) === undefined ? undefined : bool(props.Encrypted, false);
  const taskIds: string[] = [];
  for (const [index, disk] of disks.entries()) {
    const source = disk.Url ?? `s3://${disk.S3Bucket}/${disk.S3Key}`;
    try {
      const start = async () => (await whenCapacityAllows('ImportSnapshot', region, () => client.send(new ImportSnapshotCommand({
        Description: str(props.Description) ?? `disk ${index + 1} of ${event.LogicalResourceId}`,
        DiskContainer: {
          Description: `disk ${index + 1}`,
          Format: disk.Format,
          Url: disk.Url,
          UserBucket: disk.S3Bucket ? { S3Bucket: disk.S3Bucket, S3Key: disk.S3Key } : undefined,
        },
        Encrypted: encrypted,
        KmsKeyId: str(props.KmsKeyId),
        RoleName: str(props.RoleName),
        // A repeated delivery of this request gets the same task back, never a second import.
        ClientToken: shortHash(`${event.StackId}/${event.LogicalResourceId}/${event.RequestId}/${index}`),
        TagSpecifications: [{ ResourceType: 'import-snapshot-task', Tags: taskTags }],
      })))).ImportTaskId!;
      // The SDK's retries repeat the ClientToken: this request has at most one task of this disk that no earlier disk took.
      const taskId = await startOrAdopt(start, async () => (await snapshotTaskOfRequest(
        client, ownership, (task) => !taskIds.includes(task.ImportTaskId ?? '') && importsDisk(task, disk),
      ))?.ImportTaskId, {
        leftover: 'could not look for a snapshot import the failed start may have made; cancel it if it exists',
        names: { disk: index + 1, source, request: ownership.request, region },
      });
      taskIds.push(taskId);
      log('info', 'snapshot import started', { importTaskId: taskId, disk: index + 1, source, region });
    } catch (err) {
      // The tasks already started must not run on: the failed create has no physical ID for a later delete.
      await cancelTasks(client, taskIds, 'another disk of the image could not be imported');
      throw explainImportError(err, index, source, region);
    }
  }
  return taskIds.join(',');
}

/** Whether a task imports this disk (its task detail names the same S3 object or URL). */
function importsDisk(task: ImportSnapshotTask, disk: Disk): boolean {
  const detail = task.SnapshotTaskDetail;
  if (disk.Url) return detail?.Url === disk.Url;
  return detail?.UserBucket?.S3Bucket === disk.S3Bucket && detail?.UserBucket?.S3Key === disk.S3Key;
}

/** What the imported snapshots carry besides the ownership tags: the image's tags, with the snapshot-only tags over them. */
function snapshotTagsOf(props: Props): Tag[] {
  return mergeTags(tags(props.Tags), tags(props.SnapshotTags));
}

function explainImportError(err: unknown, index: number, source: string, region: string): AmiError {
  const message = errorMessage(err);
  switch (errorCode(err)) {
    case 'InvalidParameter':
    case 'InvalidParameterValue':
    case 'MissingParameter':
      return new AmiError(`EC2 rejected the import of disk ${index + 1} (${source}) in ${region}: ${message}`);
    case 'InvalidS3ObjectKey':
    case 'NoSuchKey':
      return new AmiError(`Disk ${index + 1} (${source}) does not exist or cannot be read in S3: ${message}`);
    default:
      return toAmiError(err, `ImportSnapshot of disk ${index + 1} (${source}) in ${region}`);
  }
}

/** Cancels the tasks that still run; a task that finished meanwhile is left to its snapshot's owner. */
export async function cancelTasks(client: EC2Client, taskIds: string[], reason: string): Promise<void> {
  if (taskIds.length === 0) return;
  const tasks = await describeSnapshotTasks(client, taskIds);
  for (const taskId of taskIds) {
    // A task not visible yet may still be running: cancel it too.
    if (!tasks.has(taskId) || isActive(tasks.get(taskId))) await cancelTask(client, taskId, reason);
  }
}

/**
 * Delete: running tasks are cancelled in any case. The snapshots stage 2
 * adopted (tagged with their task) go under DESTROY or in a rollback, and stay
 * under RETAIN like the image; an image still registered from them keeps them
 * (EC2 refuses, InvalidSnapshot.InUse; the log says so). Snapshots never
 * adopted are removed by the Delete of stage 2, which has the exact grant.
 */
async function deleteImports(client: EC2Client, event: CustomResourceEvent, props: Props, region: string): Promise<void> {
  if (event.RequestType !== 'Delete') return;
  const taskIds = taskIdsOf(event.PhysicalResourceId);
  if (taskIds.length === 0) return;
  await cancelTasks(client, taskIds, 'CloudFormation deleted the resource');
  const decision = await decideRemoval(str(props.RemovalPolicy), event.StackId, { noun: 'the imported snapshots' });
  const snapshotIds = await importedSnapshots(client, event.PhysicalResourceId, event);
  if (!decision.destroy) {
    log('info', 'imported snapshots retained', { snapshotIds, region, reason: decision.reason });
    return;
  }
  log('info', 'imported snapshots removed', { snapshotIds, region, reason: decision.reason });
  // An image still registered from one (RETAIN kept it, and the image is not this resource's) keeps it.
  await deleteSnapshots(client, snapshotIds, region, true);
}

/** The snapshots stage 2 adopted for these tasks: tagged with one of them and this resource's owner. */
async function importedSnapshots(client: EC2Client, physicalId: string, event: CustomResourceEvent): Promise<string[]> {
  const out = await client.send(new DescribeSnapshotsCommand({
    OwnerIds: ['self'],
    Filters: [{ Name: `tag:${Tags.IMPORT_TASK}`, Values: taskIdsOf(physicalId) }, { Name: `tag:${Tags.OWNER}`, Values: [ownershipOf(event).owner] }],
  }));
  return (out.Snapshots ?? []).map((s) => s.SnapshotId!).filter(Boolean);
}
