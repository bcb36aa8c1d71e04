import { Aws, Lazy, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { imageArns } from './arns';
import { ResourceTypes, Tags } from './contract';
import { AmiProvider } from './provider';
import { ProviderResource } from './provider-resource';
import { retainedMarkStatement } from './tag-conditions';
import { removalProperty } from './validation';
import type { ImageRetention } from '../image-retention';

/** What the retention resource of one image is made from. */
export interface RetentionResourceProps {
  readonly retention: ImageRetention;
  /** The image's Region. */
  readonly region: string;
  /** The hand-over's image ID (the last waiter link's): the sweep runs once it is available. */
  readonly imageId: string;
  /** The operation resource that makes the generations. */
  readonly operation: ProviderResource;
  /** The image's removal policy, as it stands when the template is rendered. */
  readonly removalPolicy: () => RemovalPolicy;
  /** The role of another account that owns the image (a copy's `copyRole`): the sweep runs as it there. */
  readonly roleArn?: string;
}

/**
 * The `Custom::AmiRetention` resource of an image with `retention`, and what
 * the provider's onEvent role needs for it. A copy owned by another account
 * is swept as its copy role, whose own statements cover it
 * (`CrossAccountCopyRole`): the provider's roles get nothing more then.
 */
export function addRetention(scope: Construct, props: RetentionResourceProps): ProviderResource<typeof ResourceTypes.RETENTION> {
  const provider = AmiProvider.of(scope);
  const resource = new ProviderResource(scope, 'Retention', provider.operationServiceToken, ResourceTypes.RETENTION, {
    Region: props.region,
    RoleArn: props.roleArn,
    ImageId: props.imageId,
    OperationLogicalId: Stack.of(scope).getLogicalId(props.operation),
    ...props.retention._render(scope),
    RemovalPolicy: Lazy.string({ produce: () => removalProperty(props.removalPolicy()) }),
  });
  if (!props.roleArn) grantRetention(provider);
  return resource;
}

/**
 * The sweep's calls beyond what every image's operation already may
 * (DescribeImages, DescribeImageReferences, DeregisterImage and DeleteSnapshot
 * of the stack's images): deprecating and disabling the stack's images, and
 * the `cdk-ami:retained` mark. The owner tag is a hash IAM cannot name: the
 * stack tag bounds these calls, and the handler touches only images with its
 * operation's owner tag.
 */
function grantRetention(provider: AmiProvider): void {
  const ownStack = { StringEquals: { [`aws:ResourceTag/${Tags.STACK}`]: Aws.STACK_ID } };
  provider.grantOperation('retention-retire', {
    sid: 'RetireOwnImages',
    actions: ['ec2:EnableImageDeprecation', 'ec2:DisableImage'],
    resources: [imageArns()],
    conditions: ownStack,
  });
  provider.grantOperation('retention-mark', retainedMarkStatement('MarkRetainedOwnImages', ownStack));
}
