import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { RestoredAmi } from '../src';
import { nagFindings, newStack, resourcesOfType } from './util';

function operationStatements(stack: Stack): any[] {
  return resourcesOfType(Template.fromStack(stack), 'AWS::IAM::Policy')
    .filter(([id]) => id.includes('OperationRole'))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
}

describe('RestoredAmi', () => {
  function restoredStack(): Stack {
    const stack = newStack();
    const bucket = s3.Bucket.fromBucketName(stack, 'Bucket', 'stored-amis');
    const key = kms.Key.fromKeyArn(stack, 'EbsKey', 'arn:aws:kms:us-east-1:123456789012:key/k');
    new RestoredAmi(stack, 'Restored', { bucket, objectKey: 'ami-0123456789abcdef0.bin', defaultEbsEncryptionKey: key, tags: { team: 'platform' } });
    return stack;
  }

  test('restores the object and waits for the image', () => {
    const template = Template.fromStack(restoredStack());
    template.hasResourceProperties('Custom::RestoredAmi', {
      Region: 'us-east-1', Bucket: 'stored-amis', ObjectKey: 'ami-0123456789abcdef0.bin', NamePrefix: 'TestStack/Restored',
    });
    template.resourceCountIs('Custom::AmiWaiter', 2);
  });

  test('the provider may read that object, restore tagged as its own, and write the restored snapshots', () => {
    const statements = operationStatements(restoredStack());
    const read = statements.find((s) => s.Sid === 'ReadStoredImageObject');
    expect(read.Action).toBe('s3:GetObject');
    expect(JSON.stringify(read.Resource)).toContain('stored-amis/ami-0123456789abcdef0.bin');
    const restore = statements.find((s) => s.Sid === 'CreateRestoreImageTaskTaggedAsOwn');
    expect(restore.Condition).toEqual({ StringEquals: { 'aws:RequestTag/cdk-ami:stack': { Ref: 'AWS::StackId' } } });
    expect(statements.find((s) => s.Sid === 'StartRestoredSnapshots').Condition).toEqual({ Null: { 'ebs:ParentSnapshot': 'true' } });
    expect(statements.find((s) => s.Sid === 'WriteRestoredSnapshots').Action).toEqual(['ebs:PutSnapshotBlock', 'ebs:CompleteSnapshot']);
    expect(statements.find((s) => [s.Action].flat().includes('kms:CreateGrant')).Resource).toBe('arn:aws:kms:us-east-1:123456789012:key/k');
  });

  test('cdk-nag AwsSolutions reports nothing unexplained', () => {
    expect(nagFindings(restoredStack())).toEqual([]);
  });
});
