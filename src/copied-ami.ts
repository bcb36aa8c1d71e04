import { Arn, ArnFormat, Aws, CfnResource, Duration, Lazy, Resource, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CrossAccountCopyRole } from './cross-account-copy-role';
import { LaunchPermission } from './governance';
import { IImage, ImageBase } from './image';
import { CopyOptions, StoreOptions } from './image-options';
import { imageArn, providerRolePath, snapshotArns } from './private/arns';
import { ResourceTypes, Tags } from './private/contract';
import { AmiValidationError } from './private/errors';
import { encryptionKeyOf, imageStateOf } from './private/image-state';
import { COPY_SOURCE_USE, shareKeyWith } from './private/key-sharing';
import { ManagedImage } from './private/managed-image';
import { AmiProvider } from './private/provider';
import { validateImageOfStackAccount, validateKeyNeedsEncryption, validateRegion, validateSamePartition } from './private/validation';
import { StoredAmi } from './stored-ami';

/**
 * The base class of every image construct of this library, and of the
 * existing images `Ami.fromImageId` references: an `ImageBase` that can be
 * copied (`copyTo`) and stored in S3 (`storeTo`).
 */
// It lives beside CopiedAmi, which it makes and which extends it: image.ts cannot import copied-ami.ts,
// which imports image.ts (test/import-graph.test.ts).
export abstract class CopyableImageBase extends ImageBase {
  /**
   * Copies this image into a Region (EC2 CopyImage, called there): another
   * Region, or the image's own one for a same-Region copy (for example to
   * encrypt it with another key). The same as
   * `new CopiedAmi(this, id, { ...options, source: this, region })`; the copy
   * waits until it is available, and keeps the source's `retention` unless
   * `options` gives one.
   *
   * @param id construct ID of the copy, in this image's scope
   * @param region the destination Region, e.g. `eu-west-1`; the image's own Region makes a same-Region copy
   * @param options how to copy
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopyImage.html
   */
  public copyTo(id: string, region: string, options: CopyOptions = {}): CopiedAmi {
    // A copy is retired as its source is, unless told otherwise.
    return new CopiedAmi(this, id, { retention: imageStateOf(this)?.retention, ...options, source: this, region });
  }

  /**
   * Stores this image as one object in an S3 bucket (EC2
   * CreateStoreImageTask): the same as
   * `new StoredAmi(this, id, { ...options, image: this, bucket })`.
   *
   * @param id construct ID of the stored image, in this image's scope
   * @param bucket the bucket, in this image's Region
   * @param options how to store
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateStoreImageTask.html
   */
  public storeTo(id: string, bucket: s3.IBucket, options: StoreOptions = {}): StoredAmi {
    return new StoredAmi(this, id, { ...options, image: this, bucket });
  }
}

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
   * Changing it replaces the copy.
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
 * golden.copyTo('GoldenInFrankfurt', 'eu-central-1', { encrypted: true });
 */
export class CopiedAmi extends CopyableImageBase {
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
      encryptionKey: props.encryptionKey,
      encryptedWithDefaultKey: props.encrypted === true && !props.encryptionKey,
      imageName: props.imageName,
      properties: {
        SourceImageId: props.source.imageId,
        SourceRegion: props.source.region,
        Encrypted: props.encrypted,
        KmsKeyId: props.encryptionKey?.keyArn,
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
    const account = props.account!;
    grantShareForCopy(this, props.source, account, operation);
    grantAssumeCopyRole(this, copyRole.roleArn);
    const sourceKey = props.sourceEncryptionKey ?? encryptionKeyOf(props.source);
    // EC2 reads the source's snapshots in their Region and writes the copy's in this one.
    if (sourceKey) grantKeyToCopyingAccount(this, sourceKey, account, unique([props.source.region, this.region]));
  }

  private grantProvider(props: CopiedAmiProps, operation: CfnResource): void {
    const provider = AmiProvider.of(this);
    provider.grantSourceImage(this, 'CopyImage', props.source, operation);
    provider.grantCreateTagged('CopyImage');
    if (props.encryptionKey) provider.grantEbsKey(props.encryptionKey, [this.region], 'write');
    const sourceKey = props.sourceEncryptionKey ?? encryptionKeyOf(props.source);
    // EC2 reads the source's snapshots in their Region and writes the copy's in this one.
    if (sourceKey) provider.grantEbsKey(sourceKey, unique([props.source.region, this.region]), 'read');
  }
}

/**
 * Lets both provider functions assume `roleArn`, a role in another account
 * that makes, follows and removes a copy there (onEvent creates and deletes,
 * isComplete polls). Gives the two roles the path that role's trust policy
 * names (see `providerRolePath`), so that no other role of the account matches.
 */
function grantAssumeCopyRole(copy: CopiedAmi, roleArn: string): void {
  const provider = AmiProvider.of(copy);
  const assume = { sid: 'AssumeCrossAccountCopyRoles', actions: ['sts:AssumeRole'] };
  provider.addResourceToOperationStatement('assume-copy-role', assume, roleArn);
  provider.addResourceToWaiterStatement('assume-copy-role', assume, roleArn);
  for (const role of [provider.operationRole, provider.waiterRole]) {
    (role.node.defaultChild as iam.CfnRole).path = providerRolePath(Stack.of(copy).stackName);
  }
}

/** The accounts copies of a stack's images are made by, one list per provider, rendered at synth. */
const copyAccounts = new WeakMap<AmiProvider, { readonly accounts: Set<string>; readonly rendered: string[] }>();

/**
 * Lets the onEvent role share `source` with `account` before that account
 * copies it, and withdraw the share afterwards: launch permission on exactly
 * the source image (in a policy of its own, as in `grantSourceImage`), and
 * createVolumePermission of this stack's snapshots (its cdk-ami:stack tag:
 * `validateSourceSharable` accepts no other source) in the source's Region,
 * for exactly the accounts that copy, never a group (public).
 */
function grantShareForCopy(copy: CopiedAmi, source: IImage, account: string, dependent: CfnResource): void {
  const provider = AmiProvider.of(copy);
  const policy = new iam.Policy(copy, 'ShareSourcePolicy', {
    roles: [provider.operationRole],
    statements: [new iam.PolicyStatement({
      sid: 'ShareSourceForCopy',
      actions: ['ec2:DescribeImageAttribute', 'ec2:ModifyImageAttribute'],
      resources: [imageArn(source.region, source.imageId)],
    })],
  });
  dependent.node.addDependency(policy);
  provider.grantOperation('read-snapshot-permissions', {
    sid: 'ReadSnapshotPermissions',
    actions: ['ec2:DescribeSnapshotAttribute'],
    resources: [snapshotArns()],
    // Only this account's snapshots can be shared: those of the sources.
    conditions: { StringEquals: { 'ec2:Owner': Aws.ACCOUNT_ID } },
  });
  let copying = copyAccounts.get(provider);
  if (!copying) {
    const accounts = new Set<string>();
    copying = { accounts, rendered: Lazy.list({ produce: () => [...accounts] }) };
    copyAccounts.set(provider, copying);
  }
  copying.accounts.add(account);
  for (const operation of ['Add', 'Remove'] as const) {
    const other = operation === 'Add' ? 'Remove' : 'Add';
    provider.addResourceToOperationStatement(`share-snapshots-${operation}`, {
      sid: `${operation}SnapshotPermissionForCopies`,
      actions: ['ec2:ModifySnapshotAttribute'],
      conditions: {
        // Present, and naming only accounts that copy; never a group (public) nor the other operation.
        'StringEquals': { 'ec2:Attribute': 'createVolumePermission', [`aws:ResourceTag/${Tags.STACK}`]: Aws.STACK_ID },
        'ForAllValues:StringEquals': { [`ec2:${operation}/userId`]: copying.rendered },
        'Null': { [`ec2:${operation}/userId`]: 'false', [`ec2:${other}/userId`]: 'true', 'ec2:Add/group': 'true', 'ec2:Remove/group': 'true' },
      },
    }, snapshotArns(source.region));
  }
}

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
  validateKeyOfCopyingAccount(scope, props.encryptionKey, account);
  validateSourceSharable(scope, props.source, account);
  if (props.fastLaunch?.launchTemplate) {
    throw new AmiValidationError(
      `fastLaunch.launchTemplate cannot be used on a copy made by account ${Token.isUnresolved(account) ? '(a token)' : account}: copyRole enables fast launch there and may name no launch template. Remove fastLaunch.launchTemplate (EC2 then launches in that account's default VPC).`, scope);
  }
  validateParameterAllowed(scope, props.copyRole, props.parameterName);
  return roleInAccount(scope, props.copyRole, account);
}

/**
 * The copying account needs the source's snapshots shared with it, and the
 * provider may share only snapshots tagged as this stack's: those of the
 * images this stack makes, except images registered from the user's snapshots.
 */
function validateSourceSharable(scope: CopiedAmi, source: IImage, account: string): void {
  const state = imageStateOf(source);
  const sourceStack = Stack.of(source);
  let what: string | undefined;
  if (!state || state.snapshotsTagged === undefined) what = 'an image referenced by ID, whose snapshots are not tagged as this stack\'s';
  else if (sourceStack !== Stack.of(scope)) what = `an image of stack ${sourceStack.stackName}, whose snapshots carry that stack's tag`;
  else if (!state.snapshotsTagged) what = 'registered from your snapshots, which are not tagged as this stack\'s';
  if (!what) return;
  throw new AmiValidationError(
    `source ${source.node.path} is ${what}: a copy made by account ${Token.isUnresolved(account) ? '(a token)' : account} needs the source's snapshots shared with it, and the provider shares only snapshots of this stack's images. Copy the image into this stack first (a CopiedAmi without account), and copy that copy to account ${Token.isUnresolved(account) ? '(a token)' : account}.`, scope);
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
    `encryptionKey must be a key of account ${account}, which makes the copy, but ${what}: import it with kms.Key.fromKeyArn and an ARN of account ${account}.`, scope);
}

/**
 * The copy's parameter is written as the copy role: a CrossAccountCopyRole of
 * this app says at synth which names it may write. (An imported role's
 * policy is unknown here; SSM refuses at deploy what it does not allow.)
 */
function validateParameterAllowed(scope: CopiedAmi, role: iam.IRole, parameterName: string | undefined): void {
  const owner = role.node.scope;
  if (parameterName === undefined || Token.isUnresolved(parameterName) || !CrossAccountCopyRole.isCrossAccountCopyRole(owner)) return;
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
  validateKeyNeedsEncryption(scope, props.encryptionKey, props.encrypted, 'CopyImage');
  const keyRegion = props.encryptionKey?.env.region;
  if (keyRegion && !Token.isUnresolved(keyRegion) && !Token.isUnresolved(scope.region) && keyRegion !== scope.region) {
    throw new AmiValidationError(
      `encryptionKey is in ${keyRegion}, but the copy is made in ${scope.region}: EBS needs a key in the destination Region (use kms.Key.fromKeyArn with a ${scope.region} key).`, scope);
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
