import { BootMode, ImageArchitecture } from './enums';

/**
 * How EC2 registers an image from snapshots (RegisterImage): the settings
 * `AmiFromSnapshot` and `AmiFromDisks` share besides their volumes. Changing
 * any of them replaces the image.
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RegisterImage.html
 */
export interface RegistrationOptions {
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
   * The architecture the image's operating system was built for. (EC2
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
