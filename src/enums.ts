/**
 * The library's enums, in one module whichever constructs take them. Each
 * value is the word EC2 uses. The contract's schemas (`private/contract.ts`)
 * accept exactly these values, and the handler bundle includes this module:
 * it must import nothing.
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

/**
 * The format of a disk image to import.
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImageDiskContainer.html
 */
export enum DiskImageFormat {
  /** Open Virtual Appliance. */
  OVA = 'OVA',
  /** VMware virtual disk. */
  VMDK = 'VMDK',
  /** Hyper-V / Virtual PC virtual hard disk. */
  VHD = 'VHD',
  /** Hyper-V virtual hard disk, version 2. */
  VHDX = 'VHDX',
  /** A raw disk image. */
  RAW = 'RAW',
}

/**
 * The operating system of an imported image.
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImportImage.html
 */
export enum ImportPlatform {
  /** Linux. */
  LINUX = 'Linux',
  /** Windows. */
  WINDOWS = 'Windows',
}

/**
 * The license of an imported image's operating system.
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImportImage.html
 */
export enum ImportLicenseType {
  /** License included: AWS bills the license. */
  AWS = 'AWS',
  /** Bring your own license. */
  BYOL = 'BYOL',
}

/**
 * Deregistration protection: whether the image can be deregistered.
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableImageDeregistrationProtection.html
 */
export enum DeregistrationProtection {
  /** The image can be deregistered. */
  DISABLED = 'disabled',
  /** Deregistration fails until protection is turned off. */
  ENABLED = 'enabled',
  /**
   * As `ENABLED`, and once protection is turned off the image stays protected
   * for another 24 hours.
   */
  ENABLED_WITH_COOLDOWN = 'enabled-with-cooldown',
}

/**
 * How a `BakedAmi`'s builder is brought to the state it is imaged in, once
 * its setup succeeded.
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateImage.html
 */
export enum BeforeImaging {
  /**
   * The stack stops the builder and images it stopped: every write is on
   * disk, nothing runs while EBS snapshots it. The default for Linux.
   */
  STOP = 'stop',
  /**
   * Windows only: EC2Launch v2 `sysprep --clean --shutdown` generalizes
   * Windows and shuts the builder down; the stack waits until it is stopped.
   * The default for Windows.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ami-create-win-sysprep.html
   */
  SYSPREP = 'sysprep',
  /** The builder is imaged running: CreateImage reboots it first. */
  REBOOT = 'reboot',
}

/**
 * What a retention policy (`ImageRetention`) does to a generation of an image
 * beyond what it keeps.
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ami-deprecate.html
 */
export enum RetiredImageAction {
  /** EnableImageDeprecation at the earliest time EC2 accepts: the image stays launchable by ID, and leaves DescribeImages listings for other accounts. */
  DEPRECATE = 'deprecate',
  /** DisableImage, once no instance or launch template refers to it: nobody can launch it; EnableImage brings it back. The snapshots stay (and cost). */
  DISABLE = 'disable',
  /** DeregisterImage with its snapshots, once no instance or launch template refers to it. */
  DEREGISTER = 'deregister',
}
