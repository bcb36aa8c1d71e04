/**
 * Uploads a raw disk image as an asset, imports it bit for bit with
 * AmiFromDisks (ImportSnapshot, then RegisterImage as a UEFI image), and
 * asserts the image is `available` under its name.
 *
 * ImportSnapshot checks no operating system, so the committed placeholder
 * (1 MiB of zeros) imports and registers; an instance would not boot from it.
 * To deploy an image that boots, point CDK_AMI_INTEG_DISK at a raw image of,
 * for example, NixOS built for EC2, and run
 * `npx integ-runner --directory test --update-on-failed --no-update-workflow`.
 */
import * as path from 'node:path';
import { IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as assets from 'aws-cdk-lib/aws-s3-assets';
import { expectAvailable } from './integ-helpers';
import { AmiFromDisks, BootMode, DiskImageFormat, ImageArchitecture, ImportDisk } from '../src';

const app = new App();
const stack = new Stack(app, 'cdk-ami-integ-from-disks');
const disk = new assets.Asset(stack, 'Disk', {
  path: process.env.CDK_AMI_INTEG_DISK ?? path.join(__dirname, 'integ-assets', 'placeholder-disk.raw'),
});
const image = new AmiFromDisks(stack, 'FromDisks', {
  disks: [{ deviceName: '/dev/xvda', disk: ImportDisk.fromBucket(disk.bucket, disk.s3ObjectKey, DiskImageFormat.RAW) }],
  architecture: ImageArchitecture.X86_64,
  bootMode: BootMode.UEFI,
  imageName: 'cdk-ami-integ-from-disks',
  timeout: Duration.hours(2),
  removalPolicy: RemovalPolicy.DESTROY,
});

const integ = new IntegTest(app, 'AmiFromDisks', { testCases: [stack], regions: ['us-east-1'] });
expectAvailable(integ, image.imageId, { Name: 'cdk-ami-integ-from-disks' });
