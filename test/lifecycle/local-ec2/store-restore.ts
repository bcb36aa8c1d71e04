/**
 * Storing and restoring AMIs with S3 (EC2): CreateStoreImageTask writes the image to the simulated S3,
 * DescribeStoreImageTasks reports tasks that advance by the polls that observe them (`storeBehaviour`),
 * CreateRestoreImageTask registers an image from a stored object.
 */
import { ActionHandler, Ec2Area, launchAttributes } from './ec2-area';
import { ApiError, invalidValue } from './errors';
import { FilterFields, filterPredicate, Tagged } from './filters';
import { assertWellFormedId, newId, newTags, now, readTags, readTagSpecifications, tagsFor, unique } from './helpers';
import { assertImageName } from './images';
import { itemSet, leaf, QueryParams } from './protocol';
import { LocalImage, LocalStoreTask, S3StoredObject, StoredImage, Tags } from './types';
import { RegionState, s3ObjectId } from './world';

/** Best knowledge; scripts usually set their own `failureReason`. */
const DEFAULT_STORE_FAILURE = 'InternalError: An internal error has occurred';

function renderStoreTask(task: LocalStoreTask): string {
  return [
    leaf('amiId', task.imageId),
    leaf('taskStartTime', task.taskStartTime),
    leaf('bucket', task.bucket),
    leaf('s3objectKey', task.objectKey),
    leaf('progressPercentage', task.progressPercentage),
    leaf('storeTaskState', task.state),
    leaf('storeTaskFailureReason', task.failureReason),
  ].join('');
}

/** What CreateStoreImageTask writes for an image: its launch attributes and devices, not its snapshots. */
function storedImageOf(image: LocalImage): StoredImage {
  return {
    name: image.name,
    description: image.description,
    ...launchAttributes(image),
    architecture: image.architecture ?? 'x86_64',
    rootDeviceName: image.rootDeviceName,
    blockDeviceMappings: image.blockDeviceMappings.map((device) => ({
      deviceName: device.deviceName,
      volumeSizeGiB: device.volumeSizeGiB,
      volumeType: device.volumeType,
      deleteOnTermination: device.deleteOnTermination,
    })),
    sourceImageId: image.imageId,
    sourceRegion: image.region,
  };
}

/** Store tasks have no tags; `Tagged` is satisfied with an empty record. */
type StoreTaskView = LocalStoreTask & Tagged;


const STORE_TASK_FILTERS: FilterFields<StoreTaskView> = {
  'task-state': (task) => [task.state],
  'bucket': (task) => [task.bucket],
};


export class StoreRestoreActions extends Ec2Area {
  readonly handlers: Readonly<Record<string, ActionHandler>> = {
    CreateStoreImageTask: (region, params) => this.createStoreImageTask(region, params),
    DescribeStoreImageTasks: (region, params) => this.describeStoreImageTasks(region, params),
    CreateRestoreImageTask: (region, params) => this.createRestoreImageTask(region, params),
  };

  /**
   * Starts storing an available AMI as `<imageId>.bin` in a bucket of the request's region. The task
   * progresses by DescribeStoreImageTasks polls; the object appears only when it completes.
   */
  private createStoreImageTask(region: RegionState, params: QueryParams): string {
    const image = this.liveImage(region, params.required('ImageId'));
    const bucket = params.required('Bucket');
    const objectTags = newTags(readTags(params.members('S3ObjectTag')));
    // Best knowledge for both errors below: EC2 documents the rules, not the errors.
    if (image.state !== 'available') {
      throw new ApiError('InvalidAMIID.Unavailable', `The image '${image.imageId}' is ${image.state}; only available images can be stored`);
    }
    const bucketRegion = this.world.bucketRegions.get(bucket);
    if (bucketRegion !== undefined && bucketRegion !== region.name) {
      throw invalidValue(`The bucket '${bucket}' is in ${bucketRegion}; it must be in ${region.name}, the Region of the request`);
    }
    const task: LocalStoreTask = {
      imageId: image.imageId,
      region: region.name,
      bucket,
      objectKey: `${image.imageId}.bin`,
      taskStartTime: now(),
      objectTags,
      image: storedImageOf(image),
      state: 'InProgress',
      progressPercentage: 0,
      behaviour: { ...this.world.storeBehaviour },
      polls: 0,
    };
    region.storeTasks.push(task);
    return leaf('objectKey', task.objectKey);
  }

  /**
   * With ImageId.N: the latest task of each listed AMI (filters are ignored then, as EC2 documents).
   * Without: every task, newest first, narrowed by `task-state` and `bucket` filters.
   */
  private describeStoreImageTasks(region: RegionState, params: QueryParams): string {
    const ids = unique(params.list('ImageId'));
    ids.forEach((id) => assertWellFormedId(id, 'ami', 'InvalidAMIID.Malformed'));
    const newestFirst = [...region.storeTasks].reverse();
    let result: LocalStoreTask[];
    if (ids.length > 0) {
      result = ids.map((id) => newestFirst.find((task) => task.imageId === id)).filter((task): task is LocalStoreTask => task !== undefined);
    } else {
      const matches = filterPredicate<StoreTaskView>(params, STORE_TASK_FILTERS);
      result = newestFirst.filter((task) => matches({ ...task, tags: newTags() }));
    }
    result.forEach((task) => this.pollStoreTask(task));
    return itemSet('storeImageTaskResultSet', result.map(renderStoreTask));
  }

  /** One poll of a store task: progress rises for `pendingPolls` polls, then it completes (writing the object) or fails. */
  private pollStoreTask(task: LocalStoreTask): void {
    if (task.state !== 'InProgress') return;
    task.polls++;
    const { pendingPolls, finalState, failureReason } = task.behaviour;
    if (task.polls <= pendingPolls) {
      task.progressPercentage = Math.floor((100 * task.polls) / (pendingPolls + 1));
      return;
    }
    task.state = finalState;
    if (finalState === 'Failed') {
      task.failureReason = failureReason ?? DEFAULT_STORE_FAILURE;
      return;
    }
    task.progressPercentage = 100;
    this.putObject(task.bucket, task.objectKey, task.image, task.objectTags);
  }

  /** Writes (or overwrites, as S3 does) an object of the simulated S3. */
  putObject(bucket: string, key: string, image: StoredImage, tags: Tags = newTags()): void {
    const object: S3StoredObject = { bucket, key, image: structuredClone(image), tags: newTags(Object.entries(tags)), lastModified: now() };
    this.world.s3.set(s3ObjectId(bucket, key), object);
  }

  /**
   * Restores a stored AMI into the request's region (any bucket region: restoring elsewhere is how
   * AMIs move between partitions). The image is created at once, `pending`, with a new snapshot per
   * stored device; it then follows `imageBehaviour` like any new image.
   */
  private createRestoreImageTask(region: RegionState, params: QueryParams): string {
    const bucket = params.required('Bucket');
    const objectKey = params.required('ObjectKey');
    const object = this.world.s3.get(s3ObjectId(bucket, objectKey));
    // Best knowledge: EC2 reads the object for you and reports a parameter error, not S3's NoSuchKey.
    if (!object) throw invalidValue(`The object '${objectKey}' does not exist in the S3 bucket '${bucket}'`);
    const stored = object.image;
    const name = params.get('Name') ?? stored.name;
    assertImageName(name);
    const specs = readTagSpecifications(params, ['image', 'snapshot']);
    this.assertNameFree(region, name);

    const imageId = newId('ami');
    const devices = this.devicesOnNewSnapshots(region, stored.blockDeviceMappings, () => ({
      description: `Created by CreateRestoreImageTask for ${imageId} from s3://${bucket}/${objectKey}`,
      encrypted: false,
      tags: tagsFor(specs, 'snapshot'),
    }));
    this.addImage(region, {
      imageId,
      name,
      description: stored.description,
      rootDeviceName: stored.rootDeviceName,
      blockDeviceMappings: devices,
      tags: tagsFor(specs, 'image'),
      // Stored AMIs are decrypted on the way to S3, so restored ones are not encrypted.
      encrypted: false,
      ...launchAttributes(stored),
    });
    return leaf('imageId', imageId);
  }
}
