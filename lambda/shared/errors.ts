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

export function isThrottling(err: unknown): boolean {
  const code = errorCode(err) ?? '';
  return ['RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'TooManyRequestsException'].includes(code);
}

/**
 * Turns anything thrown into an AmiError whose message is one readable
 * sentence; SDK errors keep EC2's code and message, which name the cause.
 */
export function toAmiError(err: unknown, context: string): AmiError {
  if (err instanceof AmiError) return err;
  const code = errorCode(err);
  const message = errorMessage(err);
  if (code && code !== 'Error' && code !== 'TypeError') {
    return new AmiError(`${context} failed: ${code}: ${message}`);
  }
  return new AmiError(`${context} failed unexpectedly: ${message}`);
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
