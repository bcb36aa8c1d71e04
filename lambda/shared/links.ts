import { num } from './props';
import { ResourceProperties } from './types';

/** The Provider framework polls isComplete this often (the constructs' POLL_INTERVAL). */
export const POLL_INTERVAL_MS = 15 * 1000;

/** A link's budget when the template gives none: the constructs' 50-minute LINK_BUDGET. */
const DEFAULT_BUDGET_SECONDS = 3000;

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
  const budgetSeconds = num(props.BudgetSeconds, DEFAULT_BUDGET_SECONDS);
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
