import { App, Aspects, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as nag from 'cdk-nag';
import { IConstruct } from 'constructs';

export const ENV = { account: '123456789012', region: 'us-east-1' };

export function newStack(id = 'TestStack'): Stack {
  return new Stack(new App(), id, { env: ENV });
}

/**
 * cdk-nag 3 (with aws-cdk-lib >= 2.257, the `test:latest-cdk` run) checks as
 * a policy validation plugin and reads `Validations.of(c).acknowledge()`;
 * cdk-nag 2 (the normal run, with the minimum aws-cdk-lib) is an aspect and
 * reads `cdk_nag` metadata. Typed by hand: the project compiles against cdk-nag 2.
 */
export interface NagPlugin {
  validateScope(scope: IConstruct): { violations: { ruleName: string; description: string; violatingResources: { constructPath: string }[] }[] };
}
type NagPluginClass = new (scope?: IConstruct, props?: { verbose?: boolean }) => NagPlugin;
export const NAG_MAJOR = typeof (nag.AwsSolutionsChecks.prototype as Partial<NagPlugin>).validateScope === 'function' ? 3 : 2;

/** The AwsSolutions pack as cdk-nag 3 builds it (only call when NAG_MAJOR is 3). */
export function nagPlugin(scope?: IConstruct): NagPlugin {
  return new (nag.AwsSolutionsChecks as unknown as NagPluginClass)(scope, { verbose: true });
}

/** Runs cdk-nag AwsSolutions (2 or 3, whichever is installed) and returns every unsuppressed finding as text. */
export function nagFindings(scope: Stack): string[] {
  if (NAG_MAJOR === 3) {
    // Synthesis validates the tree (where cdk-ami acknowledges the findings it computes) before cdk-nag 3 runs.
    Template.fromStack(scope);
    return nagPlugin().validateScope(scope).violations.flatMap((v) =>
      v.violatingResources.map((r) => `/${r.constructPath}: ${v.ruleName}`));
  }
  Aspects.of(scope).add(new nag.AwsSolutionsChecks({ verbose: true }));
  const annotations = Annotations.fromStack(scope);
  return [
    ...annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ...annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
  ].map((m) => `${m.id}: ${String(m.entry.data).split('\n')[0]}`);
}

export function resourcesOfType(template: Template, type: string): [string, any][] {
  return Object.entries(template.findResources(type));
}

/** The properties of the stack's first resource of this type: an image kind's operation resource. */
export function operationOf(stack: Stack, type: string): any {
  return resourcesOfType(Template.fromStack(stack), type)[0][1].Properties;
}

/** The properties of the image's last waiter link: the one that applies its settings. */
export function lastWaiter(stack: Stack): any {
  // Stage 1 of an import (Target import) only follows the task: the image's own chain comes last.
  const waiters = resourcesOfType(Template.fromStack(stack), 'Custom::AmiWaiter').filter(([, w]) => w.Properties.Target !== 'import');
  return waiters.find(([, w]) => w.Properties.Link === w.Properties.Links)![1].Properties;
}

/** Every statement of the IAM policies attached to the roles whose logical ID contains `role`. */
export function statementsOf(stack: Stack, role: string): any[] {
  return resourcesOfType(Template.fromStack(stack), 'AWS::IAM::Policy')
    .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(role))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
}

/** An AmiFromSnapshot's blockDevices: the root snapshot on /dev/xvda, data snapshots on /dev/sdf, /dev/sdg, … */
export function snapshotDevices(root: string, ...data: string[]): ec2.BlockDevice[] {
  return [root, ...data].map((snapshotId, i) => ({
    deviceName: i === 0 ? '/dev/xvda' : `/dev/sd${String.fromCharCode('f'.charCodeAt(0) + i - 1)}`,
    volume: ec2.BlockDeviceVolume.ebsFromSnapshot(snapshotId),
  }));
}
