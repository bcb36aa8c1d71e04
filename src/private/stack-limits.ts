import { CfnOutput, CfnResource, Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** CloudFormation's per-template quotas. */
export const MAX_STACK_RESOURCES = 500;
export const MAX_STACK_OUTPUTS = 200;

/** How many of a stack's resources and outputs one image takes. */
interface ImageCost {
  readonly path: string;
  readonly resources: number;
  readonly waiterLinks: number;
  readonly outputs: number;
}

const COSTS = new WeakMap<Stack, ImageCost[]>();

/**
 * Records what an image adds to its stack. The first image of a stack adds a
 * validation that, at synth, names the images and the fix when the stack is
 * over CloudFormation's quotas: aws-cdk-lib's own check only counts resources
 * by type ("Custom::AmiWaiter (522)"), and says nothing about outputs.
 */
export function recordImageCost(scope: IConstruct, cost: Omit<ImageCost, 'path'>): void {
  const stack = Stack.of(scope);
  let costs = COSTS.get(stack);
  if (!costs) {
    costs = [];
    COSTS.set(stack, costs);
    const recorded = costs;
    stack.node.addValidation({ validate: () => checkLimits(stack, recorded) });
  }
  costs.push({ path: scope.node.path, ...cost });
}

function checkLimits(stack: Stack, costs: ImageCost[]): string[] {
  let resources = 0;
  let outputs = 0;
  for (const c of stack.node.findAll()) {
    if (Stack.of(c) !== stack) continue; // nested stacks have templates of their own
    if (CfnResource.isCfnResource(c)) resources++;
    else if (c instanceof CfnOutput) outputs++;
  }
  const over: string[] = [];
  if (resources > MAX_STACK_RESOURCES) over.push(`${resources} resources (CloudFormation allows ${MAX_STACK_RESOURCES})`);
  if (outputs > MAX_STACK_OUTPUTS) over.push(`${outputs} outputs (CloudFormation allows ${MAX_STACK_OUTPUTS})`);
  if (over.length === 0) return [];

  const ours = costs.reduce((sum, c) => ({ resources: sum.resources + c.resources, outputs: sum.outputs + c.outputs }), { resources: 0, outputs: 0 });
  const largest = [...costs].sort((a, b) => b.resources - a.resources);
  const listed = largest.slice(0, 5).map((c) => `${c.path} (${c.resources} resources, ${c.waiterLinks} of them waiter links; ${c.outputs} output${c.outputs === 1 ? '' : 's'})`);
  const more = largest.length > listed.length ? ` and ${largest.length - listed.length} more` : '';
  return [
    `Stack ${stack.stackName} has ${over.join(' and ')}; its ${costs.length} cdk-ami images take ${ours.resources} resources and ${ours.outputs} outputs: `
    + `${listed.join(', ')}${more}. Each 50 minutes of an image's timeout is one waiter resource and each image has an output by default: `
    + 'shorten timeouts, set output: false on images whose ID is read otherwise (e.g. from parameterName), or spread the images over more stacks.',
  ];
}
