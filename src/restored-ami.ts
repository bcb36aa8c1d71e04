import { Aws, Token } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CopyableImageBase } from './copied-ami';
import { ImageProps } from './image-options';
import { snapshotArns } from './private/arns';
import { ResourceTypes } from './private/contract';
import { ManagedImage } from './private/managed-image';
import { AmiProvider } from './private/provider';

/**
 * Properties of a `RestoredAmi`.
 */
export interface RestoredAmiProps extends ImageProps {
  /**
   * The bucket that holds the stored image, in the stack's Region.
   * Changing it replaces the image.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateRestoreImageTask.html
   */
  readonly bucket: s3.IBucket;

  /**
   * The key of the object CreateStoreImageTask wrote, e.g. `ami-0123456789abcdef0.bin`.
   * Changing it replaces the image.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateRestoreImageTask.html
   */
  readonly objectKey: string;

  /**
   * The account's default EBS encryption key in this Region, when EBS
   * encryption by default uses a customer managed key. A restore cannot
   * choose a key: EC2 encrypts the restored snapshots with this one. The
   * provider's role is granted what the restore needs on it, and grantees of
   * the launch permissions may use it (as `encryptionKey` of other images).
   *
   * @default - EBS encryption by default is off, or uses the AWS managed key
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_GetEbsDefaultKmsKeyId.html
   */
  readonly defaultEbsEncryptionKey?: kms.IKey;
}

/**
 * An AMI restored from an object in S3 that EC2 CreateStoreImageTask wrote
 * (EC2 CreateRestoreImageTask), available when the deployment finishes.
 *
 * @example
 * declare const bucket: s3.IBucket;
 * new RestoredAmi(this, 'Restored', {
 *   bucket,
 *   objectKey: 'ami-0123456789abcdef0.bin',
 * });
 */
export class RestoredAmi extends CopyableImageBase {

  constructor(scope: Construct, id: string, props: RestoredAmiProps) {
    super(scope, id);
    const managed = new ManagedImage(this, props, {
      resourceType: ResourceTypes.RESTORED_AMI,
      encryptionKey: props.defaultEbsEncryptionKey,
      imageName: props.imageName,
      properties: { Bucket: props.bucket.bucketName, ObjectKey: props.objectKey },
    });
    this._attach(managed);

    grantRestore(this, props);
  }
}

/**
 * What the provider's onEvent role needs to restore: read exactly the stored
 * object, create the image tagged as the stack's, and what the restore task
 * does with the caller's credentials (EBS direct writes, the default EBS key).
 */
function grantRestore(image: RestoredAmi, props: RestoredAmiProps): void {
  const provider = AmiProvider.of(image);
  // Read exactly the stored object (bucket.grantRead would add wildcard actions). A key
  // that a StoredAmi of this stack produces is only known at deploy time, and naming it
  // would make the provider's policy wait for that store: the objects EC2 names <ami-id>.bin.
  const objectKey = Token.isUnresolved(props.objectKey) ? 'ami-*.bin' : props.objectKey;
  provider.addResourceToOperationStatement('read-stored-objects', {
    sid: 'ReadStoredImageObject',
    actions: ['s3:GetObject'],
  }, props.bucket.arnForObjects(objectKey));
  provider.addResourceToOperationStatement('restore-buckets', {
    sid: 'ListRestoreBuckets',
    actions: ['s3:ListBucket'],
  }, props.bucket.bucketArn);
  props.bucket.encryptionKey?.grantDecrypt(provider.operationRole);
  provider.grantCreateTagged('CreateRestoreImageTask');
  // The restore task writes new snapshots through the EBS direct APIs as the caller (AWS
  // documents these permissions for CreateRestoreImageTask), in this Region: StartSnapshot
  // only of snapshots without a parent (a parent would read an existing snapshot), and
  // PutSnapshotBlock/CompleteSnapshot, which only write to snapshots still being started. Not bound by
  // the cdk-ami:stack tag (both evaluate aws:ResourceTag): EC2 documents only that the restore tags its
  // snapshots "on restoration", not that they carry the tag while it writes them (README, Permissions).
  provider.grantOperation('restore-ebs-start', {
    sid: 'StartRestoredSnapshots',
    actions: ['ebs:StartSnapshot'],
    resources: [snapshotArns(Aws.REGION)],
    conditions: { Null: { 'ebs:ParentSnapshot': 'true' } },
  });
  provider.grantOperation('restore-ebs-write', {
    sid: 'WriteRestoredSnapshots',
    actions: ['ebs:PutSnapshotBlock', 'ebs:CompleteSnapshot'],
    resources: [snapshotArns(Aws.REGION)],
  });
  provider.grantOperation('ebs-encryption-default', {
    sid: 'ReadEbsEncryptionDefault',
    actions: ['ec2:GetEbsEncryptionByDefault', 'ec2:GetEbsDefaultKmsKeyId'],
    resources: ['*'],
  });
  if (props.defaultEbsEncryptionKey) provider.grantEbsKey(props.defaultEbsEncryptionKey, [image.region], 'write', 'operation', ['ec2', 'ebs']);
}
