import { whenCapacityAllows } from './backoff';
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
  try {
    return await start();
  } catch (err) {
    if (errorCode(err) !== 'InvalidAMIName.Duplicate' && !mayHaveTakenEffect(err)) throw err;
    const started = await adoptStarted(ctx, err);
    if (started) return started;
    throw err;
  }
}

/** The image the failed start of this request made after all, if EC2 can say. */
async function adoptStarted(ctx: OperationContext, startError: unknown): Promise<string | undefined> {
  try {
    return await adoptByName(ctx);
  } catch (err) {
    if (err instanceof AmiError) throw err;
    log('warn', 'could not look for an image the failed start may have made; deregister it if it exists', {
      imageName: ctx.imageName, region: ctx.region, startError: errorMessage(startError), error: errorMessage(err),
    });
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
