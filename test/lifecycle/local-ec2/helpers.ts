/**
 * Small helpers of the EC2 actions: resource IDs, timestamps on the test's clock, tag records, the
 * `Tag.N` and `TagSpecification.N` request members, globs and `Owner.N`.
 */
import { randomBytes } from 'node:crypto';
import { ApiError, invalidValue } from './errors';
import { QueryParams } from './protocol';
import { Tags } from './types';

/** A real-looking resource ID: `prefix-` and 17 lowercase hex digits. */
export function newId(prefix: string): string {
  return `${prefix}-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

/** EC2 IDs carry 8 (legacy) or 17 hex digits after the prefix. */
export function isWellFormedId(id: string, prefix: string): boolean {
  return new RegExp(`^${prefix}-(?:[0-9a-f]{8}|[0-9a-f]{17})$`).test(id);
}

export function assertWellFormedId(id: string, prefix: string, code: string): void {
  if (!isWellFormedId(id, prefix)) throw new ApiError(code, `Invalid id: "${id}" (expecting "${prefix}-...")`);
}

/** `Date.now()`, so a test's virtual clock (the CloudFormation simulator's) is the service's clock too. */
export function now(): string {
  return new Date(Date.now()).toISOString();
}

/** A tag record with no prototype, so keys such as `__proto__` are stored like any other. */
export function newTags(entries: Iterable<readonly [string, string]> = []): Tags {
  const tags: Tags = Object.create(null);
  for (const [key, value] of entries) tags[key] = value;
  return tags;
}

export function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

/** EC2 filter values are globs: `*` any run, `?` one character, `\` escapes. */
export function globMatches(pattern: string, value: string): boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i]);
    else if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else source += escapeRegExp(char);
  }
  return new RegExp(`^${source}$`, 's').test(value);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Reads `Tag.N.Key` / `Tag.N.Value` members; `aws:` keys are reserved like on the real service. */
export function readTags(members: readonly QueryParams[]): Array<[string, string]> {
  return members.map((member) => {
    const key = member.required('Key');
    if (key.toLowerCase().startsWith('aws:')) throw invalidValue("Tag keys starting with 'aws:' are reserved for internal use");
    return [key, member.get('Value') ?? ''];
  });
}

/** `TagSpecification.N` grouped by resource type; a type the action cannot tag is rejected. */
export function readTagSpecifications(params: QueryParams, allowed: readonly string[]): Map<string, Tags> {
  const byType = new Map<string, Tags>(allowed.map((type) => [type, newTags()]));
  for (const spec of params.members('TagSpecification')) {
    const type = spec.required('ResourceType');
    const target = byType.get(type);
    if (!target) throw invalidValue(`'${type}' is not a valid taggable resource type for this operation.`);
    for (const [key, value] of readTags(spec.members('Tag'))) target[key] = value;
  }
  return byType;
}

export function tagsFor(specs: Map<string, Tags>, type: string): Tags {
  return newTags(Object.entries(specs.get(type) ?? {}));
}

/** Owner.N: the caller's resources match `self` or its account ID; any other owner has none. */
export function ownersInclude(owners: readonly string[], account: string): boolean {
  return owners.length === 0 || owners.some((owner) => owner === 'self' || owner === account);
}
