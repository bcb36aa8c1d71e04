import { Aws, Resource, Stack, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { FastLaunchOptions } from '../fast-launch';
import { AmiValidationError } from './errors';
import { AmiProvider } from './provider';

/** EnableFastLaunch: "Value must be 6 or greater." */
export const MIN_PARALLEL_LAUNCHES = 6;

/**
 * Checks `fastLaunch` against EC2's rules, and renders it for the last waiter
 * link (`grantFastLaunchTemplate` lets the provider name its launch template).
 *
 * @param windows whether the image is Windows, where synth knows it (undefined: EC2 tells at deploy time)
 * @param what how the image's operating system is known, for the message
 */
export function renderFastLaunch(
  scope: Resource & { readonly region: string }, options: FastLaunchOptions | undefined, windows: boolean | undefined, what: string,
): Record<string, unknown> | undefined {
  if (!options) return undefined;
  if (windows === false) {
    throw new AmiValidationError(`fastLaunch needs a Windows image, and ${what} is not Windows: remove fastLaunch, or build a Windows image.`, scope);
  }
  wholeAtLeast(scope, 'fastLaunch.targetResourceCount', options.targetResourceCount, 1);
  wholeAtLeast(scope, 'fastLaunch.maxParallelLaunches', options.maxParallelLaunches, MIN_PARALLEL_LAUNCHES);
  const template = options.launchTemplate;
  if (options.launchTemplateVersion !== undefined && !template) {
    throw new AmiValidationError('fastLaunch.launchTemplateVersion is set without fastLaunch.launchTemplate: set the launch template too, or remove the version.', scope);
  }
  let templateId: string | undefined;
  if (template) {
    if (!template.launchTemplateId) {
      throw new AmiValidationError(
        `fastLaunch.launchTemplate "${template.launchTemplateName ?? template.node.path}" has no launch template ID: the provider may only use a launch template it can name by ID. Use LaunchTemplate.fromLaunchTemplateAttributes with launchTemplateId.`, scope);
    }
    const templateRegion = template.env.region;
    if (!Token.isUnresolved(templateRegion) && !Token.isUnresolved(scope.region) && templateRegion !== scope.region) {
      throw new AmiValidationError(`fastLaunch.launchTemplate is in ${templateRegion}, and the image in ${scope.region}: EC2 Fast Launch uses a launch template of the image's Region.`, scope);
    }
    templateId = template.launchTemplateId;
  }
  return {
    TargetResourceCount: options.targetResourceCount,
    MaxParallelLaunches: options.maxParallelLaunches,
    LaunchTemplateId: templateId,
    LaunchTemplateVersion: template ? options.launchTemplateVersion ?? template.versionNumber : undefined,
  };
}

/**
 * EnableFastLaunch authorizes the launch template as a second resource
 * (Service Authorization Reference): the waiter role may name this one, from
 * `operation` on (the waiter links follow it). A template of this stack may
 * name an image of this stack: its grant is then a policy of the image's own.
 */
export function grantFastLaunchTemplate(
  scope: Resource & { readonly region: string }, options: FastLaunchOptions | undefined, operation: IConstruct,
): void {
  const template = options?.launchTemplate;
  const templateId = template?.launchTemplateId;
  if (!template || !templateId) return;
  const templateAccount = template.env.account;
  const account = Token.isUnresolved(templateAccount) ? Stack.of(scope).account : templateAccount;
  AmiProvider.of(scope).addResourceToWaiterStatement('fast-launch-templates', {
    sid: 'FastLaunchTemplates',
    actions: ['ec2:EnableFastLaunch'],
  }, `arn:${Aws.PARTITION}:ec2:${scope.region}:${account}:launch-template/${templateId}`,
  { id: templateId, owner: scope, firstUser: operation });
}

function wholeAtLeast(scope: Resource, field: string, value: number | undefined, min: number): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!Number.isInteger(value) || value < min) {
    throw new AmiValidationError(`${field} must be a whole number of at least ${min}, got ${value}.`, scope);
  }
}
