/**
 * The README's rollout recipe, deployed: BakedAmi bakes nginx onto Amazon Linux
 * 2023 and tests the image with the group's launch settings (a launch template
 * of its own), and an Auto Scaling group with a rolling update takes the image
 * only then; each of the group's instances signals CloudFormation that it
 * serves, so the stack completes only if they do. Asserts that the image is
 * `available`, that the group's launch template version launches it, and that
 * the group has its two instances in service. Deploy with credentials:
 * `npx integ-runner --directory test --update-on-failed --no-update-workflow`;
 * without them the test command verifies the committed snapshot.
 */
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Aws, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { expectAvailable, HAS_INTEG_TAGS, INTEG_TAGS, NGINX_PAGE, nginxSetup, publicVpc } from './integ-helpers';
import { BakedAmi, ImageTest } from '../src';

const app = new App();
const stack = new Stack(app, 'cdk-ami-integ-image-test');

const vpc = publicVpc(stack);
const vpcSubnets = { subnetType: ec2.SubnetType.PUBLIC };
// What the group's instances launch with, but the image: the test launches with the same.
const securityGroup = new ec2.SecurityGroup(stack, 'WebSg', { vpc });
const settings: ec2.LaunchTemplateProps = { instanceType: new ec2.InstanceType('t3.micro'), securityGroup, requireImdsv2: true };

const setup = nginxSetup();
const check = ec2.UserData.forLinux();
check.addCommands('set -euo pipefail', 'systemctl is-active nginx', `curl -fsS --retry 5 --retry-connrefused http://localhost/ | grep -q "${NGINX_PAGE}"`);

const image = new BakedAmi(stack, 'Web', {
  machineImage: ec2.MachineImage.latestAmazonLinux2023(),
  vpc,
  vpcSubnets,
  setup,
  test: ImageTest.script(check, {
    launchTemplate: new ec2.LaunchTemplate(stack, 'TestTemplate', settings),
    vpc,
    vpcSubnets,
    securityGroup,
  }),
  removalPolicy: RemovalPolicy.DESTROY,
  tags: INTEG_TAGS,
});

const userData = ec2.UserData.forLinux();
const role = new iam.Role(stack, 'WebRole', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
const template = new ec2.LaunchTemplate(stack, 'WebTemplate', { ...settings, machineImage: image, userData, role });
const group = new autoscaling.AutoScalingGroup(stack, 'WebGroup', {
  vpc,
  vpcSubnets,
  launchTemplate: template,
  minCapacity: 2,
  maxCapacity: 3,
  updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({ maxBatchSize: 1, minInstancesInService: 2 }),
  signals: autoscaling.Signals.waitForMinCapacity({ timeout: Duration.minutes(10) }),
});
const groupId = stack.getLogicalId(group.node.defaultChild as autoscaling.CfnAutoScalingGroup);
userData.addCommands(
  `curl -fsS --retry 10 --retry-connrefused http://localhost/ | grep -q "${NGINX_PAGE}"; status=$?`,
  `/opt/aws/bin/cfn-signal --exit-code $status --stack ${Aws.STACK_NAME} --resource ${groupId} --region ${Aws.REGION}`,
);

const integ = new IntegTest(app, 'ImageTest', { testCases: [stack], regions: ['us-east-1'] });
expectAvailable(integ, image.imageId, { Tags: HAS_INTEG_TAGS });
integ.assertions
  .awsApiCall('EC2', 'describeLaunchTemplateVersions', { LaunchTemplateId: template.launchTemplateId, Versions: [template.latestVersionNumber] })
  .expect(ExpectedResult.objectLike({ LaunchTemplateVersions: [{ LaunchTemplateData: { ImageId: image.imageId } }] }));
integ.assertions
  .awsApiCall('AutoScaling', 'describeAutoScalingGroups', { AutoScalingGroupNames: [group.autoScalingGroupName] })
  .expect(ExpectedResult.objectLike({
    AutoScalingGroups: [{ Instances: [{ LifecycleState: 'InService' }, { LifecycleState: 'InService' }] }],
  }));
