import { Annotations, Aws, Fn, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { IConstruct } from 'constructs';
import type { LaunchPermission } from '../governance';
import { partitionOf } from './validation';

/**
 * What EBS needs, with a grantee's credentials, to create volumes from
 * snapshots encrypted with a customer managed key (launching the image, or
 * copying it): the actions the Amazon EBS User Guide lists for users of a
 * shared key ("Share the KMS key used to encrypt a shared Amazon EBS
 * snapshot"), only through EC2 in the image's Region, and grants only for AWS
 * resources, as it recommends.
 * @see https://docs.aws.amazon.com/ebs/latest/userguide/share-kms-key.html
 */
export const GRANTEE_KEY_ACTIONS = [
  'kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptFrom', 'kms:ReEncryptTo',
];

/** What an account needs of a key to read snapshots encrypted with it through EC2: the source's key of a copy that account makes. */
export const COPY_SOURCE_KEY_ACTIONS = ['kms:Decrypt', 'kms:DescribeKey', 'kms:ReEncryptFrom'];

/** Why a grantee uses the key: the actions it needs, and what to say when an imported key cannot get them. */
export interface KeyUse {
  readonly actions: string[];
  /** Tells the statements of this use apart from the others' for the same grantee. */
  readonly sid: string;
  readonly warningId: string;
  readonly warning: (who: string, keyArn: string) => string;
  /** What the grantee does with the image, as the start of a warning. */
  readonly who: (subject: string) => string;
  /** The operation that fails without the key. */
  readonly what: string;
}

/** Launching an image shared with the grantee. */
export const LAUNCH_USE: KeyUse = {
  actions: GRANTEE_KEY_ACTIONS,
  sid: '',
  warningId: 'cdk-ami:importedKeyNotShared',
  warning: (who, keyArn) => `${who} may launch this image, but its snapshots are encrypted with the imported KMS key ${keyArn}, whose key policy cdk-ami cannot change: `
    + 'add these statements to it, or the launch fails',
  who: (subject) => `${subject} may launch this image`,
  what: 'launch',
};

/** Copying the source of a copy made by the grantee (an account): EC2 reads the source's snapshots with it. */
export const COPY_SOURCE_USE: KeyUse = {
  actions: COPY_SOURCE_KEY_ACTIONS,
  sid: 'CopySource',
  warningId: 'cdk-ami:sourceKeyNotShared',
  warning: (who, keyArn) => `${who} copies this image's source, whose snapshots are encrypted with the imported KMS key ${keyArn}, whose key policy cdk-ami cannot change: `
    + 'add these statements to it, or the copy fails',
  who: (subject) => `${subject} copies this image's source`,
  what: 'copy',
};

/** The kinds of launch permission (LaunchPermission.kind). */
const ACCOUNT = 'UserId';
const ORGANIZATION = 'OrganizationArn';

/**
 * Lets a grantee use a customer managed key through EC2 in `regions`, for
 * `use` (by default launching an image it may launch). A key of this app gets
 * the statements in its key policy; an imported key cannot be changed, so
 * synth warns with the statements its policy must hold.
 */
export function shareKeyWith(scope: IConstruct, key: kms.IKey, regions: string[], permission: LaunchPermission, use: KeyUse = LAUNCH_USE): void {
  if (isAwsManagedEbsKey(key)) {
    warnKeyNotShareable(scope, permission, `the AWS managed key ${AWS_MANAGED_EBS_KEY}`, use);
    return;
  }
  const statements = granteeStatements(permission, regions, regions.map((r) => `ec2.${r}.${Aws.URL_SUFFIX}`), Aws.PARTITION, use);
  const added = statements.map((statement) => key.addToResourcePolicy(statement, true).statementAdded);
  if (added.every((a) => a)) return;
  const literal = granteeStatements(permission, regions, regions.map((r) => `ec2.${r}.${urlSuffix(r)}`), partitionName(regions[0]), use);
  Annotations.of(scope).addWarningV2(use.warningId,
    `${use.warning(describe(permission), key.keyArn)}: ${JSON.stringify(literal.map((s) => s.toStatementJson()))}`);
}

/** The alias of the AWS managed key EBS encrypts with when no key is named. */
const AWS_MANAGED_EBS_KEY = 'alias/aws/ebs';

/**
 * Grantees of an image encrypted with an AWS managed key cannot use it: its
 * key policy cannot be changed, and EC2 refuses to launch or copy the image
 * for another account.
 * @see https://docs.aws.amazon.com/ebs/latest/userguide/ebs-modifying-snapshot-permissions.html
 */
function warnKeyNotShareable(scope: IConstruct, permission: LaunchPermission, keyDescription: string, use: KeyUse = LAUNCH_USE): void {
  Annotations.of(scope).addWarningV2('cdk-ami:awsManagedKeyNotShared',
    `${use.who(describe(permission))}, but its snapshots are encrypted with ${keyDescription}, which no other account can use: `
    + `the ${use.what} fails. Give the image (or a copy of it) a customer managed encryptionKey to share it.`);
}

/**
 * An image encrypted without a named key uses the account's EBS default key:
 * `aws/ebs` unless the account made a customer managed key its default.
 */
export function warnDefaultKeyNotShareable(scope: IConstruct, permission: LaunchPermission, region: string): void {
  warnKeyNotShareable(scope, permission,
    `the account's default EBS key in ${region} (the AWS managed ${AWS_MANAGED_EBS_KEY}, unless the account's default is a customer managed key)`);
}

/** `alias/aws/ebs` by alias name or alias ARN, where synth can read it. */
function isAwsManagedEbsKey(key: kms.IKey): boolean {
  const names = [key.keyArn, 'aliasName' in key ? (key as kms.IAlias).aliasName : undefined];
  return names.some((name) => typeof name === 'string' && !Token.isUnresolved(name) && (name === AWS_MANAGED_EBS_KEY || name.endsWith(`:${AWS_MANAGED_EBS_KEY}`)));
}

/** The two statements for one grantee: using the key through EC2 (in `regions`), and creating grants for EBS. */
export function granteeStatements(
  permission: LaunchPermission, regions: string[], viaService: string[], partition: string = Aws.PARTITION, use: KeyUse = LAUNCH_USE,
): iam.PolicyStatement[] {
  const { principal, conditions } = grantee(permission, partition);
  const sid = `${sidOf(permission, regions)}${use.sid}`;
  const via = { 'kms:ViaService': viaService.length === 1 ? viaService[0] : viaService };
  return [
    new iam.PolicyStatement({
      sid: `${sid}UseThroughEc2`,
      principals: [principal],
      actions: use.actions,
      resources: ['*'],
      conditions: { ...conditions, StringEquals: { ...conditions.StringEquals, ...via } },
    }),
    new iam.PolicyStatement({
      sid: `${sid}GrantsForEbs`,
      principals: [principal],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: { ...conditions, StringEquals: { ...conditions.StringEquals, ...via }, Bool: { 'kms:GrantIsForAWSResource': 'true' } },
    }),
  ];
}

/**
 * An account is the principal itself; the accounts of an organization or an
 * OU are anyone whose aws:PrincipalOrgID (and aws:PrincipalOrgPaths, for an
 * OU and the OUs under it) says they belong to it.
 */
function grantee(permission: LaunchPermission, partition: string): { principal: iam.IPrincipal; conditions: Record<string, any> } {
  if (permission.kind === ACCOUNT) {
    return { principal: new iam.ArnPrincipal(`arn:${partition}:iam::${permission.value}:root`), conditions: {} };
  }
  const orgId = arnPart(permission.value, 1);
  if (permission.kind === ORGANIZATION) {
    return { principal: new iam.AnyPrincipal(), conditions: { StringEquals: { 'aws:PrincipalOrgID': orgId } } };
  }
  const ouId = arnPart(permission.value, 2);
  return {
    principal: new iam.AnyPrincipal(),
    conditions: {
      'StringEquals': { 'aws:PrincipalOrgID': orgId },
      'ForAnyValue:StringLike': { 'aws:PrincipalOrgPaths': `${orgId}/*/${ouId}/*` },
    },
  };
}

/** `o-…` (1) or `ou-…` (2) of `arn:…:organization/o-…` or `arn:…:ou/o-…/ou-…`, also for an ARN known at deploy time. */
function arnPart(arn: string, index: number): string {
  return Token.isUnresolved(arn) ? Fn.select(index, Fn.split('/', arn)) : arn.split('/')[index];
}

/**
 * A statement ID that tells grantees (the account, or the organization's or
 * OU's ID) and Regions apart: one key may serve images in several Regions.
 */
function sidOf(permission: LaunchPermission, regions: string[]): string {
  const id = Token.isUnresolved(permission.value) ? permission.kind : permission.kind === ACCOUNT ? permission.value : permission.value.split('/').at(-1)!;
  const where = regions.filter((region) => !Token.isUnresolved(region)).join('');
  return `CdkAmi${`${id}${where}`.replace(/[^A-Za-z0-9]/g, '')}`;
}

function describe(permission: LaunchPermission): string {
  if (permission.kind === ACCOUNT) return `Account ${permission.value}`;
  return `${permission.kind === ORGANIZATION ? 'Organization' : 'Organizational unit'} ${permission.value}`;
}

function partitionName(region: string): string {
  return Token.isUnresolved(region) ? 'aws' : partitionOf(region);
}

function urlSuffix(region: string): string {
  return partitionName(region) === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
}
