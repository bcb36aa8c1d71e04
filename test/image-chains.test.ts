/**
 * An image made from another image of the same stack: a builder baked on it,
 * an instance launched from it and imaged, a copy, a stored object and its
 * restore, a test or fast launch with a launch template naming it, a
 * snapshot made from it. CloudFormation refuses a template with a dependency
 * cycle, and aws-cdk-lib's assertions check for one (`Template.fromStack`).
 * A grant that names a resource of this stack (the builder, the instance, the
 * template, the snapshot) is a policy of the image's own, which the first
 * resource that makes the call waits for.
 */
import { CustomResource, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import {
  Ami, AmiFromInstance, AmiFromSnapshot, BakedAmi, BeforeImaging, CopiedAmi, CopyableImageBase, IImage, ImageTest, ImportDisk, ImportedAmi,
  InstanceAction, RestoredAmi, StoredAmi,
} from '../src';
import { newStack, resourcesOfType, snapshotDevices } from './util';
import { ResourceTypes } from '../src/private/contract';

const LINUX_BASE = 'ami-0123456789abcdef0';

function commands(...lines: string[]): ec2.UserData {
  const data = ec2.UserData.forLinux();
  data.addCommands(...lines);
  return data;
}

function launchedFrom(stack: Stack, image: IImage, vpc: ec2.IVpc): ec2.Instance {
  return new ec2.Instance(stack, 'Server', { vpc, instanceType: new ec2.InstanceType('t3.micro'), machineImage: image, userDataCausesReplacement: true });
}

/** A snapshot the user's own custom resource makes from the image (e.g. of a volume of an instance launched from it). */
function snapshotOf(stack: Stack, image: IImage): string {
  return new CustomResource(stack, 'Snapshot', {
    serviceToken: `arn:aws:lambda:us-east-1:${stack.account}:function:snapshot`,
    properties: { ImageId: image.imageId },
  }).getAttString('SnapshotId');
}

type Chain = (stack: Stack, source: CopyableImageBase, vpc: ec2.IVpc) => void;

/** Every kind that takes another image, or a resource made from one, as its source. */
const CHAINS: Record<string, Chain> = {
  'BakedAmi baked on it': (s, a, vpc) => { new BakedAmi(s, 'B', { machineImage: a, vpc, setup: commands('dnf install -y nginx') }); },
  'BakedAmi baked on it, the builder stopped and kept': (s, a, vpc) => {
    new BakedAmi(s, 'B', { machineImage: a, vpc, setup: commands('true'), beforeImaging: BeforeImaging.REBOOT, instanceAction: InstanceAction.STOP });
  },
  'BakedAmi baked on it, with a test': (s, a, vpc) => {
    new BakedAmi(s, 'B', { machineImage: a, vpc, setup: commands('true'), test: ImageTest.script(commands('true'), { vpc }) });
  },
  'AmiFromInstance of an instance launched from it': (s, a, vpc) => { new AmiFromInstance(s, 'B', { instance: launchedFrom(s, a, vpc) }); },
  'AmiFromInstance of an instance launched from it, then stopped': (s, a, vpc) => {
    new AmiFromInstance(s, 'B', { instance: launchedFrom(s, a, vpc), instanceAction: InstanceAction.STOP });
  },
  'AmiFromInstance of an instance launched from it, then terminated': (s, a, vpc) => {
    new AmiFromInstance(s, 'B', { instance: launchedFrom(s, a, vpc), instanceAction: InstanceAction.TERMINATE });
  },
  'CopiedAmi': (s, a) => { new CopiedAmi(s, 'B', { source: a, region: 'eu-west-1' }); },
  'copyTo': (_s, a) => { a.copyTo('B', 'eu-west-1'); },
  'StoredAmi, and a RestoredAmi of its object': (s, a) => {
    const stored = new StoredAmi(s, 'B', { image: a, bucket: new s3.Bucket(s, 'Bucket') });
    new RestoredAmi(s, 'C', { bucket: stored.bucket, objectKey: stored.objectKey });
  },
  'storeTo': (s, a) => { a.storeTo('B', s3.Bucket.fromBucketName(s, 'Bucket', 'stored-images')); },
  'a test whose launch template names it': (s, a, vpc) => {
    const template = new ec2.LaunchTemplate(s, 'Template', { machineImage: a, instanceType: new ec2.InstanceType('t3.micro') });
    new AmiFromInstance(s, 'B', { instanceId: 'i-0123456789abcdef1', test: ImageTest.script(commands('true'), { launchTemplate: template, vpc }) });
  },
  'fast launch with a launch template naming it': (s, a) => {
    const template = new ec2.LaunchTemplate(s, 'Template', { machineImage: a, instanceType: new ec2.InstanceType('t3.medium') });
    new AmiFromInstance(s, 'B', { instanceId: 'i-0123456789abcdef1', osType: ec2.OperatingSystemType.WINDOWS, fastLaunch: { launchTemplate: template } });
  },
  'AmiFromSnapshot of a snapshot made from it': (s, a) => { new AmiFromSnapshot(s, 'B', { blockDevices: snapshotDevices(snapshotOf(s, a)) }); },
  'ImportedAmi of a snapshot made from it': (s, a) => { new ImportedAmi(s, 'B', { disks: [ImportDisk.fromSnapshot(snapshotOf(s, a))] }); },
};

/** Each source kind whose image ID is a resource of the stack. */
const SOURCES: Record<string, (stack: Stack, vpc: ec2.IVpc) => CopyableImageBase> = {
  AmiFromInstance: (s) => new AmiFromInstance(s, 'A', { instanceId: 'i-0123456789abcdef0' }),
  BakedAmi: (s, vpc) => new BakedAmi(s, 'A', { machineImage: Ami.fromImageId(s, 'Base', LINUX_BASE), vpc, setup: commands('true') }),
};

function chained(source: string, chain: string): Stack {
  const stack = newStack();
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1 });
  CHAINS[chain](stack, SOURCES[source](stack, vpc), vpc);
  return stack;
}

describe('an image made from another image of the stack synthesizes without a dependency cycle', () => {
  const cases = Object.keys(SOURCES).flatMap((source) => Object.keys(CHAINS).map((chain) => [source, chain] as const));
  test.each(cases)('%s → %s', (source, chain) => {
    expect(() => Template.fromStack(chained(source, chain))).not.toThrow();
  });
});

/** The resource's DependsOn, as a list. */
function dependsOn(resource: any): string[] {
  return [resource.DependsOn ?? []].flat();
}

function policy(template: Template, id: RegExp): [string, any] {
  const found = resourcesOfType(template, 'AWS::IAM::Policy').filter(([logicalId]) => id.test(logicalId));
  expect(found).toHaveLength(1);
  return found[0];
}

describe('a grant naming a resource of the stack is in effect before the call', () => {
  test('BakedAmi on BakedAmi: CreateImage of the builder before the operation; its console, stop and terminate before the first setup link', () => {
    const template = Template.fromStack(chained('BakedAmi', 'BakedAmi baked on it'));
    const builder = resourcesOfType(template, 'AWS::EC2::Instance').find(([id]) => id.startsWith('BBuilder'))![0];
    const [operationPolicyId, operationPolicy] = policy(template, /^BProviderOperationPolicy/);
    expect(operationPolicy.Properties.Roles).toEqual([{ Ref: expect.stringMatching(/^CdkAmiProviderOperationRole/) }]);
    expect(operationPolicy.Properties.PolicyDocument.Statement).toEqual([
      expect.objectContaining({ Sid: 'CreateImageOfSourceInstances', Action: 'ec2:CreateImage' }),
    ]);
    expect(JSON.stringify(operationPolicy.Properties.PolicyDocument)).toContain(`{"Ref":"${builder}"}`);
    const [operation] = resourcesOfType(template, ResourceTypes.AMI_FROM_INSTANCE).filter(([id]) => id.startsWith('B'))[0];
    expect(dependsOn(template.toJSON().Resources[operation])).toContain(operationPolicyId);

    const [waiterPolicyId, waiterPolicy] = policy(template, /^BProviderWaiterPolicy/);
    expect(waiterPolicy.Properties.Roles).toEqual([{ Ref: expect.stringMatching(/^CdkAmiProviderWaiterRole/) }]);
    expect(waiterPolicy.Properties.PolicyDocument.Statement.map((s: any) => [s.Sid, s.Action])).toEqual([
      ['ReadBuilderConsoles', 'ec2:GetConsoleOutput'], ['StopSourceInstances', 'ec2:StopInstances'], ['TerminateSourceInstances', 'ec2:TerminateInstances'],
    ]);
    const firstSetupLink = resourcesOfType(template, ResourceTypes.BUILDER_SETUP).find(([id, r]) => id.startsWith('B') && r.Properties.Link === 1)!;
    expect(dependsOn(firstSetupLink[1])).toContain(waiterPolicyId);
    // Nothing of B is left in the provider's default policies: they would wait for B's builder.
    for (const [id, p] of resourcesOfType(template, 'AWS::IAM::Policy').filter(([pid]) => pid.startsWith('CdkAmiProvider'))) {
      expect([id, JSON.stringify(p.Properties.PolicyDocument)]).toEqual([id, expect.not.stringContaining(builder)]);
    }
  });

  test('AmiFromInstance of an instance of the stack: CreateImage and the instance action before the operation', () => {
    const template = Template.fromStack(chained('AmiFromInstance', 'AmiFromInstance of an instance launched from it, then terminated'));
    const [operation] = resourcesOfType(template, ResourceTypes.AMI_FROM_INSTANCE).find(([id]) => id.startsWith('B'))!;
    const [operationPolicyId] = policy(template, /^BProviderOperationPolicy/);
    const [waiterPolicyId, waiterPolicy] = policy(template, /^BProviderWaiterPolicy/);
    expect(waiterPolicy.Properties.PolicyDocument.Statement.map((s: any) => s.Action)).toEqual(['ec2:TerminateInstances']);
    expect(dependsOn(template.toJSON().Resources[operation])).toEqual(expect.arrayContaining([operationPolicyId, waiterPolicyId]));
  });

  test('fast launch with a template of the stack, and a snapshot of the stack: policies of the image\'s own', () => {
    const fast = Template.fromStack(chained('AmiFromInstance', 'fast launch with a launch template naming it'));
    expect(policy(fast, /^BProviderWaiterPolicy/)[1].Properties.PolicyDocument.Statement).toEqual([expect.objectContaining({ Sid: 'FastLaunchTemplates' })]);
    const registered = Template.fromStack(chained('AmiFromInstance', 'AmiFromSnapshot of a snapshot made from it'));
    expect(policy(registered, /^BProviderOperationPolicy/)[1].Properties.PolicyDocument.Statement).toEqual([expect.objectContaining({ Sid: 'RegisterImageOfSourceSnapshots' })]);
  });

  test('an instance named by its ID stays in the provider\'s shared statement: one statement for every image', () => {
    const stack = newStack();
    new AmiFromInstance(stack, 'One', { instanceId: 'i-0123456789abcdef0', instanceAction: InstanceAction.STOP });
    new AmiFromInstance(stack, 'Two', { instanceId: 'i-0123456789abcdef1' });
    const template = Template.fromStack(stack);
    expect(resourcesOfType(template, 'AWS::IAM::Policy').map(([id]) => id).filter((id) => !id.startsWith('CdkAmiProvider'))).toEqual([]);
    const shared = resourcesOfType(template, 'AWS::IAM::Policy').flatMap(([, p]) => p.Properties.PolicyDocument.Statement)
      .filter((s: any) => s.Sid === 'CreateImageOfSourceInstances');
    expect(shared).toHaveLength(1);
    expect(shared[0].Resource).toHaveLength(2);
  });
});
