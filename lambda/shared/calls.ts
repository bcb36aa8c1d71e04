/**
 * The AWS API calls a handler module sends, as IAM actions (`ec2:CopyImage`).
 * Every module that sends a command declares it in its own `CALLS`, next to
 * the code that sends it. test/lambda/helpers.ts fails any handler test that
 * sends an undeclared command, and the IAM simulation suite (test/iam)
 * evaluates each declared call against the roles the constructs synthesize.
 */
export type ApiCall = `${'ec2' | 's3' | 'kms' | 'ssm' | 'cloudformation' | 'sts'}:${string}`;

export function declareCalls(...calls: ApiCall[]): readonly ApiCall[] {
  return Object.freeze(calls);
}
