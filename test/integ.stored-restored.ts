/**
 * AmiFromInstance → StoredAmi (into a bucket) → RestoredAmi, in one stack, and
 * asserts that the restored image is `available`. Deploy with credentials:
 * `npx integ-runner --directory test --update-on-failed`; without them the
 * test command verifies the committed snapshot.
 */
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AmiFromInstance, InstanceAction, RestoredAmi } from '../src';

const app = new App();
const stack = new Stack(app, 'cdk-ami-integ-stored-restored');
const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0, subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }] });
const builder = new ec2.Instance(stack, 'Builder', {
  vpc,
  instanceType: new ec2.InstanceType('t3.micro'),
  machineImage: ec2.MachineImage.latestAmazonLinux2023(),
  requireImdsv2: true,
});
const golden = new AmiFromInstance(stack, 'Golden', {
  instance: builder, includeDataVolumes: false, instanceAction: InstanceAction.TERMINATE, removalPolicy: RemovalPolicy.DESTROY,
});
const bucket = new s3.Bucket(stack, 'Store', {
  enforceSSL: true, blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL, removalPolicy: RemovalPolicy.DESTROY, autoDeleteObjects: true,
});
const stored = golden.storeTo('Backup', bucket, { removalPolicy: RemovalPolicy.DESTROY });
const restored = new RestoredAmi(stack, 'Restored', { bucket: stored.bucket, objectKey: stored.objectKey, removalPolicy: RemovalPolicy.DESTROY });

const integ = new IntegTest(app, 'StoredRestored', { testCases: [stack], regions: ['us-east-1'] });
integ.assertions
  .awsApiCall('EC2', 'describeImages', { ImageIds: [restored.imageId] })
  .expect(ExpectedResult.objectLike({ Images: [{ State: 'available' }] }));
