/**
 * What the integ tests (test/integ.*.ts) build alike: the cheap network, the
 * builder instance an image is made from, that image, an instance launched
 * from the result, and the check that an image is available. Construct IDs
 * are the ones the committed snapshots hold, so their templates do not change.
 * Not an integ test itself: integ-runner only runs files named integ.*.ts.
 */
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AmiFromInstance, AmiFromInstanceProps, InstanceAction } from '../src';

/** The tag the integ images carry, so a person can find leftovers in the account. */
export const INTEG_TAGS = { purpose: 'cdk-ami-integ' };

/** The EC2 form of INTEG_TAGS, as DescribeImages returns it among an image's tags. */
export const HAS_INTEG_TAGS = ExpectedResult.arrayWith([{ Key: 'purpose', Value: INTEG_TAGS.purpose }]);

/** A public subnet and no NAT gateway keep the tests cheap: instances reach the EC2 API and package mirrors directly. */
export function publicVpc(stack: Stack): ec2.Vpc {
  return new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 1,
    natGateways: 0,
    subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }],
  });
}

/** The page the nginx of NGINX_SETUP serves: what a test of the image looks for. */
export const NGINX_PAGE = 'baked by cdk-ami';

/** BakedAmi's setup of the integ tests: nginx on Amazon Linux 2023, serving NGINX_PAGE. */
export function nginxSetup(): ec2.UserData {
  const setup = ec2.UserData.forLinux();
  setup.addCommands(
    'set -euo pipefail',
    'dnf install -y nginx',
    'systemctl enable nginx',
    `echo "${NGINX_PAGE}" > /usr/share/nginx/html/index.html`,
  );
  return setup;
}

/** A t3.micro Amazon Linux 2023 instance with IMDSv2 only: what these tests image. */
export function smallInstance(
  stack: Stack, id: string, vpc: ec2.IVpc, machineImage: ec2.IMachineImage = ec2.MachineImage.latestAmazonLinux2023(),
): ec2.Instance {
  return new ec2.Instance(stack, id, {
    vpc,
    instanceType: new ec2.InstanceType('t3.micro'),
    machineImage,
    requireImdsv2: true,
  });
}

/** The builder's root volume only, the builder terminated once imaged, and nothing left behind on destroy. */
export function imageOfBuilder(stack: Stack, id: string, builder: ec2.Instance, props: Partial<AmiFromInstanceProps> = {}): AmiFromInstance {
  return new AmiFromInstance(stack, id, {
    instance: builder,
    includeDataVolumes: false,
    instanceAction: InstanceAction.TERMINATE,
    removalPolicy: RemovalPolicy.DESTROY,
    ...props,
  });
}

/** Expects DescribeImages to find the image available, with what else `image` names. */
export function expectAvailable(integ: IntegTest, imageId: string, image: Record<string, unknown> = {}): void {
  integ.assertions
    .awsApiCall('EC2', 'describeImages', { ImageIds: [imageId] })
    .expect(ExpectedResult.objectLike({ Images: [{ State: 'available', ...image }] }));
}
