import { CfnParameter, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Ami, AmiFromInstance, CopiedAmi } from '../src';
import { nagFindings, newStack, resourcesOfType, statementsOf } from './util';

const SOURCE = 'ami-0123456789abcdef0';

function copyStack(props: Partial<ConstructorParameters<typeof CopiedAmi>[2]> = {}): { stack: Stack; copy: CopiedAmi } {
  const stack = newStack();
  const source = Ami.fromImageId(stack, 'Source', SOURCE);
  const copy = new CopiedAmi(stack, 'Copy', { source, region: 'eu-west-1', ...props });
  return { stack, copy };
}

/** Every statement of every policy attached to the provider's operation role. */
function policyStatements(stack: Stack): any[] {
  return statementsOf(stack, 'CdkAmiProviderOperationRole');
}

describe('CopiedAmi', () => {
  test('copies an existing image into another Region, and waits there', () => {
    const { stack, copy } = copyStack({ imageName: 'golden-eu', copyTags: true, encrypted: true });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('Custom::CopiedAmi', {
      Region: 'eu-west-1',
      SourceImageId: SOURCE,
      SourceRegion: 'us-east-1',
      ImageName: 'golden-eu',
      Encrypted: true,
      CopyImageTags: true,
    });
    for (const [, w] of resourcesOfType(template, 'Custom::AmiWaiter')) expect(w.Properties.Region).toBe('eu-west-1');
    expect(copy.region).toBe('eu-west-1');
    template.hasOutput('*', { Description: 'AMI ID of TestStack/Copy (eu-west-1)' });
  });

  test('copyTo the image\'s own Region makes a same-Region copy (e.g. to re-encrypt), as documented', () => {
    const stack = newStack();
    const golden = new AmiFromInstance(stack, 'Golden', { instanceId: 'i-0123456789abcdef0' });
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab');
    const copy = golden.copyTo('ReEncrypted', stack.region, { encrypted: true, encryptionKey: key });
    expect(copy).toBeInstanceOf(CopiedAmi);
    expect(copy.region).toBe('us-east-1');
    Template.fromStack(stack).hasResourceProperties('Custom::CopiedAmi', {
      Region: 'us-east-1',
      SourceRegion: 'us-east-1',
      Encrypted: true,
      KmsKeyId: key.keyArn,
    });
  });

  test('copyTo on a stack image copies to several Regions with one provider', () => {
    const stack = newStack();
    const golden = new AmiFromInstance(stack, 'Golden', { instanceId: 'i-0123456789abcdef0' });
    const eu = golden.copyTo('EuWest1', 'eu-west-1');
    const ap = golden.copyTo('ApSoutheast2', 'ap-southeast-2', { encrypted: true });
    const template = Template.fromStack(stack);
    template.resourceCountIs('Custom::CopiedAmi', 2);
    template.resourceCountIs('AWS::Lambda::Function', 6);
    expect(eu.node.path).toBe('TestStack/Golden/EuWest1');
    expect(ap).toBeInstanceOf(CopiedAmi);
    expect((ap as CopiedAmi).source).toBe(golden);
    // The copy's source ID is the source's final waiter: it copies an available image.
    const sourceWaiter = resourcesOfType(template, 'Custom::AmiWaiter').find(([id, w]) => id.startsWith('Golden') && w.Properties.Link === 2)!;
    template.hasResourceProperties('Custom::CopiedAmi', { Region: 'eu-west-1', SourceImageId: { 'Fn::GetAtt': [sourceWaiter[0], 'ImageId'] } });
    expect(Object.keys(template.findOutputs('*'))).toHaveLength(3);
    // CopyImage of the stack's own image names its ARN (EC2 evaluates no resource tag on the
    // source), in a policy of the copy's own that the copy waits for: no cycle with the provider.
    const sources = resourcesOfType(template, 'AWS::IAM::Policy').filter(([id]) => id.includes('CopyImageSourcePolicy'));
    expect(sources).toHaveLength(2);
    expect(JSON.stringify(sources[0][1].PolicyDocument ?? sources[0][1].Properties.PolicyDocument)).toContain(sourceWaiter[0]);
    const [copyId, copyResource] = resourcesOfType(template, 'Custom::CopiedAmi').find(([, r]) => r.Properties.Region === 'eu-west-1')!;
    expect(copyId).toBeDefined();
    expect(copyResource.DependsOn).toEqual(expect.arrayContaining([expect.stringContaining('CopyImageSourcePolicy')]));
  });

  test('a KMS key in the destination Region is granted what EBS needs', () => {
    const stack = newStack();
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555');
    new CopiedAmi(stack, 'Copy', { source: Ami.fromImageId(stack, 'S', SOURCE), region: 'eu-west-1', encrypted: true, encryptionKey: key });
    Template.fromStack(stack).hasResourceProperties('Custom::CopiedAmi', { KmsKeyId: key.keyArn });
    const onKey = policyStatements(stack).filter((s) => s.Resource === key.keyArn);
    expect(onKey.flatMap((s) => [s.Action].flat())).toEqual(expect.arrayContaining(['kms:CreateGrant', 'kms:Decrypt', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptTo']));
    // Only through EC2 in the destination Region; grants only for AWS resources.
    for (const s of onKey) expect(s.Condition.StringEquals['kms:ViaService']).toEqual([{ 'Fn::Join': ['', ['ec2.eu-west-1.', { Ref: 'AWS::URLSuffix' }]] }]);
    expect(onKey.find((s) => s.Action === 'kms:CreateGrant').Condition.Bool).toEqual({ 'kms:GrantIsForAWSResource': 'true' });
  });

  test('CopyImage only of the declared source, and only tagged as this stack\'s', () => {
    const { stack } = copyStack();
    const copyImage = policyStatements(stack).filter((s) => [s.Action].flat().includes('ec2:CopyImage'));
    expect(copyImage).toHaveLength(2);
    expect(JSON.stringify(copyImage.find((s) => !s.Condition).Resource)).toContain(`:ec2:us-east-1::image/${SOURCE}`);
    expect(copyImage.find((s) => s.Condition).Condition).toEqual({
      StringEquals: { 'aws:RequestTag/cdk-ami:stack': { Ref: 'AWS::StackId' } },
      Null: { 'ec2:ImageID': 'true' },
    });
    expect(policyStatements(stack).find((s) => s.Condition?.StringEquals?.['ec2:CreateAction'] === 'CopyImage')).toBeDefined();
  });

  test('a time-based copy waits its completion duration plus an hour by default', () => {
    const { stack } = copyStack({ completionDuration: Duration.hours(2) });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('Custom::CopiedAmi', { CompletionDurationMinutes: 120 });
    const waiters = resourcesOfType(template, 'Custom::AmiWaiter');
    expect(waiters[0][1].Properties.TimeoutSeconds).toBe(3 * 3600);
    expect(waiters).toHaveLength(4);
  });

  test.each([
    [{ encryptionKey: 'key' }, /encryptionKey needs encrypted: true/],
    [{ completionDuration: Duration.minutes(20) }, /completionDuration 20 minutes is not allowed: it must be a multiple of 15 minutes between 15 minutes and 48 hours/],
    [{ completionDuration: Duration.hours(49) }, /completionDuration .* is not allowed/],
    [{ completionDuration: Duration.hours(2), timeout: Duration.hours(1) }, /timeout 1 hour is shorter than completionDuration 2 hours/],
    [{ region: 'Europe' }, /region "Europe" is not an AWS Region name/],
    [{ parameterName: '/aws/images/golden' }, /parameterName "\/aws\/images\/golden" is not a valid SSM parameter name: .*must not begin with aws or ssm/],
    [{ parameterName: 'images golden' }, /parameterName "images golden" is not a valid SSM parameter name/],
  ])('%o is rejected at synth time', (props, message) => {
    const stack = newStack();
    const extra: any = { ...props };
    if (extra.encryptionKey) extra.encryptionKey = kms.Key.fromKeyArn(stack, 'K', 'arn:aws:kms:eu-west-1:123456789012:key/k');
    expect(() => new CopiedAmi(stack, 'Copy', { source: Ami.fromImageId(stack, 'S', SOURCE), region: 'eu-west-1', ...extra })).toThrow(message);
  });

  test('parameterName on a copy in another Region writes the aws:ec2:image parameter there, through the provider', () => {
    const { stack, copy } = copyStack({ parameterName: '/images/golden', removalPolicy: RemovalPolicy.DESTROY });
    const template = Template.fromStack(stack);
    // No AWS::SSM::Parameter: CloudFormation would make it in the stack's Region.
    template.resourceCountIs('AWS::SSM::Parameter', 0);
    const [[, parameter]] = resourcesOfType(template, 'Custom::AmiParameter');
    const lastWaiter = resourcesOfType(template, 'Custom::AmiWaiter').at(-1)![0];
    expect(parameter.Properties).toMatchObject({
      Region: 'eu-west-1',
      Name: '/images/golden',
      ImageId: { 'Fn::GetAtt': [lastWaiter, 'ImageId'] },
      RemovalPolicy: 'destroy',
    });
    expect(copy.parameter!.parameterName).toBe('/images/golden');
    expect(copy.parameter!.env.region).toBe('eu-west-1');
    expect(stack.resolve(copy.parameter!.parameterArn)).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ssm:eu-west-1:', { Ref: 'AWS::AccountId' }, ':parameter/images/golden']],
    });
    const statements = policyStatements(stack).map((st) => stack.resolve(st));
    const arn = stack.resolve(copy.parameter!.parameterArn);
    expect(statements).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: ['ssm:PutParameter', 'ssm:GetParameter', 'ssm:ListTagsForResource'], Resource: arn }),
      expect.objectContaining({ Action: 'ssm:AddTagsToResource', Resource: arn, Condition: { StringEquals: { 'aws:RequestTag/cdk-ami:stack': { Ref: 'AWS::StackId' } } } }),
      expect.objectContaining({ Action: 'ssm:DeleteParameter', Resource: arn, Condition: { StringEquals: { 'aws:ResourceTag/cdk-ami:stack': { Ref: 'AWS::StackId' } } } }),
    ]));
  });

  test('a copy in the stack\'s Region keeps the CloudFormation parameter; copies elsewhere share one statement per action', () => {
    const stack = newStack();
    const golden = new AmiFromInstance(stack, 'Golden', { instanceId: 'i-0123456789abcdef0', parameterName: 'golden' });
    golden.copyTo('EuWest1', 'eu-west-1', { parameterName: 'golden' });
    golden.copyTo('ApSoutheast2', 'ap-southeast-2', { parameterName: '/images/golden' });
    new CopiedAmi(stack, 'Encrypted', { source: golden, encrypted: true, parameterName: '/images/golden-encrypted' });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SSM::Parameter', 2);
    template.hasResourceProperties('AWS::SSM::Parameter', { Name: '/images/golden-encrypted', DataType: 'aws:ec2:image' });
    expect(resourcesOfType(template, 'Custom::AmiParameter').map(([, r]) => r.Properties.Region).sort()).toEqual(['ap-southeast-2', 'eu-west-1']);
    const deletes = policyStatements(stack).filter((st) => st.Action === 'ssm:DeleteParameter');
    expect(deletes).toHaveLength(1);
    expect(JSON.stringify(stack.resolve(deletes[0].Resource))).toMatch(/:ssm:eu-west-1:.*:parameter\/golden".*:ssm:ap-southeast-2:.*:parameter\/images\/golden"/);
  });

  test('a parameter name only known at deploy time gets the ARN CloudFormation computes without the leading slash', () => {
    const stack = newStack();
    const name = new CfnParameter(stack, 'Name').valueAsString;
    const copy = new CopiedAmi(stack, 'Copy', { source: Ami.fromImageId(stack, 'S', SOURCE), region: 'eu-west-1', parameterName: name });
    expect(JSON.stringify(stack.resolve(copy.parameter!.parameterArn))).toContain('{"Fn::Join":["/",{"Fn::Split":["//",{"Fn::Join":["",["/",{"Ref":"Name"}]]}]}]}');
  });

  test('a KMS key in another Region than the copy is rejected', () => {
    const stack = newStack();
    const key = kms.Key.fromKeyArn(stack, 'K', 'arn:aws:kms:us-east-1:123456789012:key/k');
    expect(() => new CopiedAmi(stack, 'Copy', { source: Ami.fromImageId(stack, 'S', SOURCE), region: 'eu-west-1', encrypted: true, encryptionKey: key }))
      .toThrow(/encryptionKey is in us-east-1, but the copy is made in eu-west-1/);
  });

  test('Ami.fromImageId validates the ID and serves as an ec2.IMachineImage', () => {
    const stack = newStack();
    expect(() => Ami.fromImageId(stack, 'Bad', 'ami-xyz')).toThrow(/imageId "ami-xyz" is not an AMI ID/);
    const image = Ami.fromImageAttributes(stack, 'Win', { imageId: SOURCE, region: 'eu-west-1', osType: ec2.OperatingSystemType.WINDOWS });
    expect(image.region).toBe('eu-west-1');
    expect(image.getImage(stack).imageId).toBe(SOURCE);
    expect(image.getImage(stack).userData.render()).toContain('powershell');
  });

  test('cdk-nag AwsSolutions reports nothing unexplained', () => {
    const stack = newStack();
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:eu-west-1:123456789012:key/k');
    const golden = new AmiFromInstance(stack, 'Golden', { instanceId: 'i-0123456789abcdef0' });
    golden.copyTo('EuWest1', 'eu-west-1', { encrypted: true, encryptionKey: key });
    expect(nagFindings(stack)).toEqual([]);
  });

  test('template snapshot', () => {
    const { stack } = copyStack({ encrypted: true, imageName: 'golden-eu', tags: { team: 'platform' } });
    expect(Template.fromStack(stack).toJSON()).toMatchSnapshot();
  });
});
