import { STATUS_CODES } from 'node:http';

/**
 * Errors that reach CloudFormation. The Provider framework copies the thrown
 * error's message into the stack event and appends every stack line after the
 * first, so user-facing errors carry a one-line "stack": the event then reads
 * as one sentence, and the full detail stays in the function's log.
 */
export class AmiError extends Error {
  constructor(message: string) {
    super(oneLine(message));
    this.name = 'AmiError';
    this.stack = `${this.name}: ${this.message}`;
  }
}

/** The error code of an AWS SDK v3 service error (`InvalidAMIID.NotFound`, ...), if any. */
export function errorCode(err: unknown): string | undefined {
  if (err && typeof err === 'object') {
    const e = err as { name?: string; Code?: string; code?: string };
    return e.Code ?? e.code ?? e.name;
  }
  return undefined;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

export function isNotFound(err: unknown): boolean {
  const code = errorCode(err) ?? '';
  return code.endsWith('.NotFound') || code === 'InvalidAMIID.Unavailable';
}

/**
 * Too many concurrent image operations in the Region (CreateImage, CopyImage,
 * store, restore, import, RegisterImage): EC2 answers HTTP 400
 * ResourceLimitExceeded until one of them finishes.
 */
export function isCapacityError(err: unknown): boolean {
  return errorCode(err) === 'ResourceLimitExceeded';
}

export function isThrottling(err: unknown): boolean {
  const code = errorCode(err) ?? '';
  return ['RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'TooManyRequestsException'].includes(code);
}

/**
 * Whether the call may have been carried out although it failed: AWS answered
 * with a 5xx, which does not say the request failed, or nothing came back at
 * all (a timeout, a reset connection) after the request may have arrived.
 */
export function mayHaveTakenEffect(err: unknown): boolean {
  if (err instanceof AmiError || !(err instanceof Error)) return false;
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status === undefined || status >= 500;
}

/** A 5xx answer in words (`HTTP 503 (Unavailable: …)`), or undefined for any other error. */
export function serverFailure(err: unknown): string | undefined {
  const status = (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  if (status === undefined || status < 500) return undefined;
  return `HTTP ${status} (${notAnEc2Answer(err) ? 'not an AWS error' : `${errorCode(err)}: ${withoutFullStop(errorMessage(err))}`})`;
}

/** IAM, an SCP or a permissions boundary refused the call. */
export function isRefused(err: unknown): boolean {
  return ['UnauthorizedOperation', 'AccessDenied', 'AccessDeniedException'].includes(errorCode(err) ?? '');
}

/** `text` as the end of a sentence: one full stop, however many it had. */
export function sentence(text: string): string {
  return `${withoutFullStop(text)}.`;
}

/** `text` without the full stop (and spaces) it ends with, to quote it inside a sentence. */
export function withoutFullStop(text: string): string {
  return text.replace(/[\s.]+$/, '');
}

/**
 * Turns anything thrown into an AmiError whose message is one readable
 * sentence; SDK errors keep EC2's code and message, which name the cause.
 */
export function toAmiError(err: unknown, context: string): AmiError {
  if (err instanceof AmiError) return err;
  const notEc2 = notAnEc2Answer(err);
  if (notEc2) return new AmiError(`${context} failed: ${notEc2}`);
  const code = errorCode(err);
  const message = errorMessage(err);
  if (code && code !== 'Error' && code !== 'TypeError') {
    return new AmiError(`${context} failed: ${code}: ${message}`);
  }
  return new AmiError(`${context} failed unexpectedly: ${message}`);
}

/**
 * A response whose body is not an AWS error document (a proxy's or load
 * balancer's HTML page, an empty 5xx): the SDK then reports "Unknown" or its
 * XML parser's complaint, neither of which names the cause. Describes what
 * came back instead, or undefined for a real service error.
 */
function notAnEc2Answer(err: unknown): string | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number }; $response?: { headers?: Record<string, string> } };
  const status = e.$metadata?.httpStatusCode;
  if (status === undefined) return undefined;
  const unparsed = /Deserialization error|XML parse error/i.test(e.message ?? '');
  const unnamed = e.name === 'Unknown' || e.name === 'UnknownError';
  if (!unparsed && !unnamed) return undefined;
  const statusText = STATUS_CODES[status] ? ` ${STATUS_CODES[status]}` : '';
  const contentType = e.$response?.headers?.['content-type'];
  const body = contentType ? `a ${contentType.split(';')[0]} body` : 'a body';
  return `the endpoint answered HTTP ${status}${statusText} with ${body} that is not an AWS error, as a proxy or load balancer between the function and the service does when it cannot reach it; retry later, and check the network path (VPC endpoint, proxy) if it persists.`;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
