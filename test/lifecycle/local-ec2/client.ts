/**
 * Client-side helpers for tests: point the AWS SDK v3 clients at the local endpoint
 * (`withEndpointEnv`) and retry as the SDK's standard strategy does, without its waits (`fastRetryStrategy`).
 */

/**
 * Points every SDK client created afterwards (without explicit options) at the local endpoint,
 * with dummy credentials and region us-east-1. Returns a function that restores the environment.
 */
export function withEndpointEnv(url: string): () => void {
  const settings: Record<string, string> = {
    AWS_ENDPOINT_URL_EC2: url,
    AWS_ENDPOINT_URL_CLOUDFORMATION: url,
    AWS_ENDPOINT_URL_S3: url,
    AWS_ENDPOINT_URL_SSM: url,
    AWS_ENDPOINT_URL_STS: url,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: 'us-east-1',
  };
  const previous = new Map(Object.keys(settings).map((name) => [name, process.env[name]]));
  Object.assign(process.env, settings);
  return () => {
    for (const [name, value] of previous) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/** The SDK's classification of a failed attempt, as its retry middleware passes it to the strategy. */
export type RetryErrorType = 'TRANSIENT' | 'THROTTLING' | 'SERVER_ERROR' | 'CLIENT_ERROR';

interface FastRetryToken {
  getRetryCount(): number;
  getRetryDelay(): number;
}

/** A retry strategy with the standard strategy's rules but a fixed, tiny delay; `errorTypes` logs what it was asked to retry. */
export interface FastRetryStrategy {
  readonly errorTypes: RetryErrorType[];
  acquireInitialRetryToken(scope: string): Promise<FastRetryToken>;
  refreshRetryTokenForRetry(token: FastRetryToken, info: { errorType: RetryErrorType }): Promise<FastRetryToken>;
  recordSuccess(token: FastRetryToken): void;
}

/**
 * Retries what the SDK classifies as THROTTLING or TRANSIENT (the same rule as its standard
 * strategy) up to `maxAttempts` attempts, waiting `delayMs` between them. The standard strategy
 * waits up to 1 s (throttling) or 50 ms (transient) × 2^retry, which is too slow for unit tests.
 * The classification itself stays the SDK's: its retry middleware computes `errorType`.
 */
export function fastRetryStrategy(maxAttempts = 3, delayMs = 1): FastRetryStrategy {
  const token = (count: number): FastRetryToken => ({ getRetryCount: () => count, getRetryDelay: () => (count === 0 ? 0 : delayMs) });
  const errorTypes: RetryErrorType[] = [];
  return {
    errorTypes,
    acquireInitialRetryToken: async () => token(0),
    refreshRetryTokenForRetry: async (previous, info) => {
      errorTypes.push(info.errorType);
      const retryable = info.errorType === 'THROTTLING' || info.errorType === 'TRANSIENT';
      if (!retryable || previous.getRetryCount() + 1 >= maxAttempts) throw new Error('No retry token available');
      return token(previous.getRetryCount() + 1);
    },
    recordSuccess: () => undefined,
  };
}
