import { createHash } from 'node:crypto';
import { Duration, Fn, Lazy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { RenderedProperties, ResourceTypes, Tags } from './contract';
import { AmiValidationError } from './errors';
import { instanceArn } from './instance-grants';
import { NagSuppression, suppressNag } from './nag';
import { AmiProvider, GrantedResource } from './provider';
import { tagList } from './validation';
import { WaiterChain } from './waiter-chain';

/**
 * A CloudFormation-managed instance that runs a script once and reports its
 * exit code (a tag on itself and a console line), followed by a chain of
 * `Custom::AmiBuilderSetup` links: a `BakedAmi`'s builder, and an image's
 * test instance. What differs between the two is named here.
 */
export interface ReportingKind {
  /** The instance's construct ID, and the prefix of its role's and launch template's. */
  readonly id: string;
  /** What the instance is called in descriptions and reasons, e.g. `builder`. */
  readonly noun: string;
  /** The tag that marks instances of this construct: the role may tag only those. */
  readonly markKey: string;
  /** The only tag key the role may add: the result. */
  readonly resultKey: string;
  /** The Sid of the role's statement. */
  readonly sid: string;
}

export const BUILDER: ReportingKind = { id: 'Builder', noun: 'builder', markKey: Tags.BUILDER, resultKey: Tags.SETUP, sid: 'ReportSetupResult' };
export const TEST_INSTANCE: ReportingKind = { id: 'Test', noun: 'test instance', markKey: Tags.TESTER, resultKey: Tags.TEST, sid: 'ReportTestResult' };

/** The role a reporting instance runs as, and the mark its instances carry. */
export interface ReportingRole {
  readonly role: iam.IRole;
  readonly mark: string;
}

/**
 * The instance's role (the given one or a new one), allowed to add the result
 * tag, and nothing else, to instances carrying this construct's mark: the
 * instance ID is unknown to its own role (the instance depends on the role).
 */
export function reportingRole(scope: Construct, kind: ReportingKind, given?: iam.IRole, beforeGrant?: (role: iam.IRole) => void): ReportingRole {
  const role = given ?? new iam.Role(scope, `${kind.id}Role`, {
    assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
    description: `cdk-ami ${kind.noun} of ${scope.node.path}`,
  });
  beforeGrant?.(role);
  const mark = createHash('sha256').update(scope.node.path).digest('hex').slice(0, 16);
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    sid: kind.sid,
    actions: ['ec2:CreateTags'],
    resources: [Stack.of(scope).formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' })],
    conditions: {
      'StringEquals': { [`aws:ResourceTag/${kind.markKey}`]: mark },
      'ForAllValues:StringEquals': { 'aws:TagKeys': [kind.resultKey] },
    },
  }));
  return { role, mark };
}

/** Where and how the instance is launched. */
export interface ReportingLaunch {
  readonly machineImage: ec2.IMachineImage;
  readonly role: iam.IRole;
  readonly userData: ec2.UserData;
  /** Its only tags besides `Name` and the mark. */
  readonly tags?: { [key: string]: string };
  readonly mark: string;
  /** The consumer's launch template: the instance takes every setting it does not set itself. */
  readonly launchTemplate?: ec2.ILaunchTemplate;
  readonly vpc?: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly securityGroup?: ec2.ISecurityGroup;
  /** @default - the launch template's */
  readonly instanceType?: ec2.InstanceType;
  readonly blockDevices?: ec2.BlockDevice[];
}

/** A launched reporting instance. */
export interface ReportingInstance {
  readonly cfn: ec2.CfnInstance;
  readonly instanceId: string;
  /** Its `Tags`: exactly `Name`, the given tags and the mark. */
  readonly tags: unknown[];
  /** The L2 instance, when it was launched into `vpc` without a launch template. */
  readonly instance?: ec2.Instance;
}

/**
 * Launches the instance. Its `Tags` are exactly `Name`, the given tags and
 * the mark, so that a tag applied from outside (`Tags.of(app)`) does not
 * update it in place (CloudFormation cannot retag a terminated instance).
 * Without the consumer's launch template, IMDSv2 only comes from an unnamed
 * launch template: `ec2.Instance`'s requireImdsv2 names its template after
 * the construct ID, and launch template names are unique in a Region.
 */
export function launchReporting(scope: Construct, kind: ReportingKind, launch: ReportingLaunch): ReportingInstance {
  if (launch.launchTemplate) return launchFromTemplate(scope, kind, launch, launch.launchTemplate);
  const instance = new ec2.Instance(scope, kind.id, {
    vpc: launch.vpc!,
    vpcSubnets: launch.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    instanceType: launch.instanceType!,
    machineImage: launch.machineImage,
    securityGroup: launch.securityGroup,
    role: launch.role,
    userData: launch.userData,
    userDataCausesReplacement: true,
    blockDevices: launch.blockDevices,
  });
  const cfn = instance.instance;
  const metadataOnly = new ec2.LaunchTemplate(scope, `${kind.id}MetadataOptions`, { requireImdsv2: true });
  cfn.launchTemplate = { launchTemplateId: metadataOnly.launchTemplateId, version: metadataOnly.latestVersionNumber };
  const tags = tagList({ Name: instance.node.path, ...launch.tags, [kind.markKey]: launch.mark })!;
  cfn.addPropertyOverride('Tags', tags);
  // The launch template's tags would reach its new version, which the instance names: the same as an instance tag.
  const cfnMetadataOnly = metadataOnly.node.defaultChild as ec2.CfnLaunchTemplate;
  cfnMetadataOnly.addPropertyDeletionOverride('TagSpecifications');
  cfnMetadataOnly.addPropertyDeletionOverride('LaunchTemplateData.TagSpecifications');
  return { cfn, instanceId: instance.instanceId, tags, instance };
}

/**
 * An `AWS::EC2::Instance` of the consumer's launch template: only the image,
 * the user data, the instance profile (and the subnet when a VPC is given,
 * the security group and the instance type when one is given) are its own.
 */
function launchFromTemplate(scope: Construct, kind: ReportingKind, launch: ReportingLaunch, template: ec2.ILaunchTemplate): ReportingInstance {
  const profile = new iam.CfnInstanceProfile(scope, `${kind.id}InstanceProfile`, { roles: [launch.role.roleName] });
  let network: Pick<ec2.CfnInstanceProps, 'subnetId' | 'securityGroupIds'> = {};
  if (launch.vpc) {
    const subnet = launch.vpc.selectSubnets(launch.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnets[0];
    if (!subnet) {
      throw new AmiValidationError(`The ${kind.noun}'s vpcSubnets select no subnet of the VPC: give vpcSubnets that match one (e.g. { subnetType: ec2.SubnetType.PUBLIC }).`, scope);
    }
    // The template's security groups unless one is given: `vpc` only says where the instance runs.
    network = { subnetId: subnet.subnetId, securityGroupIds: launch.securityGroup ? [launch.securityGroup.securityGroupId] : undefined };
  }
  const path = `${scope.node.path}/${kind.id}`;
  const tags = tagList({ Name: path, ...launch.tags, [kind.markKey]: launch.mark })!;
  const cfn = new ec2.CfnInstance(scope, kind.id, {
    imageId: launch.machineImage.getImage(scope).imageId,
    instanceType: launch.instanceType?.toString(),
    launchTemplate: {
      launchTemplateId: template.launchTemplateId,
      launchTemplateName: template.launchTemplateId ? undefined : template.launchTemplateName,
      version: template.versionNumber,
    },
    iamInstanceProfile: profile.ref,
    userData: Lazy.string({ produce: () => Fn.base64(launch.userData.render()) }),
    ...network,
  });
  cfn.addPropertyOverride('Tags', tags);
  cfn.node.addDependency(launch.role);
  // As ec2.Instance's userDataCausesReplacement: new user data (which carries the settings' hash) is a new instance.
  const originalLogicalId = Stack.of(scope).getLogicalId(cfn);
  cfn.overrideLogicalId(Lazy.uncachedString({
    produce: (context) => {
      const digest = createHash('md5').update(JSON.stringify(context.resolve(launch.userData.render()))).digest('hex').slice(0, 16);
      return `${originalLogicalId}${digest}`;
    },
  }));
  return { cfn, instanceId: cfn.ref, tags };
}

/** The wait for the instance's report: `Custom::AmiBuilderSetup` links, with the instance as their subject. */
export function reportWait(
  scope: Construct, id: string, wait: { readonly instanceId: string; readonly region: string; readonly timeout: Duration },
  properties: RenderedProperties<typeof ResourceTypes.BUILDER_SETUP>,
): WaiterChain<typeof ResourceTypes.BUILDER_SETUP> {
  const provider = AmiProvider.of(scope);
  return new WaiterChain(scope, id, {
    serviceToken: provider.waiterServiceToken,
    region: wait.region,
    imageId: wait.instanceId,
    timeout: wait.timeout,
    resourceType: ResourceTypes.BUILDER_SETUP,
    subjectProperty: 'InstanceId',
    allLinkProperties: properties,
  });
}

/**
 * The waiter role reads the instance (DescribeInstances has no resource type)
 * and its console, before `of.firstUser` (the first link) waits for it.
 */
export function grantReportWait(scope: Construct, of: GrantedResource): void {
  grantDescribeInstances(scope);
  AmiProvider.of(scope).addResourceToWaiterStatement('builder-console', {
    sid: 'ReadBuilderConsoles',
    actions: ['ec2:GetConsoleOutput'],
  }, instanceArn(scope, of.id), of);
}

/** DescribeInstances, which takes no resource (`*`), for the waiter role. */
export function grantDescribeInstances(scope: Construct): void {
  AmiProvider.of(scope).grantWaiter('describe-instances', {
    sid: 'DescribeInstances',
    actions: ['ec2:DescribeInstances'],
    resources: ['*'],
  });
}

/**
 * cdk-nag's findings on the role's report grant (after `roleFindings`, the
 * construct's own), and on the instance (its own reasons: encryption,
 * monitoring and termination protection of an instance that runs once).
 */
export function suppressReportingNag(
  kind: ReportingKind, role: iam.IRole, instance: Construct, instanceFindings: NagSuppression[], roleFindings: NagSuppression[] = [],
): void {
  suppressNag(role, [...roleFindings, {
    id: 'AwsSolutions-IAM5',
    reason: `The ${kind.noun}'s instance ID is unknown to its own role (the instance depends on the role): CreateTags is limited to the `
      + `${kind.resultKey} tag key (aws:TagKeys) on instances tagged as this construct's ${kind.noun}s (aws:ResourceTag/${kind.markKey}).`,
    appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:ec2:.*:instance\\/\\*$/' }],
  }]);
  suppressNag(instance, instanceFindings);
}

/** Collects the inputs of an instance's script; hashed lazily, once tags and every other input are final. */
export class Recipe {
  private readonly parts: (() => unknown)[] = [];
  public add(part: () => unknown): void {
    this.parts.push(part);
  }
  public hash(): string {
    return createHash('sha256').update(JSON.stringify(this.parts.map((p) => p()))).digest('hex').slice(0, 32);
  }
}
