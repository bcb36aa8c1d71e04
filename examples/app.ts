/**
 * A realistic cdk-ami app: nginx is baked onto Amazon Linux 2023 by a builder
 * instance that BakedAmi starts, waits for, stops, images and terminates; the
 * image is copied (encrypted) to two more Regions, published to SSM and used
 * by a launch template. Synthesize it with `npx projen synth:example`.
 */
import { App, CfnOutput, Duration, RemovalPolicy, Stack, StackProps, Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { BakedAmi, InstanceAction } from '../src';

class GoldenImageStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    // One public subnet and no NAT gateway: the builder reaches dnf and the EC2 API directly.
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 1,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }],
    });

    const setup = ec2.UserData.forLinux();
    setup.addCommands(
      'set -euo pipefail',
      'dnf install -y nginx',
      'systemctl enable nginx',
      'echo "built by cdk-ami" > /usr/share/nginx/html/index.html',
    );
    const golden = new BakedAmi(this, 'GoldenImage', {
      machineImage: ec2.MachineImage.latestAmazonLinux2023(),
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      instanceType: new ec2.InstanceType('t3.small'),
      init: ec2.CloudFormationInit.fromElements(ec2.InitFile.fromString('/etc/motd', 'Baked by cdk-ami\n')),
      setup,
      setupTimeout: Duration.minutes(30),
      instanceAction: InstanceAction.TERMINATE,
      description: 'nginx on Amazon Linux 2023',
      timeout: Duration.hours(2),
      removalPolicy: RemovalPolicy.DESTROY,
      parameterName: '/golden/nginx/latest',
      tags: { role: 'web' },
    });
    Tags.of(this).add('project', 'cdk-ami-example');

    // Copies for the other Regions we serve; each has its own output with its ID.
    for (const region of ['eu-west-1', 'ap-southeast-2']) {
      const copy = golden.copyTo(`Copy-${region}`, region, { encrypted: true, removalPolicy: RemovalPolicy.DESTROY });
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
