import { CopyImageCommand, Image } from '@aws-sdk/client-ec2';
import { knownStartError, startOnce } from './shared/adopt';
import { whenCapacityAllows } from './shared/backoff';
import { declareCalls } from './shared/calls';
import { ec2 } from './shared/clients';
import { shareRecordOf, shareSource, withdrawShare } from './shared/cross-account';
import { AmiError, errorCode, errorMessage, sentence, toAmiError } from './shared/errors';
import { describeImage, tagSpecifications } from './shared/images';
import { ImageOperation, OperationContext } from './shared/operation';
import { shortHash } from './shared/ownership';
import { bool, num, required, str, tags } from './shared/props';
import { ResourceTypes, Tags } from '../src/private/contract';

type Kind = typeof ResourceTypes.COPIED_AMI;

/** Custom::CopiedAmi's own calls: the copy, in the destination (the source is read through shared/images.ts). */
export const CALLS = declareCalls(
  'ec2:CopyImage',
);

/**
 * Custom::CopiedAmi — EC2 CopyImage, called in the destination Region, as the
 * role `RoleArn` in `Account` for a copy owned by another account.
 */
export const copy: ImageOperation<Kind> = {
  action: 'CopyImage',
  create: createCopy,
  afterDelete: async (ctx, image) => {
    const account = str(ctx.props.Account);
    if (!account) return;
    // The copy no longer needs its source once it is available; the share goes with the copy.
    const sourceRegion = required(ctx.props, 'SourceRegion');
    await withdrawShare(ec2(sourceRegion), required(ctx.props, 'SourceImageId'), account, shareRecordOf(image), sourceRegion);
  },
};

async function createCopy(ctx: OperationContext<Kind>): Promise<string> {
  const sourceImageId = required(ctx.props, 'SourceImageId');
  const sourceRegion = required(ctx.props, 'SourceRegion');
  const encrypted = str(ctx.props.Encrypted) === undefined ? undefined : bool(ctx.props.Encrypted, false);
  const kmsKeyId = str(ctx.props.KmsKeyId);

  const source = await readSource(sourceImageId, sourceRegion, ctx.region);
  if (encrypted === false && isEncrypted(source)) {
    throw new AmiError(
      `Image ${sourceImageId} in ${sourceRegion} has encrypted snapshots and EC2 cannot make an unencrypted copy of it. Remove encrypted: false, or set encrypted: true (with an encryptionKey in ${ctx.region} if needed).`,
    );
  }

  // Another account copies as itself: it must be able to launch the source and read its snapshots.
  // A share that fails part-way withdraws what it added itself.
  const account = str(ctx.props.Account);
  if (account) assertShareable(source, account, sourceRegion, ctx.event.StackId);
  const shared = account ? await shareSource(ec2(sourceRegion), source, account, sourceRegion) : '';
  const tagSpecs = tagSpecifications(tags(ctx.props.Tags), ctx.ownership, undefined, tags(ctx.props.SnapshotTags));
  if (shared) tagSpecs.find((spec) => spec.ResourceType === 'image')!.Tags!.push({ Key: Tags.SOURCE_SHARE, Value: shared });

  // The token makes a retried Lambda get the same copy back, never a second one; a copy
  // started behind a 5xx is found by its name and this request's tags.
  const clientToken = shortHash(`${ctx.event.StackId}/${ctx.event.LogicalResourceId}/${ctx.event.RequestId}`);
  try {
    return await startOnce(ctx, async () => (await whenCapacityAllows('CopyImage', ctx.region, () =>
      ctx.ec2.send(new CopyImageCommand({
        SourceImageId: sourceImageId,
        SourceRegion: sourceRegion,
        Name: ctx.imageName,
        Description: str(ctx.props.Description),
        Encrypted: encrypted,
        KmsKeyId: kmsKeyId,
        CopyImageTags: bool(ctx.props.CopyImageTags, false),
        SnapshotCopyCompletionDurationMinutes: str(ctx.props.CompletionDurationMinutes) ? num(ctx.props.CompletionDurationMinutes, 0) : undefined,
        ClientToken: clientToken,
        TagSpecifications: tagSpecs,
      })))).ImageId!);
  } catch (err) {
    // No copy, so nothing to delete later: the share it needed goes now.
    if (account && shared) await withdrawShare(ec2(sourceRegion), sourceImageId, account, shared, sourceRegion).catch(() => undefined);
    throw explainCopyError(err, sourceImageId, sourceRegion, ctx);
  }
}

async function readSource(imageId: string, sourceRegion: string, destination: string): Promise<Image> {
  let image: Image | undefined;
  try {
    image = await describeImage(ec2(sourceRegion), imageId);
  } catch (err) {
    throw toAmiError(err, `Reading source image ${imageId} in ${sourceRegion}`);
  }
  if (!image || image.State === 'deregistered') {
    throw new AmiError(`Source image ${imageId} does not exist in ${sourceRegion}, or this account cannot see it; it cannot be copied to ${destination}.`);
  }
  if (image.State !== 'available') {
    throw new AmiError(`Source image ${imageId} in ${sourceRegion} is ${image.State}; only available images can be copied.`);
  }
  return image;
}

/** Only the owner of an image can share it: a source shared with the stack's account cannot be passed on. */
function assertShareable(source: Image, account: string, sourceRegion: string, stackId: string): void {
  const ownAccount = stackId.split(':')[4];
  if (source.OwnerId && source.OwnerId !== ownAccount) {
    throw new AmiError(
      `Source image ${source.ImageId} in ${sourceRegion} belongs to account ${source.OwnerId}, so this stack's account ${ownAccount} cannot share it with account ${account} for the copy. Copy it into this account first (a CopiedAmi without account), and copy that copy.`,
    );
  }
}

function isEncrypted(image: Image): boolean {
  return (image.BlockDeviceMappings ?? []).some((m) => m.Ebs?.Encrypted);
}

function explainCopyError(err: unknown, sourceImageId: string, sourceRegion: string, ctx: OperationContext<Kind>): AmiError {
  const known = knownStartError(err, ctx);
  if (known) return known;
  const message = errorMessage(err);
  switch (errorCode(err)) {
    case 'InvalidAMIID.NotFound':
    case 'InvalidAMIID.Unavailable':
      return new AmiError(`Source image ${sourceImageId} does not exist in ${sourceRegion}, or is not visible from ${ctx.region}: ${message}`);
    case 'InvalidParameter':
    case 'InvalidParameterValue':
    case 'InvalidParameterCombination':
      return new AmiError(`EC2 rejected the copy of ${sourceImageId} from ${sourceRegion} to ${ctx.region}: ${message}`);
    default:
      if (/kms|key/i.test(message)) {
        return new AmiError(`The copy of ${sourceImageId} to ${ctx.region} failed on its KMS key: ${sentence(message)} Check that the key is enabled, in ${ctx.region}, and usable by the provider's role.`);
      }
      return toAmiError(err, `CopyImage of ${sourceImageId} from ${sourceRegion} to ${ctx.region}`);
  }
}
