import { App, Duration, Stack } from 'aws-cdk-lib';
import { AmiFromInstance } from '../src';
import { ENV } from './util';

const INSTANCE = 'i-0123456789abcdef0';

function stackWith(count: number, props: { timeout: Duration; output?: boolean }): App {
  const app = new App();
  const stack = new Stack(app, 'Images', { env: ENV });
  for (let i = 0; i < count; i++) new AmiFromInstance(stack, `Image${i}`, { instanceId: INSTANCE, ...props });
  return app;
}

describe('CloudFormation quotas', () => {
  test('images that push a stack past 500 resources fail synth naming the images and the fix', () => {
    // At 48 hours an image is 1 operation + 58 waiter links: 9 of them are 531 resources.
    const app = stackWith(9, { timeout: Duration.hours(48) });
    expect(() => app.synth()).toThrow(/Stack Images has 5\d\d resources \(CloudFormation allows 500\); its 9 cdk-ami images take 531 resources and 9 outputs: Images\/Image0 \(59 resources, 58 of them waiter links; 1 output\)/);
    expect(() => stackWith(9, { timeout: Duration.hours(48) }).synth()).toThrow(/and 4 more\. .*shorten timeouts, set output: false .* or spread the images over more stacks/);
  });

  test('more than 200 outputs fail synth too, and output: false is the way out', () => {
    // At 50 minutes an image is 2 resources and 1 output: 201 images fit the resource quota but not the output quota.
    expect(() => stackWith(201, { timeout: Duration.minutes(50) }).synth()).toThrow(/has 201 outputs \(CloudFormation allows 200\)/);
    expect(() => stackWith(201, { timeout: Duration.minutes(50), output: false }).synth()).not.toThrow();
  });

  test('a stack within the quotas synthesizes as before', () => {
    expect(() => stackWith(8, { timeout: Duration.hours(6) }).synth()).not.toThrow();
  });
});
