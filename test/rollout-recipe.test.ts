import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ts from 'typescript';
import * as cdkAmi from '../src';
import { ResourceTypes } from '../src/private/contract';

// The README's "Rolling out a tested image" recipe, run as a user pastes it,
// held to what its text promises: the group takes the image only through the
// test, from a launch template with the test's settings, with a rolling update
// that waits for each new instance's signal, and the instances do signal.

const README = path.join(__dirname, '..', 'README.md');
const HEADING = '### Rolling out a tested image';

type Resources = Record<string, { Type: string; Properties?: any; DependsOn?: string | string[]; UpdatePolicy?: any; CreationPolicy?: any }>;

/** The section's ```ts block. */
function recipe(): string {
  const readme = fs.readFileSync(README, 'utf8');
  const start = readme.indexOf(`\n${HEADING}\n`);
  if (start < 0) throw new Error(`README.md has no "${HEADING}" section`);
  const section = readme.slice(start + 1).split(/^#{1,3} /m)[1];
  const block = /^```ts fixture=app\n([\s\S]*?)^```$/m.exec(section);
  if (!block) throw new Error(`README.md has no \`\`\`ts fixture=app block under "${HEADING}"`);
  return block[1];
}

/** The recipe's resources: its code run as written (transpiled only), its one stack synthesized. */
function synthesizeRecipe(code = recipe()): Resources {
  const js = ts.transpileModule(`${code}\nexport const __app = app;`, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020 },
  }).outputText;
  const exported: { __app?: App } = {};
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const load = (id: string) => (id === 'cdk-ami' ? cdkAmi : require(id));
  new Function('require', 'exports', js)(load, exported);
  const stacks = exported.__app!.synth().stacks;
  expect(stacks).toHaveLength(1);
  return stacks[0].template.Resources;
}

/** The logical IDs a resource refers to: Ref, Fn::GetAtt and DependsOn. */
function references(resources: Resources, id: string): string[] {
  const found = new Set<string>([resources[id].DependsOn ?? []].flat());
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (v === null || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if (typeof o.Ref === 'string' && o.Ref in resources) found.add(o.Ref);
    if (Array.isArray(o['Fn::GetAtt'])) found.add(o['Fn::GetAtt'][0] as string);
    Object.values(o).forEach(walk);
  };
  walk(resources[id].Properties);
  return [...found];
}

/** Whether `from` is `to` or depends on it, directly or transitively. */
function dependsOn(resources: Resources, from: string, to: string): boolean {
  const seen = new Set<string>();
  const visit = (id: string): boolean => {
    if (id === to) return true;
    if (seen.has(id)) return false;
    seen.add(id);
    return references(resources, id).some(visit);
  };
  return visit(from);
}

function ofType(resources: Resources, type: string): string[] {
  return Object.keys(resources).filter((id) => resources[id].Type === type);
}

function getAtt(value: unknown): [string, string] {
  const att = (value as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
  if (!att) throw new Error(`not an Fn::GetAtt: ${JSON.stringify(value)}`);
  return att;
}

/** The text of a launch template's user data, with the tokens inside it as JSON. */
function userDataOf(template: { Properties: any }): string {
  return JSON.stringify(template.Properties.LaunchTemplateData.UserData);
}

let resources: Resources;
let group: string;
let groupTemplate: string;
beforeAll(() => {
  resources = synthesizeRecipe();
  [group] = ofType(resources, 'AWS::AutoScaling::AutoScalingGroup');
  groupTemplate = resources[group].Properties.LaunchTemplate.LaunchTemplateId.Ref;
});

describe('README: Rolling out a tested image', () => {
  test('the group launches the latest version of a launch template whose image is the image\'s hand-over link', () => {
    const spec = resources[group].Properties.LaunchTemplate;
    expect(getAtt(spec.Version)).toEqual([groupTemplate, 'LatestVersionNumber']);
    const [link, attribute] = getAtt(resources[groupTemplate].Properties.LaunchTemplateData.ImageId);
    expect(resources[link].Type).toBe(ResourceTypes.WAITER);
    expect(attribute).toBe('ImageId');
  });

  test('the hand-over link, whose ID the group launches, waits for the test of the new image', () => {
    const [handOver] = getAtt(resources[groupTemplate].Properties.LaunchTemplateData.ImageId);
    const [operation] = ofType(resources, ResourceTypes.AMI_FROM_INSTANCE);
    // The test instance launches the new image, from a link of the image's availability chain.
    const [testInstance] = ofType(resources, 'AWS::EC2::Instance').filter((id) => {
      const image = resources[id].Properties.ImageId?.['Fn::GetAtt'];
      return image && resources[image[0]].Type === ResourceTypes.WAITER;
    });
    expect(testInstance).toBeDefined();
    expect(dependsOn(resources, testInstance, operation)).toBe(true);
    // Its result links wait for its report; the hand-over link waits for the last of them.
    const results = ofType(resources, ResourceTypes.BUILDER_SETUP).filter((id) => dependsOn(resources, id, testInstance));
    expect(results.length).toBeGreaterThan(0);
    const last = results.find((id) => results.every((other) => dependsOn(resources, id, other)));
    expect(last).toBeDefined();
    expect(dependsOn(resources, handOver, last!)).toBe(true);
  });

  test('the test launches from a template of its own, made from the group\'s settings, in the group\'s subnets and security group', () => {
    const testInstances = ofType(resources, 'AWS::EC2::Instance').filter((id) => resources[id].Properties.ImageId?.['Fn::GetAtt']);
    expect(testInstances).toHaveLength(1);
    const testTemplate = resources[testInstances[0]].Properties.LaunchTemplate.LaunchTemplateId.Ref;
    // The group's own template names the image the test gates: the test cannot launch from it.
    expect(testTemplate).not.toBe(groupTemplate);
    // What the test instance sets itself (image, user data, profile) and the tags naming each template aside.
    const settings = (id: string) => {
      const { ImageId: _i, UserData: _u, IamInstanceProfile: _p, TagSpecifications: _t, ...rest } = resources[id].Properties.LaunchTemplateData;
      return rest;
    };
    expect(settings(testTemplate)).toEqual(settings(groupTemplate));
    expect(Object.keys(settings(groupTemplate))).toEqual(expect.arrayContaining(['InstanceType', 'SecurityGroupIds', 'MetadataOptions']));
    // What the test instance sets over its template is the group's too: the group's subnets and security groups.
    const instance = resources[testInstances[0]].Properties;
    expect(instance.SecurityGroupIds ?? resources[testTemplate].Properties.LaunchTemplateData.SecurityGroupIds)
      .toEqual(resources[groupTemplate].Properties.LaunchTemplateData.SecurityGroupIds);
    expect(resources[group].Properties.VPCZoneIdentifier).toContainEqual(instance.SubnetId);
  });

  test('a rolling update replaces one instance at a time, keeps the group in service and waits for each new instance\'s signal', () => {
    const template = Template.fromJSON({ Resources: resources });
    template.hasResource('AWS::AutoScaling::AutoScalingGroup', {
      UpdatePolicy: {
        AutoScalingRollingUpdate: {
          MaxBatchSize: 1,
          MinInstancesInService: 2,
          WaitOnResourceSignals: true,
          PauseTime: 'PT10M',
        },
      },
      CreationPolicy: { ResourceSignal: { Count: 2, Timeout: 'PT10M' } },
    });
  });

  test('every instance of the group sends that signal, to this group of this stack, with the check\'s exit code', () => {
    const userData = userDataOf(resources[groupTemplate] as { Properties: any });
    expect(userData).toContain('/opt/aws/bin/cfn-signal --exit-code $status');
    expect(userData).toContain(`--resource ${group} `);
    expect(userData).toContain('{"Ref":"AWS::StackName"}');
  });

  test('the image is removed once replaced, which the removal rule does only after the whole update succeeded', () => {
    const [operation] = ofType(resources, ResourceTypes.AMI_FROM_INSTANCE);
    const { Properties, ...policies } = resources[operation] as Record<string, any>;
    expect(Properties.RemovalPolicy).toBe('destroy');
    // CloudFormation sends the replaced image's Delete to the handler, in the cleanup phase.
    expect(policies).toMatchObject({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
  });
});
