import { BlockDeviceMapping, CreateImageCommand, DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { createOnceByName, knownStartError } from './shared/adopt';
import { whenCapacityAllows } from './shared/backoff';
import { declareCalls } from './shared/calls';
import { AmiError, errorCode, toAmiError } from './shared/errors';
import { tagSpecifications } from './shared/images';
import { OperationContext, ImageOperation } from './shared/operation';
import { bool, ebsSettings, required, str, tags } from './shared/props';
import { ResourceTypes } from '../src/private/contract';

type Kind = typeof ResourceTypes.AMI_FROM_INSTANCE;

/** Custom::AmiFromInstance's own calls. */
export const CALLS = declareCalls(
  'ec2:CreateImage',
  'ec2:DescribeInstances',
);

/** Custom::AmiFromInstance — EC2 CreateImage from a running or stopped instance. */
export const fromInstance: ImageOperation<Kind> = {
  action: 'CreateImage',
  create: createFromInstance,
};

async function createFromInstance(ctx: OperationContext<Kind>): Promise<string> {
  const instanceId = required(ctx.props, 'InstanceId');
  try {
    return await createOnceByName(ctx, async () => {
      const dataVolumesLeftOut = bool(ctx.props.IncludeDataVolumes, true)
        ? undefined
        : await rootVolumeOnly(ctx.ec2, instanceId, ctx.region);
      const blockDeviceMappings = withChanges(dataVolumesLeftOut, deviceChanges(ctx.props.BlockDevices));
      const out = await whenCapacityAllows('CreateImage', ctx.region, () => ctx.ec2.send(new CreateImageCommand({
        InstanceId: instanceId,
        Name: ctx.imageName,
        Description: str(ctx.props.Description),
        NoReboot: bool(ctx.props.NoReboot, false),
        BlockDeviceMappings: blockDeviceMappings,
        TagSpecifications: tagSpecifications(tags(ctx.props.Tags), ctx.ownership, undefined, tags(ctx.props.SnapshotTags)),
      })));
      return out.ImageId!;
    });
  } catch (err) {
    throw explainCreateImageError(err, instanceId, ctx);
  }
}

/** The construct's `blockDevices`: a device left out, or an EBS volume with changed settings. */
function deviceChanges(value: unknown): BlockDeviceMapping[] {
  if (!Array.isArray(value)) return [];
  return value.map((device: Record<string, unknown>) => (bool(device.Exclude, false)
    ? { DeviceName: required(device, 'DeviceName'), NoDevice: '' }
    : { DeviceName: required(device, 'DeviceName'), Ebs: ebsSettings(device) }));
}

/** Mappings for CreateImage; a change to a device replaces the default mapping of that device. */
function withChanges(defaults: BlockDeviceMapping[] | undefined, changes: BlockDeviceMapping[]): BlockDeviceMapping[] | undefined {
  if (defaults === undefined && changes.length === 0) return undefined;
  const changed = new Set(changes.map((c) => c.DeviceName));
  return [...(defaults ?? []).filter((d) => !changed.has(d.DeviceName)), ...changes];
}

/** NoDevice mappings for every device but the root, read from the instance. */
async function rootVolumeOnly(ec2: EC2Client, instanceId: string, region: string): Promise<BlockDeviceMapping[]> {
  let instance;
  try {
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    instance = out.Reservations?.[0]?.Instances?.[0];
  } catch (err) {
    throw explainInstanceError(err, instanceId, region) ?? toAmiError(err, `Reading instance ${instanceId} in ${region}`);
  }
  if (!instance) throw new AmiError(`Instance ${instanceId} does not exist in ${region}.`);
  return (instance.BlockDeviceMappings ?? [])
    .filter((m) => m.DeviceName && m.DeviceName !== instance.RootDeviceName)
    .map((m) => ({ DeviceName: m.DeviceName, NoDevice: '' }));
}

function explainInstanceError(err: unknown, instanceId: string, region: string): AmiError | undefined {
  switch (errorCode(err)) {
    case 'InvalidInstanceID.NotFound':
      return new AmiError(`Instance ${instanceId} does not exist in ${region}.`);
    case 'InvalidInstanceID.Malformed':
      return new AmiError(`Instance ID "${instanceId}" is malformed: instance IDs look like i-0123456789abcdef0.`);
    default:
      return undefined;
  }
}

function explainCreateImageError(err: unknown, instanceId: string, ctx: OperationContext<Kind>): AmiError {
  const known = explainInstanceError(err, instanceId, ctx.region) ?? knownStartError(err, ctx);
  if (known) return known;
  const message = err instanceof Error ? err.message : String(err);
  switch (errorCode(err)) {
    case 'IncorrectInstanceState':
      return new AmiError(`Instance ${instanceId} in ${ctx.region} cannot be imaged in its current state: ${message}`);
    default:
      return toAmiError(err, `CreateImage of instance ${instanceId} in ${ctx.region}`);
  }
}
