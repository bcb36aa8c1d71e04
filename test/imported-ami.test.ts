import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { DiskImageFormat, ImageArchitecture, ImportDisk, ImportedAmi, ImportPlatform } from '../src';
import { nagFindings, newStack, resourcesOfType } from './util';

function importStack(extra: Partial<ConstructorParameters<typeof ImportedAmi>[2]> = {}): Stack {
  const stack = newStack();
  const bucket = s3.Bucket.fromBucketName(stack, 'Disks', 'vm-disks');
  new ImportedAmi(stack, 'Appliance', {
    disks: [
      ImportDisk.fromBucket(bucket, 'appliance/boot.vmdk', DiskImageFormat.VMDK),
      ImportDisk.fromUrl('s3://other-disks/data.raw', DiskImageFormat.RAW),
      ImportDisk.fromSnapshot('snap-0123456789abcdef0'),
    ],
    architecture: ImageArchitecture.X86_64,
    platform: ImportPlatform.LINUX,
    ...extra,
  });
  return stack;
}

/** The links of stage 1 (follow the task) and stage 2 (tag, copy under the name, govern), in order. */
function stage1(template: Template): [string, any][] {
  return resourcesOfType(template, 'Custom::AmiWaiter').filter(([id]) => id.startsWith('ApplianceImportWait'));
}
function stage2(template: Template): [string, any][] {
  return resourcesOfType(template, 'Custom::AmiWaiter').filter(([id]) => id.startsWith('ApplianceWait'));
}

function policies(stack: Stack, fragment: string): any[] {
  return resourcesOfType(Template.fromStack(stack), 'AWS::IAM::Policy')
    .filter(([id]) => id.includes(fragment)).flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
}

describe('ImportedAmi', () => {
  test('imports the disks with the given options and waits on the task', () => {
    const template = Template.fromStack(importStack({ imageName: 'appliance-1.0' }));
    const roleId = resourcesOfType(template, 'AWS::IAM::Role').find(([id]) => id.startsWith('ApplianceServiceRole'))![0];
    template.hasResourceProperties('Custom::ImportedAmi', {
      Disks: [
        { Format: 'VMDK', S3Bucket: 'vm-disks', S3Key: 'appliance/boot.vmdk' },
        { Format: 'RAW', Url: 's3://other-disks/data.raw' },
        { SnapshotId: 'snap-0123456789abcdef0' },
      ],
      Architecture: 'x86_64',
      Platform: 'Linux',
      RoleName: { Ref: roleId },
      ImageName: 'appliance-1.0',
    });
    // Stage 2 copies the import under its name, whichever of its links sees the copy through.
    for (const [, w] of stage2(template)) expect(w.Properties.ImageName).toBe('appliance-1.0');
    for (const [, w] of stage1(template)) expect(w.Properties.ImageName).toBeUndefined();
  });

  test('stage 1 follows the task; stage 2 starts from the image it hands out, after the policies that name exactly that image and its snapshots', () => {
    const template = Template.fromStack(importStack({ imageName: 'appliance-1.0' }));
    const [operationId] = resourcesOfType(template, 'Custom::ImportedAmi')[0];
    const first = stage1(template);
    expect(first.map(([, w]) => w.Properties.Target)).toEqual(['import', 'import']);
    expect(first[0][1].Properties.ImageId).toEqual({ Ref: operationId });
    const last = first[first.length - 1][0];
    const second = stage2(template);
    expect(second[0][1].Properties).toMatchObject({
      ImageId: { 'Fn::GetAtt': [last, 'ImageId'] },
      ImportTaskId: { Ref: operationId },
      ImportedImageId: { 'Fn::GetAtt': [last, 'ImageId'] },
      ImportedSnapshotIds: { 'Fn::GetAtt': [last, 'SnapshotIds'] },
    });
    const policyIds = resourcesOfType(template, 'AWS::IAM::Policy').map(([id]) => id).filter((id) => /^Appliance(AdoptImport|RemoveUntaggedImport)Policy/.test(id));
    expect(policyIds).toHaveLength(2);
    expect(second[0][1].DependsOn).toEqual(expect.arrayContaining(policyIds));
  });

  test('without imageName, stage 2 is one link: the image is available when the task completes', () => {
    const template = Template.fromStack(importStack({ timeout: Duration.hours(4) }));
    expect(stage1(template)).toHaveLength(5);
    expect(stage2(template)).toHaveLength(1);
    const named = Template.fromStack(importStack({ imageName: 'appliance-1.0', timeout: Duration.hours(4) }));
    expect(stage2(named)).toHaveLength(5);
  });

  test('the service role trusts VM Import with external ID vmimport and reads exactly the disks', () => {
    const stack = importStack();
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [{
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { Service: 'vmie.amazonaws.com' },
          Condition: { StringEquals: { 'sts:ExternalId': 'vmimport' } },
        }],
      },
    });
    const statements = policies(stack, 'ApplianceServiceRole');
    const objects = statements.filter((s) => s.Action === 's3:GetObject').map((s) => JSON.stringify(s.Resource));
    expect(objects).toEqual([expect.stringContaining(':s3:::vm-disks/appliance/boot.vmdk'), expect.stringContaining(':s3:::other-disks/data.raw')]);
    expect(JSON.stringify(statements)).not.toContain('s3:*');
  });

  test('the import waits for its service role\'s policy, not only the role: VM Import reads the disks as soon as the task starts', () => {
    const template = Template.fromStack(importStack());
    const [, operation] = resourcesOfType(template, 'Custom::ImportedAmi')[0];
    const [policyId] = resourcesOfType(template, 'AWS::IAM::Policy').find(([id]) => id.startsWith('ApplianceServiceRoleDefaultPolicy'))!;
    expect(operation.DependsOn).toEqual(expect.arrayContaining([policyId]));
  });

  test('a role of your own in the stack is waited for with the grants you gave it', () => {
    const stack = newStack();
    const role = new iam.Role(stack, 'VmImport', { assumedBy: new iam.ServicePrincipal('vmie.amazonaws.com') });
    s3.Bucket.fromBucketName(stack, 'Disks', 'vm-disks').grantRead(role);
    new ImportedAmi(stack, 'Appliance', { disks: [ImportDisk.fromSnapshot('snap-0123456789abcdef0')], role });
    const template = Template.fromStack(stack);
    const [policyId] = resourcesOfType(template, 'AWS::IAM::Policy').find(([id]) => id.startsWith('VmImportDefaultPolicy'))!;
    expect(resourcesOfType(template, 'Custom::ImportedAmi')[0][1].DependsOn).toEqual(expect.arrayContaining([policyId]));
  });

  test('the provider may pass exactly that role and import only with this stack\'s tags', () => {
    const stack = importStack();
    const op = policies(stack, 'OperationRole');
    expect(op.find((s) => s.Sid === 'PassVmImportRoles').Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^ApplianceServiceRole/), 'Arn'] });
    expect(op.find((s) => s.Sid === 'ImportImageTaggedAsOwn').Condition).toEqual({ StringEquals: { 'aws:RequestTag/cdk-ami:stack': { Ref: 'AWS::StackId' } } });
  });

  test('the waiter role may tag and copy, and the operation role remove, exactly what stage 1 hands out; the provider\'s own policies have no grant on untagged images', () => {
    const stack = importStack({ imageName: 'appliance-1.0' });
    const template = Template.fromStack(stack);
    const first = stage1(template);
    const last = first[first.length - 1][0];
    const imageArn = { 'Fn::Join': ['', ['arn:aws:ec2:us-east-1::image/', { 'Fn::GetAtt': [last, 'ImageId'] }]] };
    const snapshotArns = { 'Fn::Split': [',', { 'Fn::GetAtt': [last, 'SnapshotArns'] }] };
    const asOwn = { StringEquals: { 'aws:RequestTag/cdk-ami:stack': { Ref: 'AWS::StackId' } } };
    expect(policies(stack, 'ApplianceAdoptImportPolicy')).toEqual([
      { Sid: 'TagImportedImageAsOwn', Effect: 'Allow', Action: 'ec2:CreateTags', Resource: imageArn, Condition: asOwn },
      { Sid: 'TagImportedSnapshotsAsOwn', Effect: 'Allow', Action: 'ec2:CreateTags', Resource: snapshotArns, Condition: asOwn },
      { Sid: 'CopyImportedImage', Effect: 'Allow', Action: 'ec2:CopyImage', Resource: imageArn },
    ]);
    expect(policies(stack, 'ApplianceRemoveUntaggedImportPolicy')).toEqual([
      { Sid: 'RemoveUntaggedImportedImage', Effect: 'Allow', Action: 'ec2:DeregisterImage', Resource: imageArn },
      { Sid: 'RemoveUntaggedImportedSnapshots', Effect: 'Allow', Action: 'ec2:DeleteSnapshot', Resource: snapshotArns },
    ]);
    const adoptRoles = resourcesOfType(template, 'AWS::IAM::Policy').find(([id]) => id.startsWith('ApplianceAdoptImportPolicy'))![1].Properties.Roles;
    expect(adoptRoles).toEqual([{ Ref: expect.stringMatching(/^CdkAmiProviderWaiterRole/) }]);
    const provider = [...policies(stack, 'CdkAmiProviderWaiterRole'), ...policies(stack, 'CdkAmiProviderOperationRole')];
    expect(JSON.stringify(provider)).not.toContain('ec2:Owner');
    expect(provider.filter((st) => JSON.stringify(st.Condition ?? {}).includes('"true"') && JSON.stringify(st.Condition).includes('aws:ResourceTag'))).toEqual([]);
  });

  test('a role of your own is used as it is', () => {
    const stack = newStack();
    const role = iam.Role.fromRoleName(stack, 'Mine', 'vmimport');
    new ImportedAmi(stack, 'Appliance', { disks: [ImportDisk.fromSnapshot('snap-0123456789abcdef0')], role });
    Template.fromStack(stack).hasResourceProperties('Custom::ImportedAmi', { RoleName: 'vmimport' });
    expect(resourcesOfType(Template.fromStack(stack), 'AWS::IAM::Role').find(([id]) => id.startsWith('ApplianceServiceRole'))).toBeUndefined();
  });

  test.each([
    [{ disks: [] }, /disks has 0 entries: an import takes 1 to 21 disks/],
    [{ disks: Array.from({ length: 22 }, () => ImportDisk.fromSnapshot('snap-0123456789abcdef0')) }, /disks has 22 entries/],
    [{ disks: [ImportDisk.fromUrl('ftp://x/y', DiskImageFormat.RAW)] }, /Disk URL "ftp:\/\/x\/y" is not supported/],
  ])('%o is rejected at synth time', (props, message) => {
    expect(() => new ImportedAmi(newStack(), 'Appliance', props as any)).toThrow(message);
  });

  test('cdk-nag AwsSolutions reports nothing unexplained', () => {
    expect(nagFindings(importStack({ imageName: 'appliance' }))).toEqual([]);
  });
});

describe('ImportedAmi licensing', () => {
  test('usage operation and license configurations reach the import', () => {
    const lic = 'arn:aws:license-manager:us-east-1:123456789012:license-configuration:lic-0123456789abcdef0123456789abcdef';
    const stack = importStack({ usageOperation: 'RunInstances:0800', licenseConfigurationArns: [lic] });
    Template.fromStack(stack).hasResourceProperties('Custom::ImportedAmi', { UsageOperation: 'RunInstances:0800', LicenseConfigurationArns: [lic] });
  });

  test.each([
    [{ usageOperation: 'RunInstance:0800' }, 'usageOperation "RunInstance:0800" is not a usage operation: they look like RunInstances or RunInstances:0800.'],
    [{ licenseConfigurationArns: ['lic-0123'] }, 'licenseConfigurationArns entry "lic-0123" is not a License Manager license configuration ARN'],
  ])('%o is rejected', (props, message) => {
    expect(() => importStack(props)).toThrow(message);
  });
});

test('ImportedAmi template snapshot', () => {
  expect(Template.fromStack(importStack({ imageName: 'appliance-1.0', tags: { team: 'platform' } })).toJSON()).toMatchSnapshot();
});

test('a snapshot disk with an ID that is not a snapshot ID is rejected at synth time, naming the field', () => {
  const stack = new Stack(undefined, 'SnapshotDisk', { env: { account: '123456789012', region: 'us-east-1' } });
  expect(() => new ImportedAmi(stack, 'Imported', { disks: [ImportDisk.fromSnapshot('vol-0123456789abcdef0')] }))
    .toThrow('ImportDisk.fromSnapshot "vol-0123456789abcdef0" is not a snapshot ID: snapshot IDs look like snap-0123456789abcdef0.');
});
