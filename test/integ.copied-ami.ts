/**
 * Images a builder instance in us-east-1, copies the image to us-west-2
 * (encrypted) with its aws:ec2:image parameter there, and asserts from a
 * stack in us-west-2 that the copy is `available` and the parameter holds
 * its ID. Deploy with credentials:
 * `npx integ-runner --directory test --update-on-failed --no-update-workflow`; without them the test
 * command verifies the committed snapshot.
 */
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { expectAvailable, imageOfBuilder, INTEG_TAGS, publicVpc, smallInstance } from './integ-helpers';

const app = new App();
const stack = new Stack(app, 'cdk-ami-integ-copied', { env: { region: 'us-east-1' }, crossRegionReferences: true });

const vpc = publicVpc(stack);
const builder = smallInstance(stack, 'Builder', vpc);
const golden = imageOfBuilder(stack, 'Golden', builder);
const copy = golden.copyTo('UsWest2', 'us-west-2', {
  encrypted: true,
  removalPolicy: RemovalPolicy.DESTROY,
  tags: INTEG_TAGS,
  // Written in us-west-2 by the provider: CloudFormation only makes parameters in the stack's Region.
  parameterName: '/cdk-ami-integ/copied',
});

// Assertions run in the copy's Region: EC2 only describes an image there.
const assertions = new Stack(app, 'cdk-ami-integ-copied-assert', { env: { region: 'us-west-2' }, crossRegionReferences: true });
const integ = new IntegTest(app, 'CopiedAmi', { testCases: [stack], assertionStack: assertions, regions: ['us-east-1'] });
expectAvailable(integ, copy.imageId, {
  BlockDeviceMappings: ExpectedResult.arrayWith([ExpectedResult.objectLike({ Ebs: ExpectedResult.objectLike({ Encrypted: true }) })]),
});
integ.assertions
  .awsApiCall('SSM', 'getParameter', { Name: '/cdk-ami-integ/copied' })
  .expect(ExpectedResult.objectLike({ Parameter: { Value: copy.imageId, DataType: 'aws:ec2:image', Type: 'String' } }));
