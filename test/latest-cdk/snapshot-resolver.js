// See jest.config.js: snapshots of the latest-aws-cdk-lib run live in .tmp/latest-cdk.
const path = require('node:path');

const dir = path.join(__dirname, '..', '..', '.tmp', 'latest-cdk', '__snapshots__');

module.exports = {
  resolveSnapshotPath: (testPath, extension) => path.join(dir, path.basename(testPath) + extension),
  resolveTestPath: (snapshotPath, extension) => path.join(__dirname, '..', path.basename(snapshotPath, extension)),
  testPathForConsistencyCheck: path.join(__dirname, '..', 'example.test.ts'),
};
