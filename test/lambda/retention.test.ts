/**
 * Custom::AmiRetention: the sweep after a hand-over (keep the current and
 * previous generations and the policy's, retire the others unless in use),
 * nothing in a rollback, failures logged and never thrown, and the Delete
 * under RETAIN and DESTROY.
 */
import {
  CreateTagsCommand, DeleteTagsCommand, DeregisterImageCommand, DescribeImageReferencesCommand, DescribeImagesCommand, DescribeSnapshotsCommand,
  DisableImageCommand, EnableImageDeprecationCommand, Image,
} from '@aws-sdk/client-ec2';
import 'aws-sdk-client-mock-jest';
import {
  REGION, STACK_ID, awsError, captureLogs, createEvent, deleteEvent, hash, mockedClients, ownershipTagsFor, updateEvent,
} from './helpers';
import { onEvent } from '../../lambda/index';

const RETENTION = 'Custom::AmiRetention';
const OPERATION = 'GoldenResource';
const OWNER = hash(`${STACK_ID}/${OPERATION}`);
const PHYSICAL_ID = `retention-${OWNER}`;
const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);
const DAY = 24 * 3600 * 1000;

const { ec2Mock, stackIs } = mockedClients();
const logs = captureLogs();

/** A generation of the operation, `daysOld` days old; ami-0…0N. */
function generation(n: number, daysOld: number, overrides: Partial<Image> = {}): Image {
  return {
    ImageId: `ami-${String(n).padStart(17, '0')}`,
    State: 'available',
    CreationDate: new Date(NOW - daysOld * DAY).toISOString(),
    BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: `snap-${n}` } }],
    Tags: ownershipTagsFor(`request-${n}`, OPERATION),
    ...overrides,
  };
}

const id = (n: number) => `ami-${String(n).padStart(17, '0')}`;

function props(overrides: Record<string, unknown> = {}) {
  return { Region: REGION, ImageId: id(5), OperationLogicalId: OPERATION, KeepCount: '2', Action: 'deregister', RemovalPolicy: 'retain', ...overrides };
}

/** Five generations, 1 the oldest (50 days) to 5 the newest (10 days). */
function fiveGenerations(overrides: (n: number) => Partial<Image> = () => ({})): Image[] {
  return [1, 2, 3, 4, 5].map((n) => generation(n, 60 - n * 10, overrides(n)));
}

function found(images: Image[]) {
  ec2Mock.on(DescribeImagesCommand).resolves({ Images: images });
}

function deregistered(): string[] {
  return ec2Mock.commandCalls(DeregisterImageCommand).map((c) => c.args[0].input.ImageId!);
}

function marked(): string[] {
  return ec2Mock.commandCalls(CreateTagsCommand).flatMap((c) => c.args[0].input.Resources!);
}

beforeEach(() => {
  jest.spyOn(Date, 'now').mockReturnValue(NOW);
  stackIs('UPDATE_IN_PROGRESS');
  ec2Mock.on(DescribeImageReferencesCommand).resolves({ ImageReferences: [] });
  ec2Mock.on(DeregisterImageCommand).resolves({ Return: true, DeleteSnapshotResults: [] });
  ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
});

test('it finds the generations by the operation\'s owner and the stack tag, disabled and deprecated ones included', async () => {
  found([]);
  await onEvent(createEvent(RETENTION, props()));
  expect(ec2Mock).toHaveReceivedCommandWith(DescribeImagesCommand, {
    Owners: ['self'],
    IncludeDisabled: true,
    IncludeDeprecated: true,
    Filters: [{ Name: 'tag:cdk-ami:owner', Values: [OWNER] }, { Name: 'tag:cdk-ami:stack', Values: [STACK_ID] }],
  });
});

test('keep(2) after a replacement: the newest two stay (marked), the older three are deregistered with their snapshots', async () => {
  found(fiveGenerations());
  const out = await onEvent(updateEvent(RETENTION, PHYSICAL_ID, props(), props({ ImageId: id(4) })));
  expect(out).toEqual({ PhysicalResourceId: PHYSICAL_ID, Data: { Retired: [id(3), id(2), id(1)].join(','), Kept: [id(5), id(4)].join(',') } });
  expect(deregistered().sort()).toEqual([id(1), id(2), id(3)]);
  expect(ec2Mock).toHaveReceivedCommandWith(DeregisterImageCommand, { ImageId: id(1), DeleteAssociatedSnapshots: true });
  expect(marked().sort()).toEqual([id(4), id(5)]);
  expect(ec2Mock).toHaveReceivedCommandWith(CreateTagsCommand, { Resources: [id(5)], Tags: [{ Key: 'cdk-ami:retained', Value: 'true' }] });
});

test('the previous generation (the rollback target) is kept whatever the count: keep(1) keeps two', async () => {
  found(fiveGenerations());
  const out = await onEvent(updateEvent(RETENTION, PHYSICAL_ID, props({ KeepCount: '1' }), props({ ImageId: id(3), KeepCount: '1' })));
  // 3 is the image a rollback of this deployment returns to, though 4 is newer.
  expect(out.Data).toEqual({ Retired: [id(4), id(2), id(1)].join(','), Kept: [id(5), id(3)].join(',') });
});

test('on a Create the newest earlier generation stands for the previous one', async () => {
  found(fiveGenerations());
  const out = await onEvent(createEvent(RETENTION, props({ KeepCount: '1' })));
  expect(out).toEqual({ PhysicalResourceId: PHYSICAL_ID, Data: { Retired: [id(3), id(2), id(1)].join(','), Kept: [id(5), id(4)].join(',') } });
});

test('keepFor keeps the generations younger than the age, by CreationDate', async () => {
  found(fiveGenerations());
  // 25 days: generations 4 (20 days) and 5 (10 days).
  const out = await onEvent(updateEvent(RETENTION, PHYSICAL_ID, props({ KeepCount: undefined, KeepForSeconds: String(25 * 24 * 3600) }), props()));
  expect(out.Data).toEqual({ Retired: [id(3), id(2), id(1)].join(','), Kept: [id(5), id(4)].join(',') });
});

test('a generation in use is kept, marked and logged with its users; the others go', async () => {
  found(fiveGenerations());
  const instance = 'arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0';
  ec2Mock.on(DescribeImageReferencesCommand, { ImageIds: [id(2)] }).resolves({ ImageReferences: [{ ImageId: id(2), ResourceType: 'ec2:Instance', Arn: instance }] });
  const out = await onEvent(updateEvent(RETENTION, PHYSICAL_ID, props(), props({ ImageId: id(4) })));
  expect(out.Data).toEqual({ Retired: [id(3), id(1)].join(','), Kept: [id(5), id(4), id(2)].join(',') });
  expect(deregistered()).not.toContain(id(2));
  expect(marked()).toContain(id(2));
  expect(logs.find(`kept: in use by ${instance}`)).toEqual([expect.objectContaining({ imageId: id(2), users: [instance] })]);
  expect(ec2Mock).toHaveReceivedCommandWith(DescribeImageReferencesCommand, {
    ImageIds: [id(2)], ResourceTypes: [{ ResourceType: 'ec2:Instance' }, { ResourceType: 'ec2:LaunchTemplate' }],
  });
});

test('DEPRECATE deprecates at the earliest time EC2 accepts, skips one already deprecated, and does not ask about references', async () => {
  found(fiveGenerations((n) => (n === 1 ? { DeprecationTime: '2026-01-01T00:00:00.000Z' } : {})));
  const out = await onEvent(updateEvent(RETENTION, PHYSICAL_ID, props({ Action: 'deprecate' }), props({ ImageId: id(4), Action: 'deprecate' })));
  expect(out.Data).toEqual({ Retired: [id(3), id(2), id(1)].join(','), Kept: [id(5), id(4)].join(',') });
  const deprecated = ec2Mock.commandCalls(EnableImageDeprecationCommand).map((c) => c.args[0].input);
  expect(deprecated.map((i) => i.ImageId).sort()).toEqual([id(2), id(3)]);
  // The first whole minute at least a minute from now.
  expect(deprecated[0].DeprecateAt).toEqual(new Date(NOW + 60_000));
  expect(ec2Mock).not.toHaveReceivedCommand(DescribeImageReferencesCommand);
  expect(ec2Mock).not.toHaveReceivedCommand(DeregisterImageCommand);
});

test('DISABLE disables the unused ones, skips one already disabled, and unmarks what it retires', async () => {
  found(fiveGenerations((n) => ({
    ...(n === 1 ? { State: 'disabled' as const } : {}),
    ...(n === 3 ? { Tags: [...ownershipTagsFor('request-3', OPERATION), { Key: 'cdk-ami:retained', Value: 'true' }] } : {}),
  })));
  const out = await onEvent(updateEvent(RETENTION, PHYSICAL_ID, props({ Action: 'disable' }), props({ ImageId: id(4), Action: 'disable' })));
  expect(out.Data).toEqual({ Retired: [id(3), id(2), id(1)].join(','), Kept: [id(5), id(4)].join(',') });
  expect(ec2Mock.commandCalls(DisableImageCommand).map((c) => c.args[0].input.ImageId).sort()).toEqual([id(2), id(3)]);
  expect(ec2Mock).toHaveReceivedCommandWith(DeleteTagsCommand, { Resources: [id(3)], Tags: [{ Key: 'cdk-ami:retained' }] });
  expect(ec2Mock).not.toHaveReceivedCommand(DeregisterImageCommand);
});

test('a generation of another owner, or one still pending, is never touched', async () => {
  const foreign = generation(1, 50, { Tags: ownershipTagsFor('request-1', 'OtherResource') });
  found([foreign, generation(2, 40, { State: 'pending' }), generation(5, 10)]);
  const out = await onEvent(updateEvent(RETENTION, PHYSICAL_ID, props({ KeepCount: '1' }), props({ KeepCount: '1' })));
  expect(out.Data).toEqual({ Retired: '', Kept: id(5) });
  expect(deregistered()).toEqual([]);
});

test('a rollback Update does nothing', async () => {
  found(fiveGenerations());
  stackIs('UPDATE_ROLLBACK_IN_PROGRESS');
  const out = await onEvent(updateEvent(RETENTION, PHYSICAL_ID, props({ ImageId: id(4) }), props()));
  expect(out).toEqual({ PhysicalResourceId: PHYSICAL_ID, Data: { Retired: '', Kept: '' } });
  expect(ec2Mock).not.toHaveReceivedCommand(DescribeImagesCommand);
  expect(ec2Mock).not.toHaveReceivedCommand(DeregisterImageCommand);
});

describe('failures are logged, never thrown', () => {
  test('a failed deregistration (protection) keeps the generation and names it', async () => {
    found(fiveGenerations());
    ec2Mock.on(DeregisterImageCommand, { ImageId: id(1) }).rejects(awsError('OperationNotPermitted', 'Deregistration protection is enabled'));
    const out = await onEvent(updateEvent(RETENTION, PHYSICAL_ID, props(), props({ ImageId: id(4) })));
    expect(out.Data).toEqual({ Retired: [id(3), id(2)].join(','), Kept: [id(5), id(4), id(1)].join(',') });
    expect(logs.lines().filter((l) => l.level === 'warn' && l.imageId === id(1))).toEqual([
      expect.objectContaining({ message: expect.stringContaining('kept: retiring it failed (Cannot delete image') }),
    ]);
  });

  test('a failed reference check keeps the generation', async () => {
    found(fiveGenerations());
    ec2Mock.on(DescribeImageReferencesCommand).rejects(awsError('UnauthorizedOperation'));
    const out = await onEvent(updateEvent(RETENTION, PHYSICAL_ID, props(), props({ ImageId: id(4) })));
    expect(out.Data).toEqual({ Retired: '', Kept: [id(5), id(4), id(3), id(2), id(1)].join(',') });
    expect(deregistered()).toEqual([]);
  });

  test('a failed listing skips the sweep', async () => {
    ec2Mock.on(DescribeImagesCommand).rejects(awsError('RequestLimitExceeded'));
    const out = await onEvent(updateEvent(RETENTION, PHYSICAL_ID, props(), props({ ImageId: id(4) })));
    expect(out.Data).toEqual({ Retired: '', Kept: '' });
    expect(logs.lines().find((l) => l.level === 'warn')?.message).toContain('retention sweep skipped');
  });

  test('a failed mark is logged and the sweep goes on', async () => {
    found(fiveGenerations());
    ec2Mock.on(CreateTagsCommand).rejects(awsError('UnauthorizedOperation'));
    const out = await onEvent(updateEvent(RETENTION, PHYSICAL_ID, props(), props({ ImageId: id(4) })));
    expect(out.Data).toEqual({ Retired: [id(3), id(2), id(1)].join(','), Kept: [id(5), id(4)].join(',') });
    expect(logs.lines().filter((l) => l.message.startsWith('could not mark'))).toHaveLength(2);
  });
});

describe('Delete', () => {
  const retainedTag = { Key: 'cdk-ami:retained', Value: 'true' };
  const withMark = (n: number) => ({ Tags: [...ownershipTagsFor(`request-${n}`, OPERATION), retainedTag] });

  test('under RETAIN every generation stays and loses its mark', async () => {
    found(fiveGenerations((n) => (n >= 4 ? withMark(n) : {})));
    stackIs('DELETE_IN_PROGRESS');
    await expect(onEvent(deleteEvent(RETENTION, PHYSICAL_ID, props()))).resolves.toEqual({ PhysicalResourceId: PHYSICAL_ID });
    expect(deregistered()).toEqual([]);
    expect(ec2Mock.commandCalls(DeleteTagsCommand).map((c) => c.args[0].input.Resources![0]).sort()).toEqual([id(4), id(5)]);
  });

  test('under DESTROY every generation but the current one (the operation\'s own Delete follows) is deregistered', async () => {
    found(fiveGenerations((n) => (n >= 4 ? withMark(n) : {})));
    stackIs('DELETE_IN_PROGRESS');
    await onEvent(deleteEvent(RETENTION, PHYSICAL_ID, props({ RemovalPolicy: 'destroy' })));
    expect(deregistered().sort()).toEqual([id(1), id(2), id(3), id(4)]);
    expect(ec2Mock).toHaveReceivedCommandWith(DeleteTagsCommand, { Resources: [id(5)], Tags: [{ Key: 'cdk-ami:retained' }] });
  });

  test('under DESTROY a generation newer than its ImageId (a replacement in the same deployment) stays', async () => {
    found(fiveGenerations());
    stackIs('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
    await onEvent(deleteEvent(RETENTION, PHYSICAL_ID, props({ ImageId: id(4), RemovalPolicy: 'destroy' })));
    expect(deregistered().sort()).toEqual([id(1), id(2), id(3)]);
  });

  test('in a rollback nothing is deregistered, whatever the policy', async () => {
    found(fiveGenerations((n) => (n >= 4 ? withMark(n) : {})));
    stackIs('ROLLBACK_IN_PROGRESS');
    await onEvent(deleteEvent(RETENTION, PHYSICAL_ID, props({ RemovalPolicy: 'destroy' })));
    expect(deregistered()).toEqual([]);
    expect(ec2Mock).toHaveReceivedCommandTimes(DeleteTagsCommand, 2);
  });

  test('a failed deregistration under DESTROY is logged and the delete succeeds', async () => {
    found(fiveGenerations());
    stackIs('DELETE_IN_PROGRESS');
    ec2Mock.on(DeregisterImageCommand).rejects(awsError('OperationNotPermitted'));
    await expect(onEvent(deleteEvent(RETENTION, PHYSICAL_ID, props({ RemovalPolicy: 'destroy' })))).resolves.toEqual({ PhysicalResourceId: PHYSICAL_ID });
    expect(logs.lines().filter((l) => l.level === 'warn' && String(l.message).startsWith('generation left in place'))).toHaveLength(4);
  });
});
