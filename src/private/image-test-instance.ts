import { CfnResource, Duration, Lazy, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, IDependable } from 'constructs';
import { builderScript, ScriptField, setupBody } from './builder-scripts';
import { AmiValidationError } from './errors';
import { instanceArn } from './instance-grants';
import { AmiProvider } from './provider';
import {
  grantDescribeInstances, launchReporting, Recipe, ReportingLaunch, reportingRole, reportWait, suppressReportingNag, TEST_INSTANCE,
} from './reporting-instance';
import { validateTimeout } from './validation';

/**
 * Where and how the test instance runs (`ImageTestOptions`, documented there, which this module
 * cannot import: a cycle): the network and type of a reporting instance, its role and the wait.
 */
export type TestSettings = Pick<ReportingLaunch, 'launchTemplate' | 'vpc' | 'vpcSubnets' | 'securityGroup' | 'instanceType'>
& { readonly role?: iam.IRole; readonly timeout?: Duration };

/** What a test knows of the image it tests. */
export interface TestedImage {
  /** The image's ID once it is available (the availability chain's attribute): the test instance's image. */
  readonly imageId: string;
  readonly region: string;
  readonly windows: boolean;
}

/** What a bound test adds to its image. */
export interface BoundTest {
  /** The test's last link: what hands the image over waits for it. */
  readonly result: IDependable;
  readonly grantPrincipal: iam.IPrincipal;
  /** The resources the test adds to the stack, and how many of them are waiter links. */
  readonly resources: number;
  readonly waiterLinks: number;
}

const TEST_FIELD: ScriptField = {
  field: 'The test\'s userData',
  image: 'the image',
  instance: 'the test instance',
  linuxFix: 'use ec2.UserData.forLinux(), or set the image\'s osType to ec2.OperatingSystemType.WINDOWS if it is Windows',
};

/**
 * The test of one image: an instance launched from the available image (a
 * launch template of the consumers' settings, or the given network), whose user data runs the
 * test and reports its exit code as a builder reports its setup; then
 * `Custom::AmiBuilderSetup` links that wait for the report and terminate the
 * instance. A new image is a new `ImageId`, which CloudFormation replaces the
 * instance for; a new test or setting is new user data (its second line is
 * the hash of all of them), a new logical ID: the terminated instance is
 * never updated in place.
 */
export function launchImageTest(scope: Construct, userData: ec2.UserData, options: TestSettings, image: TestedImage): BoundTest {
  const timeout = options.timeout ?? Duration.minutes(30);
  validateTimeout(scope, timeout, 'test.timeout');
  validateNetwork(scope, options);
  const before = countResources(scope);

  const { role, mark } = reportingRole(scope, TEST_INSTANCE, options.role);
  const script = image.windows ? ec2.UserData.forWindows() : ec2.UserData.forLinux();
  const osType = image.windows ? ec2.OperatingSystemType.WINDOWS : ec2.OperatingSystemType.LINUX;
  const recipe = new Recipe();
  const launched = launchReporting(scope, TEST_INSTANCE, {
    machineImage: { getImage: () => ({ imageId: image.imageId, osType, userData: script }) },
    role,
    userData: script,
    mark,
    launchTemplate: options.launchTemplate,
    vpc: options.vpc,
    vpcSubnets: options.vpcSubnets,
    securityGroup: options.securityGroup,
    instanceType: options.instanceType ?? defaultInstanceType(options.launchTemplate, image.windows),
  });
  const cfn = launched.cfn;
  recipe.add(() => {
    const resolve = (v: unknown) => Stack.of(scope).resolve(v);
    return {
      imageId: resolve(cfn.imageId),
      instanceType: resolve(cfn.instanceType),
      launchTemplate: resolve(cfn.launchTemplate),
      subnet: resolve(cfn.subnetId),
      securityGroups: resolve(cfn.securityGroupIds),
      profile: resolve(cfn.iamInstanceProfile),
      tags: launched.tags,
      test: resolve(userData.render()),
      // A new link would wait for a test instance that is long gone: a change in their number tests again.
      links: wait.links.length,
    };
  });
  script.addCommands(...builderScript(image.windows, {
    test: true,
    recipeHash: Lazy.string({ produce: () => recipe.hash() }),
    region: image.region,
    setup: setupBody(scope, userData, image.windows, TEST_FIELD),
    clean: false,
  }));

  const wait = reportWait(scope, 'TestResult', { instanceId: launched.instanceId, region: image.region, timeout }, { TestOf: scope.node.path });
  grantTestInstance(scope, launched.instanceId, wait.links);
  suppressReportingNag(TEST_INSTANCE, role, launched.instance ?? cfn, [
    { id: 'AwsSolutions-EC26', reason: 'The test instance\'s volumes are the image\'s (or the launch template\'s), encrypted as they are: it tests the image its consumers launch.' },
    { id: 'AwsSolutions-EC28', reason: 'The test instance runs for one test and is terminated once it reports; its output is in the stack event and the console.' },
    { id: 'AwsSolutions-EC29', reason: 'The stack terminates the test instance once its test reported: termination protection would block that.' },
  ]);
  return {
    result: wait.links[wait.links.length - 1],
    grantPrincipal: role.grantPrincipal,
    resources: countResources(scope) - before,
    waiterLinks: wait.links.length,
  };
}

/**
 * The waiter role reads the test instance's console and terminates it: a
 * policy of its own under the image, naming exactly that instance, which the
 * result links wait for. In the provider's default policy, the instance's ID
 * would make the provider wait for the instance, which waits for the image,
 * which waits for the provider (a cycle).
 */
function grantTestInstance(scope: Construct, instanceId: string, links: readonly Construct[]): void {
  grantDescribeInstances(scope);
  const policy = new iam.Policy(scope, 'TestInstancePolicy', {
    roles: [AmiProvider.of(scope).waiterRole],
    statements: [new iam.PolicyStatement({
      sid: 'ReadAndTerminateTestInstance',
      actions: ['ec2:GetConsoleOutput', 'ec2:TerminateInstances'],
      resources: [instanceArn(scope, instanceId)],
    })],
  });
  for (const link of links) link.node.addDependency(policy);
}

/** The template's instance type unless it is known to have none. */
function defaultInstanceType(template: ec2.ILaunchTemplate | undefined, windows: boolean): ec2.InstanceType | undefined {
  if (template && !(template instanceof ec2.LaunchTemplate && !template.instanceType)) return undefined;
  return new ec2.InstanceType(windows ? 't3.medium' : 't3.micro');
}

function validateNetwork(scope: Construct, options: TestSettings): void {
  if (!options.vpc && !options.launchTemplate) {
    throw new AmiValidationError('The test has neither vpc nor launchTemplate: give a launch template with the consumers\' settings (launchTemplate), or the VPC the test instance runs in (vpc).', scope);
  }
  if (!options.vpc && options.vpcSubnets) {
    throw new AmiValidationError('The test\'s vpcSubnets is set without vpc: the launch template gives the network; give vpc too, or remove vpcSubnets.', scope);
  }
  if (!options.vpc && options.securityGroup) {
    throw new AmiValidationError('The test\'s securityGroup is set without vpc: the launch template gives the network; give vpc too, or remove securityGroup.', scope);
  }
  const version = options.launchTemplate?.versionNumber;
  if (version !== undefined && !Token.isUnresolved(version) && !/^\d+$/.test(version)) {
    throw new AmiValidationError(`The test's launchTemplate has version "${version}": the test instance (AWS::EC2::Instance) takes a version number, and a new number is what runs the test again; `
      + 'import the template with versionNumber, or pass the ec2.LaunchTemplate itself.', scope);
  }
}

function countResources(scope: Construct): number {
  return scope.node.findAll().filter((c) => CfnResource.isCfnResource(c)).length;
}
