import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const SRC = path.join(__dirname, '..', 'src');

/** Where EC2 (and the AWS services around it) document their parameters. */
const AWS_DOCS = /^https:\/\/docs\.aws\.amazon\.com\/\S+$/;

/**
 * Public members that map to no EC2 parameter, so carry no `@see`.
 * Key: `Interface.property` or `Class.method`; value: why.
 */
const NO_EC2_PARAMETER: Record<string, string> = {
  'ImageProps.removalPolicy': 'a CloudFormation removal policy, applied by cdk-ami',
  'ImageProps.timeout': 'a cdk-ami wait, no EC2 parameter',
  'AmiFromDisks.applyRemovalPolicy': 'a CloudFormation removal policy, applied by cdk-ami to the image and its imported snapshots',
  'CrossAccountCopyRoleProps.sourceAccount': 'the IAM trust policy of the role, no EC2 parameter',
  'CrossAccountCopyRoleProps.sourceStackName': 'the IAM trust and tag conditions of the role, no EC2 parameter',
  'CrossAccountCopyRoleProps.roleName': 'the IAM role name, no EC2 parameter',
  'CrossAccountCopyRoleProps.encryptionKeys': 'KMS permissions of the role, no EC2 parameter',
  'CrossAccountCopyRoleProps.sourceEncryptionKeys': 'KMS permissions of the role, no EC2 parameter',
  'CrossAccountCopyRole.isCrossAccountCopyRole': 'a construct type check, no EC2 parameter',
  'ImageProps.output': 'a CloudFormation output',
  'ImageProps.exportName': 'a CloudFormation export',
  'ImageProps.osType': 'what getImage() tells CDK, not sent to AWS',
  'ImageProps.userData': 'what getImage() tells CDK, not sent to AWS',
  'CopyOptions.sourceEncryptionKey': 'an IAM grant on a KMS key, no EC2 parameter',
  'StoreOptions.removalPolicy': 'a CloudFormation removal policy, applied by cdk-ami',
  'StoreOptions.sourceEncryptionKey': 'an IAM grant on a KMS key, no EC2 parameter',
  'StoreOptions.timeout': 'a cdk-ami wait, no EC2 parameter',
  'ImageAttributes.region': 'where cdk-ami calls EC2, no parameter',
  'ImageAttributes.osType': 'what getImage() tells CDK, not sent to AWS',
  'ImageAttributes.userData': 'what getImage() tells CDK, not sent to AWS',
  'BakedAmiProps.vpc': 'where the builder runs; its subnet (vpcSubnets) is the RunInstances parameter',
  'BakedAmiProps.setupTimeout': 'a cdk-ami wait, no EC2 parameter',
  'ImageTestOptions.vpc': 'where the test instance runs; its subnet (vpcSubnets) is the RunInstances parameter',
  'ImageTestOptions.timeout': 'a cdk-ami wait, no EC2 parameter',
  'Ami.fromImageId': 'a reference to an existing image, no EC2 call',
  'Ami.fromImageAttributes': 'a reference to an existing image, no EC2 call',
  'ImageBase.isImage': 'a type check',
  'ImageBase.getImage': 'what CDK launches from, no EC2 call',
  'ImageBase.applyRemovalPolicy': 'a CloudFormation removal policy, applied by cdk-ami',
};

interface Documented {
  /** `Interface.property` or `Class.method`. */
  readonly name: string;
  /** The `@see` targets of its docstring. */
  readonly sees: string[];
}

function sourceFiles(): ts.SourceFile[] {
  return readdirSync(SRC)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => ts.createSourceFile(f, readFileSync(path.join(SRC, f), 'utf8'), ts.ScriptTarget.Latest, true));
}

function seesOf(node: ts.Node): string[] {
  return ts.getJSDocCommentsAndTags(node)
    .flatMap((doc) => [...doc.getText().matchAll(/@see\s+(\S+)/g)].map((m) => m[1]));
}

function hasModifier(node: ts.Node, ...kinds: ts.SyntaxKind[]): boolean {
  return (ts.canHaveModifiers(node) ? ts.getModifiers(node) ?? [] : []).some((m) => kinds.includes(m.kind));
}

function isExported(node: ts.Node): boolean {
  return hasModifier(node, ts.SyntaxKind.ExportKeyword);
}

/** Public in the jsii sense: not private or protected, and not `_`-prefixed (internal). */
function isPublicMember(member: ts.ClassElement): boolean {
  const name = member.name?.getText() ?? '';
  return !hasModifier(member, ts.SyntaxKind.PrivateKeyword, ts.SyntaxKind.ProtectedKeyword) && !name.startsWith('_') && !name.startsWith('#');
}

/** Properties of the exported props/data interfaces (jsii structs: not named `I...`). */
function structProperties(files: ts.SourceFile[]): Documented[] {
  return files.flatMap((file) => file.statements
    .filter((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && isExported(s) && !/^I[A-Z]/.test(s.name.text))
    .flatMap((decl) => decl.members
      .filter(ts.isPropertySignature)
      .map((m) => ({ name: `${decl.name.text}.${m.name.getText()}`, sees: seesOf(m) }))));
}

/** Public methods with parameters, of exported classes. */
function methodsWithParameters(files: ts.SourceFile[]): Documented[] {
  return files.flatMap((file) => file.statements
    .filter((s): s is ts.ClassDeclaration => ts.isClassDeclaration(s) && isExported(s) && s.name !== undefined)
    .flatMap((decl) => decl.members
      .filter((m): m is ts.MethodDeclaration => ts.isMethodDeclaration(m) && isPublicMember(m) && m.parameters.length > 0)
      .map((m) => ({ name: `${decl.name!.text}.${m.name.getText()}`, sees: seesOf(m) }))));
}

/**
 * What lacks an EC2 reference, what has several (jsii keeps only the last
 * `@see` of a docstring, so API.md would lose the others), and what links
 * somewhere that is not the AWS documentation.
 */
function problems(members: Documented[], allowed: Record<string, string>): string[] {
  return members.flatMap((m) => [
    ...(m.sees.length === 0 && !(m.name in allowed) ? [`${m.name} has no @see link to the EC2 API reference`] : []),
    ...(m.sees.length > 1 ? [`${m.name} has ${m.sees.length} @see links: jsii keeps only the last, give one`] : []),
    ...m.sees.filter((see) => !AWS_DOCS.test(see)).map((see) => `${m.name} has @see ${see}, not an https://docs.aws.amazon.com/ URL`),
  ]);
}

describe('docstrings link the EC2 API reference', () => {
  const files = sourceFiles();
  const members = [...structProperties(files), ...methodsWithParameters(files)];

  test('finds the public props and methods', () => {
    const names = members.map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining([
      'ImageProps.description', 'CopyOptions.encryptionKey', 'StoreOptions.objectTags', 'ImageAttributes.imageId',
      'AmiFromInstanceProps.blockDevices', 'AmiFromSnapshotProps.blockDevices', 'BakedAmiProps.builderTags',
      'AmiFromInstanceProps.noReboot', 'RegistrationOptions.tpmSupport', 'BakedAmiProps.instanceType',
      'CopiedAmiProps.source', 'ImportedAmiProps.platform', 'RestoredAmiProps.objectKey', 'StoredAmiProps.bucket',
      'LaunchPermission.account', 'ImportDisk.fromBucket', 'CopyableImageBase.copyTo',
    ]));
    // Not the internal helpers of a construct file.
    expect(names.some((n) => n.startsWith('ImageBase._'))).toBe(false);
  });

  test('every prop or method that maps to an EC2 parameter has an @see link to AWS documentation', () => {
    expect(problems(members, NO_EC2_PARAMETER)).toEqual([]);
  });

  test('the allow-list names only members that exist and have no @see', () => {
    const byName = new Map(members.map((m) => [m.name, m]));
    const stale = Object.keys(NO_EC2_PARAMETER).filter((name) => !byName.has(name) || byName.get(name)!.sees.length > 0);
    expect(stale).toEqual([]);
  });

  test('every @see in the public sources points at https://docs.aws.amazon.com/', () => {
    const links = files.flatMap((file) => [...file.text.matchAll(/@see\s+(\S+)/g)].map((m) => `${file.fileName}: ${m[1]}`));
    expect(links.length).toBeGreaterThan(0);
    expect(links.filter((l) => !AWS_DOCS.test(l.split(': ')[1]))).toEqual([]);
  });

  test('the check fails on a prop without @see, on several, and on a link elsewhere', () => {
    const found = problems([
      { name: 'XProps.bare', sees: [] },
      { name: 'XProps.elsewhere', sees: ['http://example.com/API_CreateImage.html'] },
      { name: 'XProps.allowed', sees: [] },
      { name: 'XProps.twice', sees: ['https://docs.aws.amazon.com/a.html', 'https://docs.aws.amazon.com/b.html'] },
      { name: 'XProps.good', sees: ['https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateImage.html'] },
    ], { 'XProps.allowed': 'a test entry' });
    expect(found).toEqual([
      'XProps.bare has no @see link to the EC2 API reference',
      'XProps.elsewhere has @see http://example.com/API_CreateImage.html, not an https://docs.aws.amazon.com/ URL',
      'XProps.twice has 2 @see links: jsii keeps only the last, give one',
    ]);
  });
});
