/**
 * Deploys a builder instance, images it with AmiFromInstance, and asserts that
 * the image is `available` and that an instance launches from it. Deploy with
 * credentials: `npx integ-runner --directory test --update-on-failed`; without
 * them the test command verifies the committed snapshot.
 */
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AmiFromInstance, InstanceAction } from '../src';

const app = new App();
const stack = new Stack(app, 'cdk-ami-integ-from-instance');

const vpc = new ec2.Vpc(stack, 'Vpc', {
  maxAzs: 1,
  natGateways: 0,
  subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }],
});
const builder = new ec2.Instance(stack, 'Builder', {
  vpc,
  instanceType: new ec2.InstanceType('t3.micro'),
  machineImage: ec2.MachineImage.latestAmazonLinux2023(),
  requireImdsv2: true,
});
const image = new AmiFromInstance(stack, 'Image', {
  instance: builder,
  includeDataVolumes: false,
  instanceAction: InstanceAction.TERMINATE,
  removalPolicy: RemovalPolicy.DESTROY,
  tags: { purpose: 'cdk-ami-integ' },
});
new ec2.Instance(stack, 'FromImage', {
  vpc,
  instanceType: new ec2.InstanceType('t3.micro'),
  machineImage: image,
  requireImdsv2: true,
});

const integ = new IntegTest(app, 'AmiFromInstance', { testCases: [stack], regions: ['us-east-1'] });
integ.assertions
  .awsApiCall('EC2', 'describeImages', { ImageIds: [image.imageId] })
  .expect(ExpectedResult.objectLike({
    Images: [{ State: 'available', Tags: ExpectedResult.arrayWith([{ Key: 'purpose', Value: 'cdk-ami-integ' }]) }],
  }));
