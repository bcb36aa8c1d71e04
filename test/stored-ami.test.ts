import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Ami, AmiFromInstance, RestoredAmi, StoredAmi } from '../src';
import { nagFindings, newStack, resourcesOfType } from './util';

function operationStatements(stack: Stack): any[] {
  return resourcesOfType(Template.fromStack(stack), 'AWS::IAM::Policy')
    .filter(([id]) => id.includes('OperationRole')).flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
}

describe('StoredAmi', () => {
  test('stores the image, waits for the task, and hands bucket and key to a RestoredAmi', () => {
    const stack = newStack();
    const bucket = s3.Bucket.fromBucketName(stack, 'Store', 'stored-amis');
    const golden = new AmiFromInstance(stack, 'Golden', { instanceId: 'i-0123456789abcdef0' });
    const stored = golden.storeTo('Backup', bucket, { objectTags: { purpose: 'backup' }, removalPolicy: RemovalPolicy.DESTROY });
    new RestoredAmi(stack, 'Restored', { bucket: stored.bucket, objectKey: stored.objectKey });
    const template = Template.fromStack(stack);
    const goldenWaiter = resourcesOfType(template, 'Custom::AmiWaiter').find(([id, w]) => id.startsWith('GoldenWait') && w.Properties.Link === 2)![0];
    const storeOp = resourcesOfType(template, 'Custom::StoredAmi')[0];
    expect(storeOp[1].Properties).toMatchObject({
      ImageId: { 'Fn::GetAtt': [goldenWaiter, 'ImageId'] },
      Bucket: 'stored-amis',
      ObjectTags: [{ Key: 'purpose', Value: 'backup' }],
      RemovalPolicy: 'destroy',
    });
    const storeWaiters = resourcesOfType(template, 'Custom::AmiWaiter').filter(([id]) => id.includes('GoldenBackup'));
    expect(storeWaiters.map(([, w]) => w.Properties.Target)).toEqual(['store', 'store']);
    const lastStoreWaiter = storeWaiters.find(([, w]) => w.Properties.Link === 2)![0];
    template.hasResourceProperties('Custom::RestoredAmi', { ObjectKey: { 'Fn::GetAtt': [lastStoreWaiter, 'ObjectKey'] } });
  });

  test('IAM: store only this stack\'s images into ami-*.bin objects, and delete only those (DESTROY, or the rollback of the deployment that stored one)', () => {
    const retain = newStack();
    new StoredAmi(retain, 'Stored', { image: Ami.fromImageId(retain, 'Src', 'ami-0123456789abcdef0'), bucket: s3.Bucket.fromBucketName(retain, 'B', 'stored-amis') });
    const statements = operationStatements(retain);
    const [, source] = Object.entries(Template.fromStack(retain).findResources('AWS::IAM::Policy')).find(([id]) => id.includes('CreateStoreImageTaskSourcePolicy'))!;
    expect(JSON.stringify(source.Properties.PolicyDocument.Statement[0].Resource)).toContain(':ec2:us-east-1::image/ami-0123456789abcdef0');
    expect(JSON.stringify(statements.find((s) => s.Sid === 'WriteStoredImageObjects').Resource)).toContain('stored-amis/ami-*.bin');
    // RETAIN too: the rollback of the deployment that stored an object removes it.
    const deletion = statements.find((s) => s.Sid === 'DeleteStoredImageObjects');
    expect(deletion.Action).toBe('s3:DeleteObject');
    expect(JSON.stringify(deletion.Resource)).toContain('stored-amis/ami-*.bin');
    expect(nagFindings(retain)).toEqual([]);
  });

  test.each([
    [{ removalPolicy: RemovalPolicy.SNAPSHOT }, /removalPolicy snapshot is not supported for stored images/],
    [{ objectTags: { 'aws:x': 'y' } }, /Object tag key "aws:x" is reserved for AWS/],
  ])('%o is rejected at synth time', (props, message) => {
    const stack = newStack();
    expect(() => new StoredAmi(stack, 'Stored', {
      image: Ami.fromImageId(stack, 'Src', 'ami-0123456789abcdef0'), bucket: s3.Bucket.fromBucketName(stack, 'B', 'stored-amis'), ...props,
    })).toThrow(message);
  });
});

test('StoredAmi template snapshot', () => {
  const stack = newStack();
  const golden = new AmiFromInstance(stack, 'Golden', { instanceId: 'i-0123456789abcdef0' });
  golden.storeTo('Backup', s3.Bucket.fromBucketName(stack, 'Store', 'stored-amis'), { removalPolicy: RemovalPolicy.DESTROY });
  expect(Template.fromStack(stack).toJSON()).toMatchSnapshot();
});
