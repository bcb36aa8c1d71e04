/**
 * Bundles the Lambda handlers in lambda/ into assets/provider/ (or the
 * directory given as the first argument): `npx projen bundle`.
 *
 * - index.js holds every handler; s3-objects.js (the S3 client, needed only to
 *   delete a stored image's object) is a file of its own that index.js loads
 *   on that path alone, so it adds nothing to every other cold start; so is
 *   ssm-parameters.js (the SSM client, for the parameter of an image in
 *   another Region).
 * - Minified CommonJS for the Lambda runtime (Node.js 24), with the SDK
 *   clients pinned in package.json inside. esbuild's output depends only on
 *   its inputs, so two builds give the same bytes and users' asset hashes
 *   stay stable.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build, Plugin } from 'esbuild';

const ROOT = path.join(__dirname, '..');
const DEFAULT_OUTDIR = path.join(ROOT, 'assets', 'provider');

/** A client's schema file: every shape of the service, of which a handler uses a few. */
const SCHEMA_FILE = /[\\/]@aws-sdk[\\/]client-[a-z0-9-]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/;
/** `const _xN = "xmlName";`: the shared strings at the top of a schema file. */
const STRING_CONSTANT = /^const (_[A-Za-z0-9_]+) = ("(?:[^"\\\n]|\\.)*");$/gm;
/** `{ [_xN]: _TSa }`: a trait object keyed by one of those constants. */
const COMPUTED_KEY = /\[(_[A-Za-z0-9_]+)\]:/g;

/**
 * Lets esbuild drop the shapes no handler uses. The SDK writes trait objects
 * with computed keys (`{ [_xN]: "Item" }`), and esbuild must assume that a
 * computed key can run code, so it keeps every shape of the service (over half
 * a megabyte for EC2, of which the handlers reach 135 shapes). The keys are
 * string constants of the same file: writing their values in their place
 * changes nothing at run time and makes every shape a pure literal.
 */
export function inlineSchemaKeys(source: string, file: string): string {
  const constants = new Map<string, string>();
  for (const match of source.matchAll(STRING_CONSTANT)) constants.set(match[1], match[2]);
  const unknown = new Set<string>();
  const result = source.replace(COMPUTED_KEY, (key, name: string) => {
    const value = constants.get(name);
    if (value === undefined) {
      unknown.add(name);
      return key;
    }
    return `${value}:`;
  });
  if (unknown.size > 0) {
    // A new SDK layout: fail the build rather than ship every shape unnoticed.
    throw new Error(`${file}: computed keys ${[...unknown].join(', ')} are not string constants of the file; update build-tools/bundle.ts.`);
  }
  return result;
}

const schemaKeys: Plugin = {
  name: 'inline-schema-keys',
  setup(esbuild) {
    esbuild.onLoad({ filter: SCHEMA_FILE }, async (args) => ({
      contents: inlineSchemaKeys(await fs.promises.readFile(args.path, 'utf8'), path.relative(ROOT, args.path)),
      loader: 'js',
    }));
  },
};

export async function bundle(outdir: string = DEFAULT_OUTDIR): Promise<void> {
  await build({
    absWorkingDir: ROOT,
    entryPoints: ['lambda/index.ts', 'lambda/s3-objects.ts', 'lambda/ssm-parameters.ts'],
    outdir,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    // The SDK's ES modules, so that unused commands and shapes can be dropped.
    mainFields: ['module', 'main'],
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
    external: ['./s3-objects', './ssm-parameters'],
    plugins: [schemaKeys],
  });
}

if (require.main === module) {
  bundle(process.argv[2] ? path.resolve(process.argv[2]) : undefined).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
