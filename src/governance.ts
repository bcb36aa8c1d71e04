import { Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { AmiValidationError } from './private/errors';

/**
 * Who may launch instances from an image (EC2 launch permissions).
 *
 * Making an image public is deliberately not one of these: it takes the
 * `dangerouslyMakePublic` image property.
 */
export class LaunchPermission {
  /**
   * An AWS account, by its 12-digit ID.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_LaunchPermission.html
   */
  public static account(accountId: string): LaunchPermission {
    return new LaunchPermission('UserId', accountId, /^\d{12}$/, 'an account ID of 12 digits');
  }

  /**
   * Every account of an AWS Organizations organization, by its ARN.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_LaunchPermission.html
   */
  public static organization(organizationArn: string): LaunchPermission {
    return new LaunchPermission('OrganizationArn', organizationArn,
      /^arn:aws[a-z-]*:organizations::\d{12}:organization\/o-[a-z0-9]{10,32}$/, 'an organization ARN such as arn:aws:organizations::123456789012:organization/o-exampleorgid');
  }

  /**
   * Every account of an organizational unit, by its ARN.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_LaunchPermission.html
   */
  public static organizationalUnit(organizationalUnitArn: string): LaunchPermission {
    return new LaunchPermission('OrganizationalUnitArn', organizationalUnitArn,
      /^arn:aws[a-z-]*:organizations::\d{12}:ou\/o-[a-z0-9]{10,32}\/ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$/,
      'an organizational unit ARN such as arn:aws:organizations::123456789012:ou/o-exampleorgid/ou-ab12-cdef3456');
  }

  /**
   * The kind of grantee: `UserId`, `OrganizationArn` or `OrganizationalUnitArn`.
   */
  public readonly kind: string;

  /**
   * The account ID or ARN.
   */
  public readonly value: string;

  private constructor(kind: string, value: string, private readonly pattern: RegExp, private readonly expected: string) {
    this.kind = kind;
    this.value = value;
  }

  /** @internal */
  public _validate(scope: IConstruct): void {
    if (Token.isUnresolved(this.value)) return;
    if (!this.pattern.test(this.value)) {
      throw new AmiValidationError(`Launch permission "${this.value}" is not valid: expected ${this.expected}.`, scope);
    }
  }

  /** @internal */
  public _render(): Record<string, string> {
    return { [this.kind]: this.value };
  }
}

