import { Duration, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { BakedAmi, BakedAmiProps, BeforeImaging, InstanceAction } from '../src';
import { nagFindings, newStack, resourcesOfType } from './util';
import { ResourceTypes, SETUP_SUCCEEDED, Tags as CdkAmiTags } from '../src/private/contract';

const BASE = ec2.MachineImage.genericLinux({ 'us-east-1': 'ami-0123456789abcdef0' });
const WINDOWS_BASE = ec2.MachineImage.genericWindows({ 'us-east-1': 'ami-0fedcba9876543210' });

function linuxSetup(...commands: string[]): ec2.UserData {
  const setup = ec2.UserData.forLinux();
  setup.addCommands(...(commands.length ? commands : ['dnf install -y nginx']));
  return setup;
}

type Baked = { stack: Stack; image: BakedAmi; template: Template };
function bake(
  props: Partial<BakedAmiProps> = {}, configure?: (stack: Stack, image: BakedAmi) => void, propsIn?: (stack: Stack) => Partial<BakedAmiProps>,
): Baked {
  const stack = newStack();
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
  const image = new BakedAmi(stack, 'Web', { machineImage: BASE, vpc, setup: linuxSetup(), ...props, ...propsIn?.(stack) });
  configure?.(stack, image);
  return { stack, image, template: Template.fromStack(stack) };
}

function builder(template: Template): [string, any] {
  const instances = resourcesOfType(template, 'AWS::EC2::Instance');
  expect(instances).toHaveLength(1);
  return instances[0];
}

/** The builder's user data as one string (tokens rendered as their CloudFormation JSON). */
function userDataOf(template: Template): string {
  const data = builder(template)[1].Properties.UserData['Fn::Base64'];
  return typeof data === 'string' ? data : JSON.stringify(data);
}

function recipeHash(template: Template): string {
  const match = /# cdk-ami recipe ([0-9a-f]{32}):/.exec(userDataOf(template));
  expect(match).not.toBeNull();
  return match![1];
}

function statementsOf(template: Template, roleLogicalIdPattern: RegExp): any[] {
  return resourcesOfType(template, 'AWS::IAM::Policy')
    .filter(([, p]) => p.Properties.Roles.some((r: any) => roleLogicalIdPattern.test(r.Ref)))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
}

describe('BakedAmi resources', () => {
  test('builder → setup wait → CreateImage of the setup\'s instance → image waits that terminate the builder', () => {
    const { template } = bake();
    const [builderId] = builder(template);
    const setups = resourcesOfType(template, ResourceTypes.BUILDER_SETUP).sort(([, a], [, b]) => a.Properties.Link - b.Properties.Link);
    expect(setups).toHaveLength(2);
    expect(setups[0][1].Properties).toMatchObject({ InstanceId: { Ref: builderId }, Link: 1, Links: 2, BudgetSeconds: 1800, TimeoutSeconds: 3600, StopBy: 'handler' });
    expect(setups[1][1].Properties).toMatchObject({ InstanceId: { 'Fn::GetAtt': [setups[0][0], 'InstanceId'] }, Link: 2 });
    // Imaging starts only once the last setup link is done.
    template.hasResourceProperties('Custom::AmiFromInstance', {
      InstanceId: { 'Fn::GetAtt': [setups[1][0], 'InstanceId'] },
      NoReboot: false,
      IncludeDataVolumes: true,
    });
    const waiters = resourcesOfType(template, 'Custom::AmiWaiter').map(([, w]) => w.Properties);
    expect(waiters.find((w) => w.Link === w.Links)).toMatchObject({ InstanceAction: 'terminate', InstanceId: { Ref: builderId } });
  });

  test('setupTimeout sets the setup chain: 3 hours are 4 links of 45 minutes', () => {
    const { template } = bake({ setupTimeout: Duration.hours(3) });
    const setups = resourcesOfType(template, ResourceTypes.BUILDER_SETUP);
    expect(setups).toHaveLength(4);
    for (const [, s] of setups) expect(s.Properties).toMatchObject({ BudgetSeconds: 2700, TimeoutSeconds: 10800 });
  });

  test('the builder runs in private subnets with egress by default, in a public one when asked', () => {
    const { stack, template } = bake();
    const privateSubnets = resourcesOfType(template, 'AWS::EC2::Subnet').filter(([id]) => /Private/.test(id)).map(([id]) => id);
    expect(privateSubnets).toContain(builder(template)[1].Properties.SubnetId.Ref);
    expect(stack).toBeDefined();

    const { template: publicTemplate } = bake({ vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC } });
    expect(builder(publicTemplate)[1].Properties.SubnetId.Ref).toMatch(/PublicSubnet/);
  });

  test('the builder: IMDSv2 only through an unnamed launch template, no key pair, no inbound rule, user data replaces it', () => {
    const { template } = bake({ instanceType: new ec2.InstanceType('c7i.large'), blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(30, { volumeType: ec2.EbsDeviceVolumeType.GP3 }) }] });
    const [, instance] = builder(template);
    expect(instance.Properties).toMatchObject({
      InstanceType: 'c7i.large',
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 30, VolumeType: 'gp3' } }],
    });
    expect(instance.Properties.KeyName).toBeUndefined();
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: { MetadataOptions: { HttpTokens: 'required' } },
      LaunchTemplateName: Match.absent(),
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroup', { SecurityGroupIngress: Match.absent() });
  });

  test('the builder role: Session Manager by default, grants to the image, and CreateTags of the setup tag on its own builders only', () => {
    const { template, image } = bake({}, (stack, baked) => {
      s3.Bucket.fromBucketName(stack, 'Installers', 'installers').grantRead(baked);
    });
    expect(image.grantPrincipal).toBe(image.role.grantPrincipal);
    const roles = resourcesOfType(template, 'AWS::IAM::Role').filter(([id]) => /WebBuilderRole/.test(id));
    expect(roles).toHaveLength(1);
    expect(JSON.stringify(roles[0][1].Properties.ManagedPolicyArns)).toMatch(/AmazonSSMManagedInstanceCore/);
    const statements = statementsOf(template, /WebBuilderRole/);
    expect(statements).toContainEqual(expect.objectContaining({ Action: expect.arrayContaining(['s3:GetObject*']) }));
    const builderMark = builder(template)[1].Properties.Tags.find((t: any) => t.Key === 'cdk-ami:builder').Value;
    expect(statements).toContainEqual(expect.objectContaining({
      Sid: 'ReportSetupResult',
      Action: 'ec2:CreateTags',
      Condition: {
        'StringEquals': { 'aws:ResourceTag/cdk-ami:builder': builderMark },
        'ForAllValues:StringEquals': { 'aws:TagKeys': [CdkAmiTags.SETUP] },
      },
    }));

    const { template: noSsm } = bake({ ssmSessionPermissions: false });
    const role = resourcesOfType(noSsm, 'AWS::IAM::Role').find(([id]) => /WebBuilderRole/.test(id))!;
    expect(role[1].Properties.ManagedPolicyArns).toBeUndefined();
  });

  test('a role of the user\'s: the builder runs with it, and it gets the report statement and Session Manager', () => {
    const { template } = bake({}, undefined, (stack) => ({ role: new iam.Role(stack, 'Mine', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') }) }));
    expect(resourcesOfType(template, 'AWS::IAM::Role').filter(([id]) => /WebBuilderRole/.test(id))).toEqual([]);
    const profile = resourcesOfType(template, 'AWS::IAM::InstanceProfile').find(([id]) => /WebBuilder/.test(id))!;
    expect(profile[1].Properties.Roles).toEqual([{ Ref: expect.stringMatching(/^Mine/) }]);
    expect(statementsOf(template, /^Mine/)).toContainEqual(expect.objectContaining({ Sid: 'ReportSetupResult' }));
    template.hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/AmazonSSMManagedInstanceCore']] }] });
  });

  test('the provider may read the builder\'s console and stop it, and describe instances', () => {
    const { template } = bake();
    const [builderId] = builder(template);
    const waiter = statementsOf(template, /WaiterRole/);
    const arnOf = (sid: string) => JSON.stringify(waiter.find((s) => s.Sid === sid)?.Resource);
    expect(waiter.find((s) => s.Sid === 'ReadBuilderConsoles')!.Action).toBe('ec2:GetConsoleOutput');
    expect(arnOf('ReadBuilderConsoles')).toContain(`instance/",{"Ref":"${builderId}"}`);
    expect(arnOf('StopSourceInstances')).toContain(builderId);
    expect(arnOf('TerminateSourceInstances')).toContain(builderId);
    expect(waiter.find((s) => s.Sid === 'DescribeInstances')).toMatchObject({ Action: 'ec2:DescribeInstances', Resource: '*' });
    const operation = statementsOf(template, /OperationRole/);
    expect(JSON.stringify(operation.find((s) => s.Sid === 'CreateImageOfSourceInstances')?.Resource)).toContain(builderId);
  });

  test('the user data carries the setup and reports its result (the script itself: builder-scripts.test.ts)', () => {
    const { template } = bake();
    const script = userDataOf(template);
    expect(script).toMatch(/^#!\/bin\/bash\n# cdk-ami recipe [0-9a-f]{32}:/);
    expect(script).toContain("<<'CDK_AMI_SETUP_EOF'\n#!/bin/bash\ndnf install -y nginx\nCDK_AMI_SETUP_EOF\n");
    expect(script).toContain('cdk_ami_report "failed:$rc"');
    expect(script).toContain('cloud-init clean --logs');
    expect(script.trimEnd().endsWith(`cdk_ami_report ${SETUP_SUCCEEDED}`)).toBe(true);

    const kept = userDataOf(bake({ clean: false }).template);
    expect(kept).not.toContain('cloud-init clean');
    expect(kept).not.toContain('ssh_host_');
  });

  test('init: cfn-init metadata on the builder, run before the setup with its exit code read', () => {
    const init = ec2.CloudFormationInit.fromElements(ec2.InitPackage.yum('nginx'));
    const { template } = bake({ init, initConfigSets: ['default'] });
    const [, instance] = builder(template);
    expect(instance.Metadata['AWS::CloudFormation::Init']).toBeDefined();
    const script = userDataOf(template);
    expect(script).toMatch(/\/opt\/aws\/bin\/cfn-init -v --region .* -c default 2>&1 \| tee \/dev\/console/);
    expect(script.indexOf('cfn-init -v')).toBeLessThan(script.indexOf('CDK_AMI_SETUP_EOF'));
    expect(script).toContain('tail -n 40 /var/log/cfn-init.log > /dev/console');
    // No cfn-signal: nothing waits for a CreationPolicy.
    expect(script).not.toContain('cfn-signal');
    expect(instance.CreationPolicy).toBeUndefined();
  });

  test('the image options pass through: name, description, tags, removal policy, copies', () => {
    const { template } = bake({ imageName: 'web-v1', description: 'nginx', tags: { team: 'web' }, removalPolicy: RemovalPolicy.DESTROY }, (_stack, image) => {
      image.copyTo('EuWest1', 'eu-west-1');
    });
    template.hasResourceProperties('Custom::AmiFromInstance', {
      ImageName: 'web-v1', Description: 'nginx', RemovalPolicy: 'destroy', Tags: [{ Key: 'team', Value: 'web' }],
    });
    template.resourceCountIs('Custom::CopiedAmi', 1);
  });
});

describe('BakedAmi recipe hash', () => {
  const base = () => recipeHash(bake().template);

  test('the same recipe synthesizes the same hash and the same builder', () => {
    const a = bake().template;
    const b = bake().template;
    expect(recipeHash(a)).toBe(recipeHash(b));
    expect(builder(a)[0]).toBe(builder(b)[0]);
  });

  test.each<[string, Partial<BakedAmiProps>]>([
    ['base image', { machineImage: ec2.MachineImage.genericLinux({ 'us-east-1': 'ami-0aaaaaaaaaaaaaaaa' }) }],
    ['setup', { setup: linuxSetup('dnf install -y httpd') }],
    ['init', { init: ec2.CloudFormationInit.fromElements(ec2.InitPackage.yum('nginx')) }],
    ['instance type', { instanceType: new ec2.InstanceType('m7i.large') }],
    ['block devices', { blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(40) }] }],
    ['subnets', { vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC } }],
    ['beforeImaging', { beforeImaging: BeforeImaging.REBOOT }],
    ['clean', { clean: false }],
    ['image name', { imageName: 'web-v2' }],
    ['number of setup links (setupTimeout 1 h → 3 h)', { setupTimeout: Duration.hours(3) }],
  ])('a change of %s changes the hash and the builder\'s logical ID', (_what, change) => {
    const changed = bake(change).template;
    const unchanged = bake().template;
    expect(recipeHash(changed)).not.toBe(base());
    expect(builder(changed)[0]).not.toBe(builder(unchanged)[0]);
  });

  test('an app-wide tag bakes nothing: the builder and its launch template stay as they are, the image takes the tag', () => {
    const plain = bake().template;
    const tagged = bake({}, (stack) => Tags.of(stack.node.root).add('CostCenter', '1002')).template;
    expect(recipeHash(tagged)).toBe(recipeHash(plain));
    expect(builder(tagged)).toEqual(builder(plain));
    expect(resourcesOfType(tagged, 'AWS::EC2::LaunchTemplate')).toEqual(resourcesOfType(plain, 'AWS::EC2::LaunchTemplate'));
    expect(builder(tagged)[1].Properties.Tags.map((t: any) => t.Key)).toEqual(['Name', CdkAmiTags.BUILDER]);
    tagged.hasResourceProperties('Custom::AmiFromInstance', { Tags: [{ Key: 'CostCenter', Value: '1002' }] });
  });

  test('builderTags tag the builder and are part of the recipe', () => {
    const { template } = bake({ builderTags: { CostCenter: '1002' } });
    expect(builder(template)[1].Properties.Tags).toEqual([
      { Key: 'CostCenter', Value: '1002' },
      { Key: 'Name', Value: 'TestStack/Web/Builder' },
      { Key: CdkAmiTags.BUILDER, Value: expect.stringMatching(/^[0-9a-f]{16}$/) },
    ]);
    expect(recipeHash(template)).not.toBe(base());
    expect(builder(template)[0]).not.toBe(builder(bake().template)[0]);
  });

  test.each<[string, Partial<BakedAmiProps>]>([
    ['description', { description: 'changed' }],
    ['image tags', { tags: { team: 'web' } }],
    ['removal policy', { removalPolicy: RemovalPolicy.DESTROY }],
    ['image timeout', { timeout: Duration.hours(2) }],
    ['instance action', { instanceAction: InstanceAction.STOP }],
    ['setupTimeout with as many links (1 h → 90 min: 2 links)', { setupTimeout: Duration.minutes(90) }],
  ])('a change of %s (the image, not the recipe) keeps the hash', (_what, change) => {
    expect(recipeHash(bake(change).template)).toBe(base());
  });
});

describe('BakedAmi on Windows', () => {
  function windowsBake(props: Partial<BakedAmiProps> = {}) {
    const setup = ec2.UserData.forWindows();
    setup.addCommands('Install-WindowsFeature Web-Server');
    return bake({ machineImage: WINDOWS_BASE, setup, ...props });
  }

  test('PowerShell: the setup from a here-string, the result as a tag and on COM1, then EC2Launch v2 sysprep shuts it down', () => {
    const { template, image } = windowsBake();
    const script = userDataOf(template);
    expect(script).toMatch(/^<powershell># cdk-ami recipe [0-9a-f]{32}:/);
    expect(script).toContain("$CdkAmiSetup = @'\nInstall-WindowsFeature Web-Server\n'@");
    expect(script).toContain(`New-EC2Tag -Region "us-east-1" -Resource $id -Tag @{ Key = "${CdkAmiTags.SETUP}"; Value = $Result }`);
    expect(script).toContain('New-Object System.IO.Ports.SerialPort "COM1", 115200');
    expect(script.indexOf(`Send-CdkAmiResult ${SETUP_SUCCEEDED}`)).toBeLessThan(script.indexOf('EC2Launch.exe" sysprep --clean --shutdown'));
    expect(script).toMatch(/<\/powershell>$/);
    // The instance stops itself: the handler waits for it, and may not stop it.
    for (const [, s] of resourcesOfType(template, ResourceTypes.BUILDER_SETUP)) expect(s.Properties.StopBy).toBe('instance');
    expect(statementsOf(template, /WaiterRole/).find((s) => s.Sid === 'StopSourceInstances')).toBeUndefined();
    expect(builder(template)[1].Properties.BlockDeviceMappings).toBeUndefined();
    expect(image.getImage(image).osType).toBe(ec2.OperatingSystemType.WINDOWS);
  });

  test('BeforeImaging.STOP: no sysprep, the handler stops the builder', () => {
    const { template } = windowsBake({ beforeImaging: BeforeImaging.STOP });
    expect(userDataOf(template)).not.toContain('sysprep');
    for (const [, s] of resourcesOfType(template, ResourceTypes.BUILDER_SETUP)) expect(s.Properties.StopBy).toBe('handler');
  });

  test('init runs cfn-init.exe and reads $LASTEXITCODE', () => {
    const init = ec2.CloudFormationInit.fromElements(ec2.InitCommand.shellCommand('echo hi'));
    const script = userDataOf(windowsBake({ init }).template);
    expect(script).toMatch(/cfn-init\.exe -v --region/);
    expect(script).toContain('$rc = $LASTEXITCODE');
  });
});

describe('BakedAmi validation', () => {
  const windowsSetup = () => {
    const s = ec2.UserData.forWindows();
    s.addCommands('echo hi');
    return s;
  };

  test.each<[string, Partial<BakedAmiProps>, RegExp]>([
    ['no setup', { setup: undefined }, /^BakedAmi needs a setup: give setup .*, init .*, or both\.$/],
    ['setupTimeout too long', { setupTimeout: Duration.hours(72) }, /^setupTimeout 3 days is out of range: it must be between 1 minute and 48 hours\.$/],
    ['setupTimeout too short', { setupTimeout: Duration.seconds(30) }, /^setupTimeout 30 seconds is out of range/],
    ['image timeout too long', { timeout: Duration.hours(49) }, /^timeout 2 days 1 hour is out of range: it must be between 1 minute and 48 hours\.$/],
    ['initConfigSets without init', { initConfigSets: ['a'] }, /^initConfigSets is set without init/],
    ['Windows setup on Linux', { setup: windowsSetup() }, /^setup is an ec2\.UserData\.forWindows\(\), but the base image is Linux: use ec2\.UserData\.forLinux\(\)\.$/],
    ['Linux setup on Windows', { machineImage: WINDOWS_BASE }, /^setup must be an ec2\.UserData\.forWindows\(\) for a Windows base image/],
    ['sysprep on Linux', { beforeImaging: BeforeImaging.SYSPREP }, /^beforeImaging is SYSPREP, but the base image is Linux: sysprep is Windows's; use STOP or REBOOT\.$/],
    ['osType mismatch', { osType: ec2.OperatingSystemType.WINDOWS }, /^osType WINDOWS does not match the base image, which is Linux/],
    ['reserved builder tag', { builderTags: { 'cdk-ami:builder': 'x' } }, /^Tag key "cdk-ami:builder" is reserved/],
    ['here-document end in setup', { setup: linuxSetup('cat <<CDK_AMI_SETUP_EOF', 'x', 'CDK_AMI_SETUP_EOF') }, /^setup has a line "CDK_AMI_SETUP_EOF"/],
  ])('%s', (_what, props, message) => {
    expect(() => bake(props)).toThrow(message);
  });
});

describe('BakedAmi and cdk-nag', () => {
  test('AwsSolutions finds nothing unsuppressed', () => {
    const stack = newStack();
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
      vpcId: 'vpc-12345678', availabilityZones: ['us-east-1a'], privateSubnetIds: ['subnet-12345678'],
    });
    new BakedAmi(stack, 'Web', { machineImage: BASE, vpc, setup: linuxSetup() });
    expect(nagFindings(stack)).toEqual([]);
  });
});
