import { CfnOutput, IResource, ITaggable, RemovalPolicy, Resource, ResourceProps, Stack, TagManager } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct, IConstruct } from 'constructs';
import { LaunchPermission } from './governance';
import { AmiValidationError } from './private/errors';
import { ImageState, isMarkedImage, markAsImage } from './private/image-state';

/**
 * An Amazon Machine Image: one this library creates, or an existing one.
 *
 * Every image is an `ec2.IMachineImage`, so it can be passed straight to
 * `ec2.Instance`, launch templates and Auto Scaling groups, and to
 * `CopiedAmi` and `StoredAmi` as the image to copy or store. The images of
 * this library also have `copyTo` and `storeTo` (see `CopyableImageBase`).
 */
export interface IImage extends ec2.IMachineImage, IResource {
  /**
   * The AMI ID, e.g. `ami-0123456789abcdef0`.
   *
   * For images this library creates, the token resolves only once the image is
   * `available`, so anything that uses it waits for the image.
   */
  readonly imageId: string;

  /**
   * The AMI name, where known.
   */
  readonly imageName?: string;

  /**
   * The ARN of the image, `arn:<partition>:ec2:<region>::image/<imageId>`
   * (image ARNs name no account), e.g. for the `Resource` of IAM statements.
   * Resolves when `imageId` does.
   *
   * @see https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html#amazonec2-resources-for-iam-policies
   */
  readonly imageArn: string;

  /**
   * The Region the image lives in.
   */
  readonly region: string;
}

/**
 * An image stored as one object in S3: what a `RestoredAmi` restores from.
 */
export interface IStoredImage extends IConstruct {
  /**
   * The image that was stored.
   */
  readonly image: IImage;

  /**
   * The bucket holding the object.
   */
  readonly bucket: s3.IBucket;

  /**
   * The key of the object (`<imageId>.bin`). Resolves once the store task completed.
   */
  readonly objectKey: string;
}

/**
 * What is known of an existing image.
 */
export interface ImageAttributes {
  /**
   * The AMI ID, e.g. `ami-0123456789abcdef0`.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Image.html
   */
  readonly imageId: string;

  /**
   * The Region the image lives in.
   *
   * @default - the stack's Region
   */
  readonly region?: string;

  /**
   * The AMI name.
   *
   * @default - unknown
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Image.html
   */
  readonly imageName?: string;

  /**
   * The operating system of the image, used by `getImage()`.
   *
   * @default ec2.OperatingSystemType.LINUX
   */
  readonly osType?: ec2.OperatingSystemType;

  /**
   * User data for instances launched from the image through `getImage()`.
   *
   * @default - empty user data for the operating system
   */
  readonly userData?: ec2.UserData;
}

/**
 * Base class of every image of this library: the images it creates (an
 * operation resource that starts the EC2 action, a chain of waiter resources
 * that wait until the image is available, tags, outputs and the removal
 * policy) and the existing images referenced with `Ami.fromImageId`. Each of
 * them is a `CopyableImageBase`, which adds `copyTo` and `storeTo`.
 */
export abstract class ImageBase extends Resource implements IImage, ITaggable {
  /**
   * Whether `x` is an image of this library. Works across copies of the
   * library in one app, where `instanceof` would not.
   */
  public static isImage(x: any): x is ImageBase {
    return isMarkedImage(x);
  }

  private _state?: ImageState;

  protected constructor(scope: Construct, id: string, props: ResourceProps = {}) {
    super(scope, id, props);
    markAsImage(this);
  }

  /**
   * The AMI ID. For images this library creates, it resolves once the image is `available`.
   *
   * @attribute
   */
  public get imageId(): string {
    return this.state.imageId;
  }

  /**
   * The AMI name, where known.
   *
   * @attribute
   */
  public get imageName(): string | undefined {
    return this.state.imageName;
  }

  /**
   * The ARN of the image, `arn:<partition>:ec2:<region>::image/<imageId>`.
   * Resolves when `imageId` does.
   *
   * @attribute
   */
  public get imageArn(): string {
    // EC2 image ARNs carry no account: an image is named by its Region and ID alone.
    return Stack.of(this).formatArn({ service: 'ec2', region: this.region, account: '', resource: 'image', resourceName: this.imageId });
  }

  /**
   * The Region the image lives in.
   */
  public get region(): string {
    return this.env.region;
  }

  /**
   * Tags of the image and its snapshots. An existing image's tags are not
   * changed: cdk-ami does not manage it.
   */
  public get tags(): TagManager {
    return this.state.tags;
  }

  /**
   * The ID of the image in the CloudFormation output, or undefined when
   * `output` is false or the image exists already.
   */
  public get output(): CfnOutput | undefined {
    return this.state.output;
  }

  /**
   * Where the image's SSM parameter is published, if `parameterName` was
   * given: a parameter of the image's Region and account. Its `grantRead`
   * reaches principals of that account only (synth warns otherwise).
   */
  public get parameter(): ssm.IStringParameter | undefined {
    return this.state.parameter;
  }

  /**
   * The role of the image's test instance (the `test` prop), as the
   * principal of grants: `bucket.grantRead(image.testGrantPrincipal!)` lets
   * the test read the bucket. Undefined for an image without a test.
   */
  public get testGrantPrincipal(): iam.IPrincipal | undefined {
    return this.state.testGrantPrincipal;
  }

  /**
   * The customer managed key of the image's snapshots, where this library knows it.
   *
   * @internal
   */
  public get _encryptionKey(): kms.IKey | undefined {
    return this.state.encryptionKey;
  }

  /**
   * The `ec2.IMachineImage` view of this image: its ID (which resolves once
   * the image is available), OS type and user data.
   */
  public getImage(_scope: Construct): ec2.MachineImageConfig {
    return this.state.machineImage();
  }

  /**
   * Adds launch permissions to the image (as `launchPermissions` does): these
   * accounts, organizations or organizational units may launch instances from
   * it. It changes the image's `launchPermission` attribute in place once the
   * image is available (no IAM policy: see `LaunchPermission`). Only for
   * images this library creates.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyImageAttribute.html
   */
  public addLaunchPermission(...permissions: LaunchPermission[]): void {
    if (!this.state.addLaunchPermission) {
      throw new AmiValidationError(`addLaunchPermission() cannot be used on ${this.node.path}: it references an existing image, whose launch permissions cdk-ami does not manage. Copy it (copyTo) to get an image of your own to share.`, this);
    }
    this.state.addLaunchPermission(this, permissions);
  }

  /**
   * Sets the removal policy, as the `removalPolicy` prop does: `RETAIN` keeps
   * the image, `DESTROY` deregisters it and deletes its snapshots; either way
   * the rollback of the deployment that created it removes it. The image's
   * resources keep `DeletionPolicy: Delete` (the provider applies the policy),
   * and aws-cdk-lib's `RemovalPolicies` aspect reaches the same setting.
   * `RETAIN_ON_UPDATE_OR_DELETE` is `RETAIN`; other policies are rejected, and
   * so is any policy on an existing image (cdk-ami never deletes it).
   */
  public applyRemovalPolicy(policy: RemovalPolicy): void {
    if (!this.state.applyRemovalPolicy) {
      throw new AmiValidationError(`applyRemovalPolicy() cannot be used on ${this.node.path}: it references an existing image, which cdk-ami never deletes.`, this);
    }
    this.state.applyRemovalPolicy(this, policy);
  }

  /**
   * Gives this construct the state of its image: called once, by the
   * constructor of each kind, when its resources are made.
   *
   * @internal
   */
  protected _attach(state: ImageState): void {
    this._state = state;
  }

  private get state(): ImageState {
    if (!this._state) {
      throw new AmiValidationError(`${this.node.path} is used before its image was made: the image's attributes exist once its constructor has run.`, this);
    }
    return this._state;
  }
}
