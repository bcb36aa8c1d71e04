/**
 * An in-process imitation of the Amazon EC2 Query API (plus CloudFormation
 * DescribeStacks) that the REAL AWS SDK v3 clients talk to over HTTP.
 *
 * Lifecycle tests point `AWS_ENDPOINT_URL_EC2` / `AWS_ENDPOINT_URL_CLOUDFORMATION`
 * (or a client's `endpoint`) at it and then script what the "service" does:
 * how many polls an image stays pending, whether it fails, eventual-consistency
 * NotFound answers, throttling and 5xx faults, EC2's ResourceLimitExceeded while
 * the Region has no capacity for another image operation, and a proxy's HTML 502
 * in front of the service. Everything is driven by call
 * counts rather than wall-clock time so tests are deterministic and fast.
 *
 * Besides instances (with their console output, GetConsoleOutput, and scripted behaviour of their own:
 * tagging themselves, writing to the console, shutting down), images, snapshots and their attributes
 * it covers RegisterImage, storing and
 * restoring AMIs through a simulated S3 (one per account: buckets are global, objects keyed by bucket
 * and key) with CreateStoreImageTask / DescribeStoreImageTasks / CreateRestoreImageTask and S3's own
 * DeleteObject (REST, `AWS_ENDPOINT_URL_S3`), SSM Parameter Store per account and region (PutParameter, GetParameter,
 * DeleteParameter, ListTagsForResource; awsJson1_1, `AWS_ENDPOINT_URL_SSM`, with the asynchronous
 * validation of `aws:ec2:image` values against the region's images), and VM
 * Import (ImportImage / DescribeImportImageTasks / CancelImportTask). Tasks, like images, advance
 * by the polls that observe them (`storeBehaviour`, `importBehaviour`). Image settings: ImdsSupport
 * (only `v2.0`, never taken back), DisableImage / EnableImage (a disabled image is private, cannot be
 * shared, and DescribeImages hides it unless `IncludeDisabled`), and DescribeImageReferences for
 * instances and launch templates (`addInstance({ imageId })`, `addLaunchTemplate`). EC2 Fast Launch
 * (EnableFastLaunch / DescribeFastLaunchImages / DisableFastLaunch) for Windows images, whose states
 * advance by the DescribeFastLaunchImages polls that observe them (`fastLaunchBehaviour`).
 *
 * Wire formats follow the real services, checked against what the SDK sends and
 * what its ec2Query / awsQuery deserializers read (see ec2-endpoint.test.ts).
 * Where the real service's error code or message is not documented, the choice is marked
 * "best knowledge" next to it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/** The account that owns every resource of the local endpoint. */
export const ACCOUNT_ID = '123456789012';

/** `disabled`: DisableImage; hidden from DescribeImages unless `IncludeDisabled` is true. */
export type ImageState = 'pending' | 'available' | 'failed' | 'deregistered' | 'disabled';
export type SnapshotState = 'pending' | 'completed' | 'error';
export type InstanceStateName = 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';
/**
 * `disabled-until` is the 24-hour cooldown after protection that was enabled with cooldown is
 * disabled: the image is still protected, and EC2 reports `disabled-until <end of cooldown>`.
 */
export type DeregistrationProtection = 'disabled' | 'enabled' | 'enabled-with-cooldown' | 'disabled-until';
/** Block public access for AMIs, per region (GetImageBlockPublicAccessState). */
export type ImageBlockPublicAccessState = 'unblocked' | 'block-new-sharing';
/** Tags as a plain key → value record (null prototype, so any key is safe). */
export type Tags = Record<string, string>;

export interface StateReason {
  readonly code: string;
  readonly message: string;
}

/** The states of EC2 Fast Launch for an image (DescribeFastLaunchImagesSuccessItem `state`). */
export type FastLaunchState = 'enabling' | 'enabling-failed' | 'enabled' | 'enabled-failed' | 'disabling' | 'disabling-failed';

/** Fast launch of one image, as DescribeFastLaunchImages reports it. */
export interface LocalFastLaunch {
  state: FastLaunchState;
  targetResourceCount: number;
  maxParallelLaunches: number;
  launchTemplate?: { readonly launchTemplateId?: string; readonly launchTemplateName?: string; readonly version: string };
  stateTransitionReason: string;
  stateTransitionTime: string;
  /** DescribeFastLaunchImages calls that still report `enabling` or `disabling`. */
  remaining: number;
  /** How `enabling` ends: `enabled`, or `enabling-failed` with this reason. */
  failReason?: string;
}

/** How fast launch progresses, counted in DescribeFastLaunchImages calls that return the image. */
export interface FastLaunchBehaviour {
  /** Calls that still report `enabling` (after EnableFastLaunch) or `disabling` (after DisableFastLaunch). */
  readonly transitionPolls: number;
  /** Enabling ends in `enabling-failed` with this reason instead of `enabled`. */
  readonly failReason?: string;
}

/** How a newly created or copied image progresses, counted in DescribeImages polls. */
export interface ImageBehaviour {
  /** DescribeImages calls that still return the image as `pending`. */
  readonly pendingPolls: number;
  readonly finalState: 'available' | 'failed';
  /** Reported when `finalState` is `failed`; a generic internal error otherwise. */
  readonly stateReason?: StateReason;
}

/** Per-image override of {@link ImageBehaviour}, plus its eventual-consistency window. */
export interface ImageScript extends Partial<ImageBehaviour> {
  /** DescribeImages-by-ID calls that will still answer `InvalidAMIID.NotFound`. */
  readonly notFoundCalls?: number;
}

export interface VolumeSpec {
  readonly deviceName: string;
  readonly sizeGiB: number;
}

export interface AddInstanceOptions {
  readonly region: string;
  /** Default: one 8 GiB root volume on `rootDeviceName`. */
  readonly volumes?: readonly VolumeSpec[];
  /** Default `/dev/xvda`. */
  readonly rootDeviceName?: string;
  /** Default `running`. */
  readonly state?: InstanceStateName;
  readonly tags?: Readonly<Record<string, string>>;
  /** The image the instance was launched from (DescribeImageReferences finds it); default none. */
  readonly imageId?: string;
  /** `windows` for a Windows instance (its images are Windows); default Linux. */
  readonly platform?: 'windows';
}

/** A launch template whose default version launches `imageId` (for DescribeImageReferences). */
export interface AddLaunchTemplateOptions {
  readonly region: string;
  readonly imageId: string;
}

/**
 * What an instance's own software does after some DescribeInstances polls of it, e.g. a
 * BakedAmi builder whose setup ends: it tags itself, writes to its console, shuts down.
 */
export interface InstanceScript {
  /** DescribeInstances calls that include the instance before the script runs (default 0: at the next one). */
  readonly afterDescribes?: number;
  /** Tags the instance puts on itself. */
  readonly tags?: Readonly<Record<string, string>>;
  /** Text appended to its console output. */
  readonly consoleOutput?: string;
  /** The state it settles in, e.g. `stopped` for a shutdown from inside. */
  readonly state?: InstanceStateName;
}

export interface LaunchPermission {
  userId?: string;
  group?: string;
  organizationArn?: string;
  organizationalUnitArn?: string;
}

/** A snapshot's createVolumePermission entry: an account, or the `all` group (public). */
export interface CreateVolumePermission {
  userId?: string;
  group?: string;
}

export interface InstanceVolume {
  readonly deviceName: string;
  readonly volumeId: string;
  readonly sizeGiB: number;
}

export interface LocalInstance {
  readonly instanceId: string;
  readonly region: string;
  readonly reservationId: string;
  readonly launchTime: string;
  readonly rootDeviceName: string;
  readonly volumes: InstanceVolume[];
  readonly imageId?: string;
  readonly platform?: 'windows';
  state: InstanceStateName;
  tags: Tags;
  /** What GetConsoleOutput returns (decoded). */
  consoleOutput: string;
  /** Scripted behaviour still to come, with the DescribeInstances calls left before it. */
  script?: InstanceScript & { remaining: number };
}

export interface ImageDevice {
  readonly deviceName: string;
  readonly snapshotId: string;
  readonly volumeSizeGiB: number;
  /** Default `gp3` (CreateImage, CopyImage); RegisterImage records what it was given (`gp2` when omitted). */
  readonly volumeType?: string;
  /** Default `true`. */
  readonly deleteOnTermination?: boolean;
  /** Default: the image's `encrypted`. */
  readonly encrypted?: boolean;
  /** Provisioned IOPS (io1, io2, gp3 only). */
  readonly iops?: number;
  /** Provisioned throughput in MiB/s (gp3 only). */
  readonly throughput?: number;
}

export interface LocalImage {
  readonly imageId: string;
  readonly region: string;
  /** The account that owns it (the one whose credentials made it). */
  readonly ownerId: string;
  readonly name: string;
  readonly imageLocation: string;
  readonly creationDate: string;
  readonly rootDeviceName: string;
  readonly blockDeviceMappings: ImageDevice[];
  readonly encrypted: boolean;
  readonly kmsKeyId?: string;
  readonly sourceInstanceId?: string;
  readonly sourceImageId?: string;
  readonly sourceRegion?: string;
  /** Reported as `x86_64` when unset (images from instances). RegisterImage defaults it to `i386`, as EC2 does. */
  readonly architecture?: string;
  /** Reported as `hvm` when unset. RegisterImage defaults it to `paravirtual`, as EC2 does. */
  readonly virtualizationType?: string;
  /** Reported only when set: `legacy-bios`, `uefi` or `uefi-preferred`. */
  readonly bootMode?: string;
  /** Reported only when set. */
  readonly enaSupport?: boolean;
  /** `v2.0` when instances launched from the image must use IMDSv2; ModifyImageAttribute can set it, nothing unsets it. */
  imdsSupport?: string;
  /** `v2.0` for NitroTPM. */
  readonly tpmSupport?: string;
  /** RegisterImage's UefiData: the base64 UEFI variable store. */
  readonly uefiData?: string;
  /** `windows` for Windows images; unset for Linux/UNIX. */
  readonly platform?: string;
  /** Devices RegisterImage suppressed with `NoDevice` (DescribeImages lists them with an empty `noDevice`). */
  readonly noDevices?: readonly string[];
  description?: string;
  state: ImageState;
  stateReason?: StateReason;
  tags: Tags;
  launchPermissions: LaunchPermission[];
  deprecationTime?: string;
  deregistrationProtection: DeregistrationProtection;
  /** While `deregistrationProtection` is `disabled-until`: when the cooldown ends (ISO timestamp). */
  protectionCooldownEnds?: string;
  behaviour: ImageBehaviour;
  /** EC2 Fast Launch, once EnableFastLaunch was called; removed when disabling ends. */
  fastLaunch?: LocalFastLaunch;
  /** DescribeImages calls that have returned this image so far. */
  polls: number;
  /** DescribeImages-by-ID calls that will still answer NotFound. */
  notFoundCalls: number;
}

export interface LocalSnapshot {
  readonly snapshotId: string;
  readonly region: string;
  readonly ownerId: string;
  readonly volumeId: string;
  readonly startTime: string;
  readonly volumeSizeGiB: number;
  readonly description: string;
  readonly encrypted: boolean;
  readonly kmsKeyId?: string;
  state: SnapshotState;
  /** Percent, 0–100. */
  progress: number;
  statusMessage?: string;
  tags: Tags;
  createVolumePermissions: CreateVolumePermission[];
}

export interface AddSnapshotOptions {
  readonly region: string;
  /** Default 8. */
  readonly sizeGiB?: number;
  readonly tags?: Readonly<Record<string, string>>;
  /** Default false. */
  readonly encrypted?: boolean;
  /** Default `alias/aws/ebs` when encrypted. */
  readonly kmsKeyId?: string;
  /** Default `completed`. */
  readonly state?: SnapshotState;
  readonly description?: string;
}

/** One device of an AMI stored in S3 (CreateStoreImageTask): the snapshot data travels, not the snapshot. */
export interface StoredImageDevice {
  readonly deviceName: string;
  readonly volumeSizeGiB: number;
  readonly volumeType?: string;
  readonly deleteOnTermination?: boolean;
}

/** What a stored-AMI object (`<imageId>.bin`) holds: enough to restore the AMI with CreateRestoreImageTask. */
export interface StoredImage {
  readonly name: string;
  readonly description?: string;
  /** Default `x86_64` on restore. */
  readonly architecture?: string;
  readonly virtualizationType?: string;
  readonly bootMode?: string;
  readonly enaSupport?: boolean;
  readonly imdsSupport?: string;
  readonly tpmSupport?: string;
  readonly platform?: string;
  readonly rootDeviceName: string;
  readonly blockDeviceMappings: readonly StoredImageDevice[];
  /** The AMI that was stored, when the object came from CreateStoreImageTask. */
  readonly sourceImageId?: string;
  readonly sourceRegion?: string;
}

/** An object of the simulated S3 (one per account: buckets are global, keyed by bucket and key). */
export interface S3StoredObject {
  readonly bucket: string;
  readonly key: string;
  readonly image: StoredImage;
  readonly tags: Tags;
  readonly lastModified: string;
}

export type StoreTaskState = 'InProgress' | 'Completed' | 'Failed';

/** How a CreateStoreImageTask task progresses, counted in DescribeStoreImageTasks polls that return it. */
export interface StoreBehaviour {
  /** Polls that still report `InProgress` (with rising `progressPercentage`). */
  readonly pendingPolls: number;
  readonly finalState: 'Completed' | 'Failed';
  /** `storeTaskFailureReason` when `finalState` is `Failed`. */
  readonly failureReason?: string;
}

export interface LocalStoreTask {
  readonly imageId: string;
  readonly region: string;
  readonly bucket: string;
  readonly objectKey: string;
  readonly taskStartTime: string;
  /** Tags the object gets (S3ObjectTag.N). */
  readonly objectTags: Tags;
  /** The AMI as it was when the task started: what the object will hold. */
  readonly image: StoredImage;
  state: StoreTaskState;
  progressPercentage: number;
  failureReason?: string;
  behaviour: StoreBehaviour;
  polls: number;
}

/** DescribeImportImageTasks `status`. */
export type ImportTaskStatus = 'active' | 'completed' | 'deleting' | 'deleted';

/** How an ImportImage task progresses, counted in DescribeImportImageTasks polls that return it. */
export interface ImportBehaviour {
  /** Polls each status is reported for before the task moves on (default 1). */
  readonly pollsPerStep?: number;
  /** `deleted`: the task fails after `converting` (`deleting`, then `deleted`, with `failureMessage`). */
  readonly finalStatus: 'completed' | 'deleted';
  /** Default `ClientError: Unsupported kernel version`. */
  readonly failureMessage?: string;
  /** Size of each imported disk that is not an EBS snapshot (default 8 GiB). */
  readonly diskSizeGiB?: number;
}

/** One step of an import task as DescribeImportImageTasks reports it. */
export interface ImportStep {
  readonly status: ImportTaskStatus;
  readonly statusMessage?: string;
  readonly progress?: string;
}

export interface ImportDisk {
  readonly description?: string;
  readonly format?: string;
  readonly url?: string;
  readonly userBucket?: { readonly s3Bucket: string; readonly s3Key: string };
  /** DiskContainer.N.SnapshotId: an EBS snapshot to import instead of a disk file. */
  readonly sourceSnapshotId?: string;
  readonly sizeGiB: number;
  /** Set when the task completes. */
  deviceName?: string;
  /** The new snapshot, set when the task completes. */
  snapshotId?: string;
}

export interface LocalImportTask {
  readonly importTaskId: string;
  readonly region: string;
  readonly description?: string;
  readonly architecture?: string;
  readonly platform?: string;
  readonly bootMode?: string;
  readonly licenseType?: string;
  readonly hypervisor?: string;
  readonly usageOperation?: string;
  /** LicenseSpecifications.N.LicenseConfigurationArn, in order. */
  readonly licenseConfigurationArns?: readonly string[];
  readonly encrypted?: boolean;
  readonly kmsKeyId?: string;
  readonly roleName: string;
  readonly clientToken?: string;
  readonly disks: ImportDisk[];
  tags: Tags;
  /** Every step the task reports, in order; cancelling replaces what is left with `deleting`, `deleted`. */
  timeline: ImportStep[];
  /** Index into `timeline` of what the task reports now. */
  position: number;
  /** DescribeImportImageTasks polls that have reported the current step. */
  pollsAtPosition: number;
  readonly pollsPerStep: number;
  /** The imported AMI, once the task has completed. */
  imageId?: string;
}

export interface LocalStack {
  readonly stackId: string;
  readonly stackName: string;
  readonly region: string;
  readonly creationTime: string;
  status: string;
}

/**
 * `throttle`, `http500`, `http503`: the service's own error documents.
 * `capacity`: EC2's answer while too many image operations run in the Region (HTTP 400
 * ResourceLimitExceeded; CloudFormation and S3 have no such answer and treat it as `http503`).
 * `proxy502`: not the service at all but a proxy or load balancer in front of it, whose
 * 502 Bad Gateway carries an HTML page instead of an AWS error document.
 */
/** `unauthorized`: EC2's answer when IAM denies the call (e.g. a policy that has not propagated yet). */
export type FaultKind = 'throttle' | 'http500' | 'http503' | 'capacity' | 'unauthorized' | 'proxy502';

export interface FaultSpec {
  /** Only calls of this action fail; every action when omitted. */
  readonly action?: string;
  /** How many matching calls fail before the fault is used up. */
  readonly times: number;
  readonly kind: FaultKind;
}

/** A Parameter Store parameter of a region (SSM). */
export interface LocalParameter {
  readonly name: string;
  value: string;
  readonly type: string;
  readonly dataType: string;
  description?: string;
  version: number;
  lastModified: string;
  tags: Tags;
}

export interface RecordedCall {
  readonly service: 'ec2' | 'cloudformation' | 's3' | 'ssm' | 'sts';
  readonly action: string;
  readonly region: string;
  readonly status: number;
  /** Error code when the call failed. */
  readonly code?: string;
  /** The SDK's attempt number (`amz-sdk-request` header), when it sent one. */
  readonly attempt?: number;
  /** Epoch milliseconds. */
  readonly at: number;
}

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

const EC2_NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const CFN_NAMESPACE = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';
const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

const DEFAULT_BEHAVIOUR: ImageBehaviour = { pendingPolls: 2, finalState: 'available' };
const DEFAULT_FAILURE: StateReason = {
  code: 'Server.InternalError',
  message: 'Server.InternalError: An internal error has occurred',
};

const DEFAULT_STORE_BEHAVIOUR: StoreBehaviour = { pendingPolls: 2, finalState: 'Completed' };
/** Best knowledge; scripts usually set their own `failureReason`. */
const DEFAULT_STORE_FAILURE = 'InternalError: An internal error has occurred';
const DEFAULT_IMPORT_BEHAVIOUR: ImportBehaviour = { pollsPerStep: 1, finalStatus: 'completed' };
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

const ARCHITECTURES = new Set(['i386', 'x86_64', 'arm64', 'x86_64_mac', 'arm64_mac']);
const BOOT_MODES = new Set(['legacy-bios', 'uefi', 'uefi-preferred']);
const VIRTUALIZATION_TYPES = new Set(['hvm', 'paravirtual']);
const VOLUME_TYPES = new Set(['standard', 'io1', 'io2', 'gp2', 'gp3', 'sc1', 'st1']);
/** RegisterImage UefiData: at most 64,000 characters (EC2 API reference). */
const UEFI_DATA_MAX_LENGTH = 64_000;
/** The volume types that take provisioned IOPS (EbsBlockDevice.Iops). */
const IOPS_VOLUME_TYPES = new Set(['io1', 'io2', 'gp3']);
const IMPORT_FORMATS = new Set(['OVA', 'VHD', 'VHDX', 'VMDK', 'RAW']);
const IMPORT_ARCHITECTURES = new Set(['i386', 'x86_64', 'arm64']);
const IMPORT_PLATFORMS = new Set(['Windows', 'Linux']);
const IMPORT_LICENSE_TYPES = new Set(['AWS', 'BYOL']);
const GiB = 1024 ** 3;

/** The numeric codes EC2 reports next to each instance state name. */
const INSTANCE_STATE_CODES: Readonly<Record<InstanceStateName, number>> = {
  'pending': 0,
  'running': 16,
  'shutting-down': 32,
  'terminated': 48,
  'stopping': 64,
  'stopped': 80,
};

/** CreateImage accepts only instances that have settled in one of these states. */
const IMAGEABLE_STATES: ReadonlySet<InstanceStateName> = new Set(['running', 'stopped']);

/** EC2's documented AMI name rule. */
const IMAGE_NAME_PATTERN = /^[a-zA-Z0-9()[\] ./\-'@_]{3,128}$/;

const SNAPSHOT_ATTRIBUTES = new Set(['productCodes', 'createVolumePermission']);

/** How long deregistration protection enabled with cooldown outlasts DisableImageDeregistrationProtection. */
const DEREGISTRATION_COOLDOWN_MS = 24 * 60 * 60 * 1000;

const IMAGE_REFERENCE_TYPES = new Set(['ec2:Instance', 'ec2:LaunchTemplate', 'ssm:Parameter', 'imagebuilder:ImageRecipe', 'imagebuilder:ContainerRecipe']);

const IMAGE_ATTRIBUTES = new Set([
  'description', 'kernel', 'ramdisk', 'launchPermission', 'productCodes', 'blockDeviceMapping', 'sriovNetSupport',
  'bootMode', 'tpmSupport', 'uefiData', 'lastLaunchedTime', 'imdsSupport', 'deregistrationProtection',
]);

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/** An error the service answers with: rendered as the protocol's error document. */
class ApiError extends Error {
  constructor(readonly code: string, message: string, readonly status = 400) {
    super(message);
  }
}

function missingParameter(name: string): ApiError {
  return new ApiError('MissingParameter', `The request must contain the parameter ${name}`);
}

/**
 * The `Ebs.*` members of a block device mapping, checked as EC2's
 * EbsBlockDevice documents them: a volume may grow, not shrink; IOPS only for
 * io1, io2 and gp3 (and required for io1 and io2); throughput only for gp3.
 * The messages are best knowledge.
 */
function ebsSettings(mapping: QueryParams, sourceSizeGiB: number, source: string, defaultType: string) {
  const volumeSizeGiB = mapping.int('Ebs.VolumeSize') ?? sourceSizeGiB;
  if (volumeSizeGiB < sourceSizeGiB) {
    throw new ApiError('InvalidBlockDeviceMapping',
      `Volume of size ${volumeSizeGiB}GB is smaller than ${source}, expect size >= ${sourceSizeGiB}GB`);
  }
  const volumeType = mapping.get('Ebs.VolumeType') ?? defaultType;
  assertOneOf('volumeType', volumeType, VOLUME_TYPES);
  const iops = mapping.int('Ebs.Iops');
  if (iops !== undefined && !IOPS_VOLUME_TYPES.has(volumeType)) {
    throw new ApiError('InvalidParameterCombination', `The parameter iops is not supported for ${volumeType} volumes.`);
  }
  if (iops === undefined && (volumeType === 'io1' || volumeType === 'io2')) {
    throw new ApiError('InvalidParameterCombination', `The parameter iops must be specified for ${volumeType} volumes.`);
  }
  const throughput = mapping.int('Ebs.Throughput');
  if (throughput !== undefined && volumeType !== 'gp3') {
    throw new ApiError('InvalidParameterCombination', `The parameter throughput is not supported for ${volumeType} volumes.`);
  }
  return { volumeSizeGiB, volumeType, iops, throughput, deleteOnTermination: mapping.bool('Ebs.DeleteOnTermination') ?? true };
}

function invalidValue(message: string): ApiError {
  return new ApiError('InvalidParameterValue', message);
}

function imageNotFound(ids: readonly string[]): ApiError {
  return ids.length === 1
    ? new ApiError('InvalidAMIID.NotFound', `The image id '[${ids[0]}]' does not exist`)
    : new ApiError('InvalidAMIID.NotFound', `The image ids '[${ids.join(', ')}]' do not exist`);
}

function instanceNotFound(ids: readonly string[]): ApiError {
  return ids.length === 1
    ? new ApiError('InvalidInstanceID.NotFound', `The instance ID '${ids[0]}' does not exist`)
    : new ApiError('InvalidInstanceID.NotFound', `The instance IDs '${ids.join(', ')}' do not exist`);
}

function snapshotNotFound(ids: readonly string[]): ApiError {
  return ids.length === 1
    ? new ApiError('InvalidSnapshot.NotFound', `The snapshot '${ids[0]}' does not exist.`)
    : new ApiError('InvalidSnapshot.NotFound', `The snapshots '${ids.join(', ')}' do not exist.`);
}

/**
 * DescribeImportImageTasks / CancelImportTask answer this for IDs they do not know, expired tasks included.
 * The code is what EC2 is reported to answer for tasks that no longer exist; the message is best knowledge.
 */
function importTaskNotFound(id: string): ApiError {
  return new ApiError('InvalidConversionTaskId.Malformed', `The import task ID '${id}' is malformed or does not exist`);
}

/** A parameter that must be one of a fixed set of values. */
function assertOneOf(name: string, value: string | undefined, allowed: ReadonlySet<string>): void {
  if (value !== undefined && !allowed.has(value)) throw invalidValue(`Value (${value}) for parameter ${name} is invalid.`);
}

/** The error each fault kind produces, per protocol (EC2 throttles with 503, CloudFormation with 400). */
function faultError(kind: Exclude<FaultKind, 'proxy502'>, service: RecordedCall['service']): ApiError {
  if (kind === 'capacity' && service !== 'ec2') kind = 'http503';
  // EC2's UnauthorizedOperation (HTTP 403); its message carries an encoded authorization failure message.
  if (kind === 'unauthorized') return new ApiError('UnauthorizedOperation', 'You are not authorized to perform this operation. Encoded authorization failure message: AAAA', 403);
  if (service === 's3') {
    switch (kind) {
      case 'throttle': return new ApiError('SlowDown', 'Please reduce your request rate.', 503);
      case 'http500': return new ApiError('InternalError', 'We encountered an internal error. Please try again.', 500);
      case 'http503': return new ApiError('ServiceUnavailable', 'Service is unable to handle request.', 503);
    }
  }
  if (service === 'ssm') {
    switch (kind) {
      case 'throttle': return new ApiError('ThrottlingException', 'Rate exceeded', 400);
      case 'http500': return new ApiError('InternalServerError', 'An internal error has occurred', 500);
      case 'http503': return new ApiError('ServiceUnavailable', 'Service is unavailable', 503);
    }
  }
  if (service === 'cloudformation') {
    switch (kind) {
      case 'throttle': return new ApiError('Throttling', 'Rate exceeded', 400);
      case 'http500': return new ApiError('InternalFailure', 'An internal error has occurred', 500);
      case 'http503': return new ApiError('ServiceUnavailable', 'Service is unavailable', 503);
    }
  }
  switch (kind) {
    // RequestLimitExceeded is in the SDK's THROTTLING_ERROR_CODES, so it is retried as throttling.
    case 'throttle': return new ApiError('RequestLimitExceeded', 'Request limit exceeded.', 503);
    case 'http500': return new ApiError('InternalError', 'An internal error has occurred', 500);
    case 'http503': return new ApiError('Unavailable', 'The server is temporarily unavailable', 503);
    // The message is best knowledge; the code and status are what EC2 documents for its limits.
    case 'capacity': return new ApiError('ResourceLimitExceeded', 'You have reached the maximum number of concurrent image operations in this Region. Try again later.', 400);
  }
}

/** What nginx (and most proxies) answer when the upstream fails: an HTML page, not an AWS error. */
const PROXY_502_BODY = '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

// ---------------------------------------------------------------------------
// Query parameters (form body): `Key=v`, lists `Key.N`, structures `Key.N.Member`
// ---------------------------------------------------------------------------

class QueryParams {
  static parse(body: string, search: string): QueryParams {
    const values = new Map<string, string>();
    for (const source of [search, body]) {
      for (const [key, value] of new URLSearchParams(source)) values.set(key, value);
    }
    return new QueryParams(values);
  }

  constructor(private readonly values: ReadonlyMap<string, string>) {}

  has(key: string): boolean {
    return this.values.has(key);
  }

  get(key: string): string | undefined {
    return this.values.get(key);
  }

  required(key: string): string {
    const value = this.values.get(key);
    if (value === undefined || value === '') throw missingParameter(key);
    return value;
  }

  /** A non-negative integer parameter. */
  int(key: string): number | undefined {
    const value = this.values.get(key);
    if (value === undefined) return undefined;
    if (!/^\d+$/.test(value)) throw invalidValue(`Value (${value}) for parameter ${key} is invalid. Expected an integer.`);
    return Number(value);
  }

  /** Every parameter except `exclude`, sorted: two requests with the same fingerprint asked for the same thing. */
  fingerprint(exclude: readonly string[]): string {
    return JSON.stringify([...this.values].filter(([key]) => !exclude.includes(key)).sort(([a], [b]) => a.localeCompare(b)));
  }

  bool(key: string): boolean | undefined {
    const value = this.values.get(key);
    if (value === undefined) return undefined;
    if (value !== 'true' && value !== 'false') throw invalidValue(`Invalid value '${value}' for ${key}; expected true or false`);
    return value === 'true';
  }

  /** `Key.1`, `Key.2`, … in index order. */
  list(prefix: string): string[] {
    return this.indexes(prefix, (rest) => rest === '').map((index) => this.values.get(`${prefix}.${index}`) ?? '');
  }

  /** `Key.N.*` as one scoped QueryParams per N, in index order. */
  members(prefix: string): QueryParams[] {
    return this.indexes(prefix, (rest) => rest.startsWith('.')).map((index) => {
      const scope = `${prefix}.${index}.`;
      const scoped = new Map<string, string>();
      for (const [key, value] of this.values) {
        if (key.startsWith(scope)) scoped.set(key.slice(scope.length), value);
      }
      return new QueryParams(scoped);
    });
  }

  /** Distinct indexes N of keys `prefix.N<rest>` whose rest passes `accept`, sorted numerically. */
  private indexes(prefix: string, accept: (rest: string) => boolean): number[] {
    const indexes = new Set<number>();
    for (const key of this.values.keys()) {
      if (!key.startsWith(`${prefix}.`)) continue;
      const match = /^(\d+)(.*)$/.exec(key.slice(prefix.length + 1));
      if (match && accept(match[2])) indexes.add(Number(match[1]));
    }
    return [...indexes].sort((a, b) => a - b);
  }
}

// ---------------------------------------------------------------------------
// XML rendering
// ---------------------------------------------------------------------------

const XML_ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => XML_ENTITIES[char]);
}

/** `<name>value</name>`, or nothing when the value is absent (EC2 omits unset members). */
function leaf(name: string, value: string | number | boolean | undefined): string {
  return value === undefined ? '' : `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** A container element around already-rendered children. */
function node(name: string, ...children: string[]): string {
  return `<${name}>${children.join('')}</${name}>`;
}

/** An EC2 list: `<name><item>…</item>…</name>` (each entry is the item's rendered children). */
function itemSet(name: string, items: readonly string[]): string {
  return node(name, ...items.map((item) => node('item', item)));
}

const FAST_LAUNCH_RESOURCE_TYPES: ReadonlySet<string> = new Set(['snapshot']);
const MIN_FAST_LAUNCH_PARALLEL_LAUNCHES = 6;
/** Best knowledge: the console's default launch frequency, five snapshots. */
const DEFAULT_FAST_LAUNCH_TARGET = 5;

/** The members EnableFastLaunch, DisableFastLaunch and DescribeFastLaunchImages share. */
function renderFastLaunch(image: LocalImage, fastLaunch: LocalFastLaunch): string {
  const template = fastLaunch.launchTemplate;
  return leaf('imageId', image.imageId)
    + leaf('resourceType', 'snapshot')
    + node('snapshotConfiguration', leaf('targetResourceCount', fastLaunch.targetResourceCount))
    + (template ? node('launchTemplate', leaf('launchTemplateId', template.launchTemplateId), leaf('launchTemplateName', template.launchTemplateName), leaf('version', template.version)) : '')
    + leaf('maxParallelLaunches', fastLaunch.maxParallelLaunches)
    + leaf('ownerId', ACCOUNT_ID)
    + leaf('state', fastLaunch.state)
    + leaf('stateTransitionReason', fastLaunch.stateTransitionReason)
    + leaf('stateTransitionTime', fastLaunch.stateTransitionTime);
}

/** EC2 leaves `tagSet` out entirely when a resource has no tags. */
function renderTags(tags: Tags): string {
  const entries = Object.entries(tags);
  return entries.length === 0 ? '' : itemSet('tagSet', entries.map(([key, value]) => leaf('key', key) + leaf('value', value)));
}

function ec2Document(action: string, requestId: string, body: string): string {
  return `${XML_DECLARATION}<${action}Response xmlns="${EC2_NAMESPACE}">${leaf('requestId', requestId)}${body}</${action}Response>`;
}

function ec2ErrorDocument(error: ApiError, requestId: string): string {
  const detail = node('Error', leaf('Code', error.code), leaf('Message', error.message));
  return `${XML_DECLARATION}${node('Response', node('Errors', detail), leaf('RequestID', requestId))}`;
}

function s3ErrorDocument(error: ApiError, requestId: string): string {
  return `${XML_DECLARATION}${node('Error', leaf('Code', error.code), leaf('Message', error.message), leaf('RequestId', requestId))}`;
}

function cfnDocument(action: string, requestId: string, result: string): string {
  const metadata = node('ResponseMetadata', leaf('RequestId', requestId));
  return `${XML_DECLARATION}<${action}Response xmlns="${CFN_NAMESPACE}">${node(`${action}Result`, result)}${metadata}</${action}Response>`;
}

function cfnErrorDocument(error: ApiError, requestId: string): string {
  const type = error.status >= 500 ? 'Receiver' : 'Sender';
  const detail = node('Error', leaf('Type', type), leaf('Code', error.code), leaf('Message', error.message));
  return `${XML_DECLARATION}<ErrorResponse xmlns="${CFN_NAMESPACE}">${detail}${leaf('RequestId', requestId)}</ErrorResponse>`;
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/** A real-looking resource ID: `prefix-` and 17 lowercase hex digits. */
function newId(prefix: string): string {
  return `${prefix}-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

/** EC2 IDs carry 8 (legacy) or 17 hex digits after the prefix. */
function isWellFormedId(id: string, prefix: string): boolean {
  return new RegExp(`^${prefix}-(?:[0-9a-f]{8}|[0-9a-f]{17})$`).test(id);
}

function assertWellFormedId(id: string, prefix: string, code: string): void {
  if (!isWellFormedId(id, prefix)) throw new ApiError(code, `Invalid id: "${id}" (expecting "${prefix}-...")`);
}

/** `Date.now()`, so a test's virtual clock (the CloudFormation simulator's) is the service's clock too. */
function now(): string {
  return new Date(Date.now()).toISOString();
}

/** A tag record with no prototype, so keys such as `__proto__` are stored like any other. */
function newTags(entries: Iterable<readonly [string, string]> = []): Tags {
  const tags: Tags = Object.create(null);
  for (const [key, value] of entries) tags[key] = value;
  return tags;
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

/** EC2 filter values are globs: `*` any run, `?` one character, `\` escapes. */
function globMatches(pattern: string, value: string): boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i]);
    else if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else source += escapeRegExp(char);
  }
  return new RegExp(`^${source}$`, 's').test(value);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Reads `Tag.N.Key` / `Tag.N.Value` members; `aws:` keys are reserved like on the real service. */
function readTags(members: readonly QueryParams[]): Array<[string, string]> {
  return members.map((member) => {
    const key = member.required('Key');
    if (key.toLowerCase().startsWith('aws:')) throw invalidValue("Tag keys starting with 'aws:' are reserved for internal use");
    return [key, member.get('Value') ?? ''];
  });
}

/** `TagSpecification.N` grouped by resource type; a type the action cannot tag is rejected. */
function readTagSpecifications(params: QueryParams, allowed: readonly string[]): Map<string, Tags> {
  const byType = new Map<string, Tags>(allowed.map((type) => [type, newTags()]));
  for (const spec of params.members('TagSpecification')) {
    const type = spec.required('ResourceType');
    const target = byType.get(type);
    if (!target) throw invalidValue(`'${type}' is not a valid taggable resource type for this operation.`);
    for (const [key, value] of readTags(spec.members('Tag'))) target[key] = value;
  }
  return byType;
}

function tagsFor(specs: Map<string, Tags>, type: string): Tags {
  return newTags(Object.entries(specs.get(type) ?? {}));
}

/** Owner.N: the caller's resources match `self` or its account ID; any other owner has none. */
function ownersInclude(owners: readonly string[], account: string): boolean {
  return owners.length === 0 || owners.some((owner) => owner === 'self' || owner === account);
}

// ---------------------------------------------------------------------------
// Filters (`Filter.N.Name`, `Filter.N.Value.M`)
// ---------------------------------------------------------------------------

type Tagged = { readonly tags: Tags };
type FilterFields<T> = Readonly<Record<string, (resource: T) => ReadonlyArray<string | undefined>>>;

/**
 * A predicate for all `Filter.N` of the request (`Filters.N` for the few actions whose model names
 * the list so); an unknown filter name is rejected up front, like EC2 does.
 */
function filterPredicate<T extends Tagged>(params: QueryParams, fields: FilterFields<T>, prefix = 'Filter'): (resource: T) => boolean {
  const tests = params.members(prefix).map((filter) => {
    const read = filterReader(filter.required('Name'), fields);
    const patterns = filter.list('Value');
    return (resource: T) => read(resource).some((value) => value !== undefined && patterns.some((p) => globMatches(p, value)));
  });
  return (resource) => tests.every((test) => test(resource));
}

function filterReader<T extends Tagged>(name: string, fields: FilterFields<T>): (resource: T) => ReadonlyArray<string | undefined> {
  if (name.startsWith('tag:')) {
    const key = name.slice('tag:'.length);
    return (resource) => (Object.hasOwn(resource.tags, key) ? [resource.tags[key]] : []);
  }
  if (name === 'tag-key') return (resource) => Object.keys(resource.tags);
  if (name === 'tag-value') return (resource) => Object.values(resource.tags);
  const field = fields[name];
  if (!field) throw invalidValue(`The filter '${name}' is invalid`);
  return field;
}

const IMAGE_FILTERS: FilterFields<LocalImage> = {
  'name': (image) => [image.name],
  'state': (image) => [image.state],
  'image-id': (image) => [image.imageId],
  'description': (image) => [image.description],
  'owner-id': (image) => [image.ownerId],
  'architecture': (image) => [image.architecture ?? 'x86_64'],
  'image-type': () => ['machine'],
  'root-device-type': () => ['ebs'],
  'root-device-name': (image) => [image.rootDeviceName],
  'virtualization-type': (image) => [image.virtualizationType ?? 'hvm'],
  'platform': (image) => [image.platform],
  'is-public': (image) => [String(isPublic(image))],
  'source-image-id': (image) => [image.sourceImageId],
  'source-instance-id': (image) => [image.sourceInstanceId],
  'block-device-mapping.snapshot-id': (image) => image.blockDeviceMappings.map((device) => device.snapshotId),
  'block-device-mapping.device-name': (image) => image.blockDeviceMappings.map((device) => device.deviceName),
};

const SNAPSHOT_FILTERS: FilterFields<LocalSnapshot> = {
  'status': (snapshot) => [snapshot.state],
  'snapshot-id': (snapshot) => [snapshot.snapshotId],
  'volume-id': (snapshot) => [snapshot.volumeId],
  'volume-size': (snapshot) => [String(snapshot.volumeSizeGiB)],
  'description': (snapshot) => [snapshot.description],
  'owner-id': (snapshot) => [snapshot.ownerId],
  'encrypted': (snapshot) => [String(snapshot.encrypted)],
  'progress': (snapshot) => [`${snapshot.progress}%`],
};

/** Store tasks have no tags; `Tagged` is satisfied with an empty record. */
type StoreTaskView = LocalStoreTask & Tagged;

const STORE_TASK_FILTERS: FilterFields<StoreTaskView> = {
  'task-state': (task) => [task.state],
  'bucket': (task) => [task.bucket],
};

const IMPORT_TASK_FILTERS: FilterFields<LocalImportTask> = {
  'task-state': (task) => [currentImportStep(task).status],
};

const INSTANCE_FILTERS: FilterFields<LocalInstance> = {
  'instance-id': (instance) => [instance.instanceId],
  'instance-state-name': (instance) => [instance.state],
  'instance-state-code': (instance) => [String(INSTANCE_STATE_CODES[instance.state])],
};

function isPublic(image: LocalImage): boolean {
  return image.launchPermissions.some((permission) => permission.group === 'all');
}

// ---------------------------------------------------------------------------
// Rendering of resources (element names as in the EC2 API reference)
// ---------------------------------------------------------------------------

function renderInstanceState(state: InstanceStateName): string {
  return leaf('code', INSTANCE_STATE_CODES[state]) + leaf('name', state);
}

function renderInstance(instance: LocalInstance): string {
  // A terminated instance's volumes are gone (deleteOnTermination), so EC2 lists no mappings.
  const volumes = instance.state === 'terminated' ? [] : instance.volumes;
  const mappings = volumes.map((volume) => leaf('deviceName', volume.deviceName) + node('ebs',
    leaf('volumeId', volume.volumeId),
    leaf('status', 'attached'),
    leaf('attachTime', instance.launchTime),
    leaf('deleteOnTermination', true),
  ));
  return [
    leaf('instanceId', instance.instanceId),
    leaf('imageId', instance.imageId),
    node('instanceState', renderInstanceState(instance.state)),
    leaf('instanceType', 't3.micro'),
    leaf('launchTime', instance.launchTime),
    leaf('architecture', 'x86_64'),
    leaf('rootDeviceType', 'ebs'),
    leaf('rootDeviceName', instance.rootDeviceName),
    itemSet('blockDeviceMapping', mappings),
    leaf('virtualizationType', 'hvm'),
    leaf('hypervisor', 'xen'),
    renderTags(instance.tags),
  ].join('');
}

/** Counts one DescribeInstances poll of the instance, and runs its script when it is due. */
function runInstanceScript(instance: LocalInstance): void {
  const script = instance.script;
  if (!script) return;
  if (script.remaining > 0) {
    script.remaining--;
    return;
  }
  instance.script = undefined;
  for (const [key, value] of Object.entries(script.tags ?? {})) instance.tags[key] = value;
  if (script.consoleOutput) instance.consoleOutput += script.consoleOutput;
  if (script.state && instance.state !== 'terminated') instance.state = script.state;
}

function renderStateChange(instanceId: string, previous: InstanceStateName, current: InstanceStateName): string {
  return leaf('instanceId', instanceId)
    + node('currentState', renderInstanceState(current))
    + node('previousState', renderInstanceState(previous));
}

function renderImage(image: LocalImage): string {
  const mappings = image.blockDeviceMappings.map((device) => leaf('deviceName', device.deviceName) + node('ebs',
    leaf('snapshotId', device.snapshotId),
    leaf('volumeSize', device.volumeSizeGiB),
    leaf('deleteOnTermination', device.deleteOnTermination ?? true),
    leaf('volumeType', device.volumeType ?? 'gp3'),
    leaf('iops', device.iops),
    leaf('throughput', device.throughput),
    leaf('encrypted', device.encrypted ?? image.encrypted),
  ));
  const suppressed = (image.noDevices ?? []).map((deviceName) => leaf('deviceName', deviceName) + node('noDevice'));
  const windows = image.platform === 'windows';
  const stateReason = image.stateReason
    ? node('stateReason', leaf('code', image.stateReason.code), leaf('message', image.stateReason.message))
    : '';
  return [
    leaf('imageId', image.imageId),
    leaf('imageLocation', image.imageLocation),
    leaf('imageState', image.state),
    leaf('imageOwnerId', image.ownerId),
    leaf('creationDate', image.creationDate),
    leaf('isPublic', isPublic(image)),
    leaf('architecture', image.architecture ?? 'x86_64'),
    leaf('imageType', 'machine'),
    leaf('platform', image.platform),
    leaf('sourceInstanceId', image.sourceInstanceId),
    leaf('sourceImageId', image.sourceImageId),
    leaf('sourceImageRegion', image.sourceRegion),
    leaf('name', image.name),
    leaf('description', image.description),
    leaf('rootDeviceType', 'ebs'),
    leaf('rootDeviceName', image.rootDeviceName),
    itemSet('blockDeviceMapping', [...mappings, ...suppressed]),
    leaf('virtualizationType', image.virtualizationType ?? 'hvm'),
    leaf('hypervisor', 'xen'),
    leaf('enaSupport', image.enaSupport),
    leaf('bootMode', image.bootMode),
    leaf('tpmSupport', image.tpmSupport),
    leaf('imdsSupport', image.imdsSupport),
    leaf('platformDetails', windows ? 'Windows' : 'Linux/UNIX'),
    leaf('usageOperation', windows ? 'RunInstances:0002' : 'RunInstances'),
    renderTags(image.tags),
    stateReason,
    leaf('deprecationTime', image.deprecationTime),
    leaf('deregistrationProtection', protectionValue(image)),
  ].join('');
}

/** The protection as EC2 reports it: during the cooldown, `disabled-until` and the time the cooldown ends. */
function protectionValue(image: LocalImage): string {
  return image.deregistrationProtection === 'disabled-until'
    ? `disabled-until ${image.protectionCooldownEnds ?? ''}`
    : image.deregistrationProtection;
}

function renderSnapshot(snapshot: LocalSnapshot): string {
  return [
    leaf('snapshotId', snapshot.snapshotId),
    leaf('volumeId', snapshot.volumeId),
    leaf('status', snapshot.state),
    leaf('statusMessage', snapshot.statusMessage),
    leaf('startTime', snapshot.startTime),
    leaf('progress', `${snapshot.progress}%`),
    leaf('ownerId', snapshot.ownerId),
    leaf('volumeSize', snapshot.volumeSizeGiB),
    leaf('description', snapshot.description),
    leaf('encrypted', snapshot.encrypted),
    leaf('kmsKeyId', snapshot.kmsKeyId),
    leaf('storageTier', 'standard'),
    renderTags(snapshot.tags),
  ].join('');
}

function renderStoreTask(task: LocalStoreTask): string {
  return [
    leaf('amiId', task.imageId),
    leaf('taskStartTime', task.taskStartTime),
    leaf('bucket', task.bucket),
    leaf('s3objectKey', task.objectKey),
    leaf('progressPercentage', task.progressPercentage),
    leaf('storeTaskState', task.state),
    leaf('storeTaskFailureReason', task.failureReason),
  ].join('');
}

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

function renderLaunchPermission(permission: LaunchPermission): string {
  return leaf('group', permission.group)
    + leaf('userId', permission.userId)
    + leaf('organizationArn', permission.organizationArn)
    + leaf('organizationalUnitArn', permission.organizationalUnitArn);
}

function renderCreateVolumePermission(permission: CreateVolumePermission): string {
  return leaf('group', permission.group) + leaf('userId', permission.userId);
}

function renderStack(stack: LocalStack): string {
  return node('member',
    leaf('StackId', stack.stackId),
    leaf('StackName', stack.stackName),
    leaf('CreationTime', stack.creationTime),
    leaf('StackStatus', stack.status),
  );
}

// ---------------------------------------------------------------------------
// State, kept per region
// ---------------------------------------------------------------------------

interface CopyTokenRecord {
  readonly imageId: string;
  readonly sourceImageId: string;
  readonly sourceRegion: string;
}

/** Everything one region holds; regions never see each other's resources (CopyImage reads its source region explicitly). */
class RegionState {
  readonly instances = new Map<string, LocalInstance>();
  readonly images = new Map<string, LocalImage>();
  /** Deleted snapshots are removed: EC2 answers NotFound for them. */
  readonly snapshots = new Map<string, LocalSnapshot>();
  /** CopyImage ClientToken → the copy it started, so a retried request creates nothing new. */
  readonly copyTokens = new Map<string, CopyTokenRecord>();
  readonly stacks = new Map<string, LocalStack>();
  /** Store tasks, oldest first (DescribeStoreImageTasks lists them newest first). */
  readonly storeTasks: LocalStoreTask[] = [];
  /** Import tasks by ID; an expired task is removed. */
  readonly importTasks = new Map<string, LocalImportTask>();
  /** ImportImage ClientToken → the task it started and a fingerprint of the request. */
  readonly importTokens = new Map<string, { readonly importTaskId: string; readonly fingerprint: string }>();
  imageBlockPublicAccess: ImageBlockPublicAccessState = 'unblocked';
  /** Launch template ID → the image its default version launches. */
  readonly launchTemplates = new Map<string, string>();
  /** Parameter Store, by name. */
  readonly parameters = new Map<string, LocalParameter>();
  /** aws:ec2:image writes SSM has accepted but not validated yet, by name. */
  readonly pendingParameters = new Map<string, { parameter: LocalParameter; readsLeft: number }>();

  constructor(readonly name: string, readonly account: string) {}

  /** The first non-deregistered image that still references the snapshot. */
  imageUsing(snapshotId: string, except?: LocalImage): LocalImage | undefined {
    return [...this.images.values()].find((image) => image !== except
      && image.state !== 'deregistered'
      && image.blockDeviceMappings.some((device) => device.snapshotId === snapshotId));
  }
}

/** The key of an object in the simulated S3. */
function s3ObjectId(bucket: string, key: string): string {
  return JSON.stringify([bucket, key]);
}

const DEFAULT_FAST_LAUNCH_BEHAVIOUR: FastLaunchBehaviour = { transitionPolls: 1 };

class World {
  imageBehaviour: ImageBehaviour = DEFAULT_BEHAVIOUR;
  storeBehaviour: StoreBehaviour = DEFAULT_STORE_BEHAVIOUR;
  importBehaviour: ImportBehaviour = DEFAULT_IMPORT_BEHAVIOUR;
  fastLaunchBehaviour: FastLaunchBehaviour = DEFAULT_FAST_LAUNCH_BEHAVIOUR;
  notFoundAfterCreate = 0;
  /** GetParameter reads that still see the old value after an aws:ec2:image PutParameter (SSM validates it asynchronously). */
  parameterValidationReads = 0;
  /** The account's S3 objects: global, not per region. */
  readonly s3 = new Map<string, S3StoredObject>();
  /** Buckets whose region was set; any other bucket is taken to be in whatever region asks. */
  readonly bucketRegions = new Map<string, string>();
  /** By account and region: accounts never see each other's resources, but through sharing. */
  private readonly regions = new Map<string, RegionState>();

  region(name: string, account = ACCOUNT_ID): RegionState {
    const key = `${account}/${name}`;
    let state = this.regions.get(key);
    if (!state) {
      state = new RegionState(name, account);
      this.regions.set(key, state);
    }
    return state;
  }

  /** The region `name` of every account that has used it. */
  regionInAllAccounts(name: string): RegionState[] {
    return [...this.regions.values()].filter((state) => state.name === name);
  }

  /** Image IDs are unique across regions, so one can be found without its region. */
  findImage(imageId: string): LocalImage | undefined {
    for (const region of this.regions.values()) {
      const image = region.images.get(imageId);
      if (image) return image;
    }
    return undefined;
  }

  /** Import task IDs are unique across regions, like image IDs. */
  findImportTask(importTaskId: string): LocalImportTask | undefined {
    for (const region of this.regions.values()) {
      const task = region.importTasks.get(importTaskId);
      if (task) return task;
    }
    return undefined;
  }

  reset(): void {
    this.regions.clear();
    this.s3.clear();
    this.bucketRegions.clear();
    this.imageBehaviour = DEFAULT_BEHAVIOUR;
    this.storeBehaviour = DEFAULT_STORE_BEHAVIOUR;
    this.importBehaviour = DEFAULT_IMPORT_BEHAVIOUR;
    this.fastLaunchBehaviour = DEFAULT_FAST_LAUNCH_BEHAVIOUR;
    this.notFoundAfterCreate = 0;
    this.parameterValidationReads = 0;
  }
}

// ---------------------------------------------------------------------------
// EC2 actions
// ---------------------------------------------------------------------------

type ActionHandler = (region: RegionState, params: QueryParams) => string;

/** What an action that makes an image knows of it; the rest (state, dates, governance) starts at its defaults. */
type NewImage = Readonly<Pick<LocalImage,
  | 'imageId' | 'name' | 'description' | 'rootDeviceName' | 'blockDeviceMappings' | 'tags' | 'encrypted' | 'kmsKeyId'
  | 'sourceInstanceId' | 'sourceImageId' | 'sourceRegion' | 'architecture' | 'virtualizationType' | 'bootMode'
  | 'enaSupport' | 'imdsSupport' | 'tpmSupport' | 'uefiData' | 'platform' | 'noDevices'>>;

/** The launch attributes an image passes on to its copies and stored objects. */
type LaunchAttributes = Pick<LocalImage, 'architecture' | 'virtualizationType' | 'bootMode' | 'enaSupport' | 'imdsSupport' | 'tpmSupport' | 'platform'>;

function launchAttributes(source: LaunchAttributes): LaunchAttributes {
  return {
    architecture: source.architecture,
    virtualizationType: source.virtualizationType,
    bootMode: source.bootMode,
    enaSupport: source.enaSupport,
    imdsSupport: source.imdsSupport,
    tpmSupport: source.tpmSupport,
    platform: source.platform,
  };
}

interface NewSnapshot {
  readonly volumeId: string;
  readonly volumeSizeGiB: number;
  readonly description: string;
  readonly encrypted: boolean;
  readonly kmsKeyId?: string;
  readonly tags: Tags;
  /** Default `pending`: the snapshot completes with the image that creates it. */
  readonly state?: SnapshotState;
}

class Ec2Api {
  private readonly handlers: Readonly<Record<string, ActionHandler>> = {
    DescribeInstances: (region, params) => this.describeInstances(region, params),
    GetConsoleOutput: (region, params) => this.getConsoleOutput(region, params),
    StopInstances: (region, params) => this.stopInstances(region, params),
    TerminateInstances: (region, params) => this.terminateInstances(region, params),
    CreateImage: (region, params) => this.createImage(region, params),
    CopyImage: (region, params) => this.copyImage(region, params),
    DescribeImages: (region, params) => this.describeImages(region, params),
    DeregisterImage: (region, params) => this.deregisterImage(region, params),
    DescribeSnapshots: (region, params) => this.describeSnapshots(region, params),
    DeleteSnapshot: (region, params) => this.deleteSnapshot(region, params),
    CreateTags: (region, params) => this.createTags(region, params),
    DeleteTags: (region, params) => this.deleteTags(region, params),
    ModifyImageAttribute: (region, params) => this.modifyImageAttribute(region, params),
    DisableImage: (region, params) => this.disableImage(region, params),
    EnableImage: (region, params) => this.enableImage(region, params),
    DescribeImageReferences: (region, params) => this.describeImageReferences(region, params),
    DescribeImageAttribute: (region, params) => this.describeImageAttribute(region, params),
    EnableImageDeprecation: (region, params) => this.setDeprecation(region, params, true),
    DisableImageDeprecation: (region, params) => this.setDeprecation(region, params, false),
    EnableImageDeregistrationProtection: (region, params) => this.enableProtection(region, params),
    DisableImageDeregistrationProtection: (region, params) => this.disableProtection(region, params),
    GetImageBlockPublicAccessState: (region) => this.imageBlockPublicAccessState(region),
    EnableImageBlockPublicAccess: (region, params) => this.enableImageBlockPublicAccess(region, params),
    DisableImageBlockPublicAccess: (region) => this.disableImageBlockPublicAccess(region),
    ModifySnapshotAttribute: (region, params) => this.modifySnapshotAttribute(region, params),
    DescribeSnapshotAttribute: (region, params) => this.describeSnapshotAttribute(region, params),
    RegisterImage: (region, params) => this.registerImage(region, params),
    CreateStoreImageTask: (region, params) => this.createStoreImageTask(region, params),
    DescribeStoreImageTasks: (region, params) => this.describeStoreImageTasks(region, params),
    CreateRestoreImageTask: (region, params) => this.createRestoreImageTask(region, params),
    ImportImage: (region, params) => this.importImage(region, params),
    DescribeImportImageTasks: (region, params) => this.describeImportImageTasks(region, params),
    CancelImportTask: (region, params) => this.cancelImportTask(region, params),
    EnableFastLaunch: (region, params) => this.enableFastLaunch(region, params),
    DisableFastLaunch: (region, params) => this.disableFastLaunch(region, params),
    DescribeFastLaunchImages: (region, params) => this.describeFastLaunchImages(region, params),
  };

  constructor(private readonly world: World) {}

  /** The inner XML of the action's response; throws ApiError for service errors. */
  handle(action: string, region: RegionState, params: QueryParams): string {
    const handler = Object.hasOwn(this.handlers, action) ? this.handlers[action] : undefined;
    if (!handler) throw new ApiError('InvalidAction', `The action ${action || '(none)'} is not valid for this web service.`);
    return handler(region, params);
  }

  addInstance(options: AddInstanceOptions): LocalInstance {
    const rootDeviceName = options.rootDeviceName ?? '/dev/xvda';
    const volumes = options.volumes ?? [{ deviceName: rootDeviceName, sizeGiB: 8 }];
    const instance: LocalInstance = {
      instanceId: newId('i'),
      region: options.region,
      reservationId: newId('r'),
      launchTime: now(),
      rootDeviceName,
      volumes: volumes.map((volume) => ({ deviceName: volume.deviceName, volumeId: newId('vol'), sizeGiB: volume.sizeGiB })),
      state: options.state ?? 'running',
      platform: options.platform,
      tags: newTags(Object.entries(options.tags ?? {})),
      consoleOutput: '',
      imageId: options.imageId,
    };
    this.world.region(options.region).instances.set(instance.instanceId, instance);
    return instance;
  }

  // -- instances -----------------------------------------------------------

  private describeInstances(region: RegionState, params: QueryParams): string {
    const ids = unique(params.list('InstanceId'));
    const selected = ids.length > 0 ? this.instancesById(region, ids) : [...region.instances.values()];
    const matches = filterPredicate(params, INSTANCE_FILTERS);
    for (const instance of selected) runInstanceScript(instance);
    // One reservation per instance: we never launch several instances together.
    const reservations = selected.filter(matches).map((instance) => leaf('reservationId', instance.reservationId)
      + leaf('ownerId', region.account)
      + itemSet('groupSet', [])
      + itemSet('instancesSet', [renderInstance(instance)]));
    return itemSet('reservationSet', reservations);
  }

  /**
   * The console output, base64-encoded as EC2 returns it, with the time it was captured; an
   * instance that has written nothing has no `output` element. `Latest` is accepted (this endpoint
   * always has the latest output).
   */
  private getConsoleOutput(region: RegionState, params: QueryParams): string {
    const [instance] = this.instancesById(region, [params.required('InstanceId')]);
    return leaf('instanceId', instance.instanceId)
      + leaf('timestamp', now())
      + (instance.consoleOutput ? leaf('output', Buffer.from(instance.consoleOutput, 'utf8').toString('base64')) : '');
  }

  scriptInstance(region: string, instanceId: string, script: InstanceScript): void {
    const [instance] = this.instancesById(this.world.region(region), [instanceId]);
    instance.script = { ...script, remaining: script.afterDescribes ?? 0 };
  }

  instanceIn(region: string, instanceId: string): LocalInstance {
    return this.instancesById(this.world.region(region), [instanceId])[0];
  }

  private stopInstances(region: RegionState, params: QueryParams): string {
    const instances = this.instancesById(region, this.requiredList(params, 'InstanceId'));
    const blocked = instances.find((instance) => instance.state === 'shutting-down' || instance.state === 'terminated');
    if (blocked) {
      throw new ApiError('IncorrectInstanceState', `This instance '${blocked.instanceId}' is not in a state from which it can be stopped.`);
    }
    // The response shows the transition (`stopping`); the instance settles at once so later calls see `stopped`.
    const changes = instances.map((instance) => {
      const previous = instance.state;
      instance.state = 'stopped';
      return renderStateChange(instance.instanceId, previous, previous === 'stopped' ? 'stopped' : 'stopping');
    });
    return itemSet('instancesSet', changes);
  }

  private terminateInstances(region: RegionState, params: QueryParams): string {
    const instances = this.instancesById(region, this.requiredList(params, 'InstanceId'));
    const changes = instances.map((instance) => {
      const previous = instance.state;
      instance.state = 'terminated';
      return renderStateChange(instance.instanceId, previous, previous === 'terminated' ? 'terminated' : 'shutting-down');
    });
    return itemSet('instancesSet', changes);
  }

  // -- images --------------------------------------------------------------

  private createImage(region: RegionState, params: QueryParams): string {
    const instanceId = params.required('InstanceId');
    const name = params.required('Name');
    const [instance] = this.instancesById(region, [instanceId]);
    assertImageName(name);
    if (!IMAGEABLE_STATES.has(instance.state)) {
      throw new ApiError('IncorrectInstanceState', `The instance '${instanceId}' is not in a state from which it can be imaged.`);
    }
    this.assertNameFree(region, name);
    const specs = readTagSpecifications(params, ['image', 'snapshot']);
    const excluded = new Set<string>();
    const modified = new Map<string, QueryParams>();
    for (const mapping of params.members('BlockDeviceMapping')) {
      const deviceName = mapping.required('DeviceName');
      if (excluded.has(deviceName) || modified.has(deviceName)) {
        throw new ApiError('InvalidBlockDeviceMapping', `The device '${deviceName}' is used in more than one block-device mapping`);
      }
      if (mapping.has('NoDevice')) {
        if (deviceName === instance.rootDeviceName) {
          // Best knowledge for the message: the root volume is what the image boots from.
          throw new ApiError('InvalidBlockDeviceMapping', `The root device '${deviceName}' cannot be suppressed with NoDevice`);
        }
        excluded.add(deviceName);
      } else {
        if (!instance.volumes.some((volume) => volume.deviceName === deviceName)) {
          // EC2 would add an empty volume; this endpoint's images always come from a snapshot.
          throw new ApiError('InvalidBlockDeviceMapping', `The block device mapping for ${deviceName} names no volume of instance '${instanceId}' on this local endpoint`);
        }
        modified.set(deviceName, mapping);
      }
    }

    // Every mapping is checked before anything is created: a refused CreateImage leaves nothing behind.
    const settings = new Map(instance.volumes.filter((volume) => modified.has(volume.deviceName))
      .map((volume) => [volume.deviceName, ebsSettings(modified.get(volume.deviceName)!, volume.sizeGiB, `volume ${volume.volumeId}`, 'gp3')]));

    const imageId = newId('ami');
    const devices = instance.volumes.filter((volume) => !excluded.has(volume.deviceName)).map((volume): ImageDevice => {
      const snapshot = this.addSnapshot(region, {
        volumeId: volume.volumeId,
        volumeSizeGiB: volume.sizeGiB,
        description: `Created by CreateImage(${instanceId}) for ${imageId}`,
        encrypted: false,
        tags: tagsFor(specs, 'snapshot'),
      });
      const changed = settings.get(volume.deviceName);
      if (!changed) return { deviceName: volume.deviceName, snapshotId: snapshot.snapshotId, volumeSizeGiB: volume.sizeGiB };
      return { deviceName: volume.deviceName, snapshotId: snapshot.snapshotId, ...changed };
    });
    this.addImage(region, {
      imageId,
      name,
      description: params.get('Description'),
      rootDeviceName: instance.rootDeviceName,
      blockDeviceMappings: devices,
      tags: tagsFor(specs, 'image'),
      encrypted: false,
      sourceInstanceId: instanceId,
      architecture: 'x86_64',
      virtualizationType: 'hvm',
      enaSupport: true,
      platform: instance.platform,
    });
    return leaf('imageId', imageId);
  }

  private copyImage(region: RegionState, params: QueryParams): string {
    const sourceImageId = params.required('SourceImageId');
    const sourceRegion = params.required('SourceRegion');
    const name = params.required('Name');
    assertWellFormedId(sourceImageId, 'ami', 'InvalidAMIID.Malformed');
    assertImageName(name);

    const token = params.get('ClientToken');
    const earlier = token ? region.copyTokens.get(token) : undefined;
    if (earlier) {
      if (earlier.sourceImageId !== sourceImageId || earlier.sourceRegion !== sourceRegion) {
        throw new ApiError('IdempotentParameterMismatch', `Client token '${token}' was already used with different parameters.`);
      }
      return leaf('imageId', earlier.imageId);
    }

    const owner = this.world.regionInAllAccounts(sourceRegion).find((state) => state.images.has(sourceImageId));
    const source = owner?.images.get(sourceImageId);
    if (!owner || !source || source.state === 'deregistered') throw imageNotFound([sourceImageId]);
    if (owner.account !== region.account) this.assertSharedForCopy(owner, source, region.account);
    if (source.state !== 'available') {
      throw new ApiError('InvalidAMIID.Unavailable', `AMI '${sourceImageId}' is ${source.state}, and cannot be copied`);
    }
    this.assertNameFree(region, name);

    const specs = readTagSpecifications(params, ['image', 'snapshot']);
    const encrypted = (params.bool('Encrypted') ?? false) || source.encrypted;
    const kmsKeyId = encrypted ? params.get('KmsKeyId') ?? source.kmsKeyId ?? 'alias/aws/ebs' : undefined;
    const imageId = newId('ami');
    const devices = source.blockDeviceMappings.map((device) => {
      const snapshot = this.addSnapshot(region, {
        // Copied snapshots have no volume of their own; EC2 shows this placeholder.
        volumeId: 'vol-ffffffff',
        volumeSizeGiB: device.volumeSizeGiB,
        description: `Copied for DestinationAmi ${imageId} from SourceAmi ${sourceImageId} for SourceSnapshot ${device.snapshotId}`,
        encrypted,
        kmsKeyId,
        tags: tagsFor(specs, 'snapshot'),
      });
      return {
        deviceName: device.deviceName,
        snapshotId: snapshot.snapshotId,
        volumeSizeGiB: device.volumeSizeGiB,
        volumeType: device.volumeType,
        deleteOnTermination: device.deleteOnTermination,
      };
    });
    const copiedTags = params.bool('CopyImageTags') ? Object.entries(source.tags) : [];
    this.addImage(region, {
      imageId,
      name,
      description: params.get('Description') ?? source.description,
      rootDeviceName: source.rootDeviceName,
      blockDeviceMappings: devices,
      tags: newTags([...copiedTags, ...Object.entries(tagsFor(specs, 'image'))]),
      encrypted,
      kmsKeyId,
      sourceImageId,
      sourceRegion,
      ...launchAttributes(source),
      noDevices: source.noDevices,
    });
    if (token) region.copyTokens.set(token, { imageId, sourceImageId, sourceRegion });
    return leaf('imageId', imageId);
  }

  /**
   * Another account's image can be copied only when it is shared with the caller: launch
   * permission on the image (else EC2 does not show it: NotFound), and createVolumePermission on
   * every snapshot, for EC2 reads them as the caller (best knowledge: the snapshot is as invisible
   * to the caller as an unshared image).
   */
  private assertSharedForCopy(owner: RegionState, source: LocalImage, account: string): void {
    const launchable = source.launchPermissions.some((p) => p.userId === account || p.group === 'all');
    if (!launchable) throw imageNotFound([source.imageId]);
    for (const device of source.blockDeviceMappings) {
      const snapshot = owner.snapshots.get(device.snapshotId);
      const readable = snapshot?.createVolumePermissions.some((p) => p.userId === account || p.group === 'all');
      if (!readable) throw snapshotNotFound([device.snapshotId]);
    }
  }

  private describeImages(region: RegionState, params: QueryParams): string {
    const ids = unique(params.list('ImageId'));
    ids.forEach((id) => assertWellFormedId(id, 'ami', 'InvalidAMIID.Malformed'));
    const candidates = ids.length > 0 ? this.imagesNamedInDescribe(region, ids) : [...region.images.values()];
    const owned = ownersInclude(params.list('Owner'), region.account);
    const matches = filterPredicate(params, IMAGE_FILTERS);
    // A deregistered image is simply absent, as on EC2 a while after deregistration; a
    // disabled one is left out unless asked for (DescribeImages IncludeDisabled).
    const includeDisabled = params.bool('IncludeDisabled') ?? false;
    const result = candidates.filter((image) => owned && image.state !== 'deregistered'
      && (includeDisabled || image.state !== 'disabled') && matches(image));
    result.forEach((image) => this.poll(region, image));
    return itemSet('imagesSet', result.map(renderImage));
  }

  private deregisterImage(region: RegionState, params: QueryParams): string {
    const imageId = params.required('ImageId');
    assertWellFormedId(imageId, 'ami', 'InvalidAMIID.Malformed');
    const image = region.images.get(imageId);
    if (!image) throw imageNotFound([imageId]);
    if (image.state === 'deregistered') throw new ApiError('InvalidAMIID.Unavailable', `The image '${imageId}' is no longer available`);
    if (image.deregistrationProtection === 'disabled-until') {
      throw new ApiError('OperationNotPermitted',
        `Deregistration protection for image ${imageId} stays in effect until its cooldown ends at ${image.protectionCooldownEnds ?? ''}`);
    }
    if (image.deregistrationProtection !== 'disabled') {
      throw new ApiError('OperationNotPermitted', `Deregistration protection is enabled for image ${imageId}`);
    }
    // Deregistering a pending image is how a copy is cancelled, so any state is accepted.
    image.state = 'deregistered';
    image.fastLaunch = undefined;
    if (!params.bool('DeleteAssociatedSnapshots')) return leaf('return', true);
    const results = image.blockDeviceMappings.map((device) => {
      const code = this.deleteAssociatedSnapshot(region, image, device.snapshotId);
      return leaf('snapshotId', device.snapshotId) + leaf('returnCode', code);
    });
    return leaf('return', true) + itemSet('deleteSnapshotResultSet', results);
  }

  private modifyImageAttribute(region: RegionState, params: QueryParams): string {
    const image = this.liveImage(region, params.required('ImageId'));
    const attribute = params.get('Attribute');
    const description = params.get('Description.Value') ?? (attribute === 'description' ? params.get('Value') : undefined);
    const imdsSupport = params.get('ImdsSupport.Value') ?? (attribute === 'imdsSupport' ? params.get('Value') : undefined);
    const { add, remove } = readLaunchPermissionChanges(params);
    // Everything is checked before anything changes: a rejected request modifies nothing.
    if (imdsSupport !== undefined && (description !== undefined || add.length + remove.length > 0)) {
      // The reference: "You can specify only one attribute at a time." (code: best knowledge)
      throw new ApiError('InvalidParameterCombination', 'You can modify only one attribute of an image at a time.');
    }
    // Only v2.0 exists, and nothing takes it back ("After you set the value to v2.0, you can't undo it").
    if (imdsSupport !== undefined && imdsSupport !== 'v2.0') {
      throw invalidValue(`Value (${imdsSupport}) for parameter ImdsSupport is invalid. Valid value: v2.0.`);
    }
    for (const permission of [...add, ...remove]) assertLaunchPermission(permission);
    if (image.state === 'disabled' && add.length > 0) {
      // "A disabled AMI can't be shared." (code and message: best knowledge)
      throw new ApiError('OperationNotPermitted', `The image ${image.imageId} is disabled and cannot be shared. Enable it first (EnableImage).`);
    }
    if (region.imageBlockPublicAccess === 'block-new-sharing' && add.some((permission) => permission.group === 'all')) {
      throw new ApiError('OperationNotPermitted', 'You can’t publicly share this image because block public access for AMIs is enabled for this account. '
        + 'To publicly share the image, you must call the DisableImageBlockPublicAccess API.');
    }

    if (description !== undefined) image.description = description;
    if (imdsSupport !== undefined) image.imdsSupport = imdsSupport;
    const kept = image.launchPermissions.filter((existing) => !remove.some((removed) => samePermission(existing, removed)));
    const added = add.filter((permission) => !kept.some((existing) => samePermission(existing, permission)));
    image.launchPermissions = [...kept, ...added];
    return leaf('return', true);
  }

  /**
   * DisableImage: the image becomes `disabled` and loses every launch permission (public or
   * shared, it becomes private). Disabling a disabled image is accepted (best knowledge); an image
   * that never became available cannot be disabled (code: best knowledge).
   */
  private disableImage(region: RegionState, params: QueryParams): string {
    const image = this.liveImage(region, params.required('ImageId'));
    if (image.state !== 'available' && image.state !== 'disabled') {
      throw new ApiError('IncorrectState', `The image ${image.imageId} is ${image.state}; only an available image can be disabled.`);
    }
    image.state = 'disabled';
    image.launchPermissions = [];
    return leaf('return', true);
  }

  /** EnableImage: available again; the launch permissions removed by DisableImage stay removed. */
  private enableImage(region: RegionState, params: QueryParams): string {
    const image = this.liveImage(region, params.required('ImageId'));
    if (image.state !== 'available' && image.state !== 'disabled') {
      throw new ApiError('IncorrectState', `The image ${image.imageId} is ${image.state}; only a disabled image can be enabled.`);
    }
    image.state = 'available';
    return leaf('return', true);
  }

  /**
   * DescribeImageReferences for `ec2:Instance` (instances not terminated) and
   * `ec2:LaunchTemplate` (default versions); one page, the other resource types have nothing here.
   */
  private describeImageReferences(region: RegionState, params: QueryParams): string {
    const imageIds = this.requiredList(params, 'ImageId');
    if (imageIds.length > 10) throw invalidValue('ImageId: at most 10 image IDs can be checked at once.');
    imageIds.forEach((id) => assertWellFormedId(id, 'ami', 'InvalidAMIID.Malformed'));
    const requested = params.members('ResourceType').map((member) => member.required('ResourceType'));
    const includeAll = params.bool('IncludeAllResourceTypes') ?? false;
    if (!includeAll && requested.length === 0) throw missingParameter('IncludeAllResourceTypes or ResourceTypes');
    requested.forEach((type) => assertOneOf('ResourceType', type, IMAGE_REFERENCE_TYPES));
    const wants = (type: string) => includeAll || requested.includes(type);
    const references: string[] = [];
    const reference = (imageId: string, resourceType: string, arn: string) =>
      leaf('imageId', imageId) + leaf('resourceType', resourceType) + leaf('arn', arn);
    for (const imageId of imageIds) {
      if (wants('ec2:Instance')) {
        for (const instance of region.instances.values()) {
          if (instance.imageId === imageId && instance.state !== 'terminated') {
            references.push(reference(imageId, 'ec2:Instance', `arn:aws:ec2:${region.name}:${ACCOUNT_ID}:instance/${instance.instanceId}`));
          }
        }
      }
      if (wants('ec2:LaunchTemplate')) {
        for (const [templateId, launched] of region.launchTemplates) {
          if (launched === imageId) references.push(reference(imageId, 'ec2:LaunchTemplate', `arn:aws:ec2:${region.name}:${ACCOUNT_ID}:launch-template/${templateId}`));
        }
      }
    }
    return itemSet('imageReferenceSet', references);
  }

  /**
   * EnableFastLaunch, as the API reference describes it: only `snapshot` resources, MaxParallelLaunches
   * of 6 or more, a launch template by ID or name (not both) with a Version. EC2 Fast Launch is for
   * Windows images of this account that are available; called again on an enabled image it takes the
   * new settings (the console's "Configure fast launch" does this), and it is refused while EC2 still
   * removes the pre-provisioned snapshots of a disable. Codes and messages of refusals: best knowledge.
   */
  private enableFastLaunch(region: RegionState, params: QueryParams): string {
    const image = this.liveImage(region, params.required('ImageId'));
    const resourceType = params.get('ResourceType') ?? 'snapshot';
    assertOneOf('ResourceType', resourceType, FAST_LAUNCH_RESOURCE_TYPES);
    const maxParallelLaunches = params.int('MaxParallelLaunches');
    if (maxParallelLaunches !== undefined && maxParallelLaunches < MIN_FAST_LAUNCH_PARALLEL_LAUNCHES) {
      throw invalidValue(`Value (${maxParallelLaunches}) for parameter MaxParallelLaunches is invalid. Value must be 6 or greater.`);
    }
    const targetResourceCount = params.int('SnapshotConfiguration.TargetResourceCount');
    if (targetResourceCount !== undefined && targetResourceCount < 1) {
      throw invalidValue(`Value (${targetResourceCount}) for parameter SnapshotConfiguration.TargetResourceCount is invalid. Value must be 1 or greater.`);
    }
    const templateId = params.get('LaunchTemplate.LaunchTemplateId');
    const templateName = params.get('LaunchTemplate.LaunchTemplateName');
    const templateVersion = params.get('LaunchTemplate.Version');
    if (templateId !== undefined && templateName !== undefined) {
      throw new ApiError('InvalidParameterCombination', 'Specify either LaunchTemplateId or LaunchTemplateName, but not both.');
    }
    if ((templateId !== undefined || templateName !== undefined) && templateVersion === undefined) throw missingParameter('LaunchTemplate.Version');
    if (templateId === undefined && templateName === undefined && templateVersion !== undefined) throw missingParameter('LaunchTemplate.LaunchTemplateId or LaunchTemplate.LaunchTemplateName');
    if (templateId !== undefined && !region.launchTemplates.has(templateId)) {
      throw new ApiError('InvalidLaunchTemplateId.NotFound', `The specified launch template, with template ID ${templateId}, does not exist.`);
    }
    if (image.platform !== 'windows') {
      throw new ApiError('InvalidParameter', `EC2 Fast Launch is only supported for Windows AMIs, and ${image.imageId} is Linux/UNIX.`);
    }
    if (image.state !== 'available') {
      throw new ApiError('IncorrectState', `The image ${image.imageId} is ${image.state}; EC2 Fast Launch can only be enabled for an available image.`);
    }
    const current = image.fastLaunch;
    if (current && (current.state === 'disabling' || current.state === 'disabling-failed')) {
      throw new ApiError('IncorrectState', `EC2 Fast Launch for ${image.imageId} is ${current.state}: all pre-provisioned snapshots must be removed before it can be enabled again.`);
    }
    const behaviour = this.world.fastLaunchBehaviour;
    image.fastLaunch = {
      state: 'enabling',
      targetResourceCount: targetResourceCount ?? DEFAULT_FAST_LAUNCH_TARGET,
      maxParallelLaunches: maxParallelLaunches ?? MIN_FAST_LAUNCH_PARALLEL_LAUNCHES,
      launchTemplate: templateId !== undefined || templateName !== undefined
        ? { launchTemplateId: templateId, launchTemplateName: templateName, version: templateVersion! }
        : undefined,
      stateTransitionReason: current ? 'Client.UserInitiated - Fast launch settings updated' : 'Client.UserInitiated',
      stateTransitionTime: now(),
      remaining: behaviour.transitionPolls,
      failReason: behaviour.failReason,
    };
    return renderFastLaunch(image, image.fastLaunch);
  }

  /** DisableFastLaunch: `disabling` while EC2 removes the pre-provisioned snapshots, then gone. */
  private disableFastLaunch(region: RegionState, params: QueryParams): string {
    const image = this.liveImage(region, params.required('ImageId'));
    const current = image.fastLaunch;
    if (!current || current.state === 'disabling') {
      // Best knowledge: disabling what is not enabled is refused.
      throw new ApiError('InvalidParameter', `EC2 Fast Launch is not enabled for ${image.imageId}.`);
    }
    current.state = 'disabling';
    current.stateTransitionReason = params.bool('Force') ? 'Client.UserInitiated - Forced' : 'Client.UserInitiated';
    current.stateTransitionTime = now();
    current.remaining = this.world.fastLaunchBehaviour.transitionPolls;
    return renderFastLaunch(image, current);
  }

  /** DescribeFastLaunchImages by image ID (or all of the region's); each call advances a transition it reports. */
  private describeFastLaunchImages(region: RegionState, params: QueryParams): string {
    const imageIds = params.list('ImageId');
    imageIds.forEach((id) => assertWellFormedId(id, 'ami', 'InvalidAMIID.Malformed'));
    const images = [...region.images.values()].filter((image) => image.fastLaunch && (imageIds.length === 0 || imageIds.includes(image.imageId)));
    const items: string[] = [];
    for (const image of images) {
      const fastLaunch = image.fastLaunch!;
      if (fastLaunch.state === 'enabling' || fastLaunch.state === 'disabling') {
        if (fastLaunch.remaining > 0) {
          fastLaunch.remaining -= 1;
        } else {
          this.settleFastLaunch(image, fastLaunch);
        }
      }
      if (image.fastLaunch) items.push(renderFastLaunch(image, image.fastLaunch));
    }
    return itemSet('fastLaunchImageSet', items);
  }

  /** The end of a transition: disabling removes fast launch; enabling ends enabled, or failed as scripted. */
  private settleFastLaunch(image: LocalImage, fastLaunch: LocalFastLaunch): void {
    if (fastLaunch.state === 'disabling') {
      image.fastLaunch = undefined;
    } else if (fastLaunch.failReason) {
      fastLaunch.state = 'enabling-failed';
      fastLaunch.stateTransitionReason = fastLaunch.failReason;
      fastLaunch.stateTransitionTime = now();
    } else {
      fastLaunch.state = 'enabled';
      fastLaunch.stateTransitionTime = now();
    }
  }

  addLaunchTemplate(options: AddLaunchTemplateOptions): string {
    const templateId = newId('lt');
    this.world.region(options.region).launchTemplates.set(templateId, options.imageId);
    return templateId;
  }

  private describeImageAttribute(region: RegionState, params: QueryParams): string {
    const image = this.liveImage(region, params.required('ImageId'));
    const attribute = params.required('Attribute');
    if (!IMAGE_ATTRIBUTES.has(attribute)) throw invalidValue(`Value (${attribute}) for parameter attribute is invalid. Unknown attribute.`);
    return leaf('imageId', image.imageId) + renderImageAttribute(image, attribute);
  }

  private setDeprecation(region: RegionState, params: QueryParams, enable: boolean): string {
    const image = this.liveImage(region, params.required('ImageId'));
    image.deprecationTime = enable ? deprecationTimeFrom(params.required('DeprecateAt')) : undefined;
    return leaf('return', true);
  }

  private enableProtection(region: RegionState, params: QueryParams): string {
    const image = this.liveImage(region, params.required('ImageId'));
    // Enabling again during a cooldown ends the cooldown: the image is simply protected again.
    image.deregistrationProtection = params.bool('WithCooldown') ? 'enabled-with-cooldown' : 'enabled';
    image.protectionCooldownEnds = undefined;
    return leaf('return', 'true');
  }

  /**
   * Protection enabled without cooldown ends at once. Protection enabled with cooldown stays in
   * effect for 24 hours (`disabled-until`); the cooldown is not timed here: it lasts until the
   * test calls {@link LocalEc2.endCooldown}. Disabling again during the cooldown does not restart it.
   */
  private disableProtection(region: RegionState, params: QueryParams): string {
    const image = this.liveImage(region, params.required('ImageId'));
    if (image.deregistrationProtection === 'enabled-with-cooldown') {
      image.deregistrationProtection = 'disabled-until';
      image.protectionCooldownEnds = new Date(Date.now() + DEREGISTRATION_COOLDOWN_MS).toISOString();
    } else if (image.deregistrationProtection === 'enabled') {
      image.deregistrationProtection = 'disabled';
    }
    return leaf('return', 'true');
  }

  /** Ends an image's deregistration-protection cooldown, as if its 24 hours had passed. */
  endCooldown(imageId: string): void {
    const image = this.world.findImage(imageId);
    if (!image) throw new Error(`No image ${imageId} in any region`);
    if (image.deregistrationProtection !== 'disabled-until') {
      throw new Error(`Image ${imageId} is not in a deregistration-protection cooldown (protection: ${image.deregistrationProtection})`);
    }
    image.deregistrationProtection = 'disabled';
    image.protectionCooldownEnds = undefined;
  }

  // -- block public access for AMIs -------------------------------------------

  private imageBlockPublicAccessState(region: RegionState): string {
    return leaf('imageBlockPublicAccessState', region.imageBlockPublicAccess) + leaf('managedBy', 'account');
  }

  /** Takes effect at once (EC2 may take up to 10 minutes). */
  private enableImageBlockPublicAccess(region: RegionState, params: QueryParams): string {
    const state = params.required('ImageBlockPublicAccessState');
    if (state !== 'block-new-sharing') throw invalidValue(`Value (${state}) for parameter ImageBlockPublicAccessState is invalid.`);
    region.imageBlockPublicAccess = state;
    return leaf('imageBlockPublicAccessState', state);
  }

  private disableImageBlockPublicAccess(region: RegionState): string {
    region.imageBlockPublicAccess = 'unblocked';
    return leaf('imageBlockPublicAccessState', 'unblocked');
  }

  // -- snapshots -----------------------------------------------------------

  private describeSnapshots(region: RegionState, params: QueryParams): string {
    const ids = unique(params.list('SnapshotId'));
    ids.forEach((id) => assertWellFormedId(id, 'snap', 'InvalidSnapshotID.Malformed'));
    const missing = ids.filter((id) => !region.snapshots.has(id));
    if (missing.length > 0) throw snapshotNotFound(missing);
    const candidates = ids.length > 0 ? ids.map((id) => region.snapshots.get(id) as LocalSnapshot) : [...region.snapshots.values()];
    const owned = ownersInclude(params.list('Owner'), region.account);
    const matches = filterPredicate(params, SNAPSHOT_FILTERS);
    return itemSet('snapshotSet', candidates.filter((snapshot) => owned && matches(snapshot)).map(renderSnapshot));
  }

  private modifySnapshotAttribute(region: RegionState, params: QueryParams): string {
    const snapshot = this.snapshotById(region, params.required('SnapshotId'));
    const attribute = params.get('Attribute');
    if (attribute !== undefined && attribute !== 'createVolumePermission') {
      throw invalidValue(`Value (${attribute}) for parameter attribute is invalid. Only createVolumePermission can be modified.`);
    }
    const { add, remove } = readCreateVolumePermissionChanges(params);
    if (add.length + remove.length === 0) throw missingParameter('CreateVolumePermission');
    for (const permission of [...add, ...remove]) assertCreateVolumePermission(permission);

    const kept = snapshot.createVolumePermissions.filter((existing) => !remove.some((removed) => sameVolumePermission(existing, removed)));
    const added = add.filter((permission) => !kept.some((existing) => sameVolumePermission(existing, permission)));
    snapshot.createVolumePermissions = [...kept, ...added];
    return leaf('return', true);
  }

  private describeSnapshotAttribute(region: RegionState, params: QueryParams): string {
    const snapshot = this.snapshotById(region, params.required('SnapshotId'));
    const attribute = params.required('Attribute');
    if (!SNAPSHOT_ATTRIBUTES.has(attribute)) throw invalidValue(`Value (${attribute}) for parameter attribute is invalid. Unknown attribute.`);
    const value = attribute === 'createVolumePermission'
      ? itemSet('createVolumePermission', snapshot.createVolumePermissions.map(renderCreateVolumePermission))
      : itemSet('productCodes', []);
    return leaf('snapshotId', snapshot.snapshotId) + value;
  }

  private deleteSnapshot(region: RegionState, params: QueryParams): string {
    const snapshotId = params.required('SnapshotId');
    assertWellFormedId(snapshotId, 'snap', 'InvalidSnapshotID.Malformed');
    if (!region.snapshots.has(snapshotId)) throw snapshotNotFound([snapshotId]);
    const user = region.imageUsing(snapshotId);
    if (user) throw new ApiError('InvalidSnapshot.InUse', `The snapshot ${snapshotId} is currently in use by ${user.imageId}`);
    region.snapshots.delete(snapshotId);
    return leaf('return', true);
  }

  // -- tags ----------------------------------------------------------------

  private createTags(region: RegionState, params: QueryParams): string {
    const targets = this.requiredList(params, 'ResourceId').map((id) => this.taggable(region, id));
    const tags = readTags(params.members('Tag'));
    if (tags.length === 0) throw missingParameter('Tag');
    for (const target of targets) {
      for (const [key, value] of tags) target.tags[key] = value;
    }
    return leaf('return', true);
  }

  private deleteTags(region: RegionState, params: QueryParams): string {
    const targets = this.requiredList(params, 'ResourceId').map((id) => this.taggable(region, id));
    const members = params.members('Tag');
    for (const target of targets) {
      // No Tag.N at all deletes every tag; a Tag.N without Value deletes that key whatever its value.
      if (members.length === 0) target.tags = newTags();
      for (const member of members) {
        const key = member.required('Key');
        const value = member.get('Value');
        if (Object.hasOwn(target.tags, key) && (value === undefined || target.tags[key] === value)) delete target.tags[key];
      }
    }
    return leaf('return', true);
  }

  // -- RegisterImage ---------------------------------------------------------

  /**
   * Registers an EBS-backed AMI from existing snapshots. RegisterImage has no ClientToken and creates
   * no snapshots: the image references the given ones (so they are InUse while it is registered), and
   * TagSpecification takes `image` only. Defaults are EC2's: architecture `i386`, virtualization
   * `paravirtual`, volume type `gp2`, DeleteOnTermination true, volume size the snapshot's.
   */
  private registerImage(region: RegionState, params: QueryParams): string {
    const name = params.required('Name');
    assertImageName(name);
    if (params.has('ImageLocation')) {
      throw invalidValue('Instance store-backed AMIs (ImageLocation) are not supported by this local endpoint');
    }
    const architecture = params.get('Architecture') ?? 'i386';
    const virtualizationType = params.get('VirtualizationType') ?? 'paravirtual';
    const bootMode = params.get('BootMode');
    const imdsSupport = params.get('ImdsSupport');
    const tpmSupport = params.get('TpmSupport');
    assertOneOf('Architecture', architecture, ARCHITECTURES);
    assertOneOf('VirtualizationType', virtualizationType, VIRTUALIZATION_TYPES);
    assertOneOf('BootMode', bootMode, BOOT_MODES);
    assertOneOf('ImdsSupport', imdsSupport, new Set(['v2.0']));
    assertOneOf('TpmSupport', tpmSupport, new Set(['v2.0']));
    if (tpmSupport !== undefined && bootMode !== 'uefi') {
      // Best knowledge: EC2 documents the rule, not the error.
      throw new ApiError('InvalidParameterCombination', 'NitroTPM support (TpmSupport) requires the uefi boot mode.');
    }
    const uefiData = params.get('UefiData');
    if (uefiData !== undefined && (uefiData.length > UEFI_DATA_MAX_LENGTH || !/^[A-Za-z0-9+/]*={0,2}$/.test(uefiData))) {
      throw invalidValue(`Value for parameter uefiData is invalid: it must be base64 of at most ${UEFI_DATA_MAX_LENGTH} characters.`);
    }
    const specs = readTagSpecifications(params, ['image']);
    const rootDeviceName = params.required('RootDeviceName');

    const devices: ImageDevice[] = [];
    const noDevices: string[] = [];
    const seen = new Set<string>();
    for (const mapping of params.members('BlockDeviceMapping')) {
      const deviceName = mapping.required('DeviceName');
      if (seen.has(deviceName)) {
        throw new ApiError('InvalidBlockDeviceMapping', `The device '${deviceName}' is used in more than one block-device mapping`);
      }
      seen.add(deviceName);
      if (mapping.has('NoDevice')) {
        noDevices.push(deviceName);
        continue;
      }
      devices.push(this.registeredDevice(region, mapping, deviceName));
    }
    if (!devices.some((device) => device.deviceName === rootDeviceName)) {
      throw invalidValue(`Value (${rootDeviceName}) for parameter rootDeviceName is invalid. The root device must be an EBS volume in the block device mapping.`);
    }
    this.assertNameFree(region, name);

    const imageId = newId('ami');
    const root = region.snapshots.get(devices.find((device) => device.deviceName === rootDeviceName)?.snapshotId ?? '');
    this.addImage(region, {
      imageId,
      name,
      description: params.get('Description'),
      rootDeviceName,
      blockDeviceMappings: devices,
      tags: tagsFor(specs, 'image'),
      encrypted: root?.encrypted ?? false,
      kmsKeyId: root?.kmsKeyId,
      architecture,
      virtualizationType,
      bootMode,
      enaSupport: params.bool('EnaSupport'),
      imdsSupport,
      tpmSupport,
      uefiData,
      noDevices: noDevices.length > 0 ? noDevices : undefined,
    });
    return leaf('imageId', imageId);
  }

  /** One `BlockDeviceMapping.N` with `Ebs`: the snapshot must exist here and be completed; the volume may grow, not shrink. */
  private registeredDevice(region: RegionState, mapping: QueryParams, deviceName: string): ImageDevice {
    const snapshotId = mapping.get('Ebs.SnapshotId');
    if (snapshotId === undefined) {
      // EC2 would register an empty volume here; images of this endpoint always reference a snapshot.
      throw new ApiError('InvalidBlockDeviceMapping', `The block device mapping for ${deviceName} needs Ebs.SnapshotId (or NoDevice) on this local endpoint`);
    }
    const snapshot = this.snapshotById(region, snapshotId);
    if (snapshot.state !== 'completed') {
      // Best knowledge for the message.
      throw new ApiError('IncorrectState', `Snapshot '${snapshotId}' is not in a completed state (state: ${snapshot.state})`);
    }
    return { deviceName, snapshotId, ...ebsSettings(mapping, snapshot.volumeSizeGiB, `snapshot '${snapshotId}'`, 'gp2'), encrypted: snapshot.encrypted };
  }

  /** The test's own snapshot, as if a volume had been snapshotted long ago (default: completed, 8 GiB). */
  addScriptedSnapshot(options: AddSnapshotOptions): LocalSnapshot {
    const encrypted = options.encrypted ?? false;
    return this.addSnapshot(this.world.region(options.region), {
      volumeId: newId('vol'),
      volumeSizeGiB: options.sizeGiB ?? 8,
      description: options.description ?? '',
      encrypted,
      kmsKeyId: encrypted ? options.kmsKeyId ?? 'alias/aws/ebs' : undefined,
      tags: newTags(Object.entries(options.tags ?? {})),
      state: options.state ?? 'completed',
    });
  }

  // -- store and restore AMIs with S3 ------------------------------------------

  /**
   * Starts storing an available AMI as `<imageId>.bin` in a bucket of the request's region. The task
   * progresses by DescribeStoreImageTasks polls; the object appears only when it completes.
   */
  private createStoreImageTask(region: RegionState, params: QueryParams): string {
    const image = this.liveImage(region, params.required('ImageId'));
    const bucket = params.required('Bucket');
    const objectTags = newTags(readTags(params.members('S3ObjectTag')));
    // Best knowledge for both errors below: EC2 documents the rules, not the errors.
    if (image.state !== 'available') {
      throw new ApiError('InvalidAMIID.Unavailable', `The image '${image.imageId}' is ${image.state}; only available images can be stored`);
    }
    const bucketRegion = this.world.bucketRegions.get(bucket);
    if (bucketRegion !== undefined && bucketRegion !== region.name) {
      throw invalidValue(`The bucket '${bucket}' is in ${bucketRegion}; it must be in ${region.name}, the Region of the request`);
    }
    const task: LocalStoreTask = {
      imageId: image.imageId,
      region: region.name,
      bucket,
      objectKey: `${image.imageId}.bin`,
      taskStartTime: now(),
      objectTags,
      image: storedImageOf(image),
      state: 'InProgress',
      progressPercentage: 0,
      behaviour: { ...this.world.storeBehaviour },
      polls: 0,
    };
    region.storeTasks.push(task);
    return leaf('objectKey', task.objectKey);
  }

  /**
   * With ImageId.N: the latest task of each listed AMI (filters are ignored then, as EC2 documents).
   * Without: every task, newest first, narrowed by `task-state` and `bucket` filters.
   */
  private describeStoreImageTasks(region: RegionState, params: QueryParams): string {
    const ids = unique(params.list('ImageId'));
    ids.forEach((id) => assertWellFormedId(id, 'ami', 'InvalidAMIID.Malformed'));
    const newestFirst = [...region.storeTasks].reverse();
    let result: LocalStoreTask[];
    if (ids.length > 0) {
      result = ids.map((id) => newestFirst.find((task) => task.imageId === id)).filter((task): task is LocalStoreTask => task !== undefined);
    } else {
      const matches = filterPredicate<StoreTaskView>(params, STORE_TASK_FILTERS);
      result = newestFirst.filter((task) => matches({ ...task, tags: newTags() }));
    }
    result.forEach((task) => this.pollStoreTask(task));
    return itemSet('storeImageTaskResultSet', result.map(renderStoreTask));
  }

  /** One poll of a store task: progress rises for `pendingPolls` polls, then it completes (writing the object) or fails. */
  private pollStoreTask(task: LocalStoreTask): void {
    if (task.state !== 'InProgress') return;
    task.polls++;
    const { pendingPolls, finalState, failureReason } = task.behaviour;
    if (task.polls <= pendingPolls) {
      task.progressPercentage = Math.floor((100 * task.polls) / (pendingPolls + 1));
      return;
    }
    task.state = finalState;
    if (finalState === 'Failed') {
      task.failureReason = failureReason ?? DEFAULT_STORE_FAILURE;
      return;
    }
    task.progressPercentage = 100;
    this.putObject(task.bucket, task.objectKey, task.image, task.objectTags);
  }

  /** Writes (or overwrites, as S3 does) an object of the simulated S3. */
  putObject(bucket: string, key: string, image: StoredImage, tags: Tags = newTags()): void {
    const object: S3StoredObject = { bucket, key, image: structuredClone(image), tags: newTags(Object.entries(tags)), lastModified: now() };
    this.world.s3.set(s3ObjectId(bucket, key), object);
  }

  /**
   * Restores a stored AMI into the request's region (any bucket region: restoring elsewhere is how
   * AMIs move between partitions). The image is created at once, `pending`, with a new snapshot per
   * stored device; it then follows `imageBehaviour` like any new image.
   */
  private createRestoreImageTask(region: RegionState, params: QueryParams): string {
    const bucket = params.required('Bucket');
    const objectKey = params.required('ObjectKey');
    const object = this.world.s3.get(s3ObjectId(bucket, objectKey));
    // Best knowledge: EC2 reads the object for you and reports a parameter error, not S3's NoSuchKey.
    if (!object) throw invalidValue(`The object '${objectKey}' does not exist in the S3 bucket '${bucket}'`);
    const stored = object.image;
    const name = params.get('Name') ?? stored.name;
    assertImageName(name);
    const specs = readTagSpecifications(params, ['image', 'snapshot']);
    this.assertNameFree(region, name);

    const imageId = newId('ami');
    const devices = stored.blockDeviceMappings.map((device) => {
      const snapshot = this.addSnapshot(region, {
        volumeId: 'vol-ffffffff',
        volumeSizeGiB: device.volumeSizeGiB,
        description: `Created by CreateRestoreImageTask for ${imageId} from s3://${bucket}/${objectKey}`,
        encrypted: false,
        tags: tagsFor(specs, 'snapshot'),
      });
      return {
        deviceName: device.deviceName,
        snapshotId: snapshot.snapshotId,
        volumeSizeGiB: device.volumeSizeGiB,
        volumeType: device.volumeType,
        deleteOnTermination: device.deleteOnTermination,
      };
    });
    this.addImage(region, {
      imageId,
      name,
      description: stored.description,
      rootDeviceName: stored.rootDeviceName,
      blockDeviceMappings: devices,
      tags: tagsFor(specs, 'image'),
      // Stored AMIs are decrypted on the way to S3, so restored ones are not encrypted.
      encrypted: false,
      ...launchAttributes(stored),
    });
    return leaf('imageId', imageId);
  }

  // -- VM Import: ImportImage ------------------------------------------------

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

  // -- shared lookups and mutations ------------------------------------------

  private requiredList(params: QueryParams, prefix: string): string[] {
    const values = unique(params.list(prefix));
    if (values.length === 0) throw missingParameter(`${prefix}.1`);
    return values;
  }

  private instancesById(region: RegionState, ids: readonly string[]): LocalInstance[] {
    ids.forEach((id) => assertWellFormedId(id, 'i', 'InvalidInstanceID.Malformed'));
    const missing = ids.filter((id) => !region.instances.has(id));
    if (missing.length > 0) throw instanceNotFound(missing);
    return ids.map((id) => region.instances.get(id) as LocalInstance);
  }

  /**
   * The images DescribeImages names by ID. IDs that never existed answer NotFound, and so do
   * images still inside their eventual-consistency window; each such call uses up one of its
   * NotFound answers.
   */
  private imagesNamedInDescribe(region: RegionState, ids: readonly string[]): LocalImage[] {
    const hidden = ids.map((id) => region.images.get(id)).filter((image): image is LocalImage => (image?.notFoundCalls ?? 0) > 0);
    hidden.forEach((image) => image.notFoundCalls--);
    const missing = ids.filter((id) => !region.images.has(id) || hidden.some((image) => image.imageId === id));
    if (missing.length > 0) throw imageNotFound(missing);
    return ids.map((id) => region.images.get(id) as LocalImage);
  }

  private snapshotById(region: RegionState, snapshotId: string): LocalSnapshot {
    assertWellFormedId(snapshotId, 'snap', 'InvalidSnapshotID.Malformed');
    const snapshot = region.snapshots.get(snapshotId);
    if (!snapshot) throw snapshotNotFound([snapshotId]);
    return snapshot;
  }

  /** An image that exists and is not deregistered (EC2 no longer knows deregistered ones). */
  private liveImage(region: RegionState, imageId: string): LocalImage {
    assertWellFormedId(imageId, 'ami', 'InvalidAMIID.Malformed');
    const image = region.images.get(imageId);
    if (!image || image.state === 'deregistered') throw imageNotFound([imageId]);
    return image;
  }

  private taggable(region: RegionState, id: string): { tags: Tags } {
    const prefix = id.slice(0, id.lastIndexOf('-'));
    if (!['ami', 'snap', 'i'].includes(prefix) || !isWellFormedId(id, prefix)) throw new ApiError('InvalidID', `The ID '${id}' is not valid`);
    if (prefix === 'ami') return this.liveImage(region, id);
    if (prefix === 'snap') return this.snapshotById(region, id);
    return this.instancesById(region, [id])[0];
  }

  private assertNameFree(region: RegionState, name: string): void {
    const holder = [...region.images.values()].find((image) => image.name === name && image.state !== 'deregistered');
    if (holder) throw new ApiError('InvalidAMIName.Duplicate', `AMI name ${name} is already in use by AMI ${holder.imageId}`);
  }

  private addImage(region: RegionState, fields: NewImage): LocalImage {
    const image: LocalImage = {
      ...fields,
      region: region.name,
      ownerId: region.account,
      imageLocation: `${region.account}/${fields.name}`,
      creationDate: now(),
      state: 'pending',
      launchPermissions: [],
      deregistrationProtection: 'disabled',
      behaviour: { ...this.world.imageBehaviour },
      polls: 0,
      notFoundCalls: this.world.notFoundAfterCreate,
    };
    region.images.set(image.imageId, image);
    return image;
  }

  private addSnapshot(region: RegionState, fields: NewSnapshot): LocalSnapshot {
    const snapshot: LocalSnapshot = {
      ...fields,
      snapshotId: newId('snap'),
      region: region.name,
      ownerId: region.account,
      startTime: now(),
      state: fields.state ?? 'pending',
      progress: fields.state === 'completed' ? 100 : 0,
      createVolumePermissions: [],
    };
    region.snapshots.set(snapshot.snapshotId, snapshot);
    return snapshot;
  }

  /** DeregisterImage's per-snapshot outcome; a snapshot another image still uses is skipped, as EC2 does. */
  private deleteAssociatedSnapshot(region: RegionState, image: LocalImage, snapshotId: string): string {
    if (!region.snapshots.has(snapshotId)) return 'client-error';
    if (region.imageUsing(snapshotId, image)) return 'skipped';
    region.snapshots.delete(snapshotId);
    return 'success';
  }

  /** One DescribeImages poll of a pending image: progress rises, and after `pendingPolls` polls it settles. */
  private poll(region: RegionState, image: LocalImage): void {
    if (image.state !== 'pending') return;
    image.polls++;
    const { pendingPolls, finalState, stateReason } = image.behaviour;
    // Only the snapshots the image is still creating follow it: RegisterImage's are completed already.
    const snapshots = image.blockDeviceMappings
      .map((device) => region.snapshots.get(device.snapshotId))
      .filter((snapshot): snapshot is LocalSnapshot => snapshot?.state === 'pending');
    if (image.polls <= pendingPolls) {
      const progress = Math.floor((100 * image.polls) / (pendingPolls + 1));
      snapshots.forEach((snapshot) => { snapshot.progress = progress; });
      return;
    }
    image.state = finalState;
    if (finalState === 'available') {
      snapshots.forEach((snapshot) => { snapshot.state = 'completed'; snapshot.progress = 100; });
    } else {
      image.stateReason = stateReason ?? DEFAULT_FAILURE;
      snapshots.forEach((snapshot) => { snapshot.state = 'error'; snapshot.statusMessage = image.stateReason?.message; });
    }
  }
}

/** What CreateStoreImageTask writes for an image: its launch attributes and devices, not its snapshots. */
function storedImageOf(image: LocalImage): StoredImage {
  return {
    name: image.name,
    description: image.description,
    ...launchAttributes(image),
    architecture: image.architecture ?? 'x86_64',
    rootDeviceName: image.rootDeviceName,
    blockDeviceMappings: image.blockDeviceMappings.map((device) => ({
      deviceName: device.deviceName,
      volumeSizeGiB: device.volumeSizeGiB,
      volumeType: device.volumeType,
      deleteOnTermination: device.deleteOnTermination,
    })),
    sourceImageId: image.imageId,
    sourceRegion: image.region,
  };
}

function assertImageName(name: string): void {
  if (!IMAGE_NAME_PATTERN.test(name)) {
    throw new ApiError('InvalidAMIName.Malformed',
      "AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/', '[', ']', ' ', ''', '@' and '_'");
  }
}

const DEPRECATION_LIMIT_YEARS = 10;

/**
 * EC2 rounds the deprecation time to the nearest minute, and refuses a time in the past or more
 * than 10 years ahead (EnableImageDeprecation, DeprecateAt). The error code and messages are best
 * knowledge; the rules are the API reference's.
 */
function deprecationTimeFrom(value: string): string {
  const millis = Date.parse(value);
  if (Number.isNaN(millis)) throw invalidValue(`Value (${value}) for parameter DeprecateAt is invalid.`);
  const rounded = new Date(Math.round(millis / 60_000) * 60_000);
  if (rounded.getTime() < Date.now()) {
    throw invalidValue(`The specified deprecation time ${rounded.toISOString()} is in the past. Specify a time in the future.`);
  }
  const limit = new Date(Date.now());
  limit.setUTCFullYear(limit.getUTCFullYear() + DEPRECATION_LIMIT_YEARS);
  if (rounded > limit) {
    throw invalidValue(`The specified deprecation time ${rounded.toISOString()} is more than ${DEPRECATION_LIMIT_YEARS} years in the future.`);
  }
  return rounded.toISOString();
}

/** Both request forms: `LaunchPermission.Add.N.*` / `.Remove.N.*`, and `OperationType` with `UserId.N`, `UserGroup.N`, …. */
function readLaunchPermissionChanges(params: QueryParams): { add: LaunchPermission[]; remove: LaunchPermission[] } {
  const add = params.members('LaunchPermission.Add').map(launchPermissionFrom);
  const remove = params.members('LaunchPermission.Remove').map(launchPermissionFrom);
  const operation = params.get('OperationType');
  if (operation !== undefined) {
    if (operation !== 'add' && operation !== 'remove') throw invalidValue(`Value (${operation}) for parameter OperationType is invalid.`);
    const listed: LaunchPermission[] = [
      ...params.list('UserId').map((userId) => ({ userId })),
      ...params.list('UserGroup').map((group) => ({ group })),
      ...params.list('OrganizationArn').map((organizationArn) => ({ organizationArn })),
      ...params.list('OrganizationalUnitArn').map((organizationalUnitArn) => ({ organizationalUnitArn })),
    ];
    (operation === 'add' ? add : remove).push(...listed);
  }
  return { add, remove };
}

function launchPermissionFrom(member: QueryParams): LaunchPermission {
  const permission: LaunchPermission = {};
  const userId = member.get('UserId');
  const group = member.get('Group');
  const organizationArn = member.get('OrganizationArn');
  const organizationalUnitArn = member.get('OrganizationalUnitArn');
  if (userId !== undefined) permission.userId = userId;
  if (group !== undefined) permission.group = group;
  if (organizationArn !== undefined) permission.organizationArn = organizationArn;
  if (organizationalUnitArn !== undefined) permission.organizationalUnitArn = organizationalUnitArn;
  return permission;
}

function assertLaunchPermission(permission: LaunchPermission): void {
  if (permission.userId !== undefined && !/^\d{12}$/.test(permission.userId)) {
    throw new ApiError('InvalidAMIAttributeItemValue', `Invalid attribute item value "${permission.userId}" for userId item type.`);
  }
  if (permission.group !== undefined && permission.group !== 'all') {
    throw new ApiError('InvalidAMIAttributeItemValue', `Invalid attribute item value "${permission.group}" for group item type.`);
  }
  if (Object.keys(permission).length === 0) throw missingParameter('LaunchPermission');
}

function samePermission(a: LaunchPermission, b: LaunchPermission): boolean {
  return a.userId === b.userId && a.group === b.group
    && a.organizationArn === b.organizationArn && a.organizationalUnitArn === b.organizationalUnitArn;
}

/** Both request forms: `CreateVolumePermission.Add.N.*` / `.Remove.N.*`, and `OperationType` with `UserId.N` / `UserGroup.N`. */
function readCreateVolumePermissionChanges(params: QueryParams): { add: CreateVolumePermission[]; remove: CreateVolumePermission[] } {
  const add = params.members('CreateVolumePermission.Add').map(createVolumePermissionFrom);
  const remove = params.members('CreateVolumePermission.Remove').map(createVolumePermissionFrom);
  const operation = params.get('OperationType');
  if (operation !== undefined) {
    if (operation !== 'add' && operation !== 'remove') throw invalidValue(`Value (${operation}) for parameter OperationType is invalid.`);
    const listed: CreateVolumePermission[] = [
      ...params.list('UserId').map((userId) => ({ userId })),
      ...params.list('UserGroup').map((group) => ({ group })),
    ];
    (operation === 'add' ? add : remove).push(...listed);
  }
  return { add, remove };
}

function createVolumePermissionFrom(member: QueryParams): CreateVolumePermission {
  const permission: CreateVolumePermission = {};
  const userId = member.get('UserId');
  const group = member.get('Group');
  if (userId !== undefined) permission.userId = userId;
  if (group !== undefined) permission.group = group;
  return permission;
}

function assertCreateVolumePermission(permission: CreateVolumePermission): void {
  if (permission.userId !== undefined && !/^\d{12}$/.test(permission.userId)) {
    throw new ApiError('InvalidUserID.Malformed', `Invalid user id: "${permission.userId}"`);
  }
  if (permission.group !== undefined && permission.group !== 'all') {
    throw invalidValue(`Value (${permission.group}) for parameter group is invalid. Only 'all' is supported.`);
  }
  if (permission.userId === undefined && permission.group === undefined) throw missingParameter('CreateVolumePermission');
}

function sameVolumePermission(a: CreateVolumePermission, b: CreateVolumePermission): boolean {
  return a.userId === b.userId && a.group === b.group;
}

/** The element DescribeImageAttribute returns for the attribute; attributes we do not model come back empty. */
function renderImageAttribute(image: LocalImage, attribute: string): string {
  switch (attribute) {
    case 'launchPermission':
      return itemSet('launchPermission', image.launchPermissions.map(renderLaunchPermission));
    case 'description':
      return image.description === undefined ? '' : node('description', leaf('value', image.description));
    case 'deregistrationProtection':
      return node('deregistrationProtection', leaf('value', protectionValue(image)));
    case 'bootMode':
    case 'tpmSupport':
    case 'uefiData':
    case 'imdsSupport': {
      const value = image[attribute];
      return value === undefined ? '' : node(attribute, leaf('value', value));
    }
    case 'blockDeviceMapping':
      return itemSet('blockDeviceMapping', image.blockDeviceMappings.map((device) => leaf('deviceName', device.deviceName)
        + node('ebs', leaf('snapshotId', device.snapshotId), leaf('volumeSize', device.volumeSizeGiB))));
    default:
      return '';
  }
}

// ---------------------------------------------------------------------------
// SSM Parameter Store (awsJson1_1: POST /, X-Amz-Target AmazonSSM.<Action>, JSON in and out)
// ---------------------------------------------------------------------------

/** PutParameter's name rules (SSM API reference, "Naming constraints"). */
const SSM_PARAMETER_NAME = /^[a-zA-Z0-9_.\-/]{1,1011}$/;
const SSM_RESERVED_PREFIX = /^\/?(aws|ssm)/i;
const SSM_DATA_TYPES: ReadonlySet<string> = new Set(['text', 'aws:ec2:image', 'aws:ssm:integration']);
const SSM_TYPES: ReadonlySet<string> = new Set(['String', 'StringList', 'SecureString']);

type Json = Record<string, unknown>;

/**
 * PutParameter, GetParameter, DeleteParameter and ListTagsForResource of parameters, as the SSM API
 * reference describes them. An `aws:ec2:image` value is validated after PutParameter has answered
 * (the reference: "a successful HTTP 200 response does not guarantee that your parameter was
 * successfully created or updated"): the write becomes visible once the image is an available image
 * of the region, and is dropped otherwise; `parameterValidationReads` GetParameter calls see the old
 * state first.
 */
class SsmApi {
  constructor(private readonly world: World) {}

  handle(action: string, region: RegionState, body: Json): Json {
    switch (action) {
      case 'PutParameter': return this.putParameter(region, body);
      case 'GetParameter': return this.getParameter(region, body);
      case 'DeleteParameter': return this.deleteParameter(region, body);
      case 'ListTagsForResource': return this.listTags(region, body);
      default: throw new ApiError('UnknownOperationException', `The local endpoint does not serve SSM ${action || '(none)'}.`);
    }
  }

  /** Seeds a parameter (e.g. one someone else made), visible at once. */
  seed(region: RegionState, parameter: Pick<LocalParameter, 'name' | 'value'> & Partial<LocalParameter>): void {
    region.parameters.set(parameter.name, { type: 'String', dataType: 'text', version: 1, lastModified: now(), tags: newTags([]), ...parameter });
  }

  private putParameter(region: RegionState, body: Json): Json {
    const name = ssmString(body, 'Name', true)!;
    const value = ssmString(body, 'Value', true)!;
    const type = ssmString(body, 'Type') ?? 'String';
    const dataType = ssmString(body, 'DataType') ?? 'text';
    const overwrite = body.Overwrite === true;
    const tags = Array.isArray(body.Tags) ? (body.Tags as { Key: string; Value: string }[]) : [];
    if (!SSM_PARAMETER_NAME.test(name)) throw ssmValidation('Parameter name: can\'t contain characters other than a-zA-Z0-9_.-/ and must be at most 1011 characters');
    if (SSM_RESERVED_PREFIX.test(name)) throw ssmValidation('Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive).');
    if (!SSM_TYPES.has(type)) throw ssmValidation(`1 validation error detected: Value '${type}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]`);
    if (!SSM_DATA_TYPES.has(dataType)) throw ssmValidation(`The following data type is not supported: ${dataType} (Data type names are all lowercase.)`);
    if (dataType === 'aws:ec2:image' && type !== 'String') throw ssmValidation('Parameters of type aws:ec2:image must be of type String.');
    // Best knowledge: the message SSM gives for Tags together with Overwrite.
    if (overwrite && tags.length > 0) {
      throw ssmValidation('Invalid request: tags and overwrite can\'t be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.');
    }
    const existing = region.parameters.get(name);
    if (existing && !overwrite) {
      throw new ApiError('ParameterAlreadyExists', 'The parameter already exists. To overwrite this request value, set the overwrite option in the request to true.');
    }
    const written: LocalParameter = {
      name,
      value,
      type,
      dataType,
      description: ssmString(body, 'Description') ?? existing?.description,
      version: (existing?.version ?? 0) + 1,
      lastModified: now(),
      tags: existing ? existing.tags : newTags(tags.map((t) => [t.Key, t.Value])),
    };
    if (dataType === 'aws:ec2:image') {
      region.pendingParameters.set(name, { parameter: written, readsLeft: this.world.parameterValidationReads });
      if (this.world.parameterValidationReads === 0) this.settle(region, name);
    } else {
      region.parameters.set(name, written);
    }
    return { Version: written.version, Tier: 'Standard' };
  }

  private getParameter(region: RegionState, body: Json): Json {
    const name = ssmString(body, 'Name', true)!;
    const pending = region.pendingParameters.get(name);
    if (pending && pending.readsLeft-- <= 0) this.settle(region, name);
    const parameter = region.parameters.get(name);
    if (!parameter) throw new ApiError('ParameterNotFound', `Parameter ${name} not found.`);
    return {
      Parameter: {
        Name: parameter.name,
        Type: parameter.type,
        Value: parameter.value,
        Version: parameter.version,
        LastModifiedDate: Date.parse(parameter.lastModified) / 1000,
        ARN: `arn:aws:ssm:${region.name}:${region.account}:parameter/${name.replace(/^\//, '')}`,
        DataType: parameter.dataType,
      },
    };
  }

  private deleteParameter(region: RegionState, body: Json): Json {
    const name = ssmString(body, 'Name', true)!;
    region.pendingParameters.delete(name);
    if (!region.parameters.delete(name)) throw new ApiError('ParameterNotFound', `Parameter ${name} not found.`);
    return {};
  }

  private listTags(region: RegionState, body: Json): Json {
    const resourceType = ssmString(body, 'ResourceType', true)!;
    const id = ssmString(body, 'ResourceId', true)!;
    if (resourceType !== 'Parameter') throw new ApiError('InvalidResourceType', `The local endpoint only knows tags of parameters, not ${resourceType}.`);
    const parameter = region.parameters.get(id);
    if (!parameter) throw new ApiError('InvalidResourceId', 'The resource ID is not valid. Verify that you entered the correct ID and try again.');
    return { TagList: Object.entries(parameter.tags).map(([Key, Value]) => ({ Key, Value })) };
  }

  /** The asynchronous validation of an aws:ec2:image write ends: stored if the image is available here, dropped otherwise. */
  private settle(region: RegionState, name: string): void {
    const pending = region.pendingParameters.get(name);
    if (!pending) return;
    region.pendingParameters.delete(name);
    const image = region.images.get(pending.parameter.value);
    if (image?.state === 'available') region.parameters.set(name, pending.parameter);
  }
}

function ssmString(body: Json, key: string, required = false): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) {
    if (required) throw ssmValidation(`1 validation error detected: Value null at '${key.charAt(0).toLowerCase()}${key.slice(1)}' failed to satisfy constraint: Member must not be null`);
    return undefined;
  }
  return String(value);
}

function ssmValidation(message: string): ApiError {
  return new ApiError('ValidationException', message);
}

function ssmErrorDocument(error: ApiError): string {
  return JSON.stringify({ __type: error.code, message: error.message });
}

// ---------------------------------------------------------------------------
// CloudFormation: DescribeStacks only
// ---------------------------------------------------------------------------

const STACK_ARN_PATTERN = /^arn:aws[a-z-]*:cloudformation:([a-z0-9-]+):\d{12}:stack\/([^/]+)\/[^/]+$/;

class CloudFormationApi {
  constructor(private readonly world: World) {}

  handle(action: string, region: RegionState, params: QueryParams): string {
    if (action !== 'DescribeStacks') throw new ApiError('InvalidAction', `The action ${action || '(none)'} is not valid for this web service.`);
    const stackName = params.get('StackName');
    if (stackName === undefined) {
      return node('Stacks', ...[...region.stacks.values()].filter((stack) => stack.status !== 'DELETE_COMPLETE').map(renderStack));
    }
    const stack = this.find(region, stackName);
    if (!stack) throw new ApiError('ValidationError', `Stack with id ${stackName} does not exist`);
    return node('Stacks', renderStack(stack));
  }

  /** Creates or updates a stack; a stack ARN fixes its region and name. Returns the stack ID. */
  setStatus(stackIdOrName: string, status: string, regionName: string): string {
    const arn = STACK_ARN_PATTERN.exec(stackIdOrName);
    const region = this.world.region(arn ? arn[1] : regionName);
    const existing = this.find(region, stackIdOrName);
    if (existing) {
      existing.status = status;
      return existing.stackId;
    }
    const stackName = arn ? arn[2] : stackIdOrName;
    const stackId = arn ? stackIdOrName : `arn:aws:cloudformation:${region.name}:${ACCOUNT_ID}:stack/${stackName}/${randomUUID()}`;
    region.stacks.set(stackId, { stackId, stackName, region: region.name, creationTime: now(), status });
    return stackId;
  }

  /** By ID any stack is found; by name only a stack that is not deleted, as on CloudFormation. */
  private find(region: RegionState, stackIdOrName: string): LocalStack | undefined {
    if (STACK_ARN_PATTERN.test(stackIdOrName)) return region.stacks.get(stackIdOrName);
    return [...region.stacks.values()].find((stack) => stack.stackName === stackIdOrName && stack.status !== 'DELETE_COMPLETE');
  }
}

// ---------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------

/** Park–Miller minimal standard generator: deterministic per seed, plain arithmetic (no bitwise ops). */
function seededRandom(seed: number): () => number {
  const modulus = 2_147_483_647;
  let state = Math.abs(Math.floor(seed)) % modulus || 1;
  return () => {
    state = (state * 48_271) % modulus;
    return (state - 1) / (modulus - 1);
  };
}

interface PendingFault {
  readonly action?: string;
  readonly kind: FaultKind;
  remaining: number;
}

class FaultPlan {
  private readonly pending: PendingFault[] = [];
  private rate = 0;
  private random: () => number = seededRandom(1);

  add(spec: FaultSpec): void {
    if (!Number.isInteger(spec.times) || spec.times < 0) throw new Error(`Fault times must be a non-negative integer, got ${spec.times}`);
    this.pending.push({ action: spec.action, kind: spec.kind, remaining: spec.times });
  }

  setRate(fraction: number, seed: number): void {
    if (!(fraction >= 0 && fraction <= 1)) throw new Error(`Throttle rate must be between 0 and 1, got ${fraction}`);
    this.rate = fraction;
    this.random = seededRandom(seed);
  }

  /** The fault this call suffers, if any: injected faults first (in order), then the random throttle rate. */
  take(action: string): FaultKind | undefined {
    const fault = this.pending.find((candidate) => candidate.remaining > 0 && (candidate.action ?? action) === action);
    if (fault) {
      fault.remaining--;
      return fault.kind;
    }
    return this.rate > 0 && this.random() < this.rate ? 'throttle' : undefined;
  }

  clear(): void {
    this.pending.length = 0;
    this.setRate(0, 1);
  }
}

// ---------------------------------------------------------------------------
// The endpoint
// ---------------------------------------------------------------------------

interface Reply {
  readonly status: number;
  readonly body: string;
  readonly code?: string;
  /** Default: the AWS services' `text/xml;charset=UTF-8`. */
  readonly contentType?: string;
}

/** `Credential=AKID/20261123/us-east-1/ec2/aws4_request` → access key, region and service of a SigV4 request. */
function credentialScope(authorization: string | undefined): { accessKeyId: string; region: string; service: string } | undefined {
  const match = /Credential=([^/,\s]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(authorization ?? '');
  return match ? { accessKeyId: match[1], region: match[2], service: match[3] } : undefined;
}

const STS_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';
/** RoleSessionName: 2 to 64 of letters, digits and `+=,.@-` (STS AssumeRole). */
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
/** arn:aws:iam::123456789012:role/path/name */
const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(.+)$/;

/** The attempt number the SDK's retry middleware puts in `amz-sdk-request: attempt=2; max=3`. */
function sdkAttempt(header: string | string[] | undefined): number | undefined {
  const match = /attempt=(\d+)/.exec(String(header ?? ''));
  return match ? Number(match[1]) : undefined;
}

async function readBody(request: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The local EC2 + CloudFormation (+ S3 DeleteObject, + SSM parameters) endpoint. Start one per test file, `reset()` it between tests.
 *
 * @example
 *   const ec2 = await LocalEc2.start();
 *   const restore = withEndpointEnv(ec2.url);
 *   const instanceId = ec2.addInstance({ region: 'us-east-1' });
 *   ...
 *   restore();
 *   await ec2.stop();
 */
export class LocalEc2 {
  static async start(): Promise<LocalEc2> {
    const endpoint = new LocalEc2();
    await new Promise<void>((resolve, reject) => {
      endpoint.server.once('error', reject);
      endpoint.server.listen(0, '127.0.0.1', () => resolve());
    });
    return endpoint;
  }

  private readonly world = new World();
  private readonly ec2 = new Ec2Api(this.world);
  private readonly cloudFormation = new CloudFormationApi(this.world);
  private readonly ssm = new SsmApi(this.world);
  private readonly faults = new FaultPlan();
  private readonly recorded: RecordedCall[] = [];
  /** Access key → account: the default credentials (`test`) act for ACCOUNT_ID; AssumeRole adds keys. */
  private readonly accessKeys = new Map<string, string>();
  /** Role ARN → the accounts it trusts (addRole). */
  private readonly roles = new Map<string, readonly string[]>();
  private readonly server: http.Server;
  private stopped = false;

  private constructor() {
    this.server = http.createServer((request, response) => {
      this.serve(request, response).catch((error: unknown) => {
        // Only a broken connection gets here; the request can no longer be answered properly.
        response.destroy(error instanceof Error ? error : new Error(String(error)));
      });
    });
  }

  /** `http://127.0.0.1:<port>`: use as the clients' `endpoint` or via {@link withEndpointEnv}. */
  get url(): string {
    const address = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${address.port}`;
  }

  /** How images created or copied from now on behave (default: pending for 2 polls, then available). */
  get imageBehaviour(): ImageBehaviour {
    return this.world.imageBehaviour;
  }

  set imageBehaviour(behaviour: ImageBehaviour) {
    this.world.imageBehaviour = { ...behaviour };
  }

  /** How store tasks started from now on progress (default: InProgress for 2 polls, then Completed). */
  get storeBehaviour(): StoreBehaviour {
    return this.world.storeBehaviour;
  }

  set storeBehaviour(behaviour: StoreBehaviour) {
    this.world.storeBehaviour = { ...behaviour };
  }

  /** How import tasks started from now on progress (default: one poll per step, then completed). */
  get importBehaviour(): ImportBehaviour {
    return this.world.importBehaviour;
  }

  set importBehaviour(behaviour: ImportBehaviour) {
    this.world.importBehaviour = { ...behaviour };
  }

  /** New images answer `InvalidAMIID.NotFound` to this many DescribeImages-by-ID calls (default 0). */
  get notFoundAfterCreate(): number {
    return this.world.notFoundAfterCreate;
  }

  set notFoundAfterCreate(calls: number) {
    this.world.notFoundAfterCreate = calls;
  }

  /** Every request received so far, in order (including faulted and failed ones). */
  get calls(): readonly RecordedCall[] {
    return [...this.recorded];
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // The SDK keeps connections alive; without this, close() would wait for them to time out.
    this.server.closeAllConnections();
    await new Promise<void>((resolve, reject) => this.server.close((error) => (error ? reject(error) : resolve())));
  }

  /** Forgets all resources, stacks, faults and recorded calls, and restores the default behaviours. */
  reset(): void {
    this.world.reset();
    this.faults.clear();
    this.recorded.length = 0;
    this.accessKeys.clear();
    this.roles.clear();
  }

  // -- scripting -------------------------------------------------------------

  /** Adds an instance (default: running, one 8 GiB root volume `/dev/xvda`); returns its ID. */
  addInstance(options: AddInstanceOptions): string {
    return this.ec2.addInstance(options).instanceId;
  }

  /** Scripts what an instance does by itself after some DescribeInstances polls of it (tags itself, writes to its console, shuts down). */
  scriptInstance(region: string, instanceId: string, script: InstanceScript): void {
    this.ec2.scriptInstance(region, instanceId, script);
  }

  /** Appends text to an instance's console output at once. */
  writeConsole(region: string, instanceId: string, text: string): void {
    this.ec2.instanceIn(region, instanceId).consoleOutput += text;
  }

  /** Sets an instance's state at once, as CloudFormation or its own shutdown would. */
  setInstanceState(region: string, instanceId: string, state: InstanceStateName): void {
    this.ec2.instanceIn(region, instanceId).state = state;
  }

  /** Adds a launch template that launches `imageId`; returns its ID. */
  addLaunchTemplate(options: AddLaunchTemplateOptions): string {
    return this.ec2.addLaunchTemplate(options);
  }

  /** Adds a snapshot (default: completed, 8 GiB, unencrypted), e.g. for RegisterImage; returns its ID. */
  addSnapshot(options: AddSnapshotOptions): string {
    return this.ec2.addScriptedSnapshot(options).snapshotId;
  }

  /** GetParameter reads that still see the old state after an aws:ec2:image PutParameter (default 0). */
  get parameterValidationReads(): number {
    return this.world.parameterValidationReads;
  }

  set parameterValidationReads(reads: number) {
    this.world.parameterValidationReads = reads;
  }

  /** Seeds a parameter of the region's Parameter Store (of ACCOUNT_ID, or `account`), e.g. one someone else made. */
  putParameter(region: string, parameter: Pick<LocalParameter, 'name' | 'value'> & Partial<LocalParameter>, account = ACCOUNT_ID): void {
    this.ssm.seed(this.world.region(region, account), parameter);
  }

  /** The parameters of the region's Parameter Store (of ACCOUNT_ID, or `account`). */
  parameters(region: string, account = ACCOUNT_ID): LocalParameter[] {
    return structuredClone([...this.world.region(region, account).parameters.values()]);
  }

  /** Pins a bucket of the simulated S3 to a region; CreateStoreImageTask then only accepts it there. */
  setBucketRegion(bucket: string, region: string): void {
    this.world.bucketRegions.set(bucket, region);
  }

  /** Seeds a stored-AMI object, as if CreateStoreImageTask had written it (overwrites like S3). */
  putS3Object(bucket: string, key: string, image: StoredImage, tags: Readonly<Record<string, string>> = {}): void {
    this.ec2.putObject(bucket, key, image, newTags(Object.entries(tags)));
  }

  /** Deletes an object of the simulated S3; returns whether it existed. */
  deleteS3Object(bucket: string, key: string): boolean {
    return this.world.s3.delete(s3ObjectId(bucket, key));
  }

  /** Makes DescribeImportImageTasks forget a task, as EC2 does 7 days after it ends. Throws if there is no such task. */
  expireImportTask(importTaskId: string): void {
    this.ec2.expireImportTask(importTaskId);
  }

  /** How fast launch progresses for later EnableFastLaunch and DisableFastLaunch calls. */
  fastLaunchBehaviour(behaviour: Partial<FastLaunchBehaviour>): void {
    this.world.fastLaunchBehaviour = { ...DEFAULT_FAST_LAUNCH_BEHAVIOUR, ...behaviour };
  }

  /** Overrides how one existing image behaves from now on; polls already made still count. */
  scriptImage(imageId: string, script: ImageScript): void {
    const image = this.world.findImage(imageId);
    if (!image) throw new Error(`No image ${imageId} in any region`);
    const { notFoundCalls, ...behaviour } = script;
    image.behaviour = { ...image.behaviour, ...behaviour };
    if (notFoundCalls !== undefined) image.notFoundCalls = notFoundCalls;
  }

  /** The next `times` calls (of `action`, or of any action) fail with the given fault. Faults queue up in order. */
  injectFault(spec: FaultSpec): void {
    this.faults.add(spec);
  }

  /** Throttles `fraction` of all later calls, chosen by a generator seeded with `seed`: the same seed, the same calls. */
  throttleRate(fraction: number, seed = 1): void {
    this.faults.setRate(fraction, seed);
  }

  /** Sets block public access for AMIs in a region (default `unblocked`), as Enable/DisableImageBlockPublicAccess would. */
  setImageBlockPublicAccess(region: string, state: ImageBlockPublicAccessState): void {
    this.world.region(region).imageBlockPublicAccess = state;
  }

  /**
   * Ends the 24-hour deregistration-protection cooldown of an image (`disabled-until` → `disabled`),
   * as if the time had passed; the endpoint never ends it by itself. Throws if the image is not in one.
   */
  endCooldown(imageId: string): void {
    this.ec2.endCooldown(imageId);
  }

  /** Creates or updates a stack for DescribeStacks; a stack ARN sets its region. Returns the stack ID. */
  setStackStatus(stackIdOrName: string, status: string, region = 'us-east-1'): string {
    return this.cloudFormation.setStatus(stackIdOrName, status, region);
  }

  // -- inspection (copies: changing them does not change the endpoint) --------

  /** All images of the region (of ACCOUNT_ID, or `account`), deregistered ones included. */
  images(region: string, account = ACCOUNT_ID): LocalImage[] {
    return structuredClone([...this.world.region(region, account).images.values()]);
  }

  /** Images of the region (of ACCOUNT_ID, or `account`) that are not deregistered. */
  liveImages(region: string, account = ACCOUNT_ID): LocalImage[] {
    return this.images(region, account).filter((image) => image.state !== 'deregistered');
  }

  /**
   * A role in `roleArn`'s account that callers of `trustedAccounts` may assume (STS AssumeRole);
   * its credentials act for the role's account.
   */
  addRole(roleArn: string, trustedAccounts: readonly string[]): void {
    this.roles.set(roleArn, [...trustedAccounts]);
  }

  /** One image, wherever it is. */
  image(imageId: string): LocalImage | undefined {
    const image = this.world.findImage(imageId);
    return image ? structuredClone(image) : undefined;
  }

  /** Snapshots of the region (of ACCOUNT_ID, or `account`) that are not deleted. */
  snapshots(region: string, account = ACCOUNT_ID): LocalSnapshot[] {
    return structuredClone([...this.world.region(region, account).snapshots.values()]);
  }

  /** Block public access for AMIs in the region. */
  imageBlockPublicAccess(region: string): ImageBlockPublicAccessState {
    return this.world.region(region).imageBlockPublicAccess;
  }

  /** Every object of the simulated S3 (all buckets, all regions). */
  s3Objects(): S3StoredObject[] {
    return structuredClone([...this.world.s3.values()]);
  }

  /** Store tasks started in the region, oldest first. */
  storeTasks(region: string): LocalStoreTask[] {
    return structuredClone(this.world.region(region).storeTasks);
  }

  /** Import tasks of the region that have not expired. */
  importTasks(region: string): LocalImportTask[] {
    return structuredClone([...this.world.region(region).importTasks.values()]);
  }

  instances(region: string): LocalInstance[] {
    return structuredClone([...this.world.region(region).instances.values()]);
  }

  stacks(region: string): LocalStack[] {
    return structuredClone([...this.world.region(region).stacks.values()]);
  }

  /** Requests received, of one action or of all. */
  callCount(action?: string): number {
    return this.recorded.filter((call) => action === undefined || call.action === action).length;
  }

  // -- HTTP --------------------------------------------------------------------

  private async serve(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const body = await readBody(request);
    const scope = credentialScope(request.headers.authorization);
    const requestId = randomUUID();
    let service: RecordedCall['service'];
    let action: string;
    let reply: Reply;
    const account = (scope && this.accessKeys.get(scope.accessKeyId)) ?? ACCOUNT_ID;
    if (scope?.service === 'sts') {
      service = 'sts';
      const params = QueryParams.parse(body, new URL(request.url ?? '/', 'http://localhost').search);
      action = params.get('Action') ?? '';
      reply = this.stsReply(action, account, params, requestId);
    } else if (scope?.service === 's3') {
      service = 's3';
      action = request.method === 'DELETE' ? 'DeleteObject' : `${request.method} (unsupported)`;
      reply = this.s3Reply(action, request.url ?? '/', requestId);
    } else if (scope?.service === 'ssm') {
      service = 'ssm';
      action = String(request.headers['x-amz-target'] ?? '').replace(/^AmazonSSM\./, '');
      reply = this.ssmReply(action, scope.region, body, requestId, account);
    } else {
      const params = QueryParams.parse(body, new URL(request.url ?? '/', 'http://localhost').search);
      service = scope?.service === 'cloudformation' ? 'cloudformation' : 'ec2';
      action = params.get('Action') ?? '';
      reply = scope
        ? this.reply(service, action, scope.region, params, requestId, account)
        : this.errorReply(service, new ApiError('AuthFailure', 'AWS was not able to validate the provided access credentials', 401), requestId);
    }

    this.recorded.push({
      service,
      action,
      region: scope?.region ?? '',
      status: reply.status,
      code: reply.code,
      attempt: sdkAttempt(request.headers['amz-sdk-request']),
      at: Date.now(),
    });
    const defaultType = service === 'ssm' ? 'application/x-amz-json-1.1' : 'text/xml;charset=UTF-8';
    const headers: Record<string, string> = reply.contentType ? { 'Content-Type': reply.contentType } : { 'Content-Type': defaultType, 'x-amzn-RequestId': requestId };
    // The service's clock is the test's (a virtual one under the CloudFormation simulator). Node would
    // send the real time, and the SDK, seeing a skewed clock, would retry the first error it gets.
    headers.Date = new Date(Date.now()).toUTCString();
    response.writeHead(reply.status, headers);
    response.end(reply.body);
  }

  /**
   * S3, as far as cdk-ami calls it: DeleteObject, path-style (`DELETE /bucket/key`, which the SDK
   * uses for an IP-address endpoint). Like S3, deleting a missing object succeeds with 204.
   */
  private s3Reply(action: string, url: string, requestId: string): Reply {
    const fault = this.faults.take(action);
    if (fault) return this.faultReply('s3', fault, requestId);
    const match = /^\/([^/?]+)\/([^?]+)/.exec(url);
    if (action !== 'DeleteObject' || !match) {
      return this.errorReply('s3', new ApiError('NotImplemented', `The local endpoint only serves S3 DeleteObject, not ${action} ${url}.`, 501), requestId);
    }
    const key = match[2].split('/').map(decodeURIComponent).join('/');
    this.world.s3.delete(s3ObjectId(decodeURIComponent(match[1]), key));
    return { status: 204, body: '' };
  }

  /** SSM (awsJson1_1): the JSON body in, a JSON document or a `__type` error out; each account has its own Parameter Store. */
  private ssmReply(action: string, regionName: string, body: string, requestId: string, account: string): Reply {
    const fault = this.faults.take(action);
    if (fault) return this.faultReply('ssm', fault, requestId);
    try {
      const request = body === '' ? {} : JSON.parse(body) as Json;
      return { status: 200, body: JSON.stringify(this.ssm.handle(action, this.world.region(regionName, account), request)) };
    } catch (error) {
      const apiError = error instanceof ApiError
        ? error
        : new ApiError('InternalServerError', `Local endpoint failure: ${error instanceof Error ? error.stack : String(error)}`, 500);
      return this.errorReply('ssm', apiError, requestId);
    }
  }

  /**
   * STS AssumeRole: a role of `addRole` that trusts the caller's account answers with new
   * credentials, which act for the role's account from then on. Any other role is refused with
   * AccessDenied, as STS refuses a role that does not exist or does not trust the caller.
   */
  private stsReply(action: string, account: string, params: QueryParams, requestId: string): Reply {
    const fault = this.faults.take(action);
    if (fault) return this.faultReply('sts', fault, requestId);
    try {
      if (action !== 'AssumeRole') throw new ApiError('InvalidAction', `Could not find operation ${action} for version 2011-06-15`);
      const roleArn = params.required('RoleArn');
      const sessionName = params.required('RoleSessionName');
      if (!SESSION_NAME.test(sessionName)) {
        throw new ApiError('ValidationError', `1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`);
      }
      const match = ROLE_ARN.exec(roleArn);
      if (!match || !(this.roles.get(roleArn) ?? []).includes(account)) {
        throw new ApiError('AccessDenied', `User: arn:aws:sts::${account}:assumed-role/caller/session is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`, 403);
      }
      const accessKeyId = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`;
      this.accessKeys.set(accessKeyId, match[1]);
      const roleName = match[2].split('/').pop()!;
      const result = node('AssumeRoleResult',
        node('Credentials',
          leaf('AccessKeyId', accessKeyId),
          leaf('SecretAccessKey', randomBytes(20).toString('base64')),
          leaf('SessionToken', randomBytes(32).toString('base64')),
          leaf('Expiration', new Date(Date.now() + 3600_000).toISOString())),
        node('AssumedRoleUser',
          leaf('AssumedRoleId', `AROA${randomBytes(8).toString('hex').toUpperCase()}:${sessionName}`),
          leaf('Arn', `arn:aws:sts::${match[1]}:assumed-role/${roleName}/${sessionName}`)));
      const body = `${XML_DECLARATION}<AssumeRoleResponse xmlns="${STS_NAMESPACE}">${result}${node('ResponseMetadata', leaf('RequestId', requestId))}</AssumeRoleResponse>`;
      return { status: 200, body };
    } catch (error) {
      const apiError = error instanceof ApiError ? error : new ApiError('InternalFailure', String(error), 500);
      return this.errorReply('sts', apiError, requestId);
    }
  }

  private reply(service: RecordedCall['service'], action: string, regionName: string, params: QueryParams, requestId: string, account = ACCOUNT_ID): Reply {
    const fault = this.faults.take(action);
    if (fault) return this.faultReply(service, fault, requestId);
    try {
      const region = this.world.region(regionName, account);
      if (service === 'cloudformation') {
        return { status: 200, body: cfnDocument(action, requestId, this.cloudFormation.handle(action, region, params)) };
      }
      return { status: 200, body: ec2Document(action, requestId, this.ec2.handle(action, region, params)) };
    } catch (error) {
      // A bug in this fake still reaches the test, as a 500 with the stack in the message.
      const apiError = error instanceof ApiError
        ? error
        : new ApiError('InternalError', `Local endpoint failure: ${error instanceof Error ? error.stack : String(error)}`, 500);
      return this.errorReply(service, apiError, requestId);
    }
  }

  private faultReply(service: RecordedCall['service'], fault: FaultKind, requestId: string): Reply {
    // A proxy answers for itself: no request ID, no AWS error code.
    if (fault === 'proxy502') return { status: 502, body: PROXY_502_BODY, contentType: 'text/html' };
    return this.errorReply(service, faultError(fault, service), requestId);
  }

  private errorReply(service: RecordedCall['service'], error: ApiError, requestId: string): Reply {
    const document = {
      cloudformation: cfnErrorDocument, ec2: ec2ErrorDocument, s3: s3ErrorDocument, ssm: ssmErrorDocument, sts: cfnErrorDocument,
    }[service];
    const body = document(error, requestId);
    return { status: error.status, body, code: error.code };
  }
}

// ---------------------------------------------------------------------------
// Client-side helpers for tests
// ---------------------------------------------------------------------------

/**
 * Points every SDK client created afterwards (without explicit options) at the local endpoint,
 * with dummy credentials and region us-east-1. Returns a function that restores the environment.
 */
export function withEndpointEnv(url: string): () => void {
  const settings: Record<string, string> = {
    AWS_ENDPOINT_URL_EC2: url,
    AWS_ENDPOINT_URL_CLOUDFORMATION: url,
    AWS_ENDPOINT_URL_S3: url,
    AWS_ENDPOINT_URL_SSM: url,
    AWS_ENDPOINT_URL_STS: url,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: 'us-east-1',
  };
  const previous = new Map(Object.keys(settings).map((name) => [name, process.env[name]]));
  Object.assign(process.env, settings);
  return () => {
    for (const [name, value] of previous) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/** The SDK's classification of a failed attempt, as its retry middleware passes it to the strategy. */
export type RetryErrorType = 'TRANSIENT' | 'THROTTLING' | 'SERVER_ERROR' | 'CLIENT_ERROR';

interface FastRetryToken {
  getRetryCount(): number;
  getRetryDelay(): number;
}

/** A retry strategy with the standard strategy's rules but a fixed, tiny delay; `errorTypes` logs what it was asked to retry. */
export interface FastRetryStrategy {
  readonly errorTypes: RetryErrorType[];
  acquireInitialRetryToken(scope: string): Promise<FastRetryToken>;
  refreshRetryTokenForRetry(token: FastRetryToken, info: { errorType: RetryErrorType }): Promise<FastRetryToken>;
  recordSuccess(token: FastRetryToken): void;
}

/**
 * Retries what the SDK classifies as THROTTLING or TRANSIENT (the same rule as its standard
 * strategy) up to `maxAttempts` attempts, waiting `delayMs` between them. The standard strategy
 * waits up to 1 s (throttling) or 50 ms (transient) × 2^retry, which is too slow for unit tests.
 * The classification itself stays the SDK's: its retry middleware computes `errorType`.
 */
export function fastRetryStrategy(maxAttempts = 3, delayMs = 1): FastRetryStrategy {
  const token = (count: number): FastRetryToken => ({ getRetryCount: () => count, getRetryDelay: () => (count === 0 ? 0 : delayMs) });
  const errorTypes: RetryErrorType[] = [];
  return {
    errorTypes,
    acquireInitialRetryToken: async () => token(0),
    refreshRetryTokenForRetry: async (previous, info) => {
      errorTypes.push(info.errorType);
      const retryable = info.errorType === 'THROTTLING' || info.errorType === 'TRANSIENT';
      if (!retryable || previous.getRetryCount() + 1 >= maxAttempts) throw new Error('No retry token available');
      return token(previous.getRetryCount() + 1);
    },
    recordSuccess: () => undefined,
  };
}
