import { Arn, ArnFormat, CfnResource, Duration, Resource, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { CrossAccountCopyRole } from './cross-account-copy-role';
import { LaunchPermission } from './governance';
import { IImage, ImageBase } from './image';
import { CopyOptions } from './image-options';
import { ResourceTypes } from './private/contract';
import { AmiValidationError } from './private/errors';
import { COPY_SOURCE_USE, shareKeyWith } from './private/key-sharing';
import { ManagedImage } from './private/managed-image';
import { AmiProvider, encryptionKeyOf } from './private/provider';
import { validateImageOfStackAccount, validateKeyNeedsEncryption, validateRegion, validateSamePartition } from './private/validation';

/**
 * Properties of a `CopiedAmi`.
 */
export interface CopiedAmiProps extends CopyOptions {
  /**
   * The image to copy: an image of this stack (e.g. an `AmiFromInstance`), or
   * an existing one from `Ami.fromImageId()`. Changing it replaces the copy.
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopyImage.html
   */
  readonly source: IImage;

  /**
   * The destination Region. CopyImage is called there, so one stack can copy
   * an image into several Regions.
   *
   * @default - the stack's Region
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopyImage.html
   */
  readonly region?: string;
}

/**
 * A copy of an AMI (EC2 CopyImage), in another Region or the same one (for
 * example to encrypt it), available when the deployment finishes.
 *
 * @example
 * declare const golden: AmiFromInstance;
 * new CopiedAmi(this, 'GoldenInEurope', {
 *   source: golden,
 *   region: 'eu-west-1',
 *   encrypted: true,
 * });
 * // or, the same:
 * golden.copyTo('eu-central-1', { encrypted: true });
 */
export class CopiedAmi extends ImageBase {
  /**
   * The image this is a copy of.
   */
  public readonly source: IImage;

  /**
   * The account that owns the copy.
   */
  public readonly account: string;

  constructor(scope: Construct, id: string, props: CopiedAmiProps) {
    super(scope, id, { region: props.region, account: props.account });
    validateRegion(this, props.region);
    this.account = props.account ?? Stack.of(this).account;
    this.source = props.source;
    validateCopy(this, props);
    const copyRole = crossAccountRole(this, props);

    const completionMinutes = props.completionDuration?.toMinutes();
    const managed = new ManagedImage(this, { ...props, timeout: props.timeout ?? defaultTimeout(props.completionDuration) }, {
      resourceType: ResourceTypes.COPIED_AMI,
      encryptionKey: props.kmsKey,
      encryptedWithDefaultKey: props.encrypted === true && !props.kmsKey,
      imageName: props.imageName,
      properties: {
        SourceImageId: props.source.imageId,
        SourceRegion: props.source.region,
        Encrypted: props.encrypted,
        KmsKeyId: props.kmsKey?.keyArn,
        CopyImageTags: props.copyTags ?? false,
        CompletionDurationMinutes: completionMinutes,
        Account: copyRole ? props.account : undefined,
        RoleArn: copyRole?.roleArn,
      },
      // Every link follows the copy where it lives.
      allWaiterProperties: copyRole ? { RoleArn: copyRole.roleArn } : undefined,
      account: copyRole ? props.account : undefined,
      roleArn: copyRole?.roleArn,
    });
    this._attach(managed);
    if (copyRole) {
      this.grantCrossAccount(props, copyRole, managed.operation);
    } else {
      this.grantProvider(props, managed.operation);
    }
  }

  /**
   * The target account's role copies (and uses the keys); the stack's roles
   * share the source with that account and assume the role.
   */
  private grantCrossAccount(props: CopiedAmiProps, copyRole: iam.IRole, operation: CfnResource): void {
    const provider = AmiProvider.of(this);
    const account = props.account!;
    provider.grantShareForCopy(this, props.source, account, operation);
    provider.grantAssumeCopyRole(copyRole.roleArn);
    const sourceKey = props.sourceEncryptionKey ?? encryptionKeyOf(props.source);
    // EC2 reads the source's snapshots in their Region and writes the copy's in this one.
    if (sourceKey) grantKeyToCopyingAccount(this, sourceKey, account, unique([props.source.region, this.region]));
  }

  private grantProvider(props: CopiedAmiProps, operation: CfnResource): void {
    const provider = AmiProvider.of(this);
    provider.grantSourceImage(this, 'CopyImage', props.source, operation);
    provider.grantCreateTagged('CopyImage');
    if (props.kmsKey) provider.grantEbsKey(props.kmsKey, [this.region], 'write');
    const sourceKey = props.sourceEncryptionKey ?? encryptionKeyOf(props.source);
    // EC2 reads the source's snapshots in their Region and writes the copy's in this one.
    if (sourceKey) provider.grantEbsKey(sourceKey, unique([props.source.region, this.region]), 'read');
  }
}

ImageBase._factories.copy = (source, id, region, options) => new CopiedAmi(source, id, { ...options, source, region });

/**
 * The role to assume for a copy owned by another account; undefined for a
 * copy in the stack's account.
 */
function crossAccountRole(scope: CopiedAmi, props: CopiedAmiProps): iam.IRole | undefined {
  const account = props.account;
  const stackAccount = Stack.of(scope).account;
  if (account === undefined) {
    if (props.copyRole) throw new AmiValidationError('copyRole needs account: name the account the role belongs to, which then makes the copy.', scope);
    return undefined;
  }
  if (!Token.isUnresolved(account) && !/^\d{12}$/.test(account)) {
    throw new AmiValidationError(`account "${account}" is not an AWS account ID: it must be 12 digits.`, scope);
  }
  const sameAccount = !Token.isUnresolved(account) && !Token.isUnresolved(stackAccount) && account === stackAccount;
  if (sameAccount) {
    if (props.copyRole) throw new AmiValidationError(`copyRole is only for a copy made by another account, but account ${account} is the stack's own: remove copyRole.`, scope);
    return undefined;
  }
  if (!props.copyRole) {
    throw new AmiValidationError(
      `account ${Token.isUnresolved(account) ? '(a token)' : account} needs copyRole: the copy is made by that account, as a role there that the provider assumes (deploy a CrossAccountCopyRole in it).`, scope);
  }
  validateKeyOfCopyingAccount(scope, props.kmsKey, account);
  validateParameterAllowed(scope, props.copyRole, props.parameterName);
  return roleInAccount(scope, props.copyRole, account);
}

/**
 * The copy's key must be a key of the account that makes the copy. What
 * counts is the key's own account (from its ARN for an imported key), not the
 * stack it is imported into: the README imports the target account's key into
 * the copying stack. A key a stack creates lives in that stack's account,
 * which is not the copying one unless both are known and equal.
 */
function validateKeyOfCopyingAccount(scope: CopiedAmi, key: kms.IKey | undefined, account: string): void {
  if (!key || Token.isUnresolved(account)) return;
  const keyAccount = key.env.account;
  const known = !Token.isUnresolved(keyAccount);
  const created = Resource.isOwnedResource(key);
  if (known ? keyAccount === account : !created) return;
  const what = known
    ? `it is a key of account ${keyAccount}`
    : `it is created by stack ${Stack.of(key).stackName}, whose account is not known at synth time`;
  throw new AmiValidationError(
    `kmsKey must be a key of account ${account}, which makes the copy, but ${what}: import it with kms.Key.fromKeyArn and an ARN of account ${account}.`, scope);
}

/**
 * The copy's parameter is written as the copy role: a CrossAccountCopyRole of
 * this app says at synth which names it may write. (An imported role's
 * policy is unknown here; SSM refuses at deploy what it does not allow.)
 */
function validateParameterAllowed(scope: CopiedAmi, role: iam.IRole, parameterName: string | undefined): void {
  const owner = role.node.scope;
  if (parameterName === undefined || Token.isUnresolved(parameterName) || !(owner instanceof CrossAccountCopyRole)) return;
  const path = (name: string) => name.replace(/^\//, '');
  if (owner.parameterNames.some((name) => Token.isUnresolved(name) || path(name) === path(parameterName))) return;
  throw new AmiValidationError(
    `parameterName "${parameterName}" is not among the parameterNames of copyRole ${owner.node.path}, which writes the parameter in the copy's account: add it there.`, scope);
}

function roleInAccount(scope: CopiedAmi, role: iam.IRole, account: string): iam.IRole {
  const roleArn = role.roleArn;
  if (!Token.isUnresolved(roleArn) && !Token.isUnresolved(account)) {
    const roleAccount = Arn.split(roleArn, ArnFormat.SLASH_RESOURCE_NAME).account;
    if (roleAccount !== account) {
      throw new AmiValidationError(`copyRole ${roleArn} belongs to account ${roleAccount}, but the copy is made by account ${account}: name a role of account ${account}.`, scope);
    }
  }
  return role;
}

/**
 * The copying account reads the source's snapshots with the source's key,
 * which its own roles may use through their policies once the key policy
 * lets the account: the same statements as for a grantee of the image
 * (key-sharing.ts), with the read actions only.
 */
function grantKeyToCopyingAccount(scope: CopiedAmi, key: kms.IKey, account: string, regions: string[]): void {
  shareKeyWith(scope, key, regions, LaunchPermission.account(account), COPY_SOURCE_USE);
}

function validateCopy(scope: CopiedAmi, props: CopiedAmiProps): void {
  validateRegion(scope, props.source.region, 'source region');
  validateImageOfStackAccount(scope, 'source', props.source, 'share or copy', 'copy the original image instead (copyTo with account and region)');
  validateSamePartition(scope, 'region', scope.region, props.source.region, 'the source image\'s Region');
  validateSamePartition(scope, 'region', scope.region, Stack.of(scope).region, 'the stack\'s Region, where the provider calls CopyImage,');
  validateKeyNeedsEncryption(scope, props.kmsKey, props.encrypted, 'CopyImage');
  const keyRegion = props.kmsKey?.env.region;
  if (keyRegion && !Token.isUnresolved(keyRegion) && !Token.isUnresolved(scope.region) && keyRegion !== scope.region) {
    throw new AmiValidationError(
      `kmsKey is in ${keyRegion}, but the copy is made in ${scope.region}: EBS needs a key in the destination Region (use kms.Key.fromKeyArn with a ${scope.region} key).`, scope);
  }
  const duration = props.completionDuration;
  if (duration) {
    const minutes = duration.toMinutes({ integral: false });
    if (!Number.isInteger(minutes) || minutes % 15 !== 0 || minutes < 15 || minutes > 2880) {
      throw new AmiValidationError(
        `completionDuration ${duration.toHumanString()} is not allowed: it must be a multiple of 15 minutes between 15 minutes and 48 hours.`, scope);
    }
    if (props.timeout && props.timeout.toMinutes({ integral: false }) < minutes) {
      throw new AmiValidationError(
        `timeout ${props.timeout.toHumanString()} is shorter than completionDuration ${duration.toHumanString()}: the stack would stop waiting before EC2 has to finish. Raise timeout, or leave it out to wait completionDuration plus 1 hour.`, scope);
    }
  }
}

/** A time-based copy may take its whole completion duration: wait that, plus an hour. */
function defaultTimeout(completionDuration: Duration | undefined): Duration {
  if (!completionDuration) return Duration.hours(1);
  return Duration.minutes(Math.min(completionDuration.toMinutes() + 60, 48 * 60));
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
