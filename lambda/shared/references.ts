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
 * Logs a warning naming the instances and launch templates that still refer to
 * an image about to be deregistered (EC2 DescribeImageReferences). Deleting is
 * what the user asked for, so this never blocks it: a failed check is logged too.
 */
export async function warnIfReferenced(ec2: EC2Client, imageId: string, region: string): Promise<void> {
  const references: ImageReference[] = [];
  try {
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
    } while (nextToken && ++pages < MAX_PAGES);
  } catch (err) {
    log('info', 'could not check whether the image is still in use; deregistering it anyway', { imageId, region, error: errorMessage(err) });
    return;
  }
  if (references.length === 0) return;
  log('warn', 'image is still in use; deregistering it as removalPolicy DESTROY says: running instances keep running, new launches through these references fail', {
    imageId, region, users: references.map((r) => r.Arn ?? `${r.ResourceType ?? 'resource'}`),
  });
}
