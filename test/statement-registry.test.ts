import { Aws, Stack } from 'aws-cdk-lib';
import { newStack, statementsOf } from './util';
import { AmiProvider } from '../src/private/provider';

function provider(): { stack: Stack; provider: AmiProvider } {
  const stack = newStack();
  return { stack, provider: AmiProvider.of(stack) };
}

describe('the provider\'s statements by name', () => {
  test('a name asked for again with the same statement adds it once; a growing statement gains each resource once', () => {
    const { stack, provider: p } = provider();
    const statement = { sid: 'ReadStoredImageObject', actions: ['s3:GetObject'] };
    p.addResourceToOperationStatement('read-stored-objects', statement, 'arn:aws:s3:::a/ami-*.bin');
    p.addResourceToOperationStatement('read-stored-objects', statement, 'arn:aws:s3:::b/ami-*.bin');
    p.addResourceToOperationStatement('read-stored-objects', statement, 'arn:aws:s3:::a/ami-*.bin');
    p.grantOperation('ebs-encryption-default', { sid: 'ReadEbsEncryptionDefault', actions: ['ec2:GetEbsEncryptionByDefault'], resources: ['*'] });
    p.grantOperation('ebs-encryption-default', { sid: 'ReadEbsEncryptionDefault', actions: ['ec2:GetEbsEncryptionByDefault'], resources: ['*'] });
    const op = statementsOf(stack, 'CdkAmiProviderOperationRole');
    expect(op.filter((s) => s.Sid === 'ReadStoredImageObject')).toEqual([expect.objectContaining({ Resource: ['arn:aws:s3:::a/ami-*.bin', 'arn:aws:s3:::b/ami-*.bin'] })]);
    expect(op.filter((s) => s.Sid === 'ReadEbsEncryptionDefault')).toHaveLength(1);
  });

  test.each<[string, (p: AmiProvider) => void]>([
    ['a granted statement', (p) => {
      p.grantOperation('restore-ebs-write', { sid: 'WriteRestoredSnapshots', actions: ['ebs:PutSnapshotBlock'], resources: ['*'] });
      p.grantOperation('restore-ebs-write', { sid: 'WriteRestoredSnapshots', actions: ['ebs:PutSnapshotBlock', 'ebs:CompleteSnapshot'], resources: ['*'] });
    }],
    ['a growing statement', (p) => {
      p.addResourceToWaiterStatement('instance-stop', { sid: 'StopSourceInstances', actions: ['ec2:StopInstances'] }, 'arn:aws:ec2:us-east-1:123456789012:instance/i-1');
      p.addResourceToWaiterStatement('instance-stop', { sid: 'TerminateSourceInstances', actions: ['ec2:TerminateInstances'] }, 'arn:aws:ec2:us-east-1:123456789012:instance/i-2');
    }],
    ['conditions that differ', (p) => {
      const statement = (stackId: string) => ({ sid: 'X', actions: ['ec2:DeregisterImage'], resources: ['*'], conditions: { StringEquals: { 'aws:ResourceTag/cdk-ami:stack': stackId } } });
      p.grantWaiter('manage-own', statement(Aws.STACK_ID));
      p.grantWaiter('manage-own', statement('other'));
    }],
  ])('a name reused for %s with other contents fails synth, naming the role and the name', (_what, reuse) => {
    const { provider: p } = provider();
    expect(() => reuse(p)).toThrow(/^The (onEvent \(operation\)|isComplete \(waiter\)) role's statement "[\w-]+" was asked for twice with different contents/);
  });

  test('the same name on the two roles is two statements', () => {
    const { stack, provider: p } = provider();
    const assume = { sid: 'AssumeCrossAccountCopyRoles', actions: ['sts:AssumeRole'] };
    p.addResourceToOperationStatement('assume-copy-role', assume, 'arn:aws:iam::444455556666:role/a');
    p.addResourceToWaiterStatement('assume-copy-role', assume, 'arn:aws:iam::444455556666:role/a');
    for (const role of ['CdkAmiProviderOperationRole', 'CdkAmiProviderWaiterRole']) {
      expect(statementsOf(stack, role)).toContainEqual(expect.objectContaining({ Sid: 'AssumeCrossAccountCopyRoles' }));
    }
  });
});
