import { Annotations, CfnOutput, Duration, Lazy, RemovalPolicy, Resource, Stack, TagManager, TagType, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { IConstruct, IDependable } from 'constructs';
import { DeregistrationProtection } from '../enums';
import { LaunchPermission } from '../governance';
import { ImageProps } from '../image-options';
import { ImageRetention } from '../image-retention';
import { OperationType, RenderedProperties, ResourceTypes, Timing, V2 } from './contract';
import { AmiValidationError } from './errors';
import { grantFastLaunchTemplate, renderFastLaunch } from './fast-launch';
import { followImageRemovalPolicy, RemoteImageParameter } from './image-parameter';
import { ImageState } from './image-state';
import { shareKeyWith, warnDefaultKeyNotShareable } from './key-sharing';
import { machineImageConfig } from './machine-image';
import { AmiProvider } from './provider';
import { ProviderResource } from './provider-resource';
import { addRetention } from './retention';
import { recordImageCost } from './stack-limits';
import {
  claimImageName, deprecationDelaySeconds, deprecationTime, disableTime, namePrefixFromPath, removalProperty, tagList, validateImageName,
  validateRemovalPolicy, validateTags, validateTimeout,
} from './validation';
import { WaiterChain } from './waiter-chain';

/** What a concrete image construct passes to `ManagedImage` to build its resources. */
export interface ManagedImageResources<T extends OperationType> {
  readonly resourceType: T;
  readonly properties: RenderedProperties<T>;
  /** Properties for the last waiter link only (e.g. the post-availability instance action). */
  readonly lastWaiterProperties?: RenderedProperties<typeof ResourceTypes.WAITER>;
  /** Properties for every waiter link. */
  readonly allWaiterProperties?: RenderedProperties<typeof ResourceTypes.WAITER>;
  /** The name given by the user, if any (validated at synth time). */
  readonly imageName?: string;
  /** The customer managed key of the image's snapshots, if the construct knows it. */
  readonly encryptionKey?: kms.IKey;
  /**
   * The image is encrypted without a named key, so with the account's EBS
   * default key (the AWS managed `aws/ebs` unless the account changed it),
   * which grantees in other accounts cannot use.
   */
  readonly encryptedWithDefaultKey?: boolean;
  /**
   * Whether the image is Windows, where the kind knows it from other than
   * `osType` (e.g. an import's platform), and the field that says so.
   */
  readonly platform?: { readonly windows: boolean; readonly knownFrom: string };
  /**
   * Resources between the operation and the waiter chain (an import's first
   * stage): given the operation and the image's timeout, they return what the
   * chain starts from. @default - the chain waits for the operation's image
   */
  readonly beforeWaiters?: (operation: ProviderResource, timeout: Duration) => WaiterStart;
  /** The account that owns the image, when it is not the stack's (a copy made by another account). */
  readonly account?: string;
  /** The role in `account` that the provider acts as there (its parameter is written as this role too). */
  readonly roleArn?: string;
  /** Whether the image's snapshots carry the stack's tag (RegisterImage keeps the user's snapshots as they are). @default true */
  readonly snapshotsTagged?: boolean;
}

/** What the waiter chain starts from when `beforeWaiters` is given. */
export interface WaiterStart {
  /** The subject of the chain's first link. */
  readonly imageId: string;
  /** Properties of every link of the chain. */
  readonly properties: RenderedProperties<typeof ResourceTypes.WAITER>;
  /** What the chain's first link waits for besides its properties (e.g. IAM policies). */
  readonly dependencies: IDependable[];
  /** How long the chain waits. */
  readonly timeout: Duration;
  /** Resources these stages add to the stack, and how many of them are waiter links. */
  readonly resources: number;
  readonly waiterLinks: number;
}

/**
 * The shared machinery of every image construct. Kept out of the public API
 * (it is not exported from the package): concrete constructs hold one.
 */
export class ManagedImage<T extends OperationType = OperationType> implements ImageState {
  public readonly imageId: string;
  public readonly region: string;
  /** The customer managed key of the image's snapshots: every grantee of the launch permissions may use it (key-sharing.ts). */
  public readonly encryptionKey?: kms.IKey;
  public readonly snapshotsTagged: boolean;
  private readonly encryptedWithDefaultKey: boolean;
  public readonly imageName: string;
  public readonly tags: TagManager;
  public readonly operation: ProviderResource<T>;
  public readonly waiters: WaiterChain;
  public readonly output?: CfnOutput;
  public readonly parameter?: ssm.IStringParameter;
  public readonly retention?: ImageRetention;
  public readonly testGrantPrincipal?: iam.IPrincipal;
  private removalPolicy: RemovalPolicy;
  private readonly shareSnapshots: boolean;
  /** When the image was disabled, if `disableAt` had passed at synth. */
  private readonly disabledAt?: string;
  private readonly launchPermissions: LaunchPermission[] = [];
  private readonly osType: ec2.OperatingSystemType;
  private readonly userData?: ec2.UserData;

  constructor(scope: Resource & { readonly region: string }, props: ImageProps, resources: ManagedImageResources<T>) {
    const timeout = props.timeout ?? Duration.hours(1);
    validateTimeout(scope, timeout);
    validateTags(scope, props.tags);
    validateTags(scope, props.snapshotTags);
    validateImageName(scope, resources.imageName);
    claimImageName(scope, resources.imageName, scope.region, resources.account);
    this.removalPolicy = validateRemovalPolicy(scope, props.removalPolicy ?? RemovalPolicy.RETAIN, IMAGE_REMOVAL);
    this.osType = props.osType ?? ec2.OperatingSystemType.LINUX;
    this.userData = props.userData;

    this.region = scope.region;
    this.encryptionKey = resources.encryptionKey;
    this.snapshotsTagged = resources.snapshotsTagged ?? true;
    this.encryptedWithDefaultKey = resources.encryptedWithDefaultKey ?? false;
    const provider = AmiProvider.of(scope);
    const fastLaunch = renderFastLaunch(scope, props.fastLaunch, ...knownPlatform(props, resources));
    this.tags = new TagManager(TagType.KEY_VALUE, resources.resourceType, props.tags, { tagPropertyName: 'tags' });

    this.operation = new ProviderResource(scope, 'Resource', provider.operationServiceToken, resources.resourceType, {
      Region: scope.region,
      ImageName: resources.imageName,
      NamePrefix: namePrefixFromPath(scope.node.path),
      Description: props.description,
      RemovalPolicy: Lazy.string({ produce: () => removalProperty(this.removalPolicy) }),
      Tags: Lazy.any({ produce: () => this.tags.renderTags() }, { omitEmptyArray: true }),
      SnapshotTags: tagList(props.snapshotTags),
      // EC2 cannot undo IMDSv2 on an image: every kind replaces its image when this changes.
      ImdsSupport: imdsSupport(props),
      // Tells a delete to disable fast launch before it deregisters the image.
      FastLaunch: fastLaunch ? true : undefined,
      ...resources.properties,
    });
    this.operation.onRemovalPolicy((policy) => this.applyRemovalPolicy(scope, policy));
    grantFastLaunchTemplate(scope, props.fastLaunch, this.operation);

    this.disabledAt = disableTime(scope, props.disableAt);
    this.shareSnapshots = (props.shareSnapshots ?? false) && !props.dangerouslyMakePublic;
    if (this.disabledAt && props.dangerouslyMakePublic) {
      Annotations.of(scope).addWarningV2('cdk-ami:disabledNotShared',
        `dangerouslyMakePublic has no effect while the image is disabled (disableAt ${this.disabledAt}): EC2 makes a disabled image private.`);
    }
    this.addLaunchPermission(scope, props.launchPermissions ?? []);
    if (this.shareSnapshots) {
      scope.node.addValidation({
        validate: () => this.launchPermissions.some((p) => p.kind === ACCOUNT_GRANTEE) ? [] : [
          'shareSnapshots is set, but no account has a launch permission: EC2 shares snapshots with accounts only, not with organizations or organizational units. Grant an account with LaunchPermission.account(), or remove shareSnapshots.',
        ],
      });
    }
    const start = resources.beforeWaiters?.(this.operation, timeout);
    // Sharing, deprecation and protection are applied by the last link once the
    // image is available, and re-applied in place when they change.
    const handOver: RenderedProperties<typeof ResourceTypes.WAITER> = {
      ...resources.lastWaiterProperties,
      // Set once the image is available, before the last link hands out its ID.
      ImdsSupport: imdsSupport(props),
      DisableAt: this.disabledAt,
      LaunchPermissions: Lazy.any({ produce: () => this.launchPermissions.map((p) => p._render()) }, { omitEmptyArray: true }),
      Public: props.dangerouslyMakePublic || undefined,
      ShareSnapshots: props.shareSnapshots || undefined,
      DeprecateAt: deprecationTime(scope, props.deprecateAt),
      DeprecateAfterSeconds: deprecationDelaySeconds(scope, props.deprecateAfter, props.deprecateAt),
      DeregistrationProtection: props.deregistrationProtection === DeregistrationProtection.DISABLED ? undefined : props.deregistrationProtection,
      // Enabled last, once everything else is set; the link completes when EC2 reports it enabled.
      FastLaunch: fastLaunch,
    };
    if (props.test) validateTestedImage(scope, resources.account);
    this.waiters = new WaiterChain(scope, 'Wait', {
      serviceToken: provider.waiterServiceToken,
      region: scope.region,
      imageId: start?.imageId ?? this.operation.ref,
      timeout: start?.timeout ?? timeout,
      allLinkProperties: { ...resources.allWaiterProperties, ...start?.properties },
      // With a test, the image's settings wait for the hand-over link, after the test.
      lastLinkProperties: props.test ? { HandOver: false } : handOver,
    });
    for (const dependency of start?.dependencies ?? []) this.waiters.links[0].node.addDependency(dependency);
    let handedOver = this.waiters;
    let testCost = { resources: 0, waiterLinks: 0 };
    if (props.test) {
      const windows = knownPlatform(props, resources)[0] === true;
      const test = props.test._bind(scope, { imageId: this.waiters.imageId, region: scope.region, windows });
      this.testGrantPrincipal = test.grantPrincipal;
      // One link: the image is available already; only fast launch may take a while.
      handedOver = new WaiterChain(scope, 'HandOver', {
        serviceToken: provider.waiterServiceToken,
        region: scope.region,
        imageId: this.waiters.imageId,
        timeout: Duration.seconds(Math.min(timeout.toSeconds(), Timing.LINK_BUDGET_SECONDS)),
        lastLinkProperties: handOver,
      });
      handedOver.links[0].node.addDependency(test.result);
      testCost = { resources: test.resources + 1, waiterLinks: test.waiterLinks + 1 };
    }
    this.imageId = handedOver.imageId;
    this.imageName = handedOver.lastAttribute('ImageName');

    if (props.output ?? true) {
      this.output = new CfnOutput(scope, 'ImageIdOutput', {
        value: this.imageId,
        description: `AMI ID of ${scope.node.path} (${scope.region})`,
        exportName: props.exportName,
      });
    } else if (props.exportName) {
      throw new AmiValidationError('exportName needs the output: remove exportName or set output to true.', scope);
    }

    if (props.parameterName) {
      const stackRegion = Stack.of(scope).region;
      const description = `AMI ID of ${scope.node.path}, published by cdk-ami`;
      if (resources.account || (!Token.isUnresolved(scope.region) && scope.region !== stackRegion)) {
        // CloudFormation makes parameters only in the stack's Region and account: the provider writes this one where the image is.
        this.parameter = new RemoteImageParameter(scope, 'Parameter', {
          parameterName: props.parameterName,
          region: scope.region,
          account: resources.account,
          roleArn: resources.roleArn,
          imageId: this.imageId,
          description,
          removalPolicy: () => this.removalPolicy,
        });
      } else {
        const parameter = new ssm.StringParameter(scope, 'Parameter', {
          parameterName: props.parameterName,
          stringValue: this.imageId,
          dataType: ssm.ParameterDataType.AWS_EC2_IMAGE,
          description,
        });
        followImageRemovalPolicy(parameter, () => this.removalPolicy);
        this.parameter = parameter;
      }
    }
    if (props.retention) {
      this.retention = props.retention;
      addRetention(scope, {
        retention: props.retention,
        region: scope.region,
        imageId: this.imageId,
        operation: this.operation,
        removalPolicy: () => this.removalPolicy,
        roleArn: resources.roleArn,
      });
    }
    recordImageCost(scope, {
      resources: 1 + this.waiters.links.length + (this.parameter ? 1 : 0) + (this.retention ? 1 : 0) + (start?.resources ?? 0) + testCost.resources,
      waiterLinks: this.waiters.links.length + (start?.waiterLinks ?? 0) + testCost.waiterLinks,
      outputs: this.output ? 1 : 0,
    });
  }

  public addLaunchPermission(scope: IConstruct, permissions: LaunchPermission[]): void {
    for (const permission of permissions) {
      permission._validate(scope);
      if (this.shareSnapshots && permission.kind !== ACCOUNT_GRANTEE) {
        Annotations.of(scope).addWarningV2('cdk-ami:snapshotsNotShared',
          `shareSnapshots does not reach ${permission.value}: EC2 shares snapshots with accounts only, so the accounts of this organization or organizational unit can launch the image but not copy it.`);
      }
      if (this.disabledAt) {
        Annotations.of(scope).addWarningV2('cdk-ami:disabledNotShared',
          `The launch permission for ${permission.value} has no effect while the image is disabled (disableAt ${this.disabledAt}): EC2 removes every launch permission of a disabled image, and applies them again when it is enabled.`);
      }
      if (!this.launchPermissions.some((p) => p.kind === permission.kind && p.value === permission.value)) {
        this.launchPermissions.push(permission);
        if (this.encryptionKey) shareKeyWith(scope, this.encryptionKey, [this.region], permission);
        else if (this.encryptedWithDefaultKey) warnDefaultKeyNotShareable(scope, permission, this.region);
      }
    }
  }

  public applyRemovalPolicy(scope: IConstruct, policy: RemovalPolicy): void {
    this.removalPolicy = validateRemovalPolicy(scope, policy, IMAGE_REMOVAL);
  }

  public machineImage(): ec2.MachineImageConfig {
    return machineImageConfig(this.imageId, this.osType, this.userData);
  }
}

/** What the removal policies do to an image. */
const IMAGE_REMOVAL = { noun: 'images', retain: 'keep the image', destroy: 'deregister it and delete its snapshots' };

/** The kind of launch permission that EC2 can also give snapshot permissions to. */
const ACCOUNT_GRANTEE = 'UserId';

/** Whether the image is Windows where synth knows it, and how that is known. */
function knownPlatform(props: ImageProps, resources: ManagedImageResources<OperationType>): [boolean | undefined, string] {
  if (resources.platform) return [resources.platform.windows, resources.platform.knownFrom];
  if (props.osType === undefined) return [undefined, 'the image'];
  return [props.osType === ec2.OperatingSystemType.WINDOWS, `the image (osType ${ec2.OperatingSystemType[props.osType]})`];
}

/**
 * The test instance is an AWS::EC2::Instance of the stack: it can only test
 * an image of the stack's Region and account.
 */
function validateTestedImage(scope: Resource & { readonly region: string }, account: string | undefined): void {
  const stack = Stack.of(scope);
  const where = account && account !== stack.account ? `account ${account}`
    : !Token.isUnresolved(scope.region) && scope.region !== stack.region ? `Region ${scope.region}` : undefined;
  if (!where) return;
  throw new AmiValidationError(`test is set on an image in ${where}, outside the stack's: the test instance is a resource of the stack, which launches only in its own Region and account; `
    + 'test the source image instead, or copy the image with a stack of that Region and account and test it there.', scope);
}

function imdsSupport(props: ImageProps): string | undefined {
  return props.requireImdsv2 ? V2 : undefined;
}

