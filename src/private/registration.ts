import { Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { renderVolume, validateBlockDevices } from './block-devices';
import { RenderedProperties, ResourceTypes, V2 } from './contract';
import { AmiValidationError } from './errors';
import { validateBootMode } from './validation';
import { BootMode, ImageArchitecture } from '../enums';
import { RegistrationOptions } from '../registration';

/** RegisterImage's own default is standard (magnetic). */
const DEFAULT_VOLUME_TYPE = ec2.EbsDeviceVolumeType.GP3;

/** Who registers, for the messages. */
export interface Registrant {
  /** The construct, e.g. `AmiFromSnapshot`. */
  readonly construct: string;
  /** The prop that lists the volumes, e.g. `blockDevices`. */
  readonly field: string;
  /** What to give when the list is empty, e.g. an example root device. */
  readonly example: string;
}

/**
 * The one RegisterImage of `AmiFromSnapshot` and `AmiFromDisks`: validates at
 * synth what RegisterImage would refuse (boot mode and TPM, an empty or
 * twice-mapped device list, volume settings, UEFI data) and renders the
 * Custom::AmiFromSnapshot properties. The first device is the root; every
 * device is `ebsFromSnapshot` (an ID or a token).
 */
export function registrationProperties(
  scope: Construct, options: RegistrationOptions, devices: ec2.BlockDevice[], registrant: Registrant,
): RenderedProperties<typeof ResourceTypes.AMI_FROM_SNAPSHOT> {
  const architecture = options.architecture ?? ImageArchitecture.X86_64;
  validateBootMode(scope, { bootMode: options.bootMode, tpmSupport: options.tpmSupport, architecture });
  const [root, ...data] = devices;
  if (!root) {
    throw new AmiValidationError(`${registrant.field} is empty: give at least the root device, e.g. ${registrant.example}.`, scope);
  }
  validateBlockDevices(scope, devices, {
    construct: registrant.construct,
    field: registrant.field,
    noDevice: false,
    snapshots: 'required',
    encryptionFrom: 'a registered image is encrypted as its snapshots are',
    defaultVolumeType: DEFAULT_VOLUME_TYPE,
  });
  validateUefiData(scope, options.uefiData);
  const snapshots = devices.map((d) => d.volume.ebsDevice!.snapshotId!);
  return {
    RootSnapshotId: snapshots[0],
    RootDeviceName: root.deviceName,
    RootVolume: hasSettings(root) ? renderVolume(root, DEFAULT_VOLUME_TYPE) : undefined,
    DataVolumes: data.length === 0 ? undefined : data.map((d, i) => ({
      DeviceName: d.deviceName, SnapshotId: snapshots[i + 1], ...renderVolume(d, DEFAULT_VOLUME_TYPE),
    })),
    UefiData: options.uefiData,
    Architecture: architecture,
    // TPM needs UEFI, which arm64 boots by default: say so, as RegisterImage requires.
    BootMode: options.bootMode ?? (options.tpmSupport ? BootMode.UEFI : undefined),
    EnaSupport: options.enaSupport ?? true,
    TpmSupport: options.tpmSupport ? V2 : undefined,
    VolumeType: DEFAULT_VOLUME_TYPE,
  };
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
