import { CfnOutput, IResource, ITaggable, RemovalPolicy, Resource, ResourceProps, TagManager, TagType, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct, IConstruct } from 'constructs';
import { LaunchPermission } from './governance';
import { CopyOptions, StoreOptions } from './image-options';
import { AmiValidationError } from './private/errors';
import { ImageState, isMarkedImage, markAsImage } from './private/image-state';
import { machineImageConfig } from './private/machine-image';
import { validateEc2Id, validateRegion } from './private/validation';

/**
 * An Amazon Machine Image: one this library creates, or an existing one.
 *
 * Every image is an `ec2.IMachineImage`, so it can be passed straight to
 * `ec2.Instance`, launch templates and Auto Scaling groups, and every image
 * can be copied into any Region, its own included (`copyTo`), and stored in S3 (`storeTo`).
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
   * The Region the image lives in.
   */
  readonly region: string;

  /**
   * Copies this image into a Region (EC2 CopyImage, called there): another
   * Region, or the image's own one for a same-Region copy (for example to
   * encrypt it with another key).
   *
   * The copy is a `CopiedAmi` in this image's scope, with construct ID
   * `CopyTo<region>`; it waits until the copy is available.
   *
   * @param region the destination Region, e.g. `eu-west-1`; the image's own Region makes a same-Region copy
   * @param options how to copy
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopyImage.html
   */
  copyTo(region: string, options?: CopyOptions): ImageBase;

  /**
   * Stores this image as one object in an S3 bucket (EC2 CreateStoreImageTask).
   * The `StoredAmi` has construct ID `StoreTo<id>` in this image's scope.
   *
   * @param id construct ID suffix, e.g. the bucket's purpose
   * @param bucket the bucket, in this image's Region
   * @param options how to store
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateStoreImageTask.html
   */
  storeTo(id: string, bucket: s3.IBucket, options?: StoreOptions): IStoredImage;
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
 * References to images that already exist.
 */
export class Ami {
  /**
   * An existing image, by ID, in the stack's Region or the given one. It can
   * be launched, copied (`copyTo`) and stored (`storeTo`) like an image this
   * library creates; cdk-ami never changes or deletes it.
   *
   * @param scope construct scope
   * @param id construct ID
   * @param imageId the AMI ID, e.g. `ami-0123456789abcdef0`
   * @param region the image's Region (default: the stack's Region)
   */
  public static fromImageId(scope: Construct, id: string, imageId: string, region?: string): IImage {
    return Ami.fromImageAttributes(scope, id, { imageId, region });
  }

  /**
   * An existing image, with what is known of it.
   */
  public static fromImageAttributes(scope: Construct, id: string, attrs: ImageAttributes): IImage {
    return new ExistingImage(scope, id, attrs);
  }

  private constructor() {}
}

/**
 * Base class of every image of this library: the images it creates (an
 * operation resource that starts the EC2 action, a chain of waiter resources
 * that wait until the image is available, tags, outputs and the removal
 * policy) and the existing images referenced with `Ami.fromImageId`.
 */
export abstract class ImageBase extends Resource implements IImage, ITaggable {
  /**
   * How `copyTo` and `storeTo` make their constructs. copied-ami.ts and
   * stored-ami.ts set them when they load: they import this module, so this
   * module cannot import them.
   *
   * @internal
   */
  public static readonly _factories: {
    copy?: (source: ImageBase, id: string, region: string, options: CopyOptions) => ImageBase;
    store?: (image: ImageBase, id: string, bucket: s3.IBucket, options: StoreOptions) => IStoredImage;
  } = {};

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
   * Stores this image as one object in an S3 bucket (EC2 CreateStoreImageTask).
   * The `StoredAmi` has construct ID `StoreTo<id>` in this image's scope.
   *
   * @param id construct ID suffix, e.g. the bucket's purpose
   * @param bucket the bucket, in this image's Region
   * @param options how to store
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateStoreImageTask.html
   */
  public storeTo(id: string, bucket: s3.IBucket, options: StoreOptions = {}): IStoredImage {
    return factory(ImageBase._factories.store, 'StoredAmi')(this, `StoreTo${id}`, bucket, options);
  }

  /**
   * Lets more accounts, organizations or organizational units launch
   * instances from this image (applied in place, after the image is
   * available). Only for images this library creates.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyImageAttribute.html
   */
  public grantLaunch(...permissions: LaunchPermission[]): void {
    if (!this.state.grantLaunch) {
      throw new AmiValidationError(`grantLaunch() cannot be used on ${this.node.path}: it references an existing image, whose launch permissions cdk-ami does not manage. Copy it (copyTo) to get an image of your own to share.`, this);
    }
    this.state.grantLaunch(this, permissions);
  }

  /**
   * Sets the removal policy: `RETAIN` keeps the image, `DESTROY` deregisters it
   * and deletes its snapshots. Other policies are rejected, and so is any
   * policy on an existing image (cdk-ami never deletes it).
   */
  public applyRemovalPolicy(policy: RemovalPolicy): void {
    if (!this.state.applyRemovalPolicy) {
      throw new AmiValidationError(`applyRemovalPolicy() cannot be used on ${this.node.path}: it references an existing image, which cdk-ami never deletes.`, this);
    }
    this.state.applyRemovalPolicy(this, policy);
  }

  /**
   * Copies this image into a Region (EC2 CopyImage, called there): another
   * Region, or the image's own one for a same-Region copy (for example to
   * encrypt it with another key).
   *
   * The copy is a `CopiedAmi` in this image's scope, with construct ID
   * `CopyTo<region>` (`CopyTo<region><account>` for a copy owned by another
   * account); it waits until the copy is available.
   *
   * @param region the destination Region, e.g. `eu-west-1`; the image's own Region makes a same-Region copy
   * @param options how to copy
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopyImage.html
   */
  public copyTo(region: string, options: CopyOptions = {}): ImageBase {
    // One copy per Region and account: a copy owned by another account is named after it too.
    const account = options.account !== undefined && !Token.isUnresolved(options.account) ? options.account : '';
    const id = `CopyTo${Token.isUnresolved(region) ? 'Region' : region}${account}`;
    if (this.node.tryFindChild(id)) {
      throw new AmiValidationError(
        `copyTo("${Token.isUnresolved(region) ? '<token>' : region}") is called twice on ${this.node.path}${account ? ` for account ${account}` : ''}: it makes one copy per Region and account. For a second copy there, use new CopiedAmi(scope, id, { source, region }) with an ID of your own.`, this);
    }
    return factory(ImageBase._factories.copy, 'CopiedAmi')(this, id, region, options);
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

/** An image that exists already, referenced by ID: read, launched, copied and stored, never changed. */
class ExistingImage extends ImageBase {
  constructor(scope: Construct, id: string, attrs: ImageAttributes) {
    super(scope, id, { region: attrs.region });
    validateEc2Id(this, 'imageId', attrs.imageId, 'image');
    validateRegion(this, attrs.region);
    const osType = attrs.osType ?? ec2.OperatingSystemType.LINUX;
    this._attach({
      imageId: attrs.imageId,
      imageName: attrs.imageName,
      region: this.env.region,
      // Accepts Tags.of() like any image, and renders nowhere: cdk-ami does not tag an image it does not own.
      tags: new TagManager(TagType.KEY_VALUE, 'cdk-ami:ExistingImage'),
      machineImage: () => machineImageConfig(attrs.imageId, osType, attrs.userData),
    });
  }
}

function factory<T>(make: T | undefined, construct: string): T {
  if (!make) throw new Error(`cdk-ami's ${construct} module is not loaded: import the library from its package entry point.`);
  return make;
}
