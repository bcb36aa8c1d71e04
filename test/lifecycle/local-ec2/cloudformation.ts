/**
 * AWS CloudFormation (awsQuery protocol), DescribeStacks only: the stacks a test or the CloudFormation
 * simulator sets (`setStackStatus`), found by name or ID as CloudFormation finds them.
 */
import { randomUUID } from 'node:crypto';
import { ApiError } from './errors';
import { now } from './helpers';
import { leaf, node, QueryParams } from './protocol';
import { ACCOUNT_ID, LocalStack } from './types';
import { RegionState, World } from './world';

function renderStack(stack: LocalStack): string {
  return node('member',
    leaf('StackId', stack.stackId),
    leaf('StackName', stack.stackName),
    leaf('CreationTime', stack.creationTime),
    leaf('StackStatus', stack.status),
  );
}

const STACK_ARN_PATTERN = /^arn:aws[a-z-]*:cloudformation:([a-z0-9-]+):\d{12}:stack\/([^/]+)\/[^/]+$/;

export class CloudFormationApi {
  constructor(private readonly world: World) {}

  handle(action: string, region: RegionState, params: QueryParams): string {
    if (action !== 'DescribeStacks') throw new ApiError('InvalidAction', `The action ${action || '(none)'} is not valid for this web service.`);
    const stackName = params.get('StackName');
    if (stackName === undefined) {
      return node('Stacks', ...[...region.stacks.values()].filter((stack) => stack.status !== 'DELETE_COMPLETE').map(renderStack));
    }
    const stack = this.find(region, stackName);
    if (!stack) throw new ApiError('ValidationError', `Stack with id ${stackName} does not exist`);
    return node('Stacks', renderStack(stack));
  }

  /** Creates or updates a stack; a stack ARN fixes its region and name. Returns the stack ID. */
  setStatus(stackIdOrName: string, status: string, regionName: string): string {
    const arn = STACK_ARN_PATTERN.exec(stackIdOrName);
    const region = this.world.region(arn ? arn[1] : regionName);
    const existing = this.find(region, stackIdOrName);
    if (existing) {
      existing.status = status;
      return existing.stackId;
    }
    const stackName = arn ? arn[2] : stackIdOrName;
    const stackId = arn ? stackIdOrName : `arn:aws:cloudformation:${region.name}:${ACCOUNT_ID}:stack/${stackName}/${randomUUID()}`;
    region.stacks.set(stackId, { stackId, stackName, region: region.name, creationTime: now(), status });
    return stackId;
  }

  /** By ID any stack is found; by name only a stack that is not deleted, as on CloudFormation. */
  private find(region: RegionState, stackIdOrName: string): LocalStack | undefined {
    if (STACK_ARN_PATTERN.test(stackIdOrName)) return region.stacks.get(stackIdOrName);
    return [...region.stacks.values()].find((stack) => stack.stackName === stackIdOrName && stack.status !== 'DELETE_COMPLETE');
  }
}
