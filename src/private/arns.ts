import { Aws } from 'aws-cdk-lib';

/** Images in any Region (copies live outside the stack's Region), or in one. */
export function imageArns(region = '*'): string {
  return `arn:${Aws.PARTITION}:ec2:${region}::image/*`;
}

export function snapshotArns(region = '*'): string {
  return `arn:${Aws.PARTITION}:ec2:${region}::snapshot/*`;
}

export function imageArn(region: string, imageId: string): string {
  return `arn:${Aws.PARTITION}:ec2:${region}::image/${imageId}`;
}

export function snapshotArn(region: string, snapshotId: string): string {
  return `arn:${Aws.PARTITION}:ec2:${region}::snapshot/${snapshotId}`;
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
