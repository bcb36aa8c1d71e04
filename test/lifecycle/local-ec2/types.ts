/**
 * The public types of the local endpoint: the resources it simulates (as tests inspect them), the
 * options that add them, and the behaviours that script how they progress and fail.
 */

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
  /** Launch settings as RunInstances applied them (CloudFormation's AWS::EC2::Instance stand-in sets these). */
  readonly launch?: InstanceLaunch;
}

/** What an instance was launched with. */
export interface InstanceLaunch {
  /** Default `t3.micro`. */
  readonly instanceType?: string;
  readonly subnetId?: string;
  readonly securityGroupIds?: readonly string[];
  readonly httpTokens?: 'required' | 'optional';
  readonly iamInstanceProfile?: string;
  readonly userData?: string;
  /** The launch template and version it was launched from. */
  readonly launchTemplate?: { readonly launchTemplateId: string; readonly version: string };
}

/** A launch template whose default version launches `imageId` (for DescribeImageReferences). */
export interface AddLaunchTemplateOptions {
  readonly region: string;
  /** The image its (first) version launches; default none. */
  readonly imageId?: string;
  /** What its first version launches with. */
  readonly data?: LaunchTemplateData;
}

/**
 * What one version of a launch template launches with (the parts RunInstances takes from it
 * unless the call gives its own: EC2 API reference, RunInstances `LaunchTemplate`).
 */
export interface LaunchTemplateData {
  readonly imageId?: string;
  readonly instanceType?: string;
  readonly securityGroupIds?: readonly string[];
  /** `MetadataOptions.HttpTokens`. */
  readonly httpTokens?: 'required' | 'optional';
  /** The `instance` tags of its `TagSpecifications`. */
  readonly instanceTags?: Readonly<Record<string, string>>;
}

/** A launch template: its versions, numbered from 1 in order. */
export interface LocalLaunchTemplate {
  readonly launchTemplateId: string;
  readonly versions: LaunchTemplateData[];
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
  readonly launch: InstanceLaunch;
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
 * `unauthorized`: EC2's answer when IAM denies the call (e.g. a policy that has not propagated yet).
 * `tookEffect500`, `tookEffect503`: the service carries the call out (it changes the world as it
 * would, or refuses it as it would), and then the answer is lost: the caller gets `http500` or
 * `http503` instead. AWS documents that a 5xx does not mean the request failed.
 */
export type FaultKind = 'throttle' | 'http500' | 'http503' | 'capacity' | 'unauthorized' | 'proxy502' | 'tookEffect500' | 'tookEffect503';

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
