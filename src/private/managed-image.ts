import { CfnOutput, Duration, Lazy, RemovalPolicy, Resource, Stack, TagManager, TagType, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { IConstruct } from 'constructs';
import { DeregistrationProtection, LaunchPermission } from '../governance';
import { ImageProps } from '../image';
import { AmiValidationError } from './errors';
import { machineImageConfig } from './machine-image';
import { AmiProvider } from './provider';
import { ProviderResource } from './provider-resource';
import { deprecationTime, namePrefixFromPath, validateImageName, validateTags, validateTimeout } from './validation';
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
  private readonly launchPermissions: LaunchPermission[] = [];
  private readonly osType: ec2.OperatingSystemType;
  private readonly userData?: ec2.UserData;

  constructor(scope: Resource & { readonly region: string }, props: ImageProps, resources: ManagedImageResources) {
    const timeout = props.timeout ?? Duration.hours(1);
    validateTimeout(scope, timeout);
    validateTags(scope, props.tags);
    validateImageName(scope, resources.imageName);
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
      ...resources.properties,
    });

    this.grantLaunch(scope, props.launchPermissions ?? []);
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
        LaunchPermissions: Lazy.any({ produce: () => this.launchPermissions.map((p) => p._render()) }, { omitEmptyArray: true }),
        Public: props.dangerouslyMakePublic || undefined,
        ShareSnapshots: props.shareSnapshots || undefined,
        DeprecateAt: deprecationTime(scope, props.deprecateAt),
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
  }

  public grantLaunch(scope: IConstruct, permissions: LaunchPermission[]): void {
    for (const permission of permissions) {
      permission._validate(scope);
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

function checkRemovalPolicy(scope: IConstruct, policy: RemovalPolicy): RemovalPolicy {
  if (policy !== RemovalPolicy.RETAIN && policy !== RemovalPolicy.DESTROY) {
    throw new AmiValidationError(`removalPolicy ${policy} is not supported for images: use RemovalPolicy.RETAIN (keep the image) or RemovalPolicy.DESTROY (deregister it and delete its snapshots).`, scope);
  }
  return policy;
}

function policyName(policy: RemovalPolicy): string {
  return policy === RemovalPolicy.DESTROY ? 'destroy' : 'retain';
}

