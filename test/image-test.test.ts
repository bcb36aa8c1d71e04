import { Duration, Stack, Tags } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import {
  AmiFromDisks, AmiFromInstance, AmiFromSnapshot, BakedAmi, CopiedAmi, DiskImageFormat, IImage, ImageProps, ImageTest, ImageTestOptions,
  ImportDisk, ImportedAmi, InstanceAction, LaunchPermission, RestoredAmi,
} from '../src';
import { nagFindings, newStack, resourcesOfType, snapshotDevices } from './util';
import { ResourceTypes } from '../src/private/contract';

const INSTANCE_ID = 'i-0123456789abcdef0';

function check(...commands: string[]): ec2.UserData {
  const data = ec2.UserData.forLinux();
  data.addCommands(...(commands.length ? commands : ['curl -fsS http://localhost/']));
  return data;
}

type Tested = { stack: Stack; image: AmiFromInstance; template: Template };
/** An AmiFromInstance with a test in a VPC (or as `options` says). */
function tested(options: (stack: Stack) => ImageTestOptions = (stack) => ({ vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 1 }) }), props: ImageProps = {}, userData = check()): Tested {
  const stack = newStack();
  const image = new AmiFromInstance(stack, 'Golden', { instanceId: INSTANCE_ID, ...props, test: ImageTest.script(userData, options(stack)) });
  return { stack, image, template: Template.fromStack(stack) };
}

function one(template: Template, type: string): [string, any] {
  const found = resourcesOfType(template, type);
  expect(found).toHaveLength(1);
  return found[0];
}

function waiters(template: Template, chain: string): [string, any][] {
  return resourcesOfType(template, ResourceTypes.WAITER).filter(([id]) => id.includes(chain));
}

function userDataOf(instance: any): string {
  const data = instance.Properties.UserData['Fn::Base64'];
  return typeof data === 'string' ? data : JSON.stringify(data);
}

describe('the chain of an image with a test', () => {
  test('availability links → test instance → result links → one hand-over link, which alone hands out the image', () => {
    const stack = newStack();
    const image = new AmiFromInstance(stack, 'Golden', {
      instanceId: INSTANCE_ID,
      parameterName: '/golden/latest',
      launchPermissions: [LaunchPermission.account('111111111111')],
      test: ImageTest.script(check(), { vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 1 }) }),
    });
    image.copyTo('InEurope', 'eu-west-1');
    const template = Template.fromStack(stack);
    const available = waiters(template, 'GoldenWait');
    const [lastAvailableId, lastAvailable] = available[available.length - 1];
    const [instanceId, instance] = one(template, 'AWS::EC2::Instance');
    const results = resourcesOfType(template, ResourceTypes.BUILDER_SETUP);
    const [handOverId, handOver] = waiters(template, 'GoldenHandOver')[0];
    expect(waiters(template, 'GoldenHandOver')).toHaveLength(1);

    // The test instance launches from the available image; the result links follow it.
    expect(instance.Properties.ImageId).toEqual({ 'Fn::GetAtt': [lastAvailableId, 'ImageId'] });
    expect(results[0][1].Properties).toMatchObject({ InstanceId: { Ref: instanceId }, TestOf: 'TestStack/Golden' });
    // The hand-over link waits for the test's last link, and carries the image's settings; the link before the test none.
    expect(handOver.Properties.ImageId).toEqual({ 'Fn::GetAtt': [lastAvailableId, 'ImageId'] });
    expect(handOver.DependsOn).toEqual([results[results.length - 1][0]]);
    expect(handOver.Properties).toMatchObject({ Link: 1, Links: 1, LaunchPermissions: [{ UserId: '111111111111' }] });
    expect(lastAvailable.Properties.HandOver).toBe(false);
    expect(lastAvailable.Properties.LaunchPermissions).toBeUndefined();
    // Everything consumers see is the hand-over link's.
    const handedOut = { 'Fn::GetAtt': [handOverId, 'ImageId'] };
    expect(stack.resolve(image.imageId)).toEqual(handedOut);
    expect(stack.resolve(image.getImage(stack).imageId)).toEqual(handedOut);
    expect(Object.values(template.toJSON().Outputs as Record<string, any>)[0].Value).toEqual(handedOut);
    expect(one(template, 'AWS::SSM::Parameter')[1].Properties.Value).toEqual(handedOut);
    expect(one(template, ResourceTypes.COPIED_AMI)[1].Properties.SourceImageId).toEqual(handedOut);
  });

  test('an AmiFromInstance\'s instance action is the hand-over link\'s: the source is stopped only after the test passed', () => {
    const { template } = tested(undefined, { instanceAction: InstanceAction.STOP } as ImageProps);
    const [, handOver] = waiters(template, 'GoldenHandOver')[0];
    expect(handOver.Properties).toMatchObject({ InstanceAction: 'stop', InstanceId: INSTANCE_ID });
    for (const [, link] of waiters(template, 'GoldenWait')) expect(link.Properties.InstanceAction).toBeUndefined();
  });

  test('without a test nothing changes: no hand-over link, no HandOver property, no instance', () => {
    const stack = newStack();
    new AmiFromInstance(stack, 'Golden', { instanceId: INSTANCE_ID, launchPermissions: [LaunchPermission.account('111111111111')] });
    const template = Template.fromStack(stack);
    expect(JSON.stringify(template.toJSON())).not.toMatch(/HandOver|TestOf|AWS::EC2::Instance"/);
    const links = waiters(template, 'GoldenWait');
    expect(links[links.length - 1][1].Properties.LaunchPermissions).toEqual([{ UserId: '111111111111' }]);
  });

  test('the test\'s time is its own: 30 minutes by default, split into links like any wait', () => {
    expect(resourcesOfType(tested().template, ResourceTypes.BUILDER_SETUP).map(([, l]) => l.Properties.TimeoutSeconds)).toEqual([1800]);
    const long = tested((stack) => ({ vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 1 }), timeout: Duration.hours(2) }));
    expect(resourcesOfType(long.template, ResourceTypes.BUILDER_SETUP).map(([, l]) => l.Properties.Link)).toEqual([1, 2, 3]);
  });
});

describe('the test instance', () => {
  test('in a VPC: a private subnet with egress, a new all-outbound group, IMDSv2 only, t3.micro, and only its own tags', () => {
    const { stack, template } = tested();
    Tags.of(stack).add('CostCenter', '1002');
    const [, instance] = one(Template.fromStack(stack), 'AWS::EC2::Instance');
    expect(instance.Properties.InstanceType).toBe('t3.micro');
    expect(JSON.stringify(instance.Properties.SubnetId)).toMatch(/PrivateSubnet/);
    expect(instance.Properties.Tags.map((t: any) => t.Key)).toEqual(['Name', 'cdk-ami:tester']);
    const [ltId, lt] = one(template, 'AWS::EC2::LaunchTemplate');
    expect(lt.Properties.LaunchTemplateData.MetadataOptions).toEqual({ HttpTokens: 'required' });
    expect(instance.Properties.LaunchTemplate.LaunchTemplateId).toEqual({ Ref: ltId });
    const [, group] = one(template, 'AWS::EC2::SecurityGroup');
    expect(group.Properties.SecurityGroupEgress).toEqual([expect.objectContaining({ CidrIp: '0.0.0.0/0' })]);
    expect(group.Properties.SecurityGroupIngress).toBeUndefined();
  });

  test('with the consumers\' launch template: the template\'s settings, and only image, user data and profile of its own', () => {
    const { template } = tested((stack) => ({
      launchTemplate: new ec2.LaunchTemplate(stack, 'Consumers', { instanceType: new ec2.InstanceType('c7i.large'), requireImdsv2: true }),
    }));
    const [ltId] = resourcesOfType(template, 'AWS::EC2::LaunchTemplate').find(([id]) => id.startsWith('Consumers'))!;
    const [, instance] = one(template, 'AWS::EC2::Instance');
    const [profileId] = one(template, 'AWS::IAM::InstanceProfile');
    expect(Object.keys(instance.Properties).sort()).toEqual(['IamInstanceProfile', 'ImageId', 'LaunchTemplate', 'Tags', 'UserData']);
    expect(instance.Properties.LaunchTemplate).toEqual({ LaunchTemplateId: { Ref: ltId }, Version: { 'Fn::GetAtt': [ltId, 'LatestVersionNumber'] } });
    expect(instance.Properties.IamInstanceProfile).toEqual({ Ref: profileId });
  });

  test('a launch template without an instance type gets the default; with a VPC, the VPC gives the subnet and the template the security groups', () => {
    const { template } = tested((stack) => {
      const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1 });
      return { launchTemplate: new ec2.LaunchTemplate(stack, 'Consumers', { securityGroup: new ec2.SecurityGroup(stack, 'ConsumersSg', { vpc }) }), vpc };
    });
    const [, instance] = one(template, 'AWS::EC2::Instance');
    expect(instance.Properties.InstanceType).toBe('t3.micro');
    expect(JSON.stringify(instance.Properties.SubnetId)).toMatch(/PrivateSubnet/);
    expect(instance.Properties.SecurityGroupIds).toBeUndefined();
    // The consumers' group only: no group of the test's own.
    expect(resourcesOfType(template, 'AWS::EC2::SecurityGroup').map(([id]) => id)).toEqual([expect.stringMatching(/^ConsumersSg/)]);
  });

  test('with a launch template, a VPC and a security group: that group, instead of the template\'s', () => {
    const { template } = tested((stack) => ({
      launchTemplate: new ec2.LaunchTemplate(stack, 'Consumers', {}),
      vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 1 }),
      securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-0123456789abcdef0'),
    }));
    expect(one(template, 'AWS::EC2::Instance')[1].Properties.SecurityGroupIds).toEqual(['sg-0123456789abcdef0']);
  });

  test('a template imported with a version number is named by ID and that version', () => {
    const { template } = tested((stack) => ({
      launchTemplate: ec2.LaunchTemplate.fromLaunchTemplateAttributes(stack, 'Lt', { launchTemplateId: 'lt-0123456789abcdef0', versionNumber: '7' }),
    }));
    expect(one(template, 'AWS::EC2::Instance')[1].Properties).toMatchObject({ LaunchTemplate: { LaunchTemplateId: 'lt-0123456789abcdef0', Version: '7' } });
    expect(one(template, 'AWS::EC2::Instance')[1].Properties.InstanceType).toBeUndefined();
  });

  test('Linux: bash that runs the test on the console and reports cdk-ami:test; no clean, no stop', () => {
    const data = userDataOf(one(tested().template, 'AWS::EC2::Instance')[1]);
    expect(data).toMatch(/^#!\/bin\/bash\n# cdk-ami test [0-9a-f]{32}: /);
    expect(data).toContain('curl -fsS http://localhost/');
    expect(data).toContain('Key=cdk-ami:test,Value=$1');
    expect(data).toContain('echo "cdk-ami:test=$1" | tee /dev/console');
    expect(data).not.toMatch(/cloud-init clean|ssh_host|cdk-ami:setup/);
  });

  test('Windows (the image\'s osType): PowerShell, t3.medium, the result by New-EC2Tag and COM1; a Linux script is refused', () => {
    const windows = ec2.UserData.forWindows();
    windows.addCommands('Invoke-WebRequest http://localhost/ -UseBasicParsing');
    const { template } = tested(undefined, { osType: ec2.OperatingSystemType.WINDOWS }, windows);
    const [, instance] = one(template, 'AWS::EC2::Instance');
    expect(instance.Properties.InstanceType).toBe('t3.medium');
    const data = userDataOf(instance);
    expect(data).toMatch(/^<powershell># cdk-ami test [0-9a-f]{32}: /);
    expect(data).toContain('-Tag @{ Key = "cdk-ami:test"; Value = $Result }');
    expect(data).toContain('Write-CdkAmiConsole "cdk-ami:test=$Result"');
    expect(data).not.toContain('sysprep');
    expect(() => tested(undefined, { osType: ec2.OperatingSystemType.WINDOWS })).toThrow(
      'The test\'s userData must be an ec2.UserData.forWindows() for a Windows image: its commands run in PowerShell.');
    expect(() => tested(undefined, {}, windows)).toThrow('The test\'s userData is an ec2.UserData.forWindows(), but the image is Linux: '
      + 'use ec2.UserData.forLinux(), or set the image\'s osType to ec2.OperatingSystemType.WINDOWS if it is Windows.');
  });

  test('a new test script is a new test instance (logical ID); the image\'s settings and app-wide tags are not', () => {
    const idOf = (t: Tested) => one(t.template, 'AWS::EC2::Instance')[0];
    const first = idOf(tested());
    expect(idOf(tested())).toBe(first);
    expect(idOf(tested(undefined, { launchPermissions: [LaunchPermission.account('111111111111')], description: 'x' }))).toBe(first);
    expect(idOf(tested(undefined, {}, check('systemctl is-active nginx')))).not.toBe(first);
    expect(idOf(tested((stack) => ({ vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 1 }), instanceType: new ec2.InstanceType('t3.small') })))).not.toBe(first);
    const tagged = tested();
    Tags.of(tagged.stack).add('CostCenter', '1002');
    expect(one(Template.fromStack(tagged.stack), 'AWS::EC2::Instance')[0]).toBe(first);
  });
});

describe('IAM of a test', () => {
  test('the test role may only add cdk-ami:test to this image\'s test instances; the waiter role reads and terminates exactly this one', () => {
    const { template } = tested();
    const [roleId] = resourcesOfType(template, 'AWS::IAM::Role').find(([id]) => id.startsWith('GoldenTestRole'))!;
    const policies = resourcesOfType(template, 'AWS::IAM::Policy');
    const own = policies.filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(roleId))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    expect(own).toEqual([expect.objectContaining({
      Sid: 'ReportTestResult',
      Action: 'ec2:CreateTags',
      Condition: {
        'StringEquals': { 'aws:ResourceTag/cdk-ami:tester': expect.stringMatching(/^[0-9a-f]{16}$/) },
        'ForAllValues:StringEquals': { 'aws:TagKeys': ['cdk-ami:test'] },
      },
    })]);
    const [instanceId] = one(template, 'AWS::EC2::Instance');
    // A policy of the image's own, which the result links wait for: the provider's would be a cycle (provider → instance → image → provider).
    const [policyId, policy] = policies.find(([id]) => id.startsWith('GoldenTestInstancePolicy'))!;
    expect(policy.Properties.Roles).toEqual([{ Ref: expect.stringMatching(/^CdkAmiProviderWaiterRole/) }]);
    expect(policy.Properties.PolicyDocument.Statement).toEqual([{
      Sid: 'ReadAndTerminateTestInstance',
      Effect: 'Allow',
      Action: ['ec2:GetConsoleOutput', 'ec2:TerminateInstances'],
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ec2:us-east-1:123456789012:instance/', { Ref: instanceId }]] },
    }]);
    for (const [, link] of resourcesOfType(template, ResourceTypes.BUILDER_SETUP)) expect(link.DependsOn).toContain(policyId);
    const provider = policies.filter(([id]) => id.startsWith('CdkAmiProvider')).map(([, p]) => JSON.stringify(p));
    expect(provider.join()).not.toContain(instanceId);
  });

  test('testGrantPrincipal is the test role (undefined without a test); cdk-nag finds nothing unexplained', () => {
    expect(nagFindings(tested().stack).filter((f) => f.includes('Golden'))).toEqual([]);
    expect(nagFindings(tested((stack) => ({ launchTemplate: new ec2.LaunchTemplate(stack, 'Lt', { requireImdsv2: true }) })).stack)
      .filter((f) => f.includes('Golden'))).toEqual([]);
    const stack = newStack();
    const image = new AmiFromInstance(stack, 'Golden', { instanceId: INSTANCE_ID, test: ImageTest.script(check(), { vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 1 }) }) });
    new s3.Bucket(stack, 'Fixtures').grantRead(image.testGrantPrincipal!);
    const statements = resourcesOfType(Template.fromStack(stack), 'AWS::IAM::Policy').find(([id]) => id.startsWith('GoldenTestRoleDefaultPolicy'))![1];
    expect(statements.Properties.PolicyDocument.Statement.map((st: any) => st.Sid ?? st.Action))
      .toEqual(['ReportTestResult', ['s3:GetObject*', 's3:GetBucket*', 's3:List*']]);
    expect(new AmiFromInstance(newStack(), 'Plain', { instanceId: INSTANCE_ID }).testGrantPrincipal).toBeUndefined();
  });

  test('a given role is used, and gets the report grant', () => {
    const { template } = tested((stack) => ({
      vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 1 }),
      role: new iam.Role(stack, 'Mine', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') }),
    }));
    expect(resourcesOfType(template, 'AWS::IAM::Role').some(([id]) => id.startsWith('GoldenTestRole'))).toBe(false);
    const mine = resourcesOfType(template, 'AWS::IAM::Policy').find(([id]) => id.startsWith('MineDefaultPolicy'))![1];
    expect(mine.Properties.PolicyDocument.Statement[0].Sid).toBe('ReportTestResult');
  });
});

describe('every kind of image takes a test', () => {
  const kinds: [string, (stack: Stack, test: ImageTest) => IImage][] = [
    ['AmiFromInstance', (stack, test) => new AmiFromInstance(stack, 'Image', { instanceId: INSTANCE_ID, test })],
    ['BakedAmi', (stack, test) => new BakedAmi(stack, 'Image', {
      machineImage: ec2.MachineImage.genericLinux({ 'us-east-1': 'ami-0123456789abcdef0' }), vpc: new ec2.Vpc(stack, 'V', { maxAzs: 1 }), setup: check('true'), test,
    })],
    ['AmiFromSnapshot', (stack, test) => new AmiFromSnapshot(stack, 'Image', { blockDevices: snapshotDevices('snap-0123456789abcdef0'), test })],
    ['CopiedAmi (same Region)', (stack, test) => new CopiedAmi(stack, 'Image', { source: new AmiFromInstance(stack, 'Source', { instanceId: INSTANCE_ID }), test })],
    ['RestoredAmi', (stack, test) => new RestoredAmi(stack, 'Image', { bucket: s3.Bucket.fromBucketName(stack, 'B', 'stored'), objectKey: 'ami-0123456789abcdef0.bin', test })],
    ['ImportedAmi', (stack, test) => new ImportedAmi(stack, 'Image', { disks: [ImportDisk.fromUrl('s3://b/disk.vmdk', DiskImageFormat.VMDK)], test })],
    ['AmiFromDisks', (stack, test) => new AmiFromDisks(stack, 'Image', { disks: [{ deviceName: '/dev/xvda', disk: ImportDisk.fromUrl('s3://b/root.raw', DiskImageFormat.RAW) }], test })],
  ];
  test.each(kinds)('%s', (_, make) => {
    const stack = newStack();
    const image = make(stack, ImageTest.script(check(), { vpc: new ec2.Vpc(stack, 'TestVpc', { maxAzs: 1 }) }));
    const template = Template.fromStack(stack);
    const [instanceId, instance] = resourcesOfType(template, 'AWS::EC2::Instance').find(([id]) => id.startsWith('ImageTest'))!;
    const [handOverId, handOver] = waiters(template, 'ImageHandOver')[0];
    expect(stack.resolve(image.imageId)).toEqual({ 'Fn::GetAtt': [handOverId, 'ImageId'] });
    expect(instance.Properties.ImageId).toEqual(handOver.Properties.ImageId);
    const results = resourcesOfType(template, ResourceTypes.BUILDER_SETUP).filter(([, r]) => r.Properties.InstanceId.Ref === instanceId);
    expect(handOver.DependsOn).toEqual([results[results.length - 1][0]]);
  });

  test('a BakedAmi\'s builder is terminated by the hand-over link, after the test', () => {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1 });
    new BakedAmi(stack, 'Web', {
      machineImage: ec2.MachineImage.genericLinux({ 'us-east-1': 'ami-0123456789abcdef0' }), vpc, setup: check('true'), test: ImageTest.script(check(), { vpc }),
    });
    const template = Template.fromStack(stack);
    const [builderId] = resourcesOfType(template, 'AWS::EC2::Instance').find(([id]) => id.startsWith('WebBuilder'))!;
    expect(waiters(template, 'WebHandOver')[0][1].Properties).toMatchObject({ InstanceAction: 'terminate', InstanceId: { Ref: builderId } });
  });
});

describe('validation', () => {
  const vpcOf = (stack: Stack) => new ec2.Vpc(stack, 'Vpc', { maxAzs: 1 });
  test.each<[string, (stack: Stack) => ImageTestOptions, string]>([
    ['no network', () => ({}), 'The test has neither vpc nor launchTemplate: give a launch template with the consumers\' settings (launchTemplate), or the VPC the test instance runs in (vpc).'],
    ['vpcSubnets without vpc', (stack) => ({ launchTemplate: new ec2.LaunchTemplate(stack, 'Lt'), vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC } }),
      'The test\'s vpcSubnets is set without vpc: the launch template gives the network; give vpc too, or remove vpcSubnets.'],
    ['securityGroup without vpc', (stack) => ({
      launchTemplate: new ec2.LaunchTemplate(stack, 'Lt'), securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-0123456789abcdef0'),
    }), 'The test\'s securityGroup is set without vpc: the launch template gives the network; give vpc too, or remove securityGroup.'],
    ['vpcSubnets that select nothing, with a launch template', (stack) => ({
      launchTemplate: new ec2.LaunchTemplate(stack, 'Lt'),
      vpc: vpcOf(stack),
      vpcSubnets: { availabilityZones: ['eu-west-1a'] },
    }), 'The test instance\'s vpcSubnets select no subnet of the VPC: give vpcSubnets that match one (e.g. { subnetType: ec2.SubnetType.PUBLIC }).'],
    ['a timeout out of range', (stack) => ({ vpc: vpcOf(stack), timeout: Duration.hours(49) }), 'test.timeout 2 days 1 hour is out of range: it must be between 1 minute and 48 hours.'],
    ['a template without a version number', (stack) => ({ launchTemplate: ec2.LaunchTemplate.fromLaunchTemplateAttributes(stack, 'Lt', { launchTemplateName: 'web' }) }),
      'The test\'s launchTemplate has version "$Default": the test instance (AWS::EC2::Instance) takes a version number, and a new number is what runs the test again; '
      + 'import the template with versionNumber, or pass the ec2.LaunchTemplate itself.'],
  ])('%s', (_, options, message) => {
    expect(() => tested(options)).toThrow(message);
  });

  test.each<[string, Partial<{ region: string; account: string }>, string]>([
    ['another Region', { region: 'eu-west-1' }, 'Region eu-west-1'],
    ['another account', { account: '210987654321' }, 'account 210987654321'],
  ])('a copy in %s is refused: test the source', (_, where, named) => {
    const stack = newStack();
    const source = new AmiFromInstance(stack, 'Source', { instanceId: INSTANCE_ID });
    const copyRole = where.account ? iam.Role.fromRoleArn(stack, 'CopyRole', 'arn:aws:iam::210987654321:role/cdk-ami-copy') : undefined;
    expect(() => new CopiedAmi(stack, 'Copy', { source, ...where, copyRole, test: ImageTest.script(check(), { vpc: vpcOf(stack) }) })).toThrow(
      `test is set on an image in ${named}, outside the stack's: the test instance is a resource of the stack, which launches only in its own Region and account; `
      + 'test the source image instead, or copy the image with a stack of that Region and account and test it there.');
  });
});
