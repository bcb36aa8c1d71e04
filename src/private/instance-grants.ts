import { Arn, Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { InstanceAction } from '../enums';
import { AmiProvider } from './provider';

/** The ARN of an instance of the stack's account and Region, e.g. for a resource-level grant. */
export function instanceArn(scope: IConstruct, instanceId: string): string {
  return Arn.format({ service: 'ec2', resource: 'instance', resourceName: instanceId }, Stack.of(scope));
}

/**
 * Least privilege for imaging an instance: CreateImage only of this instance,
 * tagged as ours, and the stop or terminate the last waiter link applies once
 * the image is available.
 */
export function grantImageOfInstance(scope: IConstruct, instanceId: string, action: InstanceAction): void {
  const provider = AmiProvider.of(scope);
  const arn = instanceArn(scope, instanceId);
  provider.addResourceToOperationStatement('create-image-instances', {
    sid: 'CreateImageOfSourceInstances',
    actions: ['ec2:CreateImage'],
  }, arn);
  provider.grantCreateTagged('CreateImage');
  if (action === InstanceAction.STOP) grantStopInstance(scope, arn);
  if (action === InstanceAction.TERMINATE) grantTerminateInstance(scope, arn);
}

/** TerminateInstances on one instance, for the isComplete role (the waiter links). */
export function grantTerminateInstance(scope: IConstruct, arn: string): void {
  AmiProvider.of(scope).addResourceToWaiterStatement('instance-terminate', {
    sid: 'TerminateSourceInstances',
    actions: ['ec2:TerminateInstances'],
  }, arn);
}

/** StopInstances on one instance, for the isComplete role (the waiter links). */
export function grantStopInstance(scope: IConstruct, arn: string): void {
  AmiProvider.of(scope).addResourceToWaiterStatement('instance-stop', {
    sid: 'StopSourceInstances',
    actions: ['ec2:StopInstances'],
  }, arn);
}
