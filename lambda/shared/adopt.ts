import { hasTimeToWait, pause, whenCapacityAllows } from './backoff';
import { AmiError, errorCode, errorMessage, mayHaveTakenEffect } from './errors';
import { findImageByName } from './images';
import { log } from './log';
import { OperationContext } from './operation';
import { isFromRequest, isOwnedBy } from './ownership';

/**
 * For EC2 actions without a client token (CreateImage, RegisterImage,
 * CreateRestoreImageTask): a retried request recognises the image it already
 * started by its name and ownership tags instead of starting a second one, and
 * a name held by anyone else is an error that says whose it is.
 */
export async function createOnceByName(ctx: OperationContext, start: () => Promise<string>): Promise<string> {
  const adopted = await adoptByName(ctx);
  if (adopted) return adopted;
  return startOnce(ctx, start);
}

/**
 * Calls `start`, which starts an image named `ctx.imageName` with this
 * request's ownership tags, and returns its ID. When the call fails in a way
 * that may hide a success (a 5xx, no answer: the operation resource would then
 * have no physical ID, and CloudFormation's rollback would never delete what
 * it started), or with the name taken (an earlier attempt of this request),
 * the image this request started is adopted instead of left behind.
 */
export async function startOnce(ctx: OperationContext, start: () => Promise<string>): Promise<string> {
  return startOrAdopt(start, () => adoptByName(ctx), {
    adoptOn: ['InvalidAMIName.Duplicate'],
    leftover: 'could not look for an image the failed start may have made; deregister it if it exists',
    names: { imageName: ctx.imageName, region: ctx.region },
  });
}

/** What `startOrAdopt` needs besides the two calls. */
export interface Adoption {
  /** Error codes that say an earlier attempt of this request started it (besides a 5xx or no answer). */
  readonly adoptOn?: readonly string[];
  /** The log message when the lookup itself fails: what may be left behind, and what to do. */
  readonly leftover: string;
  /** Log fields that let a person find it. */
  readonly names: Record<string, unknown>;
}

/**
 * Waits between lookups for what a failed start made: Describe calls are
 * eventually consistent, so a resource started a moment ago may not show yet.
 */
const LOOKUP_DELAYS_MS = [1_000, 2_000, 4_000];

/**
 * Calls `start`. When it fails in a way that may hide a success (a 5xx, or no
 * answer at all after the SDK's retries) or with one of `adoptOn`'s codes,
 * `find` looks for what this request started (by its tags, its client token's
 * task, ...), a few times over some seconds while the invocation has time,
 * and that is returned instead: the resource then has a physical ID, and
 * CloudFormation's rollback or delete reaches it. Otherwise the start's error
 * is thrown. An AmiError from `find` (e.g. a name held by someone else) is
 * thrown as is; any other failure of `find` is logged with `leftover`.
 */
export async function startOrAdopt<T>(start: () => Promise<T>, find: () => Promise<T | undefined>, adoption: Adoption): Promise<T> {
  try {
    return await start();
  } catch (err) {
    if (!adoption.adoptOn?.includes(errorCode(err) ?? '') && !mayHaveTakenEffect(err)) throw err;
    const started = await findStarted(find, adoption, err);
    if (started !== undefined) return started;
    throw err;
  }
}

/** What the failed start made after all, if EC2 can say within a few seconds. */
async function findStarted<T>(find: () => Promise<T | undefined>, adoption: Adoption, startError: unknown): Promise<T | undefined> {
  try {
    for (const delayMs of [...LOOKUP_DELAYS_MS, undefined]) {
      const found = await find();
      if (found !== undefined || delayMs === undefined || !hasTimeToWait(delayMs)) return found;
      log('info', 'not found yet; looking again', { ...adoption.names, retryInSeconds: delayMs / 1000 });
      await pause(delayMs);
    }
    return undefined;
  } catch (err) {
    if (err instanceof AmiError) throw err;
    log('warn', adoption.leftover, { ...adoption.names, startError: errorMessage(startError), error: errorMessage(err) });
    return undefined;
  }
}

/**
 * The image this request already created under this name, if any. A name held
 * by any other image is an error that says whose it is.
 */
export async function adoptByName(ctx: OperationContext): Promise<string | undefined> {
  const existing = await findImageByName(ctx.ec2, ctx.imageName);
  if (!existing) return undefined;
  if (isFromRequest(existing, ctx.ownership)) {
    log('info', 'adopting the image this request already started', { imageId: existing.ImageId, imageName: ctx.imageName });
    return existing.ImageId!;
  }
  if (isOwnedBy(existing, ctx.ownership)) {
    if (ctx.event.RequestType === 'Update' && existing.ImageId === ctx.event.PhysicalResourceId) {
      // A replacement that keeps a fixed name: the image it replaces still exists.
      throw new AmiError(
        `Image name "${ctx.imageName}" is used in ${ctx.region} by ${existing.ImageId}, the image this update replaces: CloudFormation creates the new image before it deletes the old one, so the new image needs another name. Change imageName too, or omit it to get a unique one.`,
      );
    }
    throw new AmiError(
      `Image name "${ctx.imageName}" is already used in ${ctx.region} by ${existing.ImageId}, an earlier image of this resource that was kept (removalPolicy RETAIN). Give the new image another imageName, or omit imageName to get a unique one.`,
    );
  }
  throw new AmiError(
    `Image name "${ctx.imageName}" is already used in ${ctx.region} by ${existing.ImageId}, which this resource did not create. Choose another imageName, or omit it to get a unique one.`,
  );
}

/**
 * An error of a call that starts an image, when it needs no kind-specific
 * words: a sentence already (e.g. from createOnceByName), or EC2's answer
 * about the image name (taken in the Region, not a valid AMI name).
 * Undefined for any other error.
 */
export function knownStartError(err: unknown, ctx: { readonly imageName: string; readonly region: string }): AmiError | undefined {
  if (err instanceof AmiError) return err;
  switch (errorCode(err)) {
    case 'InvalidAMIName.Duplicate':
      return new AmiError(`Image name "${ctx.imageName}" is already used in ${ctx.region}. Choose another imageName, or omit it to get a unique one.`);
    case 'InvalidAMIName.Malformed':
      return new AmiError(`Image name "${ctx.imageName}" is not valid: ${errorMessage(err)}`);
    default:
      return undefined;
  }
}

/**
 * Starts an image with a call that takes no client token (RegisterImage,
 * CreateRestoreImageTask): once per request by name, waiting for capacity,
 * and failing with `explain`'s sentence for the errors `knownStartError`
 * does not cover.
 */
export async function startNamedImage(
  ctx: OperationContext, action: string, start: () => Promise<string>, explain: (err: unknown) => AmiError,
): Promise<string> {
  try {
    return await createOnceByName(ctx, () => whenCapacityAllows(action, ctx.region, start));
  } catch (err) {
    throw knownStartError(err, ctx) ?? explain(err);
  }
}
