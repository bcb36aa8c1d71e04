/**
 * Deprecation without time bombs: the last waiter link deprecates at
 * DeprecateAt or CreationDate + DeprecateAfterSeconds, and a time that has
 * passed (which EC2 refuses) becomes the earliest time EC2 accepts.
 */
import { DescribeImagesCommand, DisableImageDeprecationCommand, EC2Client, EnableImageDeprecationCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { WAITER, captureLogs, createEvent, expectOneLine, ownedImage, rejectionOf, updateEvent, waiterProps } from './helpers';
import { isComplete } from '../../lambda';
import { earliestDeprecationTime } from '../../lambda/waiter/governance';

const ec2Mock = mockClient(EC2Client);
const logs = captureLogs();
const IMAGE = 'ami-0123456789abcdef0';
const LAST = { Link: '2', Links: '2' };
const NOW = Date.parse('2027-03-10T12:00:20.000Z');
const CREATED = '2027-03-10T11:40:05.000Z';

beforeEach(() => {
  ec2Mock.reset();
  ec2Mock.on(DescribeImagesCommand).resolves({ Images: [ownedImage({ CreationDate: CREATED })] });
  jest.spyOn(Date, 'now').mockReturnValue(NOW);
});

function created(props: Record<string, unknown>) {
  return isComplete({ ...createEvent(WAITER, waiterProps({ ...LAST, ...props })), WaitStartedAt: NOW });
}

function updated(props: Record<string, unknown>, old: Record<string, unknown>) {
  return isComplete({ ...updateEvent(WAITER, `${IMAGE}/wait-2`, waiterProps({ ...LAST, ...props }), waiterProps({ ...LAST, ...old })), WaitStartedAt: NOW });
}

function deprecatedAt(): string[] {
  return ec2Mock.commandCalls(EnableImageDeprecationCommand).map((c) => c.args[0].input.DeprecateAt!.toISOString());
}

const passed = () => logs.find('deprecation time has passed; deprecating at the earliest time EC2 accepts');

describe('the earliest time EC2 accepts', () => {
  test.each([
    ['2027-03-10T12:00:00.000Z', '2027-03-10T12:01:00.000Z'],
    ['2027-03-10T12:00:20.000Z', '2027-03-10T12:02:00.000Z'],
    ['2027-03-10T12:00:59.999Z', '2027-03-10T12:02:00.000Z'],
  ])('at %s it is %s: a whole minute (EC2 rounds to the minute) at least a minute ahead', (now, earliest) => {
    expect(earliestDeprecationTime(Date.parse(now)).toISOString()).toBe(earliest);
  });
});

describe('DeprecateAt', () => {
  test('in the future: deprecated then', async () => {
    await created({ DeprecateAt: '2028-01-01T00:00:00.000Z' });
    expect(deprecatedAt()).toEqual(['2028-01-01T00:00:00.000Z']);
    expect(passed()).toEqual([]);
  });

  test('in the past: deprecated at the earliest time EC2 accepts, and the log says so', async () => {
    await created({ DeprecateAt: '2027-03-01T00:00:00.000Z' });
    expect(deprecatedAt()).toEqual(['2027-03-10T12:02:00.000Z']);
    expect(passed()).toEqual([expect.objectContaining({
      level: 'warn', imageId: IMAGE, requested: '2027-03-01T00:00:00.000Z', deprecateAt: '2027-03-10T12:02:00.000Z',
    })]);
  });

  test('changed to a time that has passed: applied in place, at the earliest time', async () => {
    await updated({ DeprecateAt: '2027-03-10T12:00:00.000Z' }, { DeprecateAt: '2028-01-01T00:00:00.000Z' });
    expect(deprecatedAt()).toEqual(['2027-03-10T12:02:00.000Z']);
  });

  test('unchanged, even in the past: nothing is called', async () => {
    await updated({ DeprecateAt: '2027-03-01T00:00:00.000Z', TimeoutSeconds: '7200' }, { DeprecateAt: '2027-03-01T00:00:00.000Z' });
    expect(ec2Mock).not.toHaveReceivedCommand(EnableImageDeprecationCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(DisableImageDeprecationCommand);
  });

  test('not a time: one sentence', async () => {
    const err = await rejectionOf(created({ DeprecateAt: 'soon' }));
    expect(err.message).toMatch(/DeprecateAt must be an ISO-8601 time, got "soon"\./);
    expectOneLine(err);
  });
});

describe('DeprecateAfterSeconds', () => {
  test('counts from the image\'s CreationDate', async () => {
    await created({ DeprecateAfterSeconds: String(90 * 24 * 3600) });
    expect(deprecatedAt()).toEqual(['2027-06-08T11:40:05.000Z']);
    expect(logs.find('deprecation updated')).toEqual([expect.objectContaining({
      deprecateAt: '2027-06-08T11:40:05.000Z', deprecateAfterSeconds: 90 * 24 * 3600, creationDate: CREATED,
    })]);
  });

  test('already past for an older image: the earliest time EC2 accepts', async () => {
    await created({ DeprecateAfterSeconds: '600' });
    expect(deprecatedAt()).toEqual(['2027-03-10T12:02:00.000Z']);
    expect(passed()).toEqual([expect.objectContaining({ requested: '2027-03-10T11:50:05.000Z' })]);
  });

  test('zero: deprecated as soon as EC2 allows', async () => {
    await created({ DeprecateAfterSeconds: '0' });
    expect(deprecatedAt()).toEqual(['2027-03-10T12:02:00.000Z']);
  });

  test.each([
    ['from DeprecateAt', { DeprecateAt: '2028-01-01T00:00:00.000Z' }],
    ['to another duration', { DeprecateAfterSeconds: '3600' }],
    ['from nothing', {}],
  ])('changed in place %s', async (_, old) => {
    await updated({ DeprecateAfterSeconds: String(365 * 24 * 3600) }, old);
    expect(deprecatedAt()).toEqual(['2028-03-09T11:40:05.000Z']);
    expect(ec2Mock).not.toHaveReceivedCommand(DisableImageDeprecationCommand);
  });

  test('changed to DeprecateAt in place', async () => {
    await updated({ DeprecateAt: '2029-01-01T00:00:00.000Z' }, { DeprecateAfterSeconds: '3600' });
    expect(deprecatedAt()).toEqual(['2029-01-01T00:00:00.000Z']);
  });

  test('removed: undeprecated in place', async () => {
    await updated({}, { DeprecateAfterSeconds: '3600' });
    expect(ec2Mock).toHaveReceivedCommandWith(DisableImageDeprecationCommand, { ImageId: IMAGE });
    expect(ec2Mock).not.toHaveReceivedCommand(EnableImageDeprecationCommand);
  });

  test('unchanged: nothing is called', async () => {
    await updated({ DeprecateAfterSeconds: '3600' }, { DeprecateAfterSeconds: '3600' });
    expect(ec2Mock).not.toHaveReceivedCommand(EnableImageDeprecationCommand);
  });

  test.each(['1.5', '-60', 'P1D'])('%s is not a whole number of seconds: one sentence', async (value) => {
    const err = await rejectionOf(created({ DeprecateAfterSeconds: value }));
    expect(err.message).toBe(`The resource property DeprecateAfterSeconds must be a whole number, got "${value}".`);
    expectOneLine(err);
  });

  test('together with DeprecateAt: one sentence', async () => {
    const err = await rejectionOf(created({ DeprecateAt: '2028-01-01T00:00:00.000Z', DeprecateAfterSeconds: '60' }));
    expect(err.message).toMatch(/has both DeprecateAt and DeprecateAfterSeconds; set at most one of them\.$/);
  });
});
