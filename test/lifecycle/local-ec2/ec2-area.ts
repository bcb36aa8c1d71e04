/**
 * What every area of the EC2 Query API shares: the action handler type, the lookups that answer EC2's
 * NotFound errors (instances, images, snapshots), and making images and snapshots, whose state advances
 * by the DescribeImages polls that observe them.
 */
import { ApiError, imageNotFound, instanceNotFound, missingParameter, snapshotNotFound } from './errors';
import { assertWellFormedId, newId, now, unique } from './helpers';
import { QueryParams } from './protocol';
import { ImageDevice, LocalImage, LocalInstance, LocalSnapshot, SnapshotState, StateReason, StoredImageDevice, Tags } from './types';
import { RegionState, World } from './world';

const DEFAULT_FAILURE: StateReason = {
  code: 'Server.InternalError',
  message: 'Server.InternalError: An internal error has occurred',
};

/** An EC2 action: the inner XML of its response; throws ApiError for service errors. */
export type ActionHandler = (region: RegionState, params: QueryParams) => string;

/** What an action that makes an image knows of it; the rest (state, dates, governance) starts at its defaults. */
type NewImage = Readonly<Pick<LocalImage,
  | 'imageId' | 'name' | 'description' | 'rootDeviceName' | 'blockDeviceMappings' | 'tags' | 'encrypted' | 'kmsKeyId'
  | 'sourceInstanceId' | 'sourceImageId' | 'sourceRegion' | 'architecture' | 'virtualizationType' | 'bootMode'
  | 'enaSupport' | 'imdsSupport' | 'tpmSupport' | 'uefiData' | 'platform' | 'noDevices'>>;

/** The launch attributes an image passes on to its copies and stored objects. */
type LaunchAttributes = Pick<LocalImage, 'architecture' | 'virtualizationType' | 'bootMode' | 'enaSupport' | 'imdsSupport' | 'tpmSupport' | 'platform'>;

export function launchAttributes(source: LaunchAttributes): LaunchAttributes {
  return {
    architecture: source.architecture,
    virtualizationType: source.virtualizationType,
    bootMode: source.bootMode,
    enaSupport: source.enaSupport,
    imdsSupport: source.imdsSupport,
    tpmSupport: source.tpmSupport,
    platform: source.platform,
  };
}

interface NewSnapshot {
  readonly volumeId: string;
  readonly volumeSizeGiB: number;
  readonly description: string;
  readonly encrypted: boolean;
  readonly kmsKeyId?: string;
  readonly tags: Tags;
  /** Default `pending`: the snapshot completes with the image that creates it. */
  readonly state?: SnapshotState;
}

/** One area of the EC2 Query API: the actions it serves (`handlers`), on the lookups and mutations all areas share. */
export abstract class Ec2Area {
  abstract readonly handlers: Readonly<Record<string, ActionHandler>>;

  constructor(protected readonly world: World) {}

  protected requiredList(params: QueryParams, prefix: string): string[] {
    const values = unique(params.list(prefix));
    if (values.length === 0) throw missingParameter(`${prefix}.1`);
    return values;
  }

  protected instancesById(region: RegionState, ids: readonly string[]): LocalInstance[] {
    ids.forEach((id) => assertWellFormedId(id, 'i', 'InvalidInstanceID.Malformed'));
    const missing = ids.filter((id) => !region.instances.has(id));
    if (missing.length > 0) throw instanceNotFound(missing);
    return ids.map((id) => region.instances.get(id) as LocalInstance);
  }

  /**
   * The images DescribeImages names by ID. IDs that never existed answer NotFound, and so do
   * images still inside their eventual-consistency window; each such call uses up one of its
   * NotFound answers.
   */
  protected imagesNamedInDescribe(region: RegionState, ids: readonly string[]): LocalImage[] {
    const hidden = ids.map((id) => region.images.get(id)).filter((image): image is LocalImage => (image?.notFoundCalls ?? 0) > 0);
    hidden.forEach((image) => image.notFoundCalls--);
    const missing = ids.filter((id) => !region.images.has(id) || hidden.some((image) => image.imageId === id));
    if (missing.length > 0) throw imageNotFound(missing);
    return ids.map((id) => region.images.get(id) as LocalImage);
  }

  protected snapshotById(region: RegionState, snapshotId: string): LocalSnapshot {
    assertWellFormedId(snapshotId, 'snap', 'InvalidSnapshotID.Malformed');
    const snapshot = region.snapshots.get(snapshotId);
    if (!snapshot) throw snapshotNotFound([snapshotId]);
    return snapshot;
  }

  /** An image that exists and is not deregistered (EC2 no longer knows deregistered ones). */
  protected liveImage(region: RegionState, imageId: string): LocalImage {
    assertWellFormedId(imageId, 'ami', 'InvalidAMIID.Malformed');
    const image = region.images.get(imageId);
    if (!image || image.state === 'deregistered') throw imageNotFound([imageId]);
    return image;
  }

  protected assertNameFree(region: RegionState, name: string): void {
    const holder = [...region.images.values()].find((image) => image.name === name && image.state !== 'deregistered');
    if (holder) throw new ApiError('InvalidAMIName.Duplicate', `AMI name ${name} is already in use by AMI ${holder.imageId}`);
  }

  protected addImage(region: RegionState, fields: NewImage): LocalImage {
    const image: LocalImage = {
      ...fields,
      region: region.name,
      ownerId: region.account,
      imageLocation: `${region.account}/${fields.name}`,
      creationDate: now(),
      state: 'pending',
      launchPermissions: [],
      deregistrationProtection: 'disabled',
      behaviour: { ...this.world.imageBehaviour },
      polls: 0,
      notFoundCalls: this.world.notFoundAfterCreate,
    };
    region.images.set(image.imageId, image);
    return image;
  }

  protected addSnapshot(region: RegionState, fields: NewSnapshot): LocalSnapshot {
    const snapshot: LocalSnapshot = {
      ...fields,
      snapshotId: newId('snap'),
      region: region.name,
      ownerId: region.account,
      startTime: now(),
      state: fields.state ?? 'pending',
      progress: fields.state === 'completed' ? 100 : 0,
      createVolumePermissions: [],
    };
    region.snapshots.set(snapshot.snapshotId, snapshot);
    return snapshot;
  }

  /**
   * The devices of an image that CopyImage or CreateRestoreImageTask makes: each on a new snapshot of
   * the same size. Such snapshots have no volume of their own; EC2 shows a placeholder.
   */
  protected devicesOnNewSnapshots<D extends StoredImageDevice>(region: RegionState, devices: readonly D[],
    snapshotOf: (device: D) => Omit<NewSnapshot, 'volumeId' | 'volumeSizeGiB'>): ImageDevice[] {
    return devices.map((device) => {
      const snapshot = this.addSnapshot(region, { volumeId: 'vol-ffffffff', volumeSizeGiB: device.volumeSizeGiB, ...snapshotOf(device) });
      return {
        deviceName: device.deviceName,
        snapshotId: snapshot.snapshotId,
        volumeSizeGiB: device.volumeSizeGiB,
        volumeType: device.volumeType,
        deleteOnTermination: device.deleteOnTermination,
      };
    });
  }

  /** DeregisterImage's per-snapshot outcome; a snapshot another image still uses is skipped, as EC2 does. */
  protected deleteAssociatedSnapshot(region: RegionState, image: LocalImage, snapshotId: string): string {
    if (!region.snapshots.has(snapshotId)) return 'client-error';
    if (region.imageUsing(snapshotId, image)) return 'skipped';
    region.snapshots.delete(snapshotId);
    return 'success';
  }

  /** One DescribeImages poll of a pending image: progress rises, and after `pendingPolls` polls it settles. */
  protected poll(region: RegionState, image: LocalImage): void {
    if (image.state !== 'pending') return;
    image.polls++;
    const { pendingPolls, finalState, stateReason } = image.behaviour;
    // Only the snapshots the image is still creating follow it: RegisterImage's are completed already.
    const snapshots = image.blockDeviceMappings
      .map((device) => region.snapshots.get(device.snapshotId))
      .filter((snapshot): snapshot is LocalSnapshot => snapshot?.state === 'pending');
    if (image.polls <= pendingPolls) {
      const progress = Math.floor((100 * image.polls) / (pendingPolls + 1));
      snapshots.forEach((snapshot) => { snapshot.progress = progress; });
      return;
    }
    image.state = finalState;
    if (finalState === 'available') {
      snapshots.forEach((snapshot) => { snapshot.state = 'completed'; snapshot.progress = 100; });
    } else {
      image.stateReason = stateReason ?? DEFAULT_FAILURE;
      snapshots.forEach((snapshot) => { snapshot.state = 'error'; snapshot.statusMessage = image.stateReason?.message; });
    }
  }
}
