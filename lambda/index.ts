/**
 * Entry points of the cdk-ami provider. One bundle serves every image kind:
 * `onEvent` starts, changes and deletes images (operation resources) and starts
 * waits (waiter resources); `isComplete` polls a wait.
 */
import { setupIsComplete, setupOnEvent } from './builder-setup';
import { copy } from './copy';
import { fromInstance } from './from-instance';
import { fromSnapshot } from './from-snapshot';
import { importImage } from './import';
import { handleImportedSnapshots } from './import-snapshots';
import { handleParameter } from './parameter';
import { restore } from './restore';
import { handleRetention } from './retention';
import { InvocationContext, startInvocation } from './shared/backoff';
import { AmiError, toAmiError } from './shared/errors';
import { log } from './shared/log';
import { ImageOperation, handleOperation } from './shared/operation';
import { CustomResourceEvent, IsCompleteResponse, OnEventResponse } from './shared/types';
import { handleStore } from './store';
import { waiterIsComplete, waiterOnEvent } from './waiter/waiter';
import { checkProperties, OperationType, ResourceTypes } from '../src/private/contract';

/** Each operation is typed by its kind's properties; the event's type picks it. */
const OPERATIONS: { readonly [T in OperationType]: ImageOperation<T> } = {
  [ResourceTypes.AMI_FROM_INSTANCE]: fromInstance,
  [ResourceTypes.COPIED_AMI]: copy,
  [ResourceTypes.RESTORED_AMI]: restore,
  [ResourceTypes.AMI_FROM_SNAPSHOT]: fromSnapshot,
  [ResourceTypes.IMPORTED_AMI]: importImage,
};

export async function onEvent(event: CustomResourceEvent, context?: InvocationContext): Promise<OnEventResponse> {
  startInvocation(context);
  return guarded('onEvent', event, (): Promise<OnEventResponse> => {
    checkEvent(event);
    if (event.ResourceType === ResourceTypes.WAITER) return waiterOnEvent(event);
    if (event.ResourceType === ResourceTypes.BUILDER_SETUP) return setupOnEvent(event);
    if (event.ResourceType === ResourceTypes.STORED_AMI) return handleStore(event);
    if (event.ResourceType === ResourceTypes.PARAMETER) return handleParameter(event);
    if (event.ResourceType === ResourceTypes.IMPORTED_SNAPSHOTS) return handleImportedSnapshots(event);
    if (event.ResourceType === ResourceTypes.RETENTION) return handleRetention(event);
    const op = (OPERATIONS as Record<string, ImageOperation<OperationType> | undefined>)[event.ResourceType];
    if (!op) throw new AmiError(`cdk-ami does not handle resources of type ${event.ResourceType}.`);
    return handleOperation(op, event);
  });
}

export async function isComplete(event: CustomResourceEvent, context?: InvocationContext): Promise<IsCompleteResponse> {
  startInvocation(context);
  return guarded('isComplete', event, (): Promise<IsCompleteResponse> => {
    checkEvent(event);
    return event.ResourceType === ResourceTypes.BUILDER_SETUP ? setupIsComplete(event) : waiterIsComplete(event);
  });
}

/**
 * Checks the event's properties against the contract the constructs render
 * by. A Create or Update that does not match fails before anything is
 * started. A Delete goes on (with a warning in the log): its properties may
 * come from a template an older cdk-ami rendered, and a stack must always be
 * able to remove what it made.
 */
function checkEvent(event: CustomResourceEvent): void {
  const problems = checkProperties(event.ResourceType, event.ResourceProperties);
  if (problems.length === 0) return;
  const message = problems.join(' ');
  if (event.RequestType === 'Delete') {
    log('warn', 'the properties do not match what this provider handles; deleting anyway', { logicalResourceId: event.LogicalResourceId, problems });
    return;
  }
  throw new AmiError(message);
}

/**
 * Logs the full error, then rethrows it as one sentence so that the stack event
 * shows the cause and not a stack trace.
 */
async function guarded<T>(phase: string, event: CustomResourceEvent, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const error = toAmiError(err, `${event.RequestType} of ${event.LogicalResourceId}`);
    log('error', error.message, {
      phase,
      requestType: event.RequestType,
      logicalResourceId: event.LogicalResourceId,
      physicalResourceId: 'PhysicalResourceId' in event ? event.PhysicalResourceId : undefined,
      cause: err instanceof Error ? err.stack : String(err),
    });
    throw error;
  }
}
