import { Aws } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { imageArns, snapshotArns } from './arns';
import { TAG_PREFIX, Tags } from './contract';

/**
 * Conditions for CreateTags/DeleteTags by the provider: never of the
 * cdk-ami:* keys. `Null aws:TagKeys false`: without a Tags parameter DeleteTags
 * removes every tag (ownership included), and ForAllValues passes on an absent key.
 */
export const USER_TAG_KEYS_ONLY = {
  'ForAllValues:StringNotLike': { 'aws:TagKeys': [`${TAG_PREFIX}*`] },
  'Null': { 'aws:TagKeys': 'false' },
};

/** Retagging of this stack's images and snapshots, with user tag keys only (USER_TAG_KEYS_ONLY). */
export function ownRetagStatement(sid: string): iam.PolicyStatementProps {
  return {
    sid,
    actions: ['ec2:CreateTags', 'ec2:DeleteTags'],
    resources: [imageArns(), snapshotArns()],
    conditions: {
      StringEquals: { [`aws:ResourceTag/${Tags.STACK}`]: Aws.STACK_ID },
      ...USER_TAG_KEYS_ONLY,
    },
  };
}

/**
 * Marking and unmarking the generations a retention sweep keeps: CreateTags
 * and DeleteTags of exactly the `cdk-ami:retained` key, on images whose
 * `cdk-ami:stack` tag the condition `ownStack` accepts (the stack's own, or a
 * CrossAccountCopyRole's source stacks).
 */
export function retainedMarkStatement(sid: string, ownStack: Record<string, Record<string, string>>): iam.PolicyStatementProps {
  return {
    sid,
    actions: ['ec2:CreateTags', 'ec2:DeleteTags'],
    resources: [imageArns()],
    conditions: {
      ...ownStack,
      'ForAllValues:StringEquals': { 'aws:TagKeys': [Tags.RETAINED] },
      'Null': { 'aws:TagKeys': 'false' },
    },
  };
}
