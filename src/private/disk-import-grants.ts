import { Aws, Fn } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { snapshotArns } from './arns';
import { Tags } from './contract';
import { suppressNag } from './nag';
import { AmiProvider } from './provider';

/** The ImportSnapshot tasks of the stack's Region and account. */
const TASK_ARNS = `arn:${Aws.PARTITION}:ec2:${Aws.REGION}:${Aws.ACCOUNT_ID}:import-snapshot-task/*`;

const OWN_TAG = `aws:ResourceTag/${Tags.STACK}`;

/**
 * What the provider needs for an `AmiFromDisks`, besides what registering any
 * image needs: start ImportSnapshot tasks tagged as this stack's (EC2 evaluates
 * the task and the new snapshot with the request's tags), follow them, cancel
 * this stack's, and pass the VM Import service role.
 */
export function grantDiskImports(scope: Construct, region: string, role: iam.IRole, key?: kms.IKey): void {
  const provider = AmiProvider.of(scope);
  provider.grantOperation('import-snapshot', {
    sid: 'ImportSnapshotTaggedAsOwn',
    actions: ['ec2:ImportSnapshot'],
    resources: [TASK_ARNS, snapshotArns(Aws.REGION)],
    conditions: { StringEquals: { [`aws:RequestTag/${Tags.STACK}`]: Aws.STACK_ID } },
  });
  provider.grantOperation('import-snapshot-tag-on-create', {
    sid: 'TagOnImportSnapshot',
    actions: ['ec2:CreateTags'],
    resources: [TASK_ARNS],
    conditions: { StringEquals: { 'ec2:CreateAction': 'ImportSnapshot' } },
  });
  for (const [grant, role2] of [[provider.grantOperation.bind(provider), 'op'], [provider.grantWaiter.bind(provider), 'waiter']] as const) {
    grant(`snapshot-import-tasks-${role2}`, {
      sid: 'FollowSnapshotImports',
      actions: ['ec2:DescribeImportSnapshotTasks'],
      resources: ['*'],
    });
    grant(`snapshot-import-cancel-${role2}`, {
      sid: 'CancelOwnSnapshotImports',
      actions: ['ec2:CancelImportTask'],
      resources: [TASK_ARNS],
      conditions: { StringEquals: { [OWN_TAG]: Aws.STACK_ID } },
    });
  }
  provider.grantCreateTagged('RegisterImage');
  provider.addResourceToOperationStatement('pass-import-roles', {
    sid: 'PassVmImportRoles',
    actions: ['iam:PassRole'],
  }, role.roleArn);
  if (key) provider.grantEbsKey(key, [region], 'write');
  if (!SUPPRESSED.has(provider)) {
    SUPPRESSED.add(provider);
    const tasks = {
      id: 'AwsSolutions-IAM5',
      reason: 'ImportSnapshot creates an import-snapshot-task whose ID only exists at deploy time: ImportSnapshot and CancelImportTask on '
        + 'import-snapshot-task/* in this account and Region are limited by the cdk-ami:stack request or resource tag.',
      appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:import-snapshot-task\\/\\*$/' }],
    };
    suppressNag(provider.operationRole, [tasks]);
    suppressNag(provider.waiterRole, [tasks]);
  }
}

/** Providers whose roles already carry the suppression for import-snapshot-task/*. */
const SUPPRESSED = new WeakSet<AmiProvider>();

/**
 * The policies that name exactly the snapshots stage 1 of an `AmiFromDisks`
 * returned (VM Import leaves them untagged, and their IDs exist only then):
 * the waiter role may tag them as this stack's, or delete them when a task of
 * the import failed; the operation role may register the image from them and
 * delete them if they were never tagged. Stage 2 waits for both; a new import
 * replaces the IDs they name.
 */
export function grantImportedSnapshots(scope: Construct, snapshotArnList: string): iam.Policy[] {
  const provider = AmiProvider.of(scope);
  // One ARN per snapshot, comma-joined by stage 1; CloudFormation splits them into the list.
  const snapshots = Fn.split(',', snapshotArnList);
  const adopt = new iam.Policy(scope, 'AdoptSnapshotsPolicy', {
    roles: [provider.waiterRole],
    statements: [
      new iam.PolicyStatement({
        sid: 'TagImportedSnapshotsAsOwn',
        actions: ['ec2:CreateTags'],
        resources: snapshots,
        conditions: { StringEquals: { [`aws:RequestTag/${Tags.STACK}`]: Aws.STACK_ID } },
      }),
      new iam.PolicyStatement({ sid: 'RemoveSnapshotsOfFailedImport', actions: ['ec2:DeleteSnapshot'], resources: snapshots }),
    ],
  });
  const register = new iam.Policy(scope, 'RegisterSnapshotsPolicy', {
    roles: [provider.operationRole],
    statements: [
      new iam.PolicyStatement({ sid: 'RegisterImageOfImportedSnapshots', actions: ['ec2:RegisterImage'], resources: snapshots }),
      new iam.PolicyStatement({ sid: 'RemoveUntaggedImportedSnapshots', actions: ['ec2:DeleteSnapshot'], resources: snapshots }),
    ],
  });
  return [adopt, register];
}
