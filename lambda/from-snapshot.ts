import { BlockDeviceMapping, RegisterImageCommand, VolumeType } from '@aws-sdk/client-ec2';
import { startNamedImage } from './shared/adopt';
import { declareCalls } from './shared/calls';
import { AmiError, errorCode, errorMessage, toAmiError } from './shared/errors';
import { tagSpecifications } from './shared/images';
import { ImageOperation, OperationContext } from './shared/operation';
import { bool, ebsSettings, required, str, tags } from './shared/props';
import { ResourceTypes } from '../src/private/contract';

type Kind = typeof ResourceTypes.AMI_FROM_SNAPSHOT;

/** Custom::AmiFromSnapshot's own calls. */
export const CALLS = declareCalls(
  'ec2:RegisterImage',
);

/**
 * Custom::AmiFromSnapshot — EC2 RegisterImage from EBS snapshots. The
 * snapshots stay the user's: the image is deregistered on delete, the
 * snapshots are never deleted or retagged.
 */
export const fromSnapshot: ImageOperation<Kind> = {
  action: 'RegisterImage',
  snapshotsBelongToUser: true,
  create: register,
};

interface DataVolume extends Record<string, unknown> {
  readonly DeviceName: string;
  readonly SnapshotId: string;
}

async function register(ctx: OperationContext<Kind>): Promise<string> {
  const rootSnapshotId = required(ctx.props, 'RootSnapshotId');
  const rootDeviceName = required(ctx.props, 'RootDeviceName');
  const volumeType = required(ctx.props, 'VolumeType') as VolumeType;
  const data = (Array.isArray(ctx.props.DataVolumes) ? ctx.props.DataVolumes : []) as DataVolume[];
  const rootVolume = (typeof ctx.props.RootVolume === 'object' && ctx.props.RootVolume !== null ? ctx.props.RootVolume : {}) as Record<string, unknown>;
  const volumeOf = (SnapshotId: string) => ({ SnapshotId, DeleteOnTermination: true, VolumeType: volumeType });
  const mappings: BlockDeviceMapping[] = [
    { DeviceName: rootDeviceName, Ebs: ebsSettings(rootVolume, volumeOf(rootSnapshotId)) },
    ...data.map((d) => ({ DeviceName: d.DeviceName, Ebs: ebsSettings(d, volumeOf(d.SnapshotId)) })),
  ];
  return startNamedImage(ctx, 'RegisterImage', async () => (await ctx.ec2.send(new RegisterImageCommand({
    Name: ctx.imageName,
    Description: str(ctx.props.Description),
    Architecture: required(ctx.props, 'Architecture') as never,
    BootMode: str(ctx.props.BootMode) as never,
    EnaSupport: bool(ctx.props.EnaSupport, true),
    ImdsSupport: str(ctx.props.ImdsSupport) as never,
    TpmSupport: str(ctx.props.TpmSupport) as never,
    UefiData: str(ctx.props.UefiData),
    RootDeviceName: rootDeviceName,
    VirtualizationType: 'hvm',
    BlockDeviceMappings: mappings,
    // RegisterImage tags only the image: the snapshots are the user's.
    TagSpecifications: tagSpecifications(tags(ctx.props.Tags), ctx.ownership, ['image']),
  }))).ImageId!,
  (err) => explainRegisterError(err, rootSnapshotId, ctx));
}

function explainRegisterError(err: unknown, rootSnapshotId: string, ctx: OperationContext<Kind>): AmiError {
  const message = errorMessage(err);
  switch (errorCode(err)) {
    case 'InvalidSnapshot.NotFound':
      return new AmiError(`A snapshot of the image does not exist in ${ctx.region}: ${message}`);
    case 'IncorrectState':
      return new AmiError(`A snapshot of the image is not completed yet in ${ctx.region}: ${message}`);
    default:
      return toAmiError(err, `RegisterImage of snapshot ${rootSnapshotId} in ${ctx.region}`);
  }
}
