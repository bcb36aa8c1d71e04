import { Arn, ArnFormat, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { CopyableImageBase } from './copied-ami';
import { ImageProps } from './image-options';
import { ResourceTypes } from './private/contract';
import { AmiValidationError } from './private/errors';
import { ManagedImage } from './private/managed-image';
import { AmiProvider } from './private/provider';
import { registrationProperties } from './private/registration';
import { validateEc2Id } from './private/validation';
import { RegistrationOptions } from './registration';

/**
 * Properties of an `AmiFromSnapshot`.
 */
export interface AmiFromSnapshotProps extends ImageProps, RegistrationOptions {
  /**
   * The image's volumes, as aws-cdk-lib's `ec2.BlockDevice`s, each from a
   * snapshot (`ec2.BlockDeviceVolume.ebsFromSnapshot(snapshotId, options)`,
   * with its size, type, IOPS, throughput and delete-on-termination). The
   * first is the root device (e.g. `/dev/xvda`). The snapshots stay yours:
   * deleting the image never deletes or retags them. Volumes without a type
   * are `gp3`. Changing them replaces the image.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RegisterImage.html
   */
  readonly blockDevices: ec2.BlockDevice[];
}

/**
 * An AMI registered from EBS snapshots (EC2 RegisterImage).
 *
 * The snapshots stay yours: removing the image deregisters it and never
 * deletes or retags them.
 *
 * @example
 * new AmiFromSnapshot(this, 'FromSnapshot', {
 *   blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebsFromSnapshot('snap-0123456789abcdef0') }],
 *   architecture: ImageArchitecture.ARM64,
 *   bootMode: BootMode.UEFI,
 *   requireImdsv2: true,
 * });
 */
export class AmiFromSnapshot extends CopyableImageBase {

  constructor(scope: Construct, id: string, props: AmiFromSnapshotProps) {
    super(scope, id);
    if (props.shareSnapshots) {
      throw new AmiValidationError('shareSnapshots is not available for AmiFromSnapshot: the snapshots are yours, share them directly.', this);
    }
    if (props.snapshotTags) {
      throw new AmiValidationError('snapshotTags is not available for AmiFromSnapshot: the snapshots are yours and cdk-ami never tags them; tag them directly.', this);
    }
    const properties = registrationProperties(this, props, props.blockDevices, {
      construct: 'AmiFromSnapshot',
      field: 'blockDevices',
      example: '{ deviceName: \'/dev/xvda\', volume: ec2.BlockDeviceVolume.ebsFromSnapshot(\'snap-…\') }',
    });
    const snapshots = props.blockDevices.map((d) => d.volume.ebsDevice!.snapshotId!);
    snapshots.forEach((snapshotId, i) => validateEc2Id(this, `blockDevices[${i}] snapshot`, snapshotId, 'snapshot'));

    const managed = new ManagedImage(this, props, {
      resourceType: ResourceTypes.AMI_FROM_SNAPSHOT,
      imageName: props.imageName,
      snapshotsTagged: false,
      properties,
    });
    this._attach(managed);

    const provider = AmiProvider.of(this);
    provider.grantCreateTagged('RegisterImage');
    for (const snapshotId of snapshots) {
      provider.addResourceToOperationStatement('register-image-snapshots', {
        sid: 'RegisterImageOfSourceSnapshots',
        actions: ['ec2:RegisterImage'],
      }, Arn.format({ service: 'ec2', account: '', resource: 'snapshot', resourceName: snapshotId, arnFormat: ArnFormat.SLASH_RESOURCE_NAME }, Stack.of(this)),
      // A snapshot of this stack may be made from an image of this stack.
      { id: snapshotId, owner: this, firstUser: managed.operation });
    }
  }
}
