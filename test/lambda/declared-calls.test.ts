import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { DECLARED_CALLS } from './declared-calls';
import { undeclaredCallsSent } from './helpers';

const LAMBDA_DIR = path.join(__dirname, '..', '..', 'lambda');
const SERVICES: Record<string, string> = {
  'client-ec2': 'ec2', 'client-s3': 's3', 'client-cloudformation': 'cloudformation', 'client-ssm': 'ssm', 'client-sts': 'sts',
};

function handlerModules(dir = LAMBDA_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory()) return handlerModules(path.join(dir, e.name));
    return e.name.endsWith('.ts') ? [path.relative(LAMBDA_DIR, path.join(dir, e.name))] : [];
  });
}

/** The actions of the SDK commands a module's source constructs (`new CopyImageCommand(`). */
function commandsIn(file: string): string[] {
  const source = readFileSync(path.join(LAMBDA_DIR, file), 'utf8');
  const serviceOf = new Map<string, string>();
  for (const m of source.matchAll(/import \{([^}]*)\} from '@aws-sdk\/([\w-]+)'/g)) {
    for (const name of m[1].split(',').map((n) => n.trim())) serviceOf.set(name, SERVICES[m[2]]);
  }
  const commands = [...source.matchAll(/new (\w+Command)\(/g)].map((m) => m[1]);
  return [...new Set(commands.map((c) => `${serviceOf.get(c)}:${c.replace(/Command$/, '')}`))].sort();
}

describe('declared calls', () => {
  test.each(handlerModules())('%s declares exactly the commands it constructs', (file) => {
    const sent = commandsIn(file);
    expect([...(DECLARED_CALLS[file] ?? [])].sort()).toEqual(sent);
  });

  test('a handler test fails when a command no module declares is sent', async () => {
    const mock = mockClient(EC2Client);
    try {
      mock.on(RunInstancesCommand).resolves({});
      await new EC2Client({ region: 'us-east-1' }).send(new RunInstancesCommand({ MinCount: 1, MaxCount: 1 }));
      expect(undeclaredCallsSent()).toEqual(['ec2:RunInstances']);
    } finally {
      mock.restore();
    }
  });
});
