import * as ec2 from 'aws-cdk-lib/aws-ec2';

/**
 * EC2 Fast Launch for a Windows image: EC2 launches instances from the image
 * in the background, runs Sysprep's specialize and out-of-box steps on them,
 * and keeps snapshots of the result ("pre-provisioned snapshots"), so that
 * later launches skip those steps. Only for Windows images created with
 * Sysprep shutdown; EC2 needs a default VPC in the Region unless a launch
 * template is given.
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/win-ami-config-fast-launch.html
 */
export interface FastLaunchOptions {
  /**
   * How many pre-provisioned snapshots EC2 keeps on hand for the image
   * (EnableFastLaunch `SnapshotConfiguration.TargetResourceCount`). EC2
   * creates them when fast launch is enabled and replaces each one a launch
   * uses. A whole number, at least 1.
   *
   * @default - EC2's default
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_FastLaunchSnapshotConfigurationRequest.html
   */
  readonly targetResourceCount?: number;

  /**
   * How many instances EC2 may launch at the same time to create the
   * pre-provisioned snapshots (EnableFastLaunch `MaxParallelLaunches`). At
   * least 6; all images of the account share a Region's quota of parallel
   * launches (40 by default).
   *
   * @default - EC2's default
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableFastLaunch.html
   */
  readonly maxParallelLaunches?: number;

  /**
   * The launch template EC2 uses to launch the instances that create the
   * pre-provisioned snapshots: needed for a VPC that is not the Region's
   * default VPC, or when the account enforces IMDSv2 or other launch
   * settings. It must have an ID (`ec2.LaunchTemplate`, or
   * `LaunchTemplate.fromLaunchTemplateAttributes` with `launchTemplateId`) and
   * live in the image's Region. The provider may name it in EnableFastLaunch,
   * nothing more.
   *
   * @default - EC2 launches its own instances in the Region's default VPC
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_FastLaunchLaunchTemplateSpecificationRequest.html
   */
  readonly launchTemplate?: ec2.ILaunchTemplate;

  /**
   * The version of `launchTemplate` to use: a number, `$Latest` or
   * `$Default`. Only with `launchTemplate`.
   *
   * @default - the launch template's `versionNumber` (for an
   * `ec2.LaunchTemplate` of this app, its latest version)
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_FastLaunchLaunchTemplateSpecificationRequest.html
   */
  readonly launchTemplateVersion?: string;
}
