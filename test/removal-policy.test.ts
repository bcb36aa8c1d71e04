/**
 * One path for removal policies: the constructs' `removalPolicy` props,
 * `applyRemovalPolicy` (on a construct or on its resource) and aws-cdk-lib's
 * `RemovalPolicies` aspect all set the `RemovalPolicy` property the handler
 * reads, and every resource of the provider keeps `DeletionPolicy: Delete`
 * and `UpdateReplacePolicy: Delete`, so CloudFormation sends every Delete
 * (also the rollback's) to the handler. Runs against the minimum and the
 * latest aws-cdk-lib.
 */
import { CfnResource, IResource, MissingRemovalPolicies, RemovalPolicies, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { newStack } from './util';
import { Ami, AmiFromInstance, CopiedAmi, StoredAmi } from '../src';

/** Each data-holding resource type, built in a stack; returns the construct that `applyRemovalPolicy` is called on. */
const KINDS: [string, string, (stack: Stack) => IResource][] = [
  ['an image', 'Custom::AmiFromInstance', (stack) => new AmiFromInstance(stack, 'Image', { instanceId: 'i-0123456789abcdef0' })],
  ['a copy', 'Custom::CopiedAmi', (stack) => new CopiedAmi(stack, 'Copy', { source: Ami.fromImageId(stack, 'Source', 'ami-0123456789abcdef0'), region: 'eu-west-1' })],
  ['a stored object', 'Custom::StoredAmi', (stack) => new StoredAmi(stack, 'Stored', {
    image: Ami.fromImageId(stack, 'Source', 'ami-0123456789abcdef0'), bucket: s3.Bucket.fromBucketName(stack, 'Bucket', 'stored-amis'),
  })],
  ['a parameter', 'Custom::AmiParameter', (stack) => new CopiedAmi(stack, 'Copy', {
    source: Ami.fromImageId(stack, 'Source', 'ami-0123456789abcdef0'), region: 'eu-west-1', parameterName: '/images/golden',
  }).parameter!],
];

/** The `RemovalPolicy` property of the one resource of `type`. */
function rendered(stack: Stack, type: string): string {
  const resources = Object.values(Template.fromStack(stack).findResources(type));
  expect(resources).toHaveLength(1);
  return resources[0].Properties.RemovalPolicy;
}

/** Every custom resource of the stack: CloudFormation sends each its Delete. */
function expectEveryDeleteSent(stack: Stack): void {
  const custom = Object.entries(Template.fromStack(stack).toJSON().Resources as Record<string, any>).filter(([, r]) => r.Type.startsWith('Custom::'));
  expect(custom.length).toBeGreaterThan(0);
  for (const [id, r] of custom) {
    expect([id, r.DeletionPolicy, r.UpdateReplacePolicy]).toEqual([id, 'Delete', 'Delete']);
  }
}

describe.each(KINDS)('%s (%s)', (_name, type, build) => {
  test.each([
    [RemovalPolicy.DESTROY, 'destroy'],
    [RemovalPolicy.RETAIN, 'retain'],
    [RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE, 'retain'],
  ])('RemovalPolicies.of(stack).apply(%s) renders %s for the handler; the resources keep DeletionPolicy Delete', (policy, word) => {
    const stack = newStack();
    build(stack);
    RemovalPolicies.of(stack).apply(policy);
    expect(rendered(stack, type)).toBe(word);
    expectEveryDeleteSent(stack);
  });

  test.each([
    [RemovalPolicy.DESTROY, 'destroy'],
    [RemovalPolicy.RETAIN, 'retain'],
  ])('applyRemovalPolicy(%s) on the construct, or on its resource, renders %s', (policy, word) => {
    const onConstruct = newStack();
    build(onConstruct).applyRemovalPolicy(policy);
    expect(rendered(onConstruct, type)).toBe(word);
    expectEveryDeleteSent(onConstruct);

    const onResource = newStack();
    (build(onResource).node.defaultChild as CfnResource).applyRemovalPolicy(policy);
    expect(rendered(onResource, type)).toBe(word);
    expectEveryDeleteSent(onResource);
  });

  test('RemovalPolicies.of(stack).snapshot() is refused at synth with what to use instead', () => {
    const stack = newStack();
    build(stack);
    RemovalPolicies.of(stack).snapshot({ applyToResourceTypes: [type] });
    expect(() => Template.fromStack(stack)).toThrow(/removalPolicy snapshot is not supported for .*: use RemovalPolicy.RETAIN \(.*\) or RemovalPolicy.DESTROY/);
  });

  test('MissingRemovalPolicies leaves the policy alone: the library\'s default is set (RETAIN)', () => {
    const stack = newStack();
    build(stack);
    MissingRemovalPolicies.of(stack).destroy();
    expect(rendered(stack, type)).toBe('retain');
    expectEveryDeleteSent(stack);
  });
});

test('RemovalPolicies.of(stack).destroy() makes a dev stack disposable: every image, copy, object and parameter is DESTROY', () => {
  const stack = newStack();
  const image = new AmiFromInstance(stack, 'Image', { instanceId: 'i-0123456789abcdef0' });
  image.copyTo('Copy', 'eu-west-1', { parameterName: '/images/golden' });
  image.storeTo('Stored', s3.Bucket.fromBucketName(stack, 'Bucket', 'stored-amis'));
  RemovalPolicies.of(stack).destroy();
  for (const type of ['Custom::AmiFromInstance', 'Custom::CopiedAmi', 'Custom::StoredAmi', 'Custom::AmiParameter']) {
    expect([type, rendered(stack, type)]).toEqual([type, 'destroy']);
  }
  expectEveryDeleteSent(stack);
});

test('storeTo with DESTROY, then applyRemovalPolicy(RETAIN): the property says retain, the resource keeps DeletionPolicy Delete', () => {
  const stack = newStack();
  const stored = Ami.fromImageId(stack, 'Source', 'ami-0123456789abcdef0')
    .storeTo('Stored', s3.Bucket.fromBucketName(stack, 'Bucket', 'stored-amis'), { removalPolicy: RemovalPolicy.DESTROY });
  stored.applyRemovalPolicy(RemovalPolicy.RETAIN);
  expect(rendered(stack, 'Custom::StoredAmi')).toBe('retain');
  expectEveryDeleteSent(stack);
});

test('a policy applied to the parameter itself wins over the image\'s; otherwise it follows the image', () => {
  const copyIn = (stack: Stack) => new CopiedAmi(stack, 'Copy', { source: Ami.fromImageId(stack, 'Source', 'ami-0123456789abcdef0'), region: 'eu-west-1', parameterName: '/images/golden' });
  const follows = newStack();
  copyIn(follows).applyRemovalPolicy(RemovalPolicy.DESTROY);
  expect(rendered(follows, 'Custom::AmiParameter')).toBe('destroy');

  const own = newStack();
  const copy = copyIn(own);
  copy.applyRemovalPolicy(RemovalPolicy.DESTROY);
  copy.parameter!.applyRemovalPolicy(RemovalPolicy.RETAIN);
  expect(rendered(own, 'Custom::AmiParameter')).toBe('retain');
  expect(rendered(own, 'Custom::CopiedAmi')).toBe('destroy');
});

describe('the parameter in the stack\'s Region (CloudFormation\'s AWS::SSM::Parameter) follows the image with RetainExceptOnCreate', () => {
  const imageWithParameter = (stack: Stack, removalPolicy?: RemovalPolicy) =>
    new AmiFromInstance(stack, 'Image', { instanceId: 'i-0123456789abcdef0', parameterName: '/images/golden', removalPolicy });
  /** The DeletionPolicy and UpdateReplacePolicy of the stack's one parameter. */
  const policiesOf = (stack: Stack) => {
    const parameters = Object.values(Template.fromStack(stack).findResources('AWS::SSM::Parameter'));
    expect(parameters).toHaveLength(1);
    return [parameters[0].DeletionPolicy, parameters[0].UpdateReplacePolicy];
  };

  test.each([
    [undefined, ['RetainExceptOnCreate', 'Retain']],
    [RemovalPolicy.RETAIN, ['RetainExceptOnCreate', 'Retain']],
    [RemovalPolicy.DESTROY, ['Delete', 'Delete']],
  ])('the image\'s removalPolicy %s renders %j', (policy, rendering) => {
    const stack = newStack();
    imageWithParameter(stack, policy);
    expect(policiesOf(stack)).toEqual(rendering);
  });

  test.each([
    [RemovalPolicy.RETAIN, ['RetainExceptOnCreate', 'Retain']],
    [RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE, ['RetainExceptOnCreate', 'Retain']],
    [RemovalPolicy.DESTROY, ['Delete', 'Delete']],
  ])('RemovalPolicies.of(stack).apply(%s) renders %j, never Retain (which a rollback would leave behind)', (policy, rendering) => {
    const stack = newStack();
    imageWithParameter(stack);
    RemovalPolicies.of(stack).apply(policy);
    expect(policiesOf(stack)).toEqual(rendering);
  });

  test('a policy applied to the parameter itself wins over the image\'s, whichever comes last', () => {
    const stack = newStack();
    const image = imageWithParameter(stack, RemovalPolicy.DESTROY);
    (image.parameter as unknown as IResource).applyRemovalPolicy(RemovalPolicy.RETAIN);
    image.applyRemovalPolicy(RemovalPolicy.DESTROY);
    expect(policiesOf(stack)).toEqual(['RetainExceptOnCreate', 'Retain']);
  });

  test('MissingRemovalPolicies leaves it to the image\'s policy', () => {
    const stack = newStack();
    imageWithParameter(stack);
    MissingRemovalPolicies.of(stack).destroy();
    expect(policiesOf(stack)).toEqual(['RetainExceptOnCreate', 'Retain']);
  });

  test('SNAPSHOT is refused at synth with what to use instead', () => {
    const stack = newStack();
    imageWithParameter(stack);
    RemovalPolicies.of(stack).snapshot({ applyToResourceTypes: ['AWS::SSM::Parameter'] });
    expect(() => Template.fromStack(stack)).toThrow(/removalPolicy snapshot is not supported for image parameters: use RemovalPolicy.RETAIN \(keep the parameter\) or RemovalPolicy.DESTROY/);
  });
});
