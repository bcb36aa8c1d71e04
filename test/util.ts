import { App, Aspects, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';

export const ENV = { account: '123456789012', region: 'us-east-1' };

export function newStack(id = 'TestStack'): Stack {
  return new Stack(new App(), id, { env: ENV });
}

/** Runs cdk-nag AwsSolutions and returns every unsuppressed finding as text. */
export function nagFindings(stack: Stack): string[] {
  Aspects.of(stack).add(new AwsSolutionsChecks({ verbose: true }));
  const annotations = Annotations.fromStack(stack);
  return [
    ...annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ...annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
  ].map((m) => `${m.id}: ${String(m.entry.data).split('\n')[0]}`);
}

export function resourcesOfType(template: Template, type: string): [string, any][] {
  return Object.entries(template.findResources(type));
}
