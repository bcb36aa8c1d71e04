import { CancelImportTaskCommand, ImageDiskContainer, ImportImageCommand, ImportImageCommandInput } from '@aws-sdk/client-ec2';
import { startOrAdopt } from './shared/adopt';
import { whenCapacityAllows } from './shared/backoff';
import { declareCalls } from './shared/calls';
import { AmiError, errorCode, errorMessage, toAmiError } from './shared/errors';
import { describeImportTask, imagesOfImportTask, importTaskOfRequest } from './shared/import-tasks';
import { log } from './shared/log';
import { ImageOperation, OperationContext } from './shared/operation';
import { ownershipTags, shortHash, withoutReservedTags } from './shared/ownership';
import { bool, str, tags } from './shared/props';
import { ResourceTypes } from '../src/private/contract';

type Kind = typeof ResourceTypes.IMPORTED_AMI;

/** Custom::ImportedAmi's own calls (onEvent). */
export const CALLS = declareCalls(
  'ec2:ImportImage',
  'ec2:CancelImportTask',
);

/**
 * Custom::ImportedAmi — EC2 ImportImage (VM Import) from disk images in S3 or
 * EBS snapshots. The physical ID is the import task ID; stage 1 of the waiter
 * follows the task, stage 2 tags the image it made and, with ImageName,
 * renames it by copy (see waiter/import-waiter.ts).
 */
export const importImage: ImageOperation<Kind> = {
  action: 'ImportImage',
  create: startImport,
  imagesOf,
};

interface Disk {
  readonly Format?: string;
  readonly Url?: string;
  readonly S3Bucket?: string;
  readonly S3Key?: string;
  readonly SnapshotId?: string;
}

async function startImport(ctx: OperationContext<Kind>): Promise<string> {
  const disks = (Array.isArray(ctx.props.Disks) ? ctx.props.Disks : []) as Disk[];
  if (disks.length === 0) throw new AmiError('ImportedAmi needs at least one disk.');
  const containers: ImageDiskContainer[] = disks.map((d, i) => ({
    Description: `disk ${i + 1}`,
    Format: d.Format,
    Url: d.Url,
    UserBucket: d.S3Bucket ? { S3Bucket: d.S3Bucket, S3Key: d.S3Key } : undefined,
    SnapshotId: d.SnapshotId,
  }));
  const encrypted = str(ctx.props.Encrypted) === undefined ? undefined : bool(ctx.props.Encrypted, false);
  const input: ImportImageCommandInput = {
    DiskContainers: containers,
    Description: str(ctx.props.Description),
    Architecture: str(ctx.props.Architecture),
    Platform: str(ctx.props.Platform),
    BootMode: str(ctx.props.BootMode) as never,
    LicenseType: str(ctx.props.LicenseType),
    UsageOperation: str(ctx.props.UsageOperation),
    LicenseSpecifications: Array.isArray(ctx.props.LicenseConfigurationArns)
      ? ctx.props.LicenseConfigurationArns.map((arn) => ({ LicenseConfigurationArn: String(arn) }))
      : undefined,
    Encrypted: encrypted,
    KmsKeyId: str(ctx.props.KmsKeyId),
    RoleName: str(ctx.props.RoleName),
    // A retried Lambda gets the same task back, never a second import.
    ClientToken: shortHash(`${ctx.event.StackId}/${ctx.event.LogicalResourceId}/${ctx.event.RequestId}`),
    // Only the task can be tagged now; the waiter copies these tags to the image and snapshots.
    TagSpecifications: [{ ResourceType: 'import-image-task', Tags: [...withoutReservedTags(tags(ctx.props.Tags)), ...ownershipTags(ctx.ownership)] }],
  };
  try {
    return await startOrAdopt(
      async () => (await whenCapacityAllows('ImportImage', ctx.region, () => ctx.ec2.send(new ImportImageCommand(input)))).ImportTaskId!,
      // The SDK's retries repeat the ClientToken, so this request has at most one task.
      async () => (await importTaskOfRequest(ctx.ec2, ctx.ownership))?.ImportTaskId,
      {
        leftover: 'could not look for an import task the failed start may have made; cancel it if it exists',
        names: { owner: ctx.ownership.owner, request: ctx.ownership.request, region: ctx.region },
      },
    );
  } catch (err) {
    const message = errorMessage(err);
    switch (errorCode(err)) {
      case 'InvalidParameter':
      case 'InvalidParameterValue':
      case 'MissingParameter':
        throw new AmiError(`EC2 rejected the import in ${ctx.region}: ${message}`);
      case 'InvalidS3ObjectKey':
      case 'NoSuchKey':
        throw new AmiError(`A disk image of the import does not exist or cannot be read in S3: ${message}`);
      default:
        throw toAmiError(err, `ImportImage in ${ctx.region}`);
    }
  }
}

/**
 * An active task is cancelled (delete only). A finished one is represented by
 * the images tagged with its ID, which also works after EC2 forgot the task.
 */
async function imagesOf(ctx: { ec2: OperationContext<Kind>['ec2']; region: string }, taskId: string, forDelete: boolean): Promise<string[]> {
  if (!taskId.startsWith('import-ami-')) return [];
  const task = await describeImportTask(ctx.ec2, taskId);
  if (forDelete && task?.Status === 'active') {
    try {
      await ctx.ec2.send(new CancelImportTaskCommand({ ImportTaskId: taskId, CancelReason: 'CloudFormation deleted the resource' }));
      log('info', 'import task cancelled', { importTaskId: taskId, region: ctx.region });
    } catch (err) {
      // Finished between the two calls: its images are found below.
      log('info', 'import task could not be cancelled', { importTaskId: taskId, error: errorMessage(err) });
    }
  }
  const images = (await imagesOfImportTask(ctx.ec2, taskId)).map((i) => i.ImageId!);
  if (forDelete && task?.Status === 'completed' && task.ImageId && !images.includes(task.ImageId)) {
    // Never tagged: the first link of the import's stage 2 removes such an import when it is deleted. This role may
    // only remove what carries this stack's tag, so an import whose stage 2 never started stays (the log names it).
    const snapshotIds = (task.SnapshotDetails ?? []).map((d) => d.SnapshotId).filter(Boolean);
    log('warn', 'imported image was never tagged as this stack\'s; if it still exists, remove it by hand', {
      importTaskId: taskId, imageId: task.ImageId, snapshotIds, action: `deregister ${task.ImageId} and delete snapshots ${snapshotIds.join(', ')}`,
    });
  }
  return images;
}
