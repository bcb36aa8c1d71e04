import { Annotations, Duration, IResource, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { IConstruct } from 'constructs';
import { GeneratedNames, Removal, TAG_PREFIX, Timing } from './contract';
import { AmiValidationError } from './errors';

/** EC2's AMI name rule: 3–128 characters of letters, digits and ( ) [ ] space . / - ' @ _ */
const AMI_NAME = /^[a-zA-Z0-9()[\] ./\-'@_]{3,128}$/;
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/;

/**
 * Refuses an image owned by another account (a copy made by that account)
 * where the stack's provider acts on it as the stack's account: EC2 copies
 * and stores only images the caller owns or is granted, and such a copy is
 * granted to no one by cdk-ami. `what` says what the provider would do.
 */
export function validateImageOfStackAccount(scope: IConstruct, field: string, image: IResource, what: string, instead: string): void {
  const owner = image.env.account;
  if (Token.isUnresolved(owner) || owner === Stack.of(scope).account) return;
  throw new AmiValidationError(
    `${field} ${image.node.path} is owned by account ${owner} (a copy made by that account), which the stack's provider cannot ${what} as its own account: ${instead}.`, scope);
}

export const MIN_TIMEOUT = Duration.minutes(1);
export const MAX_TIMEOUT = Duration.hours(Timing.MAX_TIMEOUT_HOURS);

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

/**
 * Rejects what cannot be a Region name; warns about a well-formed name that
 * aws-cdk-lib does not know (a typo, or a Region newer than aws-cdk-lib).
 */
export function validateRegion(scope: IConstruct, region: string | undefined, field = 'region'): void {
  if (region === undefined || Token.isUnresolved(region)) return;
  if (!REGION.test(region)) {
    throw new AmiValidationError(`${field} "${region}" is not an AWS Region name such as us-east-1 or eu-west-2.`, scope);
  }
  if (!RegionInfo.regions.some((r) => r.name === region)) {
    Annotations.of(scope).addWarningV2('cdk-ami:unknownRegion',
      `${field} "${region}" is not a Region this aws-cdk-lib knows: check the spelling, or upgrade aws-cdk-lib if the Region is new.`);
  }
}

/** Partitions by Region name prefix, for Regions aws-cdk-lib does not know yet. */
const PARTITION_PREFIXES: ReadonlyArray<[RegExp, string]> = [
  [/^cn-/, 'aws-cn'],
  [/^us-gov-/, 'aws-us-gov'],
  [/^us-isob-/, 'aws-iso-b'],
  [/^us-isof-/, 'aws-iso-f'],
  [/^us-iso-/, 'aws-iso'],
  [/^eu-isoe-/, 'aws-iso-e'],
  [/^eusc-/, 'aws-eusc'],
];

/** The ARN partition of a concrete Region name, e.g. `aws-cn` for `cn-north-1`. */
export function partitionOf(region: string): string {
  return RegionInfo.get(region).partition ?? PARTITION_PREFIXES.find(([prefix]) => prefix.test(region))?.[1] ?? 'aws';
}

/**
 * A Region the image must reach from this stack (a copy's destination or
 * source) is in the stack's partition: credentials, ARNs and CopyImage do not
 * cross partitions.
 */
export function validateSamePartition(scope: IConstruct, field: string, region: string, other: string, otherWhat: string): void {
  if (Token.isUnresolved(region) || Token.isUnresolved(other)) return;
  const [a, b] = [partitionOf(region), partitionOf(other)];
  if (a !== b) {
    throw new AmiValidationError(
      `${field} "${region}" is in partition ${a}, but ${otherWhat} (${other}) is in partition ${b}: EC2 cannot copy images between partitions.`, scope);
  }
}

/** What an image's boot mode and NitroTPM settings must satisfy, on every construct that takes them. */
export function validateBootMode(scope: IConstruct, props: {
  readonly bootMode?: string; readonly tpmSupport?: boolean; readonly architecture?: string; readonly allowedBootModes?: string[];
}): void {
  if (props.bootMode && props.allowedBootModes && !props.allowedBootModes.includes(props.bootMode)) {
    throw new AmiValidationError(
      `bootMode "${props.bootMode}" is not accepted here: EC2 takes ${props.allowedBootModes.map((m) => `"${m}"`).join(' or ')}.`, scope);
  }
  if (!props.tpmSupport) return;
  // EC2's default boot mode is UEFI on arm64 only; on x86_64 it is legacy BIOS, and uefi-preferred may fall back to it.
  const uefi = props.bootMode === 'uefi' || (props.bootMode === undefined && props.architecture === 'arm64');
  if (!uefi) {
    throw new AmiValidationError(
      `tpmSupport needs UEFI boot, but bootMode is ${props.bootMode ? `"${props.bootMode}"` : `not set (EC2 boots ${props.architecture ?? 'x86_64'} images with legacy BIOS)`}: set bootMode to BootMode.UEFI.`, scope);
  }
}

/** EC2 image names are unique per account and Region: two images of one app with the same name cannot both be created. */
const IMAGE_NAMES = new WeakMap<IConstruct, Map<string, string>>();

export function claimImageName(scope: IConstruct, name: string | undefined, region: string, imageAccount?: string): void {
  if (name === undefined || Token.isUnresolved(name)) return;
  const stack = Stack.of(scope);
  const owner = imageAccount ?? stack.account;
  // An account or Region unknown at synth time is only known to be shared within one stack.
  const account = Token.isUnresolved(owner) ? `stack ${stack.node.path}` : owner;
  const where = Token.isUnresolved(region) ? `stack ${stack.node.path}` : region;
  const key = `${account}|${where}|${name}`;
  const names = IMAGE_NAMES.get(scope.node.root) ?? new Map<string, string>();
  IMAGE_NAMES.set(scope.node.root, names);
  const holder = names.get(key);
  if (holder !== undefined && holder !== scope.node.path) {
    throw new AmiValidationError(
      `imageName "${name}" is already used by ${holder}: EC2 image names are unique in an account and Region, so the second image could never be created. Give one of them another name.`, scope);
  }
  names.set(key, scope.node.path);
}

/**
 * A wait's budget: concrete and 1 minute to 48 hours. `field` is the prop the
 * user set (`timeout`, `setupTimeout`), so the message names what to change.
 */
export function validateTimeout(scope: IConstruct, timeout: Duration, field = 'timeout'): void {
  if (timeout.isUnresolved()) {
    throw new AmiValidationError(`${field} must be a concrete Duration; the number of waiter links is decided at synth time.`, scope);
  }
  const seconds = timeout.toSeconds();
  if (seconds < MIN_TIMEOUT.toSeconds() || seconds > MAX_TIMEOUT.toSeconds()) {
    throw new AmiValidationError(
      `${field} ${timeout.toHumanString()} is out of range: it must be between 1 minute and 48 hours.`, scope);
  }
}

export function validateTags(scope: IConstruct, tags: Record<string, string> | undefined): void {
  for (const key of Object.keys(tags ?? {})) {
    if (key.startsWith(TAG_PREFIX) || key.toLowerCase().startsWith('aws:')) {
      throw new AmiValidationError(
        `Tag key "${key}" is reserved: keys starting with "${TAG_PREFIX}" mark the images cdk-ami owns, and "aws:" keys belong to AWS.`, scope);
    }
  }
}

/** A default AMI name prefix from the construct path, made of allowed characters. */
export function namePrefixFromPath(path: string): string {
  const cleaned = path.replace(/[^a-zA-Z0-9()[\] ./\-'@_]/g, '-');
  // Keep the most specific end of long paths; the handler appends a unique suffix.
  return cleaned.length > GeneratedNames.MAX_PREFIX_LENGTH ? cleaned.slice(cleaned.length - GeneratedNames.MAX_PREFIX_LENGTH) : cleaned;
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

/**
 * `disableAt` as the last waiter link carries it: the time, once it has passed
 * at synth, else nothing. EC2 cannot schedule DisableImage, so the synth after
 * that time is what changes the property and has the waiter disable the image.
 */
export function disableTime(scope: IConstruct, disableAt: Date | undefined, now = Date.now()): string | undefined {
  if (disableAt === undefined) return undefined;
  const ms = disableAt.getTime();
  if (Number.isNaN(ms)) throw new AmiValidationError('disableAt is not a valid date.', scope);
  const at = new Date(ms).toISOString();
  if (ms > now) {
    Annotations.of(scope).addInfo(
      `disableAt ${at} is in the future: EC2 cannot schedule disabling, so the image stays enabled until a deployment synthesized at or after that time disables it.`);
    return undefined;
  }
  return at;
}

/** A tag map as CloudFormation properties: a list of Key/Value, sorted by key so the template is stable. */
export function tagList(tags: Record<string, string> | undefined): { Key: string; Value: string }[] | undefined {
  if (tags === undefined) return undefined;
  return Object.keys(tags).sort().map((Key) => ({ Key, Value: tags[Key] }));
}

/** The EC2 resources whose IDs the constructs take, by prefix: `ami-…`, `snap-…`, `i-…`. */
const EC2_IDS = {
  image: { prefix: 'ami', noun: 'an AMI ID', plural: 'AMI IDs' },
  snapshot: { prefix: 'snap', noun: 'a snapshot ID', plural: 'snapshot IDs' },
  instance: { prefix: 'i', noun: 'an instance ID', plural: 'instance IDs' },
} as const;

/** An EC2 resource ID: its prefix, then 8 or 17 hexadecimal digits. Tokens are checked by EC2. */
export function validateEc2Id(scope: IConstruct, field: string, value: string, kind: keyof typeof EC2_IDS): void {
  if (Token.isUnresolved(value)) return;
  const { prefix, noun, plural } = EC2_IDS[kind];
  if (!new RegExp(`^${prefix}-[0-9a-f]{8}([0-9a-f]{9})?$`).test(value)) {
    throw new AmiValidationError(`${field} "${value}" is not ${noun}: ${plural} look like ${prefix}-0123456789abcdef0.`, scope);
  }
}

/**
 * The removal policies the handlers apply: RETAIN and DESTROY. `what` names
 * the resource and what each policy does to it. RETAIN_ON_UPDATE_OR_DELETE is
 * what the handlers' RETAIN already is (kept on update and delete, removed
 * when the deployment that created it rolls back), so it becomes RETAIN.
 */
export function validateRemovalPolicy(
  scope: IConstruct, policy: RemovalPolicy, what: { noun: string; retain: string; destroy: string },
): RemovalPolicy {
  if (policy === RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE) return RemovalPolicy.RETAIN;
  if (policy !== RemovalPolicy.RETAIN && policy !== RemovalPolicy.DESTROY) {
    throw new AmiValidationError(
      `removalPolicy ${policy} is not supported for ${what.noun}: use RemovalPolicy.RETAIN (${what.retain}) or RemovalPolicy.DESTROY (${what.destroy}).`, scope);
  }
  return policy;
}

/** The `RemovalPolicy` property the handlers read, for a policy `validateRemovalPolicy` accepted. */
export function removalProperty(policy: RemovalPolicy): string {
  return policy === RemovalPolicy.DESTROY ? Removal.DESTROY : Removal.RETAIN;
}

/** A KMS key is only used for encrypted snapshots: EC2 and VM Import ignore it otherwise, so it needs `encrypted: true`. */
export function validateKeyNeedsEncryption(scope: IConstruct, encryptionKey: unknown, encrypted: boolean | undefined, service: string): void {
  if (encryptionKey && encrypted !== true) {
    throw new AmiValidationError(`encryptionKey needs encrypted: true; ${service} only uses a KMS key for encrypted snapshots.`, scope);
  }
}
