import { num } from './props';
import { isRollingBack } from './removal';
import { CustomResourceEvent, OnEventResponse, ResourceProperties } from './types';
import { Timing } from '../../src/private/contract';

/** The Provider framework polls isComplete this often. */
export const POLL_INTERVAL_MS = Timing.POLL_INTERVAL_SECONDS * 1000;

/** How long a new subject (image, store task, builder instance) may stay invisible to EC2's Describe calls after creation. */
export const NOT_FOUND_GRACE_MS = 5 * 60 * 1000;

/**
 * Where one link of a waiter chain stands: which link of how many, its
 * budget, and how long it has waited. Image waits and builder-setup waits
 * read the same `Link`, `Links`, `BudgetSeconds` and `TimeoutSeconds`.
 */
export interface LinkTiming {
  readonly link: number;
  readonly links: number;
  readonly linkLabel: string;
  readonly isLastLink: boolean;
  readonly budgetMs: number;
  readonly totalTimeoutSeconds: number;
  readonly elapsedMs: number;
  readonly elapsedSeconds: number;
}

export function readLinkTiming(props: ResourceProperties, startedAt: number | undefined): LinkTiming {
  const link = num(props.Link, 1);
  const links = num(props.Links, 1);
  const budgetSeconds = num(props.BudgetSeconds, Timing.LINK_BUDGET_SECONDS);
  const elapsedMs = startedAt ? Date.now() - startedAt : 0;
  return {
    link,
    links,
    linkLabel: `${link}/${links}`,
    isLastLink: link >= links,
    budgetMs: budgetSeconds * 1000,
    totalTimeoutSeconds: num(props.TimeoutSeconds, budgetSeconds),
    elapsedMs,
    elapsedSeconds: Math.round(elapsedMs / 1000),
  };
}

/**
 * The onEvent answer that starts a wait (image or builder setup): when it
 * began, and whether the Update reverts a failed deployment. onEvent runs with
 * the operation role, which may read the stack status; isComplete may not, so
 * the Provider framework passes both on with every poll.
 */
export async function startWait(event: CustomResourceEvent, physicalId: string): Promise<OnEventResponse<never>> {
  if (event.RequestType === 'Update' && await isRollingBack(event.StackId)) {
    return { PhysicalResourceId: physicalId, WaitStartedAt: Date.now(), RollingBack: true };
  }
  return { PhysicalResourceId: physicalId, WaitStartedAt: Date.now() };
}
