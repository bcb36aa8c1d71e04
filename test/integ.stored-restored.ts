/**
 * AmiFromInstance → StoredAmi (into a bucket) → RestoredAmi, in one stack, and
 * asserts that the restored image is `available`. Deploy with credentials:
 * `npx integ-runner --directory test --update-on-failed --no-update-workflow`; without them the
 * test command verifies the committed snapshot.
 */
import { IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { expectAvailable, imageOfBuilder, publicVpc, smallInstance } from './integ-helpers';
import { RestoredAmi } from '../src';

const app = new App();
const stack = new Stack(app, 'cdk-ami-integ-stored-restored');
const vpc = publicVpc(stack);
const builder = smallInstance(stack, 'Builder', vpc);
const golden = imageOfBuilder(stack, 'Golden', builder);
const bucket = new s3.Bucket(stack, 'Store', {
  enforceSSL: true, blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL, removalPolicy: RemovalPolicy.DESTROY, autoDeleteObjects: true,
});
const stored = golden.storeTo('Backup', bucket, { removalPolicy: RemovalPolicy.DESTROY });
const restored = new RestoredAmi(stack, 'Restored', { bucket: stored.bucket, objectKey: stored.objectKey, removalPolicy: RemovalPolicy.DESTROY });

const integ = new IntegTest(app, 'StoredRestored', { testCases: [stack], regions: ['us-east-1'] });
expectAvailable(integ, restored.imageId);
