/**
 * Entry points of the cdk-ami provider. One bundle serves every image kind:
 * `onEvent` starts, changes and deletes images (operation resources) and starts
 * waits (waiter resources); `isComplete` polls a wait.
 */
import { SETUP_RESOURCE_TYPE, setupIsComplete, setupOnEvent } from './builder-setup';
import { copy } from './copy';
import { fromInstance } from './from-instance';
import { fromSnapshot } from './from-snapshot';
import { importImage } from './import';
import { handleParameter, PARAMETER_RESOURCE_TYPE } from './parameter';
import { restore } from './restore';
import { InvocationContext, startInvocation } from './shared/backoff';
import { AmiError, toAmiError } from './shared/errors';
import { log } from './shared/log';
import { ImageOperation, handleOperation } from './shared/operation';
import { CustomResourceEvent, IsCompleteResponse, OnEventResponse } from './shared/types';
import { handleStore } from './store';
import { waiterIsComplete, waiterOnEvent } from './waiter';

export const WAITER_TYPE = 'Custom::AmiWaiter';

const OPERATIONS: Record<string, ImageOperation> = {
  'Custom::AmiFromInstance': fromInstance,
  'Custom::CopiedAmi': copy,
  'Custom::RestoredAmi': restore,
  'Custom::AmiFromSnapshot': fromSnapshot,
  'Custom::ImportedAmi': importImage,
};

export async function onEvent(event: CustomResourceEvent, context?: InvocationContext): Promise<OnEventResponse> {
  startInvocation(context);
  return guarded('onEvent', event, () => {
    if (event.ResourceType === WAITER_TYPE) return waiterOnEvent(event);
    if (event.ResourceType === SETUP_RESOURCE_TYPE) return setupOnEvent(event);
    if (event.ResourceType === 'Custom::StoredAmi') return handleStore(event);
    if (event.ResourceType === PARAMETER_RESOURCE_TYPE) return handleParameter(event);
    const op = OPERATIONS[event.ResourceType];
    if (!op) throw new AmiError(`cdk-ami does not handle resources of type ${event.ResourceType}.`);
    return handleOperation(op, event);
  });
}

export async function isComplete(event: CustomResourceEvent, context?: InvocationContext): Promise<IsCompleteResponse> {
  startInvocation(context);
  return guarded('isComplete', event, () => (event.ResourceType === SETUP_RESOURCE_TYPE ? setupIsComplete(event) : waiterIsComplete(event)));
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
