import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AmiFromSnapshot, BootMode, ImageArchitecture, RestoredAmi } from '../src';
import { nagFindings, newStack, resourcesOfType, snapshotDevices } from './util';

function operationStatements(stack: Stack): any[] {
  return resourcesOfType(Template.fromStack(stack), 'AWS::IAM::Policy')
    .filter(([id]) => id.includes('OperationRole'))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
}

describe('AmiFromSnapshot', () => {
  test('registers the snapshots with explicit architecture and the documented defaults', () => {
    const stack = newStack();
    new AmiFromSnapshot(stack, 'Registered', {
      blockDevices: snapshotDevices('snap-0123456789abcdef0', 'snap-0123456789abcdef1'),
      architecture: ImageArchitecture.ARM64,
      bootMode: BootMode.UEFI,
      requireImdsv2: true,
      tpmSupport: true,
    });
    Template.fromStack(stack).hasResourceProperties('Custom::AmiFromSnapshot', {
      RootSnapshotId: 'snap-0123456789abcdef0',
      RootDeviceName: '/dev/xvda',
      DataVolumes: [{ DeviceName: '/dev/sdf', SnapshotId: 'snap-0123456789abcdef1' }],
      Architecture: 'arm64',
      BootMode: 'uefi',
      EnaSupport: true,
      ImdsSupport: 'v2.0',
      TpmSupport: 'v2.0',
      VolumeType: 'gp3',
    });
    const register = operationStatements(stack).find((s) => s.Sid === 'RegisterImageOfSourceSnapshots');
    expect(JSON.stringify(register.Resource)).toContain(':ec2:us-east-1::snapshot/snap-0123456789abcdef0');
    expect(JSON.stringify(register.Resource)).toContain(':ec2:us-east-1::snapshot/snap-0123456789abcdef1');
    expect(nagFindings(stack)).toEqual([]);
  });

  test('no silent i386: x86_64 by default', () => {
    const stack = newStack();
    new AmiFromSnapshot(stack, 'Registered', { blockDevices: snapshotDevices('snap-0123456789abcdef0') });
    Template.fromStack(stack).hasResourceProperties('Custom::AmiFromSnapshot', { Architecture: 'x86_64' });
  });

  test.each([
    [{ blockDevices: snapshotDevices('vol-0123') }, /blockDevices\[0\] snapshot "vol-0123" is not a snapshot ID: snapshot IDs look like snap-0123456789abcdef0/],
    [{ blockDevices: snapshotDevices('snap-0123456789abcdef0'), shareSnapshots: true }, /shareSnapshots is not available for AmiFromSnapshot/],
    [{ blockDevices: snapshotDevices('snap-0123456789abcdef0'), tpmSupport: true, bootMode: BootMode.LEGACY_BIOS }, /tpmSupport needs UEFI/],
  ])('%o is rejected at synth time', (props, message) => {
    expect(() => new AmiFromSnapshot(newStack(), 'Registered', props)).toThrow(message);
  });
});

test('RestoredAmi and AmiFromSnapshot template snapshot', () => {
  const stack = newStack();
  new RestoredAmi(stack, 'Restored', { bucket: s3.Bucket.fromBucketName(stack, 'Bucket', 'stored-amis'), objectKey: 'ami-0123456789abcdef0.bin' });
  new AmiFromSnapshot(stack, 'Registered', { blockDevices: snapshotDevices('snap-0123456789abcdef0'), architecture: ImageArchitecture.ARM64 });
  expect(Template.fromStack(stack).toJSON()).toMatchSnapshot();
});
