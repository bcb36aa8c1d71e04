/**
 * Figure 5: what an image's `test` adds per image. The same `AmiFromInstance`
 * with and without `test: ImageTest.script(...)`:
 * - synthesized, 1 and 10 images: the resources the test adds, by type;
 * - deployed through the lifecycle tests' CloudFormation simulator, with the
 *   real handlers against the local EC2 endpoint on a virtual clock, the test
 *   instance reporting success as soon as it is first described: the provider
 *   invocations and EC2 calls the test adds beyond the test itself, and the
 *   virtual time it adds, in polls.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { isComplete, onEvent } from '../lambda';
import { resetClients } from '../lambda/shared/clients';
import { setLogSink } from '../lambda/shared/log';
import { AmiFromInstance, ImageTest } from '../src';
import { Tags, Timing } from '../src/private/contract';
import { CfnSimulator, Handlers } from '../test/lifecycle/cfn-simulator';
import { Harness, instanceStandIn, lifecycleTemplate } from '../test/lifecycle/harness';
import { LocalEc2, fastRetryStrategy, withEndpointEnv } from '../test/lifecycle/local-ec2';
import { newStack } from '../test/util';

const REGION = 'us-east-1';
const INSTANCE = 'AWS::EC2::Instance';
/** Polls the image stays pending in both deployments (it does not change what the test adds). */
const PENDING_POLLS = 8;

/** One image of `instanceId`, `withTest` or not, in a VPC that exists already (so no VPC resources are counted). */
function addImage(stack: Stack, id: string, instanceId: string, withTest: boolean): void {
  const vpc = ec2.Vpc.fromVpcAttributes(stack, `${id}Vpc`, {
    vpcId: 'vpc-0123456789abcdef0',
    availabilityZones: ['us-east-1a'],
    privateSubnetIds: ['subnet-0123456789abcdef0'],
  });
  const check = ec2.UserData.forLinux();
  check.addCommands('systemctl is-active nginx');
  new AmiFromInstance(stack, id, { instanceId, ...(withTest ? { test: ImageTest.script(check, { vpc }) } : {}) });
}

function countByType(images: number, withTest: boolean): Record<string, number> {
  const stack = newStack('BenchStack');
  for (let n = 0; n < images; n++) addImage(stack, `Image${n}`, `i-${n.toString(16).padStart(17, '0')}`, withTest);
  const counts: Record<string, number> = {};
  for (const resource of Object.values(Template.fromStack(stack).toJSON().Resources as Record<string, { Type: string }>)) {
    counts[resource.Type] = (counts[resource.Type] ?? 0) + 1;
  }
  return counts;
}

/** `with - without`, per image, for each type that differs. */
function added(withTest: Record<string, number>, without: Record<string, number>, images: number): Record<string, number> {
  const types = [...new Set([...Object.keys(withTest), ...Object.keys(without)])].sort();
  return Object.fromEntries(types
    .map((type): [string, number] => [type, ((withTest[type] ?? 0) - (without[type] ?? 0)) / images])
    .filter(([, n]) => n !== 0));
}

export interface ResourcesAdded {
  /** Added by the first image's test (per-stack resources included). */
  readonly first: Record<string, number>;
  /** Added per image's test, in a stack of 10 images. */
  readonly perImage: Record<string, number>;
}

export function resourcesAdded(): ResourcesAdded {
  return {
    first: added(countByType(1, true), countByType(1, false), 1),
    perImage: added(countByType(10, true), countByType(10, false), 10),
  };
}

export interface Deployment {
  readonly ok: boolean;
  readonly onEvent: number;
  readonly isComplete: number;
  readonly ec2Calls: Record<string, number>;
  /** Virtual seconds from the stack's create to its end. */
  readonly seconds: number;
}

export interface TestCost {
  readonly without: Deployment;
  readonly withTest: Deployment;
  /** EC2 calls of the deployment with a test minus those without, by action. */
  readonly ec2CallsAdded: Record<string, number>;
  /**
   * Virtual time the test adds, in polls. The test itself takes none (its
   * instance reports when first described), so all of it is beyond the test.
   */
  readonly pollsBeyondTest: number;
}

/** Deploys one image with or without a test, counting what the provider does. */
async function deploy(ec2Endpoint: LocalEc2, withTest: boolean): Promise<Deployment> {
  ec2Endpoint.reset();
  resetClients({ retryStrategy: fastRetryStrategy(10) });
  ec2Endpoint.imageBehaviour = { pendingPolls: PENDING_POLLS, finalState: 'available' };
  const counts = { onEvent: 0, isComplete: 0 };
  const handlers: Handlers = {
    onEvent: async (event) => {
      counts.onEvent++;
      return onEvent(event);
    },
    isComplete: async (event) => {
      counts.isComplete++;
      return isComplete(event);
    },
  };
  // The test instance reports success the first time the provider describes it.
  const testInstances = instanceStandIn({ ec2: ec2Endpoint } as Harness, REGION, (instance) => {
    ec2Endpoint.scriptInstance(REGION, instance.instanceId, {
      tags: { [Tags.TEST]: 'succeeded' },
      consoleOutput: `${Tags.TEST}=succeeded\n`,
    });
  });
  const sim = new CfnSimulator(ec2Endpoint, { handlers, nativeResources: { [INSTANCE]: testInstances } });
  const realNow = Date.now;
  Date.now = () => sim.now;
  try {
    const instanceId = ec2Endpoint.addInstance({ region: REGION });
    const template = lifecycleTemplate((stack) => addImage(stack, 'Image', instanceId, withTest), {}, [INSTANCE]);
    const start = sim.now;
    const result = await sim.deploy(template);
    const ec2Calls: Record<string, number> = {};
    for (const call of ec2Endpoint.calls.filter((c) => c.service === 'ec2')) ec2Calls[call.action] = (ec2Calls[call.action] ?? 0) + 1;
    return { ok: result.ok, ...counts, ec2Calls, seconds: (sim.now - start) / 1000 };
  } finally {
    Date.now = realNow;
  }
}

/** Starts the local endpoint, deploys without and with a test, and always stops it. */
export async function benchImageTest(): Promise<TestCost> {
  const ec2Endpoint = await LocalEc2.start();
  const restoreEnv = withEndpointEnv(ec2Endpoint.url);
  const restoreLog = setLogSink(() => undefined);
  try {
    const without = await deploy(ec2Endpoint, false);
    const withTest = await deploy(ec2Endpoint, true);
    const actions = [...new Set([...Object.keys(without.ec2Calls), ...Object.keys(withTest.ec2Calls)])].sort();
    const ec2CallsAdded = Object.fromEntries(actions
      .map((action): [string, number] => [action, (withTest.ec2Calls[action] ?? 0) - (without.ec2Calls[action] ?? 0)])
      .filter(([, n]) => n !== 0));
    return { without, withTest, ec2CallsAdded, pollsBeyondTest: (withTest.seconds - without.seconds) / Timing.POLL_INTERVAL_SECONDS };
  } finally {
    setLogSink(restoreLog);
    resetClients();
    restoreEnv();
    await ec2Endpoint.stop();
  }
}
