import { BlockDeviceMapping, CreateImageCommand, DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { AmiError, errorCode, toAmiError } from './shared/errors';
import { findImageByName, tagSpecifications } from './shared/images';
import { log } from './shared/log';
import { OperationContext, ImageOperation } from './shared/operation';
import { isFromRequest, isOwnedBy } from './shared/ownership';
import { bool, required, str, tags } from './shared/props';

/** Custom::AmiFromInstance — EC2 CreateImage from a running or stopped instance. */
export const fromInstance: ImageOperation = {
  action: 'CreateImage',
  replaceOn: ['InstanceId', 'NoReboot', 'IncludeDataVolumes'],
  create: createFromInstance,
};

async function createFromInstance(ctx: OperationContext): Promise<string> {
  const instanceId = required(ctx.props, 'InstanceId');
  // CreateImage takes no client token: a retried request recognises the image
  // it already started by its name and ownership tags.
  const adopted = await adoptByName(ctx);
  if (adopted) return adopted;

  const blockDeviceMappings = bool(ctx.props.IncludeDataVolumes, true)
    ? undefined
    : await rootVolumeOnly(ctx.ec2, instanceId, ctx.region);
  try {
    const out = await ctx.ec2.send(new CreateImageCommand({
      InstanceId: instanceId,
      Name: ctx.imageName,
      Description: str(ctx.props.Description),
      NoReboot: bool(ctx.props.NoReboot, false),
      BlockDeviceMappings: blockDeviceMappings,
      TagSpecifications: tagSpecifications(tags(ctx.props.Tags), ctx.ownership),
    }));
    return out.ImageId!;
  } catch (err) {
    if (errorCode(err) === 'InvalidAMIName.Duplicate') {
      // Lost a race with our own earlier attempt, or the name is someone else's.
      const raced = await adoptByName(ctx);
      if (raced) return raced;
    }
    throw explainCreateImageError(err, instanceId, ctx);
  }
}

/**
 * The image this request already created under this name, if any. A name held
 * by any other image is an error that says whose it is.
 */
async function adoptByName(ctx: OperationContext): Promise<string | undefined> {
  const existing = await findImageByName(ctx.ec2, ctx.imageName);
  if (!existing) return undefined;
  if (isFromRequest(existing, ctx.ownership)) {
    log('info', 'adopting the image this request already started', { imageId: existing.ImageId, imageName: ctx.imageName });
    return existing.ImageId!;
  }
  if (isOwnedBy(existing, ctx.ownership)) {
    if (ctx.event.RequestType === 'Update' && existing.ImageId === ctx.event.PhysicalResourceId) {
      // A replacement that keeps a fixed name: the image it replaces still exists.
      throw new AmiError(
        `Image name "${ctx.imageName}" is used in ${ctx.region} by ${existing.ImageId}, the image this update replaces: CloudFormation creates the new image before it deletes the old one, so the new image needs another name. Change imageName too, or omit it to get a unique one.`,
      );
    }
    throw new AmiError(
      `Image name "${ctx.imageName}" is already used in ${ctx.region} by ${existing.ImageId}, an earlier image of this resource that was kept (removalPolicy RETAIN). Give the new image another imageName, or omit imageName to get a unique one.`,
    );
  }
  throw new AmiError(
    `Image name "${ctx.imageName}" is already used in ${ctx.region} by ${existing.ImageId}, which this resource did not create. Choose another imageName, or omit it to get a unique one.`,
  );
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

function explainCreateImageError(err: unknown, instanceId: string, ctx: OperationContext): AmiError {
  const known = explainInstanceError(err, instanceId, ctx.region);
  if (known) return known;
  const message = err instanceof Error ? err.message : String(err);
  switch (errorCode(err)) {
    case 'IncorrectInstanceState':
      return new AmiError(`Instance ${instanceId} in ${ctx.region} cannot be imaged in its current state: ${message}`);
    case 'InvalidAMIName.Malformed':
      return new AmiError(`Image name "${ctx.imageName}" is not valid: ${message}`);
    case 'InvalidAMIName.Duplicate':
      return new AmiError(`Image name "${ctx.imageName}" is already used in ${ctx.region}. Choose another imageName, or omit it to get a unique one.`);
    default:
      return toAmiError(err, `CreateImage of instance ${instanceId} in ${ctx.region}`);
  }
}
