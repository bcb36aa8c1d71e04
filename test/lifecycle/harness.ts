import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { resetClients } from '../../lambda/shared/clients';
import { setLogSink } from '../../lambda/shared/log';
import { newStack } from '../util';
import { CfnSimulator, SimulatorOptions, StackTemplate, TemplateResource } from './cfn-simulator';
import { LocalEc2, LocalImage, fastRetryStrategy, withEndpointEnv } from './local-ec2';

/**
 * The part of a synthesized template CloudFormation hands to our handlers: the
 * custom resources and the outputs (Lambda, IAM, ... are CloudFormation's job).
 */
export function lifecycleTemplate(build: (stack: Stack) => void, extra: Record<string, TemplateResource> = {}): StackTemplate {
  const stack = newStack('LifecycleStack');
  build(stack);
  const full = Template.fromStack(stack).toJSON() as StackTemplate;
  const resources = Object.fromEntries(Object.entries(full.Resources).filter(([, r]) => r.Type.startsWith('Custom::')));
  return { Resources: { ...resources, ...extra }, Outputs: full.Outputs };
}

export interface Harness {
  readonly ec2: LocalEc2;
  readonly logs: Record<string, unknown>[];
  sim(options?: SimulatorOptions): CfnSimulator;
}

/**
 * Starts the local EC2 endpoint for a test file and points the handlers'
 * SDK clients at it, with a retry strategy that retries like the SDK but
 * without sleeping (throttling would otherwise cost real seconds).
 */
export function useLocalEc2(): Harness {
  const state: { ec2?: LocalEc2; restoreEnv?: () => void; restoreLog?: unknown; sims: CfnSimulator[] } = { sims: [] };
  const logs: Record<string, unknown>[] = [];
  beforeAll(async () => {
    state.ec2 = await LocalEc2.start();
    state.restoreEnv = withEndpointEnv(state.ec2.url);
  });
  beforeEach(() => {
    state.ec2!.reset();
    logs.length = 0;
    setLogSink((line) => logs.push(JSON.parse(line)));
    resetClients({ retryStrategy: fastRetryStrategy(10) });
  });
  afterEach(() => {
    for (const sim of state.sims.splice(0)) sim.stopClock();
  });
  afterAll(async () => {
    state.restoreEnv?.();
    await state.ec2?.stop();
  });
  return {
    get ec2() { return state.ec2!; },
    logs,
    sim(options?: SimulatorOptions) {
      const sim = new CfnSimulator(state.ec2!, options);
      sim.startClock();
      state.sims.push(sim);
      return sim;
    },
  };
}

/** The one image the stack's outputs name (templates with one image), as the local endpoint holds it. */
export function outputImage(ec2: LocalEc2, sim: CfnSimulator): LocalImage {
  const ids = Object.values(sim.outputs()) as string[];
  expect(ids).toHaveLength(1);
  return ec2.image(ids[0])!;
}
