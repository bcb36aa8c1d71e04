import {
  CopyImageCommand, CreateTagsCommand, DeleteSnapshotCommand, DeregisterImageCommand, EC2Client, Image, ImportImageTask, Tag,
} from '@aws-sdk/client-ec2';
import { ResourceTypes, ResponseData, Tags } from '../../src/private/contract';
import { declareCalls } from '../shared/calls';
import { AmiError, errorCode, errorMessage, isCapacityError, isNotFound, isThrottling, sentence, toAmiError } from '../shared/errors';
import { describeImage, destroyImage, mergeTags, snapshotIdsOf } from '../shared/images';
import { describeImportTask, imagesOfImportTask } from '../shared/import-tasks';
import { log } from '../shared/log';
import { shortHash, tagValue } from '../shared/ownership';
import { required, str, tags as tagList } from '../shared/props';
import { ResourceProperties, Tag as UserTag } from '../shared/types';

/**
 * The calls that follow an import in two stages. Stage 1 (isComplete) only
 * reads. Stage 2 (isComplete) tags the import's image and snapshots and copies
 * the image under its name; its Delete (onEvent) removes an import that was
 * never tagged. Each may only touch the exact image and snapshots stage 1
 * returned: the ImportedAmi's own policies name them.
 */
export const CALLS = declareCalls(
  'ec2:CreateTags',
  'ec2:CopyImage',
  'ec2:DeregisterImage',
  'ec2:DeleteSnapshot',
);

/**
 * How long stage 2 retries UnauthorizedOperation: the grant on the exact image
 * and snapshots is an IAM policy CloudFormation created just before, and IAM
 * changes take a while to reach EC2.
 */
export const GRANT_PROPAGATION_MS = 5 * 60 * 1000;

/** What VM Import made: the image and its snapshots, untagged. */
export interface ImportedResources {
  readonly imageId: string;
  readonly snapshotIds: string[];
}

export type ImportTaskOutcome = { readonly done: ImportedResources } | { readonly pending: string };

/**
 * Stage 1: one poll of an import task (the link's ImageId is the task ID).
 * While the task runs, its Progress and StatusMessage go to the log. Once it
 * completes, the image and snapshot IDs it made are the result; nothing is
 * tagged here (the waiter role may not tag what it does not know yet).
 */
export async function followImportTask(
  ec2: EC2Client, taskId: string, region: string, logFields: Record<string, unknown>,
): Promise<ImportTaskOutcome> {
  const task = await describeImportTask(ec2, taskId);
  if (task?.Status === 'active' || task?.Status === 'deleting') {
    log('info', 'poll', { ...logFields, importTaskId: taskId, status: task.Status, statusMessage: task.StatusMessage, progress: task.Progress });
    return { pending: task.StatusMessage ?? task.Status };
  }
  if (task?.Status === 'deleted') {
    throw new AmiError(`Import task ${taskId} in ${region} failed: ${sentence(task.StatusMessage ?? 'EC2 gave no reason')} Check the disk image format and the operating system requirements of VM Import.`);
  }
  if (task?.ImageId) {
    const image = await describeImage(ec2, task.ImageId);
    if (image && image.State !== 'deregistered') return { done: { imageId: task.ImageId, snapshotIds: snapshotIdsOf(image) } };
    // The unnamed import of a named one is removed once its copy is available: the copy stands for it.
  }
  // EC2 forgets a task 7 days after it ends; by then stage 2 has tagged what it made.
  const made = (await imagesOfImportTask(ec2, taskId)).sort((a, b) => (a.CreationDate ?? '').localeCompare(b.CreationDate ?? ''));
  if (made.length > 0) return { done: { imageId: made[0].ImageId!, snapshotIds: snapshotIdsOf(made[0]) } };
  if (task) {
    // Completed, but the image it names is not visible yet.
    return { pending: 'waiting for the imported image to be visible' };
  }
  // Not visible yet right after ImportImage, or forgotten and nothing tagged: the caller's grace decides.
  return { pending: 'not visible yet' };
}

/** The attributes stage 1 hands to the ImportedAmi's policies and to stage 2. */
export function importedAttributes(done: ImportedResources, snapshotArnPrefix: string): ResponseData<typeof ResourceTypes.WAITER> {
  return {
    ImageId: done.imageId,
    SnapshotIds: done.snapshotIds.join(','),
    SnapshotArns: done.snapshotIds.map((id) => `${snapshotArnPrefix}${id}`).join(','),
    ImageName: '',
    State: 'completed',
  };
}

/** Stage 2's view of the import: the task, and the exact image and snapshots stage 1 found. */
export interface ImportToFinish {
  readonly taskId: string;
  readonly imageId: string;
  readonly snapshotIds: string[];
}

export function importToFinish(props: ResourceProperties): ImportToFinish | undefined {
  const taskId = str(props.ImportTaskId);
  if (!taskId) return undefined;
  return {
    taskId,
    imageId: required(props, 'ImportedImageId'),
    snapshotIds: (str(props.ImportedSnapshotIds) ?? '').split(',').filter(Boolean),
  };
}

/**
 * Follow the image from here on (and, once it is available, remove the
 * unnamed import it was copied from), or keep waiting.
 */
export type FinishOutcome = { readonly imageId: string; readonly leftovers: Image[] } | { readonly pending: string };

/**
 * Stage 2: tags the imported image and snapshots with the task's tags (VM
 * Import does not tag them) unless they already carry them, and, when
 * `ImageName` is set, copies the image under that name; the waiter then
 * follows that copy. Runs again on every poll until it returns an image, so
 * each step first looks for what an earlier poll or link already did.
 */
export async function finishImport(
  ec2: EC2Client, imp: ImportToFinish, props: ResourceProperties, region: string, elapsedMs: number,
): Promise<FinishOutcome> {
  const imageName = str(props.ImageName);
  const imported = await describeImage(ec2, imp.imageId);
  const exists = imported && imported.State !== 'deregistered';
  let tags: Tag[] = [];
  try {
    if (exists && !tagValue(imported, Tags.STACK)) {
      tags = await taskTags(ec2, imp);
      await tagImport(ec2, imp, tags, tagList(props.SnapshotTags));
    }
    if (!imageName) return { imageId: imp.imageId, leftovers: [] };

    const made = await imagesOfImportTask(ec2, imp.taskId);
    const named = made.find((i) => i.Name === imageName);
    if (named) return { imageId: named.ImageId!, leftovers: made.filter((i) => i !== named) };
    if (!exists) throw new AmiError(`Image ${imp.imageId} of import task ${imp.taskId} no longer exists in ${region}, and no copy named ${imageName} was made of it.`);
    if (tags.length === 0) tags = (imported.Tags ?? []).filter((t) => t.Key !== undefined);
    // ImportImage cannot name the image: copy it under the name, then drop the unnamed one.
    const copy = await ec2.send(new CopyImageCommand({
      SourceImageId: imp.imageId,
      SourceRegion: region,
      Name: imageName,
      Description: imported.Description,
      ClientToken: shortHash(`${imp.taskId}/${imageName}`),
      TagSpecifications: [
        { ResourceType: 'image', Tags: tags },
        { ResourceType: 'snapshot', Tags: mergeTags(userTags(tags), tagList(props.SnapshotTags)) },
      ],
    }));
    log('info', 'imported image being copied under its name', { importTaskId: imp.taskId, unnamedImageId: imp.imageId, imageId: copy.ImageId, imageName });
    return { imageId: copy.ImageId!, leftovers: made };
  } catch (err) {
    // The waiter polls again after throttling.
    if (isThrottling(err)) throw err;
    if (isCapacityError(err)) {
      log('warn', 'waiting for capacity: too many concurrent image operations in the Region', {
        action: 'CopyImage', region, importTaskId: imp.taskId, imageId: imp.imageId, error: errorMessage(err),
      });
      // No capacity for the copy yet: the next poll starts it again (same client token).
      return { pending: 'waiting for capacity to copy the imported image under its name' };
    }
    if (errorCode(err) === 'UnauthorizedOperation' && elapsedMs < GRANT_PROPAGATION_MS) {
      log('warn', 'not authorized yet on the imported image: the ImportedAmi\'s grant on it is still propagating in IAM; trying again', {
        importTaskId: imp.taskId,
        imageId: imp.imageId,
        snapshotIds: imp.snapshotIds,
        region,
        retryForSeconds: Math.round((GRANT_PROPAGATION_MS - elapsedMs) / 1000),
        error: errorMessage(err),
      });
      return { pending: 'waiting for the grant on the imported image to propagate' };
    }
    if (errorCode(err) === 'UnauthorizedOperation') {
      throw new AmiError(
        `Not authorized to tag or copy image ${imp.imageId} of import task ${imp.taskId} in ${region} after ${GRANT_PROPAGATION_MS / 60000} minutes, although the ImportedAmi's policy grants it: look for a permissions boundary or service control policy that denies ec2:CreateTags or ec2:CopyImage. The rollback removes the untagged import.`,
      );
    }
    if (err instanceof AmiError) throw err;
    throw toAmiError(err, `Finishing import task ${imp.taskId} (image ${imp.imageId}) in ${region}`);
  }
}

/** The task's tags (the user's and the ownership tags ImportImage put on it), plus the task itself. */
async function taskTags(ec2: EC2Client, imp: ImportToFinish): Promise<Tag[]> {
  const task: ImportImageTask | undefined = await describeImportTask(ec2, imp.taskId);
  if (task?.ImageId && task.ImageId !== imp.imageId) {
    throw new AmiError(`Import task ${imp.taskId} made image ${task.ImageId}, not ${imp.imageId}; refusing to adopt ${imp.imageId}.`);
  }
  const tags: Tag[] = [...(task?.Tags ?? []), { Key: Tags.IMPORT_TASK, Value: imp.taskId }];
  if (!tags.some((t) => t.Key === Tags.STACK)) {
    throw new AmiError(`Import task ${imp.taskId} does not carry cdk-ami's ownership tags; refusing to adopt its image ${imp.imageId}.`);
  }
  return tags;
}

async function tagImport(ec2: EC2Client, imp: ImportToFinish, tags: Tag[], snapshotOnlyTags: UserTag[]): Promise<void> {
  if (snapshotOnlyTags.length === 0 || imp.snapshotIds.length === 0) {
    await ec2.send(new CreateTagsCommand({ Resources: [imp.imageId, ...imp.snapshotIds], Tags: tags }));
  } else {
    await ec2.send(new CreateTagsCommand({ Resources: [imp.imageId], Tags: tags }));
    await ec2.send(new CreateTagsCommand({ Resources: imp.snapshotIds, Tags: mergeTags(userTags(tags), snapshotOnlyTags) }));
  }
  log('info', 'imported image tagged', { importTaskId: imp.taskId, imageId: imp.imageId, snapshotIds: imp.snapshotIds });
}

function userTags(tags: Tag[]): UserTag[] {
  return tags.map((t) => ({ Key: t.Key ?? '', Value: t.Value ?? '' }));
}

/**
 * Delete of stage 2 (onEvent), which CloudFormation runs before it deletes the
 * policy that names the import's image and snapshots: an import that was never
 * tagged (the deployment failed between the stages) is removed here, since the
 * operation's delete may only remove what carries this stack's tag.
 */
export async function removeUntaggedImport(ec2: EC2Client, imp: ImportToFinish, region: string): Promise<void> {
  let image: Image | undefined;
  try {
    image = await describeImage(ec2, imp.imageId);
    if (!image || image.State === 'deregistered' || tagValue(image, Tags.STACK)) return;
    await ec2.send(new DeregisterImageCommand({ ImageId: imp.imageId, DeleteAssociatedSnapshots: true }));
    for (const snapshotId of imp.snapshotIds) {
      try {
        await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    log('info', 'import that was never tagged removed', { importTaskId: imp.taskId, imageId: imp.imageId, snapshotIds: imp.snapshotIds, region });
  } catch (err) {
    // Failing here would leave the stack's rollback stuck: the log names what to remove by hand.
    log('warn', 'could not remove an import that was never tagged', {
      importTaskId: imp.taskId,
      imageId: imp.imageId,
      snapshotIds: imp.snapshotIds,
      region,
      error: errorMessage(err),
      action: `deregister ${imp.imageId} and delete snapshots ${imp.snapshotIds.join(', ')}`,
    });
  }
}

/** The unnamed import a named copy was made from: it goes once the copy is available. */
export async function removeUnnamed(ec2: EC2Client, image: Image, region: string): Promise<void> {
  const tags = image.Tags ?? [];
  const owner = { stack: tagValue({ Tags: tags }, Tags.STACK) ?? '', owner: tagValue({ Tags: tags }, Tags.OWNER) ?? '', request: tagValue({ Tags: tags }, Tags.REQUEST) ?? '' };
  await destroyImage(ec2, image.ImageId!, image, owner, region);
  log('info', 'unnamed imported image removed', { imageId: image.ImageId, region });
}
