/**
 * AWS STS (awsQuery protocol), as far as cross-account copies need it: AssumeRole of the roles a
 * test adds, and the access keys it hands out, by which the endpoint knows each caller's account.
 */
import { randomBytes } from 'node:crypto';
import { ApiError } from './errors';
import { leaf, node, QueryParams, XML_DECLARATION } from './protocol';

const STS_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';
/** RoleSessionName: 2 to 64 of letters, digits and `+=,.@-` (STS AssumeRole). */
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
/** arn:aws:iam::123456789012:role/path/name */
const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(.+)$/;

export class StsApi {
  /** Access key → account: the default credentials (`test`) act for ACCOUNT_ID; AssumeRole adds keys. */
  private readonly accessKeys = new Map<string, string>();
  /** Role ARN → the accounts it trusts (addRole). */
  private readonly roles = new Map<string, readonly string[]>();

  /** The account an access key acts for, if AssumeRole handed it out. */
  accountOf(accessKeyId: string): string | undefined {
    return this.accessKeys.get(accessKeyId);
  }

  addRole(roleArn: string, trustedAccounts: readonly string[]): void {
    this.roles.set(roleArn, [...trustedAccounts]);
  }

  reset(): void {
    this.accessKeys.clear();
    this.roles.clear();
  }

  /**
   * STS AssumeRole: a role of `addRole` that trusts the caller's account answers with new
   * credentials, which act for the role's account from then on. Any other role is refused with
   * AccessDenied, as STS refuses a role that does not exist or does not trust the caller.
   * Returns the whole response document; throws ApiError for service errors.
   */
  handle(action: string, account: string, params: QueryParams, requestId: string): string {
    if (action !== 'AssumeRole') throw new ApiError('InvalidAction', `Could not find operation ${action} for version 2011-06-15`);
    const roleArn = params.required('RoleArn');
    const sessionName = params.required('RoleSessionName');
    if (!SESSION_NAME.test(sessionName)) {
      throw new ApiError('ValidationError', `1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`);
    }
    const match = ROLE_ARN.exec(roleArn);
    if (!match || !(this.roles.get(roleArn) ?? []).includes(account)) {
      throw new ApiError('AccessDenied', `User: arn:aws:sts::${account}:assumed-role/caller/session is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`, 403);
    }
    const accessKeyId = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`;
    this.accessKeys.set(accessKeyId, match[1]);
    const roleName = match[2].split('/').pop()!;
    const result = node('AssumeRoleResult',
      node('Credentials',
        leaf('AccessKeyId', accessKeyId),
        leaf('SecretAccessKey', randomBytes(20).toString('base64')),
        leaf('SessionToken', randomBytes(32).toString('base64')),
        leaf('Expiration', new Date(Date.now() + 3600_000).toISOString())),
      node('AssumedRoleUser',
        leaf('AssumedRoleId', `AROA${randomBytes(8).toString('hex').toUpperCase()}:${sessionName}`),
        leaf('Arn', `arn:aws:sts::${match[1]}:assumed-role/${roleName}/${sessionName}`)));
    return `${XML_DECLARATION}<AssumeRoleResponse xmlns="${STS_NAMESPACE}">${result}${node('ResponseMetadata', leaf('RequestId', requestId))}</AssumeRoleResponse>`;
  }
}
