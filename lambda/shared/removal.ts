import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { Image } from '@aws-sdk/client-ec2';
import { declareCalls } from './calls';
import { cloudFormation } from './clients';
import { errorMessage } from './errors';
import { log } from './log';
import { Removal } from '../../src/private/contract';

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

/**
 * Image states that only an image that never finished can be in. Every other
 * state (available, disabled, and any state EC2 adds later) may belong to an
 * image that once became available, so RETAIN keeps it.
 */
const NEVER_FINISHED_STATES = new Set(['pending', 'failed', 'error', 'invalid']);

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
 * The removal rule. RETAIN never deletes anything that finished: an image kept
 * by it stays, and so do the snapshots of one that was since deregistered by
 * hand (EC2 keeps them unless asked). Only two kinds of generation are cleaned
 * whatever the policy: one that never became available (its state says so) and
 * one made by a deployment that is being rolled back (the stack status says
 * so). When neither can be shown, for instance because the image is gone and
 * the stack is not rolling back, RETAIN keeps.
 */
export async function decideRemoval(removalPolicy: string | undefined, image: Image | undefined, stackId: string): Promise<RemovalDecision> {
  const destroyPolicy = (removalPolicy ?? Removal.RETAIN).toLowerCase() === Removal.DESTROY;
  const gone = !image || image.State === 'deregistered';
  if (!gone && NEVER_FINISHED_STATES.has(image.State ?? '')) {
    return { destroy: true, reason: `the image never became available (state ${image.State})`, overridesProtection: true };
  }
  const status = await stackStatus(stackId);
  if (status && ROLLBACK_STATES.has(status)) {
    const what = gone ? 'the image no longer exists and ' : '';
    return { destroy: true, reason: `${what}the deployment that created it is rolling back (${status})`, overridesProtection: true };
  }
  if (destroyPolicy) {
    return { destroy: true, reason: gone ? 'removalPolicy is DESTROY and the image no longer exists' : 'removalPolicy is DESTROY', overridesProtection: false };
  }
  if (gone) {
    return { destroy: false, reason: 'removalPolicy is RETAIN and the image no longer exists: its snapshots are kept', overridesProtection: false };
  }
  return { destroy: false, reason: 'removalPolicy is RETAIN', overridesProtection: false };
}

/** True while the stack rolls back a failed deployment; false when the status cannot be read. */
export async function isRollingBack(stackId: string): Promise<boolean> {
  const status = await stackStatus(stackId);
  return !!status && ROLLBACK_STATES.has(status);
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
