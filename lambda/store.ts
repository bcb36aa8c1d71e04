import { CreateStoreImageTaskCommand, DescribeStoreImageTasksCommand, EC2Client, StoreImageTaskResult } from '@aws-sdk/client-ec2';
import { startOrAdopt } from './shared/adopt';
import { whenCapacityAllows } from './shared/backoff';
import { declareCalls } from './shared/calls';
import { ec2 } from './shared/clients';
import { AmiError, errorCode, errorMessage, sentence, toAmiError, withoutFullStop } from './shared/errors';
import { log } from './shared/log';
import { changed, required, str, tags } from './shared/props';
import { decideRemoval } from './shared/removal';
import { CustomResourceEvent, OnEventResponse } from './shared/types';
import { createOnlyProperties, ReceivedProperties, ResourceTypes, ResponseData } from '../src/private/contract';

/** The properties of a stored ami resource, by the contract. */
type Props = ReceivedProperties<typeof ResourceTypes.STORED_AMI>;

/** Custom::StoredAmi's calls: the store (onEvent) and its follow-up (isComplete). */
export const CALLS = declareCalls(
  'ec2:CreateStoreImageTask',
  'ec2:DescribeStoreImageTasks',
);

/**
 * Custom::StoredAmi — EC2 CreateStoreImageTask: one S3 object holding an AMI.
 * The physical ID is `s3://bucket/key`. Any change stores again (a new
 * object); the old object goes as the removal rule says (`shared/removal.ts`).
 */
export async function handleStore(event: CustomResourceEvent): Promise<OnEventResponse<typeof ResourceTypes.STORED_AMI>> {
  const props = event.ResourceProperties as Props;
  const region = required(props, 'Region');
  const client = ec2(region);
  switch (event.RequestType) {
    case 'Create':
      return store(client, props, region);
    case 'Update': {
      const before = event.OldResourceProperties as Props;
      if (changed(before, props, createOnlyProperties(ResourceTypes.STORED_AMI)).length > 0) return store(client, props, region);
      return { PhysicalResourceId: event.PhysicalResourceId, Data: dataOf(event.PhysicalResourceId, required(props, 'ImageId')) };
    }
    case 'Delete':
      await deleteStored(event.PhysicalResourceId, props, region, event.StackId);
      return { PhysicalResourceId: event.PhysicalResourceId };
  }
}

async function store(client: EC2Client, props: Props, region: string): Promise<OnEventResponse<typeof ResourceTypes.STORED_AMI>> {
  const imageId = required(props, 'ImageId');
  const bucket = required(props, 'Bucket');
  const requestedAt = Date.now();
  try {
    // The object is named after the image (`<image ID>.bin`, EC2 User Guide), so a retried store writes the same object.
    const objectKey = await startOrAdopt(
      async () => (await whenCapacityAllows('CreateStoreImageTask', region, () => client.send(new CreateStoreImageTaskCommand({
        ImageId: imageId,
        Bucket: bucket,
        S3ObjectTags: tags(props.ObjectTags).map((t) => ({ Key: t.Key, Value: t.Value })),
      })))).ObjectKey!,
      () => storeTaskSince(client, imageId, bucket, requestedAt),
      {
        leftover: 'could not look for a store task the failed start may have made; delete its object once it is written',
        names: { imageId, bucket, region },
      },
    );
    const physicalId = `s3://${bucket}/${objectKey}`;
    log('info', 'store task started', { imageId, bucket, objectKey, region });
    return { PhysicalResourceId: physicalId, Data: dataOf(physicalId, imageId) };
  } catch (err) {
    const message = errorMessage(err);
    switch (errorCode(err)) {
      case 'InvalidAMIID.NotFound':
      case 'InvalidAMIID.Unavailable':
        throw new AmiError(`Image ${imageId} cannot be stored: it does not exist in ${region} or is not available (${withoutFullStop(message)}).`);
      case 'InvalidParameterValue':
      case 'InvalidParameter':
        throw new AmiError(`EC2 refused to store image ${imageId} in s3://${bucket}: ${sentence(message)} The bucket must be in ${region} and writable by the provider.`);
      default:
        throw toAmiError(err, `CreateStoreImageTask of ${imageId} to s3://${bucket} in ${region}`);
    }
  }
}

/** EC2's clock may be a little behind the function's: a task that started this much before the request may be its own. */
const CLOCK_SKEW_MS = 5_000;

/**
 * The object key of a store task of this image to this bucket that started
 * with this request (store tasks carry no tags or token; an older task's
 * object may have been deleted since, so it is never taken for this one).
 */
async function storeTaskSince(client: EC2Client, imageId: string, bucket: string, requestedAt: number): Promise<string | undefined> {
  const task = await followStoreTask(client, imageId, bucket);
  const startedAt = task?.TaskStartTime?.getTime();
  if (startedAt === undefined || startedAt < requestedAt - CLOCK_SKEW_MS) return undefined;
  return task?.S3objectKey ?? `${imageId}.bin`;
}

function dataOf(physicalId: string, imageId: string): Required<ResponseData<typeof ResourceTypes.STORED_AMI>> {
  const [bucket, ...key] = physicalId.replace(/^s3:\/\//, '').split('/');
  return { ImageId: imageId, Bucket: bucket, ObjectKey: key.join('/') };
}

async function deleteStored(physicalId: string, props: Props, region: string, stackId: string): Promise<void> {
  if (!physicalId.startsWith('s3://')) return;
  const decision = await decideRemoval(str(props.RemovalPolicy), stackId, { noun: 'the object' });
  if (!decision.destroy) {
    log('info', 'stored object retained', { object: physicalId, reason: decision.reason });
    return;
  }
  const { Bucket, ObjectKey } = dataOf(physicalId, '');
  await loadS3().deleteObject(region, Bucket, ObjectKey);
  log('info', 'stored object deleted', { object: physicalId, reason: decision.reason });
}

/** In the Lambda bundle the S3 client is a file of its own beside index.js (external to esbuild). */
function loadS3(): typeof import('./s3-objects') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./s3-objects');
}

/**
 * One poll of a store task (waiter Target "store"): its progress goes to the
 * log; Completed finishes the wait, Failed fails it with EC2's reason.
 */
export async function followStoreTask(client: EC2Client, imageId: string, bucket: string): Promise<StoreImageTaskResult | undefined> {
  const out = await client.send(new DescribeStoreImageTasksCommand({ ImageIds: [imageId] }));
  return (out.StoreImageTaskResults ?? []).find((t) => t.Bucket === bucket);
}
