/**
 * Registers an image from an EBS snapshot with AmiFromSnapshot and asserts it
 * is `available` with the requested architecture and boot settings.
 *
 * CloudFormation cannot create a snapshot, so the snapshot comes from
 * CDK_AMI_INTEG_SNAPSHOT: the root-volume snapshot of a bootable x86_64 Linux
 * (for example one of an AMI's own snapshots) in us-east-1. The committed
 * snapshot is synthesized with a placeholder ID; deploy with
 * `CDK_AMI_INTEG_SNAPSHOT=snap-... npx integ-runner --directory test --update-on-failed --no-update-workflow`.
 */
import { IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { expectAvailable } from './integ-helpers';
import { AmiFromSnapshot, BootMode, ImageArchitecture } from '../src';

const app = new App();
const stack = new Stack(app, 'cdk-ami-integ-from-snapshot');
const image = new AmiFromSnapshot(stack, 'Registered', {
  blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebsFromSnapshot(process.env.CDK_AMI_INTEG_SNAPSHOT ?? 'snap-0123456789abcdef0') }],
  architecture: ImageArchitecture.X86_64,
  bootMode: BootMode.UEFI_PREFERRED,
  requireImdsv2: true,
  removalPolicy: RemovalPolicy.DESTROY,
});

const integ = new IntegTest(app, 'AmiFromSnapshot', { testCases: [stack], regions: ['us-east-1'] });
expectAvailable(integ, image.imageId, { Architecture: 'x86_64', ImdsSupport: 'v2.0' });
