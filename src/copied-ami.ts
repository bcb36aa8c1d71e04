import { CfnOutput, CfnResource, Duration, Stack, TagManager, Token } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { IImage, ImageBase, ImageProps } from './image';
import { AmiValidationError } from './private/errors';
import { ManagedImage } from './private/managed-image';
import { AmiProvider, encryptionKeyOf } from './private/provider';
import { validateRegion, validateSamePartition } from './private/validation';

/**
 * Options for copying an image, as used by `copyTo()`.
 */
export interface CopyOptions extends ImageProps {
  /**
   * The AMI name of the copy: 3 to 128 characters of letters, digits, spaces
   * and `( ) [ ] . / - ' @ _`, unique in the destination Region. Changing it
   * replaces the copy.
   *
   * @default - a unique name made of the construct path and a suffix that
   *            changes with every replacement
   */
  readonly imageName?: string;

  /**
   * Encrypt the snapshots of the copy. `true` encrypts with `kmsKey`, or the
   * account's default EBS key in the destination Region. `false` is refused at
   * deploy time for a source with encrypted snapshots (EC2 cannot decrypt a
   * copy). Changing it replaces the copy.
   *
   * @default - the copy is encrypted exactly when the source is
   */
  readonly encrypted?: boolean;

  /**
   * The KMS key for the copy's snapshots, in the destination Region. Requires
   * `encrypted: true`. The provider's role is granted what EBS needs on it.
   * Changing it replaces the copy.
   *
   * @default - the account's default EBS key in the destination Region
   */
  readonly kmsKey?: kms.IKey;

  /**
   * The customer managed KMS key the source image's snapshots are encrypted
   * with, in the source Region. The provider's role may use it, only through
   * EC2, to read the snapshots for the copy. A key in another account must
   * also allow this in its key policy (see the README's Permissions section).
   *
   * @default - the `kmsKey` of the source when it is a `CopiedAmi`,
   *            `ImportedAmi` or `RestoredAmi` of this app; otherwise none (the
   *            source is unencrypted or uses the AWS managed key)
   */
  readonly sourceEncryptionKey?: kms.IKey;

  /**
   * Copy the source image's user-defined tags to the copy (CopyImageTags).
   * Changing it replaces the copy.
   *
   * @default false
   */
  readonly copyTags?: boolean;

  /**
   * Time-based copy: how long EC2 may take to complete the snapshot copies,
   * in steps of 15 minutes from 15 minutes to 48 hours. The wait `timeout`
   * must be at least this long. Changing it replaces the copy.
   *
   * @default - a standard copy, as fast as EC2 can make it
   */
  readonly completionDuration?: Duration;
}

/**
 * Properties of a `CopiedAmi`.
 */
export interface CopiedAmiProps extends CopyOptions {
  /**
   * The image to copy: an image of this stack (e.g. an `AmiFromInstance`), or
   * an existing one from `Ami.fromImageId()`. Changing it replaces the copy.
   */
  readonly source: IImage;

  /**
   * The destination Region. CopyImage is called there, so one stack can copy
   * an image into several Regions.
   *
   * @default - the stack's Region
   */
  readonly region?: string;
}

/**
 * A copy of an AMI (EC2 CopyImage), in another Region or the same one (for
 * example to encrypt it), available when the deployment finishes.
 *
 * @example
 * declare const golden: AmiFromInstance;
 * new CopiedAmi(this, 'GoldenInEurope', {
 *   source: golden,
 *   region: 'eu-west-1',
 *   encrypted: true,
 * });
 * // or, the same:
 * golden.copyTo('eu-central-1', { encrypted: true });
 */
export class CopiedAmi extends ImageBase {
  public readonly imageId: string;
  public readonly imageName?: string;
  public readonly region: string;
  public readonly tags: TagManager;
  public readonly output?: CfnOutput;
  public readonly parameter?: ssm.IStringParameter;
  /**
   * The image this is a copy of.
   */
  public readonly source: IImage;

  constructor(scope: Construct, id: string, props: CopiedAmiProps) {
    super(scope, id, { region: props.region });
    validateRegion(this, props.region);
    this.region = props.region ?? Stack.of(this).region;
    this.source = props.source;
    validateCopy(this, props);

    const completionMinutes = props.completionDuration?.toMinutes();
    const managed = new ManagedImage(this, { ...props, timeout: props.timeout ?? defaultTimeout(props.completionDuration) }, {
      resourceType: 'Custom::CopiedAmi',
      imageName: props.imageName,
      properties: {
        SourceImageId: props.source.imageId,
        SourceRegion: props.source.region,
        Encrypted: props.encrypted,
        KmsKeyId: props.kmsKey?.keyArn,
        CopyImageTags: props.copyTags ?? false,
        CompletionDurationMinutes: completionMinutes,
      },
    });
    this._managed = managed;
    this.imageId = managed.imageId;
    this.imageName = managed.imageName;
    this.tags = managed.tags;
    this.output = managed.output;
    this.parameter = managed.parameter;
    this._useEncryptionKey(props.kmsKey);
    this.grantProvider(props, managed.operation);
  }

  private grantProvider(props: CopiedAmiProps, operation: CfnResource): void {
    const provider = AmiProvider.of(this);
    provider.grantSourceImage(this, 'CopyImage', props.source, operation);
    provider.grantCreateTagged('CopyImage');
    if (props.kmsKey) provider.grantEbsKey(props.kmsKey, [this.region], 'write');
    const sourceKey = props.sourceEncryptionKey ?? encryptionKeyOf(props.source);
    // EC2 reads the source's snapshots in their Region and writes the copy's in this one.
    if (sourceKey) provider.grantEbsKey(sourceKey, unique([props.source.region, this.region]), 'read');
  }
}

function validateCopy(scope: CopiedAmi, props: CopiedAmiProps): void {
  validateRegion(scope, props.source.region, 'source region');
  validateSamePartition(scope, 'region', scope.region, props.source.region, 'the source image\'s Region');
  validateSamePartition(scope, 'region', scope.region, Stack.of(scope).region, 'the stack\'s Region, where the provider calls CopyImage,');
  if (props.kmsKey && props.encrypted !== true) {
    throw new AmiValidationError('kmsKey needs encrypted: true; EC2 only uses a KMS key for an encrypted copy.', scope);
  }
  const keyRegion = props.kmsKey?.env.region;
  if (keyRegion && !Token.isUnresolved(keyRegion) && !Token.isUnresolved(scope.region) && keyRegion !== scope.region) {
    throw new AmiValidationError(
      `kmsKey is in ${keyRegion}, but the copy is made in ${scope.region}: EBS needs a key in the destination Region (use kms.Key.fromKeyArn with a ${scope.region} key).`, scope);
  }
  const duration = props.completionDuration;
  if (duration) {
    const minutes = duration.toMinutes({ integral: false });
    if (!Number.isInteger(minutes) || minutes % 15 !== 0 || minutes < 15 || minutes > 2880) {
      throw new AmiValidationError(
        `completionDuration ${duration.toHumanString()} is not allowed: it must be a multiple of 15 minutes between 15 minutes and 48 hours.`, scope);
    }
    if (props.timeout && props.timeout.toMinutes({ integral: false }) < minutes) {
      throw new AmiValidationError(
        `timeout ${props.timeout.toHumanString()} is shorter than completionDuration ${duration.toHumanString()}: the stack would stop waiting before EC2 has to finish. Raise timeout, or leave it out to wait completionDuration plus 1 hour.`, scope);
    }
  }
}

/** A time-based copy may take its whole completion duration: wait that, plus an hour. */
function defaultTimeout(completionDuration: Duration | undefined): Duration {
  if (!completionDuration) return Duration.hours(1);
  return Duration.minutes(Math.min(completionDuration.toMinutes() + 60, 48 * 60));
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
