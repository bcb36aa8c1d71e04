import { Arn, ArnFormat, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { CopyableImageBase } from './copied-ami';
import { BootMode, ImageArchitecture } from './enums';
import { ImageProps } from './image-options';
import { renderVolume, validateBlockDevices } from './private/block-devices';
import { ResourceTypes, V2 } from './private/contract';
import { AmiValidationError } from './private/errors';
import { ManagedImage } from './private/managed-image';
import { AmiProvider } from './private/provider';
import { validateBootMode, validateEc2Id } from './private/validation';

/** RegisterImage's own default is standard (magnetic). */
const DEFAULT_VOLUME_TYPE = ec2.EbsDeviceVolumeType.GP3;

/**
 * Properties of an `AmiFromSnapshot`.
 */
export interface AmiFromSnapshotProps extends ImageProps {
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
   * The architecture the snapshot's operating system was built for. (EC2
   * itself would default to i386.)
   * Changing it replaces the image.
   *
   * @default ImageArchitecture.X86_64
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RegisterImage.html
   */
  readonly architecture?: ImageArchitecture;

  /**
   * The boot mode.
   * Changing it replaces the image.
   *
   * @default - EC2's default for the architecture
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RegisterImage.html
   */
  readonly bootMode?: BootMode;

  /**
   * Enhanced networking with ENA.
   * Changing it replaces the image.
   *
   * @default true
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RegisterImage.html
   */
  readonly enaSupport?: boolean;

  /**
   * Instances launched from the image get NitroTPM 2.0 (needs UEFI boot).
   * Changing it replaces the image.
   *
   * @default false
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RegisterImage.html
   */
  readonly tpmSupport?: boolean;
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
    const architecture = props.architecture ?? ImageArchitecture.X86_64;
    validateBootMode(this, { bootMode: props.bootMode, tpmSupport: props.tpmSupport, architecture });
    const [root, ...data] = props.blockDevices;
    if (!root) {
      throw new AmiValidationError('blockDevices is empty: give at least the root device, e.g. { deviceName: \'/dev/xvda\', volume: ec2.BlockDeviceVolume.ebsFromSnapshot(\'snap-…\') }.', this);
    }
    validateBlockDevices(this, props.blockDevices, {
      construct: 'AmiFromSnapshot',
      noDevice: false,
      snapshots: 'required',
      encryptionFrom: 'a registered image is encrypted as its snapshots are',
      defaultVolumeType: DEFAULT_VOLUME_TYPE,
    });
    validateUefiData(this, props.uefiData);
    const snapshots = props.blockDevices.map((d) => d.volume.ebsDevice!.snapshotId!);
    snapshots.forEach((snapshotId, i) => validateEc2Id(this, `blockDevices[${i}] snapshot`, snapshotId, 'snapshot'));

    const managed = new ManagedImage(this, props, {
      resourceType: ResourceTypes.AMI_FROM_SNAPSHOT,
      imageName: props.imageName,
      snapshotsTagged: false,
      properties: {
        RootSnapshotId: snapshots[0],
        RootDeviceName: root.deviceName,
        RootVolume: hasSettings(root) ? renderVolume(root, DEFAULT_VOLUME_TYPE) : undefined,
        DataVolumes: data.length === 0 ? undefined : data.map((d, i) => ({
          DeviceName: d.deviceName, SnapshotId: snapshots[i + 1], ...renderVolume(d, DEFAULT_VOLUME_TYPE),
        })),
        UefiData: props.uefiData,
        Architecture: architecture,
        // TPM needs UEFI, which arm64 boots by default: say so, as RegisterImage requires.
        BootMode: props.bootMode ?? (props.tpmSupport ? BootMode.UEFI : undefined),
        EnaSupport: props.enaSupport ?? true,
        TpmSupport: props.tpmSupport ? V2 : undefined,
        VolumeType: DEFAULT_VOLUME_TYPE,
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

/** Whether the root device sets anything besides its snapshot (otherwise the handler's defaults apply). */
function hasSettings(device: ec2.BlockDevice): boolean {
  const { snapshotId: _snapshot, ...settings } = device.volume.ebsDevice ?? {};
  return Object.values(settings).some((v) => v !== undefined);
}

/** RegisterImage's UefiData: base64 of at most 64,000 characters. */
function validateUefiData(scope: Construct, uefiData: string | undefined): void {
  if (uefiData === undefined || Token.isUnresolved(uefiData)) return;
  if (uefiData.length > 64_000 || !/^[A-Za-z0-9+/]*={0,2}$/.test(uefiData)) {
    throw new AmiValidationError(`uefiData is not valid: it must be base64 of at most 64,000 characters (got ${uefiData.length} characters).`, scope);
  }
}
