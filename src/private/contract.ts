/**
 * The contract between the constructs (`src/`) and the handlers (`lambda/`):
 * the custom resource types, the properties each one carries, the tag keys,
 * the removal words and the timings both sides must agree on. It imports only
 * `src/enums.ts` (which imports nothing), so the handler bundle includes both
 * as they are, the values a schema accepts are the public enums' own, and a
 * change here is seen by the compiler on both sides.
 *
 * The constructs render properties through `ProviderResource`, which accepts
 * only names of the resource type's schema; the handlers check every event
 * against the same schema (`checkProperties`) before they act, so a mismatch
 * fails with one sentence instead of an `undefined` somewhere later.
 */

import { BootMode, DeregistrationProtection, ImageArchitecture, ImportLicenseType, ImportPlatform, InstanceAction } from '../enums';

/**
 * What the last waiter link does with the instance an image was made from
 * (`InstanceAction`): the public enum, for the handlers, which import only
 * this module from `src/`.
 */
export { InstanceAction };

/** The custom resource types of the provider. */
export const ResourceTypes = {
  AMI_FROM_INSTANCE: 'Custom::AmiFromInstance',
  COPIED_AMI: 'Custom::CopiedAmi',
  AMI_FROM_SNAPSHOT: 'Custom::AmiFromSnapshot',
  RESTORED_AMI: 'Custom::RestoredAmi',
  IMPORTED_AMI: 'Custom::ImportedAmi',
  /** An `AmiFromDisks`'s disks, one ImportSnapshot task each; the image is an `AMI_FROM_SNAPSHOT` of their snapshots. */
  IMPORTED_SNAPSHOTS: 'Custom::ImportedSnapshots',
  STORED_AMI: 'Custom::StoredAmi',
  WAITER: 'Custom::AmiWaiter',
  BUILDER_SETUP: 'Custom::AmiBuilderSetup',
  /** An image's `aws:ec2:image` SSM parameter in a Region CloudFormation cannot write to. */
  PARAMETER: 'Custom::AmiParameter',
} as const;

export type ResourceType = typeof ResourceTypes[keyof typeof ResourceTypes];

/** The resource types that start an image (an operation of `ManagedImage`). */
export type OperationType = Exclude<ResourceType,
typeof ResourceTypes.WAITER | typeof ResourceTypes.BUILDER_SETUP | typeof ResourceTypes.STORED_AMI | typeof ResourceTypes.PARAMETER
| typeof ResourceTypes.IMPORTED_SNAPSHOTS>;

/** Every tag key this library writes starts with this; users' tags may not. */
export const TAG_PREFIX = 'cdk-ami:';

/**
 * The tags that make a resource this stack's (see the README's Permissions):
 * STACK is the stack ID (the IAM conditions), OWNER a hash of stack ID and
 * logical ID (which resource), REQUEST a hash of the request (which generation).
 */
export const Tags = {
  STACK: `${TAG_PREFIX}stack`,
  OWNER: `${TAG_PREFIX}owner`,
  REQUEST: `${TAG_PREFIX}request`,
  /** On imported images and snapshots: the import task that made them. */
  IMPORT_TASK: `${TAG_PREFIX}import-task`,
  /** Written by a BakedAmi's builder on itself: `succeeded` or `failed:<exit code>`. */
  SETUP: `${TAG_PREFIX}setup`,
  /** On a BakedAmi's builder: which construct it builds for. */
  BUILDER: `${TAG_PREFIX}builder`,
  /** Written by an image's test instance on itself: `succeeded` or `failed:<exit code>`. */
  TEST: `${TAG_PREFIX}test`,
  /** On an image's test instance: which construct's image it tests. */
  TESTER: `${TAG_PREFIX}tester`,
  /** On a copy made by another account: what its create shared of the source, withdrawn by its delete. */
  SOURCE_SHARE: `${TAG_PREFIX}source-share`,
} as const;

/** The builder's report when its setup succeeded (`Tags.SETUP` value and console line). */
export const SETUP_SUCCEEDED = 'succeeded';

/** The `RemovalPolicy` property: what the handler does with an image on Delete. */
export const Removal = {
  DESTROY: 'destroy',
  RETAIN: 'retain',
} as const;

/** Where a waiter link of a `StoredAmi` looks (`Target`): the store task, not an image. */
export const STORE_TARGET = 'store';

/** Where the first stage of an `ImportedAmi`'s waiter links looks (`Target`): the import task, tagging nothing. */
export const IMPORT_TARGET = 'import';

/**
 * The two stages of an `AmiFromDisks`'s snapshot imports (`Target`): the first
 * follows the ImportSnapshot tasks, tagging nothing; the second adopts exactly
 * the snapshots they made (tags them, or removes them when a task failed).
 */
export const SnapshotImportTargets = {
  FOLLOW: 'snapshot-import',
  ADOPT: 'snapshot-adopt',
} as const;

/** How a BakedAmi's builder is stopped before imaging (`StopBy`). */
export const StopBy = {
  HANDLER: 'handler',
  INSTANCE: 'instance',
  NONE: 'none',
} as const;

/** Timings the provider's configuration and the handlers share. */
export const Timing = {
  /** The Provider framework calls isComplete this often. */
  POLL_INTERVAL_SECONDS: 15,
  /** A waiter link's budget: CloudFormation gives a custom resource one hour. */
  LINK_BUDGET_SECONDS: 50 * 60,
  /** The operation function's timeout; the capacity wait ends before it. */
  OPERATION_TIMEOUT_SECONDS: 5 * 60,
  /** The isComplete function's timeout. */
  WAITER_TIMEOUT_SECONDS: 2 * 60,
  /** The longest wait a construct's `timeout` may ask for. */
  MAX_TIMEOUT_HOURS: 48,
} as const;

/**
 * A generated AMI name is `<prefix>-<hash>`: the construct renders at most
 * MAX_PREFIX_LENGTH characters of its path, the handler appends a hash of the
 * request, and the whole stays within EC2's 128 characters.
 */
export const GeneratedNames = {
  MAX_PREFIX_LENGTH: 100,
  HASH_LENGTH: 12,
} as const;

/** What a property holds, as the construct renders it and the handler reads it. */
export type PropertyKind = 'string' | 'number' | 'boolean' | 'tags' | 'strings' | 'object' | 'objects';

/** One property of a resource type. */
export interface PropertySpec {
  readonly kind: PropertyKind;
  /** The handler cannot act without it. */
  readonly required?: boolean;
  /** The only values a string property may take. */
  readonly values?: readonly string[];
  /** A number property must be a whole number, 0 or more. */
  readonly whole?: boolean;
  /**
   * A change makes a new resource, as CloudFormation schemas mark
   * `createOnlyProperties`: the handler creates a new image (stored object,
   * parameter) under a new physical ID, and CloudFormation deletes the old one
   * in its cleanup phase, as its removal policy says. A change to any other
   * property is made in place. The handlers decide replacement from this mark
   * alone (`createOnlyProperties`), and `test/replacement-docs.test.ts` holds
   * the README and the docstrings to it.
   */
  readonly createOnly?: boolean;
}

type Schema = Readonly<Record<string, PropertySpec>>;

const text: PropertySpec = { kind: 'string' };
const required: PropertySpec = { kind: 'string', required: true };
const number: PropertySpec = { kind: 'number' };
const whole: PropertySpec = { kind: 'number', whole: true };
const flag: PropertySpec = { kind: 'boolean' };
const tagList: PropertySpec = { kind: 'tags' };
const objects: PropertySpec = { kind: 'objects' };
const oneOf = (...values: string[]): PropertySpec => ({ kind: 'string', values });
/** The property, marked create-only: a change replaces the resource. */
const createOnly = (spec: PropertySpec): PropertySpec => ({ ...spec, createOnly: true });
/** A string property that takes the values of a public enum (the constructs render only those). */
const oneOfEnum = (values: Record<string, string>): PropertySpec => oneOf(...Object.values(values));
/** The one value of `ImdsSupport` and `TpmSupport`. */
export const V2 = 'v2.0';

/** Properties of every image operation (rendered by `ManagedImage`). */
const OPERATION = {
  Region: createOnly(required),
  ImageName: createOnly(text),
  NamePrefix: createOnly(text),
  Description: text,
  RemovalPolicy: oneOf(Removal.DESTROY, Removal.RETAIN),
  Tags: tagList,
  SnapshotTags: tagList,
  /** EC2 cannot take IMDSv2 back from an image. */
  ImdsSupport: createOnly(oneOf(V2)),
  /** Fast launch is enabled: disable it before deregistering. */
  FastLaunch: flag,
} as const satisfies Schema;

function withoutSnapshotTags<S extends Schema>(schema: S): Omit<S, 'SnapshotTags'> {
  const { SnapshotTags: _, ...rest } = schema;
  return rest;
}

/** Properties of every link of a waiter chain (rendered by `WaiterChain`). */
const LINK = {
  Region: required,
  Link: number,
  Links: number,
  BudgetSeconds: number,
  TimeoutSeconds: number,
} as const satisfies Schema;

export const Schemas = {
  [ResourceTypes.AMI_FROM_INSTANCE]: {
    ...OPERATION,
    InstanceId: createOnly(required),
    NoReboot: createOnly(flag),
    IncludeDataVolumes: createOnly(flag),
    BlockDevices: createOnly(objects),
  },
  [ResourceTypes.COPIED_AMI]: {
    ...OPERATION,
    SourceImageId: createOnly(required),
    SourceRegion: createOnly(required),
    Encrypted: createOnly(flag),
    KmsKeyId: createOnly(text),
    CopyImageTags: createOnly(flag),
    CompletionDurationMinutes: createOnly(number),
    // A copy owned by another account: made, followed and deleted as RoleArn there.
    Account: createOnly(text),
    // Another role of the same account reaches the same copy: it is used from the next call on.
    RoleArn: text,
  },
  [ResourceTypes.AMI_FROM_SNAPSHOT]: {
    // No SnapshotTags: the snapshots are the user's, and cdk-ami never tags them.
    ...withoutSnapshotTags(OPERATION),
    RootSnapshotId: createOnly(required),
    // The construct always renders these three (its defaults: /dev/xvda, x86_64, gp3).
    RootDeviceName: createOnly(required),
    RootVolume: createOnly({ kind: 'object' }),
    DataVolumes: createOnly(objects),
    UefiData: createOnly(text),
    Architecture: createOnly({ ...oneOfEnum(ImageArchitecture), required: true }),
    BootMode: createOnly(oneOfEnum(BootMode)),
    EnaSupport: createOnly(flag),
    TpmSupport: createOnly(oneOf(V2)),
    VolumeType: createOnly(required),
  },
  [ResourceTypes.RESTORED_AMI]: {
    ...OPERATION,
    Bucket: createOnly(required),
    ObjectKey: createOnly(required),
  },
  [ResourceTypes.IMPORTED_AMI]: {
    ...OPERATION,
    Disks: createOnly({ kind: 'objects', required: true }),
    Architecture: createOnly(oneOfEnum(ImageArchitecture)),
    Platform: createOnly(oneOfEnum(ImportPlatform)),
    BootMode: createOnly(oneOfEnum(BootMode)),
    LicenseType: createOnly(oneOfEnum(ImportLicenseType)),
    UsageOperation: createOnly(text),
    LicenseConfigurationArns: createOnly({ kind: 'strings' }),
    Encrypted: createOnly(flag),
    KmsKeyId: createOnly(text),
    RoleName: createOnly(text),
  },
  [ResourceTypes.IMPORTED_SNAPSHOTS]: {
    Region: createOnly(required),
    Disks: createOnly({ kind: 'objects', required: true }),
    Description: text,
    Encrypted: createOnly(flag),
    KmsKeyId: createOnly(text),
    RoleName: createOnly(text),
    // The task's tags, which stage 2 puts on its snapshot (with the snapshot-only tags of the adopting link).
    Tags: tagList,
    RemovalPolicy: oneOf(Removal.DESTROY, Removal.RETAIN),
  },
  [ResourceTypes.STORED_AMI]: {
    Region: createOnly(required),
    ImageId: createOnly(required),
    Bucket: createOnly(required),
    // The store task tags the object as it writes it: new tags are a new store.
    ObjectTags: createOnly(tagList),
    RemovalPolicy: oneOf(Removal.DESTROY, Removal.RETAIN),
  },
  [ResourceTypes.WAITER]: {
    ...LINK,
    ImageId: required,
    // The image's settings, on the last link (applied once it is available).
    ImdsSupport: oneOf(V2),
    DisableAt: text,
    LaunchPermissions: objects,
    Public: flag,
    ShareSnapshots: flag,
    DeprecateAt: text,
    DeprecateAfterSeconds: whole,
    // DISABLED renders nothing: an unprotected image is EC2's default.
    DeregistrationProtection: oneOf(...Object.values(DeregistrationProtection).filter((v) => v !== DeregistrationProtection.DISABLED)),
    FastLaunch: { kind: 'object' },
    // AmiFromInstance and BakedAmi: what happens to the instance afterwards.
    InstanceAction: oneOfEnum(InstanceAction),
    InstanceId: text,
    // ImportedAmi: the name and snapshot tags given once the import is done.
    ImageName: text,
    SnapshotTags: tagList,
    // StoredAmi: the links follow the store task.
    Target: oneOf(STORE_TARGET, IMPORT_TARGET, ...Object.values(SnapshotImportTargets)),
    Bucket: text,
    // ImportedAmi: stage 1 (Target import) returns the import's exact IDs; stage 2 adopts exactly those.
    SnapshotArnPrefix: text,
    ImportTaskId: text,
    ImportedImageId: text,
    ImportedSnapshotIds: text,
    // AmiFromDisks: stage 2 removes the snapshots stage 1 found and fails with this, a failed task's status message.
    ImportFailure: text,
    // A copy owned by another account: every link follows it as this role.
    RoleArn: text,
    // An image with a test: false on the links before the test (the image's settings wait for the hand-over link after it).
    HandOver: flag,
  },
  [ResourceTypes.PARAMETER]: {
    Region: createOnly(required),
    Name: createOnly(required),
    // A new image is a new value of the same parameter.
    ImageId: required,
    Description: text,
    RemovalPolicy: oneOf(Removal.DESTROY, Removal.RETAIN),
    // The parameter of a copy owned by another account: written, read and deleted there as this role.
    RoleArn: createOnly(text),
  },
  [ResourceTypes.BUILDER_SETUP]: {
    ...LINK,
    InstanceId: required,
    StopBy: oneOf(StopBy.HANDLER, StopBy.INSTANCE, StopBy.NONE),
    // An image's test instance, not a builder: the path of the image it tests (the result is Tags.TEST; the handler terminates it).
    TestOf: text,
  },
} as const satisfies Record<ResourceType, Schema>;

/**
 * The properties of a resource type whose change replaces the resource (the
 * `createOnly` marks of its schema); none for the waiters, whose links
 * follow whatever image they are given.
 */
export function createOnlyProperties<T extends ResourceType>(type: T): PropertyName<T>[] {
  return Object.entries(Schemas[type] as Schema).filter(([, spec]) => spec.createOnly).map(([name]) => name as PropertyName<T>);
}

/**
 * The attributes each resource type's handler returns in `Data`, which the
 * constructs read with `Fn::GetAtt` (`ProviderResource.attribute`). Types not
 * listed return none.
 */
export const Attributes = {
  [ResourceTypes.WAITER]: ['ImageId', 'ImageName', 'State', 'SnapshotIds', 'SnapshotArns', 'Bucket', 'ObjectKey', 'Failure'],
  [ResourceTypes.BUILDER_SETUP]: ['InstanceId', 'Setup'],
  [ResourceTypes.STORED_AMI]: ['ImageId', 'Bucket', 'ObjectKey'],
  [ResourceTypes.PARAMETER]: ['ParameterName'],
} as const satisfies Partial<Record<ResourceType, readonly string[]>>;

/** The attribute names of a resource type (`never` for a type that returns none). */
export type AttributeName<T extends ResourceType> = T extends keyof typeof Attributes ? typeof Attributes[T][number] : never;

/** What a handler of resource type `T` returns in `Data`: only its attribute names. */
export type ResponseData<T extends ResourceType> = { readonly [A in AttributeName<T>]?: string };

/** The property names of a resource type. */
export type PropertyName<T extends ResourceType> = keyof typeof Schemas[T] & string;

/**
 * The properties of a resource type as a construct renders them: only the
 * schema's names; values may be tokens, numbers and booleans (CloudFormation
 * turns scalars into strings on the way to the handler).
 */
export type RenderedProperties<T extends ResourceType> = { readonly [P in PropertyName<T>]?: unknown };

/**
 * The properties of a resource type as a handler reads them: only the
 * schema's names, each as CloudFormation delivers it.
 */
export type ReceivedProperties<T extends ResourceType> = { readonly [P in PropertyName<T>]?: unknown } & { readonly ServiceToken?: unknown };

/** Properties CloudFormation and the Provider framework add to every resource. */
const FRAMEWORK_PROPERTIES: readonly string[] = ['ServiceToken', 'ServiceTimeout'];

/** Options of `checkProperties`. */
export interface CheckOptions {
  /**
   * Values that stand for something resolved later (CloudFormation
   * intrinsics in a template); they pass any check but `required`.
   */
  readonly isDeferred?: (value: unknown) => boolean;
}

/**
 * What is wrong with a resource's properties, by the schema of its type: an
 * unknown property, a missing required one, or a value of the wrong kind.
 * Each problem is one sentence naming the property, the value and the rule;
 * an empty list means the properties satisfy the contract. An unknown type
 * has no schema and no problems here: the handler refuses it by its type.
 */
export function checkProperties(type: string, properties: Record<string, unknown> | undefined, options: CheckOptions = {}): string[] {
  const schema = (Schemas as Record<string, Schema>)[type];
  if (!schema) return [];
  const props = properties ?? {};
  const deferred = options.isDeferred ?? (() => false);
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(schema)) {
    if (spec.required && isAbsent(props[name])) problems.push(`The resource property ${name} is required.`);
  }
  for (const [name, value] of Object.entries(props)) {
    if (FRAMEWORK_PROPERTIES.includes(name)) continue;
    const spec = schema[name];
    if (!spec) {
      problems.push(`The resource property ${name} is not one that ${type} takes.`);
      continue;
    }
    if (isAbsent(value) || deferred(value)) continue;
    const rule = brokenRule(spec, value, deferred);
    if (rule) problems.push(`The resource property ${name} must be ${rule}, got ${JSON.stringify(value)}.`);
  }
  return problems;
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

/** The rule a value breaks ("a number", ...), or undefined when it keeps it. */
function brokenRule(spec: PropertySpec, value: unknown, deferred: (value: unknown) => boolean): string | undefined {
  switch (spec.kind) {
    case 'string':
      if (typeof value !== 'string' && typeof value !== 'number') return 'a string';
      return spec.values && !spec.values.includes(String(value)) ? `one of ${spec.values.join(', ')}` : undefined;
    case 'number':
      if (spec.whole) return /^\d+$/.test(String(value)) ? undefined : 'a whole number';
      return typeof value !== 'boolean' && typeof value !== 'object' && Number.isFinite(Number(value)) ? undefined : 'a number';
    case 'boolean':
      return value === true || value === false || value === 'true' || value === 'false' ? undefined : '"true" or "false"';
    case 'strings':
      return Array.isArray(value) && value.every((v) => typeof v === 'string' || deferred(v)) ? undefined : 'a list of strings';
    case 'tags':
      return Array.isArray(value) && value.every((t) => deferred(t) || (isObject(t) && typeof t.Key === 'string'))
        ? undefined : 'a list of tags ({ Key, Value })';
    case 'object':
      return isObject(value) ? undefined : 'an object';
    case 'objects':
      return Array.isArray(value) && value.every((v) => isObject(v) || deferred(v)) ? undefined : 'a list of objects';
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
