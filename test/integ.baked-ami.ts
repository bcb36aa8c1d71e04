/**
 * Bakes nginx onto Amazon Linux 2023 with BakedAmi (user data and cfn-init),
 * and asserts that the image is `available`, that the builder was terminated,
 * and that an instance launches from the image. Deploy with credentials:
 * `npx integ-runner --directory test --update-on-failed --no-update-workflow`; without them the
 * test command verifies the committed snapshot.
 */
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { expectAvailable, HAS_INTEG_TAGS, INTEG_TAGS, nginxSetup, publicVpc, smallInstance } from './integ-helpers';
import { BakedAmi } from '../src';

const app = new App();
const stack = new Stack(app, 'cdk-ami-integ-baked');

const vpc = publicVpc(stack);
const setup = nginxSetup();
const image = new BakedAmi(stack, 'Web', {
  machineImage: ec2.MachineImage.latestAmazonLinux2023(),
  vpc,
  vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
  instanceType: new ec2.InstanceType('t3.small'),
  blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(10, { volumeType: ec2.EbsDeviceVolumeType.GP3 }) }],
  init: ec2.CloudFormationInit.fromElements(ec2.InitFile.fromString('/etc/motd', 'Baked by cdk-ami\n')),
  setup,
  removalPolicy: RemovalPolicy.DESTROY,
  tags: INTEG_TAGS,
});
smallInstance(stack, 'FromImage', vpc, image);

const integ = new IntegTest(app, 'BakedAmi', { testCases: [stack], regions: ['us-east-1'] });
expectAvailable(integ, image.imageId, { Tags: HAS_INTEG_TAGS });
integ.assertions
  .awsApiCall('EC2', 'describeInstances', { InstanceIds: [image.builder.instanceId] })
  .expect(ExpectedResult.objectLike({
    Reservations: [{ Instances: [{ State: { Name: 'terminated' }, Tags: ExpectedResult.arrayWith([{ Key: 'cdk-ami:setup', Value: 'succeeded' }]) }] }],
  }))
  // The builder is terminated once the image is available: it may still be shutting down.
  .waitForAssertions({ totalTimeout: Duration.minutes(5), interval: Duration.seconds(15) });
