import { CfnOutput, Duration, ITaggable, RemovalPolicy, Resource, Stack, TagManager, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct, IConstruct } from 'constructs';
import type { CopiedAmi, CopyOptions } from './copied-ami';
import { DeregistrationProtection, LaunchPermission } from './governance';
import { AmiValidationError } from './private/errors';
import { machineImageConfig } from './private/machine-image';
import type { ManagedImage } from './private/managed-image';
import { validateRegion } from './private/validation';
import type { StoredAmi, StoreOptions } from './stored-ami';

/**
 * An Amazon Machine Image: one this library creates, or an existing one.
 *
 * Every image is an `ec2.IMachineImage`, so it can be passed straight to
 * `ec2.Instance`, launch templates and Auto Scaling groups.
 */
export interface IImage extends ec2.IMachineImage, IConstruct {
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
}

/**
 * What is known of an existing image.
 */
export interface ImageAttributes {
  /**
   * The AMI ID, e.g. `ami-0123456789abcdef0`.
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
 * Properties shared by every image construct of this library.
 */
export interface ImageProps {
  /**
   * A description of the image. Changing it updates the image in place.
   *
   * @default - no description
   */
  readonly description?: string;

  /**
   * What happens to the image when it is removed from the stack or replaced.
   *
   * `RETAIN` keeps the image and its snapshots; `DESTROY` deregisters the image
   * and deletes its snapshots. Either way, an image that never became
   * available, or that a failed deployment created, is always deleted when
   * CloudFormation rolls back: nothing is left behind.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * How long to wait for the image to become `available` before the
   * deployment fails (and rolls back, deleting the image).
   *
   * Waits longer than CloudFormation's one-hour custom resource limit are
   * split into a chain of waiter resources of at most 50 minutes each.
   * Between 1 minute and 48 hours.
   *
   * @default Duration.hours(1)
   */
  readonly timeout?: Duration;

  /**
   * Whether to add a CloudFormation output with the image ID.
   *
   * @default true
   */
  readonly output?: boolean;

  /**
   * Export name for the image ID output, for `Fn::ImportValue` in other stacks.
   *
   * @default - not exported
   */
  readonly exportName?: string;

  /**
   * Publish the image ID to an SSM parameter of this name, with data type
   * `aws:ec2:image` (so EC2 can resolve it at launch time).
   *
   * @default - no parameter
   */
  readonly parameterName?: string;

  /**
   * The operating system of the image, used by `getImage()`.
   *
   * @default ec2.OperatingSystemType.LINUX
   */
  readonly osType?: ec2.OperatingSystemType;

  /**
   * User data for instances launched from this image through `getImage()`.
   *
   * @default - empty user data for the operating system
   */
  readonly userData?: ec2.UserData;

  /**
   * Accounts, organizations and organizational units that may launch
   * instances from the image. More can be added with `grantLaunch()`.
   * Changes are applied in place (the image keeps its ID).
   *
   * @default - only this account
   */
  readonly launchPermissions?: LaunchPermission[];

  /**
   * Make the image public: every AWS account may launch it. Fails at deploy
   * time with a clear message while the account's image block public access
   * is on. Applied in place.
   *
   * @default false
   */
  readonly dangerouslyMakePublic?: boolean;

  /**
   * Also share the image's snapshots (createVolumePermission) with the
   * accounts in the launch permissions, so that they can copy the image.
   * Organizations and organizational units cannot be given snapshot
   * permissions by EC2: granting one adds a synth warning, and
   * `shareSnapshots` with no account grantee fails synth. Public images
   * never share their snapshots.
   *
   * @default false
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifySnapshotAttribute.html
   */
  readonly shareSnapshots?: boolean;

  /**
   * When the image becomes deprecated (it stays usable, but is hidden from
   * searches). Rounded to the nearest minute; at most 10 years ahead. A time
   * that has passed does not break synth: it adds a warning, and the image is
   * deprecated as soon as it is available. Applied in place; removing it
   * undeprecates. At most one of `deprecateAt` and `deprecateAfter`.
   *
   * @default - never deprecated
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableImageDeprecation.html
   */
  readonly deprecateAt?: Date;

  /**
   * Deprecate the image this long after it was created (its `CreationDate`),
   * as Packer's and Terraform's relative deprecation do: the time is computed
   * when the image is available, so every new image of a replacement gets a
   * fresh deadline. Between 1 minute and 10 years. Applied in place.
   *
   * @default - never deprecated
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableImageDeprecation.html
   */
  readonly deprecateAfter?: Duration;

  /**
   * Deregistration protection. An image with protection on cannot be deleted
   * by `RemovalPolicy.DESTROY`: the delete fails with a message saying so.
   * Applied in place.
   *
   * @default DeregistrationProtection.DISABLED
   */
  readonly deregistrationProtection?: DeregistrationProtection;

  /**
   * Tags for the image and its snapshots, in addition to those applied with
   * `Tags.of(...)`. Changing them updates the image in place.
   *
   * @default - no tags
   */
  readonly tags?: { [key: string]: string };

  /**
   * Tags for the image's snapshots only (as Packer's `snapshot_tags`), on top
   * of `tags` (a key in both takes this value on the snapshots). Given to the
   * snapshots when they are created, and changed in place. Not available for
   * `AmiFromSnapshot`, whose snapshots are yours.
   *
   * @default - the snapshots get the image's tags only
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_TagSpecification.html
   */
  readonly snapshotTags?: { [key: string]: string };

  /**
   * Instances launched from the image require IMDSv2 (EC2 `ImdsSupport`
   * `v2.0`): their metadata options default to `HttpTokens: required`.
   * `AmiFromSnapshot` registers the image with it; every other kind sets it
   * with ModifyImageAttribute once the image is available, before its ID is
   * handed out. EC2 cannot undo it, so changing it (either way) replaces the
   * image.
   *
   * @default false
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyImageAttribute.html
   */
  readonly requireImdsv2?: boolean;

  /**
   * When to disable the image (EC2 DisableImage): a disabled image cannot
   * launch instances, loses all its launch permissions (it cannot be shared
   * or public while disabled) and is hidden from DescribeImages by default;
   * instances already running are not affected. EC2 cannot schedule this, so
   * the image is disabled by the first deployment synthesized at or after this
   * time (a time that has passed disables it as soon as it is available).
   * Applied in place; removing it, or moving it into the future, enables the
   * image again (EC2 EnableImage) and shares it again as the launch
   * permissions say.
   *
   * @default - never disabled
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DisableImage.html
   */
  readonly disableAt?: Date;
}

/**
 * References to images that already exist.
 */
export class Ami {
  /**
   * An existing image, by ID, in the stack's Region or the given one.
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

class ExistingImage extends Resource implements IImage {
  public readonly imageId: string;
  public readonly imageName?: string;
  public readonly region: string;
  private readonly osType: ec2.OperatingSystemType;
  private readonly userData?: ec2.UserData;

  constructor(scope: Construct, id: string, attrs: ImageAttributes) {
    super(scope, id, { region: attrs.region });
    validateImageId(this, attrs.imageId);
    validateRegion(this, attrs.region);
    this.imageId = attrs.imageId;
    this.imageName = attrs.imageName;
    this.region = attrs.region ?? Stack.of(this).region;
    this.osType = attrs.osType ?? ec2.OperatingSystemType.LINUX;
    this.userData = attrs.userData;
  }

  public getImage(_scope: Construct): ec2.MachineImageConfig {
    return machineImageConfig(this.imageId, this.osType, this.userData);
  }
}

/**
 * Base class of the images this library creates: an operation resource that
 * starts the EC2 action, a chain of waiter resources that wait until the
 * image is available, tags, outputs and the removal policy.
 */
export abstract class ImageBase extends Resource implements IImage, ITaggable {
  /**
   * The AMI ID. Resolves once the image is `available`.
   *
   * @attribute
   */
  public abstract readonly imageId: string;

  /**
   * The AMI name.
   *
   * @attribute
   */
  public abstract readonly imageName?: string;

  /**
   * The Region the image lives in.
   */
  public abstract readonly region: string;

  /**
   * Tags of the image and its snapshots.
   */
  public abstract readonly tags: TagManager;

  /**
   * The ID of the image in the CloudFormation output, or undefined when `output` is false.
   */
  public abstract readonly output?: CfnOutput;

  /**
   * Where the image's SSM parameter is published, if `parameterName` was given.
   */
  public abstract readonly parameter?: ssm.IStringParameter;

  /**
   * The shared machinery that made this image (set by each construct).
   *
   * @internal
   */
  protected _managed?: ManagedImage;

  /**
   * The customer managed key of the image's snapshots, where this library knows it.
   *
   * @internal
   */
  public _encryptionKey?: kms.IKey;

  /**
   * The `ec2.IMachineImage` view of this image: its ID (which resolves once
   * the image is available), OS type and user data.
   */
  public getImage(_scope: Construct): ec2.MachineImageConfig {
    return this._managed!.getImage(this.imageId);
  }

  /**
   * Stores this image as one object in an S3 bucket (EC2 CreateStoreImageTask).
   * The `StoredAmi` has construct ID `StoreTo<id>` in this image's scope.
   *
   * @param id construct ID suffix, e.g. the bucket's purpose
   * @param bucket the bucket, in this image's Region
   * @param options how to store
   */
  public storeTo(id: string, bucket: s3.IBucket, options: StoreOptions = {}): StoredAmi {
    // Loaded here: stored-ami.ts imports this module.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { StoredAmi: Store } = require('./stored-ami') as typeof import('./stored-ami');
    return new Store(this, `StoreTo${id}`, { ...options, image: this, bucket });
  }

  /**
   * Lets more accounts, organizations or organizational units launch
   * instances from this image (applied in place, after the image is available).
   */
  public grantLaunch(...permissions: LaunchPermission[]): void {
    this._managed!.grantLaunch(this, permissions);
  }

  /**
   * Sets the removal policy: `RETAIN` keeps the image, `DESTROY` deregisters it
   * and deletes its snapshots. Other policies are rejected.
   */
  public applyRemovalPolicy(policy: RemovalPolicy): void {
    this._managed!.applyRemovalPolicy(this, policy);
  }

  /**
   * Copies this image into another Region (EC2 CopyImage, called there).
   *
   * The copy is a `CopiedAmi` in this image's scope, with construct ID
   * `CopyTo<region>` (`CopyTo<region><account>` for a copy owned by another
   * account); it waits until the copy is available.
   *
   * @param region the destination Region, e.g. `eu-west-1`
   * @param options how to copy
   */
  public copyTo(region: string, options: CopyOptions = {}): CopiedAmi {
    // Loaded here: copied-ami.ts extends this class, so it cannot be imported above.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { CopiedAmi: Copy } = require('./copied-ami') as typeof import('./copied-ami');
    // One copy per Region and account: a copy owned by another account is named after it too.
    const account = options.account !== undefined && !Token.isUnresolved(options.account) ? options.account : '';
    const id = `CopyTo${Token.isUnresolved(region) ? 'Region' : region}${account}`;
    if (this.node.tryFindChild(id)) {
      throw new AmiValidationError(
        `copyTo("${Token.isUnresolved(region) ? '<token>' : region}") is called twice on ${this.node.path}${account ? ` for account ${account}` : ''}: it makes one copy per Region and account. For a second copy there, use new CopiedAmi(scope, id, { source, region }) with an ID of your own.`, this);
    }
    return new Copy(this, id, { ...options, source: this, region });
  }
}

function validateImageId(scope: IConstruct, imageId: string): void {
  if (Token.isUnresolved(imageId)) return;
  if (!/^ami-[0-9a-f]{8}([0-9a-f]{9})?$/.test(imageId)) {
    throw new AmiValidationError(`imageId "${imageId}" is not an AMI ID: AMI IDs look like ami-0123456789abcdef0.`, scope);
  }
}

