/**
 * Deprecation without time bombs, against the local EC2 endpoint (which, like
 * EC2, refuses a deprecation time in the past): a DeprecateAt that has passed
 * and a DeprecateAfterSeconds counted from the image's creation.
 */
import { EC2Client, EnableImageDeprecationCommand } from '@aws-sdk/client-ec2';
import { StackTemplate } from './cfn-simulator';
import { lifecycleTemplate, useLocalEc2 } from './harness';
import { fastRetryStrategy } from './local-ec2';
import { AmiFromInstance } from '../../src';

const REGION = 'us-east-1';
const DAY_MS = 24 * 3600 * 1000;
const h = useLocalEc2();

/**
 * The template with the deprecation properties of the last waiter link set as
 * the constructs send them (DeprecateAt: ISO-8601 to the minute, possibly past;
 * DeprecateAfterSeconds: a whole number as a string), whatever synth accepts today.
 */
function template(instanceId: string, deprecation: { DeprecateAt?: string; DeprecateAfterSeconds?: string } = {}): StackTemplate {
  const t = lifecycleTemplate((stack) => new AmiFromInstance(stack, 'Image', { instanceId }));
  const links = Object.values(t.Resources).filter((r) => r.Type === 'Custom::AmiWaiter');
  const last = links.find((r) => String(r.Properties!.Link) === String(r.Properties!.Links))!;
  Object.assign(last.Properties!, deprecation);
  return t;
}

function imageOf(sim: ReturnType<typeof h.sim>) {
  const ids = Object.values(sim.outputs()) as string[];
  expect(ids).toHaveLength(1);
  return h.ec2.image(ids[0])!;
}

/** The earliest time EC2 accepts at `now`: a whole minute (EC2 rounds to the minute), at least one and less than two minutes ahead. */
function expectEarliestAfter(deprecationTime: string | undefined, now: number): void {
  const at = Date.parse(deprecationTime ?? '');
  expect(at % 60_000).toBe(0);
  expect(at - now).toBeGreaterThanOrEqual(60_000);
  expect(at - now).toBeLessThan(120_000);
}

const passedLogs = () => h.logs.filter((l) => l.message === 'deprecation time has passed; deprecating at the earliest time EC2 accepts');

test('the local endpoint, like EC2, refuses a deprecation time in the past', async () => {
  const sim = h.sim();
  await sim.deploy(template(h.ec2.addInstance({ region: REGION })));
  const client = new EC2Client({ region: REGION, retryStrategy: fastRetryStrategy() });
  const refused = client.send(new EnableImageDeprecationCommand({ ImageId: imageOf(sim).imageId, DeprecateAt: new Date(sim.now - 5 * 60_000) }));
  await expect(refused).rejects.toMatchObject({ name: 'InvalidParameterValue' });
  client.destroy();
});

test('a DeprecateAt that has passed deploys, deprecating at the earliest time EC2 accepts', async () => {
  const sim = h.sim();
  const yesterday = new Date(sim.now - DAY_MS).toISOString();
  expect(await sim.deploy(template(h.ec2.addInstance({ region: REGION }), { DeprecateAt: yesterday }))).toEqual({ ok: true });
  // The last poll, at the simulator's current time, applied it.
  expectEarliestAfter(imageOf(sim).deprecationTime, sim.now);
  expect(passedLogs()).toEqual([expect.objectContaining({ requested: yesterday, deprecateAt: imageOf(sim).deprecationTime })]);
});

test('a stack whose DeprecateAt passed since its last deployment still replaces its image', async () => {
  const sim = h.sim();
  const tomorrow = new Date(sim.now + DAY_MS).toISOString();
  await sim.deploy(template(h.ec2.addInstance({ region: REGION }), { DeprecateAt: tomorrow }));
  const first = imageOf(sim);
  expect(first.deprecationTime).toBe(tomorrow);

  sim.now += 3 * DAY_MS;
  expect(await sim.deploy(template(h.ec2.addInstance({ region: REGION }), { DeprecateAt: tomorrow }))).toEqual({ ok: true });
  const second = imageOf(sim);
  expect(second.imageId).not.toBe(first.imageId);
  expectEarliestAfter(second.deprecationTime, sim.now);
});

test('DeprecateAfterSeconds counts from the image\'s creation, and changes in place', async () => {
  const instanceId = h.ec2.addInstance({ region: REGION });
  const sim = h.sim();
  const ninetyDays = String(90 * 24 * 3600);
  expect(await sim.deploy(template(instanceId, { DeprecateAfterSeconds: ninetyDays }))).toEqual({ ok: true });
  const image = imageOf(sim);
  expect(image.deprecationTime).toBe(new Date(Date.parse(image.creationDate) + 90 * DAY_MS).toISOString());

  // To an absolute time, to another duration, and off: the image keeps its ID.
  expect(await sim.deploy(template(instanceId, { DeprecateAt: '2031-01-01T00:00:00.000Z' }))).toEqual({ ok: true });
  expect(imageOf(sim)).toMatchObject({ imageId: image.imageId, deprecationTime: '2031-01-01T00:00:00.000Z' });
  expect(await sim.deploy(template(instanceId, { DeprecateAfterSeconds: String(365 * 24 * 3600) }))).toEqual({ ok: true });
  const inAYear = new Date(Date.parse(image.creationDate) + 365 * DAY_MS).toISOString();
  expect(imageOf(sim)).toMatchObject({ imageId: image.imageId, deprecationTime: inAYear });
  expect(await sim.deploy(template(instanceId))).toEqual({ ok: true });
  expect(imageOf(sim).imageId).toBe(image.imageId);
  expect(imageOf(sim).deprecationTime).toBeUndefined();
  expect(h.ec2.liveImages(REGION)).toHaveLength(1);
});

test('a DeprecateAfterSeconds that has already run out when added to an old image deprecates it at the earliest time', async () => {
  const instanceId = h.ec2.addInstance({ region: REGION });
  const sim = h.sim();
  await sim.deploy(template(instanceId));
  sim.now += 10 * DAY_MS;
  expect(await sim.deploy(template(instanceId, { DeprecateAfterSeconds: String(7 * 24 * 3600) }))).toEqual({ ok: true });
  expectEarliestAfter(imageOf(sim).deprecationTime, sim.now);
  expect(passedLogs()).toHaveLength(1);
});
