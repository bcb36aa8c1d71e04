import { Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { RenderedProperties, ResourceTypes, V2 } from './contract';
import { AmiValidationError } from './errors';
import { validateBootMode } from './validation';
import { ImageVolumeOptions, renderVolume, validateVolume } from '../block-devices';
import { BootMode, ImageArchitecture } from '../enums';
import { RegistrationOptions } from '../registration';

const DEFAULT_ROOT_DEVICE = '/dev/xvda';

/** A data volume to register: its device, its snapshot (an ID or a token) and its EBS settings. */
export interface RegisteredVolume extends ImageVolumeOptions {
  readonly deviceName: string;
  readonly snapshotId: string;
  /** What the user calls it, for messages (e.g. `dataVolumes[0]`, `dataDisks[1]`). */
  readonly field: string;
  /** What the volume is made from, for messages (a snapshot ID, a disk's location). */
  readonly source: string;
}

/**
 * Validates at synth what RegisterImage would refuse (boot mode and TPM,
 * devices mapped twice, volume settings, UEFI data) and renders the
 * Custom::AmiFromSnapshot properties of the registration.
 */
export function registrationProperties(
  scope: Construct, options: RegistrationOptions, rootSnapshotId: string, dataVolumes: RegisteredVolume[],
): RenderedProperties<typeof ResourceTypes.AMI_FROM_SNAPSHOT> {
  const architecture = options.architecture ?? ImageArchitecture.X86_64;
  validateBootMode(scope, { bootMode: options.bootMode, tpmSupport: options.tpmSupport, architecture });
  const rootDeviceName = options.rootDeviceName ?? DEFAULT_ROOT_DEVICE;
  validateDeviceNames(scope, rootDeviceName, dataVolumes);
  const volumeType = options.volumeType ?? ec2.EbsDeviceVolumeType.GP3;
  if (options.rootVolume) validateVolume(scope, 'rootVolume', options.rootVolume, options.rootVolume.volumeType ?? volumeType);
  dataVolumes.forEach((v) => validateVolume(scope, v.field, v, v.volumeType ?? volumeType));
  validateUefiData(scope, options.uefiData);
  return {
    RootSnapshotId: rootSnapshotId,
    RootDeviceName: rootDeviceName,
    RootVolume: options.rootVolume ? renderVolume(options.rootVolume, options.rootVolume.volumeType ?? volumeType) : undefined,
    DataVolumes: dataVolumes.length > 0 ? dataVolumes.map((v) => ({
      DeviceName: v.deviceName, SnapshotId: v.snapshotId, ...renderVolume(v, v.volumeType ?? volumeType),
    })) : undefined,
    UefiData: options.uefiData,
    Architecture: architecture,
    // TPM needs UEFI, which arm64 boots by default: say so, as RegisterImage requires.
    BootMode: options.bootMode ?? (options.tpmSupport ? BootMode.UEFI : undefined),
    EnaSupport: options.enaSupport ?? true,
    TpmSupport: options.tpmSupport ? V2 : undefined,
    VolumeType: volumeType,
  };
}

/** Each device is mapped once: a data volume on the root device (or twice on one device) is refused by RegisterImage. */
function validateDeviceNames(scope: Construct, rootDeviceName: string, dataVolumes: RegisteredVolume[]): void {
  const seen = new Set([rootDeviceName]);
  for (const volume of dataVolumes) {
    if (Token.isUnresolved(volume.deviceName)) continue;
    if (seen.has(volume.deviceName)) {
      const what = volume.deviceName === rootDeviceName ? 'the root device name' : 'already mapped to another data volume';
      const field = volume.field.replace(/\[\d+\]$/, '');
      throw new AmiValidationError(
        `${field} deviceName "${volume.deviceName}" (${volume.source}) is ${what}: every device of an image is mapped once; give the data volume another device such as /dev/sdf.`, scope);
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
