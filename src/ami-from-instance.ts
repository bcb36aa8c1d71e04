import { Annotations, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { CopyableImageBase } from './copied-ami';
import { InstanceAction } from './enums';
import { ImageProps } from './image-options';
import { renderInstanceBlockDevices } from './private/block-devices';
import { ResourceTypes } from './private/contract';
import { AmiValidationError } from './private/errors';
import { grantImageOfInstance } from './private/instance-grants';
import { ManagedImage } from './private/managed-image';
import { validateEc2Id } from './private/validation';

/**
 * Properties of an `AmiFromInstance`.
 */
export interface AmiFromInstanceProps extends ImageProps {
  /**
   * The instance to image. Give this or `instanceId`.
   * Changing it replaces the image.
   *
   * The image is made again only when the instance's ID changes. An
   * `ec2.Instance` without `userDataCausesReplacement` is updated in place
   * when its user data changes, so its image stays the old one; synth warns
   * (`cdk-ami:userDataUpdatesInPlace`). Set `userDataCausesReplacement: true`
   * on it, or bake with `BakedAmi`, to get a new image for each change.
   *
   * @default - `instanceId` is used
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateImage.html
   */
  readonly instance?: ec2.IInstance;

  /**
   * The ID of the instance to image, e.g. `i-0123456789abcdef0`. Give this or `instance`.
   * Changing it replaces the image.
   *
   * @default - `instance` is used
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateImage.html
   */
  readonly instanceId?: string;

  /**
   * Create the image without shutting down and rebooting the instance first.
   * Faster and without downtime, but file system integrity of the image is
   * not guaranteed. Changing it replaces the image.
   *
   * @default false
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateImage.html
   */
  readonly noReboot?: boolean;

  /**
   * Include the instance's data volumes in the image. With `false`, only the
   * root volume is imaged (every other device is mapped to NoDevice). Changing
   * it replaces the image.
   *
   * @default true
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateImage.html
   */
  readonly includeDataVolumes?: boolean;

  /**
   * What to do with the source instance once its image is available.
   *
   * @default InstanceAction.NONE
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_StopInstances.html
   */
  readonly instanceAction?: InstanceAction;

  /**
   * Changes to the instance's devices in the image, as aws-cdk-lib's
   * `ec2.BlockDevice`s: leave a device out with `mappingEnabled: false` (its
   * `volume` is not read), or change a volume's size (at least its current
   * size), type, IOPS, throughput or delete-on-termination with
   * `ec2.BlockDeviceVolume.ebs(size, options)`. Devices not listed are imaged
   * as they are (or left out, with `includeDataVolumes: false`). Instance
   * store volumes, snapshots and encryption settings are refused: the image's
   * volumes are the instance's. Changing it replaces the image.
   *
   * @default - every device as it is on the instance
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateImage.html
   */
  readonly blockDevices?: ec2.BlockDevice[];
}

/**
 * An AMI created from an EC2 instance (EC2 CreateImage), available when the
 * deployment finishes.
 *
 * The stack waits until the image is `available`; `imageId` (and the
 * `ec2.IMachineImage` view of this construct) resolve only then. On removal
 * the image is kept (default) or deregistered with its snapshots; a failed or
 * rolled-back deployment always deletes the image it started.
 *
 * @example
 * declare const vpc: ec2.IVpc;
 * declare const builder: ec2.Instance;
 * const image = new AmiFromInstance(this, 'Golden', {
 *   instance: builder,
 *   instanceAction: InstanceAction.STOP,
 * });
 * new ec2.Instance(this, 'FromGolden', {
 *   vpc,
 *   instanceType: new ec2.InstanceType('t3.micro'),
 *   machineImage: image,
 * });
 */
export class AmiFromInstance extends CopyableImageBase {
  /**
   * The ID of the source instance.
   */
  public readonly instanceId: string;

  constructor(scope: Construct, id: string, props: AmiFromInstanceProps) {
    super(scope, id);
    this.instanceId = sourceInstanceId(this, props);
    const action = props.instanceAction ?? InstanceAction.NONE;

    const managed = new ManagedImage(this, props, {
      resourceType: ResourceTypes.AMI_FROM_INSTANCE,
      imageName: props.imageName,
      properties: {
        InstanceId: this.instanceId,
        NoReboot: props.noReboot ?? false,
        IncludeDataVolumes: props.includeDataVolumes ?? true,
        BlockDevices: renderInstanceBlockDevices(this, props.blockDevices),
      },
      lastWaiterProperties: action === InstanceAction.NONE ? undefined : {
        InstanceAction: action,
        InstanceId: this.instanceId,
      },
    });
    this._attach(managed);

    grantImageOfInstance(this, this.instanceId, action, managed.operation);
    if (props.instance instanceof ec2.Instance) warnIfUserDataUpdatesInPlace(this, props.instance);
  }
}

/**
 * An `ec2.Instance` replaces itself on a user data change only with
 * `userDataCausesReplacement` (or `initOptions`), which it shows by adding a
 * digest of the user data to its logical ID. Without it, CloudFormation
 * updates the instance in place: its ID stays, so no new image is made.
 */
function warnIfUserDataUpdatesInPlace(scope: AmiFromInstance, instance: ec2.Instance): void {
  const cfn = instance.instance;
  const stack = Stack.of(cfn);
  if (stack.resolve(cfn.logicalId) !== stack.getLogicalId(cfn)) return;
  Annotations.of(scope).addWarningV2('cdk-ami:userDataUpdatesInPlace',
    `${instance.node.path} has no userDataCausesReplacement: a change to its user data updates the instance in place, `
    + 'its ID stays the same, and this image is not made again. To image every change, set userDataCausesReplacement: true '
    + 'on the instance (a new instance, so a new image), or use BakedAmi, which bakes a new image when its setup changes.');
}

function sourceInstanceId(scope: Construct, props: AmiFromInstanceProps): string {
  if (props.instance && props.instanceId) {
    throw new AmiValidationError('Give either instance or instanceId, not both.', scope);
  }
  const instanceId = props.instance?.instanceId ?? props.instanceId;
  if (!instanceId) {
    throw new AmiValidationError('AmiFromInstance needs a source: set instance (an ec2.IInstance) or instanceId.', scope);
  }
  validateEc2Id(scope, 'instanceId', instanceId, 'instance');
  return instanceId;
}
