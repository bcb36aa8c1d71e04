/**
 * Figure 3: the real handlers against the local EC2 endpoint, driven like
 * CloudFormation and the Provider framework drive them: onEvent, then
 * isComplete at once and again every poll interval, on a virtual clock.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { isComplete, onEvent } from '../lambda';
import { resetClients } from '../lambda/shared/clients';
import { setLogSink } from '../lambda/shared/log';
import { CustomResourceEvent, IsCompleteResponse } from '../lambda/shared/types';
import { AmiFromInstance } from '../src';
import { Timing } from '../src/private/contract';
import { FastRetryStrategy, LocalEc2, RecordedCall, fastRetryStrategy, withEndpointEnv } from '../test/lifecycle/local-ec2';

const REGION = 'us-east-1';
const STACK_ID = `arn:aws:cloudformation:${REGION}:123456789012:stack/BenchStack/${randomUUID()}`;
const POLL_MS = Timing.POLL_INTERVAL_SECONDS * 1000;
/** The Provider framework's attempts: totalTimeout (55 min) / queryInterval. */
const MAX_POLLS_PER_LINK = 220;
/** Retry attempts of the fast strategy: the production clients' maxAttempts. */
const MAX_ATTEMPTS = 10;

/** `Date.now()` follows a virtual clock; `restore()` puts the real one back. */
class VirtualClock {
  private readonly realNow = Date.now;
  public now = Date.UTC(2026, 10, 23, 12, 0, 0);

  constructor() {
    Date.now = () => this.now;
  }

  advance(ms: number): void {
    this.now += ms;
  }

  restore(): void {
    Date.now = this.realNow;
  }
}

/** One waiter link's properties, as CloudFormation sends them (strings). */
interface LinkProps {
  readonly Link: string;
  readonly Links: string;
  readonly BudgetSeconds: string;
  readonly TimeoutSeconds: string;
}

const SINGLE_LINK: LinkProps = { Link: '1', Links: '1', BudgetSeconds: '3000', TimeoutSeconds: '3000' };

function createEvent(resourceType: string, logicalId: string, props: Record<string, string>): CustomResourceEvent {
  const serviceToken = `arn:aws:lambda:${REGION}:123456789012:function:provider`;
  return {
    RequestType: 'Create',
    ServiceToken: serviceToken,
    ResponseURL: 'https://cloudformation-custom-resource-response.example/...',
    StackId: STACK_ID,
    RequestId: randomUUID(),
    LogicalResourceId: logicalId,
    ResourceType: resourceType,
    ResourceProperties: { ServiceToken: serviceToken, ...props },
  };
}

/** Custom::AmiFromInstance Create: starts CreateImage, returns the image ID. */
async function createImage(instanceId: string, logicalId: string): Promise<string> {
  const response = await onEvent(createEvent('Custom::AmiFromInstance', logicalId, {
    Region: REGION,
    NamePrefix: `BenchStack/${logicalId}`,
    InstanceId: instanceId,
    NoReboot: 'false',
    IncludeDataVolumes: 'true',
    RemovalPolicy: 'destroy',
  }));
  return response.PhysicalResourceId;
}

/** Custom::AmiWaiter Create: what the Provider framework then passes to every isComplete. */
async function startWait(imageId: string, logicalId: string, link: LinkProps): Promise<CustomResourceEvent> {
  const event = createEvent('Custom::AmiWaiter', logicalId, { Region: REGION, ImageId: imageId, ...link });
  const response = await onEvent(event);
  return { ...event, ...response } as CustomResourceEvent;
}

/**
 * The waiter link properties the construct synthesizes for `timeout`, read
 * from a real template (so the bench follows the construct's chain rules).
 */
export function chainLinks(timeout: Duration): LinkProps[] {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-ami-bench-'));
  let resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  try {
    const app = new App({ outdir });
    const stack = new Stack(app, 'BenchStack', { env: { account: '123456789012', region: REGION } });
    new AmiFromInstance(stack, 'Image', { instanceId: 'i-0123456789abcdef0', timeout });
    resources = app.synth().getStackByName(stack.stackName).template.Resources;
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
  return Object.values(resources)
    .filter((r) => r.Type === 'Custom::AmiWaiter')
    .map((r) => ({
      Link: String(r.Properties.Link),
      Links: String(r.Properties.Links),
      BudgetSeconds: String(r.Properties.BudgetSeconds),
      TimeoutSeconds: String(r.Properties.TimeoutSeconds),
    }))
    .sort((a, b) => Number(a.Link) - Number(b.Link));
}

export interface LagResult {
  readonly pollIntervalSeconds: number;
  readonly pendingPolls: number;
  readonly polls: number;
  /** Virtual seconds from the wait's start until the image turned available. */
  readonly availableAtSeconds: number;
  /** Virtual seconds from the wait's start until isComplete answered IsComplete true. */
  readonly completeAtSeconds: number;
  readonly lagSeconds: number;
  readonly lagPolls: number;
  /** Observed lag plus one interval: a real image can turn available just after a poll. */
  readonly worstCaseLagSeconds: number;
}

export interface CallsPerHourResult {
  readonly pendingPolls: number;
  readonly links: number;
  readonly budgetSeconds: number;
  readonly waitedSeconds: number;
  readonly polls: number;
  readonly ec2Calls: number;
  readonly byAction: Record<string, number>;
  readonly callsPerImageHour: number;
  readonly completed: boolean;
}

export interface ConcurrentResult {
  readonly images: number;
  readonly throttleRate: number;
  readonly seed: number;
  readonly pendingPolls: number;
  readonly created: number;
  readonly completed: number;
  readonly failed: number;
  readonly failures: string[];
  readonly rounds: number;
  readonly virtualSeconds: number;
  readonly totalCalls: number;
  readonly throttledCalls: number;
  readonly waitCalls: number;
  readonly waitThrottledCalls: number;
  readonly retriedAttempts: number;
  /** How the SDK's retry middleware classified the failed attempts it handed to the strategy. */
  readonly errorTypes: Record<string, number>;
  /** isComplete calls that got throttled even after the retries, and said "poll again". */
  readonly throttledPolls: number;
  readonly realMs: number;
}

export interface WaiterResults {
  readonly lag: LagResult;
  readonly callsPerHour: CallsPerHourResult;
  readonly concurrent: ConcurrentResult;
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

/** Starts the endpoint and the virtual clock, runs the three scenarios, and always restores both. */
export async function benchWaiters(chain: LinkProps[]): Promise<WaiterResults> {
  const ec2 = await LocalEc2.start();
  const restoreEnv = withEndpointEnv(ec2.url);
  const restoreLog = setLogSink(() => undefined);
  const clock = new VirtualClock();
  try {
    const fresh = (): FastRetryStrategy => {
      ec2.reset();
      const strategy = fastRetryStrategy(MAX_ATTEMPTS);
      resetClients({ retryStrategy: strategy });
      return strategy;
    };

    fresh();
    const lag = await measureLag(ec2, clock, 8);
    fresh();
    const callsPerHour = await measureCallsPerHour(ec2, clock, chain, 240);
    const strategy = fresh();
    const concurrent = await measureConcurrent(ec2, clock, strategy, { images: 50, rate: 0.3, seed: 42, pendingPolls: 20 });
    return { lag, callsPerHour, concurrent };
  } finally {
    clock.restore();
    setLogSink(restoreLog);
    resetClients();
    restoreEnv();
    await ec2.stop();
  }
}

/** 3a: how long after the image turns available does isComplete say so? */
async function measureLag(ec2: LocalEc2, clock: VirtualClock, pendingPolls: number): Promise<LagResult> {
  ec2.imageBehaviour = { pendingPolls, finalState: 'available' };
  const instanceId = ec2.addInstance({ region: REGION });
  const imageId = await createImage(instanceId, 'Image');
  const start = clock.now;
  const firstCall = ec2.calls.length;
  const event = await startWait(imageId, 'ImageWaiter', SINGLE_LINK);

  let availableAt: number | undefined;
  let polls = 0;
  let result: IsCompleteResponse = { IsComplete: false };
  while (polls < MAX_POLLS_PER_LINK) {
    polls++;
    result = await isComplete(event);
    // The endpoint settles an image during a DescribeImages call; the clock stands still during a call.
    if (availableAt === undefined && ec2.image(imageId)?.state === 'available') availableAt = clock.now;
    if (result.IsComplete) break;
    clock.advance(POLL_MS);
  }
  if (!result.IsComplete || availableAt === undefined) throw new Error(`The wait for ${imageId} did not complete in ${polls} polls`);
  const completeAt = clock.now;

  // Cross-check with the call log: the DescribeImages call that found it available.
  const describes = ec2.calls.slice(firstCall).filter((c) => c.action === 'DescribeImages' && c.status === 200);
  if (describes.length < pendingPolls + 1 || describes[pendingPolls].at !== availableAt) {
    throw new Error('The call log disagrees with the image state about when the image turned available');
  }
  const lagSeconds = (completeAt - availableAt) / 1000;
  return {
    pollIntervalSeconds: POLL_MS / 1000,
    pendingPolls,
    polls,
    availableAtSeconds: (availableAt - start) / 1000,
    completeAtSeconds: (completeAt - start) / 1000,
    lagSeconds,
    lagPolls: lagSeconds / (POLL_MS / 1000),
    worstCaseLagSeconds: lagSeconds + POLL_MS / 1000,
  };
}

/** 3b: an image pending for an hour, waited on through the construct's chain of links. */
async function measureCallsPerHour(ec2: LocalEc2, clock: VirtualClock, chain: LinkProps[], pendingPolls: number): Promise<CallsPerHourResult> {
  ec2.imageBehaviour = { pendingPolls, finalState: 'available' };
  const instanceId = ec2.addInstance({ region: REGION });
  const imageId = await createImage(instanceId, 'Image');
  const firstCall = ec2.calls.length;
  const start = clock.now;

  let polls = 0;
  let result: IsCompleteResponse = { IsComplete: false };
  for (const link of chain) {
    // CloudFormation creates the next link as soon as the previous one completes (no gap modelled).
    const event = await startWait(imageId, `ImageWaiter${link.Link}`, link);
    for (let attempt = 0; attempt < MAX_POLLS_PER_LINK; attempt++) {
      polls++;
      result = await isComplete(event);
      if (result.IsComplete) break;
      clock.advance(POLL_MS);
    }
    if (result.Data?.State === 'available') break;
  }
  const waitedSeconds = (clock.now - start) / 1000;
  const calls = ec2.calls.slice(firstCall).filter((c) => c.service === 'ec2');
  return {
    pendingPolls,
    links: chain.length,
    budgetSeconds: Number(chain[0].BudgetSeconds),
    waitedSeconds,
    polls,
    ec2Calls: calls.length,
    byAction: countBy(calls, (c) => c.action),
    callsPerImageHour: calls.length / (waitedSeconds / 3600),
    completed: result.Data?.State === 'available',
  };
}

/** 3c: many images waited on at once while EC2 throttles a share of all calls. */
async function measureConcurrent(
  ec2: LocalEc2, clock: VirtualClock, strategy: FastRetryStrategy,
  options: { images: number; rate: number; seed: number; pendingPolls: number },
): Promise<ConcurrentResult> {
  const realStart = process.hrtime.bigint();
  ec2.imageBehaviour = { pendingPolls: options.pendingPolls, finalState: 'available' };
  const instances = Array.from({ length: options.images }, () => ec2.addInstance({ region: REGION }));
  ec2.throttleRate(options.rate, options.seed);

  const failures: string[] = [];
  const fail = (id: string, err: unknown): void => {
    failures.push(`${id}: ${err instanceof Error ? err.message : String(err)}`);
  };

  // CloudFormation creates independent resources in parallel.
  const created = await Promise.all(instances.map(async (instanceId, i) => {
    try {
      const imageId = await createImage(instanceId, `Image${i}`);
      return { id: `Image${i}`, event: await startWait(imageId, `Image${i}Waiter`, SINGLE_LINK) };
    } catch (err) {
      fail(`Image${i}`, err);
      return undefined;
    }
  }));
  const waitStart = ec2.calls.length;

  let pending = created.filter((c): c is { id: string; event: CustomResourceEvent } => c !== undefined);
  const createdCount = pending.length;
  let completed = 0;
  let rounds = 0;
  let throttledPolls = 0;
  while (pending.length > 0 && rounds < MAX_POLLS_PER_LINK) {
    rounds++;
    const callsBefore = ec2.calls.length;
    const outcomes = await Promise.all(pending.map(async (waiter) => {
      try {
        return { waiter, done: (await isComplete(waiter.event)).IsComplete };
      } catch (err) {
        fail(waiter.id, err);
        return { waiter, done: true, failed: true };
      }
    }));
    completed += outcomes.filter((o) => o.done && !o.failed).length;
    // A poll whose DescribeImages was throttled on every attempt answers "not complete" without failing.
    throttledPolls += throttledOut(ec2.calls.slice(callsBefore));
    pending = outcomes.filter((o) => !o.done).map((o) => o.waiter);
    if (pending.length > 0) clock.advance(POLL_MS);
  }
  for (const waiter of pending) fail(waiter.id, new Error(`still pending after ${rounds} rounds`));

  const calls = ec2.calls;
  const waitCalls = calls.slice(waitStart);
  const throttled = (list: readonly RecordedCall[]): number => list.filter((c) => c.code === 'RequestLimitExceeded').length;
  return {
    images: options.images,
    throttleRate: options.rate,
    seed: options.seed,
    pendingPolls: options.pendingPolls,
    created: createdCount,
    completed,
    failed: failures.length,
    failures,
    rounds,
    virtualSeconds: rounds * (POLL_MS / 1000),
    totalCalls: calls.length,
    throttledCalls: throttled(calls),
    waitCalls: waitCalls.length,
    waitThrottledCalls: throttled(waitCalls),
    retriedAttempts: calls.filter((c) => (c.attempt ?? 1) > 1).length,
    errorTypes: countBy(strategy.errorTypes, (t) => t),
    throttledPolls,
    realMs: Math.round(Number(process.hrtime.bigint() - realStart) / 1e6),
  };
}

/** Attempts that were the last allowed one and still throttled: the SDK gave up on that call. */
function throttledOut(calls: readonly RecordedCall[]): number {
  return calls.filter((c) => c.code === 'RequestLimitExceeded' && c.attempt === MAX_ATTEMPTS).length;
}
