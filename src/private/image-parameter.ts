import { Aws, Fn, Lazy, Resource, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { ResourceTypes, Tags } from './contract';
import { AmiValidationError } from './errors';
import { AmiProvider } from './provider';
import { ProviderResource } from './provider-resource';

/** The provider's resource for an image's aws:ec2:image parameter outside the stack's Region. */

/** Parameter Store's name rules: letters, digits and _ . - /; not under aws or ssm; 1011 characters at most. */
const PARAMETER_NAME = /^[a-zA-Z0-9_.\-/]{1,1011}$/;
const RESERVED_PREFIX = /^\/?(aws|ssm)/i;

export interface ImageParameterProps {
  readonly parameterName: string;
  /** The image's Region, where the parameter is written. */
  readonly region: string;
  readonly imageId: string;
  readonly description: string;
  /** `retain` or `destroy`, resolved at synth (the image's removal policy). */
  readonly removalPolicy: () => string;
}

/**
 * The aws:ec2:image parameter of an image in another Region than the stack's,
 * written there by the provider (Custom::AmiParameter), since CloudFormation
 * only makes AWS::SSM::Parameter resources in the stack's own Region. Seen
 * from the app it is an `ssm.IStringParameter` of that Region.
 */
export class RegionalImageParameter extends Resource implements ssm.IStringParameter {
  public readonly parameterArn: string;
  public readonly parameterName: string;
  public readonly parameterType = ssm.ParameterValueType.STRING;
  public readonly stringValue: string;
  public readonly resource: ProviderResource;

  constructor(scope: Construct, id: string, props: ImageParameterProps) {
    super(scope, id, { region: props.region });
    validateParameterName(this, props.parameterName);
    const provider = AmiProvider.of(this);
    this.resource = new ProviderResource(this, 'Resource', provider.operationServiceToken, ResourceTypes.PARAMETER, {
      Region: props.region,
      Name: props.parameterName,
      ImageId: props.imageId,
      Description: props.description,
      RemovalPolicy: Lazy.string({ produce: props.removalPolicy }),
    });
    this.parameterName = props.parameterName;
    this.parameterArn = parameterArn(props.region, props.parameterName);
    this.stringValue = props.imageId;
    grantProvider(provider, this.parameterArn);
  }

  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['ssm:DescribeParameters', 'ssm:GetParameters', 'ssm:GetParameter', 'ssm:GetParameterHistory'],
      resourceArns: [this.parameterArn],
    });
  }

  public grantWrite(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['ssm:PutParameter'], resourceArns: [this.parameterArn] });
  }
}

/**
 * The parameter's ARN: `parameter/a/b` for `/a/b`, `parameter/a` for `a`. For
 * a name only known at deploy time, CloudFormation collapses the doubled slash
 * that prefixing a name with `/` gives.
 */
export function parameterArn(region: string, name: string): string {
  const path = Token.isUnresolved(name) ? Fn.join('/', Fn.split('//', `/${name}`)) : `/${name.replace(/^\//, '')}`;
  return `arn:${Aws.PARTITION}:ssm:${region}:${Aws.ACCOUNT_ID}:parameter${path}`;
}

/**
 * What the onEvent function calls, on exactly this stack's parameters: write
 * (PutParameter, with the ownership tags it creates them with; SSM checks the
 * image with the caller's ec2:DescribeImages, which the provider has), read
 * back and read the tags (the owner check before an overwrite or delete), and
 * delete only what carries this stack's tag. PutParameter has no
 * aws:ResourceTag condition key, so the owner check before an overwrite is
 * the handler's.
 */
function grantProvider(provider: AmiProvider, arn: string): void {
  provider.addResourceToOperationStatement('ssm-write', () => new iam.PolicyStatement({
    sid: 'WriteOwnImageParameters',
    actions: ['ssm:PutParameter', 'ssm:GetParameter', 'ssm:ListTagsForResource'],
  }), arn);
  provider.addResourceToOperationStatement('ssm-tag-on-create', () => new iam.PolicyStatement({
    sid: 'TagImageParametersOnCreate',
    actions: ['ssm:AddTagsToResource'],
    conditions: { StringEquals: { [`aws:RequestTag/${Tags.STACK}`]: Aws.STACK_ID } },
  }), arn);
  provider.addResourceToOperationStatement('ssm-delete', () => new iam.PolicyStatement({
    sid: 'DeleteOwnImageParameters',
    actions: ['ssm:DeleteParameter'],
    conditions: { StringEquals: { [`aws:ResourceTag/${Tags.STACK}`]: Aws.STACK_ID } },
  }), arn);
}

function validateParameterName(scope: Construct, name: string): void {
  if (Token.isUnresolved(name)) return;
  if (!PARAMETER_NAME.test(name) || RESERVED_PREFIX.test(name)) {
    throw new AmiValidationError(
      `parameterName "${name}" is not a valid SSM parameter name: it must be 1 to 1011 letters, digits and _ . - /, and must not begin with aws or ssm.`, scope);
  }
}
