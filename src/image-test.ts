import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { BoundTest, launchImageTest, TestedImage } from './private/image-test-instance';

/**
 * Where and how the test instance of an `ImageTest` runs.
 */
export interface ImageTestOptions {
  /**
   * A launch template with the settings the image's consumers launch with:
   * the test instance is launched with it (its network interfaces, security
   * groups, instance type, metadata options, block devices, key pair,
   * tags...), so the test sees what the consumers will. cdk-ami sets the
   * image (the new image's ID), the user data (the test) and the instance
   * profile (the test role) on the instance itself, which take precedence
   * over the template's.
   *
   * It cannot be the template that launches the consumers from this image:
   * that template names the image's `imageId`, which exists only once the
   * test passed. Make a second template from the same settings (see the
   * README recipe "Rolling out a tested image").
   * A new version of the template (its `latestVersionNumber` changes) runs
   * the test again. Give this, `vpc`, or both (then `vpc` and `vpcSubnets`
   * give the subnet, and the template the rest).
   *
   * @default - no launch template: `vpc` is required
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html
   */
  readonly launchTemplate?: ec2.ILaunchTemplate;

  /**
   * The VPC the test instance runs in. The instance needs to reach the EC2
   * API (to report its result) and whatever the test calls.
   *
   * @default - the launch template's network; required without `launchTemplate`
   */
  readonly vpc?: ec2.IVpc;

  /**
   * Where in `vpc` the test instance runs. Only with `vpc`.
   *
   * @default - private subnets with egress (through a NAT gateway); use
   *            `{ subnetType: ec2.SubnetType.PUBLIC }` in a VPC without them
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * The test instance's security group. Only with `vpc`.
   *
   * @default - with `launchTemplate`, the template's security groups; without
   *            one, a new group that allows all outbound traffic and no inbound traffic
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html
   */
  readonly securityGroup?: ec2.ISecurityGroup;

  /**
   * The test instance's type. Changing it runs the test again.
   *
   * @default - the launch template's; without one (or an `ec2.LaunchTemplate`
   *            without an instance type), t3.micro for a Linux image and
   *            t3.medium for a Windows one
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html
   */
  readonly instanceType?: ec2.InstanceType;

  /**
   * The test instance's role (its instance profile's), assumed by
   * `ec2.amazonaws.com`. Grant it what the test needs through the image's
   * `testGrantPrincipal`. cdk-ami adds the permission to report the test's
   * result (CreateTags of one tag key on its own test instance); an immutable
   * imported role does not get it, and the result is then read from the
   * console output alone.
   *
   * @default - a new role that may only report the result
   * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html
   */
  readonly role?: iam.IRole;

  /**
   * How long the test may run, from the test instance's launch to its
   * result, before the deployment fails (with the last lines of its console
   * output) and rolls back. Waits longer than CloudFormation's one-hour limit
   * are split into a chain of waits of at most 50 minutes. Between 1 minute
   * and 48 hours.
   *
   * @default Duration.minutes(30)
   */
  readonly timeout?: Duration;
}

/**
 * A test an image must pass before anything uses it: once the image is
 * available, an instance is launched from it (with a launch template of the
 * consumers' settings, or a network), runs the test, reports its exit code and is
 * terminated. The image's ID (`imageId`, `getImage()`, its output, SSM
 * parameter, copies, stored objects and launch permissions) is handed out
 * only after the test passed; a failed or timed-out test fails the
 * deployment, and CloudFormation rolls back to the previous image.
 *
 * @example
 * declare const vpc: ec2.IVpc;
 * declare const setup: ec2.UserData;
 * const check = ec2.UserData.forLinux();
 * check.addCommands('systemctl is-active nginx', 'curl -fsS http://localhost/');
 * new BakedAmi(this, 'Web', {
 *   machineImage: ec2.MachineImage.latestAmazonLinux2023(),
 *   vpc,
 *   setup,
 *   test: ImageTest.script(check, { vpc }),
 * });
 */
export abstract class ImageTest {
  /**
   * A test that runs `userData`'s commands on an instance launched from the
   * new image: as root under bash (Linux, cloud-init) or as Administrator in
   * PowerShell (Windows, EC2Launch v2), after the image's own boot. Exit code
   * 0 passes; any other fails the deployment with that code and the last
   * lines of the instance's console output. Changing the commands or the
   * options runs the test again (on the image as it is; a new image is
   * always tested).
   *
   * @param userData the test's commands: `ec2.UserData.forLinux()` or `ec2.UserData.forWindows()`, as the image's OS
   * @param options where and how the test instance runs
   * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/user-data.html
   */
  public static script(userData: ec2.UserData, options: ImageTestOptions = {}): ImageTest {
    return new ScriptTest(userData, options);
  }

  /**
   * Makes the test's resources in `scope`, the image construct, once its
   * image is available: what hands the image over waits for the result.
   *
   * @internal
   */
  public abstract _bind(scope: Construct, image: TestedImage): BoundTest;
}

class ScriptTest extends ImageTest {
  constructor(private readonly userData: ec2.UserData, private readonly options: ImageTestOptions) {
    super();
  }

  public _bind(scope: Construct, image: TestedImage): BoundTest {
    return launchImageTest(scope, this.userData, this.options, image);
  }
}
