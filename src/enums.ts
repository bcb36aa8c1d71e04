/**
 * Enums that more than one construct takes. Each value is the word EC2 uses.
 */

/**
 * The processor architecture of an image (RegisterImage, ImportImage).
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RegisterImage.html
 */
export enum ImageArchitecture {
  /** 64-bit x86. */
  X86_64 = 'x86_64',
  /** 64-bit Arm (Graviton). */
  ARM64 = 'arm64',
  /** 32-bit x86. */
  I386 = 'i386',
}

/**
 * How instances of an image boot (RegisterImage, ImportImage).
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RegisterImage.html
 */
export enum BootMode {
  /** Legacy BIOS. */
  LEGACY_BIOS = 'legacy-bios',
  /** UEFI. */
  UEFI = 'uefi',
  /** UEFI where the instance type supports it, legacy BIOS otherwise. */
  UEFI_PREFERRED = 'uefi-preferred',
}

/**
 * What to do with the instance an image was made from, once the image is
 * available (`AmiFromInstance`, `BakedAmi`).
 */
export enum InstanceAction {
  /** Leave the instance as it is. */
  NONE = 'none',
  /** Stop the instance: it stops costing compute, its volumes remain. */
  STOP = 'stop',
  /** Terminate the instance, e.g. a build instance that has served its purpose. */
  TERMINATE = 'terminate',
}
