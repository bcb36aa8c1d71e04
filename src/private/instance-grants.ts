import { Arn, Stack } from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import { InstanceAction } from '../enums';
import { AmiProvider, GrantedResource } from './provider';

/** The ARN of an instance of the stack's account and Region, e.g. for a resource-level grant. */
export function instanceArn(scope: IConstruct, instanceId: string): string {
  return Arn.format({ service: 'ec2', resource: 'instance', resourceName: instanceId }, Stack.of(scope));
}

/**
 * Least privilege for imaging an instance: CreateImage only of this instance,
 * tagged as ours, and the stop or terminate the last waiter link applies once
 * the image is available. `operation` calls CreateImage (and the waiter links
 * follow it): an instance of this stack, which may be launched from an image
 * of this stack, is granted in policies of the image's own that it waits for.
 */
export function grantImageOfInstance(scope: Construct, instanceId: string, action: InstanceAction, operation: IConstruct): void {
  const provider = AmiProvider.of(scope);
  const of: GrantedResource = { id: instanceId, owner: scope, firstUser: operation };
  provider.addResourceToOperationStatement('create-image-instances', {
    sid: 'CreateImageOfSourceInstances',
    actions: ['ec2:CreateImage'],
  }, instanceArn(scope, instanceId), of);
  provider.grantCreateTagged('CreateImage');
  if (action === InstanceAction.STOP) grantStopInstance(scope, of);
  if (action === InstanceAction.TERMINATE) {
    provider.addResourceToWaiterStatement('instance-terminate', {
      sid: 'TerminateSourceInstances',
      actions: ['ec2:TerminateInstances'],
    }, instanceArn(scope, instanceId), of);
  }
}

/** StopInstances on one instance, for the isComplete role (the waiter links, a builder's setup links). */
export function grantStopInstance(scope: Construct, of: GrantedResource): void {
  AmiProvider.of(scope).addResourceToWaiterStatement('instance-stop', {
    sid: 'StopSourceInstances',
    actions: ['ec2:StopInstances'],
  }, instanceArn(scope, of.id), of);
}
