/**
 * The S3 side of StoredAmi, bundled on its own (assets/provider/s3-objects.js):
 * only deleting a stored image's object needs the S3 client.
 */
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { declareCalls } from './shared/calls';

/** Deleting a stored object (onEvent, RemovalPolicy.DESTROY). */
export const CALLS = declareCalls(
  's3:DeleteObject',
);

export async function deleteObject(region: string, bucket: string, key: string): Promise<void> {
  const s3 = new S3Client({ region, retryMode: 'adaptive', maxAttempts: 10 });
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
}
