import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { DeregistrationProtection } from './enums';
import { FastLaunchOptions } from './fast-launch';
import { LaunchPermission } from './governance';
import { ImageRetention } from './image-retention';
import { ImageTest } from './image-test';

/**
 * Properties shared by every image construct of this library.
 */
export interface ImageProps {
  /**
   * The AMI name: 3 to 128 characters of letters, digits, spaces and
   * `( ) [ ] . / - ' @ _`, unique in the image's account and Region (checked at
   * synth among the images of the app). Changing it replaces the image (a
   * `BakedAmi` bakes a new one). CloudFormation creates the new image before
   * it deletes the old one, so a replacement that keeps a fixed name fails:
   * change the name with it, or leave it out. ImportImage cannot name an
   * image: a named `ImportedAmi` is copied in its Region under this name and
   * the unnamed import is removed, which takes up to `timeout` again.
   *
   * @default - a unique name made of the construct path and a suffix that
   *            changes with every replacement (an `ImportedAmi`: EC2's
   *            `import-ami-…`). A `RestoredAmi` gets one too, where EC2 would
   *            reuse the stored image's name.
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateImage.html
   */
  readonly imageName?: string;

  /**
   * A description of the image. Changing it updates the image in place.
   *
   * @default - no description
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyImageAttribute.html
   */
  readonly description?: string;

  /**
   * What happens to the image when it is removed from the stack or replaced.
   *
   * `RETAIN` keeps the image and its snapshots; `DESTROY` deregisters the image
   * and deletes its snapshots. Either way, an image that never became
   * available, or that a failed deployment created, is always deleted when
   * CloudFormation rolls back: nothing is left behind. `applyRemovalPolicy`
   * and aws-cdk-lib's `RemovalPolicies` aspect set the same policy (the
   * resources keep `DeletionPolicy: Delete`: the provider applies it);
   * `RETAIN_ON_UPDATE_OR_DELETE` is `RETAIN`.
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
   * `aws:ec2:image` (so EC2 can resolve it at launch time), in the image's
   * Region.
   *
   * In the stack's Region it is a CloudFormation `AWS::SSM::Parameter`. In
   * another Region (a copy) the provider writes it there, following the
   * image's removal policy, and never over a parameter this resource did not
   * make. A copy owned by another account gets it in that account, written
   * as its `copyRole`, which must allow the name (`parameterNames` of a
   * `CrossAccountCopyRole`).
   *
   * @default - no parameter
   * @see https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html
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
   * instances from the image. More can be added with `addLaunchPermission()`.
   * Changes are applied in place (the image keeps its ID). When the image is
   * encrypted with a customer managed key of this app, its key policy lets
   * each grantee use it through EC2; an imported key gets a synth warning
   * with the statements to add.
   *
   * @default - only this account
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_LaunchPermission.html
   */
  readonly launchPermissions?: LaunchPermission[];

  /**
   * Make the image public: every AWS account may launch it. Fails at deploy
   * time with a clear message while the account's image block public access
   * is on. Applied in place.
   *
   * @default false
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_LaunchPermission.html
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
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableImageDeregistrationProtection.html
   */
  readonly deregistrationProtection?: DeregistrationProtection;

  /**
   * Tags for the image and its snapshots, in addition to those applied with
   * `Tags.of(...)`. Changing them updates the image in place.
   *
   * @default - no tags
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateTags.html
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

  /**
   * EC2 Fast Launch for a Windows image (EnableFastLaunch): EC2 keeps
   * pre-provisioned snapshots of the image, so that instances launch without
   * Windows' first-boot steps. Enabled once the image is available, before its
   * ID is handed out: the deployment waits until EC2 reports fast launch
   * `enabled` (within `timeout`), and fails with EC2's reason if it cannot be
   * enabled. Changes are applied in place; removing it disables fast launch
   * (EC2 then deletes the pre-provisioned snapshots). Before `DESTROY`
   * deregisters the image, fast launch is disabled; `RETAIN` keeps it
   * enabled. Synth fails where the image is known not to be Windows (`osType`,
   * an `ImportedAmi`'s `platform`, a `BakedAmi`'s base image); otherwise the
   * deployment fails if EC2 reports the image is not Windows.
   *
   * @default - fast launch is not enabled
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableFastLaunch.html
   */
  readonly fastLaunch?: FastLaunchOptions;

  /**
   * Which earlier generations of this image to keep. After each deployment
   * that hands over a new generation (the image was replaced), the
   * construct's earlier generations in the image's Region and account are
   * found by their ownership tags; the newest one and the one before it are
   * always kept (a rollback returns to it), and those beyond the policy are
   * deprecated, disabled or deregistered with their snapshots, as the
   * policy's action says (disabled and deregistered only while no instance or
   * launch template refers to them). When the stack or the construct is
   * deleted, `removalPolicy` decides for every generation: `DESTROY`
   * deregisters them all, `RETAIN` keeps them all.
   *
   * @default - no retention: every replaced generation goes as `removalPolicy` says (`RETAIN` keeps it for good)
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeImageReferences.html
   */
  readonly retention?: ImageRetention;

  /**
   * A test the image must pass before anything uses it
   * (`ImageTest.script(userData, { vpc })` or `{ launchTemplate }`): once the
   * image is available, an instance launched from it runs the test and is
   * terminated. `imageId`, the output, the SSM parameter, copies, stored
   * objects and the launch permissions and other settings wait for the test
   * to pass; a failed or timed-out test fails the deployment, which rolls
   * back to the previous image. A new image is always tested; a changed test
   * runs again on the same image.
   *
   * @default - no test: the image is handed out once it is available
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html
   */
  readonly test?: ImageTest;
}

/**
 * Options for copying an image, as used by `copyTo()`.
 */
export interface CopyOptions extends ImageProps {
  /**
   * Encrypt the snapshots of the copy. `true` encrypts with `encryptionKey`, or the
   * account's default EBS key in the destination Region. `false` is refused at
   * deploy time for a source with encrypted snapshots (EC2 cannot decrypt a
   * copy). Changing it replaces the copy.
   *
   * @default - the copy is encrypted exactly when the source is
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopyImage.html
   */
  readonly encrypted?: boolean;

  /**
   * The KMS key for the copy's snapshots, in the destination Region (and in
   * `account`, for a copy owned by another account: import it by ARN there).
   * Requires `encrypted: true`. The provider's role (or, in another account,
   * the `copyRole`) is granted what EBS needs on it. Changing it replaces the copy.
   *
   * @default - the account's default EBS key in the destination Region
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopyImage.html
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * The customer managed KMS key the source image's snapshots are encrypted
   * with, in the source Region. The provider's role may use it, only through
   * EC2, to read the snapshots for the copy. A key in another account must
   * also allow this in its key policy (see the README's Permissions section).
   *
   * @default - the key of the source when it is a `CopiedAmi` or `ImportedAmi`
   *            (`encryptionKey`) or a `RestoredAmi` (`defaultEbsEncryptionKey`)
   *            of this app; otherwise none (the source is unencrypted or
   *            uses the AWS managed key)
   */
  readonly sourceEncryptionKey?: kms.IKey;

  /**
   * Copy the source image's user-defined tags to the copy (CopyImageTags).
   * Changing it replaces the copy.
   *
   * @default false
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopyImage.html
   */
  readonly copyTags?: boolean;

  /**
   * Time-based copy: how long EC2 may take to complete the snapshot copies,
   * in steps of 15 minutes from 15 minutes to 48 hours. The wait `timeout`
   * must be at least this long. Changing it replaces the copy.
   *
   * @default - a standard copy, as fast as EC2 can make it
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopyImage.html
   */
  readonly completionDuration?: Duration;

  /**
   * The account that makes and owns the copy. The provider shares the source
   * image and its snapshots with it, then assumes `copyRole` there to copy,
   * follow and delete the copy; the copy's delete withdraws the share again.
   * Changing it replaces the copy. Such a copy cannot be copied or stored
   * by the stack in turn (synth refuses it): copy or store the original.
   * Its source must be an image this stack makes whose snapshots carry the
   * stack's tag (not an image referenced by ID, another stack's image, nor an
   * `AmiFromSnapshot`; synth refuses those): the provider shares only such
   * snapshots. With `parameterName`, the parameter is written in this account
   * too, as `copyRole`; `fastLaunch` is enabled there as `copyRole`, without
   * a launch template (synth refuses `fastLaunch.launchTemplate`).
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopyImage.html
   * @default - the stack's account
   */
  readonly account?: string;

  /**
   * The role in `account` that the provider assumes to make, follow and delete
   * the copy (and write its `parameterName`, which the role must allow): a
   * `CrossAccountCopyRole` deployed there, imported with
   * `iam.Role.fromRoleArn(this, 'CopyRole', arn, { mutable: false })`. Required
   * with an `account` other than the stack's.
   *
   * @see https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
   * @default - none: the copy is made by the stack's account
   */
  readonly copyRole?: iam.IRole;
}

/**
 * Options for storing an image in S3, as used by `storeTo()`.
 */
export interface StoreOptions {
  /**
   * Tags for the S3 object.
   * Changing them replaces the stored object: the image is stored again with the new tags.
   *
   * @default - none
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateStoreImageTask.html
   */
  readonly objectTags?: { [key: string]: string };

  /**
   * `DESTROY` deletes the S3 object when the resource is removed or replaced;
   * `RETAIN` keeps it. Either way, the object is deleted when the deployment
   * that stored it rolls back. `applyRemovalPolicy` on the `StoredAmi` and
   * aws-cdk-lib's `RemovalPolicies` aspect set the same policy.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * The customer managed KMS key the image's snapshots are encrypted with.
   * The provider's role may use it, only through EC2 and EBS in the image's
   * Region, to decrypt the snapshots into the object. A key in another account
   * must also allow this in its key policy (see the README's Permissions section).
   *
   * @default - the key of the image when it is a `CopiedAmi` or `ImportedAmi`
   *            (`encryptionKey`) or a `RestoredAmi` (`defaultEbsEncryptionKey`)
   *            of this app; otherwise none
   */
  readonly sourceEncryptionKey?: kms.IKey;

  /**
   * How long to wait for the store task to complete.
   *
   * @default Duration.hours(1)
   */
  readonly timeout?: Duration;
}
