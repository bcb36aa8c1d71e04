import { CancelImportTaskCommand, DescribeImportSnapshotTasksCommand, EC2Client, ImportSnapshotTask } from '@aws-sdk/client-ec2';
import { declareCalls } from './calls';
import { errorCode, errorMessage } from './errors';
import { log } from './log';
import { isFromRequest, Ownership } from './ownership';

/** Reading and cancelling the ImportSnapshot tasks of an AmiFromDisks. */
export const CALLS = declareCalls(
  'ec2:DescribeImportSnapshotTasks',
  'ec2:CancelImportTask',
);

/** An ImportedSnapshots resource's physical ID: its tasks, in disk order, comma-joined. */
export function taskIdsOf(physicalId: string): string[] {
  return physicalId.split(',').filter((id) => id.startsWith('import-snap-'));
}

/**
 * The tasks EC2 still knows, by ID (it forgets a task 7 days after it ended);
 * a task not visible yet or forgotten is absent from the map.
 */
export async function describeSnapshotTasks(ec2: EC2Client, taskIds: string[]): Promise<Map<string, ImportSnapshotTask>> {
  const found = new Map<string, ImportSnapshotTask>();
  for (const taskId of taskIds) {
    try {
      const out = await ec2.send(new DescribeImportSnapshotTasksCommand({ ImportTaskIds: [taskId] }));
      const task = out.ImportSnapshotTasks?.[0];
      if (task) found.set(taskId, task);
    } catch (err) {
      const code = errorCode(err) ?? '';
      if (code === 'InvalidConversionTaskId.Malformed' || code.endsWith('.NotFound')) continue;
      throw err;
    }
  }
  return found;
}

/**
 * A task this request started that `wanted` accepts, found by its ownership
 * tags (DescribeImportSnapshotTasks shows no client token): every task EC2
 * still knows, page by page.
 */
export async function snapshotTaskOfRequest(
  ec2: EC2Client, ownership: Ownership, wanted: (task: ImportSnapshotTask) => boolean,
): Promise<ImportSnapshotTask | undefined> {
  let NextToken: string | undefined;
  do {
    const out = await ec2.send(new DescribeImportSnapshotTasksCommand({ NextToken }));
    const task = out.ImportSnapshotTasks?.find((t) => isFromRequest(t, ownership) && wanted(t));
    if (task) return task;
    NextToken = out.NextToken;
  } while (NextToken);
  return undefined;
}

/** A task's brief status: `active`, `completed`, `deleting` or `deleted` (failed or cancelled). */
export function statusOf(task: ImportSnapshotTask | undefined): string | undefined {
  return task?.SnapshotTaskDetail?.Status;
}

export function isActive(task: ImportSnapshotTask | undefined): boolean {
  const status = statusOf(task);
  return status === 'active' || status === 'pending';
}

/** Cancels a task; one that ended meanwhile cannot be, which is logged and left to whoever follows it. */
export async function cancelTask(ec2: EC2Client, taskId: string, reason: string): Promise<void> {
  try {
    // EC2 limits the reason's length; the task ID is enough to find the cause in the log.
    await ec2.send(new CancelImportTaskCommand({ ImportTaskId: taskId, CancelReason: reason.slice(0, 255) }));
    log('info', 'snapshot import cancelled', { importTaskId: taskId, reason });
  } catch (err) {
    log('info', 'snapshot import could not be cancelled', { importTaskId: taskId, error: errorMessage(err) });
  }
}
