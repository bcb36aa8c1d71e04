import { DescribeSnapshotsCommand, EC2Client, Image, StopInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { reconcileFastLaunch, readFastLaunch } from './fast-launch';
import { applyGovernance, readGovernance } from './governance';
import {
  finishImport, FinishOutcome, followImportTask, importedAttributes, importToFinish, removeUnnamed, removeUntaggedImport,
} from './import-waiter';
import { adoptSnapshots, followSnapshotImports, removeUnadoptedSnapshots } from './snapshot-import-waiter';
import { IMPORT_TARGET, InstanceAction, ReceivedProperties, ResourceTypes, SnapshotImportTargets, STORE_TARGET, Timing } from '../../src/private/contract';
import { declareCalls } from '../shared/calls';
import { ec2 } from '../shared/clients';
import { roleOf } from '../shared/cross-account';
import { AmiError, errorCode, errorMessage, isThrottling, toAmiError } from '../shared/errors';
import { describeImage, snapshotIdsOf } from '../shared/images';
import { isImportTask } from '../shared/import-tasks';
import { LinkTiming, NOT_FOUND_GRACE_MS, POLL_INTERVAL_MS, readLinkTiming, startWait } from '../shared/links';
import { log } from '../shared/log';
import { num, required, str } from '../shared/props';
import { CustomResourceEvent, IsCompleteResponse, OnEventResponse } from '../shared/types';
import { followStoreTask } from '../store';

/** The properties of a waiter resource, by the contract. */
type Waiter = typeof ResourceTypes.WAITER;
type Props = ReceivedProperties<Waiter>;

/** The waiter's own calls (isComplete): snapshot progress and the instance action. */
export const CALLS = declareCalls(
  'ec2:DescribeSnapshots',
  'ec2:StopInstances',
  'ec2:TerminateInstances',
);

/**
 * Custom::AmiWaiter — one link of the chain that waits for an image to become
 * available. Each link waits at most its budget (≤ 50 minutes, under
 * CloudFormation's one-hour custom resource limit); a link whose budget runs
 * out while the image is still pending completes anyway, and the next link
 * keeps waiting. Only the last link fails on timeout.
 */

/** Snapshot progress costs a call; read it every few polls, not every poll. */
const SNAPSHOT_PROGRESS_EVERY_MS = 90 * 1000;

export async function waiterOnEvent(event: CustomResourceEvent): Promise<OnEventResponse<Waiter>> {
  const physicalId = event.RequestType === 'Create'
    ? `${required(event.ResourceProperties, 'ImageId')}/wait-${required(event.ResourceProperties, 'Link')}`
    : event.PhysicalResourceId;
  if (event.RequestType === 'Delete') {
    const region = required(event.ResourceProperties, 'Region');
    // An AmiFromDisks's stage 2 removes the snapshots it was given if they were never tagged.
    if (str((event.ResourceProperties as Props).Target) === SnapshotImportTargets.ADOPT) {
      await removeUnadoptedSnapshots(ec2(region), event.ResourceProperties, region);
    }
    const imp = importToFinish(event.ResourceProperties as Props);
    // The first link of an import's stage 2 removes the import if it was never tagged (see removeUntaggedImport).
    if (imp && num((event.ResourceProperties as Props).Link, 1) === 1) {
      await removeUntaggedImport(ec2(required(event.ResourceProperties, 'Region')), imp, required(event.ResourceProperties, 'Region'));
    }
    return { PhysicalResourceId: physicalId };
  }
  // Create and Update (a replaced image) both start a new wait.
  return startWait(event, physicalId);
}

export async function waiterIsComplete(event: CustomResourceEvent): Promise<IsCompleteResponse<Waiter>> {
  if (event.RequestType === 'Delete') return { IsComplete: true };
  const props = event.ResourceProperties as Props;
  const w = readWaiter(props, event.WaitStartedAt);
  // A copy owned by another account is followed there, as the role its operation used.
  const client = ec2(w.region, roleOf(props, event.LogicalResourceId));

  if (str(props.Target) === STORE_TARGET) return waitForStore(client, w, required(props, 'Bucket'));
  if (str(props.Target) === SnapshotImportTargets.FOLLOW) return followSnapshotImports(client, w, props);
  if (str(props.Target) === SnapshotImportTargets.ADOPT) return adoptSnapshots(client, w, props);

  if (str(props.Target) === IMPORT_TARGET || isImportTask(w.imageId)) return waitForImportTask(client, w, props);

  // Stage 2 of an import: tag what it made, copy it under its name, and remove the unnamed import once that copy is available.
  let imageId = w.imageId;
  let leftovers: Image[] = [];
  const imp = importToFinish(props);
  const finishing = imp !== undefined && w.imageId === imp.imageId;
  if (finishing) {
    let outcome: FinishOutcome | undefined;
    try {
      outcome = await finishImport(client, imp, props, w.region, w.elapsedMs);
    } catch (err) {
      if (isThrottling(err)) {
        log('warn', 'throttled; polling again', { importTaskId: imp.taskId, imageId: imp.imageId, elapsedSeconds: w.elapsedSeconds });
        return pendingOrBudgetSpent(w, 'pending');
      }
      // A rollback that fails leaves the stack in UPDATE_ROLLBACK_FAILED: it goes on with what exists.
      if (!event.RollingBack) throw err;
      log('warn', 'the rollback could not finish the import', { importTaskId: imp.taskId, imageId: imp.imageId, error: errorMessage(err) });
    }
    if (outcome && 'pending' in outcome) return pendingOrBudgetSpent(w, `pending (${outcome.pending})`);
    imageId = outcome?.imageId ?? imageId;
    leftovers = outcome?.leftovers ?? [];
  }

  let image: Image | undefined;
  try {
    image = await describeImage(client, imageId);
  } catch (err) {
    if (isThrottling(err)) {
      // Throttled even after the SDK's retries: try again at the next poll.
      log('warn', 'throttled; polling again', { imageId, elapsedSeconds: w.elapsedSeconds });
      return pendingOrBudgetSpent(w, 'pending');
    }
    throw toAmiError(err, `Reading image ${imageId} in ${w.region}`);
  }

  if (!image || image.State === 'deregistered') {
    if (event.RollingBack) {
      // The rollback re-applies the previous properties to an image deregistered
      // outside CloudFormation: nothing is left to apply them to, and failing
      // would leave the stack in UPDATE_ROLLBACK_FAILED.
      log('warn', 'image no longer exists; the rollback has nothing to re-apply', { imageId, region: w.region, link: w.linkLabel });
      return complete(undefined, 'deregistered', imageId);
    }
    if (sameImageAsBefore(event)) {
      throw new AmiError(
        `Image ${imageId} no longer exists in ${w.region}; it was deregistered outside CloudFormation. Change imageName or remove and re-add the construct to create a new one.`,
      );
    }
  }
  if (!image) {
    if (w.elapsedMs < NOT_FOUND_GRACE_MS) {
      log('info', 'image not visible yet', { imageId, region: w.region, elapsedSeconds: w.elapsedSeconds, link: w.linkLabel });
      return pendingOrBudgetSpent(w, 'pending');
    }
    throw new AmiError(`Image ${imageId} does not exist in ${w.region}: it was deregistered while the stack waited for it, or never became visible.`);
  }

  const state = image.State ?? 'unknown';
  const progress = await snapshotProgress(client, image, w);
  log('info', 'poll', { imageId, importTaskId: imp?.taskId, region: w.region, state, elapsedSeconds: w.elapsedSeconds, link: w.linkLabel, ...progress });

  switch (state) {
    // A disabled image finished: it became available before it was disabled.
    case 'available':
    case 'disabled':
      for (const unnamed of leftovers) await removeUnnamed(client, unnamed, w.region);
      // An image with a test: its settings wait for the hand-over link after the test (HandOver false before it).
      if (w.isLastLink && str(props.HandOver) !== 'false') {
        try {
          await applyGovernance(client, image, readGovernance(governedBefore(event)), readGovernance(props), w.region);
        } catch (err) {
          if (!event.RollingBack) throw err;
          // A rollback that fails leaves the stack stuck in UPDATE_ROLLBACK_FAILED; the log says what was not restored.
          log('warn', 'the rollback could not restore sharing, deprecation or protection', { imageId, region: w.region, error: errorMessage(err) });
        }
        await applyInstanceAction(client, props, w.region);
        // Last, once everything else is set: EC2 launches instances from the image to pre-provision it.
        // Until EC2 reports it enabled, the image ID is not handed out; each poll reads EC2's state
        // first, so the settings above (all idempotent) are simply confirmed again meanwhile.
        const fastLaunch = await fastLaunchProgress(client, image, event, props, w.region);
        if (fastLaunch) return pendingOrBudgetSpent(w, `${state}, with fast launch ${fastLaunch}`);
      }
      return complete(image, state);
    case 'pending':
    case 'transient':
      // While finishing an import, a handover passes the imported image on, so the next link finishes its work.
      return pendingOrBudgetSpent(w, state, finishing ? undefined : image);
    default: {
      const reason = image.StateReason?.Message ?? image.StateReason?.Code ?? 'EC2 gave no reason';
      throw new AmiError(
        `Image ${imageId} (${image.Name}) ended in state ${state} in ${w.region}: ${reason}. The rollback deregisters it and deletes its snapshots.`,
      );
    }
  }
}

/** The fast launch state still awaited, or undefined once done (a rollback never waits for it). */
async function fastLaunchProgress(
  client: EC2Client, image: Image, event: CustomResourceEvent, props: Props, region: string,
): Promise<string | undefined> {
  try {
    const progress = await reconcileFastLaunch(client, image, readFastLaunch(governedBefore(event)), readFastLaunch(props), region);
    if (progress.done) return undefined;
    log('info', 'waiting for fast launch', { imageId: image.ImageId, region, fastLaunch: progress.state });
    return event.RollingBack ? undefined : progress.state;
  } catch (err) {
    if (isThrottling(err) && !event.RollingBack) {
      log('warn', 'throttled; polling again', { imageId: image.ImageId, region, fastLaunch: 'unknown' });
      return 'not known yet (throttled)';
    }
    if (!event.RollingBack) throw err;
    log('warn', 'the rollback could not restore fast launch', { imageId: image.ImageId, region, error: errorMessage(err) });
    return undefined;
  }
}

/**
 * The sharing, deprecation and protection the image already has: those of the
 * previous properties when this update waits for the same image; none for a
 * new (or replacement) image.
 */
function governedBefore(event: CustomResourceEvent): Props | undefined {
  return sameImageAsBefore(event) ? (event as { OldResourceProperties: Props }).OldResourceProperties : undefined;
}

/** An Update that waits again for the image it already waited for (a change of its governance). */
function sameImageAsBefore(event: CustomResourceEvent): boolean {
  if (event.RequestType !== 'Update') return false;
  return event.OldResourceProperties.ImageId === event.ResourceProperties.ImageId;
}

/**
 * Stage 1 of an import: follows the task (the link's ImageId) until it
 * completes, then hands out the image and snapshots it made. A link that
 * starts with an image ID (an earlier link saw the task complete) hands the
 * same out again.
 */
async function waitForImportTask(client: EC2Client, w: WaitLink, props: Props): Promise<IsCompleteResponse<Waiter>> {
  const prefix = required(props, 'SnapshotArnPrefix');
  try {
    if (!isImportTask(w.imageId)) {
      const image = await describeImage(client, w.imageId);
      if (!image) throw new AmiError(`Image ${w.imageId} of the import does not exist in ${w.region}.`);
      return { IsComplete: true, Data: importedAttributes({ imageId: w.imageId, snapshotIds: snapshotIdsOf(image) }, prefix) };
    }
    const outcome = await followImportTask(client, w.imageId, w.region, { elapsedSeconds: w.elapsedSeconds, link: w.linkLabel });
    if ('done' in outcome) {
      log('info', 'import task completed', { importTaskId: w.imageId, imageId: outcome.done.imageId, snapshotIds: outcome.done.snapshotIds, link: w.linkLabel });
      return { IsComplete: true, Data: importedAttributes(outcome.done, prefix) };
    }
    if (outcome.pending === 'not visible yet' && w.elapsedMs >= NOT_FOUND_GRACE_MS) {
      throw new AmiError(`Import task ${w.imageId} does not exist in ${w.region}, and no image of it was found.`);
    }
    return pendingOrBudgetSpent(w, `pending (${outcome.pending})`);
  } catch (err) {
    if (!isThrottling(err)) throw err;
    log('warn', 'throttled; polling again', { importTaskId: w.imageId, elapsedSeconds: w.elapsedSeconds });
    return pendingOrBudgetSpent(w, 'pending');
  }
}

/** A StoredAmi's wait: the store task of the image into the bucket. */
async function waitForStore(client: EC2Client, w: WaitLink, bucket: string): Promise<IsCompleteResponse<Waiter>> {
  let task;
  try {
    task = await followStoreTask(client, w.imageId, bucket);
  } catch (err) {
    if (isThrottling(err)) return pendingOrBudgetSpent(w, 'pending');
    throw toAmiError(err, `Reading the store task of image ${w.imageId} in ${w.region}`);
  }
  log('info', 'poll', { imageId: w.imageId, bucket, state: task?.StoreTaskState ?? 'not visible yet', progress: task?.ProgressPercentage, elapsedSeconds: w.elapsedSeconds, link: w.linkLabel });
  if (!task) {
    if (w.elapsedMs < NOT_FOUND_GRACE_MS) return pendingOrBudgetSpent(w, 'pending');
    throw new AmiError(`No store task of image ${w.imageId} into s3://${bucket} exists in ${w.region}.`);
  }
  if (task.StoreTaskState === 'Completed') {
    return { IsComplete: true, Data: { ImageId: w.imageId, State: 'Completed', Bucket: bucket, ObjectKey: task.S3objectKey ?? '' } };
  }
  if (task.StoreTaskState === 'Failed') {
    throw new AmiError(`Storing image ${w.imageId} in s3://${bucket} failed: ${task.StoreTaskFailureReason ?? 'EC2 gave no reason'}.`);
  }
  return pendingOrBudgetSpent(w, 'pending');
}

interface WaitLink extends LinkTiming {
  readonly region: string;
  readonly imageId: string;
}

function readWaiter(props: Props, startedAt: number | undefined): WaitLink {
  return {
    region: required(props, 'Region'),
    imageId: required(props, 'ImageId'),
    ...readLinkTiming(props, startedAt),
  };
}

function complete(image: Image | undefined, state: string, imageId?: string): IsCompleteResponse<Waiter> {
  return {
    IsComplete: true,
    Data: { ImageId: image?.ImageId ?? imageId ?? '', ImageName: image?.Name ?? '', State: state },
  };
}

/**
 * Still waiting. The poll that would end past this link's budget hands over to
 * the next link instead; the last link fails with the total timeout.
 */
function pendingOrBudgetSpent(w: WaitLink, state: string, image?: Image): IsCompleteResponse<Waiter> {
  if (w.elapsedMs + POLL_INTERVAL_MS < w.budgetMs) return { IsComplete: false };
  if (!w.isLastLink) {
    log('info', 'link budget spent; the next link keeps waiting', { imageId: w.imageId, state, link: w.linkLabel });
    return complete(image, state, w.imageId);
  }
  throw new AmiError(
    `Image ${w.imageId} is still ${state} in ${w.region} after the timeout of ${formatDuration(w.totalTimeoutSeconds)}. The rollback deregisters it and deletes its snapshots; raise the construct's timeout (up to ${Timing.MAX_TIMEOUT_HOURS} hours) if the image needs longer.`,
  );
}

async function snapshotProgress(client: EC2Client, image: Image, w: WaitLink): Promise<Record<string, unknown>> {
  const snapshotIds = snapshotIdsOf(image);
  const due = image.State !== 'pending' || Math.floor(w.elapsedMs / POLL_INTERVAL_MS) % (SNAPSHOT_PROGRESS_EVERY_MS / POLL_INTERVAL_MS) === 0;
  if (snapshotIds.length === 0 || image.State === 'available' || !due) return {};
  try {
    const out = await client.send(new DescribeSnapshotsCommand({ SnapshotIds: snapshotIds }));
    return { snapshotProgress: Object.fromEntries((out.Snapshots ?? []).map((s) => [s.SnapshotId, s.Progress ?? ''])) };
  } catch (err) {
    // Progress is only for the log; never fail a wait over it.
    return { snapshotProgressError: errorMessage(err) };
  }
}

/** Stops or terminates the build instance once its image is available. */
async function applyInstanceAction(client: EC2Client, props: Props, region: string): Promise<void> {
  const action = str(props.InstanceAction);
  const instanceId = str(props.InstanceId);
  // lambda/index.ts checked the word against the contract: anything but stop or terminate leaves the instance.
  if (!instanceId || (action !== InstanceAction.STOP && action !== InstanceAction.TERMINATE)) return;
  try {
    if (action === InstanceAction.STOP) {
      await client.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    } else {
      await client.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    }
    log('info', `instance ${action} requested`, { instanceId, region });
  } catch (err) {
    const code = errorCode(err);
    if (code === 'InvalidInstanceID.NotFound' || code === 'IncorrectInstanceState') {
      // Already gone or already stopping: the goal is met.
      log('info', `instance ${action} not needed`, { instanceId, region, code });
      return;
    }
    throw toAmiError(err, `The ${action} of instance ${instanceId} in ${region} after its image became available`);
  }
}

export function formatDuration(seconds: number): string {
  // Round to whole minutes first, so 7199 s reads "2 h", not "1 h 60 min".
  const minutes = Math.round(seconds / 60);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h && m) return `${h} h ${m} min`;
  if (h) return `${h} h`;
  return `${m} min`;
}
