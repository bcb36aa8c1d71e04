import { Arn, ArnFormat, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { ImageVolumeOptions, renderVolume, validateVolume } from './block-devices';
import { BootMode, ImageArchitecture } from './enums';
import { ImageBase } from './image';
import { ImageProps } from './image-options';
import { ResourceTypes, V2 } from './private/contract';
import { AmiValidationError } from './private/errors';
import { ManagedImage } from './private/managed-image';
import { AmiProvider } from './private/provider';
import { validateBootMode, validateEc2Id } from './private/validation';

const DEFAULT_ROOT_DEVICE = '/dev/xvda';

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
export interface AmiFromSnapshotProps extends ImageProps {
  /**
   * The snapshot of the root volume. It stays yours: deleting the image never
   * deletes it. Changing it replaces the image.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EbsBlockDevice.html
   */
  readonly rootSnapshotId: string;

  /**
   * The root device name.
   *
   * @default '/dev/xvda'
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RegisterImage.html
   */
  readonly rootDeviceName?: string;

  /**
   * EBS settings of the root volume: size, type, IOPS, throughput,
   * delete-on-termination. Changing them replaces the image.
   *
   * @default - the snapshot's size, `volumeType`, deleted on termination
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EbsBlockDevice.html
   */
  readonly rootVolume?: ImageVolumeOptions;

  /**
   * The UEFI variable store of the image (base64, at most 64,000
   * characters), e.g. Secure Boot keys exported from another image with
   * `aws ec2 get-instance-uefi-data`. Changing it replaces the image.
   *
   * @default - EC2's default UEFI variables
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RegisterImage.html
   */
  readonly uefiData?: string;

  /**
   * Data volumes, from snapshots that also stay yours.
   *
   * @default - the root volume only
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RegisterImage.html
   */
  readonly dataVolumes?: SnapshotVolume[];

  /**
   * The architecture the snapshot's operating system was built for. (EC2
   * itself would default to i386.)
   *
   * @default ImageArchitecture.X86_64
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RegisterImage.html
   */
  readonly architecture?: ImageArchitecture;

  /**
   * The boot mode.
   *
   * @default - EC2's default for the architecture
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RegisterImage.html
   */
  readonly bootMode?: BootMode;

  /**
   * Enhanced networking with ENA.
   *
   * @default true
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RegisterImage.html
   */
  readonly enaSupport?: boolean;

  /**
   * Instances launched from the image get NitroTPM 2.0 (needs UEFI boot).
   *
   * @default false
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RegisterImage.html
   */
  readonly tpmSupport?: boolean;

  /**
   * The EBS volume type of the image's volumes, unless a volume sets its own.
   *
   * @default ec2.EbsDeviceVolumeType.GP3
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EbsBlockDevice.html
   */
  readonly volumeType?: ec2.EbsDeviceVolumeType;

  /**
   * The AMI name, unique in the Region. Changing it replaces the image.
   *
   * @default - a unique name from the construct path
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RegisterImage.html
   */
  readonly imageName?: string;
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
    const architecture = props.architecture ?? ImageArchitecture.X86_64;
    validateBootMode(this, { bootMode: props.bootMode, tpmSupport: props.tpmSupport, architecture });
    const rootDeviceName = props.rootDeviceName ?? DEFAULT_ROOT_DEVICE;
    validateDeviceNames(this, rootDeviceName, props.dataVolumes ?? []);
    const volumeType = props.volumeType ?? ec2.EbsDeviceVolumeType.GP3;
    if (props.rootVolume) validateVolume(this, 'rootVolume', props.rootVolume, props.rootVolume.volumeType ?? volumeType);
    (props.dataVolumes ?? []).forEach((v, i) => validateVolume(this, `dataVolumes[${i}]`, v, v.volumeType ?? volumeType));
    validateUefiData(this, props.uefiData);
    const snapshots = [props.rootSnapshotId, ...(props.dataVolumes ?? []).map((v) => v.snapshotId)];
    validateEc2Id(this, 'rootSnapshotId', props.rootSnapshotId, 'snapshot');
    (props.dataVolumes ?? []).forEach((v, i) => validateEc2Id(this, `dataVolumes[${i}].snapshotId`, v.snapshotId, 'snapshot'));

    const managed = new ManagedImage(this, props, {
      resourceType: ResourceTypes.AMI_FROM_SNAPSHOT,
      imageName: props.imageName,
      snapshotsTagged: false,
      properties: {
        RootSnapshotId: props.rootSnapshotId,
        RootDeviceName: rootDeviceName,
        RootVolume: props.rootVolume ? renderVolume(props.rootVolume, props.rootVolume.volumeType ?? volumeType) : undefined,
        DataVolumes: props.dataVolumes?.map((v) => ({
          DeviceName: v.deviceName, SnapshotId: v.snapshotId, ...renderVolume(v, v.volumeType ?? volumeType),
        })),
        UefiData: props.uefiData,
        Architecture: architecture,
        // TPM needs UEFI, which arm64 boots by default: say so, as RegisterImage requires.
        BootMode: props.bootMode ?? (props.tpmSupport ? BootMode.UEFI : undefined),
        EnaSupport: props.enaSupport ?? true,
        TpmSupport: props.tpmSupport ? V2 : undefined,
        VolumeType: volumeType,
      },
    });
    this._attach(managed);

    const provider = AmiProvider.of(this);
    provider.grantCreateTagged('RegisterImage');
    for (const snapshotId of snapshots) {
      provider.addResourceToOperationStatement('register-image-snapshots', {
        sid: 'RegisterImageOfSourceSnapshots',
        actions: ['ec2:RegisterImage'],
      }, Arn.format({ service: 'ec2', account: '', resource: 'snapshot', resourceName: snapshotId, arnFormat: ArnFormat.SLASH_RESOURCE_NAME }, Stack.of(this)));
    }
  }
}

/** Each device is mapped once: a data volume on the root device (or twice on one device) is refused by RegisterImage. */
function validateDeviceNames(scope: Construct, rootDeviceName: string, dataVolumes: SnapshotVolume[]): void {
  const seen = new Set([rootDeviceName]);
  for (const volume of dataVolumes) {
    if (Token.isUnresolved(volume.deviceName)) continue;
    if (seen.has(volume.deviceName)) {
      const what = volume.deviceName === rootDeviceName ? 'the root device name' : 'already mapped to another data volume';
      throw new AmiValidationError(
        `dataVolumes deviceName "${volume.deviceName}" (snapshot ${volume.snapshotId}) is ${what}: every device of an image is mapped once; give the data volume another device such as /dev/sdf.`, scope);
    }
    seen.add(volume.deviceName);
  }
}

/** RegisterImage's UefiData: base64 of at most 64,000 characters. */
function validateUefiData(scope: Construct, uefiData: string | undefined): void {
  if (uefiData === undefined || Token.isUnresolved(uefiData)) return;
  if (uefiData.length > 64_000 || !/^[A-Za-z0-9+/]*={0,2}$/.test(uefiData)) {
    throw new AmiValidationError(`uefiData is not valid: it must be base64 of at most 64,000 characters (got ${uefiData.length} characters).`, scope);
  }
}
