import { App, CfnResource, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cdk from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import IAMNoWildcardPermissions from 'cdk-nag/lib/rules/iam/IAMNoWildcardPermissions';
import {
  Ami, AmiFromDisks, AmiFromInstance, AmiFromSnapshot, CopiedAmi, DiskImageFormat, ImageTest, ImportDisk, ImportedAmi, LaunchPermission, RestoredAmi,
  StoredAmi,
} from '../src';
import { ENV, NAG_MAJOR, nagFindings, nagPlugin, newStack, snapshotDevices } from './util';
import { iamWildcardFindings, suppressNag } from '../src/private/nag';

/**
 * Every construct of the library, with a bucket and a KMS key defined in the
 * stack (their ARNs are tokens), others imported by name or ARN, and a second
 * stack that uses the first one's. The app's own bucket and key are
 * compliant, so any finding is the library's.
 */
function everyConstruct(app = new App()): Stack {
  const stack = new Stack(app, 'Images', { env: ENV });
  const bucket = new s3.Bucket(stack, 'Store', {
    enforceSSL: true,
    serverAccessLogsPrefix: 'access-logs/',
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const key = new kms.Key(stack, 'EbsKey', { enableKeyRotation: true });
  const importedBucket = s3.Bucket.fromBucketName(stack, 'Disks', 'vm-disks');
  const importedKey = kms.Key.fromKeyArn(stack, 'SharedKey', 'arn:aws:kms:us-east-1:123456789012:key/k');
  const euKey = kms.Key.fromKeyArn(stack, 'EuKey', 'arn:aws:kms:eu-west-1:123456789012:key/k');

  const golden = new AmiFromInstance(stack, 'Golden', {
    instanceId: 'i-0123456789abcdef0',
    launchPermissions: [LaunchPermission.account('111122223333')],
    shareSnapshots: true,
  });
  golden.copyTo('EuWest1', 'eu-west-1', { encrypted: true, encryptionKey: euKey });
  const stored = golden.storeTo('Backup', bucket, { removalPolicy: RemovalPolicy.DESTROY });
  new RestoredAmi(stack, 'Restored', { bucket: stored.bucket, objectKey: stored.objectKey, defaultEbsEncryptionKey: key });
  new RestoredAmi(stack, 'RestoredShared', { bucket: importedBucket, objectKey: 'ami-0123456789abcdef0.bin', defaultEbsEncryptionKey: importedKey });
  const source = Ami.fromImageId(stack, 'Source', 'ami-0123456789abcdef0');
  new StoredAmi(stack, 'StoredShared', { image: source, bucket: importedBucket, removalPolicy: RemovalPolicy.DESTROY });
  new CopiedAmi(stack, 'Copy', { source, region: 'eu-west-1' });
  // Tested with a launch template of the consumers' settings: a test instance, its role, profile and the waiter's policy on it.
  const check = ec2.UserData.forLinux();
  check.addCommands('curl -fsS http://localhost/');
  new AmiFromSnapshot(stack, 'Registered', {
    blockDevices: snapshotDevices('snap-0123456789abcdef0'),
    test: ImageTest.script(check, { launchTemplate: ec2.LaunchTemplate.fromLaunchTemplateAttributes(stack, 'Consumers', { launchTemplateId: 'lt-0123456789abcdef0', versionNumber: '1' }) }),
  });
  new ImportedAmi(stack, 'Appliance', {
    disks: [
      ImportDisk.fromBucket(bucket, 'appliance/boot.vmdk', DiskImageFormat.VMDK),
      ImportDisk.fromBucket(importedBucket, 'appliance/data.vmdk', DiskImageFormat.VMDK),
    ],
    encrypted: true,
    encryptionKey: key,
  });

  new AmiFromDisks(stack, 'FromDisks', {
    disks: [{ deviceName: '/dev/xvda', disk: ImportDisk.fromBucket(bucket, 'nixos/root.vhd', DiskImageFormat.VHD) }],
    encrypted: true,
    encryptionKey: key,
  });

  // Another stack of the app that restores from the bucket and with the key of the first.
  const consumers = new Stack(app, 'Consumers', { env: ENV });
  new RestoredAmi(consumers, 'Restored', { bucket, objectKey: 'ami-0123456789abcdef0.bin', defaultEbsEncryptionKey: key });
  new StoredAmi(consumers, 'Stored', { image: Ami.fromImageId(consumers, 'Source', 'ami-0123456789abcdef0'), bucket });
  return stack;
}

function consumersOf(stack: Stack): Stack {
  return stack.node.scope!.node.findChild('Consumers') as Stack;
}

describe(`cdk-nag ${NAG_MAJOR}`, () => {
  test('AwsSolutions reports nothing on an app with every construct', () => {
    expect(nagFindings(everyConstruct())).toEqual([]);
  });

  test('nor on a stack that uses a bucket and a key of another stack (cross-stack references)', () => {
    expect(nagFindings(consumersOf(everyConstruct()))).toEqual([]);
  });

  test('suppressNag explains exactly the findings its appliesTo matches, also in statements added later', () => {
    const stack = newStack();
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::bucket/logs/*'] }));
    suppressNag(role, [
      { id: 'AwsSolutions-IAM5', reason: 'Log objects only.', appliesTo: [{ regex: '/^Resource::arn:aws:s3:::bucket\\/logs\\/\\*$/' }] },
      { id: 'AwsSolutions-IAM5', reason: 'Listing only.', appliesTo: ['Action::s3:List*'] },
    ]);
    // The provider's roles grow with each image after their suppressions were declared.
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:List*'], resources: ['arn:aws:s3:::bucket/logs/*', 'arn:aws:s3:::bucket/other/*'] }));
    const findings = nagFindings(stack);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toContain('/TestStack/Role/DefaultPolicy/Resource: AwsSolutions-IAM5[Resource::arn:aws:s3:::bucket/other/*]');
  });

  test('the IAM wildcard findings acknowledged for cdk-nag 3 are the ones cdk-nag computes', () => {
    const stack = everyConstruct();
    const resources = stack.node.findAll().filter(CfnResource.isCfnResource);
    const policies = resources.filter((r) => iamWildcardFindings(r).length > 0);
    // The provider's four roles and the state machine's role carry wildcards (Resource::*, image/*, ...).
    expect(policies.length).toBeGreaterThanOrEqual(5);
    for (const resource of resources) {
      const computed = IAMNoWildcardPermissions(resource);
      const expected = Array.isArray(computed) ? computed.sort() : [];
      expect([resource.node.path, iamWildcardFindings(resource).sort()]).toEqual([resource.node.path, expected]);
    }
  });

  if (NAG_MAJOR === 3) {
    test('cdk-nag 3 as the app\'s validation plugin: app.synth() passes', () => {
      const app = new App();
      everyConstruct(app);
      (cdk as any).Validations.of(app).addPlugins(nagPlugin(app));
      expect(() => app.synth()).not.toThrow();
    });
  } else {
    test('without Validations.acknowledge (aws-cdk-lib before cdk-nag 3), only the cdk_nag metadata is written', () => {
      const stack = everyConstruct();
      stack.node.findAll().forEach((c) => expect(c.node.metadata.map((m) => m.type)).not.toContain('aws:cdk:acknowledged-rules'));
      const role = stack.node.findAll().find((c) => c.node.path === 'Images/CdkAmiProvider/OperationRole/Resource') as CfnResource;
      expect(role.getMetadata('cdk_nag').rules_to_suppress.map((r: { id: string }) => r.id)).toContain('AwsSolutions-IAM5');
    });
  }
});
