import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Ami, AmiFromInstance, DiskImageFormat, ImportDisk, ImportedAmi, RestoredAmi, StoredAmi } from '../../src';
import { nagFindings } from '../util';

/**
 * The provider's suppressions must match the findings whatever the user's
 * buckets and keys are: defined in the same stack (cdk-nag renders their ARNs
 * as <LogicalId.Arn>) or imported (concrete names and ARNs).
 */
function stackWith(bucketOf: (s: Stack) => s3.IBucket, keyOf: (s: Stack) => kms.IKey): Stack {
  const stack = new Stack(new App(), 'Nag', { env: { account: '123456789012', region: 'us-east-1' } });
  const bucket = bucketOf(stack);
  const key = keyOf(stack);
  const golden = new AmiFromInstance(stack, 'Golden', { instanceId: 'i-0123456789abcdef0' });
  const encrypted = golden.copyTo('EuWest1', 'eu-west-1', { encrypted: true, encryptionKey: kms.Key.fromKeyArn(stack, 'EuKey', 'arn:aws:kms:eu-west-1:123456789012:key/k') });
  const stored = new StoredAmi(stack, 'Stored', { image: encrypted, bucket, removalPolicy: RemovalPolicy.DESTROY, sourceEncryptionKey: key });
  new StoredAmi(stack, 'StoredExisting', { image: Ami.fromImageId(stack, 'Existing', 'ami-0123456789abcdef0'), bucket });
  new RestoredAmi(stack, 'Restored', { bucket, objectKey: stored.objectKey, defaultEbsEncryptionKey: key });
  new ImportedAmi(stack, 'Appliance', {
    disks: [ImportDisk.fromBucket(bucket, 'disk.vmdk', DiskImageFormat.VMDK), ImportDisk.fromSnapshot('snap-0123456789abcdef0')],
    imageName: 'appliance',
    encrypted: true,
    encryptionKey: key,
  });
  return stack;
}

/** Findings on what cdk-ami creates: the user's own bucket and key are theirs to configure. */
function cdkAmiFindings(stack: Stack): string[] {
  return nagFindings(stack).filter((f) => !/^\/Nag\/(Bucket|Key)\//.test(f));
}

describe('cdk-nag AwsSolutions finds nothing unexplained', () => {
  test('with a bucket and a key defined in the same stack', () => {
    expect(cdkAmiFindings(stackWith((s) => new s3.Bucket(s, 'Bucket'), (s) => new kms.Key(s, 'Key')))).toEqual([]);
  });

  test('with an imported bucket and key', () => {
    expect(cdkAmiFindings(stackWith(
      (s) => s3.Bucket.fromBucketName(s, 'Bucket', 'shared-amis'),
      (s) => kms.Key.fromKeyArn(s, 'Key', 'arn:aws:kms:us-east-1:999999999999:key/11111111-2222-3333-4444-555555555555'),
    ))).toEqual([]);
  });
});
