/**
 * VM Import (EC2): ImportImage, DescribeImportImageTasks and CancelImportTask. A task walks through the
 * `active` steps the real service reports, advancing by the polls that observe it (`importBehaviour`),
 * and registers its image when it completes.
 */
import { ActionHandler, Ec2Area } from './ec2-area';
import { ApiError, assertOneOf, importTaskNotFound, invalidValue, missingParameter } from './errors';
import { FilterFields, filterPredicate } from './filters';
import { newId, newTags, readTagSpecifications, tagsFor, unique } from './helpers';
import { BOOT_MODES } from './images';
import { itemSet, leaf, node, QueryParams } from './protocol';
import { ImportDisk, ImportStep, LocalImportTask } from './types';
import { DEFAULT_IMPORT_BEHAVIOUR, RegionState } from './world';

const DEFAULT_IMPORT_FAILURE = 'ClientError: Unsupported kernel version';
/** DescribeImportImageTasks reports a cancelled task with this message (best knowledge, not verified). */
const IMPORT_CANCEL_MESSAGE = 'user canceled';

/**
 * The `active` steps of a VM import, as observed on the real service (statusMessage and
 * approximate progress). Pollers see a subset depending on their interval; here every step is
 * reported for `pollsPerStep` polls.
 */
const IMPORT_ACTIVE_STEPS: readonly ImportStep[] = [
  { status: 'active', statusMessage: 'pending', progress: '2' },
  { status: 'active', statusMessage: 'validating', progress: '3' },
  { status: 'active', statusMessage: 'validated', progress: '6' },
  { status: 'active', statusMessage: 'converting', progress: '19' },
  { status: 'active', statusMessage: 'updating', progress: '27' },
  { status: 'active', statusMessage: 'updated', progress: '30' },
  { status: 'active', statusMessage: 'preparing to boot', progress: '34' },
  { status: 'active', statusMessage: 'booting', progress: '39' },
  { status: 'active', statusMessage: 'booted', progress: '46' },
  { status: 'active', statusMessage: 'preparing ami', progress: '57' },
];
/** A failing import gets through conversion and fails while updating the converted disk. */
const IMPORT_STEPS_BEFORE_FAILURE = 4;
/** From this step on the disk image has been read: its size is known and its detail is `active`. */
const IMPORT_VALIDATED_STEP = 2;

const IMPORT_FORMATS = new Set(['OVA', 'VHD', 'VHDX', 'VMDK', 'RAW']);
const IMPORT_ARCHITECTURES = new Set(['i386', 'x86_64', 'arm64']);
const IMPORT_PLATFORMS = new Set(['Windows', 'Linux']);
const IMPORT_LICENSE_TYPES = new Set(['AWS', 'BYOL']);
const GiB = 1024 ** 3;

function currentImportStep(task: LocalImportTask): ImportStep {
  return task.timeline[task.position];
}

/** A disk's snapshotDetailSet entry: its size once validated, `active` while converting, its snapshot once completed. */
function renderImportDisk(task: LocalImportTask, disk: ImportDisk): string {
  const step = currentImportStep(task);
  const sizeKnown = task.position >= IMPORT_VALIDATED_STEP || step.status !== 'active';
  const completed = step.status === 'completed';
  const userBucket = disk.userBucket ? node('userBucket', leaf('s3Bucket', disk.userBucket.s3Bucket), leaf('s3Key', disk.userBucket.s3Key)) : '';
  return [
    leaf('description', disk.description),
    leaf('deviceName', completed ? disk.deviceName : undefined),
    leaf('diskImageSize', `${sizeKnown ? disk.sizeGiB * GiB : 0}.0`),
    leaf('format', disk.format),
    leaf('snapshotId', completed ? disk.snapshotId : undefined),
    leaf('status', completed ? 'completed' : sizeKnown ? 'active' : undefined),
    leaf('url', disk.url ?? (disk.userBucket ? `s3://${disk.userBucket.s3Bucket}/${disk.userBucket.s3Key}` : undefined)),
    userBucket,
  ].join('');
}

/**
 * The members ImportImage and DescribeImportImageTasks share. Architecture, platform and license
 * type are reported as requested while the task runs, and as detected once it has completed.
 */
function renderImportTask(task: LocalImportTask, withBootMode: boolean): string {
  const step = currentImportStep(task);
  const completed = step.status === 'completed';
  const platform = task.platform ?? (completed ? 'Linux' : undefined);
  return [
    leaf('architecture', task.architecture ?? (completed ? 'x86_64' : undefined)),
    leaf('description', task.description),
    leaf('encrypted', task.encrypted),
    leaf('hypervisor', task.hypervisor),
    leaf('imageId', task.imageId),
    leaf('importTaskId', task.importTaskId),
    leaf('kmsKeyId', task.kmsKeyId),
    leaf('licenseType', task.licenseType ?? (completed ? (platform === 'Windows' ? 'AWS' : 'BYOL') : undefined)),
    itemSet('licenseSpecifications', (task.licenseConfigurationArns ?? []).map((arn) => leaf('licenseConfigurationArn', arn))),
    leaf('platform', platform),
    leaf('progress', step.progress),
    itemSet('snapshotDetailSet', task.disks.map((disk) => renderImportDisk(task, disk))),
    leaf('status', step.status),
    leaf('statusMessage', step.statusMessage),
    itemSet('tagSet', Object.entries(task.tags).map(([key, value]) => leaf('key', key) + leaf('value', value))),
    leaf('usageOperation', task.usageOperation),
    withBootMode ? leaf('bootMode', task.bootMode) : '',
  ].join('');
}

const IMPORT_TASK_FILTERS: FilterFields<LocalImportTask> = {
  'task-state': (task) => [currentImportStep(task).status],
};


export class ImportActions extends Ec2Area {
  readonly handlers: Readonly<Record<string, ActionHandler>> = {
    ImportImage: (region, params) => this.importImage(region, params),
    DescribeImportImageTasks: (region, params) => this.describeImportImageTasks(region, params),
    CancelImportTask: (region, params) => this.cancelImportTask(region, params),
  };

  /**
   * Starts an import task (`import-ami-…`). A repeated request with the same ClientToken returns the
   * same task; the same token with other parameters is an IdempotentParameterMismatch. Disk files are
   * not read: S3 objects named by Url / UserBucket are taken to exist (DiskContainer SnapshotId is checked).
   */
  private importImage(region: RegionState, params: QueryParams): string {
    const token = params.get('ClientToken');
    const fingerprint = params.fingerprint(['Action', 'Version', 'ClientToken']);
    const earlier = token ? region.importTokens.get(token) : undefined;
    if (earlier) {
      if (earlier.fingerprint !== fingerprint) {
        throw new ApiError('IdempotentParameterMismatch', `Client token '${token}' was already used with different parameters.`);
      }
      const task = region.importTasks.get(earlier.importTaskId);
      if (task) return renderImportTask(task, false);
    }

    const architecture = params.get('Architecture');
    const platform = params.get('Platform');
    const licenseType = params.get('LicenseType');
    const bootMode = params.get('BootMode');
    assertOneOf('Architecture', architecture, IMPORT_ARCHITECTURES);
    assertOneOf('Platform', platform, IMPORT_PLATFORMS);
    assertOneOf('LicenseType', licenseType, IMPORT_LICENSE_TYPES);
    if (bootMode === 'uefi-preferred') throw invalidValue('The uefi-preferred boot mode is not supported for importing images.');
    assertOneOf('BootMode', bootMode, BOOT_MODES);
    const licenseConfigurationArns = params.members('LicenseSpecifications').map((spec) => spec.required('LicenseConfigurationArn'));
    const specs = readTagSpecifications(params, ['import-image-task']);
    const containers = params.members('DiskContainer');
    if (containers.length === 0) throw missingParameter('DiskContainer');
    const behaviour = { ...DEFAULT_IMPORT_BEHAVIOUR, ...this.world.importBehaviour };
    const disks = containers.map((container) => this.importDisk(region, container, behaviour.diskSizeGiB ?? 8));
    const encrypted = params.bool('Encrypted');

    const failed = behaviour.finalStatus === 'deleted';
    const message = behaviour.failureMessage ?? DEFAULT_IMPORT_FAILURE;
    const timeline: ImportStep[] = failed
      ? [...IMPORT_ACTIVE_STEPS.slice(0, IMPORT_STEPS_BEFORE_FAILURE), { status: 'deleting', statusMessage: message }, { status: 'deleted', statusMessage: message }]
      : [...IMPORT_ACTIVE_STEPS, { status: 'completed' }];
    const task: LocalImportTask = {
      importTaskId: newId('import-ami'),
      region: region.name,
      description: params.get('Description'),
      architecture,
      platform,
      bootMode,
      licenseType,
      hypervisor: params.get('Hypervisor'),
      usageOperation: params.get('UsageOperation'),
      licenseConfigurationArns: licenseConfigurationArns.length > 0 ? licenseConfigurationArns : undefined,
      encrypted,
      kmsKeyId: encrypted ? params.get('KmsKeyId') : undefined,
      roleName: params.get('RoleName') ?? 'vmimport',
      clientToken: token,
      disks,
      tags: tagsFor(specs, 'import-image-task'),
      timeline,
      position: 0,
      pollsAtPosition: 0,
      pollsPerStep: Math.max(1, behaviour.pollsPerStep ?? 1),
    };
    region.importTasks.set(task.importTaskId, task);
    if (token) region.importTokens.set(token, { importTaskId: task.importTaskId, fingerprint });
    return renderImportTask(task, false);
  }

  /** One `DiskContainer.N`: a disk file in S3 (Url or UserBucket) or an EBS snapshot of this region. */
  private importDisk(region: RegionState, container: QueryParams, defaultSizeGiB: number): ImportDisk {
    const format = container.get('Format');
    if (format !== undefined && !IMPORT_FORMATS.has(format.toUpperCase())) {
      throw invalidValue(`Value (${format}) for parameter Format is invalid. Valid values: OVA, VHD, VHDX, VMDK, RAW.`);
    }
    const sourceSnapshotId = container.get('SnapshotId');
    const s3Bucket = container.get('UserBucket.S3Bucket');
    const s3Key = container.get('UserBucket.S3Key');
    const url = container.get('Url');
    if ((s3Bucket === undefined) !== (s3Key === undefined)) throw missingParameter(s3Bucket === undefined ? 'UserBucket.S3Bucket' : 'UserBucket.S3Key');
    if (url !== undefined && !/^(s3|https?):\/\/./.test(url)) throw invalidValue(`Value (${url}) for parameter Url is invalid. Expected an s3:// or https:// URL.`);
    if (sourceSnapshotId === undefined && s3Bucket === undefined && url === undefined) {
      throw invalidValue('Each disk container needs a Url, a UserBucket or a SnapshotId');
    }
    if (sourceSnapshotId === undefined && format === undefined) throw missingParameter('Format');
    const snapshot = sourceSnapshotId === undefined ? undefined : this.snapshotById(region, sourceSnapshotId);
    return {
      description: container.get('Description'),
      format,
      url,
      userBucket: s3Bucket !== undefined && s3Key !== undefined ? { s3Bucket, s3Key } : undefined,
      sourceSnapshotId,
      sizeGiB: snapshot?.volumeSizeGiB ?? defaultSizeGiB,
    };
  }

  /** By ImportTaskId.N (an unknown or expired ID fails) or all of the region's tasks, narrowed by `Filters.N`. */
  private describeImportImageTasks(region: RegionState, params: QueryParams): string {
    const ids = unique(params.list('ImportTaskId'));
    const missing = ids.find((id) => !region.importTasks.has(id));
    if (missing !== undefined) throw importTaskNotFound(missing);
    const candidates = ids.length > 0 ? ids.map((id) => region.importTasks.get(id) as LocalImportTask) : [...region.importTasks.values()];
    // The model names this list `Filters` (query key Filters.N), unlike most EC2 actions.
    const matches = filterPredicate(params, IMPORT_TASK_FILTERS, 'Filters');
    // Filters see the state the task reports on this call.
    candidates.forEach((task) => this.pollImportTask(region, task));
    return itemSet('importImageTaskSet', candidates.filter(matches).map((task) => renderImportTask(task, true)));
  }

  /**
   * One poll: once the current step has been reported `pollsPerStep` times the task moves to the next.
   * Reaching `completed` creates the AMI (available, untagged) and its completed, untagged snapshots.
   */
  private pollImportTask(region: RegionState, task: LocalImportTask): void {
    if (task.pollsAtPosition >= task.pollsPerStep && task.position < task.timeline.length - 1) {
      task.position++;
      task.pollsAtPosition = 0;
    }
    task.pollsAtPosition++;
    if (currentImportStep(task).status === 'completed' && task.imageId === undefined) this.completeImport(region, task);
  }

  private completeImport(region: RegionState, task: LocalImportTask): void {
    const imageId = newId('ami');
    const kmsKeyId = task.encrypted ? task.kmsKeyId ?? 'alias/aws/ebs' : undefined;
    const devices = task.disks.map((disk, index) => {
      const deviceName = index === 0 ? '/dev/sda1' : `/dev/sd${String.fromCharCode('a'.charCodeAt(0) + index)}`;
      const snapshot = this.addSnapshot(region, {
        volumeId: 'vol-ffffffff',
        volumeSizeGiB: disk.sizeGiB,
        description: `Created by AWS-VMImport service for ${task.importTaskId}`,
        encrypted: task.encrypted ?? false,
        kmsKeyId,
        tags: newTags(),
        state: 'completed',
      });
      disk.deviceName = deviceName;
      disk.snapshotId = snapshot.snapshotId;
      return { deviceName, snapshotId: snapshot.snapshotId, volumeSizeGiB: disk.sizeGiB };
    });
    const image = this.addImage(region, {
      imageId,
      // Imported AMIs are named after their import task.
      name: task.importTaskId,
      description: task.description,
      rootDeviceName: '/dev/sda1',
      blockDeviceMappings: devices,
      tags: newTags(),
      encrypted: task.encrypted ?? false,
      kmsKeyId,
      architecture: task.architecture ?? 'x86_64',
      virtualizationType: 'hvm',
      bootMode: task.bootMode,
      enaSupport: true,
      platform: task.platform === 'Windows' ? 'windows' : undefined,
    });
    image.state = 'available';
    task.imageId = imageId;
  }

  /** Cancels an `active` task: it reports `deleting` (for `pollsPerStep` polls), then `deleted`. */
  private cancelImportTask(region: RegionState, params: QueryParams): string {
    const importTaskId = params.required('ImportTaskId');
    const task = region.importTasks.get(importTaskId);
    if (!task) throw importTaskNotFound(importTaskId);
    const previous = currentImportStep(task).status;
    if (previous !== 'active') {
      // Best knowledge for code and message.
      throw new ApiError('IncorrectState', `The import task '${importTaskId}' is ${previous} and can no longer be canceled`);
    }
    const message = params.get('CancelReason') ?? IMPORT_CANCEL_MESSAGE;
    task.timeline = [
      ...task.timeline.slice(0, task.position + 1),
      { status: 'deleting', statusMessage: message },
      { status: 'deleted', statusMessage: message },
    ];
    task.position++;
    task.pollsAtPosition = 0;
    return leaf('importTaskId', importTaskId) + leaf('previousState', previous) + leaf('state', 'deleting');
  }

  /** Forgets an import task, as EC2 does 7 days after it ends. */
  expireImportTask(importTaskId: string): void {
    const task = this.world.findImportTask(importTaskId);
    if (!task) throw new Error(`No import task ${importTaskId} in any region`);
    this.world.region(task.region).importTasks.delete(importTaskId);
  }
}
