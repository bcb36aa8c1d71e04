import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AmiFromInstance } from '../src';
import { ENV } from './util';

const INSTANCE = 'i-0123456789abcdef0';

function twoStacks(): { app: App; images: Stack; consumers: Stack; image: AmiFromInstance; vpc: ec2.IVpc } {
  const app = new App();
  const images = new Stack(app, 'Images', { env: ENV });
  const consumers = new Stack(app, 'Consumers', { env: ENV });
  const image = new AmiFromInstance(images, 'Golden', { instanceId: INSTANCE, parameterName: '/images/golden' });
  const vpc = new ec2.Vpc(consumers, 'Vpc', { natGateways: 0 });
  return { app, images, consumers, image, vpc };
}

function json(stack: Stack): string {
  return JSON.stringify(Template.fromStack(stack).toJSON());
}

describe('using an image in another stack', () => {
  test('through its SSM parameter: no export, so the image can be replaced while the other stack uses it', () => {
    const { images, consumers, vpc } = twoStacks();
    consumers.addDependency(images);
    new ec2.Instance(consumers, 'Server', {
      vpc,
      instanceType: new ec2.InstanceType('t3.micro'),
      machineImage: ec2.MachineImage.fromSsmParameter('/images/golden'),
    });
    expect(json(images)).not.toContain('Export');
    expect(json(consumers)).not.toContain('Fn::ImportValue');
    // The instance reads the parameter at deploy time, as EC2 resolves aws:ec2:image parameters.
    const parameters = Template.fromStack(consumers).toJSON().Parameters;
    expect(Object.values(parameters)).toContainEqual(expect.objectContaining({
      Type: 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>', Default: '/images/golden',
    }));
    Template.fromStack(images).hasResourceProperties('AWS::SSM::Parameter', { Name: '/images/golden', DataType: 'aws:ec2:image' });
  });

  test('through imageId directly: a strong export, which blocks replacing the image (why the README recommends the parameter)', () => {
    const { images, consumers, image, vpc } = twoStacks();
    new ec2.Instance(consumers, 'Server', { vpc, instanceType: new ec2.InstanceType('t3.micro'), machineImage: image });
    expect(json(images)).toContain('"Export"');
    expect(json(consumers)).toContain('Fn::ImportValue');
  });
});
