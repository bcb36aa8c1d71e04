import { TagManager, TagType } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { CopyableImageBase } from './copied-ami';
import { ImageAttributes } from './image';
import { machineImageConfig } from './private/machine-image';
import { validateEc2Id, validateRegion } from './private/validation';

/**
 * References to images that already exist.
 */
export class Ami {
  /**
   * An existing image, by ID, in the stack's Region or the given one. It can
   * be launched, copied (`copyTo`) and stored (`storeTo`) like an image this
   * library creates; cdk-ami never changes or deletes it.
   *
   * @param scope construct scope
   * @param id construct ID
   * @param imageId the AMI ID, e.g. `ami-0123456789abcdef0`
   * @param region the image's Region (default: the stack's Region)
   */
  public static fromImageId(scope: Construct, id: string, imageId: string, region?: string): CopyableImageBase {
    return Ami.fromImageAttributes(scope, id, { imageId, region });
  }

  /**
   * An existing image, with what is known of it.
   */
  public static fromImageAttributes(scope: Construct, id: string, attrs: ImageAttributes): CopyableImageBase {
    return new ExistingImage(scope, id, attrs);
  }

  private constructor() {}
}

/** An image that exists already, referenced by ID: read, launched, copied and stored, never changed. */
class ExistingImage extends CopyableImageBase {
  constructor(scope: Construct, id: string, attrs: ImageAttributes) {
    super(scope, id, { region: attrs.region });
    validateEc2Id(this, 'imageId', attrs.imageId, 'image');
    validateRegion(this, attrs.region);
    const osType = attrs.osType ?? ec2.OperatingSystemType.LINUX;
    this._attach({
      imageId: attrs.imageId,
      imageName: attrs.imageName,
      region: this.env.region,
      // Accepts Tags.of() like any image, and renders nowhere: cdk-ami does not tag an image it does not own.
      tags: new TagManager(TagType.KEY_VALUE, 'cdk-ami:ExistingImage'),
      machineImage: () => machineImageConfig(attrs.imageId, osType, attrs.userData),
    });
  }
}
