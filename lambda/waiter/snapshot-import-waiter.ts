import { CreateTagsCommand, DescribeSnapshotsCommand, EC2Client, ImportSnapshotTask, Snapshot, Tag } from '@aws-sdk/client-ec2';
import { GRANT_PROPAGATION_MS } from './import-waiter';
import { ResourceTypes, Tags, Timing } from '../../src/private/contract';
import { declareCalls } from '../shared/calls';
import { AmiError, errorCode, errorMessage, isNotFound, isThrottling, sentence, toAmiError } from '../shared/errors';
import { deleteSnapshots, mergeTags } from '../shared/images';
import { LinkTiming, NOT_FOUND_GRACE_MS, POLL_INTERVAL_MS } from '../shared/links';
import { log } from '../shared/log';
import { tagValue } from '../shared/ownership';
import { required, str, tags as tagList } from '../shared/props';
import { cancelTask, describeSnapshotTasks, isActive, statusOf, taskIdsOf } from '../shared/snapshot-import-tasks';
import { IsCompleteResponse, ResourceProperties } from '../shared/types';

type Waiter = typeof ResourceTypes.WAITER;

/**
 * The waiter's calls for an AmiFromDisks. Stage 1 (isComplete) reads the
 * tasks and cancels the others when one fails or the wait times out. Stage 2
 * (isComplete) tags exactly the snapshots stage 1 returned, or deletes them
 * when a task failed; its Delete (onEvent) removes them if they were never
 * tagged. The exact snapshots are granted by the AmiFromDisks's own policies.
 */
export const CALLS = declareCalls(
  'ec2:CreateTags',
  'ec2:DescribeSnapshots',
);

/** Where a link of either stage stands: its subject is the task IDs, comma-joined. */
export interface SnapshotImportLink extends LinkTiming {
  readonly region: string;
  readonly imageId: string;
}

/**
 * Stage 1: one poll of every ImportSnapshot task. Completes when all have
 * ended: with their snapshot IDs in disk order, or, when one failed (or the
 * last link timed out and cancelled the rest), with EC2's status message and
 * the snapshots that were made anyway, which stage 2 then removes. Nothing is
 * tagged here: the waiter role has no grant on snapshots it does not know.
 */
export async function followSnapshotImports(
  client: EC2Client, w: SnapshotImportLink, props: ResourceProperties,
): Promise<IsCompleteResponse<Waiter>> {
  const taskIds = taskIdsOf(w.imageId);
  let tasks: Map<string, ImportSnapshotTask>;
  try {
    tasks = await describeSnapshotTasks(client, taskIds);
  } catch (err) {
    if (isThrottling(err)) return pendingOrHandover(w);
    throw toAmiError(err, `Reading the snapshot imports ${taskIds.join(', ')} in ${w.region}`);
  }
  const missing = taskIds.filter((id) => !tasks.has(id));
  if (missing.length > 0 && w.elapsedMs >= NOT_FOUND_GRACE_MS) {
    throw new AmiError(`Snapshot import task ${missing.join(', ')} does not exist in ${w.region}: EC2 forgets a task 7 days after it ended; remove and re-add the AmiFromDisks to import its disks again.`);
  }
  log('info', 'poll', {
    importTaskIds: taskIds,
    region: w.region,
    link: w.linkLabel,
    elapsedSeconds: w.elapsedSeconds,
    tasks: taskIds.map((id) => ({ importTaskId: id, status: statusOf(tasks.get(id)) ?? 'not visible yet', statusMessage: tasks.get(id)?.SnapshotTaskDetail?.StatusMessage, progress: tasks.get(id)?.SnapshotTaskDetail?.Progress })),
  });

  // Once the last link is out of time, the timeout is the cause, whatever the tasks it cancelled report since.
  const timedOut = w.isLastLink && w.elapsedMs + POLL_INTERVAL_MS >= w.budgetMs;
  const failure = timedOut
    ? `The snapshot imports in ${w.region} did not finish within the timeout of ${Math.round(w.totalTimeoutSeconds / 60)} min; raise the construct's timeout (up to ${Timing.MAX_TIMEOUT_HOURS} hours) if the disks need longer.`
    : failureOf(taskIds, tasks, w.region);
  const running = taskIds.filter((id) => !tasks.has(id) || isActive(tasks.get(id)) || statusOf(tasks.get(id)) === 'deleting');
  if (failure) {
    // No task of a failed import may run on: a snapshot made after the rollback would belong to no one.
    for (const taskId of running.filter((id) => isActive(tasks.get(id)))) await cancelTask(client, taskId, `${CANCELLED_BY_US} ${failure}`);
    if (running.length > 0) return { IsComplete: false };
    const made = snapshotIdsOf(taskIds, tasks);
    if (made.length === 0) throw new AmiError(failure);
    log('warn', 'snapshot import failed; stage 2 removes the snapshots it made', { failure, snapshotIds: made });
    return done(made, props, failure);
  }
  if (running.length > 0) return pendingOrHandover(w);
  return done(snapshotIdsOf(taskIds, tasks), props);
}

/** What this waiter puts before the reason when it cancels a task (EC2 reports the reason as the task's status message). */
const CANCELLED_BY_US = 'cancelled by cdk-ami:';

/** The first failed task's status message (not one this waiter cancelled), as one sentence naming the disk. */
function failureOf(taskIds: string[], tasks: Map<string, ImportSnapshotTask>, region: string): string | undefined {
  const index = taskIds.findIndex((id) => {
    const detail = tasks.get(id)?.SnapshotTaskDetail;
    return (detail?.Status === 'deleted' || detail?.Status === 'deleting') && !detail.StatusMessage?.startsWith(CANCELLED_BY_US);
  });
  if (index < 0) return undefined;
  const detail = tasks.get(taskIds[index])?.SnapshotTaskDetail;
  const source = detail?.Url ?? (detail?.UserBucket ? `s3://${detail.UserBucket.S3Bucket}/${detail.UserBucket.S3Key}` : 'its disk image');
  return `Snapshot import ${taskIds[index]} of disk ${index + 1} (${source}) in ${region} failed: ${sentence(detail?.StatusMessage ?? 'EC2 gave no reason')}`;
}

function snapshotIdsOf(taskIds: string[], tasks: Map<string, ImportSnapshotTask>): string[] {
  return taskIds.map((id) => tasks.get(id)?.SnapshotTaskDetail).filter((d) => d?.Status === 'completed' && d.SnapshotId).map((d) => d!.SnapshotId!);
}


function done(snapshotIds: string[], props: ResourceProperties, failure?: string): IsCompleteResponse<Waiter> {
  const prefix = required(props, 'SnapshotArnPrefix');
  return {
    IsComplete: true,
    Data: {
      ImageId: str(props.ImageId) ?? '',
      SnapshotIds: snapshotIds.join(','),
      SnapshotArns: snapshotIds.map((id) => `${prefix}${id}`).join(','),
      State: failure ? 'failed' : 'completed',
      Failure: failure ?? '',
    },
  };
}

function pendingOrHandover(w: SnapshotImportLink): IsCompleteResponse<Waiter> {
  if (w.elapsedMs + POLL_INTERVAL_MS < w.budgetMs || w.isLastLink) return { IsComplete: false };
  log('info', 'link budget spent; the next link keeps waiting', { importTaskIds: w.imageId, link: w.linkLabel });
  return { IsComplete: true, Data: { ImageId: w.imageId, State: 'pending' } };
}

/**
 * Stage 2: puts the tasks' tags (the user's and the ownership tags ImportSnapshot
 * put on the task, plus the task itself) on exactly the snapshots stage 1
 * returned, unless an earlier poll did. When stage 1 reported a failure, it
 * removes them instead and fails with EC2's message.
 */
export async function adoptSnapshots(client: EC2Client, w: SnapshotImportLink, props: ResourceProperties): Promise<IsCompleteResponse<Waiter>> {
  const snapshotIds = (str(props.ImportedSnapshotIds) ?? '').split(',').filter(Boolean);
  const failure = str(props.ImportFailure);
  if (failure) {
    await removeSnapshots(client, snapshotIds, w.region, false);
    throw new AmiError(failure);
  }
  const taskIds = taskIdsOf(w.imageId);
  try {
    const snapshots = await describeSnapshots(client, snapshotIds);
    const untagged = snapshotIds.filter((id) => !tagValue(snapshots.get(id) ?? {}, Tags.STACK));
    if (untagged.length > 0) {
      const tasks = await describeSnapshotTasks(client, taskIds);
      for (const [index, taskId] of taskIds.entries()) {
        const snapshotId = snapshotIds[index];
        if (!untagged.includes(snapshotId)) continue;
        const task = tasks.get(taskId);
        if (task?.SnapshotTaskDetail?.SnapshotId && task.SnapshotTaskDetail.SnapshotId !== snapshotId) {
          throw new AmiError(`Snapshot import ${taskId} made snapshot ${task.SnapshotTaskDetail.SnapshotId}, not ${snapshotId}; refusing to adopt ${snapshotId}.`);
        }
        const taskTags: Tag[] = task?.Tags ?? [];
        if (!taskTags.some((t) => t.Key === Tags.STACK)) {
          throw new AmiError(`Snapshot import ${taskId} does not carry cdk-ami's ownership tags; refusing to adopt its snapshot ${snapshotId}.`);
        }
        const snapshotTags = mergeTags(taskTags.map((t) => ({ Key: t.Key ?? '', Value: t.Value ?? '' })), tagList(props.SnapshotTags));
        await client.send(new CreateTagsCommand({ Resources: [snapshotId], Tags: [...snapshotTags, { Key: Tags.IMPORT_TASK, Value: taskId }] }));
        log('info', 'imported snapshot tagged', { importTaskId: taskId, snapshotId, region: w.region });
      }
    }
  } catch (err) {
    if (isThrottling(err)) return { IsComplete: false };
    if (errorCode(err) === 'UnauthorizedOperation' && w.elapsedMs < GRANT_PROPAGATION_MS) {
      log('warn', 'not authorized yet on the imported snapshots: the AmiFromDisks\'s grant on them is still propagating in IAM; trying again', {
        snapshotIds, region: w.region, error: errorMessage(err),
      });
      return { IsComplete: false };
    }
    if (errorCode(err) === 'UnauthorizedOperation') {
      throw new AmiError(`Not authorized to tag the imported snapshots ${snapshotIds.join(', ')} in ${w.region} after ${GRANT_PROPAGATION_MS / 60000} minutes, although the AmiFromDisks's policy grants it: look for a permissions boundary or service control policy that denies ec2:CreateTags. The rollback removes the snapshots.`);
    }
    if (err instanceof AmiError) throw err;
    throw toAmiError(err, `Adopting the imported snapshots ${snapshotIds.join(', ')} in ${w.region}`);
  }
  return { IsComplete: true, Data: { ImageId: w.imageId, SnapshotIds: snapshotIds.join(','), State: 'completed' } };
}

async function describeSnapshots(client: EC2Client, snapshotIds: string[]): Promise<Map<string, Snapshot>> {
  const out = await client.send(new DescribeSnapshotsCommand({ SnapshotIds: snapshotIds }));
  return new Map((out.Snapshots ?? []).map((s) => [s.SnapshotId!, s]));
}

/**
 * Delete of stage 2 (onEvent), before CloudFormation deletes the policy that
 * names the snapshots: removes those never tagged as this stack's (a failed
 * import, or a deployment that failed between the stages). Tagged ones are the
 * ImportedSnapshots resource's, which its removal policy decides. Never fails:
 * a rollback must not get stuck; the log names what to remove by hand.
 */
export async function removeUnadoptedSnapshots(client: EC2Client, props: ResourceProperties, region: string): Promise<void> {
  const snapshotIds = (str(props.ImportedSnapshotIds) ?? '').split(',').filter(Boolean);
  if (snapshotIds.length === 0) return;
  await removeSnapshots(client, snapshotIds, region, true);
}

async function removeSnapshots(client: EC2Client, snapshotIds: string[], region: string, untaggedOnly: boolean): Promise<void> {
  try {
    const snapshots = await describeSnapshotsOrNone(client, snapshotIds);
    const ours = snapshotIds.filter((id) => snapshots.has(id) && !(untaggedOnly && tagValue(snapshots.get(id)!, Tags.STACK)));
    await deleteSnapshots(client, ours, region);
  } catch (err) {
    log('warn', 'could not remove imported snapshots', { snapshotIds, region, error: errorMessage(err), action: `delete snapshots ${snapshotIds.join(', ')}` });
  }
}

/** The snapshots that still exist (DescribeSnapshots by ID fails as a whole when one is gone). */
async function describeSnapshotsOrNone(client: EC2Client, snapshotIds: string[]): Promise<Map<string, Snapshot>> {
  const found = new Map<string, Snapshot>();
  for (const snapshotId of snapshotIds) {
    try {
      for (const [id, s] of await describeSnapshots(client, [snapshotId])) found.set(id, s);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return found;
}
