import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { ImageVolumeOptions } from './block-devices';
import { BootMode, ImageArchitecture } from './enums';

/**
 * How EC2 registers an image from snapshots (RegisterImage): the settings
 * `AmiFromSnapshot` and `AmiFromDisks` share. Changing any of them replaces
 * the image.
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RegisterImage.html
 */
export interface RegistrationOptions {
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
   * The architecture the disk's operating system was built for. (EC2
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
