/**
 * AMIs (EC2): CreateImage, CopyImage (within and across Regions and accounts, idempotent by ClientToken),
 * RegisterImage, DescribeImages and DeregisterImage, with the EBS block device rules they share and how
 * an image is rendered in DescribeImages.
 */
import { ActionHandler, Ec2Area, launchAttributes } from './ec2-area';
import { ApiError, assertOneOf, imageNotFound, invalidValue, snapshotNotFound } from './errors';
import { FilterFields, filterPredicate } from './filters';
import { assertWellFormedId, newId, newTags, ownersInclude, readTagSpecifications, tagsFor, unique } from './helpers';
import { itemSet, leaf, node, QueryParams, renderTags } from './protocol';
import { ImageDevice, InstanceStateName, LocalImage } from './types';
import { RegionState } from './world';

const ARCHITECTURES = new Set(['i386', 'x86_64', 'arm64', 'x86_64_mac', 'arm64_mac']);
export const BOOT_MODES = new Set(['legacy-bios', 'uefi', 'uefi-preferred']);
const VIRTUALIZATION_TYPES = new Set(['hvm', 'paravirtual']);
const VOLUME_TYPES = new Set(['standard', 'io1', 'io2', 'gp2', 'gp3', 'sc1', 'st1']);
/** RegisterImage UefiData: at most 64,000 characters (EC2 API reference). */
const UEFI_DATA_MAX_LENGTH = 64_000;
/** The volume types that take provisioned IOPS (EbsBlockDevice.Iops). */
const IOPS_VOLUME_TYPES = new Set(['io1', 'io2', 'gp3']);

/** CreateImage accepts only instances that have settled in one of these states. */
const IMAGEABLE_STATES: ReadonlySet<InstanceStateName> = new Set(['running', 'stopped']);

/** EC2's documented AMI name rule. */
const IMAGE_NAME_PATTERN = /^[a-zA-Z0-9()[\] ./\-'@_]{3,128}$/;

/**
 * The `Ebs.*` members of a block device mapping, checked as EC2's
 * EbsBlockDevice documents them: a volume may grow, not shrink; IOPS only for
 * io1, io2 and gp3 (and required for io1 and io2); throughput only for gp3.
 * The messages are best knowledge.
 */
function ebsSettings(mapping: QueryParams, sourceSizeGiB: number, source: string, defaultType: string) {
  const volumeSizeGiB = mapping.int('Ebs.VolumeSize') ?? sourceSizeGiB;
  if (volumeSizeGiB < sourceSizeGiB) {
    throw new ApiError('InvalidBlockDeviceMapping',
      `Volume of size ${volumeSizeGiB}GB is smaller than ${source}, expect size >= ${sourceSizeGiB}GB`);
  }
  const volumeType = mapping.get('Ebs.VolumeType') ?? defaultType;
  assertOneOf('volumeType', volumeType, VOLUME_TYPES);
  const iops = mapping.int('Ebs.Iops');
  if (iops !== undefined && !IOPS_VOLUME_TYPES.has(volumeType)) {
    throw new ApiError('InvalidParameterCombination', `The parameter iops is not supported for ${volumeType} volumes.`);
  }
  if (iops === undefined && (volumeType === 'io1' || volumeType === 'io2')) {
    throw new ApiError('InvalidParameterCombination', `The parameter iops must be specified for ${volumeType} volumes.`);
  }
  const throughput = mapping.int('Ebs.Throughput');
  if (throughput !== undefined && volumeType !== 'gp3') {
    throw new ApiError('InvalidParameterCombination', `The parameter throughput is not supported for ${volumeType} volumes.`);
  }
  return { volumeSizeGiB, volumeType, iops, throughput, deleteOnTermination: mapping.bool('Ebs.DeleteOnTermination') ?? true };
}

function renderImage(image: LocalImage): string {
  const mappings = image.blockDeviceMappings.map((device) => leaf('deviceName', device.deviceName) + node('ebs',
    leaf('snapshotId', device.snapshotId),
    leaf('volumeSize', device.volumeSizeGiB),
    leaf('deleteOnTermination', device.deleteOnTermination ?? true),
    leaf('volumeType', device.volumeType ?? 'gp3'),
    leaf('iops', device.iops),
    leaf('throughput', device.throughput),
    leaf('encrypted', device.encrypted ?? image.encrypted),
  ));
  const suppressed = (image.noDevices ?? []).map((deviceName) => leaf('deviceName', deviceName) + node('noDevice'));
  const windows = image.platform === 'windows';
  const stateReason = image.stateReason
    ? node('stateReason', leaf('code', image.stateReason.code), leaf('message', image.stateReason.message))
    : '';
  return [
    leaf('imageId', image.imageId),
    leaf('imageLocation', image.imageLocation),
    leaf('imageState', image.state),
    leaf('imageOwnerId', image.ownerId),
    leaf('creationDate', image.creationDate),
    leaf('isPublic', isPublic(image)),
    leaf('architecture', image.architecture ?? 'x86_64'),
    leaf('imageType', 'machine'),
    leaf('platform', image.platform),
    leaf('sourceInstanceId', image.sourceInstanceId),
    leaf('sourceImageId', image.sourceImageId),
    leaf('sourceImageRegion', image.sourceRegion),
    leaf('name', image.name),
    leaf('description', image.description),
    leaf('rootDeviceType', 'ebs'),
    leaf('rootDeviceName', image.rootDeviceName),
    itemSet('blockDeviceMapping', [...mappings, ...suppressed]),
    leaf('virtualizationType', image.virtualizationType ?? 'hvm'),
    leaf('hypervisor', 'xen'),
    leaf('enaSupport', image.enaSupport),
    leaf('bootMode', image.bootMode),
    leaf('tpmSupport', image.tpmSupport),
    leaf('imdsSupport', image.imdsSupport),
    leaf('platformDetails', windows ? 'Windows' : 'Linux/UNIX'),
    leaf('usageOperation', windows ? 'RunInstances:0002' : 'RunInstances'),
    renderTags(image.tags),
    stateReason,
    leaf('deprecationTime', image.deprecationTime),
    leaf('deregistrationProtection', protectionValue(image)),
  ].join('');
}

/** The protection as EC2 reports it: during the cooldown, `disabled-until` and the time the cooldown ends. */
export function protectionValue(image: LocalImage): string {
  return image.deregistrationProtection === 'disabled-until'
    ? `disabled-until ${image.protectionCooldownEnds ?? ''}`
    : image.deregistrationProtection;
}

export function assertImageName(name: string): void {
  if (!IMAGE_NAME_PATTERN.test(name)) {
    throw new ApiError('InvalidAMIName.Malformed',
      "AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/', '[', ']', ' ', ''', '@' and '_'");
  }
}

const IMAGE_FILTERS: FilterFields<LocalImage> = {
  'name': (image) => [image.name],
  'state': (image) => [image.state],
  'image-id': (image) => [image.imageId],
  'description': (image) => [image.description],
  'owner-id': (image) => [image.ownerId],
  'architecture': (image) => [image.architecture ?? 'x86_64'],
  'image-type': () => ['machine'],
  'root-device-type': () => ['ebs'],
  'root-device-name': (image) => [image.rootDeviceName],
  'virtualization-type': (image) => [image.virtualizationType ?? 'hvm'],
  'platform': (image) => [image.platform],
  'is-public': (image) => [String(isPublic(image))],
  'source-image-id': (image) => [image.sourceImageId],
  'source-instance-id': (image) => [image.sourceInstanceId],
  'block-device-mapping.snapshot-id': (image) => image.blockDeviceMappings.map((device) => device.snapshotId),
  'block-device-mapping.device-name': (image) => image.blockDeviceMappings.map((device) => device.deviceName),
};


function isPublic(image: LocalImage): boolean {
  return image.launchPermissions.some((permission) => permission.group === 'all');
}


export class ImageActions extends Ec2Area {
  readonly handlers: Readonly<Record<string, ActionHandler>> = {
    CreateImage: (region, params) => this.createImage(region, params),
    CopyImage: (region, params) => this.copyImage(region, params),
    DescribeImages: (region, params) => this.describeImages(region, params),
    DeregisterImage: (region, params) => this.deregisterImage(region, params),
    RegisterImage: (region, params) => this.registerImage(region, params),
  };

  private createImage(region: RegionState, params: QueryParams): string {
    const instanceId = params.required('InstanceId');
    const name = params.required('Name');
    const [instance] = this.instancesById(region, [instanceId]);
    assertImageName(name);
    if (!IMAGEABLE_STATES.has(instance.state)) {
      throw new ApiError('IncorrectInstanceState', `The instance '${instanceId}' is not in a state from which it can be imaged.`);
    }
    this.assertNameFree(region, name);
    const specs = readTagSpecifications(params, ['image', 'snapshot']);
    const excluded = new Set<string>();
    const modified = new Map<string, QueryParams>();
    for (const mapping of params.members('BlockDeviceMapping')) {
      const deviceName = mapping.required('DeviceName');
      if (excluded.has(deviceName) || modified.has(deviceName)) {
        throw new ApiError('InvalidBlockDeviceMapping', `The device '${deviceName}' is used in more than one block-device mapping`);
      }
      if (mapping.has('NoDevice')) {
        if (deviceName === instance.rootDeviceName) {
          // Best knowledge for the message: the root volume is what the image boots from.
          throw new ApiError('InvalidBlockDeviceMapping', `The root device '${deviceName}' cannot be suppressed with NoDevice`);
        }
        excluded.add(deviceName);
      } else {
        if (!instance.volumes.some((volume) => volume.deviceName === deviceName)) {
          // EC2 would add an empty volume; this endpoint's images always come from a snapshot.
          throw new ApiError('InvalidBlockDeviceMapping', `The block device mapping for ${deviceName} names no volume of instance '${instanceId}' on this local endpoint`);
        }
        modified.set(deviceName, mapping);
      }
    }

    // Every mapping is checked before anything is created: a refused CreateImage leaves nothing behind.
    const settings = new Map(instance.volumes.filter((volume) => modified.has(volume.deviceName))
      .map((volume) => [volume.deviceName, ebsSettings(modified.get(volume.deviceName)!, volume.sizeGiB, `volume ${volume.volumeId}`, 'gp3')]));

    const imageId = newId('ami');
    const devices = instance.volumes.filter((volume) => !excluded.has(volume.deviceName)).map((volume): ImageDevice => {
      const snapshot = this.addSnapshot(region, {
        volumeId: volume.volumeId,
        volumeSizeGiB: volume.sizeGiB,
        description: `Created by CreateImage(${instanceId}) for ${imageId}`,
        encrypted: false,
        tags: tagsFor(specs, 'snapshot'),
      });
      const changed = settings.get(volume.deviceName);
      if (!changed) return { deviceName: volume.deviceName, snapshotId: snapshot.snapshotId, volumeSizeGiB: volume.sizeGiB };
      return { deviceName: volume.deviceName, snapshotId: snapshot.snapshotId, ...changed };
    });
    this.addImage(region, {
      imageId,
      name,
      description: params.get('Description'),
      rootDeviceName: instance.rootDeviceName,
      blockDeviceMappings: devices,
      tags: tagsFor(specs, 'image'),
      encrypted: false,
      sourceInstanceId: instanceId,
      architecture: 'x86_64',
      virtualizationType: 'hvm',
      enaSupport: true,
      platform: instance.platform,
    });
    return leaf('imageId', imageId);
  }

  private copyImage(region: RegionState, params: QueryParams): string {
    const sourceImageId = params.required('SourceImageId');
    const sourceRegion = params.required('SourceRegion');
    const name = params.required('Name');
    assertWellFormedId(sourceImageId, 'ami', 'InvalidAMIID.Malformed');
    assertImageName(name);

    const token = params.get('ClientToken');
    const earlier = token ? region.copyTokens.get(token) : undefined;
    if (earlier) {
      if (earlier.sourceImageId !== sourceImageId || earlier.sourceRegion !== sourceRegion) {
        throw new ApiError('IdempotentParameterMismatch', `Client token '${token}' was already used with different parameters.`);
      }
      return leaf('imageId', earlier.imageId);
    }

    const owner = this.world.regionInAllAccounts(sourceRegion).find((state) => state.images.has(sourceImageId));
    const source = owner?.images.get(sourceImageId);
    if (!owner || !source || source.state === 'deregistered') throw imageNotFound([sourceImageId]);
    if (owner.account !== region.account) this.assertSharedForCopy(owner, source, region.account);
    if (source.state !== 'available') {
      throw new ApiError('InvalidAMIID.Unavailable', `AMI '${sourceImageId}' is ${source.state}, and cannot be copied`);
    }
    this.assertNameFree(region, name);

    const specs = readTagSpecifications(params, ['image', 'snapshot']);
    const encrypted = (params.bool('Encrypted') ?? false) || source.encrypted;
    const kmsKeyId = encrypted ? params.get('KmsKeyId') ?? source.kmsKeyId ?? 'alias/aws/ebs' : undefined;
    const imageId = newId('ami');
    const devices = this.devicesOnNewSnapshots(region, source.blockDeviceMappings, (device) => ({
      description: `Copied for DestinationAmi ${imageId} from SourceAmi ${sourceImageId} for SourceSnapshot ${device.snapshotId}`,
      encrypted,
      kmsKeyId,
      tags: tagsFor(specs, 'snapshot'),
    }));
    const copiedTags = params.bool('CopyImageTags') ? Object.entries(source.tags) : [];
    this.addImage(region, {
      imageId,
      name,
      description: params.get('Description') ?? source.description,
      rootDeviceName: source.rootDeviceName,
      blockDeviceMappings: devices,
      tags: newTags([...copiedTags, ...Object.entries(tagsFor(specs, 'image'))]),
      encrypted,
      kmsKeyId,
      sourceImageId,
      sourceRegion,
      ...launchAttributes(source),
      noDevices: source.noDevices,
    });
    if (token) region.copyTokens.set(token, { imageId, sourceImageId, sourceRegion });
    return leaf('imageId', imageId);
  }

  /**
   * Another account's image can be copied only when it is shared with the caller: launch
   * permission on the image (else EC2 does not show it: NotFound), and createVolumePermission on
   * every snapshot, for EC2 reads them as the caller (best knowledge: the snapshot is as invisible
   * to the caller as an unshared image).
   */
  private assertSharedForCopy(owner: RegionState, source: LocalImage, account: string): void {
    const launchable = source.launchPermissions.some((p) => p.userId === account || p.group === 'all');
    if (!launchable) throw imageNotFound([source.imageId]);
    for (const device of source.blockDeviceMappings) {
      const snapshot = owner.snapshots.get(device.snapshotId);
      const readable = snapshot?.createVolumePermissions.some((p) => p.userId === account || p.group === 'all');
      if (!readable) throw snapshotNotFound([device.snapshotId]);
    }
  }

  private describeImages(region: RegionState, params: QueryParams): string {
    const ids = unique(params.list('ImageId'));
    ids.forEach((id) => assertWellFormedId(id, 'ami', 'InvalidAMIID.Malformed'));
    const candidates = ids.length > 0 ? this.imagesNamedInDescribe(region, ids) : [...region.images.values()];
    const owned = ownersInclude(params.list('Owner'), region.account);
    const matches = filterPredicate(params, IMAGE_FILTERS);
    // A deregistered image is simply absent, as on EC2 a while after deregistration; a
    // disabled one is left out unless asked for (DescribeImages IncludeDisabled).
    const includeDisabled = params.bool('IncludeDisabled') ?? false;
    const result = candidates.filter((image) => owned && image.state !== 'deregistered'
      && (includeDisabled || image.state !== 'disabled') && matches(image));
    result.forEach((image) => this.poll(region, image));
    return itemSet('imagesSet', result.map(renderImage));
  }

  private deregisterImage(region: RegionState, params: QueryParams): string {
    const imageId = params.required('ImageId');
    assertWellFormedId(imageId, 'ami', 'InvalidAMIID.Malformed');
    const image = region.images.get(imageId);
    if (!image) throw imageNotFound([imageId]);
    if (image.state === 'deregistered') throw new ApiError('InvalidAMIID.Unavailable', `The image '${imageId}' is no longer available`);
    if (image.deregistrationProtection === 'disabled-until') {
      throw new ApiError('OperationNotPermitted',
        `Deregistration protection for image ${imageId} stays in effect until its cooldown ends at ${image.protectionCooldownEnds ?? ''}`);
    }
    if (image.deregistrationProtection !== 'disabled') {
      throw new ApiError('OperationNotPermitted', `Deregistration protection is enabled for image ${imageId}`);
    }
    // Deregistering a pending image is how a copy is cancelled, so any state is accepted.
    image.state = 'deregistered';
    image.fastLaunch = undefined;
    if (!params.bool('DeleteAssociatedSnapshots')) return leaf('return', true);
    const results = image.blockDeviceMappings.map((device) => {
      const code = this.deleteAssociatedSnapshot(region, image, device.snapshotId);
      return leaf('snapshotId', device.snapshotId) + leaf('returnCode', code);
    });
    return leaf('return', true) + itemSet('deleteSnapshotResultSet', results);
  }

  /**
   * Registers an EBS-backed AMI from existing snapshots. RegisterImage has no ClientToken and creates
   * no snapshots: the image references the given ones (so they are InUse while it is registered), and
   * TagSpecification takes `image` only. Defaults are EC2's: architecture `i386`, virtualization
   * `paravirtual`, volume type `gp2`, DeleteOnTermination true, volume size the snapshot's.
   */
  private registerImage(region: RegionState, params: QueryParams): string {
    const name = params.required('Name');
    assertImageName(name);
    if (params.has('ImageLocation')) {
      throw invalidValue('Instance store-backed AMIs (ImageLocation) are not supported by this local endpoint');
    }
    const architecture = params.get('Architecture') ?? 'i386';
    const virtualizationType = params.get('VirtualizationType') ?? 'paravirtual';
    const bootMode = params.get('BootMode');
    const imdsSupport = params.get('ImdsSupport');
    const tpmSupport = params.get('TpmSupport');
    assertOneOf('Architecture', architecture, ARCHITECTURES);
    assertOneOf('VirtualizationType', virtualizationType, VIRTUALIZATION_TYPES);
    assertOneOf('BootMode', bootMode, BOOT_MODES);
    assertOneOf('ImdsSupport', imdsSupport, new Set(['v2.0']));
    assertOneOf('TpmSupport', tpmSupport, new Set(['v2.0']));
    if (tpmSupport !== undefined && bootMode !== 'uefi') {
      // Best knowledge: EC2 documents the rule, not the error.
      throw new ApiError('InvalidParameterCombination', 'NitroTPM support (TpmSupport) requires the uefi boot mode.');
    }
    const uefiData = params.get('UefiData');
    if (uefiData !== undefined && (uefiData.length > UEFI_DATA_MAX_LENGTH || !/^[A-Za-z0-9+/]*={0,2}$/.test(uefiData))) {
      throw invalidValue(`Value for parameter uefiData is invalid: it must be base64 of at most ${UEFI_DATA_MAX_LENGTH} characters.`);
    }
    const specs = readTagSpecifications(params, ['image']);
    const rootDeviceName = params.required('RootDeviceName');

    const devices: ImageDevice[] = [];
    const noDevices: string[] = [];
    const seen = new Set<string>();
    for (const mapping of params.members('BlockDeviceMapping')) {
      const deviceName = mapping.required('DeviceName');
      if (seen.has(deviceName)) {
        throw new ApiError('InvalidBlockDeviceMapping', `The device '${deviceName}' is used in more than one block-device mapping`);
      }
      seen.add(deviceName);
      if (mapping.has('NoDevice')) {
        noDevices.push(deviceName);
        continue;
      }
      devices.push(this.registeredDevice(region, mapping, deviceName));
    }
    if (!devices.some((device) => device.deviceName === rootDeviceName)) {
      throw invalidValue(`Value (${rootDeviceName}) for parameter rootDeviceName is invalid. The root device must be an EBS volume in the block device mapping.`);
    }
    this.assertNameFree(region, name);

    const imageId = newId('ami');
    const root = region.snapshots.get(devices.find((device) => device.deviceName === rootDeviceName)?.snapshotId ?? '');
    this.addImage(region, {
      imageId,
      name,
      description: params.get('Description'),
      rootDeviceName,
      blockDeviceMappings: devices,
      tags: tagsFor(specs, 'image'),
      encrypted: root?.encrypted ?? false,
      kmsKeyId: root?.kmsKeyId,
      architecture,
      virtualizationType,
      bootMode,
      enaSupport: params.bool('EnaSupport'),
      imdsSupport,
      tpmSupport,
      uefiData,
      noDevices: noDevices.length > 0 ? noDevices : undefined,
    });
    return leaf('imageId', imageId);
  }

  /** One `BlockDeviceMapping.N` with `Ebs`: the snapshot must exist here and be completed; the volume may grow, not shrink. */
  private registeredDevice(region: RegionState, mapping: QueryParams, deviceName: string): ImageDevice {
    const snapshotId = mapping.get('Ebs.SnapshotId');
    if (snapshotId === undefined) {
      // EC2 would register an empty volume here; images of this endpoint always reference a snapshot.
      throw new ApiError('InvalidBlockDeviceMapping', `The block device mapping for ${deviceName} needs Ebs.SnapshotId (or NoDevice) on this local endpoint`);
    }
    const snapshot = this.snapshotById(region, snapshotId);
    if (snapshot.state !== 'completed') {
      // Best knowledge for the message.
      throw new ApiError('IncorrectState', `Snapshot '${snapshotId}' is not in a completed state (state: ${snapshot.state})`);
    }
    return { deviceName, snapshotId, ...ebsSettings(mapping, snapshot.volumeSizeGiB, `snapshot '${snapshotId}'`, 'gp2'), encrypted: snapshot.encrypted };
  }
}
