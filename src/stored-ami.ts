import { Aws, CfnResource, Duration, Lazy, RemovalPolicy, Resource } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { IImage, IStoredImage } from './image';
import { StoreOptions } from './image-options';
import { snapshotArns } from './private/arns';
import { ResourceTypes, STORE_TARGET, Tags } from './private/contract';
import { AmiValidationError } from './private/errors';
import { encryptionKeyOf } from './private/image-state';
import { AmiProvider } from './private/provider';
import { ProviderResource } from './private/provider-resource';
import { removalProperty, validateImageOfStackAccount, validateRemovalPolicy, validateTimeout } from './private/validation';
import { WaiterChain } from './private/waiter-chain';

/**
 * Properties of a `StoredAmi`.
 */
export interface StoredAmiProps extends StoreOptions {
  /**
   * The image to store. Changing it stores again.
   * Changing it replaces the stored object (the image is stored again).
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateStoreImageTask.html
   */
  readonly image: IImage;

  /**
   * The bucket to store the image in, in the image's Region. Changing it stores again.
   * Changing it replaces the stored object (the image is stored again).
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateStoreImageTask.html
   */
  readonly bucket: s3.IBucket;
}

/**
 * An AMI stored as one object in S3 (EC2 CreateStoreImageTask), complete when
 * the deployment finishes. `bucket` and `objectKey` tell a `RestoredAmi` (in
 * this stack, another stack, or another account with a copy of the object)
 * where to restore it from.
 *
 * @example
 * declare const golden: AmiFromInstance;
 * declare const bucket: s3.IBucket;
 * const stored = new StoredAmi(this, 'Stored', { image: golden, bucket });
 * new RestoredAmi(this, 'Restored', { bucket: stored.bucket, objectKey: stored.objectKey });
 */
export class StoredAmi extends Resource implements IStoredImage {
  /**
   * The image that was stored.
   */
  public readonly image: IImage;

  /**
   * The bucket holding the object.
   */
  public readonly bucket: s3.IBucket;

  /**
   * The key of the object (`<imageId>.bin`). Resolves once the store task completed.
   *
   * @attribute
   */
  public readonly objectKey: string;

  private removalPolicy: RemovalPolicy;

  constructor(scope: Construct, id: string, props: StoredAmiProps) {
    super(scope, id);
    const timeout = props.timeout ?? Duration.hours(1);
    validateTimeout(this, timeout);
    this.removalPolicy = validateRemovalPolicy(this, props.removalPolicy ?? RemovalPolicy.RETAIN, OBJECT_REMOVAL);
    for (const key of Object.keys(props.objectTags ?? {})) {
      if (key.toLowerCase().startsWith('aws:')) throw new AmiValidationError(`Object tag key "${key}" is reserved for AWS.`, this);
    }
    validateImageOfStackAccount(this, 'image', props.image, 'store', 'store the original image instead');
    this.image = props.image;
    this.bucket = props.bucket;

    const provider = AmiProvider.of(this);
    const operation = new ProviderResource(this, 'Resource', provider.operationServiceToken, ResourceTypes.STORED_AMI, {
      Region: props.image.region,
      ImageId: props.image.imageId,
      Bucket: props.bucket.bucketName,
      ObjectTags: Object.entries(props.objectTags ?? {}).map(([Key, Value]) => ({ Key, Value })),
      RemovalPolicy: Lazy.string({ produce: () => removalProperty(this.removalPolicy) }),
    });
    // `applyRemovalPolicy` on this construct, and aspects, reach the resource: the handler applies the policy.
    operation.onRemovalPolicy((policy) => {
      this.removalPolicy = validateRemovalPolicy(this, policy, OBJECT_REMOVAL);
    });
    const waiters = new WaiterChain(this, 'Wait', {
      serviceToken: provider.waiterServiceToken,
      region: props.image.region,
      imageId: operation.attribute('ImageId'),
      timeout,
      allLinkProperties: { Target: STORE_TARGET, Bucket: props.bucket.bucketName },
    });
    this.objectKey = waiters.links[waiters.links.length - 1].attribute('ObjectKey');
    this.grantProvider(props, operation);
  }

  private grantProvider(props: StoredAmiProps, operation: CfnResource): void {
    const provider = AmiProvider.of(this);
    provider.grantSourceImage(this, 'CreateStoreImageTask', props.image, operation);
    // The store task reads the image's snapshots through the EBS direct APIs as the caller
    // (AWS documents these permissions for CreateStoreImageTask): only this stack's snapshots.
    provider.grantOperation('store-ebs-direct', {
      sid: 'ReadOwnSnapshotsForStore',
      actions: ['ebs:ListSnapshotBlocks', 'ebs:GetSnapshotBlock', 'ebs:ListChangedBlocks'],
      resources: [snapshotArns()],
      conditions: { StringEquals: { [`aws:ResourceTag/${Tags.STACK}`]: Aws.STACK_ID } },
    });
    // It reads the image's tags to store them with the image (wildcard-only action).
    provider.grantOperation('store-describe-tags', { sid: 'ReadImageTagsForStore', actions: ['ec2:DescribeTags'], resources: ['*'] });
    const objects = props.bucket.arnForObjects('ami-*.bin');
    provider.addResourceToOperationStatement('store-objects', {
      sid: 'WriteStoredImageObjects',
      actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:PutObjectTagging'],
    }, objects);
    provider.addResourceToOperationStatement('store-buckets', {
      sid: 'ListStoreBuckets',
      actions: ['s3:ListBucket'],
    }, props.bucket.bucketArn);
    const sourceKey = props.sourceEncryptionKey ?? encryptionKeyOf(props.image);
    if (sourceKey) provider.grantEbsKey(sourceKey, [props.image.region], 'read', 'operation', ['ec2', 'ebs']);
    // Under DESTROY, and under RETAIN too when the deployment that stored the object rolls back.
    provider.addResourceToOperationStatement('delete-stored-objects', {
      sid: 'DeleteStoredImageObjects',
      actions: ['s3:DeleteObject'],
    }, objects);
    props.bucket.encryptionKey?.grantEncryptDecrypt(provider.operationRole);
    provider.grantWaiter('store-follow', {
      sid: 'FollowStoreTasks',
      actions: ['ec2:DescribeStoreImageTasks'],
      resources: ['*'],
    });
  }
}

/** What the removal policies do to a stored image. */
const OBJECT_REMOVAL = { noun: 'stored images', retain: 'keep the object', destroy: 'delete it' };
