import { Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Ami, AmiFromInstance, AmiFromSnapshot, CopiedAmi, ImportDisk, ImportedAmi, LaunchPermission, RestoredAmi } from '../src';
import { lastWaiter, newStack, operationOf, resourcesOfType, snapshotDevices, statementsOf } from './util';

const INSTANCE = 'i-0123456789abcdef0';
const SNAPSHOT = 'snap-0123456789abcdef0';

describe('requireImdsv2 on every image kind', () => {
  const kinds: [string, string, (stack: Stack) => void][] = [
    ['AmiFromInstance', 'Custom::AmiFromInstance', (s) => new AmiFromInstance(s, 'Image', { instanceId: INSTANCE, requireImdsv2: true })],
    ['AmiFromSnapshot', 'Custom::AmiFromSnapshot', (s) => new AmiFromSnapshot(s, 'Image', { blockDevices: snapshotDevices(SNAPSHOT), requireImdsv2: true })],
    ['CopiedAmi', 'Custom::CopiedAmi', (s) => new CopiedAmi(s, 'Image', {
      source: Ami.fromImageId(s, 'Source', 'ami-0123456789abcdef0', 'eu-west-1'), requireImdsv2: true,
    })],
    ['RestoredAmi', 'Custom::RestoredAmi', (s) => new RestoredAmi(s, 'Image', {
      bucket: s3.Bucket.fromBucketName(s, 'Bucket', 'amis'), objectKey: 'ami-0123456789abcdef0.bin', requireImdsv2: true,
    })],
    ['ImportedAmi', 'Custom::ImportedAmi', (s) => new ImportedAmi(s, 'Image', {
      disks: [ImportDisk.fromSnapshot(SNAPSHOT)], requireImdsv2: true,
    })],
  ];

  test.each(kinds)('%s: an input of the image (a change replaces it) and set by the last waiter link', (_kind, type, build) => {
    const stack = newStack();
    build(stack);
    expect(operationOf(stack, type).ImdsSupport).toBe('v2.0');
    expect(lastWaiter(stack).ImdsSupport).toBe('v2.0');
  });

  test('off by default: nothing rendered', () => {
    const stack = newStack();
    new AmiFromInstance(stack, 'Image', { instanceId: INSTANCE });
    expect(operationOf(stack, 'Custom::AmiFromInstance').ImdsSupport).toBeUndefined();
    expect(lastWaiter(stack).ImdsSupport).toBeUndefined();
  });
});

describe('disableAt', () => {
  test('a time that has passed is carried by the last waiter link, which may disable and enable the image', () => {
    const stack = newStack();
    new AmiFromInstance(stack, 'Image', { instanceId: INSTANCE, disableAt: new Date('2020-01-02T03:04:05Z') });
    expect(lastWaiter(stack).DisableAt).toBe('2020-01-02T03:04:05.000Z');
    // Not an input of the image: disabling never replaces it.
    expect(operationOf(stack, 'Custom::AmiFromInstance').DisableAt).toBeUndefined();
    const waiterActions = statementsOf(stack, 'WaiterRole').flatMap((s) => [s.Action].flat());
    expect(waiterActions).toEqual(expect.arrayContaining(['ec2:DisableImage', 'ec2:EnableImage']));
    const governed = statementsOf(stack, 'WaiterRole').find((s) => [s.Action].flat().includes('ec2:DisableImage'));
    expect(governed.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/cdk-ami:stack': { Ref: 'AWS::StackId' } } });
  });

  test('a time still ahead renders nothing yet and says when the image will be disabled', () => {
    const stack = newStack();
    new AmiFromInstance(stack, 'Image', { instanceId: INSTANCE, disableAt: new Date('2099-01-01T00:00:00Z') });
    expect(lastWaiter(stack).DisableAt).toBeUndefined();
    Annotations.fromStack(stack).hasInfo('/TestStack/Image', Match.stringLikeRegexp('disableAt 2099-01-01T00:00:00.000Z is in the future: EC2 cannot schedule disabling'));
  });

  test('sharing a disabled image warns that EC2 removes the launch permissions', () => {
    const stack = newStack();
    const image = new AmiFromInstance(stack, 'Image', {
      instanceId: INSTANCE, disableAt: new Date('2020-01-01T00:00:00Z'), dangerouslyMakePublic: true,
    });
    image.addLaunchPermission(LaunchPermission.account('111122223333'));
    const warnings = Annotations.fromStack(stack).findWarning('/TestStack/Image', Match.anyValue()).map((w) => String(w.entry.data));
    expect(warnings).toEqual(expect.arrayContaining([
      expect.stringContaining('dangerouslyMakePublic has no effect while the image is disabled'),
      expect.stringContaining('The launch permission for 111122223333 has no effect while the image is disabled'),
    ]));
  });

  test('an invalid date fails synth', () => {
    expect(() => new AmiFromInstance(newStack(), 'Image', { instanceId: INSTANCE, disableAt: new Date('not a date') }))
      .toThrow('disableAt is not a valid date.');
  });
});

describe('snapshotTags', () => {
  test('rendered sorted on the operation resource; only the snapshots get them', () => {
    const stack = newStack();
    new AmiFromInstance(stack, 'Image', { instanceId: INSTANCE, tags: { team: 'infra' }, snapshotTags: { tier: 'snap', backup: 'daily' } });
    const props = operationOf(stack, 'Custom::AmiFromInstance');
    expect(props.SnapshotTags).toEqual([{ Key: 'backup', Value: 'daily' }, { Key: 'tier', Value: 'snap' }]);
    expect(props.Tags).toEqual([{ Key: 'team', Value: 'infra' }]);
  });

  test('an import passes them to every link of stage 2, which tags what VM Import made', () => {
    const stack = newStack();
    new ImportedAmi(stack, 'Image', { disks: [ImportDisk.fromSnapshot(SNAPSHOT)], snapshotTags: { backup: 'daily' } });
    const waiters = resourcesOfType(Template.fromStack(stack), 'Custom::AmiWaiter');
    const stage2 = waiters.filter(([, w]) => w.Properties.ImportTaskId !== undefined);
    expect(stage2).toHaveLength(1);
    for (const [, waiter] of stage2) expect(waiter.Properties.SnapshotTags).toEqual([{ Key: 'backup', Value: 'daily' }]);
  });

  test('reserved keys are refused as for tags', () => {
    expect(() => new AmiFromInstance(newStack(), 'Image', { instanceId: INSTANCE, snapshotTags: { 'cdk-ami:owner': 'x' } }))
      .toThrow('Tag key "cdk-ami:owner" is reserved');
  });

  test('AmiFromSnapshot refuses them: the snapshots are the user\'s', () => {
    expect(() => new AmiFromSnapshot(newStack(), 'Image', { blockDevices: snapshotDevices(SNAPSHOT), snapshotTags: { backup: 'daily' } }))
      .toThrow('snapshotTags is not available for AmiFromSnapshot: the snapshots are yours and cdk-ami never tags them; tag them directly.');
  });
});

test('the operation role may read image references before a DESTROY, and only read them', () => {
  const stack = newStack();
  new AmiFromInstance(stack, 'Image', { instanceId: INSTANCE });
  const statement = statementsOf(stack, 'OperationRole').find((s) => [s.Action].flat().includes('ec2:DescribeImageReferences'));
  expect(statement).toMatchObject({ Effect: 'Allow', Resource: '*' });
  expect([statement.Action].flat().every((a: string) => a.startsWith('ec2:Describe'))).toBe(true);
});
