import { Annotations, Aws, CfnDeletionPolicy, CfnResource, Fn, Lazy, RemovalPolicy, RemovalPolicyOptions, Resource, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { ResourceTypes, Tags } from './contract';
import { AmiValidationError } from './errors';
import { AmiProvider } from './provider';
import { ProviderResource } from './provider-resource';
import { StatementName, StatementShape } from './statement-registry';
import { removalProperty, validateRemovalPolicy } from './validation';

/** What the removal policies do to a parameter. */
const PARAMETER_REMOVAL = { noun: 'image parameters', retain: 'keep the parameter', destroy: 'delete it' };

/** Parameter Store's name rules: letters, digits and _ . - /; not under aws or ssm; 1011 characters at most. */
const PARAMETER_NAME = /^[a-zA-Z0-9_.\-/]{1,1011}$/;
const RESERVED_PREFIX = /^\/?(aws|ssm)/i;

export interface ImageParameterProps {
  readonly parameterName: string;
  /** The image's Region, where the parameter is written. */
  readonly region: string;
  readonly imageId: string;
  readonly description: string;
  /** The image's removal policy, resolved at synth: the parameter's unless one is applied to the parameter itself. */
  readonly removalPolicy: () => RemovalPolicy;
  /** The account of an image owned by another account, whose Parameter Store gets the parameter. @default - the stack's */
  readonly account?: string;
  /** The role in `account` that writes the parameter there (the copy's role). */
  readonly roleArn?: string;
}

/**
 * The aws:ec2:image parameter of an image in another Region or account than
 * the stack's, written there by the provider (Custom::AmiParameter), since
 * CloudFormation only makes AWS::SSM::Parameter resources in the stack's own
 * Region and account. In another account the provider writes it as the
 * copy's role, which must allow it (CrossAccountCopyRole's parameterNames);
 * the provider's own roles get no SSM permission for it. Seen from the app it
 * is an `ssm.IStringParameter` of that Region (and account).
 */
export class RemoteImageParameter extends Resource implements ssm.IStringParameter {
  public readonly parameterArn: string;
  public readonly parameterName: string;
  public readonly parameterType = ssm.ParameterValueType.STRING;
  public readonly stringValue: string;
  public readonly resource: ProviderResource;
  /** A removal policy applied to the parameter itself (its `applyRemovalPolicy`, or an aspect that reaches it). */
  private ownRemovalPolicy?: RemovalPolicy;

  constructor(scope: Construct, id: string, props: ImageParameterProps) {
    super(scope, id, { region: props.region, account: props.account });
    validateParameterName(this, props.parameterName);
    const provider = AmiProvider.of(this);
    this.resource = new ProviderResource(this, 'Resource', provider.operationServiceToken, ResourceTypes.PARAMETER, {
      Region: props.region,
      Name: props.parameterName,
      ImageId: props.imageId,
      Description: props.description,
      RemovalPolicy: Lazy.string({ produce: () => removalProperty(this.ownRemovalPolicy ?? props.removalPolicy()) }),
      RoleArn: props.roleArn,
    });
    this.resource.onRemovalPolicy((policy) => {
      this.ownRemovalPolicy = validateRemovalPolicy(this, policy, PARAMETER_REMOVAL);
    });
    this.parameterName = props.parameterName;
    this.parameterArn = parameterArn(props.region, props.parameterName, props.account);
    this.stringValue = props.imageId;
    if (!props.roleArn) {
      for (const [name, shape] of imageParameterStatements('StringEquals', Aws.STACK_ID)) provider.addResourceToOperationStatement(name, shape, this.parameterArn);
    }
  }

  public grantRead(grantee: iam.IGrantable): iam.Grant {
    this.warnIfOtherAccount(grantee, 'read');
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['ssm:DescribeParameters', 'ssm:GetParameters', 'ssm:GetParameter', 'ssm:GetParameterHistory'],
      resourceArns: [this.parameterArn],
    });
  }

  public grantWrite(grantee: iam.IGrantable): iam.Grant {
    this.warnIfOtherAccount(grantee, 'write');
    return iam.Grant.addToPrincipal({ grantee, actions: ['ssm:PutParameter'], resourceArns: [this.parameterArn] });
  }

  /**
   * An identity policy cannot reach a standard parameter of another account
   * (Parameter Store shares only advanced parameters): the grant would be
   * written and never work.
   */
  private warnIfOtherAccount(grantee: iam.IGrantable, access: string): void {
    const principalAccount = grantee.grantPrincipal.principalAccount;
    const known = principalAccount && !Token.isUnresolved(principalAccount) && !Token.isUnresolved(this.env.account);
    if (!known || principalAccount === this.env.account) return;
    Annotations.of(this).addWarningV2('cdk-ami:parameterOfOtherAccount',
      `A principal of account ${principalAccount} cannot ${access} SSM parameter ${this.parameterName} of account ${this.env.account}: `
      + 'Parameter Store does not share standard parameters across accounts. Grant a principal of that account, or read the image ID from imageId.');
  }
}

/**
 * The parameter of an image in the stack's Region and account is
 * CloudFormation's AWS::SSM::Parameter, so CloudFormation, not the handler,
 * applies its policy: `Retain` would keep it also when the deployment that
 * created it rolls back. Its `DeletionPolicy` follows the image's removal
 * policy, or one applied to the parameter itself (its `applyRemovalPolicy`,
 * which `Resource.applyRemovalPolicy` and the `RemovalPolicies` aspect call),
 * with RETAIN rendered as `RetainExceptOnCreate`: kept on stack deletion and
 * update, removed by the rollback of the deployment that created it.
 */
export function followImageRemovalPolicy(parameter: ssm.StringParameter, imagePolicy: () => RemovalPolicy): void {
  const resource = parameter.node.defaultChild as CfnResource;
  let own: RemovalPolicy | undefined;
  resource.applyRemovalPolicy = (policy?: RemovalPolicy, options: RemovalPolicyOptions = {}) => {
    own = validateRemovalPolicy(parameter, policy ?? options.default ?? RemovalPolicy.RETAIN, PARAMETER_REMOVAL);
  };
  // A policy is set, so MissingRemovalPolicies leaves the parameter to the image's; the overrides render the real one.
  resource.cfnOptions.deletionPolicy = CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE;
  const retained = () => (own ?? imagePolicy()) === RemovalPolicy.RETAIN;
  resource.addOverride('DeletionPolicy', Lazy.string({ produce: () => (retained() ? CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE : CfnDeletionPolicy.DELETE) }));
  resource.addOverride('UpdateReplacePolicy', Lazy.string({ produce: () => (retained() ? CfnDeletionPolicy.RETAIN : CfnDeletionPolicy.DELETE) }));
}

/**
 * The parameter's ARN: `parameter/a/b` for `/a/b`, `parameter/a` for `a`. For
 * a name only known at deploy time, CloudFormation collapses the doubled slash
 * that prefixing a name with `/` gives.
 */
export function parameterArn(region: string, name: string, account: string = Aws.ACCOUNT_ID): string {
  const path = Token.isUnresolved(name) ? Fn.join('/', Fn.split('//', `/${name}`)) : `/${name.replace(/^\//, '')}`;
  return `arn:${Aws.PARTITION}:ssm:${region}:${account}:parameter${path}`;
}

/**
 * What the parameter handler (lambda/ssm-parameters.ts) may call, as
 * statement shapes named for `addResourceToOperationStatement`, to which the caller
 * adds the parameters' ARNs: write (PutParameter, with the ownership tags it
 * creates them with; SSM checks the image with the caller's
 * ec2:DescribeImages, which the caller has), read back and read the tags (the
 * owner check before an overwrite or delete), tag on create only as a stack
 * `stacks` matches, and delete only what carries such a stack's tag.
 * PutParameter has no aws:ResourceTag condition key, so the owner check
 * before an overwrite is the handler's, and the ARNs are the only bound.
 */
export function imageParameterStatements(operator: 'StringEquals' | 'StringLike', stacks: string): [StatementName, StatementShape][] {
  return [
    ['ssm-write', {
      sid: 'WriteOwnImageParameters',
      actions: ['ssm:PutParameter', 'ssm:GetParameter', 'ssm:ListTagsForResource'],
    }],
    ['ssm-tag-on-create', {
      sid: 'TagImageParametersOnCreate',
      actions: ['ssm:AddTagsToResource'],
      conditions: { [operator]: { [`aws:RequestTag/${Tags.STACK}`]: stacks } },
    }],
    ['ssm-delete', {
      sid: 'DeleteOwnImageParameters',
      actions: ['ssm:DeleteParameter'],
      conditions: { [operator]: { [`aws:ResourceTag/${Tags.STACK}`]: stacks } },
    }],
  ];
}

/** Throws when `name` (given as `field`) is not a name Parameter Store accepts. */
export function validateParameterName(scope: Construct, name: string, field = 'parameterName'): void {
  if (Token.isUnresolved(name)) return;
  if (!PARAMETER_NAME.test(name) || RESERVED_PREFIX.test(name)) {
    throw new AmiValidationError(
      `${field} "${name}" is not a valid SSM parameter name: it must be 1 to 1011 letters, digits and _ . - /, and must not begin with aws or ssm.`, scope);
  }
}
