import { DescribeImagesCommand, DescribeImportImageTasksCommand, EC2Client, Image, ImportImageTask } from '@aws-sdk/client-ec2';
import { declareCalls } from './calls';
import { errorCode } from './errors';
import { isFromRequest, Ownership } from './ownership';
import { Tags } from '../../src/private/contract';

/** Finding an import task and the images tagged with it. */
export const CALLS = declareCalls(
  'ec2:DescribeImportImageTasks',
  'ec2:DescribeImages',
);

export function isImportTask(id: string): boolean {
  return id.startsWith('import-ami-');
}

/** The task, or undefined once EC2 has forgotten it (7 days after it ended) or before it is visible. */
export async function describeImportTask(ec2: EC2Client, taskId: string): Promise<ImportImageTask | undefined> {
  try {
    const out = await ec2.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [taskId] }));
    return out.ImportImageTasks?.[0];
  } catch (err) {
    if (errorCode(err) === 'InvalidConversionTaskId.Malformed' || errorCode(err)?.endsWith('.NotFound')) return undefined;
    throw err;
  }
}

/**
 * The import task this request started, found by its ownership tags (the
 * task's ClientToken is not shown by DescribeImportImageTasks, whose only
 * documented filter is `task-state`): every task of the last 7 days, page by page.
 */
export async function importTaskOfRequest(ec2: EC2Client, ownership: Ownership): Promise<ImportImageTask | undefined> {
  let NextToken: string | undefined;
  do {
    const out = await ec2.send(new DescribeImportImageTasksCommand({ NextToken }));
    const task = out.ImportImageTasks?.find((t) => isFromRequest(t, ownership));
    if (task) return task;
    NextToken = out.NextToken;
  } while (NextToken);
  return undefined;
}

/**
 * Images an import task made, found by the tag the waiter puts on them (EC2
 * forgets the task after 7 days, the tag stays): the imported image and, when
 * it was renamed, its named copy.
 */
export async function imagesOfImportTask(ec2: EC2Client, taskId: string): Promise<Image[]> {
  const out = await ec2.send(new DescribeImagesCommand({
    Owners: ['self'],
    IncludeDisabled: true,
    Filters: [{ Name: `tag:${Tags.IMPORT_TASK}`, Values: [taskId] }],
  }));
  return (out.Images ?? []).filter((i) => i.State !== 'deregistered');
}
