import { MAX_TARBALL_BYTES, MAX_UNPACKED_BYTES, packageProblems, PackReport, REQUIRED } from '../build-tools/package-contents';

// `package:check` (end of `npx projen test`) runs packageProblems on the real
// `npm pack --dry-run --json`; here, on reports it must accept and refuse.
const good: PackReport = {
  files: [...REQUIRED, 'lib/image.js', 'lib/image.d.ts', 'lib/private/contract.js'].map((path) => ({ path, size: 1000 })),
  size: 700_000,
  unpackedSize: 2_900_000,
};

test('the allowlisted files within the bounds pass', () => {
  expect(packageProblems(good)).toEqual([]);
});

test('a work tree\'s stray files fail, named', () => {
  const report = { ...good, files: [...good.files, { path: '.tmp/latest-cdk/node_modules/aws-cdk-lib/package.json', size: 1 }, { path: 'rosetta/bare.ts-fixture', size: 1 }, { path: 'lib/index.ts', size: 1 }] };
  expect(packageProblems(report)).toEqual([
    '3 packed file(s) are not in the allowlist: .tmp/latest-cdk/node_modules/aws-cdk-lib/package.json, lib/index.ts, rosetta/bare.ts-fixture.',
  ]);
});

test('a missing handler bundle or jsii assembly fails', () => {
  const report = { ...good, files: good.files.filter((f) => f.path !== '.jsii' && f.path !== 'assets/provider/index.js') };
  expect(packageProblems(report)).toEqual(['.jsii is missing from the package.', 'assets/provider/index.js is missing from the package.']);
});

test('a package over the size bounds fails', () => {
  expect(packageProblems({ ...good, size: MAX_TARBALL_BYTES + 1, unpackedSize: MAX_UNPACKED_BYTES + 1 })).toEqual([
    expect.stringMatching(/^The tarball is 1\.50 MB, more than 1\.50 MB\.$/),
    expect.stringMatching(/^The package unpacks to 5\.00 MB, more than 5\.00 MB\.$/),
  ]);
});
