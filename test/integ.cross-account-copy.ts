/**
 * Two stacks: a CrossAccountCopyRole in the target account, and a stack in the
 * source account that images a builder instance and has the target account copy
 * the image into us-west-2 (encrypted with its default EBS key), publishing its
 * ID there in an SSM parameter of the target account. Asserts from the
 * source account that the source is shared with the target account while the
 * copy exists. Both stacks are env-agnostic, as integ-runner requires; the
 * accounts are parameters. Deploy with credentials for both accounts:
 * `cdk deploy cdk-ami-integ-copy-role --parameters SourceAccount=<source>` in the
 * target account, then `cdk deploy cdk-ami-integ-cross-account --parameters TargetAccount=<target>`
 * in the source account; without credentials the test command verifies the
 * committed snapshot.
 */
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Aws, CfnParameter, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { imageOfBuilder, INTEG_TAGS, publicVpc, smallInstance } from './integ-helpers';
import { CrossAccountCopyRole } from '../src';

const app = new App();
const SOURCE_STACK = 'cdk-ami-integ-cross-account';
const ROLE_NAME = 'cdk-ami-integ-copies';

// The target account: the role the source stack's provider assumes.
const roleStack = new Stack(app, 'cdk-ami-integ-copy-role', { env: { region: 'us-east-1' } });
const sourceAccount = new CfnParameter(roleStack, 'SourceAccount', { description: 'The account of the copying stack', allowedPattern: '\\d{12}' });
const PARAMETER_NAME = '/cdk-ami-integ/cross-account-copy';
new CrossAccountCopyRole(roleStack, 'CopyRole', {
  sourceAccount: sourceAccount.valueAsString, sourceStackName: SOURCE_STACK, roleName: ROLE_NAME, parameterNames: [PARAMETER_NAME],
});

// The source account: the image, and its copy made by the target account.
const stack = new Stack(app, SOURCE_STACK, { env: { region: 'us-east-1' } });
const targetAccount = new CfnParameter(stack, 'TargetAccount', { description: 'The account that makes the copy', allowedPattern: '\\d{12}' });
const vpc = publicVpc(stack);
const builder = smallInstance(stack, 'Builder', vpc);
const golden = imageOfBuilder(stack, 'Golden', builder);
const copyRole = iam.Role.fromRoleArn(stack, 'CopyRole', `arn:${Aws.PARTITION}:iam::${targetAccount.valueAsString}:role/${ROLE_NAME}`, { mutable: false });
golden.copyTo('UsWest2', 'us-west-2', {
  account: targetAccount.valueAsString,
  copyRole,
  encrypted: true,
  removalPolicy: RemovalPolicy.DESTROY,
  tags: INTEG_TAGS,
  parameterName: PARAMETER_NAME,
});
stack.addDependency(roleStack);

// In the source account, where the share is made (same environment as the copying stack, so it can reference it).
const assertions = new Stack(app, 'cdk-ami-integ-cross-account-assert', { env: { region: 'us-east-1' } });
const integ = new IntegTest(app, 'CrossAccountCopy', { testCases: [roleStack, stack], assertionStack: assertions, regions: ['us-east-1'] });
integ.assertions
  .awsApiCall('EC2', 'describeImageAttribute', { ImageId: golden.imageId, Attribute: 'launchPermission' })
  .expect(ExpectedResult.objectLike({
    LaunchPermissions: ExpectedResult.arrayWith([ExpectedResult.objectLike({ UserId: targetAccount.valueAsString })]),
  }));
