import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Ami, CopiedAmi, DiskImageFormat, ImportDisk, ImportedAmi, LaunchPermission, RestoredAmi } from '../src';
import { newStack } from './util';

const SOURCE = 'ami-0123456789abcdef0';
const ORG = 'arn:aws:organizations::123456789012:organization/o-exampleorg1';
const OU = 'arn:aws:organizations::123456789012:ou/o-exampleorg1/ou-ab12-cdef3456';
const ACTIONS = ['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'];
const VIA_EC2 = (region: string) => ({ 'Fn::Join': ['', [`ec2.${region}.`, { Ref: 'AWS::URLSuffix' }]] });

/** The key policy statements of the stack's one key. */
function keyStatements(stack: Stack): any[] {
  const keys = Template.fromStack(stack).findResources('AWS::KMS::Key');
  const [key] = Object.values(keys);
  return key.Properties.KeyPolicy.Statement;
}

function encryptedCopy(stack: Stack, key: kms.IKey, launchPermissions: LaunchPermission[], region?: string): CopiedAmi {
  return new CopiedAmi(stack, 'Copy', {
    source: Ami.fromImageId(stack, 'Source', SOURCE), region, encrypted: true, encryptionKey: key, launchPermissions,
  });
}

describe('the customer managed key of a shared image', () => {
  test('a key of the stack lets each account use it only through EC2 in the image\'s Region, and create grants only for AWS resources', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key');
    encryptedCopy(stack, key, [LaunchPermission.account('111122223333')]);
    const statements = keyStatements(stack);
    expect(statements).toContainEqual({
      Sid: 'CdkAmi111122223333useast1UseThroughEc2',
      Effect: 'Allow',
      Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::111122223333:root']] } },
      Action: ACTIONS,
      Resource: '*',
      Condition: { StringEquals: { 'kms:ViaService': VIA_EC2('us-east-1') } },
    });
    expect(statements).toContainEqual(expect.objectContaining({
      Sid: 'CdkAmi111122223333useast1GrantsForEbs',
      Action: 'kms:CreateGrant',
      Condition: { StringEquals: { 'kms:ViaService': VIA_EC2('us-east-1') }, Bool: { 'kms:GrantIsForAWSResource': 'true' } },
    }));
  });

  test('organizations and OUs: anyone of the organization (aws:PrincipalOrgID), or of the OU and the OUs below it (aws:PrincipalOrgPaths)', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key');
    const copy = encryptedCopy(stack, key, [LaunchPermission.organization(ORG)]);
    copy.addLaunchPermission(LaunchPermission.organizationalUnit(OU));
    const statements = keyStatements(stack);
    expect(statements).toContainEqual(expect.objectContaining({
      Sid: 'CdkAmioexampleorg1useast1UseThroughEc2',
      Principal: { AWS: '*' },
      Action: ACTIONS,
      Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-exampleorg1', 'kms:ViaService': VIA_EC2('us-east-1') } },
    }));
    expect(statements).toContainEqual(expect.objectContaining({
      Sid: 'CdkAmiouab12cdef3456useast1GrantsForEbs',
      Principal: { AWS: '*' },
      Action: 'kms:CreateGrant',
      Condition: {
        'StringEquals': { 'aws:PrincipalOrgID': 'o-exampleorg1', 'kms:ViaService': VIA_EC2('us-east-1') },
        'ForAnyValue:StringLike': { 'aws:PrincipalOrgPaths': 'o-exampleorg1/*/ou-ab12-cdef3456/*' },
        'Bool': { 'kms:GrantIsForAWSResource': 'true' },
      },
    }));
  });

  test('two images sharing one key with the same grantee in one Region add the statements once', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key');
    for (const id of ['A', 'B']) {
      new CopiedAmi(stack, id, {
        source: Ami.fromImageId(stack, `Source${id}`, SOURCE), encrypted: true, encryptionKey: key, launchPermissions: [LaunchPermission.account('111122223333')],
      });
    }
    expect(keyStatements(stack).map((s: any) => s.Sid)).toEqual([undefined, 'CdkAmi111122223333useast1UseThroughEc2', 'CdkAmi111122223333useast1GrantsForEbs']);
  });

  test('an image that is not shared adds nothing to its key\'s policy', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key');
    encryptedCopy(stack, key, []);
    // CDK's default statement only: the account's IAM policies decide.
    expect(keyStatements(stack)).toEqual([expect.objectContaining({ Action: 'kms:*', Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:root']] } } })]);
  });

  test('a copy in another Region with a key of a stack there: that stack\'s key policy names EC2 in the copy\'s Region', () => {
    const app = new App();
    const keys = new Stack(app, 'Keys', { env: { account: '123456789012', region: 'eu-west-1' } });
    const key = new kms.Key(keys, 'Key');
    const images = new Stack(app, 'Images', { env: { account: '123456789012', region: 'us-east-1' }, crossRegionReferences: true });
    encryptedCopy(images, key, [LaunchPermission.account('111122223333')], 'eu-west-1');
    expect(keyStatements(keys)).toContainEqual(expect.objectContaining({
      Sid: 'CdkAmi111122223333euwest1UseThroughEc2', Condition: { StringEquals: { 'kms:ViaService': VIA_EC2('eu-west-1') } },
    }));
  });

  test('an imported key: a warning names the key and the statements its policy must hold; nothing fails', () => {
    const stack = newStack();
    const arn = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const key = kms.Key.fromKeyArn(stack, 'Key', arn);
    encryptedCopy(stack, key, [LaunchPermission.account('111122223333'), LaunchPermission.organization(ORG)], 'eu-west-1');
    const warnings = Annotations.fromStack(stack).findWarning('/TestStack/Copy', Match.stringLikeRegexp('cdk-ami:importedKeyNotShared'));
    expect(warnings).toHaveLength(2);
    const message = warnings[0].entry.data as string;
    expect(message).toContain(`Account 111122223333 may launch this image, but its snapshots are encrypted with the imported KMS key ${arn}, whose key policy cdk-ami cannot change`);
    const statements = JSON.parse(message.slice(message.indexOf('[')).replace(/ \[ack: .*$/, ''));
    expect(statements).toEqual([
      expect.objectContaining({
        Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: ACTIONS, Condition: { StringEquals: { 'kms:ViaService': 'ec2.eu-west-1.amazonaws.com' } },
      }),
      expect.objectContaining({
        Action: 'kms:CreateGrant', Condition: { StringEquals: { 'kms:ViaService': 'ec2.eu-west-1.amazonaws.com' }, Bool: { 'kms:GrantIsForAWSResource': 'true' } },
      }),
    ]);
    expect(warnings[1].entry.data).toContain(`Organization ${ORG} may launch this image`);
  });

  test('the restored image\'s encryption key is shared the same way', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key');
    new RestoredAmi(stack, 'Restored', {
      bucket: s3.Bucket.fromBucketName(stack, 'B', 'stored'),
      objectKey: 'ami-0123456789abcdef0.bin',
      defaultEbsEncryptionKey: key,
      launchPermissions: [LaunchPermission.account('111122223333')],
    });
    expect(keyStatements(stack).map((s: any) => s.Sid)).toEqual(expect.arrayContaining(['CdkAmi111122223333useast1UseThroughEc2', 'CdkAmi111122223333useast1GrantsForEbs']));
  });
});

describe('an image encrypted with an AWS managed key cannot be shared', () => {
  const NOT_SHAREABLE = 'cdk-ami:awsManagedKeyNotShared';

  test('encrypted without an encryptionKey: each grantee gets a warning naming the account\'s default EBS key', () => {
    const stack = newStack();
    new CopiedAmi(stack, 'Copy', {
      source: Ami.fromImageId(stack, 'Source', SOURCE),
      region: 'eu-west-1',
      encrypted: true,
      launchPermissions: [LaunchPermission.account('111122223333'), LaunchPermission.organizationalUnit(OU)],
    });
    const warnings = Annotations.fromStack(stack).findWarning('/TestStack/Copy', Match.stringLikeRegexp(NOT_SHAREABLE));
    expect(warnings.map((w) => w.entry.data)).toEqual([
      expect.stringContaining('Account 111122223333 may launch this image, but its snapshots are encrypted with the account\'s default EBS key in eu-west-1 (the AWS managed alias/aws/ebs, unless the account\'s default is a customer managed key), which no other account can use'),
      expect.stringContaining(`Organizational unit ${OU} may launch this image`),
    ]);
  });

  test('encryptionKey alias/aws/ebs (by alias name or alias ARN): the warning names it, and no key policy statements are offered', () => {
    const stack = newStack();
    encryptedCopy(stack, kms.Alias.fromAliasName(stack, 'Ebs', 'alias/aws/ebs'), [LaunchPermission.account('111122223333')]);
    const byArn = new CopiedAmi(stack, 'ByArn', {
      source: Ami.fromImageId(stack, 'Source2', SOURCE),
      encrypted: true,
      imageName: 'by-arn',
      encryptionKey: kms.Key.fromKeyArn(stack, 'EbsArn', 'arn:aws:kms:us-east-1:123456789012:alias/aws/ebs'),
    });
    byArn.addLaunchPermission(LaunchPermission.organization(ORG));
    const annotations = Annotations.fromStack(stack);
    expect(annotations.findWarning('/TestStack/Copy', Match.stringLikeRegexp(NOT_SHAREABLE)).map((w) => w.entry.data)).toEqual([
      expect.stringContaining('Account 111122223333 may launch this image, but its snapshots are encrypted with the AWS managed key alias/aws/ebs'),
    ]);
    expect(annotations.findWarning('/TestStack/ByArn', Match.stringLikeRegexp(NOT_SHAREABLE))).toHaveLength(1);
    expect(annotations.findWarning('*', Match.stringLikeRegexp('cdk-ami:importedKeyNotShared'))).toHaveLength(0);
  });

  test('an import encrypted without an encryptionKey warns the same way; an unshared or unencrypted image does not', () => {
    const stack = newStack();
    const disks = [ImportDisk.fromUrl('s3://disks/disk.vmdk', DiskImageFormat.VMDK)];
    const imported = new ImportedAmi(stack, 'Imported', { disks, encrypted: true });
    new ImportedAmi(stack, 'Unshared', { disks, encrypted: true });
    new CopiedAmi(stack, 'Plain', { source: Ami.fromImageId(stack, 'PlainSource', SOURCE), imageName: 'plain', launchPermissions: [LaunchPermission.account('111122223333')] });
    encryptedCopy(stack, new kms.Key(stack, 'Key'), [LaunchPermission.account('111122223333')]);
    imported.addLaunchPermission(LaunchPermission.account('444455556666'));
    const annotations = Annotations.fromStack(stack);
    expect(annotations.findWarning('/TestStack/Imported', Match.stringLikeRegexp(NOT_SHAREABLE))).toHaveLength(1);
    for (const path of ['/TestStack/Unshared', '/TestStack/Plain', '/TestStack/Copy']) {
      expect(annotations.findWarning(path, Match.stringLikeRegexp(NOT_SHAREABLE))).toHaveLength(0);
    }
  });
});
