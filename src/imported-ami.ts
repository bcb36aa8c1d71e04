import { Aws, Duration, Fn, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, IConstruct } from 'constructs';
import { CopyableImageBase } from './copied-ami';
import { BootMode, DiskImageFormat, ImageArchitecture, ImportLicenseType, ImportPlatform } from './enums';
import { ImageProps } from './image-options';
import { imageArn, imageArns, snapshotArn, snapshotArns } from './private/arns';
import { IMPORT_TARGET, ResourceTypes, Tags, Timing } from './private/contract';
import { AmiValidationError } from './private/errors';
import { ManagedImage, WaiterStart } from './private/managed-image';
import { AmiProvider } from './private/provider';
import { ProviderResource } from './private/provider-resource';
import { tagList, validateBootMode, validateEc2Id, validateKeyNeedsEncryption } from './private/validation';
import { createVmImportRole } from './private/vm-import';
import { WaiterChain } from './private/waiter-chain';

/**
 * One disk of an image to import.
 */
export class ImportDisk {
  /**
   * A disk image in an S3 bucket. The import's service role may read exactly this object.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImageDiskContainer.html
   */
  public static fromBucket(bucket: s3.IBucket, key: string, format: DiskImageFormat): ImportDisk {
    return new ImportDisk({ Format: format, S3Bucket: bucket.bucketName, S3Key: key }, bucket, key);
  }

  /**
   * A disk image at a URL: `s3://bucket/key`, or an `https://` URL (for example a presigned one).
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImageDiskContainer.html
   */
  public static fromUrl(url: string, format: DiskImageFormat): ImportDisk {
    return new ImportDisk({ Format: format, Url: url }, undefined, undefined, url);
  }

  /**
   * An EBS snapshot of the disk.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImageDiskContainer.html
   */
  public static fromSnapshot(snapshotId: string): ImportDisk {
    return new ImportDisk({ SnapshotId: snapshotId });
  }

  private constructor(
    private readonly rendered: Record<string, string>,
    private readonly bucket?: s3.IBucket,
    private readonly key?: string,
    private readonly url?: string,
  ) {}

  /** Where the disk is read from, for messages. @internal */
  public _describe(): string {
    return this.url ?? (this.bucket ? `s3://${this.bucket.bucketName}/${this.key}` : `snapshot ${this.rendered.SnapshotId}`);
  }

  /** @internal */
  public _format(): string | undefined {
    return this.rendered.Format;
  }

  /** @internal */
  public _snapshotId(): string | undefined {
    return this.rendered.SnapshotId;
  }

  /** @internal */
  public _render(): Record<string, string> {
    return this.rendered;
  }

  /** @internal */
  public _validate(scope: Construct): void {
    if (this.rendered.SnapshotId) validateEc2Id(scope, 'ImportDisk.fromSnapshot', this.rendered.SnapshotId, 'snapshot');
    if (this.url && !Token.isUnresolved(this.url) && !/^(s3|https):\/\//.test(this.url)) {
      throw new AmiValidationError(`Disk URL "${this.url}" is not supported: use s3://bucket/key or an https:// URL.`, scope);
    }
  }

  /**
   * What VM Import needs to read this disk: the object, and the bucket's
   * location and listing. HTTPS URLs need nothing.
   *
   * @internal
   */
  public _grantRead(role: iam.IRole): void {
    let bucketName: string | undefined = this.bucket?.bucketName;
    let key = this.key;
    const s3Url = this.url && !Token.isUnresolved(this.url) ? /^s3:\/\/([^/]+)\/(.+)$/.exec(this.url) : null;
    if (s3Url) [bucketName, key] = [s3Url[1], s3Url[2]];
    if (!bucketName || !key) return;
    const bucketArn = `arn:${Aws.PARTITION}:s3:::${bucketName}`;
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`${bucketArn}/${key}`] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetBucketLocation', 's3:ListBucket'], resources: [bucketArn] }));
    this.bucket?.encryptionKey?.grantDecrypt(role);
  }
}

/** VM Import accepts at most 21 disks per image. */
const MAX_DISKS = 21;

/**
 * Properties of an `ImportedAmi`.
 */
export interface ImportedAmiProps extends ImageProps {
  /**
   * The disks of the image, boot disk first (at most 21). Changing them replaces the image.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImageDiskContainer.html
   */
  readonly disks: ImportDisk[];

  /**
   * The architecture of the disks' operating system.
   * Changing it replaces the image (a new import).
   *
   * @default - detected by VM Import
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImportImage.html
   */
  readonly architecture?: ImageArchitecture;

  /**
   * The operating system.
   * Changing it replaces the image (a new import).
   *
   * @default - detected by VM Import
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImportImage.html
   */
  readonly platform?: ImportPlatform;

  /**
   * The boot mode.
   * Changing it replaces the image (a new import).
   *
   * @default - detected by VM Import
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImportImage.html
   */
  readonly bootMode?: BootMode;

  /**
   * The license type.
   * Changing it replaces the image (a new import).
   *
   * @default - AWS for Windows if it can, else BYOL
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImportImage.html
   */
  readonly licenseType?: ImportLicenseType;

  /**
   * The usage operation (billing code) of the imported image, such as
   * `RunInstances:0800` for Windows BYOL or `RunInstances:0002` for Windows
   * with an AWS license. AWS recommends giving this or `licenseType`.
   * Changing it replaces the image.
   *
   * @default - derived by VM Import from the license type and platform
   * @see https://docs.aws.amazon.com/vm-import/latest/userguide/licensing-specify-option.html
   */
  readonly usageOperation?: string;

  /**
   * AWS License Manager license configurations to attach to the imported
   * image (for bring-your-own-license imports tracked by License Manager).
   * Changing them replaces the image.
   *
   * @default - none
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImportImageLicenseConfigurationRequest.html
   */
  readonly licenseConfigurationArns?: string[];

  /**
   * Encrypt the image's snapshots (with `encryptionKey`, or the default EBS key).
   * Changing it replaces the image (a new import).
   *
   * @default - as the account's EBS encryption by default
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImportImage.html
   */
  readonly encrypted?: boolean;

  /**
   * The KMS key for the snapshots. Requires `encrypted: true`.
   * Changing it replaces the image (a new import).
   *
   * @default - the default EBS key
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImportImage.html
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * The service role VM Import uses to read the disks, assumable by
   * `vmie.amazonaws.com` with external ID `vmimport`.
   * Changing it replaces the image (a new import).
   *
   * @default - a role is created that may read exactly the disks' objects (and use `encryptionKey`)
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImportImage.html
   */
  readonly role?: iam.IRole;
}

/**
 * An AMI imported from disk images with VM Import (EC2 ImportImage),
 * available when the deployment finishes.
 *
 * @example
 * declare const bucket: s3.IBucket;
 * new ImportedAmi(this, 'Appliance', {
 *   disks: [ImportDisk.fromBucket(bucket, 'appliance/disk1.vmdk', DiskImageFormat.VMDK)],
 *   imageName: 'appliance-1.0',
 *   timeout: Duration.hours(4),
 * });
 */
export class ImportedAmi extends CopyableImageBase {
  /**
   * The service role VM Import runs with.
   */
  public readonly role: iam.IRole;

  constructor(scope: Construct, id: string, props: ImportedAmiProps) {
    super(scope, id);
    if (props.disks.length === 0 || props.disks.length > MAX_DISKS) {
      throw new AmiValidationError(`disks has ${props.disks.length} entries: an import takes 1 to ${MAX_DISKS} disks.`, this);
    }
    props.disks.forEach((d) => d._validate(this));
    validateKeyNeedsEncryption(this, props.encryptionKey, props.encrypted, 'VM Import');
    // ImportImage takes two boot modes; uefi-preferred is RegisterImage's only.
    validateBootMode(this, { bootMode: props.bootMode, allowedBootModes: [BootMode.LEGACY_BIOS, BootMode.UEFI] });
    validateLicensing(this, props);
    this.role = props.role ?? this.createServiceRole(props);

    const managed = new ManagedImage(this, props, {
      resourceType: ResourceTypes.IMPORTED_AMI,
      encryptionKey: props.encryptionKey,
      encryptedWithDefaultKey: props.encrypted === true && !props.encryptionKey,
      platform: props.platform ? { windows: props.platform === ImportPlatform.WINDOWS, knownFrom: `the import (platform ${props.platform})` } : undefined,
      properties: {
        Disks: props.disks.map((d) => d._render()),
        Architecture: props.architecture,
        Platform: props.platform,
        BootMode: props.bootMode,
        LicenseType: props.licenseType,
        UsageOperation: props.usageOperation,
        LicenseConfigurationArns: props.licenseConfigurationArns,
        Encrypted: props.encrypted,
        KmsKeyId: props.encryptionKey?.keyArn,
        RoleName: this.role.roleName,
      },
      // The name is given by a copy once the import is done and tagged, by stage 2.
      // So are the snapshot-only tags: VM Import cannot tag what it makes.
      allWaiterProperties: props.imageName || props.snapshotTags
        ? { ImageName: props.imageName, SnapshotTags: tagList(props.snapshotTags) }
        : undefined,
      imageName: props.imageName,
      beforeWaiters: (operation, timeout) => this.importStage(operation, timeout, props.imageName !== undefined),
    });
    this._attach(managed);
    // ImportImage checks what the role may read when it is called: the Ref of RoleName waits for the role only, not its policy.
    managed.operation.node.addDependency(this.role);
    this.grantProvider(props, managed.operation);
  }

  /**
   * Stage 1 of the wait: links that follow the import task until it completes
   * and hand out the image and snapshot IDs it made, without tagging them.
   * Then the policies that name exactly those, which stage 2 (the image's
   * waiter chain: tag, rename copy, governance) waits for. The waiter role
   * never has a grant on untagged images or snapshots it was not given by ID.
   */
  private importStage(operation: ProviderResource, timeout: Duration, rename: boolean): WaiterStart {
    const provider = AmiProvider.of(this);
    const stage1 = new WaiterChain(this, 'ImportWait', {
      serviceToken: provider.waiterServiceToken,
      region: this.region,
      imageId: operation.ref,
      timeout,
      allLinkProperties: { Target: IMPORT_TARGET, SnapshotArnPrefix: snapshotArn(this.region, '') },
    });
    const last = stage1.links[stage1.links.length - 1];
    const imported = { imageId: stage1.imageId, snapshotArns: last.attribute('SnapshotArns') };
    const policies = grantImportedResources(this, this.region, imported, rename);
    return {
      imageId: imported.imageId,
      properties: { ImportTaskId: operation.ref, ImportedImageId: imported.imageId, ImportedSnapshotIds: last.attribute('SnapshotIds') },
      dependencies: policies,
      // Without a name the image is available when the task completes: stage 2 only tags it and applies governance.
      timeout: rename ? timeout : Duration.seconds(Math.min(timeout.toSeconds(), Timing.LINK_BUDGET_SECONDS)),
      resources: stage1.links.length + policies.length,
      waiterLinks: stage1.links.length,
    };
  }

  private createServiceRole(props: ImportedAmiProps): iam.Role {
    return createVmImportRole(this, `VM Import service role of ${this.node.path}: reads the disk images`,
      (role) => props.disks.forEach((d) => d._grantRead(role)), props.encryptionKey);
  }

  private grantProvider(props: ImportedAmiProps, operation: IConstruct): void {
    const provider = AmiProvider.of(this);
    const taskArns = `arn:${Aws.PARTITION}:ec2:${Aws.REGION}:${Aws.ACCOUNT_ID}:import-image-task/*`;
    // EC2 evaluates the new image and the task with the request's tags (only the task can be tagged).
    provider.grantOperation('import-image', {
      sid: 'ImportImageTaggedAsOwn',
      actions: ['ec2:ImportImage'],
      resources: [imageArns(Aws.REGION), taskArns],
      conditions: { StringEquals: { [`aws:RequestTag/${Tags.STACK}`]: Aws.STACK_ID } },
    });
    // A snapshot disk is evaluated as an existing snapshot, without request tags: by its ARN.
    for (const snapshotId of props.disks.map((d) => d._snapshotId()).filter((id): id is string => !!id)) {
      provider.addResourceToOperationStatement('import-image-snapshots', {
        sid: 'ImportImageOfSourceSnapshots',
        actions: ['ec2:ImportImage'],
      }, snapshotArn(Aws.REGION, snapshotId), { id: snapshotId, owner: this, firstUser: operation });
    }
    provider.grantOperation('import-image-tag-on-create', {
      sid: 'TagOnImportImage',
      actions: ['ec2:CreateTags'],
      resources: [taskArns],
      conditions: { StringEquals: { 'ec2:CreateAction': 'ImportImage' } },
    });
    provider.grantOperation('import-tasks', {
      sid: 'FollowImportTasks',
      actions: ['ec2:DescribeImportImageTasks'],
      resources: ['*'],
    });
    provider.grantOperation('import-cancel', {
      sid: 'CancelOwnImportTasks',
      actions: ['ec2:CancelImportTask'],
      resources: [taskArns],
      conditions: { StringEquals: { [`aws:ResourceTag/${Tags.STACK}`]: Aws.STACK_ID } },
    });
    provider.addResourceToOperationStatement('pass-import-roles', {
      sid: 'PassVmImportRoles',
      actions: ['iam:PassRole'],
    }, this.role.roleArn);
    if (props.encryptionKey) provider.grantEbsKey(props.encryptionKey, [this.region], 'write');

    // Stage 1 follows the task; stage 2's grants on the exact image and snapshots are importStage's policies.
    provider.grantWaiter('import-follow', {
      sid: 'FollowImportTasks',
      actions: ['ec2:DescribeImportImageTasks'],
      resources: ['*'],
    });
    if (props.imageName) {
      // ImportImage cannot name the image: stage 2 copies it under the name (the new image
      // is tagged at creation; the source is granted by ID) and removes the unnamed import.
      provider.grantCreateTagged('CopyImage', 'waiter');
      provider.grantWaiter('import-rename-remove', {
        sid: 'RemoveUnnamedImports',
        actions: ['ec2:DeregisterImage', 'ec2:DeleteSnapshot', 'ec2:DisableImageDeregistrationProtection'],
        resources: [imageArns(Aws.REGION), snapshotArns(Aws.REGION)],
        conditions: { StringEquals: { [`aws:ResourceTag/${Tags.STACK}`]: Aws.STACK_ID } },
      });
      if (props.encryptionKey) provider.grantEbsKey(props.encryptionKey, [this.region], 'write', 'waiter');
    }
  }
}

/** Usage operations are RunInstances billing codes; license configurations are License Manager ARNs. */
function validateLicensing(scope: Construct, props: ImportedAmiProps): void {
  const usage = props.usageOperation;
  if (usage !== undefined && !Token.isUnresolved(usage) && !/^RunInstances(:[0-9a-z]{4})?$/.test(usage)) {
    throw new AmiValidationError(`usageOperation "${usage}" is not a usage operation: they look like RunInstances or RunInstances:0800.`, scope);
  }
  for (const arn of props.licenseConfigurationArns ?? []) {
    if (Token.isUnresolved(arn)) continue;
    if (!/^arn:aws[a-z-]*:license-manager:[a-z0-9-]+:\d{12}:license-configuration[:/]lic-[0-9a-z]+$/.test(arn)) {
      throw new AmiValidationError(
        `licenseConfigurationArns entry "${arn}" is not a License Manager license configuration ARN such as arn:aws:license-manager:us-east-1:123456789012:license-configuration:lic-0123456789abcdef0123456789abcdef.`, scope);
    }
  }
}

/** What stage 1 of an import's waiter hands out: the image ID, and its snapshots' ARNs comma-joined. */
interface ImportedResourceAttributes {
  readonly imageId: string;
  readonly snapshotArns: string;
}

/**
 * Lets the provider act on exactly the image and snapshots an import made,
 * as stage 1 of its waiter hands them out (VM Import leaves them untagged,
 * and their IDs exist only then): the waiter role may put this stack's tags
 * on them and, with `rename`, copy the image under its name; the operation
 * role may remove them when they were never tagged. The statements live in
 * policies of `owner`, which stage 2 waits for; a new import replaces the
 * IDs they name.
 */
function grantImportedResources(owner: ImportedAmi, region: string, imported: ImportedResourceAttributes, rename: boolean): iam.Policy[] {
  const provider = AmiProvider.of(owner);
  const image = [imageArn(region, imported.imageId)];
  // One ARN per snapshot, comma-joined by stage 1; CloudFormation splits them into the list.
  const snapshots = Fn.split(',', imported.snapshotArns);
  const asOwn = { StringEquals: { [`aws:RequestTag/${Tags.STACK}`]: Aws.STACK_ID } };
  const adopt = new iam.Policy(owner, 'AdoptImportPolicy', {
    roles: [provider.waiterRole],
    statements: [
      new iam.PolicyStatement({ sid: 'TagImportedImageAsOwn', actions: ['ec2:CreateTags'], resources: image, conditions: asOwn }),
      new iam.PolicyStatement({ sid: 'TagImportedSnapshotsAsOwn', actions: ['ec2:CreateTags'], resources: snapshots, conditions: asOwn }),
      ...(rename ? [new iam.PolicyStatement({ sid: 'CopyImportedImage', actions: ['ec2:CopyImage'], resources: image })] : []),
    ],
  });
  const cleanup = new iam.Policy(owner, 'RemoveUntaggedImportPolicy', {
    roles: [provider.operationRole],
    statements: [
      new iam.PolicyStatement({ sid: 'RemoveUntaggedImportedImage', actions: ['ec2:DeregisterImage'], resources: image }),
      new iam.PolicyStatement({ sid: 'RemoveUntaggedImportedSnapshots', actions: ['ec2:DeleteSnapshot'], resources: snapshots }),
    ],
  });
  return [adopt, cleanup];
}
