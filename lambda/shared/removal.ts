import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { Image } from '@aws-sdk/client-ec2';
import { declareCalls } from './calls';
import { cloudFormation } from './clients';
import { errorMessage } from './errors';
import { log } from './log';

/** Reading the stack status to tell a rollback from a deletion (onEvent). */
export const CALLS = declareCalls(
  'cloudformation:DescribeStacks',
);

/**
 * While the stack is in one of these states, every Delete that CloudFormation
 * sends removes a resource that the failed deployment itself created: its
 * image was never handed over, so it goes whatever the removal policy says.
 */
const ROLLBACK_STATES = new Set([
  'ROLLBACK_IN_PROGRESS',
  'UPDATE_ROLLBACK_IN_PROGRESS',
  'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS',
  'IMPORT_ROLLBACK_IN_PROGRESS',
]);

export interface RemovalDecision {
  readonly destroy: boolean;
  readonly reason: string;
  /**
   * The image goes because the deployment that made it failed, not because the
   * user asked: deregistration protection it got from that deployment is lifted.
   */
  readonly overridesProtection: boolean;
}

/**
 * RETAIN keeps a finished image when the stack deletes or replaces it, like a
 * retained volume. It never keeps an image that did not finish, nor one made by
 * a deployment that is being rolled back: that is how a failed deployment
 * leaves nothing behind.
 */
export async function decideRemoval(removalPolicy: string | undefined, image: Image | undefined, stackId: string): Promise<RemovalDecision> {
  if ((removalPolicy ?? 'retain').toLowerCase() === 'destroy') {
    return { destroy: true, reason: 'removalPolicy is DESTROY', overridesProtection: false };
  }
  if (!image) return { destroy: true, reason: 'the image no longer exists', overridesProtection: false };
  if (image.State !== 'available') {
    return { destroy: true, reason: `the image never became available (state ${image.State})`, overridesProtection: true };
  }
  const status = await stackStatus(stackId);
  if (status && ROLLBACK_STATES.has(status)) {
    return { destroy: true, reason: `the deployment that created it is rolling back (${status})`, overridesProtection: true };
  }
  return { destroy: false, reason: 'removalPolicy is RETAIN', overridesProtection: false };
}

async function stackStatus(stackId: string): Promise<string | undefined> {
  try {
    const out = await cloudFormation().send(new DescribeStacksCommand({ StackName: stackId }));
    return out.Stacks?.[0]?.StackStatus;
  } catch (err) {
    // Without the status the policy alone decides: keep the image.
    log('warn', 'could not read the stack status; applying the removal policy', { stackId, error: errorMessage(err) });
    return undefined;
  }
}
