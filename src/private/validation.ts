import { Annotations, Duration, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { AmiValidationError } from './errors';

/** EC2's AMI name rule: 3–128 characters of letters, digits and ( ) [ ] space . / - ' @ _ */
const AMI_NAME = /^[a-zA-Z0-9()[\] ./\-'@_]{3,128}$/;
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/;

export const MIN_TIMEOUT = Duration.minutes(1);
export const MAX_TIMEOUT = Duration.hours(48);

export function validateImageName(scope: IConstruct, name: string | undefined): void {
  if (name === undefined || Token.isUnresolved(name)) return;
  if (!AMI_NAME.test(name)) {
    throw new AmiValidationError(
      `imageName "${name}" is not a valid AMI name: it must be 3 to 128 characters of letters, digits, spaces and ( ) [ ] . / - ' @ _ (got ${name.length} characters${firstBadCharacter(name)}).`, scope);
  }
}

function firstBadCharacter(name: string): string {
  const bad = [...name].find((c) => !AMI_NAME.test(`aa${c}`));
  return bad === undefined ? '' : `, including "${bad}"`;
}

export function validateRegion(scope: IConstruct, region: string | undefined, field = 'region'): void {
  if (region === undefined || Token.isUnresolved(region)) return;
  if (!REGION.test(region)) {
    throw new AmiValidationError(`${field} "${region}" is not an AWS Region name such as us-east-1 or eu-west-2.`, scope);
  }
}

export function validateTimeout(scope: IConstruct, timeout: Duration): void {
  if (timeout.isUnresolved()) {
    throw new AmiValidationError('timeout must be a concrete Duration; the number of waiter links is decided at synth time.', scope);
  }
  const seconds = timeout.toSeconds();
  if (seconds < MIN_TIMEOUT.toSeconds() || seconds > MAX_TIMEOUT.toSeconds()) {
    throw new AmiValidationError(
      `timeout ${timeout.toHumanString()} is out of range: it must be between 1 minute and 48 hours.`, scope);
  }
}

export function validateTags(scope: IConstruct, tags: Record<string, string> | undefined): void {
  for (const key of Object.keys(tags ?? {})) {
    if (key.startsWith('cdk-ami:') || key.toLowerCase().startsWith('aws:')) {
      throw new AmiValidationError(
        `Tag key "${key}" is reserved: keys starting with "cdk-ami:" mark the images cdk-ami owns, and "aws:" keys belong to AWS.`, scope);
    }
  }
}

/** A default AMI name prefix from the construct path, made of allowed characters. */
export function namePrefixFromPath(path: string): string {
  const cleaned = path.replace(/[^a-zA-Z0-9()[\] ./\-'@_]/g, '-');
  // Keep the most specific end of long paths; the handler appends a unique suffix.
  return cleaned.length > 100 ? cleaned.slice(cleaned.length - 100) : cleaned;
}

const TEN_YEARS_MS = 10 * 365.25 * 24 * 3600 * 1000;
const TEN_YEARS = Duration.days(3652);

/**
 * `deprecateAt` as EC2 stores it: rounded to the nearest minute, at most 10
 * years ahead. A time in the past is kept, with a warning: the stack that
 * deployed it yesterday must still synthesize today, and the handler
 * deprecates such an image at the earliest time EC2 accepts.
 */
export function deprecationTime(scope: IConstruct, deprecateAt: Date | undefined, now = Date.now()): string | undefined {
  if (deprecateAt === undefined) return undefined;
  const ms = deprecateAt.getTime();
  if (Number.isNaN(ms)) throw new AmiValidationError('deprecateAt is not a valid date.', scope);
  const rounded = Math.round(ms / 60_000) * 60_000;
  if (rounded <= now) {
    Annotations.of(scope).addWarningV2('cdk-ami:deprecateAtInPast',
      `deprecateAt ${new Date(rounded).toISOString()} is in the past: the image is deprecated as soon as it is available (or already is).`);
  }
  if (rounded - now > TEN_YEARS_MS) {
    throw new AmiValidationError(`deprecateAt ${new Date(rounded).toISOString()} is more than 10 years ahead, which EC2 does not allow.`, scope);
  }
  return new Date(rounded).toISOString();
}

/**
 * `deprecateAfter` in whole seconds, for the handler to add to the image's
 * creation time; at most one of `deprecateAt` and `deprecateAfter`.
 */
export function deprecationDelaySeconds(scope: IConstruct, deprecateAfter: Duration | undefined, deprecateAt: Date | undefined): number | undefined {
  if (deprecateAfter === undefined) return undefined;
  if (deprecateAt !== undefined) {
    throw new AmiValidationError('deprecateAt and deprecateAfter are both set: give a fixed time or a delay after the image is created, not both.', scope);
  }
  if (deprecateAfter.isUnresolved()) {
    throw new AmiValidationError('deprecateAfter must be a concrete Duration.', scope);
  }
  const seconds = deprecateAfter.toSeconds();
  if (seconds < 60 || seconds > TEN_YEARS.toSeconds()) {
    throw new AmiValidationError(
      `deprecateAfter ${deprecateAfter.toHumanString()} is out of range: it must be between 1 minute and 10 years (EC2 deprecates at most 10 years ahead).`, scope);
  }
  return seconds;
}
