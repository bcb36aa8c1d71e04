import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { suppressNag } from './nag';

/**
 * The VM Import service role (`vmie.amazonaws.com`, external ID `vmimport`)
 * of an `ImportedAmi` or an `AmiFromDisks`: the policy AWS documents for it,
 * with the disk objects `grantReads` names and, for encrypted imports, `key`.
 */
export function createVmImportRole(scope: Construct, description: string, grantReads: (role: iam.IRole) => void, key?: kms.IKey): iam.Role {
  const role = new iam.Role(scope, 'ServiceRole', {
    assumedBy: new iam.ServicePrincipal('vmie.amazonaws.com'),
    externalIds: ['vmimport'],
    description,
  });
  grantReads(role);
  // What VM Import does in the account while it builds the snapshots and image.
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['ec2:ModifySnapshotAttribute', 'ec2:CopySnapshot', 'ec2:RegisterImage', 'ec2:Describe*'],
    resources: ['*'],
  }));
  // The KMS actions the VM Import documentation lists for its service role, spelled out.
  key?.grant(role, 'kms:CreateGrant', 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt',
    'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptFrom', 'kms:ReEncryptTo');
  suppressNag(role, [{
    id: 'AwsSolutions-IAM5',
    reason: 'The VM Import service role policy AWS documents: VM Import describes, copies and registers the snapshots and image it creates, '
      + 'whose IDs are not known in advance; the disk objects it reads are named exactly.',
    appliesTo: ['Action::ec2:Describe*', 'Resource::*'],
  }]);
  if (key) {
    suppressNag(role, [{
      id: 'AwsSolutions-IAM5',
      reason: 'The KMS actions of the VM Import service role policy AWS documents for encrypted imports, on encryptionKey only.',
      appliesTo: ['Action::kms:GenerateDataKey*', 'Action::kms:ReEncrypt*'],
    }]);
  }
  return role;
}
