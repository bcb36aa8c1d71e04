import { Annotations, CfnOutput, Duration, Lazy, RemovalPolicy, Resource, Stack, TagManager, TagType, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { IConstruct } from 'constructs';
import { DeregistrationProtection, LaunchPermission } from '../governance';
import { ImageProps } from '../image';
import { AmiValidationError } from './errors';
import { machineImageConfig } from './machine-image';
import { AmiProvider } from './provider';
import { ProviderResource } from './provider-resource';
import { recordImageCost } from './stack-limits';
import {
  claimImageName, deprecationDelaySeconds, deprecationTime, disableTime, namePrefixFromPath, tagList, validateImageName, validateTags,
  validateTimeout,
} from './validation';
import { WaiterChain } from './waiter-chain';

/** What a concrete image construct passes to `ManagedImage` to build its resources. */
export interface ManagedImageResources {
  readonly resourceType: string;
  readonly properties: Record<string, unknown>;
  /** Properties for the last waiter link only (e.g. the post-availability instance action). */
  readonly lastWaiterProperties?: Record<string, unknown>;
  /** Properties for every waiter link. */
  readonly allWaiterProperties?: Record<string, unknown>;
  /** The name given by the user, if any (validated at synth time). */
  readonly imageName?: string;
  /** The account that owns the image, when it is not the stack's (a copy made by another account). */
  readonly account?: string;
}

/**
 * The shared machinery of every image construct. Kept out of the public API
 * (it is not exported from the package): concrete constructs hold one.
 */
export class ManagedImage {
  public readonly imageId: string;
  public readonly imageName: string;
  public readonly tags: TagManager;
  public readonly operation: ProviderResource;
  public readonly waiters: WaiterChain;
  public readonly output?: CfnOutput;
  public readonly parameter?: ssm.IStringParameter;
  private removalPolicy: RemovalPolicy;
  private readonly shareSnapshots: boolean;
  /** When the image was disabled, if `disableAt` had passed at synth. */
  private readonly disabledAt?: string;
  private readonly launchPermissions: LaunchPermission[] = [];
  private readonly osType: ec2.OperatingSystemType;
  private readonly userData?: ec2.UserData;

  constructor(scope: Resource & { readonly region: string }, props: ImageProps, resources: ManagedImageResources) {
    const timeout = props.timeout ?? Duration.hours(1);
    validateTimeout(scope, timeout);
    validateTags(scope, props.tags);
    validateTags(scope, props.snapshotTags);
    validateImageName(scope, resources.imageName);
    claimImageName(scope, resources.imageName, scope.region, resources.account);
    this.removalPolicy = checkRemovalPolicy(scope, props.removalPolicy ?? RemovalPolicy.RETAIN);
    this.osType = props.osType ?? ec2.OperatingSystemType.LINUX;
    this.userData = props.userData;

    const provider = AmiProvider.of(scope);
    this.tags = new TagManager(TagType.KEY_VALUE, resources.resourceType, props.tags, { tagPropertyName: 'tags' });

    this.operation = new ProviderResource(scope, 'Resource', provider.operationServiceToken, resources.resourceType, {
      Region: scope.region,
      ImageName: resources.imageName,
      NamePrefix: namePrefixFromPath(scope.node.path),
      Description: props.description,
      RemovalPolicy: Lazy.string({ produce: () => policyName(this.removalPolicy) }),
      Tags: Lazy.any({ produce: () => this.tags.renderTags() }, { omitEmptyArray: true }),
      SnapshotTags: tagList(props.snapshotTags),
      // EC2 cannot undo IMDSv2 on an image: every kind replaces its image when this changes.
      ImdsSupport: imdsSupport(props),
      ...resources.properties,
    });

    this.disabledAt = disableTime(scope, props.disableAt);
    this.shareSnapshots = (props.shareSnapshots ?? false) && !props.dangerouslyMakePublic;
    if (this.disabledAt && props.dangerouslyMakePublic) {
      Annotations.of(scope).addWarningV2('cdk-ami:disabledNotShared',
        `dangerouslyMakePublic has no effect while the image is disabled (disableAt ${this.disabledAt}): EC2 makes a disabled image private.`);
    }
    this.grantLaunch(scope, props.launchPermissions ?? []);
    if (this.shareSnapshots) {
      scope.node.addValidation({
        validate: () => this.launchPermissions.some((p) => p.kind === ACCOUNT_GRANTEE) ? [] : [
          'shareSnapshots is set, but no account has a launch permission: EC2 shares snapshots with accounts only, not with organizations or organizational units. Grant an account with LaunchPermission.account(), or remove shareSnapshots.',
        ],
      });
    }
    this.waiters = new WaiterChain(scope, 'Wait', {
      serviceToken: provider.waiterServiceToken,
      region: scope.region,
      imageId: this.operation.ref,
      timeout,
      // Sharing, deprecation and protection are applied by the last link once the
      // image is available, and re-applied in place when they change.
      allLinkProperties: resources.allWaiterProperties,
      lastLinkProperties: {
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
      },
    });
    this.imageId = this.waiters.imageId;
    this.imageName = this.waiters.imageName;

    if (props.output ?? true) {
      this.output = new CfnOutput(scope, 'ImageIdOutput', {
        value: this.imageId,
        description: `AMI ID of ${scope.node.path} (${scope.region})`,
        exportName: props.exportName,
      });
    } else if (props.exportName) {
      throw new AmiValidationError('exportName needs the output: remove exportName or set output to true.', scope);
    }

    if (props.parameterName && resources.account) {
      throw new AmiValidationError(
        `parameterName "${props.parameterName}" cannot be used for an image owned by account ${resources.account}: the stack can only write parameters in its own account.`, scope);
    }
    if (props.parameterName) {
      const stackRegion = Stack.of(scope).region;
      if (!Token.isUnresolved(scope.region) && !Token.isUnresolved(stackRegion) && scope.region !== stackRegion) {
        throw new AmiValidationError(
          `parameterName "${props.parameterName}" cannot be used for an image in ${scope.region}: an aws:ec2:image parameter must live in the image's Region, and this stack deploys to ${stackRegion}.`,
          scope,
        );
      }
      this.parameter = new ssm.StringParameter(scope, 'Parameter', {
        parameterName: props.parameterName,
        stringValue: this.imageId,
        dataType: ssm.ParameterDataType.AWS_EC2_IMAGE,
        description: `AMI ID of ${scope.node.path}, published by cdk-ami`,
      });
    }
    recordImageCost(scope, {
      resources: 1 + this.waiters.links.length + (this.parameter ? 1 : 0),
      waiterLinks: this.waiters.links.length,
      outputs: this.output ? 1 : 0,
    });
  }

  public grantLaunch(scope: IConstruct, permissions: LaunchPermission[]): void {
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
      }
    }
  }

  public applyRemovalPolicy(scope: IConstruct, policy: RemovalPolicy): void {
    this.removalPolicy = checkRemovalPolicy(scope, policy);
  }

  public getImage(imageId: string): ec2.MachineImageConfig {
    return machineImageConfig(imageId, this.osType, this.userData);
  }
}

/** The kind of launch permission that EC2 can also give snapshot permissions to. */
const ACCOUNT_GRANTEE = 'UserId';

function checkRemovalPolicy(scope: IConstruct, policy: RemovalPolicy): RemovalPolicy {
  if (policy !== RemovalPolicy.RETAIN && policy !== RemovalPolicy.DESTROY) {
    throw new AmiValidationError(`removalPolicy ${policy} is not supported for images: use RemovalPolicy.RETAIN (keep the image) or RemovalPolicy.DESTROY (deregister it and delete its snapshots).`, scope);
  }
  return policy;
}

function imdsSupport(props: ImageProps): string | undefined {
  return props.requireImdsv2 ? 'v2.0' : undefined;
}

function policyName(policy: RemovalPolicy): string {
  return policy === RemovalPolicy.DESTROY ? 'destroy' : 'retain';
}

