import { Size, SizeRoundingBehavior, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { IConstruct } from 'constructs';
import { AmiValidationError } from './private/errors';

/**
 * EBS settings of one volume of an image: what instances launched from the
 * image get on that device.
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EbsBlockDevice.html
 */
export interface ImageVolumeOptions {
  /**
   * The volume size, in whole GiB. It can grow the volume, never shrink it
   * below its snapshot.
   *
   * @default - the size of the volume's snapshot
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EbsBlockDevice.html
   */
  readonly volumeSize?: Size;

  /**
   * The EBS volume type.
   *
   * @default - the construct's default (`gp3` for AmiFromSnapshot, the instance volume's type for AmiFromInstance)
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EbsBlockDevice.html
   */
  readonly volumeType?: ec2.EbsDeviceVolumeType;

  /**
   * Provisioned IOPS. Only for `io1`, `io2` (where it is required) and `gp3` (at least 3,000).
   *
   * @default - none for io1/io2 (an error), 3,000 for gp3
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EbsBlockDevice.html
   */
  readonly iops?: number;

  /**
   * Provisioned throughput in MiB/s. Only for `gp3`, at least 125.
   *
   * @default - 125 MiB/s for gp3
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EbsBlockDevice.html
   */
  readonly throughput?: number;

  /**
   * Delete the volume when an instance launched from the image terminates.
   *
   * @default true
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EbsBlockDevice.html
   */
  readonly deleteOnTermination?: boolean;
}

/**
 * One device of the instance that `AmiFromInstance` images: leave it out of
 * the image, or change its EBS settings.
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateImage.html
 */
export interface ImageBlockDevice extends ImageVolumeOptions {
  /**
   * The device name on the instance, e.g. `/dev/xvda` or `/dev/sdf`.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_BlockDeviceMapping.html
   */
  readonly deviceName: string;

  /**
   * Leave this device out of the image (`NoDevice`). Not for the root device,
   * and not together with volume settings.
   *
   * @default false
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_BlockDeviceMapping.html
   */
  readonly exclude?: boolean;
}

const IOPS_TYPES: readonly string[] = [ec2.EbsDeviceVolumeType.IO1, ec2.EbsDeviceVolumeType.IO2, ec2.EbsDeviceVolumeType.GP3];
const REQUIRED_IOPS_TYPES: readonly string[] = [ec2.EbsDeviceVolumeType.IO1, ec2.EbsDeviceVolumeType.IO2];
/** Lowest values EC2 accepts (EbsBlockDevice); the highest change as EBS grows and are left to EC2. */
const MIN_IOPS: Record<string, number> = { io1: 100, io2: 100, gp3: 3000 };
const MIN_THROUGHPUT = 125;
const MAX_VOLUME_GIB = 65_536;

/**
 * Checks a volume's settings against EbsBlockDevice's rules. `volumeType` is
 * the type the volume ends up with, if known at synth time.
 */
export function validateVolume(scope: IConstruct, field: string, options: ImageVolumeOptions, volumeType: string | undefined): void {
  const size = options.volumeSize;
  if (size) {
    const gib = size.toGibibytes({ rounding: SizeRoundingBehavior.NONE });
    if (!Token.isUnresolved(gib) && (!Number.isInteger(gib) || gib < 1 || gib > MAX_VOLUME_GIB)) {
      throw new AmiValidationError(`${field}.volumeSize ${gib} GiB is not allowed: EBS volume sizes are whole GiB from 1 to ${MAX_VOLUME_GIB}.`, scope);
    }
  }
  const iops = options.iops;
  if (iops !== undefined && !Token.isUnresolved(iops)) {
    if (volumeType !== undefined && !IOPS_TYPES.includes(volumeType)) {
      throw new AmiValidationError(`${field}.iops is set, but volume type ${volumeType} takes no provisioned IOPS: only io1, io2 and gp3 do.`, scope);
    }
    const min = volumeType ? MIN_IOPS[volumeType] : 100;
    if (!Number.isInteger(iops) || iops < min) {
      throw new AmiValidationError(`${field}.iops ${iops} is not allowed: ${volumeType ?? 'a volume'} takes a whole number of IOPS of at least ${min}.`, scope);
    }
  } else if (iops === undefined && volumeType !== undefined && REQUIRED_IOPS_TYPES.includes(volumeType)) {
    throw new AmiValidationError(`${field}.iops is required for volume type ${volumeType}: EC2 provisions io1 and io2 volumes with the IOPS you give.`, scope);
  }
  const throughput = options.throughput;
  if (throughput !== undefined && !Token.isUnresolved(throughput)) {
    // Unknown type (an instance volume kept as it is): EC2 checks at deploy time.
    if (volumeType !== undefined && volumeType !== ec2.EbsDeviceVolumeType.GP3) {
      throw new AmiValidationError(`${field}.throughput is set, but volume type ${volumeType} takes no provisioned throughput: only gp3 does.`, scope);
    }
    if (!Number.isInteger(throughput) || throughput < MIN_THROUGHPUT) {
      throw new AmiValidationError(`${field}.throughput ${throughput} MiB/s is not allowed: gp3 takes a whole number of at least ${MIN_THROUGHPUT} MiB/s.`, scope);
    }
  }
}

/** The `Ebs` part of a block device mapping, as the handlers pass it on to EC2. */
export function renderVolume(options: ImageVolumeOptions, volumeType: string | undefined): Record<string, unknown> {
  return {
    VolumeSize: options.volumeSize?.toGibibytes(),
    VolumeType: volumeType,
    Iops: options.iops,
    Throughput: options.throughput,
    DeleteOnTermination: options.deleteOnTermination,
  };
}

/** AmiFromInstance's `blockDevices`, checked and rendered for CreateImage. */
export function renderInstanceBlockDevices(scope: IConstruct, devices: ImageBlockDevice[] | undefined): Record<string, unknown>[] | undefined {
  if (devices === undefined || devices.length === 0) return undefined;
  const seen = new Set<string>();
  return devices.map((device, i) => {
    const field = `blockDevices[${i}]`;
    if (!Token.isUnresolved(device.deviceName)) {
      if (seen.has(device.deviceName)) {
        throw new AmiValidationError(`${field}.deviceName "${device.deviceName}" is listed twice: give each device once.`, scope);
      }
      seen.add(device.deviceName);
    }
    if (device.exclude) {
      const given: Record<string, unknown> = {
        volumeSize: device.volumeSize,
        volumeType: device.volumeType,
        iops: device.iops,
        throughput: device.throughput,
        deleteOnTermination: device.deleteOnTermination,
      };
      const settings = Object.keys(given).filter((k) => given[k] !== undefined);
      if (settings.length > 0) {
        throw new AmiValidationError(`${field} excludes ${device.deviceName} and also sets ${settings.join(', ')}: an excluded device has no volume.`, scope);
      }
      return { DeviceName: device.deviceName, Exclude: true };
    }
    validateVolume(scope, field, device, device.volumeType);
    return { DeviceName: device.deviceName, ...renderVolume(device, device.volumeType) };
  });
}
