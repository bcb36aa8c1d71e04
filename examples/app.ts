/**
 * A realistic cdk-ami app: a builder instance is configured by its user data,
 * imaged once it has run, stopped to save money; the image is copied
 * (encrypted) to two more Regions, published to SSM and used by a launch
 * template. Synthesize it with `npx projen synth:example`.
 */
import { App, CfnOutput, Duration, RemovalPolicy, Stack, StackProps, Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { AmiFromInstance, InstanceAction } from '../src';

class GoldenImageStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 1,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }],
    });

    const userData = ec2.UserData.forLinux();
    userData.addCommands(
      'dnf install -y nginx',
      'systemctl enable nginx',
      'echo "built by cdk-ami" > /usr/share/nginx/html/index.html',
    );
    const builder = new ec2.Instance(this, 'Builder', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      instanceType: new ec2.InstanceType('t3.small'),
      machineImage: ec2.MachineImage.latestAmazonLinux2023(),
      userData,
      requireImdsv2: true,
    });

    const golden = new AmiFromInstance(this, 'GoldenImage', {
      instance: builder,
      description: 'nginx on Amazon Linux 2023',
      instanceAction: InstanceAction.STOP,
      timeout: Duration.hours(2),
      removalPolicy: RemovalPolicy.DESTROY,
      parameterName: '/golden/nginx/latest',
      tags: { role: 'web' },
    });
    Tags.of(this).add('project', 'cdk-ami-example');

    // Copies for the other Regions we serve; each has its own output with its ID.
    for (const region of ['eu-west-1', 'ap-southeast-2']) {
      const copy = golden.copyTo(region, { encrypted: true, removalPolicy: RemovalPolicy.DESTROY });
      new CfnOutput(this, `GoldenImageName-${region}`, { value: copy.imageName ?? '', description: `AMI name in ${region}` });
    }

    new ec2.LaunchTemplate(this, 'WebServers', {
      machineImage: golden,
      instanceType: new ec2.InstanceType('t3.micro'),
      requireImdsv2: true,
    });
  }
}

const app = new App();
new GoldenImageStack(app, 'CdkAmiExample');
app.synth();
