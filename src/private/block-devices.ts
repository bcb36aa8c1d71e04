import { Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { IConstruct } from 'constructs';
import { AmiValidationError } from './errors';

/**
 * The image constructs take aws-cdk-lib's `ec2.BlockDevice` (`BlockDeviceVolume.ebs`,
 * `ebsFromSnapshot`, `mappingEnabled: false`) and check at synth time what each EC2 action accepts
 * of it; the handlers receive the mappings in the contract's own shape.
 */

const IOPS_TYPES: readonly string[] = [ec2.EbsDeviceVolumeType.IO1, ec2.EbsDeviceVolumeType.IO2, ec2.EbsDeviceVolumeType.GP3];
const REQUIRED_IOPS_TYPES: readonly string[] = [ec2.EbsDeviceVolumeType.IO1, ec2.EbsDeviceVolumeType.IO2];
/** Lowest values EC2 accepts (EbsBlockDevice); the highest change as EBS grows and are left to EC2. */
const MIN_IOPS: Record<string, number> = { io1: 100, io2: 100, gp3: 3000 };
const MIN_THROUGHPUT = 125;
const MAX_VOLUME_GIB = 65_536;

/** What one image construct accepts in `blockDevices`, and why it refuses the rest. */
export interface BlockDeviceRules {
  /** The construct, for the messages. */
  readonly construct: string;
  /** The prop that lists the devices, for the messages. @default 'blockDevices' */
  readonly field?: string;
  /** Whether a device may be left out (`mappingEnabled: false`). */
  readonly noDevice: boolean;
  /** `required`: every volume is `ebsFromSnapshot`; `refused`: none is; `optional`: either. */
  readonly snapshots: 'required' | 'refused' | 'optional';
  /** Why `encrypted` and `kmsKey` are refused: the image's encryption comes from elsewhere. */
  readonly encryptionFrom: string;
  /** The volume type the volumes get when they name none, if known at synth time. */
  readonly defaultVolumeType?: string;
  /** Why `throughput` is refused, where it is. */
  readonly throughputRefused?: string;
}

/**
 * Checks `blockDevices` against EbsBlockDevice's rules and the construct's: each device once,
 * EBS volumes only, sizes, IOPS and throughput EC2 accepts.
 */
export function validateBlockDevices(scope: IConstruct, devices: ec2.BlockDevice[], rules: BlockDeviceRules): void {
  const seen = new Set<string>();
  devices.forEach((device, i) => {
    const field = `${rules.field ?? 'blockDevices'}[${i}]`;
    const name = device.deviceName;
    if (!Token.isUnresolved(name)) {
      if (seen.has(name)) throw new AmiValidationError(`${field}.deviceName "${name}" is listed twice: give each device once.`, scope);
      seen.add(name);
    }
    if (device.mappingEnabled === false) {
      if (!rules.noDevice) {
        throw new AmiValidationError(`${field} (${name}) has mappingEnabled false, but ${rules.construct} has no device to leave out: remove it from blockDevices.`, scope);
      }
      return;
    }
    const ebs = device.volume.ebsDevice;
    if (!ebs) {
      throw new AmiValidationError(`${field} (${name}) is an instance store volume (${device.volume.virtualName}): ${rules.construct} takes EBS volumes only (BlockDeviceVolume.ebs or ebsFromSnapshot).`, scope);
    }
    if (rules.snapshots === 'required' && ebs.snapshotId === undefined) {
      throw new AmiValidationError(`${field} (${name}) has no snapshot: every volume of an ${rules.construct} comes from one (BlockDeviceVolume.ebsFromSnapshot).`, scope);
    }
    if (rules.snapshots === 'refused' && ebs.snapshotId !== undefined) {
      throw new AmiValidationError(`${field} (${name}) is from snapshot ${ebs.snapshotId}, but ${rules.construct} takes no snapshot: use BlockDeviceVolume.ebs(size, options).`, scope);
    }
    if (ebs.encrypted !== undefined || ebs.kmsKey !== undefined) {
      throw new AmiValidationError(`${field} (${name}) sets ${ebs.kmsKey ? 'kmsKey' : 'encrypted'}, but ${rules.encryptionFrom}: remove it, and encrypt a copy with copyTo(region, { encrypted: true }).`, scope);
    }
    if (ebs.throughput !== undefined && rules.throughputRefused) {
      throw new AmiValidationError(`${field} (${name}) sets throughput, but ${rules.throughputRefused}.`, scope);
    }
    validateVolume(scope, field, ebs, ebs.volumeType ?? rules.defaultVolumeType);
  });
}

/** Checks a volume's settings against EbsBlockDevice's rules; `volumeType` is the type it ends up with, if known. */
function validateVolume(scope: IConstruct, field: string, ebs: ec2.EbsDeviceProps, volumeType: string | undefined): void {
  const gib = ebs.volumeSize;
  if (gib !== undefined && !Token.isUnresolved(gib) && (!Number.isInteger(gib) || gib < 1 || gib > MAX_VOLUME_GIB)) {
    throw new AmiValidationError(`${field} volume size ${gib} GiB is not allowed: EBS volume sizes are whole GiB from 1 to ${MAX_VOLUME_GIB}.`, scope);
  }
  const iops = ebs.iops;
  if (iops !== undefined && !Token.isUnresolved(iops)) {
    if (volumeType !== undefined && !IOPS_TYPES.includes(volumeType)) {
      throw new AmiValidationError(`${field} iops is set, but volume type ${volumeType} takes no provisioned IOPS: only io1, io2 and gp3 do.`, scope);
    }
    const min = volumeType ? MIN_IOPS[volumeType] : 100;
    if (!Number.isInteger(iops) || iops < min) {
      throw new AmiValidationError(`${field} iops ${iops} is not allowed: ${volumeType ?? 'a volume'} takes a whole number of IOPS of at least ${min}.`, scope);
    }
  } else if (iops === undefined && volumeType !== undefined && REQUIRED_IOPS_TYPES.includes(volumeType)) {
    throw new AmiValidationError(`${field} iops is required for volume type ${volumeType}: EC2 provisions io1 and io2 volumes with the IOPS you give.`, scope);
  }
  const throughput = ebs.throughput;
  if (throughput !== undefined && !Token.isUnresolved(throughput)) {
    // Unknown type (an instance volume kept as it is): EC2 checks at deploy time.
    if (volumeType !== undefined && volumeType !== ec2.EbsDeviceVolumeType.GP3) {
      throw new AmiValidationError(`${field} throughput is set, but volume type ${volumeType} takes no provisioned throughput: only gp3 does.`, scope);
    }
    if (!Number.isInteger(throughput) || throughput < MIN_THROUGHPUT) {
      throw new AmiValidationError(`${field} throughput ${throughput} MiB/s is not allowed: gp3 takes a whole number of at least ${MIN_THROUGHPUT} MiB/s.`, scope);
    }
  }
}

/** The `Ebs` settings of a device, as the handlers pass them on to EC2 (the contract's shape). */
export function renderVolume(device: ec2.BlockDevice, defaultVolumeType?: string): Record<string, unknown> {
  const ebs = device.volume.ebsDevice ?? {};
  return {
    VolumeSize: ebs.volumeSize,
    VolumeType: ebs.volumeType ?? defaultVolumeType,
    Iops: ebs.iops,
    Throughput: ebs.throughput,
    DeleteOnTermination: ebs.deleteOnTermination,
  };
}

/** AmiFromInstance's `blockDevices`, checked and rendered for CreateImage. */
export function renderInstanceBlockDevices(scope: IConstruct, devices: ec2.BlockDevice[] | undefined): Record<string, unknown>[] | undefined {
  if (devices === undefined || devices.length === 0) return undefined;
  validateBlockDevices(scope, devices, {
    construct: 'AmiFromInstance',
    noDevice: true,
    snapshots: 'refused',
    encryptionFrom: 'an image of an instance is encrypted as the instance\'s volumes are',
  });
  return devices.map((device) => (device.mappingEnabled === false
    ? { DeviceName: device.deviceName, Exclude: true }
    : { DeviceName: device.deviceName, ...renderVolume(device) }));
}
