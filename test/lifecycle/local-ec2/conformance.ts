/**
 * What the endpoint's conformance tests (`*.test.ts` in this folder) share. They prove the local
 * endpoint against the REAL AWS SDK v3 clients: every request is serialized by the SDK's ec2Query /
 * awsQuery / awsJson1_1 protocol, signed, sent over HTTP and parsed back.
 */
import { CreateImageCommand, DescribeImagesCommand, EC2Client, Image } from '@aws-sdk/client-ec2';
import { fastRetryStrategy, FastRetryStrategy, LocalEc2 } from '.';

export const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
/** A tag value full of XML specials: it must survive our escaping and the SDK's XML parser. */
export const MARKUP = '<a & "b"> \'c\'';

/** The endpoint under test, once {@link useLocalEc2} has started it. */
export let server: LocalEc2;

/** One endpoint per test file: started before its tests, reset before each, stopped after them. */
export function useLocalEc2(): void {
  beforeAll(async () => {
    server = await LocalEc2.start();
  });

  afterAll(async () => {
    await server.stop();
  });

  beforeEach(() => {
    server.reset();
  });
}

/** A real EC2 client for `region`, retrying like the SDK but without its slow backoff. */
export function ec2(region = 'us-east-1', retryStrategy: FastRetryStrategy = fastRetryStrategy(3)): EC2Client {
  return new EC2Client({ region, endpoint: server.url, credentials: CREDENTIALS, retryStrategy });
}

/** The rejection of a promise that must fail. */
export async function failure(promise: Promise<unknown>): Promise<Error & { $metadata: { httpStatusCode?: number; attempts?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { $metadata: { httpStatusCode?: number; attempts?: number } };
  }
  throw new Error('expected the call to fail');
}

export async function describeImage(client: EC2Client, imageId: string): Promise<Image> {
  const { Images } = await client.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
  expect(Images).toHaveLength(1);
  return Images![0];
}

/** Creates an image from a fresh one-volume instance and returns its ID. */
export async function createImage(client: EC2Client, region: string, name: string, tags: Record<string, string> = {}): Promise<string> {
  const instanceId = server.addInstance({ region });
  const Tags = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
  const { ImageId } = await client.send(new CreateImageCommand({
    InstanceId: instanceId,
    Name: name,
    TagSpecifications: Tags.length > 0 ? [{ ResourceType: 'image', Tags }] : undefined,
  }));
  return ImageId!;
}

/** Polls until the image leaves `pending`, the way a waiter would. */
export async function pollUntilSettled(client: EC2Client, imageId: string): Promise<Image> {
  for (let poll = 0; poll < 20; poll++) {
    const image = await describeImage(client, imageId);
    if (image.State !== 'pending') return image;
  }
  throw new Error(`${imageId} stayed pending`);
}
