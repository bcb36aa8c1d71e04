/**
 * Settings of existing AMIs (EC2): ModifyImageAttribute / DescribeImageAttribute (launch permissions,
 * description, IMDS support), DisableImage / EnableImage, EnableImageDeprecation / DisableImageDeprecation,
 * Enable/DisableImageDeregistrationProtection (with the 24-hour cooldown), DescribeImageReferences, and
 * block public access for AMIs (Get/Enable/DisableImageBlockPublicAccess).
 */
import { ActionHandler, Ec2Area } from './ec2-area';
import { ApiError, assertOneOf, invalidValue, missingParameter } from './errors';
import { assertWellFormedId, newId } from './helpers';
import { protectionValue } from './images';
import { applyPermissionChanges, PermissionKind, readPermissionChanges } from './permissions';
import { itemSet, leaf, node, QueryParams } from './protocol';
import { ACCOUNT_ID, AddLaunchTemplateOptions, LaunchPermission, LocalImage } from './types';
import { RegionState } from './world';

/** How long deregistration protection enabled with cooldown outlasts DisableImageDeregistrationProtection. */
const DEREGISTRATION_COOLDOWN_MS = 24 * 60 * 60 * 1000;

const IMAGE_REFERENCE_TYPES = new Set(['ec2:Instance', 'ec2:LaunchTemplate', 'ssm:Parameter', 'imagebuilder:ImageRecipe', 'imagebuilder:ContainerRecipe']);

const IMAGE_ATTRIBUTES = new Set([
  'description', 'kernel', 'ramdisk', 'launchPermission', 'productCodes', 'blockDeviceMapping', 'sriovNetSupport',
  'bootMode', 'tpmSupport', 'uefiData', 'lastLaunchedTime', 'imdsSupport', 'deregistrationProtection',
]);

function renderLaunchPermission(permission: LaunchPermission): string {
  return leaf('group', permission.group)
    + leaf('userId', permission.userId)
    + leaf('organizationArn', permission.organizationArn)
    + leaf('organizationalUnitArn', permission.organizationalUnitArn);
}

const DEPRECATION_LIMIT_YEARS = 10;

/**
 * EC2 rounds the deprecation time to the nearest minute, and refuses a time in the past or more
 * than 10 years ahead (EnableImageDeprecation, DeprecateAt). The error code and messages are best
 * knowledge; the rules are the API reference's.
 */
function deprecationTimeFrom(value: string): string {
  const millis = Date.parse(value);
  if (Number.isNaN(millis)) throw invalidValue(`Value (${value}) for parameter DeprecateAt is invalid.`);
  const rounded = new Date(Math.round(millis / 60_000) * 60_000);
  if (rounded.getTime() < Date.now()) {
    throw invalidValue(`The specified deprecation time ${rounded.toISOString()} is in the past. Specify a time in the future.`);
  }
  const limit = new Date(Date.now());
  limit.setUTCFullYear(limit.getUTCFullYear() + DEPRECATION_LIMIT_YEARS);
  if (rounded > limit) {
    throw invalidValue(`The specified deprecation time ${rounded.toISOString()} is more than ${DEPRECATION_LIMIT_YEARS} years in the future.`);
  }
  return rounded.toISOString();
}

const LAUNCH_PERMISSION: PermissionKind<LaunchPermission> = {
  name: 'LaunchPermission',
  fields: [
    { key: 'userId', member: 'UserId', list: 'UserId' },
    { key: 'group', member: 'Group', list: 'UserGroup' },
    { key: 'organizationArn', member: 'OrganizationArn', list: 'OrganizationArn' },
    { key: 'organizationalUnitArn', member: 'OrganizationalUnitArn', list: 'OrganizationalUnitArn' },
  ],
};

function assertLaunchPermission(permission: LaunchPermission): void {
  if (permission.userId !== undefined && !/^\d{12}$/.test(permission.userId)) {
    throw new ApiError('InvalidAMIAttributeItemValue', `Invalid attribute item value "${permission.userId}" for userId item type.`);
  }
  if (permission.group !== undefined && permission.group !== 'all') {
    throw new ApiError('InvalidAMIAttributeItemValue', `Invalid attribute item value "${permission.group}" for group item type.`);
  }
  if (Object.keys(permission).length === 0) throw missingParameter('LaunchPermission');
}

/** The element DescribeImageAttribute returns for the attribute; attributes we do not model come back empty. */
function renderImageAttribute(image: LocalImage, attribute: string): string {
  switch (attribute) {
    case 'launchPermission':
      return itemSet('launchPermission', image.launchPermissions.map(renderLaunchPermission));
    case 'description':
      return image.description === undefined ? '' : node('description', leaf('value', image.description));
    case 'deregistrationProtection':
      return node('deregistrationProtection', leaf('value', protectionValue(image)));
    case 'bootMode':
    case 'tpmSupport':
    case 'uefiData':
    case 'imdsSupport': {
      const value = image[attribute];
      return value === undefined ? '' : node(attribute, leaf('value', value));
    }
    case 'blockDeviceMapping':
      return itemSet('blockDeviceMapping', image.blockDeviceMappings.map((device) => leaf('deviceName', device.deviceName)
        + node('ebs', leaf('snapshotId', device.snapshotId), leaf('volumeSize', device.volumeSizeGiB))));
    default:
      return '';
  }
}

export class ImageSettingActions extends Ec2Area {
  readonly handlers: Readonly<Record<string, ActionHandler>> = {
    ModifyImageAttribute: (region, params) => this.modifyImageAttribute(region, params),
    DisableImage: (region, params) => this.disableImage(region, params),
    EnableImage: (region, params) => this.enableImage(region, params),
    DescribeImageReferences: (region, params) => this.describeImageReferences(region, params),
    DescribeImageAttribute: (region, params) => this.describeImageAttribute(region, params),
    EnableImageDeprecation: (region, params) => this.setDeprecation(region, params, true),
    DisableImageDeprecation: (region, params) => this.setDeprecation(region, params, false),
    EnableImageDeregistrationProtection: (region, params) => this.enableProtection(region, params),
    DisableImageDeregistrationProtection: (region, params) => this.disableProtection(region, params),
    GetImageBlockPublicAccessState: (region) => this.imageBlockPublicAccessState(region),
    EnableImageBlockPublicAccess: (region, params) => this.enableImageBlockPublicAccess(region, params),
    DisableImageBlockPublicAccess: (region) => this.disableImageBlockPublicAccess(region),
  };

  private modifyImageAttribute(region: RegionState, params: QueryParams): string {
    const image = this.liveImage(region, params.required('ImageId'));
    const attribute = params.get('Attribute');
    const description = params.get('Description.Value') ?? (attribute === 'description' ? params.get('Value') : undefined);
    const imdsSupport = params.get('ImdsSupport.Value') ?? (attribute === 'imdsSupport' ? params.get('Value') : undefined);
    const { add, remove } = readPermissionChanges(params, LAUNCH_PERMISSION);
    // Everything is checked before anything changes: a rejected request modifies nothing.
    if (imdsSupport !== undefined && (description !== undefined || add.length + remove.length > 0)) {
      // The reference: "You can specify only one attribute at a time." (code: best knowledge)
      throw new ApiError('InvalidParameterCombination', 'You can modify only one attribute of an image at a time.');
    }
    // Only v2.0 exists, and nothing takes it back ("After you set the value to v2.0, you can't undo it").
    if (imdsSupport !== undefined && imdsSupport !== 'v2.0') {
      throw invalidValue(`Value (${imdsSupport}) for parameter ImdsSupport is invalid. Valid value: v2.0.`);
    }
    for (const permission of [...add, ...remove]) assertLaunchPermission(permission);
    if (image.state === 'disabled' && add.length > 0) {
      // "A disabled AMI can't be shared." (code and message: best knowledge)
      throw new ApiError('OperationNotPermitted', `The image ${image.imageId} is disabled and cannot be shared. Enable it first (EnableImage).`);
    }
    if (region.imageBlockPublicAccess === 'block-new-sharing' && add.some((permission) => permission.group === 'all')) {
      throw new ApiError('OperationNotPermitted', 'You can’t publicly share this image because block public access for AMIs is enabled for this account. '
        + 'To publicly share the image, you must call the DisableImageBlockPublicAccess API.');
    }

    if (description !== undefined) image.description = description;
    if (imdsSupport !== undefined) image.imdsSupport = imdsSupport;
    image.launchPermissions = applyPermissionChanges(image.launchPermissions, { add, remove }, LAUNCH_PERMISSION);
    return leaf('return', true);
  }

  /**
   * DisableImage: the image becomes `disabled` and loses every launch permission (public or
   * shared, it becomes private). Disabling a disabled image is accepted (best knowledge); an image
   * that never became available cannot be disabled (code: best knowledge).
   */
  private disableImage(region: RegionState, params: QueryParams): string {
    const image = this.liveImage(region, params.required('ImageId'));
    if (image.state !== 'available' && image.state !== 'disabled') {
      throw new ApiError('IncorrectState', `The image ${image.imageId} is ${image.state}; only an available image can be disabled.`);
    }
    image.state = 'disabled';
    image.launchPermissions = [];
    return leaf('return', true);
  }

  /** EnableImage: available again; the launch permissions removed by DisableImage stay removed. */
  private enableImage(region: RegionState, params: QueryParams): string {
    const image = this.liveImage(region, params.required('ImageId'));
    if (image.state !== 'available' && image.state !== 'disabled') {
      throw new ApiError('IncorrectState', `The image ${image.imageId} is ${image.state}; only a disabled image can be enabled.`);
    }
    image.state = 'available';
    return leaf('return', true);
  }

  /**
   * DescribeImageReferences for `ec2:Instance` (instances not terminated) and
   * `ec2:LaunchTemplate` (default versions); one page, the other resource types have nothing here.
   */
  private describeImageReferences(region: RegionState, params: QueryParams): string {
    const imageIds = this.requiredList(params, 'ImageId');
    if (imageIds.length > 10) throw invalidValue('ImageId: at most 10 image IDs can be checked at once.');
    imageIds.forEach((id) => assertWellFormedId(id, 'ami', 'InvalidAMIID.Malformed'));
    const requested = params.members('ResourceType').map((member) => member.required('ResourceType'));
    const includeAll = params.bool('IncludeAllResourceTypes') ?? false;
    if (!includeAll && requested.length === 0) throw missingParameter('IncludeAllResourceTypes or ResourceTypes');
    requested.forEach((type) => assertOneOf('ResourceType', type, IMAGE_REFERENCE_TYPES));
    const wants = (type: string) => includeAll || requested.includes(type);
    const references: string[] = [];
    const reference = (imageId: string, resourceType: string, arn: string) =>
      leaf('imageId', imageId) + leaf('resourceType', resourceType) + leaf('arn', arn);
    for (const imageId of imageIds) {
      if (wants('ec2:Instance')) {
        for (const instance of region.instances.values()) {
          if (instance.imageId === imageId && instance.state !== 'terminated') {
            references.push(reference(imageId, 'ec2:Instance', `arn:aws:ec2:${region.name}:${ACCOUNT_ID}:instance/${instance.instanceId}`));
          }
        }
      }
      if (wants('ec2:LaunchTemplate')) {
        for (const [templateId, template] of region.launchTemplates) {
          if (template.versions[0].imageId === imageId) references.push(reference(imageId, 'ec2:LaunchTemplate', `arn:aws:ec2:${region.name}:${ACCOUNT_ID}:launch-template/${templateId}`));
        }
      }
    }
    return itemSet('imageReferenceSet', references);
  }

  addLaunchTemplate(options: AddLaunchTemplateOptions): string {
    const templateId = newId('lt');
    const versions = [{ imageId: options.imageId, ...options.data }];
    this.world.region(options.region).launchTemplates.set(templateId, { launchTemplateId: templateId, versions });
    return templateId;
  }

  private describeImageAttribute(region: RegionState, params: QueryParams): string {
    const image = this.liveImage(region, params.required('ImageId'));
    const attribute = params.required('Attribute');
    if (!IMAGE_ATTRIBUTES.has(attribute)) throw invalidValue(`Value (${attribute}) for parameter attribute is invalid. Unknown attribute.`);
    return leaf('imageId', image.imageId) + renderImageAttribute(image, attribute);
  }

  private setDeprecation(region: RegionState, params: QueryParams, enable: boolean): string {
    const image = this.liveImage(region, params.required('ImageId'));
    image.deprecationTime = enable ? deprecationTimeFrom(params.required('DeprecateAt')) : undefined;
    return leaf('return', true);
  }

  private enableProtection(region: RegionState, params: QueryParams): string {
    const image = this.liveImage(region, params.required('ImageId'));
    // Enabling again during a cooldown ends the cooldown: the image is simply protected again.
    image.deregistrationProtection = params.bool('WithCooldown') ? 'enabled-with-cooldown' : 'enabled';
    image.protectionCooldownEnds = undefined;
    return leaf('return', 'true');
  }

  /**
   * Protection enabled without cooldown ends at once. Protection enabled with cooldown stays in
   * effect for 24 hours (`disabled-until`); the cooldown is not timed here: it lasts until the
   * test calls {@link LocalEc2.endCooldown}. Disabling again during the cooldown does not restart it.
   */
  private disableProtection(region: RegionState, params: QueryParams): string {
    const image = this.liveImage(region, params.required('ImageId'));
    if (image.deregistrationProtection === 'enabled-with-cooldown') {
      image.deregistrationProtection = 'disabled-until';
      image.protectionCooldownEnds = new Date(Date.now() + DEREGISTRATION_COOLDOWN_MS).toISOString();
    } else if (image.deregistrationProtection === 'enabled') {
      image.deregistrationProtection = 'disabled';
    }
    return leaf('return', 'true');
  }

  /** Ends an image's deregistration-protection cooldown, as if its 24 hours had passed. */
  endCooldown(imageId: string): void {
    const image = this.world.findImage(imageId);
    if (!image) throw new Error(`No image ${imageId} in any region`);
    if (image.deregistrationProtection !== 'disabled-until') {
      throw new Error(`Image ${imageId} is not in a deregistration-protection cooldown (protection: ${image.deregistrationProtection})`);
    }
    image.deregistrationProtection = 'disabled';
    image.protectionCooldownEnds = undefined;
  }

  private imageBlockPublicAccessState(region: RegionState): string {
    return leaf('imageBlockPublicAccessState', region.imageBlockPublicAccess) + leaf('managedBy', 'account');
  }

  /** Takes effect at once (EC2 may take up to 10 minutes). */
  private enableImageBlockPublicAccess(region: RegionState, params: QueryParams): string {
    const state = params.required('ImageBlockPublicAccessState');
    if (state !== 'block-new-sharing') throw invalidValue(`Value (${state}) for parameter ImageBlockPublicAccessState is invalid.`);
    region.imageBlockPublicAccess = state;
    return leaf('imageBlockPublicAccessState', state);
  }

  private disableImageBlockPublicAccess(region: RegionState): string {
    region.imageBlockPublicAccess = 'unblocked';
    return leaf('imageBlockPublicAccessState', 'unblocked');
  }
}
