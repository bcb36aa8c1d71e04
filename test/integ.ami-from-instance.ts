/**
 * Deploys a builder instance, images it with AmiFromInstance, and asserts that
 * the image is `available` and that an instance launches from it. Deploy with
 * credentials: `npx integ-runner --directory test --update-on-failed --no-update-workflow`; without
 * them the test command verifies the committed snapshot.
 */
import { IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Stack } from 'aws-cdk-lib';
import { expectAvailable, HAS_INTEG_TAGS, imageOfBuilder, INTEG_TAGS, publicVpc, smallInstance } from './integ-helpers';

const app = new App();
const stack = new Stack(app, 'cdk-ami-integ-from-instance');

const vpc = publicVpc(stack);
const builder = smallInstance(stack, 'Builder', vpc);
const image = imageOfBuilder(stack, 'Image', builder, { tags: INTEG_TAGS });
smallInstance(stack, 'FromImage', vpc, image);

const integ = new IntegTest(app, 'AmiFromInstance', { testCases: [stack], regions: ['us-east-1'] });
expectAvailable(integ, image.imageId, { Tags: HAS_INTEG_TAGS });
