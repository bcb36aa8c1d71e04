import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AmiFromInstance, AmiFromSnapshot, BakedAmi, FastLaunchOptions, ImportDisk, ImportedAmi, ImportPlatform } from '../src';
import { lastWaiter, newStack, operationOf, resourcesOfType, snapshotDevices, statementsOf } from './util';

const INSTANCE = 'i-0123456789abcdef0';

function windowsImage(stack: Stack, fastLaunch: FastLaunchOptions): AmiFromInstance {
  return new AmiFromInstance(stack, 'Image', { instanceId: INSTANCE, osType: ec2.OperatingSystemType.WINDOWS, fastLaunch });
}

function operation(stack: Stack, type = 'Custom::AmiFromInstance'): any {
  return operationOf(stack, type);
}

describe('fastLaunch renders', () => {
  test('the settings on the last waiter link, and a marker on the operation resource for the delete', () => {
    const stack = newStack();
    const template = ec2.LaunchTemplate.fromLaunchTemplateAttributes(stack, 'Lt', { launchTemplateId: 'lt-0123456789abcdef0', versionNumber: '4' });
    windowsImage(stack, { targetResourceCount: 10, maxParallelLaunches: 8, launchTemplate: template });
    expect(lastWaiter(stack).FastLaunch).toEqual({
      TargetResourceCount: 10, MaxParallelLaunches: 8, LaunchTemplateId: 'lt-0123456789abcdef0', LaunchTemplateVersion: '4',
    });
    expect(operation(stack).FastLaunch).toBe(true);
  });

  test('an explicit launchTemplateVersion wins over the template\'s version', () => {
    const stack = newStack();
    const template = ec2.LaunchTemplate.fromLaunchTemplateAttributes(stack, 'Lt', { launchTemplateId: 'lt-0123456789abcdef0' });
    windowsImage(stack, { launchTemplate: template, launchTemplateVersion: '$Latest' });
    expect(lastWaiter(stack).FastLaunch).toEqual({ LaunchTemplateId: 'lt-0123456789abcdef0', LaunchTemplateVersion: '$Latest' });
  });

  test('a launch template of this app: its ID and latest version, and the waiter may name only it in EnableFastLaunch', () => {
    const stack = newStack();
    const template = new ec2.LaunchTemplate(stack, 'Lt', { requireImdsv2: true });
    windowsImage(stack, { launchTemplate: template });
    new AmiFromInstance(stack, 'Other', { instanceId: INSTANCE, osType: ec2.OperatingSystemType.WINDOWS, fastLaunch: {} });
    expect(lastWaiter(stack).FastLaunch).toEqual({
      LaunchTemplateId: stack.resolve(template.launchTemplateId), LaunchTemplateVersion: stack.resolve(template.versionNumber),
    });
    const own = statementsOf(stack, 'WaiterRole').filter((s) => s.Sid === 'FastLaunchTemplates');
    expect(own).toEqual([{
      Sid: 'FastLaunchTemplates',
      Effect: 'Allow',
      Action: 'ec2:EnableFastLaunch',
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ec2:us-east-1:123456789012:launch-template/', stack.resolve(template.launchTemplateId)]] },
    }]);
  });

  test('nothing when not set: no marker, no settings, no launch template statement', () => {
    const stack = newStack();
    new AmiFromInstance(stack, 'Image', { instanceId: INSTANCE });
    expect(lastWaiter(stack).FastLaunch).toBeUndefined();
    expect(operation(stack).FastLaunch).toBeUndefined();
    expect(statementsOf(stack, 'WaiterRole').find((s) => s.Sid === 'FastLaunchTemplates')).toBeUndefined();
  });

  test('the provider may enable and disable fast launch of its own images only, and describe it', () => {
    const stack = newStack();
    new AmiFromInstance(stack, 'Image', { instanceId: INSTANCE });
    const waiter = statementsOf(stack, 'WaiterRole').find((s) => s.Sid === 'FastLaunchOwnImages');
    expect(waiter.Action).toEqual(['ec2:EnableFastLaunch', 'ec2:DisableFastLaunch']);
    expect(waiter.Condition.StringEquals).toEqual({ 'aws:ResourceTag/cdk-ami:stack': { Ref: 'AWS::StackId' } });
    const operationStatements = statementsOf(stack, 'OperationRole');
    expect(operationStatements.find((s) => s.Sid === 'DisableFastLaunchOfOwnImages')).toMatchObject({
      Action: 'ec2:DisableFastLaunch', Condition: { StringEquals: { 'aws:ResourceTag/cdk-ami:stack': { Ref: 'AWS::StackId' } } },
    });
    for (const role of ['OperationRole', 'WaiterRole']) {
      expect(statementsOf(stack, role).find((s) => s.Sid === 'DescribeImages')).toMatchObject({ Action: expect.arrayContaining(['ec2:DescribeFastLaunchImages']), Resource: '*' });
    }
  });

  test('an image whose platform synth does not know (no osType) is checked by EC2 at deploy time', () => {
    const stack = newStack();
    new AmiFromSnapshot(stack, 'Image', { blockDevices: snapshotDevices('snap-0123456789abcdef0'), fastLaunch: {} });
    expect(lastWaiter(stack).FastLaunch).toEqual({});
  });
});

describe('fastLaunch is validated at synth', () => {
  test.each([
    [{ maxParallelLaunches: 5 }, 'fastLaunch.maxParallelLaunches must be a whole number of at least 6, got 5.'],
    [{ maxParallelLaunches: 6.5 }, 'fastLaunch.maxParallelLaunches must be a whole number of at least 6, got 6.5.'],
    [{ targetResourceCount: 0 }, 'fastLaunch.targetResourceCount must be a whole number of at least 1, got 0.'],
    [{ launchTemplateVersion: '3' }, 'fastLaunch.launchTemplateVersion is set without fastLaunch.launchTemplate: set the launch template too, or remove the version.'],
  ])('%j', (options, message) => {
    expect(() => windowsImage(newStack(), options as FastLaunchOptions)).toThrow(message);
  });

  test('6 parallel launches and 1 snapshot are accepted', () => {
    const stack = newStack();
    windowsImage(stack, { maxParallelLaunches: 6, targetResourceCount: 1 });
    expect(lastWaiter(stack).FastLaunch).toEqual({ MaxParallelLaunches: 6, TargetResourceCount: 1 });
  });

  test('a launch template known only by name is refused: the provider may only name one by ID', () => {
    const stack = newStack();
    const template = ec2.LaunchTemplate.fromLaunchTemplateAttributes(stack, 'Lt', { launchTemplateName: 'windows-fast-launch' });
    expect(() => windowsImage(stack, { launchTemplate: template })).toThrow(
      'fastLaunch.launchTemplate "windows-fast-launch" has no launch template ID: the provider may only use a launch template it can name by ID. Use LaunchTemplate.fromLaunchTemplateAttributes with launchTemplateId.');
  });

  test('a launch template in another Region is refused', () => {
    const stack = newStack();
    const other = new Stack(stack.node.root, 'Other', { env: { account: '123456789012', region: 'eu-west-1' } });
    const template = ec2.LaunchTemplate.fromLaunchTemplateAttributes(other, 'Lt', { launchTemplateId: 'lt-0123456789abcdef0' });
    expect(() => windowsImage(stack, { launchTemplate: template })).toThrow(
      'fastLaunch.launchTemplate is in eu-west-1, and the image in us-east-1: EC2 Fast Launch uses a launch template of the image\'s Region.');
  });

  test.each([
    ['osType LINUX', (s: Stack) => new AmiFromInstance(s, 'Image', { instanceId: INSTANCE, osType: ec2.OperatingSystemType.LINUX, fastLaunch: {} }),
      'fastLaunch needs a Windows image, and the image (osType LINUX) is not Windows: remove fastLaunch, or build a Windows image.'],
    ['an import with platform Linux', (s: Stack) => new ImportedAmi(s, 'Image', { disks: [ImportDisk.fromSnapshot('snap-0123456789abcdef0')], platform: ImportPlatform.LINUX, fastLaunch: {} }),
      'fastLaunch needs a Windows image, and the import (platform Linux) is not Windows: remove fastLaunch, or build a Windows image.'],
    ['a BakedAmi of a Linux base image', (s: Stack) => new BakedAmi(s, 'Image', {
      machineImage: ec2.MachineImage.genericLinux({ 'us-east-1': 'ami-0123456789abcdef0' }),
      vpc: new ec2.Vpc(s, 'Vpc', { maxAzs: 1 }),
      setup: ec2.UserData.forLinux(),
      fastLaunch: {},
    }), 'fastLaunch needs a Windows image, and the base image (machineImage) is not Windows: remove fastLaunch, or build a Windows image.'],
  ])('an image known not to be Windows is refused: %s', (_name, build, message) => {
    expect(() => build(newStack())).toThrow(message);
  });

  test('an import with platform Windows and a Windows BakedAmi are accepted', () => {
    const stack = newStack();
    new ImportedAmi(stack, 'Imported', { disks: [ImportDisk.fromSnapshot('snap-0123456789abcdef0')], platform: ImportPlatform.WINDOWS, fastLaunch: { maxParallelLaunches: 6 } });
    const setup = ec2.UserData.forWindows();
    setup.addCommands('Install-WindowsFeature Web-Server');
    new BakedAmi(stack, 'Baked', {
      machineImage: ec2.MachineImage.genericWindows({ 'us-east-1': 'ami-0123456789abcdef0' }),
      vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 1 }),
      setup,
      fastLaunch: { maxParallelLaunches: 6 },
    });
    const settings = resourcesOfType(Template.fromStack(stack), 'Custom::AmiWaiter').map(([, w]) => w.Properties.FastLaunch).filter(Boolean);
    expect(settings).toEqual([{ MaxParallelLaunches: 6 }, { MaxParallelLaunches: 6 }]);
  });
});
