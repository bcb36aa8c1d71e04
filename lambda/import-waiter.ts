import { CopyImageCommand, CreateTagsCommand, EC2Client, Image, ImportImageTask, Tag } from '@aws-sdk/client-ec2';
import { declareCalls } from './shared/calls';
import { AmiError, errorMessage, isCapacityError, toAmiError } from './shared/errors';
import { describeImage, destroyImage, mergeTags, snapshotIdsOf } from './shared/images';
import { describeImportTask, imagesOfImportTask } from './shared/import-tasks';
import { log } from './shared/log';
import { IMPORT_TASK_TAG, OWNER_TAG, REQUEST_TAG, STACK_TAG, shortHash } from './shared/ownership';
import { str, tags as tagList } from './shared/props';
import { ResourceProperties, Tag as UserTag } from './shared/types';

/** The waiter's calls while it follows an import (isComplete): adopt, then copy under the name. */
export const CALLS = declareCalls(
  'ec2:CreateTags',
  'ec2:CopyImage',
);

/**
 * Follow the image from here on (and, once it is available, remove the
 * unnamed import it was copied from), or keep waiting for the task.
 */
export type ImportOutcome = { readonly imageId: string; readonly leftovers: Image[] } | { readonly pending: string };

/**
 * One poll of an import task (the waiter's ImageId is the task ID). While the
 * task runs, its Progress and StatusMessage go to the log. Once it completes,
 * the image and snapshots get the task's tags (VM Import does not tag them),
 * and, when `ImageName` is set, a copy under that name replaces the unnamed
 * import; the waiter then follows that image.
 */
export async function followImportTask(
  ec2: EC2Client, taskId: string, props: ResourceProperties, region: string, logFields: Record<string, unknown>,
): Promise<ImportOutcome> {
  const task = await describeImportTask(ec2, taskId);
  if (task?.Status === 'active' || task?.Status === 'deleting') {
    log('info', 'poll', { ...logFields, importTaskId: taskId, status: task.Status, statusMessage: task.StatusMessage, progress: task.Progress });
    return { pending: task.StatusMessage ?? task.Status };
  }
  if (task?.Status === 'deleted') {
    throw new AmiError(`Import task ${taskId} in ${region} failed: ${task.StatusMessage ?? 'EC2 gave no reason'}. Check the disk image format and the operating system requirements of VM Import.`);
  }

  const imageName = str(props.ImageName);
  const made = await imagesOfImportTask(ec2, taskId);
  const finished = imageName ? made.find((i) => i.Name === imageName) : made[0];
  if (finished) return { imageId: finished.ImageId!, leftovers: made.filter((i) => i !== finished) };
  if (!task) {
    // Not visible yet right after ImportImage, or forgotten and nothing tagged: the caller's grace decides.
    return { pending: 'not visible yet' };
  }
  const imageId = await adoptCompletedImport(ec2, task, imageName, tagList(props.SnapshotTags), region);
  // No capacity for the copy yet: the next poll starts it again (same client token).
  if (!imageId) return { pending: 'waiting for capacity to copy the imported image under its name' };
  return { imageId, leftovers: [] };
}

/** The image to follow, or undefined while EC2 has no capacity to start the named copy. */
async function adoptCompletedImport(
  ec2: EC2Client, task: ImportImageTask, imageName: string | undefined, snapshotOnlyTags: UserTag[], region: string,
): Promise<string | undefined> {
  const taskId = task.ImportTaskId!;
  const importedId = task.ImageId!;
  const tags: Tag[] = [...(task.Tags ?? []), { Key: IMPORT_TASK_TAG, Value: taskId }];
  const snapshotTags = mergeTags(tags.map((t) => ({ Key: t.Key ?? '', Value: t.Value ?? '' })), snapshotOnlyTags);
  if (!tags.some((t) => t.Key === STACK_TAG)) {
    throw new AmiError(`Import task ${taskId} does not carry cdk-ami's ownership tags; refusing to adopt its image ${importedId}.`);
  }
  try {
    const imported = await describeImage(ec2, importedId);
    const snapshotIds = imported ? snapshotIdsOf(imported) : (task.SnapshotDetails ?? []).map((d) => d.SnapshotId!).filter(Boolean);
    if (snapshotOnlyTags.length === 0 || snapshotIds.length === 0) {
      await ec2.send(new CreateTagsCommand({ Resources: [importedId, ...snapshotIds], Tags: tags }));
    } else {
      await ec2.send(new CreateTagsCommand({ Resources: [importedId], Tags: tags }));
      await ec2.send(new CreateTagsCommand({ Resources: snapshotIds, Tags: snapshotTags }));
    }
    log('info', 'imported image tagged', { importTaskId: taskId, imageId: importedId, snapshotIds });
    if (!imageName) return importedId;

    // ImportImage cannot name the image: copy it under the name, then drop the unnamed one.
    const copy = await ec2.send(new CopyImageCommand({
      SourceImageId: importedId,
      SourceRegion: region,
      Name: imageName,
      Description: imported?.Description,
      ClientToken: shortHash(`${taskId}/${imageName}`),
      TagSpecifications: [{ ResourceType: 'image', Tags: tags }, { ResourceType: 'snapshot', Tags: snapshotTags }],
    }));
    log('info', 'imported image being copied under its name', { importTaskId: taskId, unnamedImageId: importedId, imageId: copy.ImageId, imageName });
    return copy.ImageId!;
  } catch (err) {
    if (isCapacityError(err)) {
      log('warn', 'waiting for capacity: too many concurrent image operations in the Region', {
        action: 'CopyImage', region, importTaskId: taskId, imageId: importedId, error: errorMessage(err),
      });
      return undefined;
    }
    throw toAmiError(err, `Finishing import task ${taskId} (image ${importedId}) in ${region}`);
  }
}

/** The unnamed import a named copy was made from: it goes once the copy is available. */
export async function removeUnnamed(ec2: EC2Client, image: Image, region: string): Promise<void> {
  const tags = image.Tags ?? [];
  const owner = { stack: tagOf(tags, STACK_TAG), owner: tagOf(tags, OWNER_TAG), request: tagOf(tags, REQUEST_TAG) };
  await destroyImage(ec2, image.ImageId!, image, owner, region);
  log('info', 'unnamed imported image removed', { imageId: image.ImageId, region });
}

function tagOf(tags: { Key?: string; Value?: string }[], key: string): string {
  return tags.find((t) => t.Key === key)?.Value ?? '';
}
