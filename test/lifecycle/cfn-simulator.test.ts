import { CfnResource, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { FAILING_RESOURCE, NativeResource, ORDER_ENV, StackTemplate } from './cfn-simulator';
import { checkRolesWaitForPolicies, lifecycleTemplate, useLocalEc2 } from './harness';

const h = useLocalEc2();
const NATIVE = 'Test::Native';

/** A native resource type that records the order of its creates and deletes; a replacement of A is A'. */
function recorder(): NativeResource & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    create: (logicalId) => {
      const physicalId = log.includes(`create ${logicalId}`) ? `${logicalId}'` : logicalId;
      log.push(`create ${physicalId}`);
      return physicalId;
    },
    delete: (physicalId) => {
      log.push(`delete ${physicalId}`);
    },
  };
}

/** A, B and C independent; D waits for A by Ref. */
const template: StackTemplate = {
  Resources: {
    A: { Type: NATIVE },
    B: { Type: NATIVE },
    C: { Type: NATIVE },
    D: { Type: NATIVE, Properties: { After: { Ref: 'A' } } },
  },
};

async function run(options: { independentOrder?: 'template' | 'reverse' } = {}): Promise<string[]> {
  const native = recorder();
  const sim = h.sim({ ...options, nativeResources: { [NATIVE]: native } });
  expect(await sim.deploy(template)).toEqual({ ok: true });
  expect(await sim.deleteStack()).toEqual({ ok: true });
  return native.log;
}

describe('the order the CloudFormation simulator takes resources in', () => {
  const saved = process.env[ORDER_ENV];
  afterEach(() => {
    if (saved === undefined) delete process.env[ORDER_ENV];
    else process.env[ORDER_ENV] = saved;
  });

  test('by default, independent resources in the reverse of their template order; deletes in the reverse of the creates', async () => {
    delete process.env[ORDER_ENV];
    expect(await run()).toEqual(['create A', 'create D', 'create C', 'create B', 'delete B', 'delete C', 'delete D', 'delete A']);
  });

  test('CFN_SIM_ORDER=template, or the option, takes them in template order; a dependency comes first either way', async () => {
    process.env[ORDER_ENV] = 'template';
    const inTemplateOrder = ['create A', 'create B', 'create C', 'create D', 'delete D', 'delete C', 'delete B', 'delete A'];
    expect(await run()).toEqual(inTemplateOrder);
    delete process.env[ORDER_ENV];
    expect(await run({ independentOrder: 'template' })).toEqual(inTemplateOrder);
  });

  test.each(['template', 'reverse'] as const)('in %s order, the cleanup removes a dropped resource before the replaced one it used', async (independentOrder) => {
    const native = recorder();
    const sim = h.sim({ independentOrder, nativeResources: { [NATIVE]: native } });
    expect(await sim.deploy({ Resources: { A: { Type: NATIVE }, B: { Type: NATIVE, Properties: { Uses: { Ref: 'A' } } } } })).toEqual({ ok: true });
    expect(await sim.deploy({ Resources: { A: { Type: NATIVE, Properties: { Changed: 'yes' } } } })).toEqual({ ok: true });
    expect(native.log).toEqual(['create A', 'create B', "create A'", 'delete B', 'delete A']);
  });

  test.each(['template', 'reverse'] as const)('in %s order, a rolled-back update removes a new resource before the replacement it used', async (independentOrder) => {
    const native = recorder();
    const sim = h.sim({ independentOrder, nativeResources: { [NATIVE]: native } });
    expect(await sim.deploy({ Resources: { A: { Type: NATIVE } } })).toEqual({ ok: true });
    const failing = await sim.deploy({
      Resources: {
        A: { Type: NATIVE, Properties: { Changed: 'yes' } },
        B: { Type: NATIVE, Properties: { Uses: { Ref: 'A' } } },
        Later: { Type: FAILING_RESOURCE, DependsOn: 'B' },
      },
    });
    expect(failing).toMatchObject({ ok: false, failedResource: 'Later' });
    expect(native.log).toEqual(['create A', "create A'", 'create B', 'delete B', "delete A'"]);
    expect(sim.physicalId('A')).toBe('A');
  });

  test('an unknown CFN_SIM_ORDER is refused with the values it takes', () => {
    process.env[ORDER_ENV] = 'random';
    expect(() => h.sim()).toThrow("CFN_SIM_ORDER=random: must be 'template' or 'reverse'");
  });
});

describe('the template a lifecycle test deploys', () => {
  test('keeps what a resource waits for through the resources it leaves out', () => {
    const rendered = lifecycleTemplate((stack) => {
      const first = new CfnResource(stack, 'First', { type: 'Custom::First' });
      const policy = new iam.CfnPolicy(stack, 'Between', {
        policyName: 'between', roles: ['r'], policyDocument: { Statement: [{ Effect: 'Allow', Action: 'ec2:DescribeImages', Resource: first.ref }] },
      });
      new CfnResource(stack, 'Second', { type: 'Custom::Second' }).addDependency(policy);
    });
    expect(rendered.Resources.Second.DependsOn).toEqual(['First']);
    expect(rendered.Resources.Between).toBeUndefined();
  });

  test('refuses a resource that hands a role to AWS before the role\'s policy exists, and takes one that waits for it', () => {
    const build = (wait: boolean) => (stack: Stack) => {
      const role = new iam.Role(stack, 'ServiceRole', { assumedBy: new iam.ServicePrincipal('vmie.amazonaws.com') });
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::disks/*'] }));
      const user = new CfnResource(stack, 'Import', { type: 'Custom::Import', properties: { RoleName: role.roleName } });
      if (wait) user.node.addDependency(role);
    };
    expect(() => lifecycleTemplate(build(false))).toThrow(/^Import\w* \(Custom::Import\) hands role ServiceRole\w+ to AWS without waiting for its policy ServiceRoleDefaultPolicy\w+: add a DependsOn$/);
    expect(() => lifecycleTemplate(build(true))).not.toThrow();
  });

  test('an instance\'s profile, given itself or by its launch template, hands its role to AWS too', () => {
    const withProfile: StackTemplate = {
      Resources: {
        Role: { Type: 'AWS::IAM::Role' },
        Policy: { Type: 'AWS::IAM::Policy', Properties: { Roles: [{ Ref: 'Role' }] } },
        Profile: { Type: 'AWS::IAM::InstanceProfile', Properties: { Roles: [{ Ref: 'Role' }] } },
        Instance: { Type: 'AWS::EC2::Instance', Properties: { IamInstanceProfile: { Ref: 'Profile' } } },
      },
    };
    expect(() => checkRolesWaitForPolicies(withProfile)).toThrow('Instance (AWS::EC2::Instance) hands role Role to AWS without waiting for its policy Policy');
    const waiting = { Resources: { ...withProfile.Resources, Instance: { ...withProfile.Resources.Instance, DependsOn: ['Policy'] } } };
    expect(() => checkRolesWaitForPolicies(waiting)).not.toThrow();
    const byLaunchTemplate: StackTemplate = {
      Resources: {
        ...withProfile.Resources,
        Template: { Type: 'AWS::EC2::LaunchTemplate', Properties: { LaunchTemplateData: { IamInstanceProfile: { Arn: { 'Fn::GetAtt': ['Profile', 'Arn'] } } } } },
        Instance: { Type: 'AWS::EC2::Instance', Properties: { LaunchTemplate: { LaunchTemplateId: { Ref: 'Template' } } } },
      },
    };
    expect(() => checkRolesWaitForPolicies(byLaunchTemplate)).toThrow('Instance (AWS::EC2::Instance) hands role Role to AWS without waiting for its policy Policy');
  });
});
