import { CfnParameter, Duration, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AmiFromInstance, InstanceAction } from '../src';
import { nagFindings, newStack, resourcesOfType } from './util';

const INSTANCE = 'i-0123456789abcdef0';

function imageStack(props: Partial<ConstructorParameters<typeof AmiFromInstance>[2]> = {}): { stack: Stack; image: AmiFromInstance } {
  const stack = newStack();
  const image = new AmiFromInstance(stack, 'Image', { instanceId: INSTANCE, ...props });
  return { stack, image };
}

describe('AmiFromInstance resources', () => {
  test('one operation resource with the instance, and waiters chained to it', () => {
    const { stack } = imageStack({ imageName: 'golden-1', description: 'Golden image', noReboot: true });
    const template = Template.fromStack(stack);
    template.resourceCountIs('Custom::AmiFromInstance', 1);
    template.hasResource('Custom::AmiFromInstance', {
      Properties: {
        Region: 'us-east-1',
        InstanceId: INSTANCE,
        ImageName: 'golden-1',
        NamePrefix: 'TestStack/Image',
        Description: 'Golden image',
        NoReboot: true,
        IncludeDataVolumes: true,
        RemovalPolicy: 'retain',
      },
      // The handler applies the removal policy, so CloudFormation must always send the Delete.
      DeletionPolicy: 'Delete',
    });
  });

  test('the default one-hour timeout is two waiter links of 30 minutes, the second fed by the first', () => {
    const { stack } = imageStack();
    const template = Template.fromStack(stack);
    const waiters = resourcesOfType(template, 'Custom::AmiWaiter');
    expect(waiters).toHaveLength(2);
    const [first, second] = waiters.sort(([, a], [, b]) => a.Properties.Link - b.Properties.Link);
    const operationId = resourcesOfType(template, 'Custom::AmiFromInstance')[0][0];
    expect(first[1].Properties).toMatchObject({ ImageId: { Ref: operationId }, Link: 1, Links: 2, BudgetSeconds: 1800, TimeoutSeconds: 3600 });
    expect(second[1].Properties).toMatchObject({ ImageId: { 'Fn::GetAtt': [first[0], 'ImageId'] }, Link: 2, Links: 2, BudgetSeconds: 1800 });
  });

  test.each([
    [Duration.minutes(10), 1, 600],
    [Duration.minutes(50), 1, 3000],
    [Duration.minutes(51), 2, 1530],
    [Duration.hours(48), 58, 2980],
  ])('timeout %s gives %i link(s) of %i s, each at most 50 minutes', (timeout, links, budget) => {
    const { stack } = imageStack({ timeout });
    const waiters = resourcesOfType(Template.fromStack(stack), 'Custom::AmiWaiter');
    expect(waiters).toHaveLength(links);
    for (const [, w] of waiters) {
      expect(w.Properties.BudgetSeconds).toBe(budget);
      expect(w.Properties.BudgetSeconds).toBeLessThanOrEqual(3000);
    }
  });

  test('imageId comes from the last waiter, so consumers wait for availability without addDependency', () => {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PUBLIC }] });
    const image = new AmiFromInstance(stack, 'Image', { instanceId: INSTANCE });
    new ec2.Instance(stack, 'Consumer', { vpc, instanceType: new ec2.InstanceType('t3.micro'), machineImage: image });
    const template = Template.fromStack(stack);
    const last = resourcesOfType(template, 'Custom::AmiWaiter').find(([, w]) => w.Properties.Link === 2)!;
    template.hasResourceProperties('AWS::EC2::Instance', { ImageId: { 'Fn::GetAtt': [last[0], 'ImageId'] } });
    template.hasOutput('*', { Value: { 'Fn::GetAtt': [last[0], 'ImageId'] } });
    expect(stack.resolve(image.getImage(stack).osType)).toBe(ec2.OperatingSystemType.LINUX);
  });

  test('an ec2.Instance as source is referenced, not copied', () => {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PUBLIC }] });
    const builder = new ec2.Instance(stack, 'Builder', {
      vpc, instanceType: new ec2.InstanceType('t3.micro'), machineImage: ec2.MachineImage.latestAmazonLinux2023(),
    });
    new AmiFromInstance(stack, 'Image', { instance: builder, includeDataVolumes: false, instanceAction: InstanceAction.TERMINATE });
    const template = Template.fromStack(stack);
    const builderId = stack.getLogicalId(builder.node.defaultChild as ec2.CfnInstance);
    template.hasResourceProperties('Custom::AmiFromInstance', { InstanceId: { Ref: builderId }, IncludeDataVolumes: false });
    // Only the last link acts on the instance, once the image is available.
    template.hasResourceProperties('Custom::AmiWaiter', { Link: 2, InstanceAction: 'terminate', InstanceId: { Ref: builderId } });
    template.hasResourceProperties('Custom::AmiWaiter', { Link: 1, InstanceAction: Match.absent() });
  });

  describe('an ec2.Instance of the app whose user data changes', () => {
    const imageOf = (instanceProps: Partial<ec2.InstanceProps>) => {
      const stack = newStack();
      const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PUBLIC }] });
      const userData = ec2.UserData.forLinux();
      userData.addCommands('dnf install -y nginx');
      const web = new ec2.Instance(stack, 'Web', {
        vpc, instanceType: new ec2.InstanceType('t3.micro'), machineImage: ec2.MachineImage.latestAmazonLinux2023(), userData, ...instanceProps,
      });
      new AmiFromInstance(stack, 'Image', { instance: web });
      return Annotations.fromStack(stack);
    };
    const WARNING = Match.stringLikeRegexp('^TestStack/Web has no userDataCausesReplacement: a change to its user data updates the instance in place, '
      + 'its ID stays the same, and this image is not made again\\. To image every change, set userDataCausesReplacement: true on the instance .*, or use BakedAmi');

    test('warns when the instance is updated in place (no userDataCausesReplacement)', () => {
      imageOf({}).hasWarning('/TestStack/Image', WARNING);
    });

    test('does not warn when a user data change replaces the instance', () => {
      imageOf({ userDataCausesReplacement: true }).hasNoWarning('/TestStack/Image', WARNING);
    });

    test('does not warn for an instance given by ID (cdk-ami cannot see how it is managed)', () => {
      const { stack } = imageStack();
      Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('userDataCausesReplacement'));
    });
  });

  test('tags from props and from Tags.of reach the image resource', () => {
    const { stack } = imageStack({ tags: { team: 'platform' } });
    Tags.of(stack).add('cost-center', '42');
    Template.fromStack(stack).hasResourceProperties('Custom::AmiFromInstance', {
      Tags: Match.arrayWith([{ Key: 'cost-center', Value: '42' }, { Key: 'team', Value: 'platform' }]),
    });
  });

  test('removal policy DESTROY is passed to the handler, also through applyRemovalPolicy', () => {
    const a = imageStack({ removalPolicy: RemovalPolicy.DESTROY });
    Template.fromStack(a.stack).hasResourceProperties('Custom::AmiFromInstance', { RemovalPolicy: 'destroy' });
    const b = imageStack();
    b.image.applyRemovalPolicy(RemovalPolicy.DESTROY);
    Template.fromStack(b.stack).hasResourceProperties('Custom::AmiFromInstance', { RemovalPolicy: 'destroy' });
  });

  test('output with an export name, or none', () => {
    const a = imageStack({ exportName: 'GoldenAmiId' });
    Template.fromStack(a.stack).hasOutput('*', { Export: { Name: 'GoldenAmiId' } });
    const b = imageStack({ output: false });
    expect(Object.keys(Template.fromStack(b.stack).findOutputs('*'))).toHaveLength(0);
  });

  test('parameterName publishes the ID as an aws:ec2:image SSM parameter', () => {
    const { stack } = imageStack({ parameterName: '/images/golden' });
    Template.fromStack(stack).hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/images/golden', Type: 'String', DataType: 'aws:ec2:image',
    });
  });
});

describe('one provider per stack', () => {
  test.each([1, 10])('%i images share the same six functions and one state machine', (count) => {
    const stack = newStack();
    for (let i = 0; i < count; i++) new AmiFromInstance(stack, `Image${i}`, { instanceId: `i-0123456789abcde${i.toString(16).padStart(2, '0')}` });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Lambda::Function', 6);
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    template.resourceCountIs('Custom::AmiFromInstance', count);
  });

  test('handlers run on a pinned Node.js runtime with JSON logs', () => {
    const { stack } = imageStack();
    const fns = resourcesOfType(Template.fromStack(stack), 'AWS::Lambda::Function')
      .filter(([, f]) => String(f.Properties.Handler).startsWith('index.'));
    expect(fns.map(([, f]) => f.Properties.Handler).sort()).toEqual(['index.isComplete', 'index.onEvent']);
    for (const [, f] of fns) {
      expect(f.Properties.Runtime).toBe('nodejs24.x');
      expect(f.Properties.LoggingConfig.LogFormat).toBe('JSON');
    }
  });
});

describe('least privilege', () => {
  function policyStatements(stack: Stack, roleFragment: string): any[] {
    const template = Template.fromStack(stack);
    return resourcesOfType(template, 'AWS::IAM::Policy')
      .filter(([id]) => id.includes(roleFragment))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
  }

  test('CreateImage only of the source instance; images and snapshots only when tagged with this stack', () => {
    const { stack } = imageStack();
    const statements = policyStatements(stack, 'OperationRole');
    const byAction = (action: string) => statements.filter((s) => [s.Action].flat().includes(action));
    const stackId = { Ref: 'AWS::StackId' };

    const createImage = byAction('ec2:CreateImage');
    expect(createImage).toHaveLength(2);
    const onInstances = createImage.find((s) => !s.Condition);
    expect(JSON.stringify(onInstances.Resource)).toContain(`:ec2:us-east-1:123456789012:instance/${INSTANCE}`);
    const onImages = createImage.find((s) => s.Condition);
    expect(onImages.Condition).toEqual({ StringEquals: { 'aws:RequestTag/cdk-ami:stack': stackId } });
    for (const action of ['ec2:DeregisterImage', 'ec2:DeleteSnapshot', 'ec2:ModifyImageAttribute', 'ec2:DeleteTags']) {
      const found = byAction(action);
      expect(found.length).toBeGreaterThan(0);
      for (const s of found) expect(s.Condition.StringEquals['aws:ResourceTag/cdk-ami:stack']).toEqual(stackId);
    }
    expect(byAction('ec2:CreateTags')).toEqual(expect.arrayContaining([
      expect.objectContaining({ Condition: { StringEquals: { 'ec2:CreateAction': 'CreateImage' } } }),
    ]));
    expect(byAction('cloudformation:DescribeStacks')[0].Resource).toEqual(stackId);
  });

  test('the waiter role reads, and stops only the source instance when asked to', () => {
    const { stack } = imageStack({ instanceAction: InstanceAction.STOP });
    const statements = policyStatements(stack, 'WaiterRole');
    const actions = statements.flatMap((s) => [s.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['ec2:DescribeImages', 'ec2:StopInstances']));
    expect(actions).not.toContain('ec2:DeregisterImage');
    expect(actions).not.toContain('ec2:TerminateInstances');
    const stop = statements.find((s) => [s.Action].flat().includes('ec2:StopInstances'));
    expect(JSON.stringify(stop.Resource)).toContain(`:instance/${INSTANCE}`);
  });

  test('cdk-nag AwsSolutions reports nothing unexplained', () => {
    const { stack } = imageStack({ instanceAction: InstanceAction.STOP, parameterName: '/images/golden' });
    expect(nagFindings(stack)).toEqual([]);
  });
});

describe('synth-time validation', () => {
  test.each([
    [{ imageName: 'ab' }, /imageName "ab" is not a valid AMI name: it must be 3 to 128 characters/],
    [{ imageName: 'golden#1' }, /including "#"/],
    [{ imageName: 'x'.repeat(129) }, /got 129 characters/],
    [{ timeout: Duration.seconds(30) }, /timeout 30 seconds is out of range: it must be between 1 minute and 48 hours/],
    [{ timeout: Duration.hours(49) }, /timeout 2 days 1 hour is out of range/],
    [{ tags: { 'cdk-ami:owner': 'x' } }, /Tag key "cdk-ami:owner" is reserved/],
    [{ removalPolicy: RemovalPolicy.SNAPSHOT }, /removalPolicy snapshot is not supported for images/],
    [{ output: false, exportName: 'X' }, /exportName needs the output/],
    [{ instanceId: 'instance-1' }, /instanceId "instance-1" is not an instance ID/],
  ])('%o is rejected', (props, message) => {
    expect(() => imageStack(props as any)).toThrow(message);
  });

  test('a source is required, and only one', () => {
    const stack = newStack();
    expect(() => new AmiFromInstance(stack, 'None', {})).toThrow(/needs a source: set instance/);
    expect(() => new AmiFromInstance(stack, 'Both', {
      instanceId: INSTANCE,
      instance: { instanceId: INSTANCE } as ec2.IInstance,
    })).toThrow(/either instance or instanceId, not both/);
  });

  test('tokens are not validated at synth time', () => {
    const stack = newStack();
    const name = new CfnParameter(stack, 'Name').valueAsString;
    expect(() => new AmiFromInstance(stack, 'Image', { instanceId: INSTANCE, imageName: name })).not.toThrow();
  });
});

test('template snapshot', () => {
  const { stack } = imageStack({ imageName: 'golden', tags: { team: 'platform' }, instanceAction: InstanceAction.STOP });
  expect(Template.fromStack(stack).toJSON()).toMatchSnapshot();
});
