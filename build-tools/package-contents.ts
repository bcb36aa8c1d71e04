/**
 * What the published npm package may and must hold. The tarball is packed
 * from package.json's `files` allowlist (see .projenrc.ts); this is the
 * independent check of what came out, run by `package:check` at the end of
 * `npx projen test`.
 */

/** A file of `npm pack --dry-run --json`. */
export interface PackedFile {
  readonly path: string;
  readonly size: number;
}

/** What `npm pack --dry-run --json` reports of one package. */
export interface PackReport {
  readonly files: PackedFile[];
  /** The gzipped tarball, in bytes. */
  readonly size: number;
  /** All files unpacked, in bytes. */
  readonly unpackedSize: number;
}

/** Every packed path must match one of these. */
export const ALLOWED: readonly RegExp[] = [
  /^package\.json$/,
  /^README\.md$/,
  /^LICENSE$/,
  /^API\.md$/,
  /^\.jsii$/,
  /^lib\/.+\.(js|d\.ts)$/,
  /^assets\/provider\/[^/]+\.js$/,
];

/** What a user's app needs at run time and jsii's other languages need to generate. */
export const REQUIRED: readonly string[] = [
  'package.json', 'README.md', 'LICENSE', 'API.md', '.jsii',
  'lib/index.js', 'lib/index.d.ts',
  // The handler bundle the provider's Lambda functions deploy (build-tools/bundle.ts).
  'assets/provider/index.js', 'assets/provider/s3-objects.js', 'assets/provider/ssm-parameters.js',
];

/**
 * Bounds with room for growth: today the tarball is about 0.7 MB and 2.7 MB
 * unpacked, most of it the handler bundle (three minified files with the SDK
 * clients) and the jsii assembly. A stray directory (a node_modules) is tens of MB.
 */
export const MAX_TARBALL_BYTES = 1.5 * 1024 * 1024;
export const MAX_UNPACKED_BYTES = 5 * 1024 * 1024;

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`;

/** Every way the report differs from the allowlist and the bounds, one sentence each; empty when it is right. */
export function packageProblems(report: PackReport): string[] {
  const problems: string[] = [];
  const paths = new Set(report.files.map((f) => f.path));
  const unexpected = [...paths].filter((p) => !ALLOWED.some((re) => re.test(p))).sort();
  if (unexpected.length > 0) {
    const shown = unexpected.slice(0, 10).join(', ');
    problems.push(`${unexpected.length} packed file(s) are not in the allowlist: ${shown}${unexpected.length > 10 ? ', …' : ''}.`);
  }
  for (const required of REQUIRED) {
    if (!paths.has(required)) problems.push(`${required} is missing from the package.`);
  }
  if (report.size > MAX_TARBALL_BYTES) {
    problems.push(`The tarball is ${mb(report.size)}, more than ${mb(MAX_TARBALL_BYTES)}.`);
  }
  if (report.unpackedSize > MAX_UNPACKED_BYTES) {
    problems.push(`The package unpacks to ${mb(report.unpackedSize)}, more than ${mb(MAX_UNPACKED_BYTES)}.`);
  }
  return problems;
}
