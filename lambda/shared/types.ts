import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import type { ResourceType, ResponseData } from '../../src/private/contract';

export type ResourceProperties = Record<string, unknown>;

/** What CloudFormation sends, as the Provider framework forwards it. */
export type CustomResourceEvent = CloudFormationCustomResourceEvent & {
  /** Set by a waiter's onEvent and carried into every isComplete call of that wait. */
  readonly WaitStartedAt?: number;
  /** Set by a waiter's onEvent when the Update reverts a failed deployment (read from the stack status). */
  readonly RollingBack?: boolean;
};

/** `Data` holds only the contract's `Attributes` of `T` (any resource type's by default). */
export interface OnEventResponse<T extends ResourceType = ResourceType> {
  readonly PhysicalResourceId: string;
  readonly Data?: ResponseData<T>;
  /** Epoch milliseconds; the Provider framework passes it on to isComplete. */
  readonly WaitStartedAt?: number;
  /** Passed on to isComplete like WaitStartedAt: this wait reverts a failed deployment. */
  readonly RollingBack?: boolean;
}

/** `Data` holds only the contract's `Attributes` of `T` (any resource type's by default). */
export interface IsCompleteResponse<T extends ResourceType = ResourceType> {
  readonly IsComplete: boolean;
  readonly Data?: ResponseData<T>;
}

/** A tag as CloudFormation renders it from the construct's TagManager. */
export interface Tag {
  readonly Key: string;
  readonly Value: string;
}
