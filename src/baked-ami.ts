import { Aws, Duration, Lazy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, IConstruct } from 'constructs';
import { CopyableImageBase } from './copied-ami';
import { BeforeImaging, InstanceAction } from './enums';
import { ImageProps } from './image-options';
import { validateBlockDevices } from './private/block-devices';
import { builderScript, setupBody } from './private/builder-scripts';
import { ResourceTypes, StopBy } from './private/contract';
import { AmiValidationError } from './private/errors';
import { grantImageOfInstance, grantStopInstance } from './private/instance-grants';
import { ManagedImage } from './private/managed-image';
import {
  BUILDER, grantReportWait, launchReporting, Recipe, reportingRole, reportWait, suppressReportingNag,
} from './private/reporting-instance';
import { validateTags, validateTimeout } from './private/validation';

/**
 * Properties of a `BakedAmi`.
 */
export interface BakedAmiProps extends ImageProps {
  /**
   * The image the builder starts from, e.g.
   * `ec2.MachineImage.latestAmazonLinux2023()`. Its operating system decides
   * how the setup runs (bash with cloud-init, or PowerShell with EC2Launch v2).
   * A new base image (for example a new release behind an SSM parameter)
   * bakes a new image.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html
   */
  readonly machineImage: ec2.IMachineImage;

  /**
   * The VPC the builder runs in. The builder needs to reach the EC2 API (to
   * report its result) and whatever its setup downloads.
   */
  readonly vpc: ec2.IVpc;

  /**
   * Where in the VPC the builder runs.
   *
   * @default - private subnets with egress (through a NAT gateway); use
   *            `{ subnetType: ec2.SubnetType.PUBLIC }` in a VPC without them
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * The builder's instance type. Changing it bakes a new image.
   *
   * @default t3.medium
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html
   */
  readonly instanceType?: ec2.InstanceType;

  /**
   * The setup: a script the builder runs once, as root (Linux, with bash
   * unless it starts with another `#!`) or as Administrator (Windows,
   * PowerShell). A non-zero exit code fails the deployment with the last
   * lines of the builder's console output. Changing it bakes a new image.
   * Give this, `init`, or both (`init` runs first).
   *
   * @default - no script; `init` must be given
   * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/user-data.html
   */
  readonly setup?: ec2.UserData;

  /**
   * Setup as `AWS::CloudFormation::Init` metadata, applied by cfn-init on
   * the builder before `setup` runs. The base image must have cfn-init
   * (Amazon Linux and Amazon's Windows AMIs do). A failure fails the
   * deployment with the last lines of the cfn-init log. Changing it bakes a
   * new image.
   *
   * @default - no cfn-init; `setup` must be given
   * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-init.html
   */
  readonly init?: ec2.CloudFormationInit;

  /**
   * The config sets of `init` to apply, in order.
   *
   * @default ['default']
   * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-init.html
   */
  readonly initConfigSets?: string[];

  /**
   * The builder's volumes, as for `ec2.Instance`, and so the image's: e.g.
   * `{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(20, { volumeType: ec2.EbsDeviceVolumeType.GP3 }) }`
   * for a larger root volume (its device name is the base image's root
   * device: `/dev/xvda` on Amazon Linux, `/dev/sda1` on Windows, Ubuntu and
   * Debian). Encryption is the base image's (or the account's EBS default),
   * which the image inherits: `encrypted` and `kmsKey` are refused, as is
   * `throughput` (AWS::EC2::Instance takes none). Changing them bakes a new
   * image.
   *
   * @default - the base image's block device mappings
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_BlockDeviceMapping.html
   */
  readonly blockDevices?: ec2.BlockDevice[];

  /**
   * Tags for the builder instance only, e.g. those a tag policy or a service
   * control policy requires on `ec2:RunInstances`. They are part of the
   * recipe: changing them bakes a new image. Tags applied with `Tags.of(...)`
   * (an app-wide cost center, say) do not reach the builder: they reach the
   * image and its snapshots, in place.
   *
   * @default - only `Name` (the builder's construct path) and cdk-ami's mark
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html
   */
  readonly builderTags?: { [key: string]: string };

  /**
   * The builder's role (its instance profile's), assumed by
   * `ec2.amazonaws.com`. Grant it what the setup needs with the image as the
   * grantee (`bucket.grantRead(image)`). cdk-ami adds the permission to
   * report the setup's result (CreateTags of one tag key on its own builder);
   * an immutable imported role does not get it, and the result is then read
   * from the console output alone.
   *
   * @default - a new role
   * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html
   */
  readonly role?: iam.IRole;

  /**
   * Let the builder be reached with Session Manager while it builds (it has
   * no key pair and no inbound rule), to debug a setup: adds the
   * `AmazonSSMManagedInstanceCore` managed policy to the role, as
   * `ec2.Instance`'s prop of the same name does.
   *
   * @default true
   * @see https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager.html
   */
  readonly ssmSessionPermissions?: boolean;

  /**
   * The builder's security group.
   *
   * @default - a new group that allows all outbound traffic and no inbound traffic
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html
   */
  readonly securityGroup?: ec2.ISecurityGroup;

  /**
   * How long the setup may run before the deployment fails (with the last
   * lines of the console output) and rolls back. Waits longer than
   * CloudFormation's one-hour limit are split into a chain of waits of at
   * most 50 minutes. Between 1 minute and 48 hours.
   *
   * @default Duration.hours(1)
   */
  readonly setupTimeout?: Duration;

  /**
   * How the builder is brought to the state it is imaged in, once its setup
   * succeeded: stopped by the stack (`STOP`), shut down by Windows sysprep
   * (`SYSPREP`, Windows only), or imaged running with a reboot (`REBOOT`).
   * Changing it bakes a new image.
   *
   * @default - `BeforeImaging.SYSPREP` for a Windows base image, `BeforeImaging.STOP` otherwise
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateImage.html
   */
  readonly beforeImaging?: BeforeImaging;

  /**
   * Clean, after a successful setup, what must not be baked into an image:
   * on Linux `cloud-init clean --logs` (per-instance state and logs), the SSH
   * host keys (each instance then makes its own) and this library's setup
   * files; on Windows this library's setup files (Windows itself is
   * generalized by `BeforeImaging.SYSPREP`). Changing it bakes a new image.
   *
   * @default true
   * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/building-shared-amis.html
   */
  readonly clean?: boolean;

  /**
   * What to do with the builder once the image is available. `TERMINATE`
   * (the default) stops every cost of the builder; `STOP` keeps its volumes,
   * e.g. to look at a baked instance; `NONE` leaves it as it is.
   *
   * @default InstanceAction.TERMINATE
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_TerminateInstances.html
   */
  readonly instanceAction?: InstanceAction;
}

/**
 * An AMI baked in one stack: a builder instance is started from a base image,
 * runs its setup (user data and/or cfn-init), reports the result, is cleaned
 * and stopped, and imaged; then it is terminated.
 *
 * Every input of the recipe (base image, setup, init, instance type, block
 * devices, network, builder tags, imaging options, image name) is hashed into
 * the builder's user data, so a change to any of them replaces the builder,
 * which bakes a new image; an unchanged recipe changes nothing, and the
 * terminated builder is never touched again. Tags applied with `Tags.of(...)`
 * are not part of the recipe: they reach the image and its snapshots in place.
 *
 * @example
 * declare const vpc: ec2.IVpc;
 * const setup = ec2.UserData.forLinux();
 * setup.addCommands('dnf install -y nginx', 'systemctl enable nginx');
 * const image = new BakedAmi(this, 'Web', {
 *   machineImage: ec2.MachineImage.latestAmazonLinux2023(),
 *   vpc,
 *   setup,
 * });
 * new ec2.Instance(this, 'Server', {
 *   vpc,
 *   instanceType: new ec2.InstanceType('t3.micro'),
 *   machineImage: image,
 * });
 */
export class BakedAmi extends CopyableImageBase implements iam.IGrantable {

  /**
   * The builder instance. It is terminated once the image is available
   * (unless `instanceAction` says otherwise).
   */
  public readonly builder: ec2.Instance;

  /**
   * The builder's role: the given `role`, or the one made for it.
   */
  public readonly role: iam.IRole;

  /**
   * The builder's role, as the principal of grants: `bucket.grantRead(image)`
   * lets the setup read the bucket. Permissions added after a bake apply to
   * the next one.
   */
  public readonly grantPrincipal: iam.IPrincipal;

  /**
   * The hash of the recipe, also written on the builder's user data's
   * second line: it changes exactly when a new image is baked.
   */
  public readonly recipeHash: string;

  constructor(scope: Construct, id: string, props: BakedAmiProps) {
    super(scope, id);
    const platform = props.machineImage.getImage(this).osType;
    const windows = platform === ec2.OperatingSystemType.WINDOWS;
    const clean = props.clean ?? true;
    const beforeImaging = beforeImagingOf(this, props.beforeImaging, windows);
    const stopBy = STOP_BY[beforeImaging];
    const action = props.instanceAction ?? InstanceAction.TERMINATE;
    const setupTimeout = props.setupTimeout ?? Duration.hours(1);
    validateTimeout(this, setupTimeout, 'setupTimeout');
    validateRecipe(this, props, windows);

    const ssm = props.ssmSessionPermissions ?? true;
    const { role, mark } = reportingRole(this, BUILDER, props.role, (r) => {
      if (ssm) r.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore'));
    });
    this.role = role;
    this.grantPrincipal = role.grantPrincipal;

    const userData = windows ? ec2.UserData.forWindows() : ec2.UserData.forLinux();
    const recipe = new Recipe();
    this.recipeHash = Lazy.string({ produce: () => recipe.hash() });
    const launched = launchReporting(this, BUILDER, {
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      instanceType: props.instanceType ?? new ec2.InstanceType('t3.medium'),
      machineImage: props.machineImage,
      securityGroup: props.securityGroup,
      role,
      userData,
      blockDevices: props.blockDevices,
      tags: props.builderTags,
      mark,
    });
    this.builder = launched.instance!;
    const cfnBuilder = launched.cfn;
    const builderTags = launched.tags;

    // cfn-init's metadata and its role grant; the commands are ours, to read cfn-init's exit code.
    const initUserData = windows ? ec2.UserData.forWindows() : ec2.UserData.forLinux();
    props.init?.attach(cfnBuilder, { platform, instanceRole: role, userData: initUserData, configSets: props.initConfigSets });

    recipe.add(() => {
      const resolve = (v: unknown) => Stack.of(this).resolve(v);
      return {
        imageId: resolve(cfnBuilder.imageId),
        instanceType: resolve(cfnBuilder.instanceType),
        blockDevices: resolve(cfnBuilder.blockDeviceMappings),
        subnet: resolve(cfnBuilder.subnetId),
        securityGroups: resolve(cfnBuilder.securityGroupIds),
        profile: resolve(cfnBuilder.iamInstanceProfile),
        tags: builderTags,
        setup: resolve(props.setup?.render()),
        // init through the fingerprint cfn-init's attach computes of its config and assets.
        init: /# fingerprint: (\w+)/.exec(initUserData.render())?.[1],
        stopBy,
        clean,
        imageName: props.imageName,
        // A new setup link would wait for a builder that is long gone: a change in their number rebakes.
        setupLinks: setupWait.links.length,
      };
    });

    const script = {
      recipeHash: this.recipeHash,
      region: this.region,
      setup: props.setup ? setupBody(this, props.setup, windows) : undefined,
      init: props.init ? {
        locator: `--region ${Aws.REGION} --stack ${Aws.STACK_NAME} --resource ${cfnBuilder.logicalId} -c ${(props.initConfigSets ?? ['default']).join(',')}`,
      } : undefined,
      clean,
      sysprep: beforeImaging === BeforeImaging.SYSPREP,
    };
    userData.addCommands(...builderScript(windows, script));

    // The wait for the setup: the builder reports, then is brought to the state it is imaged in.
    const setupWait = reportWait(this, 'Setup', { instanceId: this.builder.instanceId, region: this.region, timeout: setupTimeout }, { StopBy: stopBy });

    const managed = new ManagedImage(this, { ...props, osType: props.osType ?? platform }, {
      resourceType: ResourceTypes.AMI_FROM_INSTANCE,
      platform: { windows, knownFrom: 'the base image (machineImage)' },
      imageName: props.imageName,
      properties: {
        // The last setup link's attribute: imaging starts only after the setup succeeded.
        InstanceId: setupWait.imageId,
        NoReboot: false,
        IncludeDataVolumes: true,
      },
      lastWaiterProperties: action === InstanceAction.NONE ? undefined : {
        InstanceAction: action,
        InstanceId: this.builder.instanceId,
      },
    });
    this._attach(managed);

    this.grantProvider(action, stopBy, setupWait.links[0], managed.operation);
    suppressReportingNag(BUILDER, role, this.builder, [
      { id: 'AwsSolutions-EC26', reason: 'The builder\'s volumes are encrypted as the base image\'s (or by the account\'s EBS encryption by default), which the baked image inherits; copyTo({ encrypted: true }) makes encrypted copies.' },
      { id: 'AwsSolutions-EC28', reason: 'The builder runs for one bake and is terminated; its setup\'s output is in the stack event and the console.' },
      { id: 'AwsSolutions-EC29', reason: 'The builder is meant to be terminated once its image is available: termination protection would block that.' },
    ], [{
      id: 'AwsSolutions-IAM4',
      reason: 'AmazonSSMManagedInstanceCore lets Session Manager reach the builder to debug a setup (ssmSessionPermissions: false removes it).',
      appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore'],
    }]);
  }

  /**
   * The waiter role reads the builder and its console, and stops it, from the
   * first setup link on; the image grants are AmiFromInstance's. The builder is
   * a resource of this stack: these grants are policies of this image's own.
   */
  private grantProvider(action: InstanceAction, stopBy: string, firstSetupLink: IConstruct, operation: IConstruct): void {
    const builder = { id: this.builder.instanceId, owner: this, firstUser: firstSetupLink };
    grantReportWait(this, builder);
    if (stopBy === StopBy.HANDLER) grantStopInstance(this, builder);
    grantImageOfInstance(this, this.builder.instanceId, action, operation);
  }
}

/** Who brings the builder to the state it is imaged in: the setup handler, the instance itself (sysprep), or nobody. */
const STOP_BY: Record<BeforeImaging, string> = {
  [BeforeImaging.STOP]: StopBy.HANDLER,
  [BeforeImaging.SYSPREP]: StopBy.INSTANCE,
  [BeforeImaging.REBOOT]: StopBy.NONE,
};

function beforeImagingOf(scope: Construct, given: BeforeImaging | undefined, windows: boolean): BeforeImaging {
  if (given === BeforeImaging.SYSPREP && !windows) {
    throw new AmiValidationError('beforeImaging is SYSPREP, but the base image is Linux: sysprep is Windows\'s; use STOP or REBOOT.', scope);
  }
  return given ?? (windows ? BeforeImaging.SYSPREP : BeforeImaging.STOP);
}

function validateRecipe(scope: Construct, props: BakedAmiProps, windows: boolean): void {
  validateTags(scope, props.builderTags);
  if (!props.setup && !props.init) {
    throw new AmiValidationError('BakedAmi needs a setup: give setup (an ec2.UserData with the commands to run), init (an ec2.CloudFormationInit), or both.', scope);
  }
  validateBlockDevices(scope, props.blockDevices ?? [], {
    construct: 'BakedAmi',
    noDevice: true,
    snapshots: 'optional',
    encryptionFrom: 'the builder\'s volumes are encrypted as the base image\'s (or by the account\'s EBS encryption by default), and the image inherits that',
    throughputRefused: 'the builder is an AWS::EC2::Instance, which takes no throughput',
  });
  if (props.initConfigSets && !props.init) {
    throw new AmiValidationError('initConfigSets is set without init: give init, or remove initConfigSets.', scope);
  }
  if (props.initConfigSets && props.initConfigSets.length === 0) {
    throw new AmiValidationError('initConfigSets is empty: name at least one config set of init, or remove initConfigSets to apply "default".', scope);
  }
  const expected = windows ? 'Windows' : 'Linux';
  if (props.osType !== undefined && props.osType !== (windows ? ec2.OperatingSystemType.WINDOWS : ec2.OperatingSystemType.LINUX)) {
    throw new AmiValidationError(`osType ${ec2.OperatingSystemType[props.osType]} does not match the base image, which is ${expected}: remove osType, the image has the base image's.`, scope);
  }
}
