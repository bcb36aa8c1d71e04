/**
 * VM Import of single disks (EC2): ImportSnapshot, DescribeImportSnapshotTasks, and CancelImportTask for
 * `import-snap-…` tasks (the rest of CancelImportTask is the ImportImage area's). A task reports the
 * `active` steps of the real service, advancing by the polls that observe it
 * (`snapshotImportBehaviour`), and creates its snapshot when it completes. Following the EC2 API
 * reference, the TagSpecifications of ImportSnapshot tag the task (`import-snapshot-task`, the only
 * type it takes); the snapshot VM Import makes is untagged, as the one ImportImage makes.
 */
import { ActionHandler, Ec2Area } from './ec2-area';
import { ApiError, importTaskNotFound, invalidValue, missingParameter } from './errors';
import { FilterFields, filterPredicate } from './filters';
import { newId, newTags, readTagSpecifications, tagsFor, unique } from './helpers';
import { itemSet, leaf, node, QueryParams } from './protocol';
import { ImportStep, Tags } from './types';
import { RegionState, World } from './world';

/** How ImportSnapshot tasks started from now on progress, counted in DescribeImportSnapshotTasks polls that return them. */
export interface SnapshotImportBehaviour {
  /** Polls each step is reported for before the task moves on (default 1). */
  readonly pollsPerStep?: number;
  /** Disks whose URL or S3 key contains one of these keys fail after their last active step, with this status message. */
  readonly failures?: Readonly<Record<string, string>>;
  /** Disks whose URL or S3 key contains one of these take 100 times as many polls per step. */
  readonly slow?: readonly string[];
  /** Size of each imported disk (default 8 GiB). */
  readonly diskSizeGiB?: number;
}

export interface LocalSnapshotImportTask {
  readonly importTaskId: string;
  readonly region: string;
  readonly description?: string;
  readonly format: string;
  readonly url?: string;
  readonly userBucket?: { readonly s3Bucket: string; readonly s3Key: string };
  readonly encrypted?: boolean;
  readonly kmsKeyId?: string;
  readonly roleName: string;
  readonly sizeGiB: number;
  readonly tags: Tags;
  timeline: ImportStep[];
  position: number;
  pollsAtPosition: number;
  readonly pollsPerStep: number;
  snapshotId?: string;
}

/** The `active` steps of a snapshot import as the VM Import User Guide's examples show them. */
const ACTIVE_STEPS: readonly ImportStep[] = [
  { status: 'active', statusMessage: 'pending', progress: '3' },
  { status: 'active', statusMessage: 'downloading/converting', progress: '42' },
  { status: 'active', statusMessage: 'validating', progress: '85' },
];
/** DescribeImportSnapshotTasks reports a cancelled task with this message unless a reason was given (best knowledge). */
const CANCEL_MESSAGE = 'user canceled';
/** ImportSnapshot's formats (API reference, SnapshotDiskContainer). */
const FORMATS = new Set(['VHD', 'VMDK', 'RAW']);
const GiB = 1024 ** 3;

interface RegionImports {
  readonly tasks: Map<string, LocalSnapshotImportTask>;
  readonly tokens: Map<string, { readonly importTaskId: string; readonly fingerprint: string }>;
}

const TASK_FILTERS: FilterFields<LocalSnapshotImportTask> = {
  'task-state': (task) => [step(task).status],
};

function step(task: LocalSnapshotImportTask): ImportStep {
  return task.timeline[task.position];
}

function render(task: LocalSnapshotImportTask): string {
  const current = step(task);
  const detail = [
    leaf('description', task.description),
    leaf('diskImageSize', `${current.status === 'active' && task.position === 0 ? 0 : task.sizeGiB * GiB}.0`),
    leaf('encrypted', task.encrypted),
    leaf('format', task.format),
    leaf('kmsKeyId', task.kmsKeyId),
    leaf('progress', current.progress),
    leaf('snapshotId', task.snapshotId),
    leaf('status', current.status),
    leaf('statusMessage', current.statusMessage),
    leaf('url', task.url),
    task.userBucket ? node('userBucket', leaf('s3Bucket', task.userBucket.s3Bucket), leaf('s3Key', task.userBucket.s3Key)) : '',
  ].join('');
  return [
    leaf('description', task.description),
    leaf('importTaskId', task.importTaskId),
    node('snapshotTaskDetail', detail),
    itemSet('tagSet', Object.entries(task.tags).map(([key, value]) => leaf('key', key) + leaf('value', value))),
  ].join('');
}

export class SnapshotImportActions extends Ec2Area {
  readonly handlers: Readonly<Record<string, ActionHandler>>;
  private readonly byRegion = new WeakMap<RegionState, RegionImports>();

  /** `cancelImageTask` answers CancelImportTask for every task that is not a snapshot import. */
  constructor(world: World, cancelImageTask: ActionHandler) {
    super(world);
    this.handlers = {
      ImportSnapshot: (region, params) => this.importSnapshot(region, params),
      DescribeImportSnapshotTasks: (region, params) => this.describe(region, params),
      CancelImportTask: (region, params) => (params.get('ImportTaskId')?.startsWith('import-snap-')
        ? this.cancel(region, params) : cancelImageTask(region, params)),
    };
  }

  /** The region's snapshot import tasks, oldest first. */
  tasks(region: RegionState): LocalSnapshotImportTask[] {
    return [...this.imports(region).tasks.values()];
  }

  private imports(region: RegionState): RegionImports {
    let imports = this.byRegion.get(region);
    if (!imports) {
      imports = { tasks: new Map(), tokens: new Map() };
      this.byRegion.set(region, imports);
    }
    return imports;
  }

  /**
   * Starts a task (`import-snap-…`). The same ClientToken returns the same task; with other parameters
   * it is an IdempotentParameterMismatch. The disk file is not read: the S3 object is taken to exist.
   */
  private importSnapshot(region: RegionState, params: QueryParams): string {
    const imports = this.imports(region);
    const token = params.get('ClientToken');
    const fingerprint = params.fingerprint(['Action', 'Version', 'ClientToken']);
    const earlier = token ? imports.tokens.get(token) : undefined;
    if (earlier) {
      if (earlier.fingerprint !== fingerprint) {
        throw new ApiError('IdempotentParameterMismatch', `Client token '${token}' was already used with different parameters.`);
      }
      return render(imports.tasks.get(earlier.importTaskId)!);
    }
    const format = params.get('DiskContainer.Format');
    if (format === undefined) throw missingParameter('DiskContainer.Format');
    if (!FORMATS.has(format.toUpperCase())) throw invalidValue(`Value (${format}) for parameter DiskContainer.Format is invalid. Valid values: VHD, VMDK, RAW.`);
    const url = params.get('DiskContainer.Url');
    const s3Bucket = params.get('DiskContainer.UserBucket.S3Bucket');
    const s3Key = params.get('DiskContainer.UserBucket.S3Key');
    if ((s3Bucket === undefined) !== (s3Key === undefined)) throw missingParameter(s3Bucket === undefined ? 'DiskContainer.UserBucket.S3Bucket' : 'DiskContainer.UserBucket.S3Key');
    if (url === undefined && s3Bucket === undefined) throw invalidValue('The disk container needs a Url or a UserBucket');
    if (url !== undefined && !/^(s3|https?):\/\/./.test(url)) throw invalidValue(`Value (${url}) for parameter DiskContainer.Url is invalid. Expected an s3:// or https:// URL.`);
    const specs = readTagSpecifications(params, ['import-snapshot-task']);
    const behaviour = this.world.snapshotImportBehaviour;
    const source = url ?? `s3://${s3Bucket}/${s3Key}`;
    const failure = Object.entries(behaviour.failures ?? {}).find(([key]) => source.includes(key))?.[1];
    const slow = (behaviour.slow ?? []).some((key) => source.includes(key));
    const encrypted = params.bool('Encrypted');
    const task: LocalSnapshotImportTask = {
      importTaskId: newId('import-snap'),
      region: region.name,
      description: params.get('Description'),
      format: format.toUpperCase(),
      url,
      userBucket: s3Bucket !== undefined && s3Key !== undefined ? { s3Bucket, s3Key } : undefined,
      encrypted,
      kmsKeyId: encrypted ? params.get('KmsKeyId') : undefined,
      roleName: params.get('RoleName') ?? 'vmimport',
      sizeGiB: behaviour.diskSizeGiB ?? 8,
      tags: tagsFor(specs, 'import-snapshot-task'),
      timeline: failure
        ? [...ACTIVE_STEPS, { status: 'deleting', statusMessage: failure }, { status: 'deleted', statusMessage: failure }]
        : [...ACTIVE_STEPS, { status: 'completed', statusMessage: 'completed', progress: '100' }],
      position: 0,
      pollsAtPosition: 0,
      pollsPerStep: Math.max(1, behaviour.pollsPerStep ?? 1) * (slow ? 100 : 1),
    };
    imports.tasks.set(task.importTaskId, task);
    if (token) imports.tokens.set(token, { importTaskId: task.importTaskId, fingerprint });
    return render(task);
  }

  /** By ImportTaskId.N (an unknown ID fails) or all of the region's tasks, narrowed by `Filters.N`. */
  private describe(region: RegionState, params: QueryParams): string {
    const { tasks } = this.imports(region);
    const ids = unique(params.list('ImportTaskId'));
    const missing = ids.find((id) => !tasks.has(id));
    if (missing !== undefined) throw importTaskNotFound(missing);
    const candidates = ids.length > 0 ? ids.map((id) => tasks.get(id)!) : [...tasks.values()];
    const matches = filterPredicate(params, TASK_FILTERS, 'Filters');
    candidates.forEach((task) => this.pollTask(region, task));
    return itemSet('importSnapshotTaskSet', candidates.filter(matches).map(render));
  }

  /** One poll; reaching `completed` creates the snapshot (completed, untagged). */
  private pollTask(region: RegionState, task: LocalSnapshotImportTask): void {
    if (task.pollsAtPosition >= task.pollsPerStep && task.position < task.timeline.length - 1) {
      task.position++;
      task.pollsAtPosition = 0;
    }
    task.pollsAtPosition++;
    if (step(task).status === 'completed' && task.snapshotId === undefined) {
      task.snapshotId = this.addSnapshot(region, {
        volumeId: 'vol-ffffffff',
        volumeSizeGiB: task.sizeGiB,
        description: `Created by AWS-VMImport service for ${task.importTaskId}`,
        encrypted: task.encrypted ?? false,
        kmsKeyId: task.encrypted ? task.kmsKeyId ?? 'alias/aws/ebs' : undefined,
        tags: newTags(),
        state: 'completed',
      }).snapshotId;
    }
  }

  /** Cancels an `active` task: it reports `deleting` (for `pollsPerStep` polls), then `deleted`. */
  private cancel(region: RegionState, params: QueryParams): string {
    const importTaskId = params.required('ImportTaskId');
    const task = this.imports(region).tasks.get(importTaskId);
    if (!task) throw importTaskNotFound(importTaskId);
    const previous = step(task).status;
    if (previous !== 'active') {
      // Best knowledge for code and message, as for image imports.
      throw new ApiError('IncorrectState', `The import task '${importTaskId}' is ${previous} and can no longer be canceled`);
    }
    const message = params.get('CancelReason') ?? CANCEL_MESSAGE;
    task.timeline = [...task.timeline.slice(0, task.position + 1), { status: 'deleting', statusMessage: message }, { status: 'deleted', statusMessage: message }];
    task.position++;
    task.pollsAtPosition = 0;
    return leaf('importTaskId', importTaskId) + leaf('previousState', previous) + leaf('state', 'deleting');
  }

}
