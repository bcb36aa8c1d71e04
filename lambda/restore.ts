import { CreateRestoreImageTaskCommand } from '@aws-sdk/client-ec2';
import { startNamedImage } from './shared/adopt';
import { declareCalls } from './shared/calls';
import { AmiError, errorCode, errorMessage, sentence, toAmiError } from './shared/errors';
import { tagSpecifications } from './shared/images';
import { ImageOperation, OperationContext } from './shared/operation';
import { required, tags } from './shared/props';
import { ResourceTypes } from '../src/private/contract';

type Kind = typeof ResourceTypes.RESTORED_AMI;

/** Custom::RestoredAmi's own calls. */
export const CALLS = declareCalls(
  'ec2:CreateRestoreImageTask',
);

/**
 * Custom::RestoredAmi — EC2 CreateRestoreImageTask from an object that
 * CreateStoreImageTask wrote to S3. The new image ID comes back at once.
 */
export const restore: ImageOperation<Kind> = {
  action: 'CreateRestoreImageTask',
  create: createRestore,
};

async function createRestore(ctx: OperationContext<Kind>): Promise<string> {
  const bucket = required(ctx.props, 'Bucket');
  const objectKey = required(ctx.props, 'ObjectKey');
  // The name is always given: EC2 would otherwise reuse the stored image's
  // name, which collides while the original image still exists.
  return startNamedImage(ctx, 'CreateRestoreImageTask', async () => (await ctx.ec2.send(new CreateRestoreImageTaskCommand({
    Bucket: bucket,
    ObjectKey: objectKey,
    Name: ctx.imageName,
    TagSpecifications: tagSpecifications(tags(ctx.props.Tags), ctx.ownership, undefined, tags(ctx.props.SnapshotTags)),
  }))).ImageId!,
  (err) => explainRestoreError(err, bucket, objectKey, ctx));
}

function explainRestoreError(err: unknown, bucket: string, objectKey: string, ctx: OperationContext<Kind>): AmiError {
  const message = errorMessage(err);
  switch (errorCode(err)) {
    case 'NoSuchKey':
    case 'NoSuchBucket':
    case 'InvalidParameterValue':
    case 'InvalidParameter':
      return new AmiError(
        `Cannot restore an image from s3://${bucket}/${objectKey} in ${ctx.region}: ${sentence(message)} The object must be one that CreateStoreImageTask wrote, in a bucket of this Region that the provider can read.`,
      );
    default:
      return toAmiError(err, `CreateRestoreImageTask from s3://${bucket}/${objectKey} in ${ctx.region}`);
  }
}
