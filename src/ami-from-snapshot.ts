import { Arn, ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ImageVolumeOptions } from './block-devices';
import { ImageBase } from './image';
import { ImageProps } from './image-options';
import { ResourceTypes } from './private/contract';
import { AmiValidationError } from './private/errors';
import { ManagedImage } from './private/managed-image';
import { AmiProvider } from './private/provider';
import { registrationProperties } from './private/registration';
import { validateEc2Id } from './private/validation';
import { RegistrationOptions } from './registration';

/**
 * A data volume of a registered image, from a snapshot.
 */
export interface SnapshotVolume extends ImageVolumeOptions {
  /**
   * The device name, e.g. `/dev/sdf`.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_BlockDeviceMapping.html
   */
  readonly deviceName: string;

  /**
   * The snapshot, e.g. `snap-0123456789abcdef0`.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EbsBlockDevice.html
   */
  readonly snapshotId: string;
}

/**
 * Properties of an `AmiFromSnapshot`.
 */
export interface AmiFromSnapshotProps extends ImageProps, RegistrationOptions {
  /**
   * The snapshot of the root volume. It stays yours: deleting the image never
   * deletes it. Changing it replaces the image.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EbsBlockDevice.html
   */
  readonly rootSnapshotId: string;

  /**
   * Data volumes, from snapshots that also stay yours.
   *
   * @default - the root volume only
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RegisterImage.html
   */
  readonly dataVolumes?: SnapshotVolume[];
}

/**
 * An AMI registered from EBS snapshots (EC2 RegisterImage).
 *
 * The snapshots stay yours: removing the image deregisters it and never
 * deletes or retags them.
 *
 * @example
 * new AmiFromSnapshot(this, 'FromSnapshot', {
 *   rootSnapshotId: 'snap-0123456789abcdef0',
 *   architecture: ImageArchitecture.ARM64,
 *   bootMode: BootMode.UEFI,
 *   requireImdsv2: true,
 * });
 */
export class AmiFromSnapshot extends ImageBase {

  constructor(scope: Construct, id: string, props: AmiFromSnapshotProps) {
    super(scope, id);
    if (props.shareSnapshots) {
      throw new AmiValidationError('shareSnapshots is not available for AmiFromSnapshot: the snapshots are yours, share them directly.', this);
    }
    if (props.snapshotTags) {
      throw new AmiValidationError('snapshotTags is not available for AmiFromSnapshot: the snapshots are yours and cdk-ami never tags them; tag them directly.', this);
    }
    validateEc2Id(this, 'rootSnapshotId', props.rootSnapshotId, 'snapshot');
    (props.dataVolumes ?? []).forEach((v, i) => validateEc2Id(this, `dataVolumes[${i}].snapshotId`, v.snapshotId, 'snapshot'));
    const snapshots = [props.rootSnapshotId, ...(props.dataVolumes ?? []).map((v) => v.snapshotId)];
    const properties = registrationProperties(this, props, props.rootSnapshotId,
      (props.dataVolumes ?? []).map((v, i) => ({ ...v, field: `dataVolumes[${i}]`, source: `snapshot ${v.snapshotId}` })));

    const managed = new ManagedImage(this, props, {
      resourceType: ResourceTypes.AMI_FROM_SNAPSHOT,
      imageName: props.imageName,
      properties,
    });
    this._attach(managed);

    const provider = AmiProvider.of(this);
    provider.grantCreateTagged('RegisterImage');
    for (const snapshotId of snapshots) {
      provider.addResourceToOperationStatement('register-image-snapshots', () => new iam.PolicyStatement({
        sid: 'RegisterImageOfSourceSnapshots',
        actions: ['ec2:RegisterImage'],
      }), Arn.format({ service: 'ec2', account: '', resource: 'snapshot', resourceName: snapshotId, arnFormat: ArnFormat.SLASH_RESOURCE_NAME }, Stack.of(this)));
    }
  }
}
