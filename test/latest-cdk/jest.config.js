// The construct tests (test/*.test.ts) against the compiled library in lib/
// and the latest aws-cdk-lib, constructs and cdk-nag 3, which the
// `test:latest-cdk` task installs into .tmp/latest-cdk. The normal `jest` run
// covers the minimum aws-cdk-lib (the devDependency) with cdk-nag 2.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const base = require(path.join(root, 'package.json')).jest;
const latest = '<rootDir>/.tmp/latest-cdk/node_modules';

// lib/ is what users install: a stale one would test yesterday's code.
const newest = (dir) => fs.readdirSync(dir, { withFileTypes: true, recursive: true })
  .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
  .reduce((t, e) => Math.max(t, fs.statSync(path.join(e.parentPath ?? e.path, e.name)).mtimeMs), 0);
const lib = path.join(root, 'lib', 'index.js');
if (!fs.existsSync(lib) || fs.statSync(lib).mtimeMs < newest(path.join(root, 'src'))) {
  throw new Error('lib/ is missing or older than src/: run `npx projen compile` first.');
}

module.exports = {
  ...base,
  rootDir: root,
  testMatch: ['<rootDir>/test/*.test.ts'],
  // bundle.test.ts checks the handler bundle, which does not depend on aws-cdk-lib.
  testPathIgnorePatterns: [...base.testPathIgnorePatterns, '/test/bundle\\.test\\.ts$'],
  collectCoverage: false,
  // The main config hides .tmp/ (this run's packages and snapshots) from the main run.
  modulePathIgnorePatterns: [],
  moduleNameMapper: {
    '^aws-cdk-lib$': `${latest}/aws-cdk-lib`,
    '^aws-cdk-lib/(.*)$': `${latest}/aws-cdk-lib/$1`,
    '^constructs$': `${latest}/constructs`,
    '^cdk-nag$': `${latest}/cdk-nag`,
    '^cdk-nag/(.*)$': `${latest}/cdk-nag/$1`,
    '^\\.\\./src$': '<rootDir>/lib',
    '^\\.\\./src/(.*)$': '<rootDir>/lib/$1',
  },
  // Template snapshots pin the minimum aws-cdk-lib's output; here they are
  // only written (into .tmp/latest-cdk, emptied before each run), not compared.
  snapshotResolver: '<rootDir>/test/latest-cdk/snapshot-resolver.js',
  reporters: ['default', ['jest-junit', { outputDirectory: 'test-reports', outputName: 'junit-latest-cdk.xml' }]],
};
