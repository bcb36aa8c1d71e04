import { App, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Ami, AmiFromInstance, CopiedAmi, ImageBase, LaunchPermission, StoredAmi } from '../src';
import { newStack } from './util';

const VENDOR_IMAGE = 'ami-0aaaaaaaaaaaaaaa0';

describe('images referenced by ID share the base of the images cdk-ami makes', () => {
  test('an existing image is copied with copyTo, like a managed one', () => {
    const stack = newStack();
    const vendor = Ami.fromImageId(stack, 'Vendor', VENDOR_IMAGE, 'us-west-2');
    const copy = vendor.copyTo('UsEast1', 'us-east-1', { imageName: 'vendor-copy' });
    expect(copy).toBeInstanceOf(CopiedAmi);
    expect(copy.node.path).toBe('TestStack/Vendor/UsEast1');
    Template.fromStack(stack).hasResourceProperties('Custom::CopiedAmi', { SourceImageId: VENDOR_IMAGE, SourceRegion: 'us-west-2', Region: 'us-east-1' });
  });

  test('an existing image is stored with storeTo, like a managed one', () => {
    const stack = newStack();
    const bucket = new s3.Bucket(stack, 'Bucket');
    const stored = Ami.fromImageId(stack, 'Existing', VENDOR_IMAGE).storeTo('Archive', bucket);
    expect(stored).toBeInstanceOf(StoredAmi);
    expect(stored.node.path).toBe('TestStack/Existing/Archive');
    Template.fromStack(stack).hasResourceProperties('Custom::StoredAmi', { ImageId: VENDOR_IMAGE });
  });

  test('an existing image keeps what is known of it and launches as given', () => {
    const stack = newStack();
    const image = Ami.fromImageAttributes(stack, 'Win', { imageId: VENDOR_IMAGE, imageName: 'win-2022', osType: ec2.OperatingSystemType.WINDOWS });
    expect([image.imageId, image.imageName, image.region]).toEqual([VENDOR_IMAGE, 'win-2022', 'us-east-1']);
    expect(image.getImage(stack).osType).toBe(ec2.OperatingSystemType.WINDOWS);
  });

  test('Tags.of() reaches an existing image without tagging anything: cdk-ami does not own it', () => {
    const stack = newStack();
    Ami.fromImageId(stack, 'Existing', VENDOR_IMAGE).copyTo('EuWest1', 'eu-west-1');
    Tags.of(stack).add('team', 'platform');
    const copy = Template.fromStack(stack).findResources('Custom::CopiedAmi');
    expect(Object.values(copy)[0].Properties.Tags).toEqual([{ Key: 'team', Value: 'platform' }]);
  });

  test('launch permissions and removal policies are refused on an existing image, with the reason', () => {
    const stack = newStack();
    const image = Ami.fromImageId(stack, 'Existing', VENDOR_IMAGE) as ImageBase;
    expect(() => image.addLaunchPermission(LaunchPermission.account('111122223333')))
      .toThrow('addLaunchPermission() cannot be used on TestStack/Existing: it references an existing image, whose launch permissions cdk-ami does not manage.');
    expect(() => image.applyRemovalPolicy(RemovalPolicy.DESTROY))
      .toThrow('applyRemovalPolicy() cannot be used on TestStack/Existing: it references an existing image, which cdk-ami never deletes.');
  });
});

describe('imageArn', () => {
  test('names the image by its Region and ID, without an account, as EC2 image ARNs do', () => {
    const stack = newStack();
    const vendor = Ami.fromImageId(stack, 'Vendor', VENDOR_IMAGE, 'us-west-2');
    expect(stack.resolve(vendor.imageArn)).toBe(`arn:aws:ec2:us-west-2::image/${VENDOR_IMAGE}`);
  });

  test.each([
    ['cn-north-1', 'aws-cn'],
    ['us-gov-west-1', 'aws-us-gov'],
  ])('an image of %s is named in its own partition (%s), whatever the stack\'s', (region, partition) => {
    const stack = newStack();
    const image = Ami.fromImageId(stack, 'Elsewhere', VENDOR_IMAGE, region);
    expect(stack.resolve(image.imageArn)).toBe(`arn:${partition}:ec2:${region}::image/${VENDOR_IMAGE}`);
  });

  test('an image whose Region is a token (an environment-agnostic stack) takes the stack\'s partition', () => {
    const stack = new Stack(new App(), 'Agnostic');
    const image = Ami.fromImageId(stack, 'Existing', VENDOR_IMAGE);
    expect(stack.resolve(image.imageArn)).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ec2:', { Ref: 'AWS::Region' }, `::image/${VENDOR_IMAGE}`]],
    });
  });

  test('is the ARN the provider\'s grants name (one function builds both)', () => {
    const stack = newStack();
    const source = Ami.fromImageId(stack, 'Source', VENDOR_IMAGE, 'us-west-2');
    new CopiedAmi(stack, 'Copy', { source, region: 'eu-west-1' });
    const policies = Template.fromStack(stack).findResources('AWS::IAM::Policy');
    const resources = Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement.map((st: { Resource: unknown }) => st.Resource));
    expect(resources).toContainEqual(stack.resolve(source.imageArn));
  });

  test('of an image cdk-ami makes, resolves when its ID does (the last waiter link\'s)', () => {
    const stack = newStack();
    const golden = new AmiFromInstance(stack, 'Golden', { instanceId: 'i-0123456789abcdef0' });
    const copy = new CopiedAmi(stack, 'Copy', { source: golden, region: 'eu-west-1' });
    const resolved = JSON.stringify(stack.resolve(copy.imageArn));
    expect(resolved).toContain(':ec2:eu-west-1::image/');
    expect(resolved).toContain(JSON.stringify(stack.resolve(copy.imageId)));
  });
});

describe('ImageBase.isImage', () => {
  test('recognises every image of the library, managed or existing, and nothing else', () => {
    const stack = newStack();
    const golden = new AmiFromInstance(stack, 'Golden', { instanceId: 'i-0123456789abcdef0' });
    expect(ImageBase.isImage(golden)).toBe(true);
    expect(ImageBase.isImage(golden.copyTo('EuWest1', 'eu-west-1'))).toBe(true);
    expect(ImageBase.isImage(Ami.fromImageId(stack, 'Existing', VENDOR_IMAGE))).toBe(true);
    expect(ImageBase.isImage(new s3.Bucket(stack, 'Bucket'))).toBe(false);
    expect(ImageBase.isImage(undefined)).toBe(false);
  });

  test('recognises an image of another copy of the library (a global symbol, not instanceof)', () => {
    const fromOtherCopy = { [Symbol.for('cdk-ami.Image')]: true };
    expect(fromOtherCopy instanceof ImageBase).toBe(false);
    expect(ImageBase.isImage(fromOtherCopy)).toBe(true);
  });
});
