import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Fn, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';
import * as ts from 'typescript';
import * as cdkAmi from '../src';

// The README's TypeScript examples are what users copy: each ```ts block must
// type-check against src/ as it is now, and synthesize without an error. jsii-rosetta compiles them too, but
// only after a full jsii compile; test:latest-cdk runs this file again with
// the latest aws-cdk-lib. Each block is wrapped in the rosetta fixture its
// info string names, as rosetta does, so both checks see the same program.

const ROOT = path.join(__dirname, '..');
const README = path.join(ROOT, 'README.md');

/** An HTML comment right before a block opts it out, with its reason. */
const SKIP = /^<!--\s*readme-test:\s*skip\s*\((.+)\)\s*-->$/;
const HERE = /^[ \t]*\/\/\/[ \t]*here[ \t]*$/;

interface Block {
  /** 1-based line of the opening fence in README.md. */
  readonly line: number;
  readonly heading: string;
  readonly fixture: string;
  readonly lines: string[];
  readonly skip?: string;
}

function tsBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  let heading = '(top)';
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\S*)(.*)$/.exec(lines[i]);
    if (!fence) {
      const h = /^#+\s+(.*)$/.exec(lines[i]);
      if (h) heading = h[1].trim();
      continue;
    }
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i].startsWith('```'); i++) body.push(lines[i]);
    if (fence[1] !== 'ts' && fence[1] !== 'typescript') continue;
    let before = start - 1;
    while (before >= 0 && lines[before].trim() === '') before--;
    const skip = before >= 0 ? SKIP.exec(lines[before].trim())?.[1] : undefined;
    const fixture = /\bfixture=(\S+)/.exec(fence[2])?.[1] ?? 'default';
    blocks.push({ line: start + 1, heading, fixture, lines: body, skip });
  }
  return blocks;
}

interface Generated {
  readonly text: string;
  /** README line of each generated line (undefined: a fixture line). */
  readonly origin: Array<number | undefined>;
}

/**
 * The block inside its fixture (rosetta/<name>.ts-fixture, at `/// here`).
 * As jsii-rosetta does, imports and `declare` statements move to the top:
 * they are not allowed inside the fixture's constructor.
 */
function fixturize(block: Block): Generated {
  const fixture = fs.readFileSync(path.join(ROOT, 'rosetta', `${block.fixture}.ts-fixture`), 'utf8').split('\n');
  const here = fixture.findIndex((l) => HERE.test(l));
  if (here < 0) throw new Error(`rosetta/${block.fixture}.ts-fixture has no '/// here' line`);
  const source = ts.createSourceFile('block.ts', block.lines.join('\n'), ts.ScriptTarget.Latest, true);
  const hoisted = new Set<number>();
  for (const statement of source.statements) {
    const declared = ts.isVariableStatement(statement)
      && statement.modifiers?.some((m) => m.kind === ts.SyntaxKind.DeclareKeyword);
    if (!ts.isImportDeclaration(statement) && !ts.isImportEqualsDeclaration(statement) && !declared) continue;
    const first = source.getLineAndCharacterOfPosition(statement.getStart(source)).line;
    const last = source.getLineAndCharacterOfPosition(statement.getEnd()).line;
    for (let l = first; l <= last; l++) hoisted.add(l);
  }
  const readmeLine = (l: number) => block.line + 1 + l;
  const out: Array<[string, number | undefined]> = [];
  block.lines.forEach((text, l) => { if (hoisted.has(l)) out.push([text, readmeLine(l)]); });
  fixture.slice(0, here).forEach((text) => out.push([text, undefined]));
  block.lines.forEach((text, l) => { if (!hoisted.has(l)) out.push([text, readmeLine(l)]); });
  fixture.slice(here + 1).forEach((text) => out.push([text, undefined]));
  // Every block is its own module, even one without imports.
  out.push(['export {};', undefined]);
  return { text: out.map(([text]) => text).join('\n'), origin: out.map(([, origin]) => origin) };
}

/**
 * Where the examples' modules come from: jest's resolution, so that the
 * `test:latest-cdk` run (its moduleNameMapper) checks them against the latest
 * aws-cdk-lib and the compiled lib/, and the normal run against src/.
 */
function modulePaths(): ts.MapLike<string[]> {
  const cdkLib = path.dirname(require.resolve('aws-cdk-lib/package.json'));
  const constructs = path.dirname(require.resolve('constructs/package.json'));
  const library = require.resolve('../src').replace(/\.(js|ts)$/, '');
  return {
    'cdk-ami': [library],
    'aws-cdk-lib': [cdkLib],
    'aws-cdk-lib/*': [path.join(cdkLib, '*')],
    'constructs': [constructs],
  };
}

/** The project's compiler options, with the modules of `modulePaths()`. */
function compilerOptions(): ts.CompilerOptions {
  const config = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  return {
    ...options,
    noEmit: true,
    rootDir: undefined,
    outDir: undefined,
    // An example may name a value it does not use further (`const copy = ...`).
    noUnusedLocals: false,
    noUnusedParameters: false,
    // What a CDK app has; not jest's globals.
    types: ['node'],
    paths: modulePaths(),
  };
}

function format(d: ts.Diagnostic): string {
  return `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
}

interface Checked {
  /** The program's own problems (options, missing libraries). */
  readonly global: string[];
  /** README line of a block → its diagnostics. */
  readonly blocks: Map<number, string[]>;
}

/** Type-checks every block in one program (one type-check of src/ and aws-cdk-lib for all). */
function checkBlocks(blocks: Block[]): Checked {
  const files = new Map<string, { block: Block; generated: Generated }>();
  for (const block of blocks) {
    files.set(path.join(ROOT, `README.md.line-${block.line}.ts`), { block, generated: fixturize(block) });
  }
  const options = compilerOptions();
  const host = ts.createCompilerHost(options, true);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (f) => files.has(f) || fileExists.call(host, f);
  host.readFile = (f) => files.get(f)?.generated.text ?? readFile.call(host, f);
  host.getSourceFile = (f, languageVersion, ...rest) => {
    const file = files.get(f);
    return file
      ? ts.createSourceFile(f, file.generated.text, languageVersion, true)
      : getSourceFile.call(host, f, languageVersion, ...rest);
  };
  const program = ts.createProgram([...files.keys()], options, host);
  const global = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()].map(format);
  const result = new Map<number, string[]>();
  for (const [fileName, { block, generated }] of files) {
    const sourceFile = program.getSourceFile(fileName)!;
    const diagnostics = [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)];
    result.set(block.line, diagnostics.map((d) => {
      if (d.start === undefined) return format(d);
      const line = sourceFile.getLineAndCharacterOfPosition(d.start).line;
      const where = generated.origin[line] !== undefined ? `README.md:${generated.origin[line]}` : `rosetta/${block.fixture}.ts-fixture`;
      return `${where}: ${format(d)}`;
    }));
  }
  return { global, blocks: result };
}

const markdown = fs.readFileSync(README, 'utf8');
const blocks = tsBlocks(markdown);
const checked = blocks.filter((b) => b.skip === undefined);

// A wrong example checked in the same program: the check must report it, at
// its line, or it would pass whatever the README says.
const CANARY: Block = {
  line: 0,
  heading: 'canary',
  fixture: 'bare',
  lines: [
    "import { AmiFromInstance } from 'cdk-ami';",
    "new AmiFromInstance(this, 'Misspelled', { instanceID: 'i-0123456789abcdef0' });",
  ],
};

let result: Checked;
beforeAll(() => {
  result = checkBlocks([...checked, CANARY]);
});

test('README.md has TypeScript examples to check, and the compiler options are valid', () => {
  expect(checked.length).toBeGreaterThan(0);
  // An indented fence (in a list item) would otherwise be missed silently.
  const fences = markdown.split('\n').filter((l) => /^\s*```(ts|typescript)\b/.test(l));
  expect(fences).toHaveLength(blocks.length);
  expect(result.global).toEqual([]);
});

test('a misspelled prop fails the check, at its README line', () => {
  expect(result.blocks.get(CANARY.line)).toEqual([
    expect.stringMatching(/^README\.md:2: TS2561: .*'instanceID' does not exist in type 'AmiFromInstanceProps'/),
  ]);
});

const cdkLibVersion = JSON.parse(fs.readFileSync(require.resolve('aws-cdk-lib/package.json'), 'utf8')).version;
const against = `cdk-ami from ${path.relative(ROOT, modulePaths()['cdk-ami'][0])}, aws-cdk-lib ${cdkLibVersion}`;
describe(`README.md TypeScript examples compile (${against})`, () => {
  test.each(checked.map((b) => [`line ${b.line} (${b.heading})`, b] as const))('%s', (_name, block) => {
    expect(result.blocks.get(block.line)).toEqual([]);
  });
});

/**
 * What a `declare const name: Type;` of an example stands for when it runs:
 * the simplest value a user could have there, made in the example's stack
 * (`scope`), or in a stack of its own for an example that is a whole app.
 */
const DECLARED: Record<string, (scope: Construct, id: string) => unknown> = {
  // The zones are the Region's first two at deploy time, as a VPC a user passes usually has: literal
  // zone names would land in every instance's AvailabilityZone, which aws-cdk-lib's template
  // validation (2.278.0) reports as hard-coded (CloudFormation-Validate W3010), for no example's fault.
  'ec2.IVpc': (scope, id) => ec2.Vpc.fromVpcAttributes(scope, id, {
    vpcId: 'vpc-0123456789abcdef0',
    availabilityZones: [Fn.select(0, Fn.getAzs()), Fn.select(1, Fn.getAzs())],
    publicSubnetIds: ['subnet-0000000000000000a', 'subnet-0000000000000000b'],
    privateSubnetIds: ['subnet-0000000000000000c', 'subnet-0000000000000000d'],
  }),
  's3.IBucket': (scope, id) => s3.Bucket.fromBucketName(scope, id, `readme-${id.toLowerCase()}`),
  'ec2.LaunchTemplate': (scope, id) => new ec2.LaunchTemplate(scope, id, { instanceType: new ec2.InstanceType('t3.small'), requireImdsv2: true }),
  'AmiFromInstance': (scope, id) => new cdkAmi.AmiFromInstance(scope, id, { instanceId: 'i-0123456789abcdef0' }),
};

const DECLARE = /^([ \t]*)declare const (\w+): ([\w.]+);[ \t]*$/;

/**
 * Runs a block as a user would: in its fixture's stack, in a new App, then
 * `app.synth()`. An example that is a whole app (fixture=app) names its App
 * `app`. Returns what went wrong, or an empty list.
 */
function synthesize(block: Block): string[] {
  const lines = block.lines.map((line) => {
    const declared = DECLARE.exec(line);
    return declared ? `${declared[1]}const ${declared[2]} = __declared(this, '${declared[2]}', '${declared[3]}');` : line;
  });
  const generated = fixturize({ ...block, lines });
  const js = ts.transpileModule(`${generated.text}
if (typeof Fixture !== 'undefined') __synth(new Fixture(new __App(), 'Example').node.root);
else __synth(typeof app === 'undefined' ? undefined : app);
`, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020 } }).outputText;

  let assembly: cxapi.CloudAssembly | undefined;
  const declared = (scope: unknown, name: string, type: string) => {
    const make = DECLARED[type];
    if (!make) throw new Error(`README.md:${block.line}: no value for \`declare const ${name}: ${type}\`; add one to DECLARED in test/readme.test.ts.`);
    return make(Construct.isConstruct(scope) ? scope : new Stack(new App(), 'Declared'), name);
  };
  const synth = (app: unknown) => {
    if (!(app instanceof App)) throw new Error('the example makes no App named `app` to synthesize');
    assembly = app.synth();
  };
  // The examples' imports: cdk-ami is src/ (lib/ in test:latest-cdk, whose moduleNameMapper maps both).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const load = (id: string) => (id === 'cdk-ami' ? cdkAmi : require(id));
  try {
    new Function('require', 'exports', '__declared', '__synth', '__App', js)(load, {}, declared, synth, App);
  } catch (e) {
    return [`README.md:${block.line}: ${(e as Error).message}`];
  }
  const errors = assembly!.stacks.flatMap((stack) => stack.messages
    .filter((m) => m.level === cxapi.SynthesisMessageLevel.ERROR)
    .map((m) => `README.md:${block.line}: ${m.id}: ${m.entry.data}`));
  return [...errors, ...assembly!.stacks.flatMap((stack) => undeployable(block, stack))];
}

/**
 * What CloudFormation refuses that synth lets through: a dependency cycle
 * (aws-cdk-lib's assertions check each template for one, as a deployment would fail on it).
 */
function undeployable(block: Block, stack: cxapi.CloudFormationStackArtifact): string[] {
  try {
    Template.fromJSON(stack.template);
    return [];
  } catch (e) {
    return [`README.md:${block.line}: stack ${stack.stackName}: ${(e as Error).message.split('\n')[0]}`];
  }
}

// An example that type-checks but throws at synth, as issue #22's setupTimeout did.
const THROWS: Block = {
  line: 0,
  heading: 'canary',
  fixture: 'bare',
  lines: [
    "import { Duration } from 'aws-cdk-lib';",
    "import { AmiFromInstance } from 'cdk-ami';",
    "new AmiFromInstance(this, 'TooLong', { instanceId: 'i-0123456789abcdef0', timeout: Duration.hours(72) });",
  ],
};

test('an example that throws at synth fails, with its message', () => {
  expect(synthesize(THROWS)).toEqual(['README.md:0: timeout 3 days is out of range: it must be between 1 minute and 48 hours.']);
});

// An example that synthesizes a template CloudFormation refuses, as the layered BakedAmi example did.
const CYCLE: Block = {
  line: 0,
  heading: 'canary',
  fixture: 'bare',
  lines: [
    "import { CfnResource } from 'aws-cdk-lib';",
    "const first = new CfnResource(this, 'First', { type: 'AWS::SNS::Topic' });",
    "const second = new CfnResource(this, 'Second', { type: 'AWS::SNS::Topic', properties: { TopicName: first.ref } });",
    'first.addDependency(second);',
  ],
};

test('an example whose template has a dependency cycle fails, naming the stack and the cycle', () => {
  expect(synthesize(CYCLE)).toEqual([expect.stringMatching(/^README\.md:0: stack Example: Template is undeployable, these resources have a dependency cycle: .*First.*Second/)]);
});

describe(`README.md TypeScript examples synthesize (${against})`, () => {
  test.each(checked.map((b) => [`line ${b.line} (${b.heading})`, b] as const))('%s', (_name, block) => {
    expect(synthesize(block)).toEqual([]);
  });
});

const skipped = blocks.filter((b) => b.skip !== undefined);
if (skipped.length > 0) {
  describe('README.md examples opted out', () => {
    test.skip.each(skipped.map((b) => [`line ${b.line} (${b.heading}): ${b.skip}`]))('%s', () => {});
  });
}
