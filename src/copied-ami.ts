import { CfnResource, Duration, Stack, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { IImage, ImageBase } from './image';
import { CopyOptions } from './image-options';
import { ResourceTypes } from './private/contract';
import { AmiValidationError } from './private/errors';
import { ManagedImage } from './private/managed-image';
import { AmiProvider, encryptionKeyOf } from './private/provider';
import { validateKeyNeedsEncryption, validateRegion, validateSamePartition } from './private/validation';

/**
 * Properties of a `CopiedAmi`.
 */
export interface CopiedAmiProps extends CopyOptions {
  /**
   * The image to copy: an image of this stack (e.g. an `AmiFromInstance`), or
   * an existing one from `Ami.fromImageId()`. Changing it replaces the copy.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopyImage.html
   */
  readonly source: IImage;

  /**
   * The destination Region. CopyImage is called there, so one stack can copy
   * an image into several Regions.
   *
   * @default - the stack's Region
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopyImage.html
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
  /**
   * The image this is a copy of.
   */
  public readonly source: IImage;

  constructor(scope: Construct, id: string, props: CopiedAmiProps) {
    super(scope, id, { region: props.region });
    validateRegion(this, props.region);
    this.source = props.source;
    validateCopy(this, props);

    const completionMinutes = props.completionDuration?.toMinutes();
    const managed = new ManagedImage(this, { ...props, timeout: props.timeout ?? defaultTimeout(props.completionDuration) }, {
      resourceType: ResourceTypes.COPIED_AMI,
      encryptionKey: props.kmsKey,
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
    this._attach(managed);
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

ImageBase._factories.copy = (source, id, region, options) => new CopiedAmi(source, id, { ...options, source, region });

function validateCopy(scope: CopiedAmi, props: CopiedAmiProps): void {
  validateRegion(scope, props.source.region, 'source region');
  validateSamePartition(scope, 'region', scope.region, props.source.region, 'the source image\'s Region');
  validateSamePartition(scope, 'region', scope.region, Stack.of(scope).region, 'the stack\'s Region, where the provider calls CopyImage,');
  validateKeyNeedsEncryption(scope, props.kmsKey, props.encrypted, 'CopyImage');
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
