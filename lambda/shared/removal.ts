import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { Image } from '@aws-sdk/client-ec2';
import { declareCalls } from './calls';
import { cloudFormation } from './clients';
import { errorMessage } from './errors';
import { log } from './log';
import { tagValue } from './ownership';
import { Removal, Tags } from '../../src/private/contract';

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

/** Image states that only an image that never finished can be in. */
const NEVER_FINISHED_STATES = new Set(['pending', 'failed', 'error', 'invalid']);

export interface RemovalDecision {
  readonly destroy: boolean;
  readonly reason: string;
  /**
   * The data goes because the deployment that made it failed, not because the
   * user asked: deregistration protection it got from that deployment is lifted.
   */
  readonly overridesProtection: boolean;
}

/** What a Delete handler can show about the data it is asked to remove. */
export interface Held {
  /** The data, for the reasons the log gives: `the image`, `the object`. */
  readonly noun: string;
  /** Why the data never became usable (an image still pending or failed), if it did not: it goes whatever the policy. */
  readonly neverFinished?: string;
  /** The data is already gone; only its leftovers may remain. */
  readonly gone?: boolean;
  /** What RETAIN keeps of data that is gone (an image's snapshots). */
  readonly leftovers?: string;
  /** A retention sweep keeps this generation (its `cdk-ami:retained` tag): a replacement's cleanup leaves it to the sweep. */
  readonly retainedBySweep?: boolean;
}

/** CloudFormation deletes what an update replaced or removed, the update having succeeded. */
const CLEANUP_AFTER_UPDATE = 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS';

/**
 * The removal rule, the one every Delete handler of data (images, copies,
 * stored objects, parameters) applies: destroy when the policy is DESTROY, or
 * while the stack rolls back the deployment that created the data (the stack
 * status says so), or when the data never became usable. RETAIN never deletes
 * anything that finished: an image kept by it stays, and so do the snapshots of
 * one that was since deregistered by hand (EC2 keeps them unless asked). When
 * the stack status cannot be read, the policy alone decides.
 */
export async function decideRemoval(removalPolicy: string | undefined, stackId: string, held: Held): Promise<RemovalDecision> {
  const destroyPolicy = (removalPolicy ?? Removal.RETAIN).toLowerCase() === Removal.DESTROY;
  if (held.neverFinished) {
    return { destroy: true, reason: held.neverFinished, overridesProtection: true };
  }
  const status = await stackStatus(stackId);
  if (status && ROLLBACK_STATES.has(status)) {
    const what = held.gone ? `${held.noun} no longer exists and ` : '';
    return { destroy: true, reason: `${what}the deployment that created it is rolling back (${status})`, overridesProtection: true };
  }
  if (status === CLEANUP_AFTER_UPDATE && held.retainedBySweep && !held.gone) {
    return { destroy: false, reason: 'its construct replaced it and its retention policy keeps it: a later retention sweep retires it', overridesProtection: false };
  }
  if (destroyPolicy) {
    return { destroy: true, reason: held.gone ? `removalPolicy is DESTROY and ${held.noun} no longer exists` : 'removalPolicy is DESTROY', overridesProtection: false };
  }
  if (held.gone) {
    const kept = held.leftovers ? `: ${held.leftovers} are kept` : '';
    return { destroy: false, reason: `removalPolicy is RETAIN and ${held.noun} no longer exists${kept}`, overridesProtection: false };
  }
  return { destroy: false, reason: 'removalPolicy is RETAIN', overridesProtection: false };
}

/**
 * What the rule needs to know of an image: only one that never became
 * available shows it by its state; every other state (available, disabled,
 * and any state EC2 adds later) may belong to an image that once became
 * available, so RETAIN keeps it.
 */
export function heldImage(image: Image | undefined): Held {
  const gone = !image || image.State === 'deregistered';
  const neverFinished = !gone && NEVER_FINISHED_STATES.has(image.State ?? '')
    ? `the image never became available (state ${image.State})`
    : undefined;
  return { noun: 'the image', neverFinished, gone, leftovers: 'its snapshots', retainedBySweep: !gone && tagValue(image, Tags.RETAINED) !== undefined };
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
