import { log } from './log';

let baseDelayMs = 2000;

/** Tests shorten the waits between attempts. */
export function setBackoffBase(ms: number): number {
  const previous = baseDelayMs;
  baseDelayMs = ms;
  return previous;
}

/**
 * Retries `fn` while `retryable(err)` says so, waiting base, 2×base, 4×base …
 * between attempts: for limits that clear within seconds (EC2's concurrent
 * copy limit), which the SDK's own retries do not cover.
 */
export async function withBackoff<T>(what: string, attempts: number, retryable: (err: unknown) => boolean, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !retryable(err)) throw err;
      const delayMs = baseDelayMs * 2 ** (attempt - 1);
      log('warn', `${what}: retrying`, { attempt, delayMs, error: err instanceof Error ? err.message : String(err) });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
