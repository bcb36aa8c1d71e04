/**
 * The simulated world: per account and Region a `RegionState` (instances, images, snapshots, tasks,
 * stacks, parameters), and the account's S3 objects, which are global; plus the behaviours tests set.
 */
import type { SnapshotImportBehaviour } from './import-snapshot';
import { ACCOUNT_ID, FastLaunchBehaviour, ImageBehaviour, ImageBlockPublicAccessState, ImportBehaviour, LocalImage, LocalImportTask, LocalInstance, LocalLaunchTemplate, LocalParameter, LocalSnapshot, LocalStack, LocalStoreTask, S3StoredObject, StoreBehaviour } from './types';

const DEFAULT_BEHAVIOUR: ImageBehaviour = { pendingPolls: 2, finalState: 'available' };

const DEFAULT_STORE_BEHAVIOUR: StoreBehaviour = { pendingPolls: 2, finalState: 'Completed' };

export const DEFAULT_IMPORT_BEHAVIOUR: ImportBehaviour = { pollsPerStep: 1, finalStatus: 'completed' };

interface CopyTokenRecord {
  readonly imageId: string;
  readonly sourceImageId: string;
  readonly sourceRegion: string;
}

/** Everything one region holds; regions never see each other's resources (CopyImage reads its source region explicitly). */
export class RegionState {
  readonly instances = new Map<string, LocalInstance>();
  readonly images = new Map<string, LocalImage>();
  /** Deleted snapshots are removed: EC2 answers NotFound for them. */
  readonly snapshots = new Map<string, LocalSnapshot>();
  /** CopyImage ClientToken → the copy it started, so a retried request creates nothing new. */
  readonly copyTokens = new Map<string, CopyTokenRecord>();
  readonly stacks = new Map<string, LocalStack>();
  /** Store tasks, oldest first (DescribeStoreImageTasks lists them newest first). */
  readonly storeTasks: LocalStoreTask[] = [];
  /** Import tasks by ID; an expired task is removed. */
  readonly importTasks = new Map<string, LocalImportTask>();
  /** ImportImage ClientToken → the task it started and a fingerprint of the request. */
  readonly importTokens = new Map<string, { readonly importTaskId: string; readonly fingerprint: string }>();
  imageBlockPublicAccess: ImageBlockPublicAccessState = 'unblocked';
  /** Launch templates by ID, with their versions (the default version is 1). */
  readonly launchTemplates = new Map<string, LocalLaunchTemplate>();
  /** Parameter Store, by name. */
  readonly parameters = new Map<string, LocalParameter>();
  /** aws:ec2:image writes SSM has accepted but not validated yet, by name. */
  readonly pendingParameters = new Map<string, { parameter: LocalParameter; readsLeft: number }>();

  constructor(readonly name: string, readonly account: string) {}

  /** The first non-deregistered image that still references the snapshot. */
  imageUsing(snapshotId: string, except?: LocalImage): LocalImage | undefined {
    return [...this.images.values()].find((image) => image !== except
      && image.state !== 'deregistered'
      && image.blockDeviceMappings.some((device) => device.snapshotId === snapshotId));
  }
}

/** The key of an object in the simulated S3. */
export function s3ObjectId(bucket: string, key: string): string {
  return JSON.stringify([bucket, key]);
}

export const DEFAULT_FAST_LAUNCH_BEHAVIOUR: FastLaunchBehaviour = { transitionPolls: 1 };

export class World {
  imageBehaviour: ImageBehaviour = DEFAULT_BEHAVIOUR;
  storeBehaviour: StoreBehaviour = DEFAULT_STORE_BEHAVIOUR;
  importBehaviour: ImportBehaviour = DEFAULT_IMPORT_BEHAVIOUR;
  fastLaunchBehaviour: FastLaunchBehaviour = DEFAULT_FAST_LAUNCH_BEHAVIOUR;
  /** How ImportSnapshot tasks progress (see import-snapshot.ts). */
  snapshotImportBehaviour: SnapshotImportBehaviour = {};
  notFoundAfterCreate = 0;
  /** GetParameter reads that still see the old value after an aws:ec2:image PutParameter (SSM validates it asynchronously). */
  parameterValidationReads = 0;
  /** The account's S3 objects: global, not per region. */
  readonly s3 = new Map<string, S3StoredObject>();
  /** Buckets whose region was set; any other bucket is taken to be in whatever region asks. */
  readonly bucketRegions = new Map<string, string>();
  /** By account and region: accounts never see each other's resources, but through sharing. */
  private readonly regions = new Map<string, RegionState>();

  region(name: string, account = ACCOUNT_ID): RegionState {
    const key = `${account}/${name}`;
    let state = this.regions.get(key);
    if (!state) {
      state = new RegionState(name, account);
      this.regions.set(key, state);
    }
    return state;
  }

  /** The region `name` of every account that has used it. */
  regionInAllAccounts(name: string): RegionState[] {
    return [...this.regions.values()].filter((state) => state.name === name);
  }

  /** Image IDs are unique across regions, so one can be found without its region. */
  findImage(imageId: string): LocalImage | undefined {
    for (const region of this.regions.values()) {
      const image = region.images.get(imageId);
      if (image) return image;
    }
    return undefined;
  }

  /** Import task IDs are unique across regions, like image IDs. */
  findImportTask(importTaskId: string): LocalImportTask | undefined {
    for (const region of this.regions.values()) {
      const task = region.importTasks.get(importTaskId);
      if (task) return task;
    }
    return undefined;
  }

  reset(): void {
    this.regions.clear();
    this.s3.clear();
    this.bucketRegions.clear();
    this.imageBehaviour = DEFAULT_BEHAVIOUR;
    this.storeBehaviour = DEFAULT_STORE_BEHAVIOUR;
    this.importBehaviour = DEFAULT_IMPORT_BEHAVIOUR;
    this.fastLaunchBehaviour = DEFAULT_FAST_LAUNCH_BEHAVIOUR;
    this.snapshotImportBehaviour = {};
    this.notFoundAfterCreate = 0;
    this.parameterValidationReads = 0;
  }
}
