import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// examples/app.ts is the app the README points new users to: it must
// synthesize (with the aws-cdk-lib of this run) and contain what it shows.
test('the example app synthesizes', () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-ami-example-'));
  const previous = process.env.CDK_OUTDIR;
  process.env.CDK_OUTDIR = outdir;
  try {
    // Loading the module runs the app (it calls app.synth() itself).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    jest.isolateModules(() => require('../examples/app'));
  } finally {
    if (previous === undefined) delete process.env.CDK_OUTDIR; else process.env.CDK_OUTDIR = previous;
  }
  const template = JSON.parse(fs.readFileSync(path.join(outdir, 'CdkAmiExample.template.json'), 'utf8'));
  const types = Object.values(template.Resources as Record<string, { Type: string }>).map((r) => r.Type);
  expect(types.filter((t) => t === 'Custom::AmiFromInstance')).toHaveLength(1);
  expect(types.filter((t) => t === 'Custom::CopiedAmi')).toHaveLength(2);
  expect(types).toContain('AWS::EC2::LaunchTemplate');
  fs.rmSync(outdir, { recursive: true, force: true });
});
