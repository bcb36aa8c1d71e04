/**
 * Injected faults: throttling, HTTP 500/503, EC2's ResourceLimitExceeded for image operations,
 * UnauthorizedOperation, a proxy's HTML 502, and a 500/503 after the call took effect, each as the
 * service in question answers it; queued
 * per action (`injectFault`) or at a seeded random rate (`throttleRate`).
 */
import { ApiError } from './errors';
import { FaultKind, FaultSpec, RecordedCall } from './types';

/** The error each fault kind produces, per protocol (EC2 throttles with 503, CloudFormation with 400). */
export function faultError(kind: AnswerFault, service: RecordedCall['service']): ApiError {
  if (kind === 'capacity' && service !== 'ec2') kind = 'http503';
  // EC2's UnauthorizedOperation (HTTP 403); its message carries an encoded authorization failure message.
  if (kind === 'unauthorized') return new ApiError('UnauthorizedOperation', 'You are not authorized to perform this operation. Encoded authorization failure message: AAAA', 403);
  if (service === 's3') {
    switch (kind) {
      case 'throttle': return new ApiError('SlowDown', 'Please reduce your request rate.', 503);
      case 'http500': return new ApiError('InternalError', 'We encountered an internal error. Please try again.', 500);
      case 'http503': return new ApiError('ServiceUnavailable', 'Service is unable to handle request.', 503);
    }
  }
  if (service === 'ssm') {
    switch (kind) {
      case 'throttle': return new ApiError('ThrottlingException', 'Rate exceeded', 400);
      case 'http500': return new ApiError('InternalServerError', 'An internal error has occurred', 500);
      case 'http503': return new ApiError('ServiceUnavailable', 'Service is unavailable', 503);
    }
  }
  if (service === 'cloudformation') {
    switch (kind) {
      case 'throttle': return new ApiError('Throttling', 'Rate exceeded', 400);
      case 'http500': return new ApiError('InternalFailure', 'An internal error has occurred', 500);
      case 'http503': return new ApiError('ServiceUnavailable', 'Service is unavailable', 503);
    }
  }
  switch (kind) {
    // RequestLimitExceeded is in the SDK's THROTTLING_ERROR_CODES, so it is retried as throttling.
    case 'throttle': return new ApiError('RequestLimitExceeded', 'Request limit exceeded.', 503);
    case 'http500': return new ApiError('InternalError', 'An internal error has occurred', 500);
    case 'http503': return new ApiError('Unavailable', 'The server is temporarily unavailable', 503);
    // The message is best knowledge; the code and status are what EC2 documents for its limits.
    case 'capacity': return new ApiError('ResourceLimitExceeded', 'You have reached the maximum number of concurrent image operations in this Region. Try again later.', 400);
  }
}

/** The faults that stand for the answer alone: all but the proxy's page and those that let the call take effect first. */
export type AnswerFault = Exclude<FaultKind, 'proxy502' | 'tookEffect500' | 'tookEffect503'>;

/** For a fault that lets the call take effect, the 5xx that replaces the service's answer; undefined for the others. */
export function lostAnswer(kind: FaultKind): 'http500' | 'http503' | undefined {
  switch (kind) {
    case 'tookEffect500': return 'http500';
    case 'tookEffect503': return 'http503';
    default: return undefined;
  }
}

/** What nginx (and most proxies) answer when the upstream fails: an HTML page, not an AWS error. */
export const PROXY_502_BODY = '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

/** Park–Miller minimal standard generator: deterministic per seed, plain arithmetic (no bitwise ops). */
function seededRandom(seed: number): () => number {
  const modulus = 2_147_483_647;
  let state = Math.abs(Math.floor(seed)) % modulus || 1;
  return () => {
    state = (state * 48_271) % modulus;
    return (state - 1) / (modulus - 1);
  };
}

interface PendingFault {
  readonly action?: string;
  readonly kind: FaultKind;
  remaining: number;
}

export class FaultPlan {
  private readonly pending: PendingFault[] = [];
  private rate = 0;
  private random: () => number = seededRandom(1);

  add(spec: FaultSpec): void {
    if (!Number.isInteger(spec.times) || spec.times < 0) throw new Error(`Fault times must be a non-negative integer, got ${spec.times}`);
    this.pending.push({ action: spec.action, kind: spec.kind, remaining: spec.times });
  }

  setRate(fraction: number, seed: number): void {
    if (!(fraction >= 0 && fraction <= 1)) throw new Error(`Throttle rate must be between 0 and 1, got ${fraction}`);
    this.rate = fraction;
    this.random = seededRandom(seed);
  }

  /** The fault this call suffers, if any: injected faults first (in order), then the random throttle rate. */
  take(action: string): FaultKind | undefined {
    const fault = this.pending.find((candidate) => candidate.remaining > 0 && (candidate.action ?? action) === action);
    if (fault) {
      fault.remaining--;
      return fault.kind;
    }
    return this.rate > 0 && this.random() < this.rate ? 'throttle' : undefined;
  }

  clear(): void {
    this.pending.length = 0;
    this.setRate(0, 1);
  }
}
