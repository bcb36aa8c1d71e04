import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import {
  Ami, AmiFromInstance, AmiFromSnapshot, BootMode, CopiedAmi, DiskImageFormat, ImageArchitecture, ImportDisk, ImportedAmi, LaunchPermission,
} from '../src';
import { ENV, newStack, snapshotDevices } from './util';

// Synth-time checks of the rules EC2 applies at deploy time: each would
// otherwise fail a deployment minutes in, or silently do less than asked.

const INSTANCE = 'i-0123456789abcdef0';
const SNAPSHOT = 'snap-0123456789abcdef0';
const ORG = 'arn:aws:organizations::123456789012:organization/o-abcdefghij';

function warnings(stack: Stack, path: string): string[] {
  return Annotations.fromStack(stack).findWarning(path, Match.anyValue()).map((w) => String(w.entry.data));
}

describe('boot mode and NitroTPM', () => {
  test.each([
    [{ tpmSupport: true }, /tpmSupport needs UEFI boot, but bootMode is not set \(EC2 boots x86_64 images with legacy BIOS\): set bootMode to BootMode.UEFI/],
    [{ tpmSupport: true, bootMode: BootMode.LEGACY_BIOS }, /tpmSupport needs UEFI boot, but bootMode is "legacy-bios"/],
    [{ tpmSupport: true, bootMode: BootMode.UEFI_PREFERRED }, /tpmSupport needs UEFI boot, but bootMode is "uefi-preferred"/],
  ])('AmiFromSnapshot %o is rejected', (props, message) => {
    expect(() => new AmiFromSnapshot(newStack(), 'Image', { blockDevices: snapshotDevices(SNAPSHOT), ...props })).toThrow(message);
  });

  test.each([
    [{ tpmSupport: true, bootMode: BootMode.UEFI }],
    [{ tpmSupport: true, architecture: ImageArchitecture.ARM64 }],
  ])('AmiFromSnapshot %o is accepted (UEFI, given or arm64\'s default)', (props) => {
    expect(() => new AmiFromSnapshot(newStack(), 'Image', { blockDevices: snapshotDevices(SNAPSHOT), ...props })).not.toThrow();
  });

  test('ImportImage takes legacy-bios and uefi only', () => {
    const disks = [ImportDisk.fromUrl('s3://disks/boot.vmdk', DiskImageFormat.VMDK)];
    expect(() => new ImportedAmi(newStack(), 'Import', { disks, bootMode: BootMode.UEFI_PREFERRED }))
      .toThrow('bootMode "uefi-preferred" is not accepted here: EC2 takes "legacy-bios" or "uefi".');
    expect(() => new ImportedAmi(newStack(), 'Import', { disks, bootMode: BootMode.UEFI })).not.toThrow();
  });
});

describe('block devices', () => {
  test('a data volume on the root device is rejected', () => {
    const [root, data] = snapshotDevices(SNAPSHOT, 'snap-0123456789abcdef1');
    expect(() => new AmiFromSnapshot(newStack(), 'Image', {
      blockDevices: [root, { ...data, deviceName: root.deviceName }],
    })).toThrow('blockDevices[1].deviceName "/dev/xvda" is listed twice: give each device once.');
  });
});

describe('Regions and partitions', () => {
  test('a copy into another partition names both partitions', () => {
    const stack = newStack();
    const source = Ami.fromImageId(stack, 'Source', 'ami-0123456789abcdef0');
    expect(() => new CopiedAmi(stack, 'Copy', { source, region: 'cn-north-1' }))
      .toThrow('region "cn-north-1" is in partition aws-cn, but the source image\'s Region (us-east-1) is in partition aws: EC2 cannot copy images between partitions.');
  });

  test('a source in another partition than the stack is rejected too', () => {
    const stack = new Stack(new App(), 'Gov', { env: { account: ENV.account, region: 'us-gov-west-1' } });
    const source = Ami.fromImageId(stack, 'Source', 'ami-0123456789abcdef0', 'us-east-1');
    expect(() => new CopiedAmi(stack, 'Copy', { source, region: 'us-east-2' }))
      .toThrow(/region "us-east-2" is in partition aws, but the stack's Region, where the provider calls CopyImage, \(us-gov-west-1\) is in partition aws-us-gov/);
  });

  test('a well-formed but unknown Region gets a warning, not an error', () => {
    const stack = newStack();
    const source = Ami.fromImageId(stack, 'Source', 'ami-0123456789abcdef0');
    new CopiedAmi(stack, 'Copy', { source, region: 'eu-west-9' });
    expect(warnings(stack, '/TestStack/Copy').join('\n')).toMatch(/region "eu-west-9" is not a Region this aws-cdk-lib knows/);
    const known = newStack();
    new CopiedAmi(known, 'Copy', { source: Ami.fromImageId(known, 'Source', 'ami-0123456789abcdef0'), region: 'eu-west-1' });
    expect(warnings(known, '/TestStack/Copy')).toEqual([]);
  });

  test('copyTo takes the copy\'s construct ID: two copies into one Region are two images', () => {
    const stack = newStack();
    const image = new AmiFromInstance(stack, 'Image', { instanceId: INSTANCE });
    const copies = [image.copyTo('First', 'eu-west-1'), image.copyTo('Second', 'eu-west-1')];
    expect(copies.map((c) => c.node.path)).toEqual(['TestStack/Image/First', 'TestStack/Image/Second']);
    expect(Object.keys(Template.fromStack(stack).findResources('Custom::CopiedAmi'))).toHaveLength(2);
  });
});

describe('image names', () => {
  test('two images of the app with one name in one account and Region are rejected', () => {
    const app = new App();
    const a = new Stack(app, 'A', { env: ENV });
    const b = new Stack(app, 'B', { env: ENV });
    new AmiFromInstance(a, 'Image', { instanceId: INSTANCE, imageName: 'golden' });
    expect(() => new AmiFromSnapshot(b, 'Image', { blockDevices: snapshotDevices(SNAPSHOT), imageName: 'golden' }))
      .toThrow('imageName "golden" is already used by A/Image: EC2 image names are unique in an account and Region, so the second image could never be created. Give one of them another name.');
  });

  test('the same name in another Region or account is fine', () => {
    const app = new App();
    const a = new Stack(app, 'A', { env: ENV });
    const image = new AmiFromInstance(a, 'Image', { instanceId: INSTANCE, imageName: 'golden' });
    expect(() => image.copyTo('EuWest1', 'eu-west-1', { imageName: 'golden' })).not.toThrow();
    const other = new Stack(app, 'Other', { env: { account: '210987654321', region: ENV.region } });
    expect(() => new AmiFromInstance(other, 'Image', { instanceId: INSTANCE, imageName: 'golden' })).not.toThrow();
  });
});

describe('snapshot sharing', () => {
  test('with an organization: a warning says its accounts cannot copy the image', () => {
    const stack = newStack();
    new AmiFromInstance(stack, 'Image', {
      instanceId: INSTANCE,
      shareSnapshots: true,
      launchPermissions: [LaunchPermission.account('111122223333'), LaunchPermission.organization(ORG)],
    });
    expect(warnings(stack, '/TestStack/Image').join('\n')).toMatch(`shareSnapshots does not reach ${ORG}: EC2 shares snapshots with accounts only`);
  });

  test('with no account at all: synth fails, saying EC2 shares snapshots with accounts only', () => {
    const stack = newStack();
    new AmiFromInstance(stack, 'Image', { instanceId: INSTANCE, shareSnapshots: true, launchPermissions: [LaunchPermission.organization(ORG)] });
    expect(() => (stack.node.root as App).synth())
      .toThrow(/shareSnapshots is set, but no account has a launch permission: EC2 shares snapshots with accounts only/);
  });
});
