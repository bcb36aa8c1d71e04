import { DescribeImageReferencesCommand, EC2Client, ImageReference } from '@aws-sdk/client-ec2';
import { declareCalls } from './calls';
import { errorMessage } from './errors';
import { log } from './log';

/** The in-use check's only call. */
export const CALLS = declareCalls(
  'ec2:DescribeImageReferences',
);

/** Enough to name the users in the log without slowing a delete down. */
const MAX_PAGES = 5;

/**
 * The instances and launch templates of the account that refer to the image,
 * by ARN (EC2 DescribeImageReferences), reading at most `maxPages` pages. SSM
 * parameters are not asked for: EC2 checks them with the caller's own
 * Parameter Store read permissions, which the provider does not have.
 */
export async function imageReferences(ec2: EC2Client, imageId: string, maxPages = Infinity): Promise<string[]> {
  const references: ImageReference[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  do {
    const out = await ec2.send(new DescribeImageReferencesCommand({
      ImageIds: [imageId],
      ResourceTypes: [{ ResourceType: 'ec2:Instance' }, { ResourceType: 'ec2:LaunchTemplate' }],
      NextToken: nextToken,
    }));
    references.push(...(out.ImageReferences ?? []));
    nextToken = out.NextToken;
  } while (nextToken && ++pages < maxPages);
  return references.map((r) => r.Arn ?? r.ResourceType ?? 'a resource');
}

/**
 * Logs a warning naming the instances and launch templates that still refer to
 * an image about to be deregistered. Deleting is what the user asked for, so
 * this never blocks it: a failed check is logged too.
 */
export async function warnIfReferenced(ec2: EC2Client, imageId: string, region: string): Promise<void> {
  let users: string[];
  try {
    users = await imageReferences(ec2, imageId, MAX_PAGES);
  } catch (err) {
    log('info', 'could not check whether the image is still in use; deregistering it anyway', { imageId, region, error: errorMessage(err) });
    return;
  }
  if (users.length === 0) return;
  log('warn', 'image is still in use; deregistering it as removalPolicy DESTROY says: running instances keep running, new launches through these references fail', {
    imageId, region, users,
  });
}
