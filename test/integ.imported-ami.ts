/**
 * Uploads a raw disk image as an asset and imports it with ImportedAmi, under
 * a name (so the rename-by-copy path runs), then asserts the image is
 * `available`.
 *
 * VM Import needs a bootable disk with a supported operating system. The
 * committed placeholder (1 MiB of zeros) keeps the snapshot small and
 * deterministic; to deploy for real, point CDK_AMI_INTEG_DISK at a raw image of a
 * supported Linux and run `npx integ-runner --directory test --update-on-failed --no-update-workflow`.
 */
import * as path from 'node:path';
import { IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as assets from 'aws-cdk-lib/aws-s3-assets';
import { expectAvailable } from './integ-helpers';
import { DiskImageFormat, ImportDisk, ImportedAmi, ImportPlatform } from '../src';

const app = new App();
const stack = new Stack(app, 'cdk-ami-integ-imported');
const disk = new assets.Asset(stack, 'Disk', {
  path: process.env.CDK_AMI_INTEG_DISK ?? path.join(__dirname, 'integ-assets', 'placeholder-disk.raw'),
});
const image = new ImportedAmi(stack, 'Imported', {
  disks: [ImportDisk.fromBucket(disk.bucket, disk.s3ObjectKey, DiskImageFormat.RAW)],
  platform: ImportPlatform.LINUX,
  imageName: 'cdk-ami-integ-imported',
  timeout: Duration.hours(3),
  removalPolicy: RemovalPolicy.DESTROY,
});

const integ = new IntegTest(app, 'ImportedAmi', { testCases: [stack], regions: ['us-east-1'] });
expectAvailable(integ, image.imageId, { Name: 'cdk-ami-integ-imported' });
