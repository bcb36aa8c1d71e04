import { Duration, Fn, Lazy, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { CopyableImageBase } from './copied-ami';
import { DiskImageFormat } from './enums';
import { ImageProps } from './image-options';
import { ImportDisk } from './imported-ami';
import { snapshotArn } from './private/arns';
import { ResourceTypes, SnapshotImportTargets } from './private/contract';
import { grantDiskImports, grantImportedSnapshots } from './private/disk-import-grants';
import { AmiValidationError } from './private/errors';
import { ManagedImage } from './private/managed-image';
import { AmiProvider } from './private/provider';
import { ProviderResource } from './private/provider-resource';
import { registrationProperties } from './private/registration';
import { recordImageCost } from './private/stack-limits';
import { removalProperty, tagList, validateKeyNeedsEncryption, validateRemovalPolicy } from './private/validation';
import { createVmImportRole } from './private/vm-import';
import { WaiterChain } from './private/waiter-chain';
import { RegistrationOptions } from './registration';

/** The disk formats ImportSnapshot reads. */
const SNAPSHOT_FORMATS: readonly string[] = [DiskImageFormat.VHD, DiskImageFormat.VMDK, DiskImageFormat.RAW];

/**
 * The task IDs of all disks are the import resource's physical ID, which
 * CloudFormation limits to 1,024 characters: 21 disks fit.
 */
const MAX_DISKS = 21;

/**
 * How long stage 2 may take to tag the snapshots: IAM needs a few minutes to
 * make the new policy on them effective.
 */
const ADOPT_TIMEOUT = Duration.minutes(10);

/**
 * A volume of an `AmiFromDisks`: a disk image, the device it becomes and its
 * EBS settings, as aws-cdk-lib's `ec2.BlockDeviceVolume.ebsFromSnapshot`
 * takes them.
 */
export interface DiskVolume extends ec2.EbsDeviceOptionsBase {
  /**
   * The device name, e.g. `/dev/xvda` for the root device or `/dev/sdf`.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_BlockDeviceMapping.html
   */
  readonly deviceName: string;

  /**
   * The disk image (`ImportDisk.fromBucket` or `ImportDisk.fromUrl`, format
   * VHD, VMDK or RAW), imported bit for bit.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SnapshotDiskContainer.html
   */
  readonly disk: ImportDisk;

  /**
   * The size of the volume in GiB, at least the disk's.
   *
   * @default - the size of the imported snapshot
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EbsBlockDevice.html
   */
  readonly volumeSize?: number;
}

/**
 * Properties of an `AmiFromDisks`.
 */
export interface AmiFromDisksProps extends ImageProps, RegistrationOptions {
  /**
   * The image's volumes, each imported from a disk image (at most 21) and
   * registered with RegisterImage. The first is the root device. Volumes
   * without a type are `gp3`. Changing them replaces the image (a changed
   * disk is imported again).
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImportSnapshot.html
   */
  readonly disks: DiskVolume[];

  /**
   * Encrypt the imported snapshots (with `encryptionKey`, or the default EBS key).
   * Changing it imports the disks again and replaces the image.
   *
   * @default - as the account's EBS encryption by default
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImportSnapshot.html
   */
  readonly encrypted?: boolean;

  /**
   * The customer managed KMS key of the snapshots. Requires `encrypted: true`.
   * Changing it imports the disks again and replaces the image.
   *
   * @default - the default EBS key
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImportSnapshot.html
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * The service role VM Import uses to read the disks, assumable by
   * `vmie.amazonaws.com` with external ID `vmimport` (the same role an
   * `ImportedAmi` uses). Changing it imports the disks again and replaces
   * the image.
   *
   * @default - a role is created that may read exactly the disks' objects (and use `encryptionKey`)
   * @see https://docs.aws.amazon.com/vm-import/latest/userguide/required-permissions.html
   */
  readonly role?: iam.IRole;
}

/**
 * An AMI registered from disk images imported bit for bit: each disk becomes
 * an EBS snapshot with EC2 ImportSnapshot, then the image is registered from
 * those snapshots (RegisterImage), as `AmiFromSnapshot` registers yours.
 *
 * Unlike `ImportedAmi` (ImportImage), nothing checks the operating system or
 * changes the disks: any bootable disk works, such as NixOS, a custom kernel,
 * an appliance or a hardened image, as long as it boots on EC2 (ENA and NVMe
 * drivers, a console on the serial port).
 *
 * The snapshots are the image's: they carry its tags and go with it under
 * `RemovalPolicy.DESTROY` or in a rollback.
 *
 * @example
 * declare const bucket: s3.IBucket;
 * new AmiFromDisks(this, 'NixOS', {
 *   disks: [{ deviceName: '/dev/xvda', disk: ImportDisk.fromBucket(bucket, 'nixos/nixos-25.05-x86_64.vhd', DiskImageFormat.VHD) }],
 *   bootMode: BootMode.UEFI,
 *   imageName: 'nixos-25.05',
 * });
 */
export class AmiFromDisks extends CopyableImageBase {
  /**
   * The service role VM Import runs with.
   */
  public readonly role: iam.IRole;

  /** What happens to the snapshots on delete: the image's removal policy. */
  private snapshotRemoval: RemovalPolicy;

  constructor(scope: Construct, id: string, props: AmiFromDisksProps) {
    super(scope, id);
    const disks = props.disks.map((d) => d.disk);
    if (disks.length === 0 || disks.length > MAX_DISKS) {
      throw new AmiValidationError(`disks has ${disks.length} entries: an AmiFromDisks takes 1 to ${MAX_DISKS} disks, the first being the root device.`, this);
    }
    disks.forEach((disk, i) => validateDisk(this, `disks[${i}].disk`, disk));
    validateKeyNeedsEncryption(this, props.encryptionKey, props.encrypted, 'ImportSnapshot');
    this.snapshotRemoval = validateRemovalPolicy(this, props.removalPolicy ?? RemovalPolicy.RETAIN, SNAPSHOT_REMOVAL);
    this.role = props.role ?? createVmImportRole(this, `VM Import service role of ${this.node.path}: reads the disk images`,
      (role) => disks.forEach((d) => d._grantRead(role)), props.encryptionKey);

    const provider = AmiProvider.of(this);
    const timeout = props.timeout ?? Duration.hours(1);
    const imports = new ProviderResource(this, 'Disks', provider.operationServiceToken, ResourceTypes.IMPORTED_SNAPSHOTS, {
      Region: this.region,
      Disks: disks.map((d) => d._render()),
      Description: props.description,
      Encrypted: props.encrypted,
      KmsKeyId: props.encryptionKey?.keyArn,
      RoleName: this.role.roleName,
      Tags: Lazy.any({ produce: () => managed.tags.renderTags() }, { omitEmptyArray: true }),
      SnapshotTags: tagList(props.snapshotTags),
      RemovalPolicy: Lazy.string({ produce: () => removalProperty(this.snapshotRemoval) }),
    });
    // ImportSnapshot checks what the role may read when it is called: the Ref of RoleName waits for the role only, not its policy.
    imports.node.addDependency(this.role);
    // A removal policy applied to the resource (the RemovalPolicies aspect) reaches the snapshots too.
    imports.onRemovalPolicy((policy) => {
      this.snapshotRemoval = validateRemovalPolicy(this, policy, SNAPSHOT_REMOVAL);
    });

    // Stage 1 follows the tasks and hands out the snapshots they made, untagged; the policies name exactly those.
    const follow = new WaiterChain(this, 'ImportWait', {
      serviceToken: provider.waiterServiceToken,
      region: this.region,
      imageId: imports.ref,
      timeout,
      allLinkProperties: { Target: SnapshotImportTargets.FOLLOW, SnapshotArnPrefix: snapshotArn(this.region, '') },
    });
    const policies = grantImportedSnapshots(this, follow.lastAttribute('SnapshotArns'));
    // Stage 2 tags exactly those snapshots as this stack's (or removes them when a task failed).
    const adopt = new WaiterChain(this, 'Adopt', {
      serviceToken: provider.waiterServiceToken,
      region: this.region,
      imageId: follow.imageId,
      timeout: ADOPT_TIMEOUT,
      allLinkProperties: {
        Target: SnapshotImportTargets.ADOPT,
        ImportedSnapshotIds: follow.lastAttribute('SnapshotIds'),
        ImportFailure: follow.lastAttribute('Failure'),
        SnapshotTags: tagList(props.snapshotTags),
      },
    });
    policies.forEach((policy) => adopt.links[0].node.addDependency(policy));

    const snapshotIds = Fn.split(',', adopt.lastAttribute('SnapshotIds'), disks.length);
    const properties = registrationProperties(this, props, props.disks.map((d, i) => ({
      deviceName: d.deviceName,
      volume: ec2.BlockDeviceVolume.ebsFromSnapshot(snapshotIds[i], {
        volumeSize: d.volumeSize, volumeType: d.volumeType, iops: d.iops, throughput: d.throughput, deleteOnTermination: d.deleteOnTermination,
      }),
    })), {
      construct: 'AmiFromDisks',
      field: 'disks',
      example: '{ deviceName: \'/dev/xvda\', disk: ImportDisk.fromBucket(bucket, key, DiskImageFormat.VHD) }',
    });
    // The image is registered from the snapshots like an AmiFromSnapshot's; the snapshots are the import's.
    const managed = new ManagedImage(this, { ...props, snapshotTags: undefined }, {
      resourceType: ResourceTypes.AMI_FROM_SNAPSHOT,
      imageName: props.imageName,
      encryptionKey: props.encryptionKey,
      encryptedWithDefaultKey: props.encrypted === true && !props.encryptionKey,
      properties,
    });
    this._attach(managed);
    recordImageCost(this, {
      resources: 1 + follow.links.length + policies.length + adopt.links.length,
      waiterLinks: follow.links.length + adopt.links.length,
      outputs: 0,
    });
    grantDiskImports(this, this.region, this.role, props.encryptionKey);
  }

  /**
   * Sets what a delete does with the image and its imported snapshots.
   */
  public applyRemovalPolicy(policy: RemovalPolicy): void {
    super.applyRemovalPolicy(policy);
    this.snapshotRemoval = validateRemovalPolicy(this, policy, SNAPSHOT_REMOVAL);
  }
}

/** What the removal policies do to the imported snapshots. */
const SNAPSHOT_REMOVAL = { noun: 'images', retain: 'keep the image and its imported snapshots', destroy: 'deregister it and delete its imported snapshots' };

/** ImportSnapshot reads a disk image from S3 in one of its formats; an EBS snapshot is AmiFromSnapshot's. */
function validateDisk(scope: Construct, field: string, disk: ImportDisk): void {
  disk._validate(scope);
  if (disk._snapshotId()) {
    throw new AmiValidationError(
      `${field} is ImportDisk.fromSnapshot(${disk._snapshotId()}): AmiFromDisks imports disk images from S3; register an image from an existing snapshot with AmiFromSnapshot.`, scope);
  }
  const format = disk._format();
  if (format !== undefined && !Token.isUnresolved(format) && !SNAPSHOT_FORMATS.includes(format)) {
    throw new AmiValidationError(`${field} has format ${format}: ImportSnapshot reads ${SNAPSHOT_FORMATS.join(', ')} disk images; use ImportedAmi for ${format}.`, scope);
  }
}
