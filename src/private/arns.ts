import { Aws, Token } from 'aws-cdk-lib';
import { RegionInfo } from 'aws-cdk-lib/region-info';

/** Images in any Region (copies live outside the stack's Region), or in one. */
export function imageArns(region = '*'): string {
  return `arn:${Aws.PARTITION}:ec2:${region}::image/*`;
}

export function snapshotArns(region = '*'): string {
  return `arn:${Aws.PARTITION}:ec2:${region}::snapshot/*`;
}

/**
 * The ARN of one image, `arn:<partition>:ec2:<region>::image/<imageId>` (EC2
 * image ARNs carry no account). The single source of every image ARN,
 * `IImage.imageArn` included.
 */
export function imageArn(region: string, imageId: string): string {
  return `arn:${partitionOf(region)}:ec2:${region}::image/${imageId}`;
}

export function snapshotArn(region: string, snapshotId: string): string {
  return `arn:${Aws.PARTITION}:ec2:${region}::snapshot/${snapshotId}`;
}

/**
 * The partition of a Region known at synth (`aws-cn` for cn-north-1,
 * `aws-us-gov` for us-gov-west-1, ...), so that an image of another Region
 * than the stack's is named in its own partition; the stack's partition
 * (`AWS::Partition`) when the Region is a token or unknown to aws-cdk-lib.
 */
function partitionOf(region: string): string {
  if (Token.isUnresolved(region)) return Aws.PARTITION;
  return RegionInfo.get(region).partition ?? Aws.PARTITION;
}

export const PROVIDER_ROLE_PATH_PREFIX = '/cdk-ami/';

/**
 * The IAM path of the provider roles that may assume a copy role in another
 * account: `/cdk-ami/<stack name>/`. Role names are generated, so the target
 * account's trust policy names this path (aws:PrincipalArn), which only the
 * provider roles of that stack carry.
 */
export function providerRolePath(stackName: string): string {
  return `${PROVIDER_ROLE_PATH_PREFIX}${stackName}/`;
}
