import { AmiError, errorMessage, isCapacityError, withoutFullStop } from './errors';
import { log } from './log';
import { Timing } from '../../src/private/contract';

/**
 * Waiting for capacity. EC2 answers ResourceLimitExceeded while too many image
 * operations (CreateImage, CopyImage, RegisterImage, store, restore, import
 * tasks) run in the Region; it clears when one of them finishes, which takes
 * minutes, not the SDK's seconds of retries. The call that starts an image is
 * retried, with the same client token or name, until the operation function's
 * time runs out.
 */
const FIRST_DELAY_MS = 5_000;
const MAX_DELAY_MS = 30_000;
const MIN_DELAY_MS = 1_000;
/** Kept back from the function's timeout so the failure still reaches CloudFormation as a sentence. */
const REPORT_MARGIN_MS = 20_000;
/** Without a Lambda context (tests, local runs): the operation function's timeout. */
const FALLBACK_TIMEOUT_MS = Timing.OPERATION_TIMEOUT_SECONDS * 1000;

export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

type Sleep = (ms: number) => Promise<void>;
let sleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let context: InvocationContext | undefined;

/** Tests replace the wait between attempts (and may count it). */
export function setSleep(newSleep: Sleep): Sleep {
  const previous = sleep;
  sleep = newSleep;
  return previous;
}

/** Waits `ms` with the sleep tests may replace. */
export function pause(ms: number): Promise<void> {
  return sleep(ms);
}

/** Each invocation's time budget is what Lambda says is left of it. */
export function startInvocation(lambdaContext: InvocationContext | undefined): void {
  context = typeof lambdaContext?.getRemainingTimeInMillis === 'function' ? lambdaContext : undefined;
}

/** Whether this invocation can still wait `ms` and then report a failure in time. */
export function hasTimeToWait(ms: number): boolean {
  return timeLeftMs(0) >= ms;
}

function timeLeftMs(waitedMs: number): number {
  const remaining = context ? context.getRemainingTimeInMillis() : FALLBACK_TIMEOUT_MS - waitedMs;
  return remaining - REPORT_MARGIN_MS;
}

/**
 * Calls `start`, and while EC2 answers ResourceLimitExceeded, calls it again
 * after 5 s, 10 s, 20 s, then every 30 s, for as long as the invocation has
 * time (about 4.5 minutes of the operation function's 5); then fails with a sentence. `start` must be idempotent (a client token,
 * or a name the retry adopts): a limit answer means nothing was started.
 */
export async function whenCapacityAllows<T>(action: string, region: string, start: () => Promise<T>): Promise<T> {
  let waitedMs = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (!isCapacityError(err)) throw err;
      // The last wait is cut short so that one more try fits in the budget.
      const delayMs = Math.min(FIRST_DELAY_MS * 2 ** (attempt - 1), MAX_DELAY_MS, timeLeftMs(waitedMs));
      if (delayMs < MIN_DELAY_MS) {
        throw new AmiError(
          `EC2 had no capacity to start ${action} in ${region} for ${Math.round(waitedMs / 1000)} s: too many image operations (creates, copies, imports, store and restore tasks) run at once in the Region (ResourceLimitExceeded: ${withoutFullStop(errorMessage(err))}). Deploy again when some of them have finished, or start fewer at once.`,
        );
      }
      log('warn', 'waiting for capacity: too many concurrent image operations in the Region', {
        action, region, attempt, retryInSeconds: delayMs / 1000, waitedSeconds: Math.round(waitedMs / 1000), error: errorMessage(err),
      });
      await sleep(delayMs);
      waitedMs += delayMs;
    }
  }
}
