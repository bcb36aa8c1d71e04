import { createHash } from 'node:crypto';
import { Tag } from './types';
import { TAG_PREFIX, Tags } from '../../src/private/contract';

/**
 * Every image and snapshot this library creates carries three tags (the
 * contract's `Tags`):
 *  - STACK: the stack ID. The provider's IAM policy only lets it deregister,
 *    delete or modify resources whose STACK tag is its own stack's ID.
 *  - OWNER: a hash of stack ID and logical ID: which resource made it. Delete
 *    and update refuse images whose OWNER is not this resource.
 *  - REQUEST: a hash of the CloudFormation request that made it: which
 *    generation. A retried create adopts only its own generation's image, never
 *    the one an earlier replacement kept.
 */

export interface Ownership {
  readonly stack: string;
  readonly owner: string;
  readonly request: string;
}

export function ownershipOf(event: { StackId: string; LogicalResourceId: string; RequestId: string }): Ownership {
  return {
    stack: event.StackId,
    owner: shortHash(`${event.StackId}/${event.LogicalResourceId}`),
    request: shortHash(event.RequestId),
  };
}

export function ownershipTags(o: Ownership): Tag[] {
  return [
    { Key: Tags.STACK, Value: o.stack },
    { Key: Tags.OWNER, Value: o.owner },
    { Key: Tags.REQUEST, Value: o.request },
  ];
}

export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

type Tagged = { Tags?: { Key?: string; Value?: string }[] };

export function tagValue(resource: Tagged, key: string): string | undefined {
  return resource.Tags?.find((t) => t.Key === key)?.Value;
}

/** Made by this resource (any generation). */
export function isOwnedBy(resource: Tagged, o: Ownership): boolean {
  return tagValue(resource, Tags.OWNER) === o.owner;
}

/** Made by this very request: a retry of it may adopt the image. */
export function isFromRequest(resource: Tagged, o: Ownership): boolean {
  return isOwnedBy(resource, o) && tagValue(resource, Tags.REQUEST) === o.request;
}

/** User tags never override or remove the ownership tags. */
export function withoutReservedTags(tags: Tag[]): Tag[] {
  return tags.filter((t) => !t.Key.startsWith(TAG_PREFIX));
}
