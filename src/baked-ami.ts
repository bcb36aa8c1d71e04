import { createHash } from 'node:crypto';
import { Aws, Duration, Lazy, Size, SizeRoundingBehavior, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { InstanceAction } from './enums';
import { ImageBase } from './image';
import { ImageProps } from './image-options';
import { ResourceTypes, SETUP_SUCCEEDED, StopBy, Tags } from './private/contract';
import { AmiValidationError } from './private/errors';
import { grantImageOfInstance, grantStopInstance, instanceArn } from './private/instance-grants';
import { ManagedImage } from './private/managed-image';
import { suppressNag } from './private/nag';
import { AmiProvider } from './private/provider';
import { validateTimeout } from './private/validation';
import { WaiterChain } from './private/waiter-chain';

/** Ends the here-document that carries the user's setup script onto the builder. */
const LINUX_DELIMITER = 'CDK_AMI_SETUP_EOF';
/** EC2Launch v2's command line, on every Windows AMI that Amazon publishes. */
const EC2LAUNCH = '& "$env:ProgramFiles\\Amazon\\EC2Launch\\EC2Launch.exe"';

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
   * The size of the builder's root volume, and so of the image's root
   * snapshot. Changing it bakes a new image.
   *
   * @default - the size of the base image's root volume
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EbsBlockDevice.html
   */
  readonly rootVolumeSize?: Size;

  /**
   * The device name of the base image's root volume, used with
   * `rootVolumeSize`.
   *
   * @default - `/dev/xvda` for Linux (Amazon Linux), `/dev/sda1` for Windows;
   *            Ubuntu and Debian images use `/dev/sda1` too
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_BlockDeviceMapping.html
   */
  readonly rootDeviceName?: string;

  /**
   * Let the builder be reached with Session Manager while it builds (it has
   * no key pair and no inbound rule), to debug a setup.
   *
   * @default true
   * @see https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager.html
   */
  readonly sessionManager?: boolean;

  /**
   * Managed policies added to the builder's role, e.g. to read an S3 bucket
   * of installers.
   *
   * @default - none besides Session Manager's
   */
  readonly managedPolicies?: iam.IManagedPolicy[];

  /**
   * Statements added to the builder's role.
   *
   * @default - none
   */
  readonly policyStatements?: iam.PolicyStatement[];

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
   * Stop the builder once its setup succeeded, and image it stopped: every
   * write is on disk, nothing runs while EBS snapshots it. With `false`, the
   * builder is imaged running, and CreateImage reboots it first. Windows
   * with `clean` always stops (sysprep shuts the instance down). Changing it
   * bakes a new image.
   *
   * @default true
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateImage.html
   */
  readonly stopBeforeImaging?: boolean;

  /**
   * Clean, after a successful setup, what must not be baked into an image.
   * Linux: `cloud-init clean --logs` (per-instance state and logs), the SSH
   * host keys (each instance then makes its own) and this library's setup
   * files. Windows: EC2Launch v2 `sysprep --clean --shutdown`, which
   * generalizes Windows and shuts the builder down. Changing it bakes a new
   * image.
   *
   * @default true
   * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ami-create-win-sysprep.html
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

  /**
   * The AMI name: 3 to 128 characters of letters, digits, spaces and
   * `( ) [ ] . / - ' @ _`, unique in the Region. Changing it bakes a new
   * image; with a fixed name, the previous image must be gone first
   * (removal policy DESTROY), or the name is taken.
   *
   * @default - a unique name made of the construct path and a suffix that
   *            changes with every bake
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateImage.html
   */
  readonly imageName?: string;
}

/**
 * An AMI baked in one stack: a builder instance is started from a base image,
 * runs its setup (user data and/or cfn-init), reports the result, is cleaned
 * and stopped, and imaged; then it is terminated.
 *
 * Every input of the recipe (base image, setup, init, instance type, root
 * volume, network, role, tags, imaging options, image name) is hashed into
 * the builder's user data, so a change to any of them replaces the builder,
 * which bakes a new image; an unchanged recipe changes nothing, and the
 * terminated builder is never touched again.
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
export class BakedAmi extends ImageBase {

  /**
   * The builder instance. It is terminated once the image is available
   * (unless `instanceAction` says otherwise).
   */
  public readonly builder: ec2.Instance;

  /**
   * The builder's role: add what the setup needs (e.g. `bucket.grantRead(image.builderRole)`).
   * Permissions added after the first bake apply to the next one.
   */
  public readonly builderRole: iam.IRole;

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
    const stopBy = stopByOf(this, props, windows, clean);
    const action = props.instanceAction ?? InstanceAction.TERMINATE;
    const setupTimeout = props.setupTimeout ?? Duration.hours(1);
    validateTimeout(this, setupTimeout, 'setupTimeout');
    validateRecipe(this, props, windows);

    const role = new iam.Role(this, 'BuilderRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: `cdk-ami builder of ${this.node.path}`,
      managedPolicies: [
        ...(props.sessionManager ?? true ? [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')] : []),
        ...props.managedPolicies ?? [],
      ],
    });
    for (const statement of props.policyStatements ?? []) role.addToPrincipalPolicy(statement);
    const builderMark = createHash('sha256').update(this.node.path).digest('hex').slice(0, 16);
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'ReportSetupResult',
      actions: ['ec2:CreateTags'],
      resources: [Stack.of(this).formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' })],
      conditions: {
        'StringEquals': { [`aws:ResourceTag/${Tags.BUILDER}`]: builderMark },
        'ForAllValues:StringEquals': { 'aws:TagKeys': [Tags.SETUP] },
      },
    }));
    this.builderRole = role;

    const userData = windows ? ec2.UserData.forWindows() : ec2.UserData.forLinux();
    const recipe = new Recipe();
    this.recipeHash = Lazy.string({ produce: () => recipe.hash() });
    this.builder = new ec2.Instance(this, 'Builder', {
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      instanceType: props.instanceType ?? new ec2.InstanceType('t3.medium'),
      machineImage: props.machineImage,
      securityGroup: props.securityGroup,
      role,
      userData,
      userDataCausesReplacement: true,
      blockDevices: props.rootVolumeSize ? [{
        deviceName: props.rootDeviceName ?? (windows ? '/dev/sda1' : '/dev/xvda'),
        // Encryption stays the base image's (or the account's default): the image inherits it.
        volume: ec2.BlockDeviceVolume.ebs(props.rootVolumeSize.toGibibytes(), { volumeType: ec2.EbsDeviceVolumeType.GP3 }),
      }] : undefined,
    });
    const cfnBuilder = this.builder.instance;
    // IMDSv2 only, through an unnamed launch template: Instance's requireImdsv2 names its template after
    // the construct ID, and launch template names are unique in a Region.
    const metadataOnly = new ec2.LaunchTemplate(this, 'BuilderMetadataOptions', { requireImdsv2: true });
    cfnBuilder.launchTemplate = { launchTemplateId: metadataOnly.launchTemplateId, version: metadataOnly.latestVersionNumber };
    cfnBuilder.tags.setTag(Tags.BUILDER, builderMark);

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
        tags: resolve(cfnBuilder.tags.renderTags()),
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
    };
    userData.addCommands(...(windows ? windowsScript(script) : linuxScript(script)));

    // The wait for the setup: the builder reports, then is brought to the state it is imaged in.
    const provider = AmiProvider.of(this);
    const setupWait = new WaiterChain(this, 'Setup', {
      serviceToken: provider.waiterServiceToken,
      region: this.region,
      imageId: this.builder.instanceId,
      timeout: setupTimeout,
      resourceType: ResourceTypes.BUILDER_SETUP,
      subjectProperty: 'InstanceId',
      allLinkProperties: { StopBy: stopBy },
    });

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

    this.grantProvider(action, stopBy);
    suppressNag(role, [{
      id: 'AwsSolutions-IAM4',
      reason: 'AmazonSSMManagedInstanceCore lets Session Manager reach the builder to debug a setup (sessionManager: false removes it).',
      appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore'],
    }, {
      id: 'AwsSolutions-IAM5',
      reason: 'The builder\'s instance ID is unknown to its own role (the instance depends on the role): CreateTags is limited to the '
        + `${Tags.SETUP} tag key (aws:TagKeys) on instances tagged as this construct's builders (aws:ResourceTag/${Tags.BUILDER}).`,
      appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:ec2:.*:instance\\/\\*$/' }],
    }]);
    suppressNag(this.builder, [
      { id: 'AwsSolutions-EC26', reason: 'The builder\'s volumes are encrypted as the base image\'s (or by the account\'s EBS encryption by default), which the baked image inherits; copyTo({ encrypted: true }) makes encrypted copies.' },
      { id: 'AwsSolutions-EC28', reason: 'The builder runs for one bake and is terminated; its setup\'s output is in the stack event and the console.' },
      { id: 'AwsSolutions-EC29', reason: 'The builder is meant to be terminated once its image is available: termination protection would block that.' },
    ]);
  }

  /** The waiter role reads the builder and its console, and stops it; the image grants are AmiFromInstance's. */
  private grantProvider(action: InstanceAction, stopBy: string): void {
    const provider = AmiProvider.of(this);
    const arn = instanceArn(this, this.builder.instanceId);
    provider.grantWaiter('describe-instances', {
      sid: 'DescribeInstances',
      actions: ['ec2:DescribeInstances'],
      resources: ['*'],
    });
    provider.addResourceToWaiterStatement('builder-console', () => new iam.PolicyStatement({
      sid: 'ReadBuilderConsoles',
      actions: ['ec2:GetConsoleOutput'],
    }), arn);
    if (stopBy === StopBy.HANDLER) grantStopInstance(this, arn);
    grantImageOfInstance(this, this.builder.instanceId, action);
  }
}

/** Collects the recipe's inputs; hashed lazily, once tags and every other input are final. */
class Recipe {
  private readonly parts: (() => unknown)[] = [];
  public add(part: () => unknown): void {
    this.parts.push(part);
  }
  public hash(): string {
    return createHash('sha256').update(JSON.stringify(this.parts.map((p) => p()))).digest('hex').slice(0, 32);
  }
}

function stopByOf(scope: Construct, props: BakedAmiProps, windows: boolean, clean: boolean): string {
  if (windows && clean) {
    if (props.stopBeforeImaging === false) {
      throw new AmiValidationError('stopBeforeImaging is false, but a Windows builder with clean (sysprep) always shuts down before imaging: remove stopBeforeImaging, or set clean to false.', scope);
    }
    return StopBy.INSTANCE;
  }
  return props.stopBeforeImaging ?? true ? StopBy.HANDLER : StopBy.NONE;
}

function validateRecipe(scope: Construct, props: BakedAmiProps, windows: boolean): void {
  if (!props.setup && !props.init) {
    throw new AmiValidationError('BakedAmi needs a setup: give setup (an ec2.UserData with the commands to run), init (an ec2.CloudFormationInit), or both.', scope);
  }
  if (props.rootVolumeSize && !props.rootVolumeSize.isUnresolved()) {
    const gib = props.rootVolumeSize.toGibibytes({ rounding: SizeRoundingBehavior.NONE });
    if (!Number.isInteger(gib) || gib < 1 || gib > 16384) {
      throw new AmiValidationError(`rootVolumeSize ${gib} GiB is not valid: a gp3 root volume has a whole number of GiB from 1 to 16384.`, scope);
    }
  }
  if (props.initConfigSets && !props.init) {
    throw new AmiValidationError('initConfigSets is set without init: give init, or remove initConfigSets.', scope);
  }
  if (props.initConfigSets && props.initConfigSets.length === 0) {
    throw new AmiValidationError('initConfigSets is empty: name at least one config set of init, or remove initConfigSets to apply "default".', scope);
  }
  if (props.rootDeviceName && !props.rootVolumeSize) {
    throw new AmiValidationError(`rootDeviceName "${props.rootDeviceName}" is set without rootVolumeSize: it only names the root volume to resize.`, scope);
  }
  const expected = windows ? 'Windows' : 'Linux';
  if (props.osType !== undefined && props.osType !== (windows ? ec2.OperatingSystemType.WINDOWS : ec2.OperatingSystemType.LINUX)) {
    throw new AmiValidationError(`osType ${ec2.OperatingSystemType[props.osType]} does not match the base image, which is ${expected}: remove osType, the image has the base image's.`, scope);
  }
}

/** The user's script as it is written to a file on the builder. */
function setupBody(scope: Construct, setup: ec2.UserData, windows: boolean): string {
  const rendered = setup.render();
  if (windows) {
    const match = /^<powershell>([\s\S]*)<\/powershell>/.exec(rendered);
    if (!match) {
      throw new AmiValidationError('setup must be an ec2.UserData.forWindows() for a Windows base image: its commands run in PowerShell.', scope);
    }
    if (/^'@/m.test(match[1])) {
      throw new AmiValidationError('setup has a line starting with \'@, which ends the PowerShell here-string that carries it to the builder: indent that line.', scope);
    }
    return match[1];
  }
  if (rendered.startsWith('<powershell>')) {
    throw new AmiValidationError('setup is an ec2.UserData.forWindows(), but the base image is Linux: use ec2.UserData.forLinux().', scope);
  }
  if (new RegExp(`^${LINUX_DELIMITER}$`, 'm').test(rendered)) {
    throw new AmiValidationError(`setup has a line "${LINUX_DELIMITER}", which ends the here-document that carries it to the builder: rename it.`, scope);
  }
  return rendered.startsWith('#!') ? rendered : `#!/bin/bash\n${rendered}`;
}

interface ScriptParts {
  readonly recipeHash: string;
  readonly region: string;
  readonly setup?: string;
  readonly init?: { readonly locator: string };
  readonly clean: boolean;
}

/**
 * The builder's user data on Linux (cloud-init runs it once, as root). Every
 * line of the setup's output also goes to the console, where the handler reads
 * the last lines of a failure; the result is reported last.
 */
function linuxScript(p: ScriptParts): string[] {
  const lines = [
    `# cdk-ami recipe ${p.recipeHash}: a change to the recipe replaces this builder and bakes a new image.`,
    'CDK_AMI_DIR=/var/lib/cdk-ami',
    'mkdir -p "$CDK_AMI_DIR" && chmod 700 "$CDK_AMI_DIR"',
    'cdk_ami_report() {',
    '  # The last step: the stack images the builder once it reads "succeeded".',
    '  local token id',
    '  token=$(curl -sf -X PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 300")',
    '  id=$(curl -sf -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id)',
    '  if command -v aws >/dev/null 2>&1; then',
    `    aws ec2 create-tags --region ${p.region} --resources "$id" --tags "Key=${Tags.SETUP},Value=$1" || echo "cdk-ami: could not tag $id; the console line reports the result"`,
    '  fi',
    `  echo "${Tags.SETUP}=$1" | tee /dev/console`,
    '}',
  ];
  if (p.init) {
    lines.push(
      `/opt/aws/bin/cfn-init -v ${p.init.locator} 2>&1 | tee /dev/console`,
      'rc=${PIPESTATUS[0]}',
      'if [ "$rc" -ne 0 ]; then tail -n 40 /var/log/cfn-init.log > /dev/console; cdk_ami_report "failed:$rc"; exit "$rc"; fi',
    );
  }
  if (p.setup) {
    lines.push(
      `cat > "$CDK_AMI_DIR/setup" <<'${LINUX_DELIMITER}'`,
      p.setup,
      LINUX_DELIMITER,
      'chmod 700 "$CDK_AMI_DIR/setup"',
      '"$CDK_AMI_DIR/setup" 2>&1 | tee -a "$CDK_AMI_DIR/setup.log" > /dev/console',
      'rc=${PIPESTATUS[0]}',
      'if [ "$rc" -ne 0 ]; then cdk_ami_report "failed:$rc"; exit "$rc"; fi',
    );
  }
  if (p.clean) {
    lines.push(
      '# Not baked: per-instance cloud-init state and logs, SSH host keys (regenerated at first boot), the setup files.',
      'if command -v cloud-init >/dev/null 2>&1; then cloud-init clean --logs; fi',
      'rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub',
      'rm -rf "$CDK_AMI_DIR"',
    );
  }
  lines.push(`cdk_ami_report ${SETUP_SUCCEEDED}`);
  return lines;
}

/**
 * The builder's user data on Windows (EC2Launch v2 runs it once, as
 * Administrator). The result is a tag set with AWS Tools for PowerShell
 * (installed on Amazon's Windows AMIs) and a line on COM1, the console.
 */
function windowsScript(p: ScriptParts): string[] {
  const lines = [
    `# cdk-ami recipe ${p.recipeHash}: a change to the recipe replaces this builder and bakes a new image.`,
    '$CdkAmiDir = Join-Path $env:ProgramData "cdk-ami"',
    'New-Item -ItemType Directory -Force -Path $CdkAmiDir | Out-Null',
    'function Write-CdkAmiConsole([string]$Line) {',
    '  try { $port = New-Object System.IO.Ports.SerialPort "COM1", 115200; $port.Open(); $port.WriteLine($Line); $port.Close() } catch { }',
    '}',
    'function Send-CdkAmiResult([string]$Result) {',
    '  try {',
    '    $token = Invoke-RestMethod -Method Put -Uri "http://169.254.169.254/latest/api/token" -Headers @{ "X-aws-ec2-metadata-token-ttl-seconds" = "300" }',
    '    $id = Invoke-RestMethod -Uri "http://169.254.169.254/latest/meta-data/instance-id" -Headers @{ "X-aws-ec2-metadata-token" = $token }',
    `    New-EC2Tag -Region "${p.region}" -Resource $id -Tag @{ Key = "${Tags.SETUP}"; Value = $Result }`,
    '  } catch { Write-CdkAmiConsole "cdk-ami: could not tag the instance: $_" }',
    `  Write-CdkAmiConsole "${Tags.SETUP}=$Result"`,
    '}',
  ];
  if (p.init) {
    lines.push(
      `cfn-init.exe -v ${p.init.locator}`,
      '$rc = $LASTEXITCODE',
      'if ($rc -ne 0) { Get-Content "C:\\cfn\\log\\cfn-init.log" -Tail 40 | ForEach-Object { Write-CdkAmiConsole $_ }; Send-CdkAmiResult "failed:$rc"; exit $rc }',
    );
  }
  if (p.setup) {
    lines.push(
      "$CdkAmiSetup = @'",
      p.setup,
      "'@",
      'Set-Content -Path (Join-Path $CdkAmiDir "setup.ps1") -Value $CdkAmiSetup',
      '& powershell.exe -NoProfile -ExecutionPolicy Bypass -File (Join-Path $CdkAmiDir "setup.ps1") *>&1 | Tee-Object -FilePath (Join-Path $CdkAmiDir "setup.log") | ForEach-Object { Write-CdkAmiConsole "$_" }',
      '$rc = $LASTEXITCODE',
      'if ($rc -ne 0) { Send-CdkAmiResult "failed:$rc"; exit $rc }',
    );
  }
  if (p.clean) {
    lines.push(
      'Remove-Item -Recurse -Force $CdkAmiDir',
      `Send-CdkAmiResult ${SETUP_SUCCEEDED}`,
      '# Generalizes Windows and shuts the builder down: the stack images it once it is stopped.',
      `${EC2LAUNCH} sysprep --clean --shutdown`,
    );
  } else {
    lines.push(`Send-CdkAmiResult ${SETUP_SUCCEEDED}`);
  }
  return lines;
}
