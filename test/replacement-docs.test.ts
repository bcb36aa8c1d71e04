/**
 * Which change replaces an image is decided by the contract's `createOnly`
 * marks (the handlers read nothing else). This test holds the README's
 * "changing it" tables and the props' docstrings to those marks, so the docs
 * cannot drift from what the handlers do.
 *
 * The formats it reads (docs/architecture.md, "Which changes replace", says
 * the same):
 * - README: a table with a "changing it" column is preceded by
 *   `<!-- changing-it: <Construct> -->` (or `<!-- changing-it: none (why) -->`
 *   when another test checks it, as BakedAmi's recipe table); its first
 *   cell names props in backticks; the row's other cells contain the word
 *   "replaces" exactly when those props replace the resource. A row mixing
 *   replacing and in-place props fails: split it.
 * - Docstrings: a prop that replaces says "Changing it (them) … replaces …"
 *   in one sentence; no other prop does.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { createOnlyProperties, OperationType, ResourceType, ResourceTypes, Schemas } from '../src/private/contract';

const ROOT = path.join(__dirname, '..');

/**
 * The one place that maps public props to the contract: per props interface,
 * the resource types it configures and, per prop, the properties it renders
 * on the resource whose replacement it decides ([] when it renders none
 * there: waiter settings, IAM grants, outputs). A renamed prop is one line
 * here; the first test below names any prop missing or stale.
 */
/** The image kinds: the resource types `ImageProps` configures. */
const OPERATION_TYPES: readonly OperationType[] = [
  ResourceTypes.AMI_FROM_INSTANCE, ResourceTypes.COPIED_AMI, ResourceTypes.AMI_FROM_SNAPSHOT, ResourceTypes.RESTORED_AMI, ResourceTypes.IMPORTED_AMI,
];

const PROPS: Record<string, { readonly types: readonly ResourceType[]; readonly props: Record<string, readonly string[]> }> = {
  ImageProps: {
    types: OPERATION_TYPES,
    props: {
      description: ['Description'],
      removalPolicy: ['RemovalPolicy'],
      timeout: [],
      output: [],
      exportName: [],
      parameterName: [],
      osType: [],
      userData: [],
      launchPermissions: [],
      dangerouslyMakePublic: [],
      shareSnapshots: [],
      deprecateAt: [],
      deprecateAfter: [],
      deregistrationProtection: [],
      tags: ['Tags'],
      snapshotTags: ['SnapshotTags'],
      requireImdsv2: ['ImdsSupport'],
      disableAt: [],
      fastLaunch: ['FastLaunch'],
      imageName: ['ImageName'],
      // A test gates the image's hand-over; it never changes the image.
      test: [],
    },
  },
  AmiFromInstanceProps: {
    types: [ResourceTypes.AMI_FROM_INSTANCE],
    props: {
      instance: ['InstanceId'],
      instanceId: ['InstanceId'],
      noReboot: ['NoReboot'],
      includeDataVolumes: ['IncludeDataVolumes'],
      instanceAction: [],
      blockDevices: ['BlockDevices'],
    },
  },
  CopyOptions: {
    types: [ResourceTypes.COPIED_AMI],
    props: {
      encrypted: ['Encrypted'],
      encryptionKey: ['KmsKeyId'],
      sourceEncryptionKey: [],
      copyTags: ['CopyImageTags'],
      completionDuration: ['CompletionDurationMinutes'],
      account: ['Account'],
      copyRole: ['RoleArn'],
    },
  },
  CopiedAmiProps: {
    types: [ResourceTypes.COPIED_AMI],
    props: { source: ['SourceImageId', 'SourceRegion'], region: ['Region'] },
  },
  AmiFromSnapshotProps: {
    types: [ResourceTypes.AMI_FROM_SNAPSHOT],
    props: {
      blockDevices: ['RootSnapshotId', 'RootDeviceName', 'RootVolume', 'DataVolumes', 'VolumeType'],
    },
  },
  RegistrationOptions: {
    types: [ResourceTypes.AMI_FROM_SNAPSHOT],
    props: {
      uefiData: ['UefiData'],
      architecture: ['Architecture'],
      bootMode: ['BootMode'],
      enaSupport: ['EnaSupport'],
      tpmSupport: ['TpmSupport'],
    },
  },
  // Its disks are imported by a Custom::ImportedSnapshots, and the image registered from them as an AmiFromSnapshot.
  AmiFromDisksProps: {
    types: [ResourceTypes.IMPORTED_SNAPSHOTS, ResourceTypes.AMI_FROM_SNAPSHOT],
    props: {
      disks: ['Disks', 'RootSnapshotId', 'RootDeviceName', 'RootVolume', 'DataVolumes', 'VolumeType'],
      encrypted: ['Encrypted'],
      encryptionKey: ['KmsKeyId'],
      role: ['RoleName'],
    },
  },
  ImportedAmiProps: {
    types: [ResourceTypes.IMPORTED_AMI],
    props: {
      disks: ['Disks'],
      architecture: ['Architecture'],
      platform: ['Platform'],
      bootMode: ['BootMode'],
      licenseType: ['LicenseType'],
      usageOperation: ['UsageOperation'],
      licenseConfigurationArns: ['LicenseConfigurationArns'],
      encrypted: ['Encrypted'],
      encryptionKey: ['KmsKeyId'],
      role: ['RoleName'],
    },
  },
  RestoredAmiProps: {
    types: [ResourceTypes.RESTORED_AMI],
    props: { bucket: ['Bucket'], objectKey: ['ObjectKey'], defaultEbsEncryptionKey: [] },
  },
  StoreOptions: {
    types: [ResourceTypes.STORED_AMI],
    props: { objectTags: ['ObjectTags'], removalPolicy: ['RemovalPolicy'], sourceEncryptionKey: [], timeout: [] },
  },
  StoredAmiProps: {
    types: [ResourceTypes.STORED_AMI],
    props: { image: ['ImageId'], bucket: ['Bucket'] },
  },
};

/** The props interfaces each construct takes (its README table may name any of their props). */
const CONSTRUCTS: Record<string, readonly string[]> = {
  AmiFromInstance: ['AmiFromInstanceProps', 'ImageProps'],
  CopiedAmi: ['CopiedAmiProps', 'CopyOptions', 'ImageProps'],
  AmiFromSnapshot: ['AmiFromSnapshotProps', 'RegistrationOptions', 'ImageProps'],
  AmiFromDisks: ['AmiFromDisksProps', 'RegistrationOptions', 'ImageProps'],
  ImportedAmi: ['ImportedAmiProps', 'ImageProps'],
  RestoredAmi: ['RestoredAmiProps', 'ImageProps'],
  StoredAmi: ['StoredAmiProps', 'StoreOptions'],
};

/** A docstring that says a change replaces the resource. */
const SAYS_REPLACES = /\bchanging (?:it|them)\b[^.]*\breplaces\b/i;
/** A README row that says a change replaces the resource. */
const ROW_SAYS_REPLACES = /\breplaces\b/i;

/**
 * Whether changing a prop of `iface` replaces the resource; throws when its
 * types disagree. Only the types that carry one of its properties decide.
 */
function replaces(iface: string, prop: string): boolean {
  const { types: all, props } = PROPS[iface];
  const types = all.filter((type) => props[prop].some((name) => name in Schemas[type]));
  const answers = new Set(types.map((type) => props[prop].some((name) => (createOnlyProperties(type) as string[]).includes(name))));
  if (answers.size > 1) throw new Error(`${iface}.${prop} replaces the resource of some types and not of others: document it per construct.`);
  return answers.has(true);
}

interface DocumentedProp {
  readonly iface: string;
  readonly prop: string;
  readonly doc: string;
}

/** The props of the mapped interfaces, with their docstrings, as the sources declare them. */
function documentedProps(): DocumentedProp[] {
  const files = ['image-options', 'ami-from-instance', 'copied-ami', 'registration', 'ami-from-snapshot', 'ami-from-disks', 'imported-ami', 'restored-ami', 'stored-ami']
    .map((f) => path.join(ROOT, 'src', `${f}.ts`));
  return files.flatMap((file) => {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    return source.statements
      .filter((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text in PROPS)
      .flatMap((decl) => decl.members.filter(ts.isPropertySignature).map((m) => ({
        iface: decl.name.text,
        prop: m.name.getText(),
        doc: ts.getJSDocCommentsAndTags(m).map((d) => d.getText()).join(' ').replace(/\s*\*\s*/g, ' '),
      })));
  });
}

interface ReadmeRow {
  readonly construct: string;
  readonly line: number;
  readonly props: string[];
  readonly rest: string;
}

/** The rows of every table the README marks `<!-- changing-it: Construct -->`. */
function readmeRows(readme: string): ReadmeRow[] {
  const lines = readme.split('\n');
  const rows: ReadmeRow[] = [];
  lines.forEach((line, i) => {
    const marker = /^<!--\s*changing-it:\s*(\w+)\s*-->$/.exec(line.trim());
    if (!marker) return;
    let j = i + 1;
    while (j < lines.length && lines[j].trim() === '') j++;
    // Skip the header row and the separator.
    for (j += 2; j < lines.length && lines[j].startsWith('|'); j++) {
      const [first, ...rest] = lines[j].split('|').slice(1, -1);
      const props = [...first.matchAll(/`([a-z][A-Za-z0-9]*)`/g)].map((m) => m[1]);
      rows.push({ construct: marker[1], line: j + 1, props, rest: rest.join('|') });
    }
  });
  return rows;
}

/** What is wrong with the rows, by the marks: one sentence each. */
function rowProblems(rows: ReadmeRow[]): string[] {
  return rows.flatMap((row) => {
    const ifaces = CONSTRUCTS[row.construct];
    if (!ifaces) return [`README line ${row.line}: ${row.construct} is not a construct this check knows.`];
    const problems: string[] = [];
    const verdicts = row.props.flatMap((prop) => {
      const iface = ifaces.find((i) => prop in PROPS[i].props);
      if (!iface) {
        problems.push(`README line ${row.line}: \`${prop}\` is not a prop of ${row.construct}.`);
        return [];
      }
      return [replaces(iface, prop)];
    });
    if (verdicts.length === 0) return problems;
    const says = ROW_SAYS_REPLACES.test(row.rest);
    if (new Set(verdicts).size > 1) {
      problems.push(`README line ${row.line}: ${row.props.join(', ')} mixes props that replace the ${row.construct} with props that do not: split the row.`);
    } else if (verdicts[0] !== says) {
      problems.push(`README line ${row.line}: ${row.props.join(', ')} of ${row.construct} ${verdicts[0] ? 'replace' : 'do not replace'} the resource, but the row ${says ? 'says' : 'does not say'} "replaces".`);
    }
    return problems;
  });
}

describe('the docs say which changes replace an image, as the contract marks them', () => {
  const documented = documentedProps();
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const rows = readmeRows(readme);

  test('the map names every prop of the interfaces, and only contract properties of their types', () => {
    const declared = documented.map((d) => `${d.iface}.${d.prop}`).sort();
    const mapped = Object.entries(PROPS).flatMap(([iface, { props }]) => Object.keys(props).map((p) => `${iface}.${p}`)).sort();
    expect(declared).toEqual(mapped);
    const unknown = Object.entries(PROPS).flatMap(([iface, { types, props }]) => Object.entries(props).flatMap(([prop, names]) =>
      names.filter((name) => !types.some((type) => name in Schemas[type])).map((name) => `${iface}.${prop} → ${name}`)));
    expect(unknown).toEqual([]);
  });

  test('a prop\'s docstring says "Changing it replaces" exactly when the contract marks what it renders createOnly', () => {
    const wrong = documented
      .filter((d) => replaces(d.iface, d.prop) !== SAYS_REPLACES.test(d.doc))
      .map((d) => `${d.iface}.${d.prop} ${replaces(d.iface, d.prop) ? 'replaces the resource; its docstring must say "Changing it replaces …"' : 'changes in place; its docstring must not say it replaces'}`);
    expect(wrong).toEqual([]);
  });

  test('every construct has a marked "changing it" table, and every row agrees with the marks', () => {
    expect([...new Set(rows.map((r) => r.construct))].sort()).toEqual(Object.keys(CONSTRUCTS).sort());
    expect(rowProblems(rows)).toEqual([]);
  });

  test('every README table with a "changing it" column is marked (BakedAmi\'s as checked elsewhere)', () => {
    const lines = readme.split('\n');
    const unmarked = lines.flatMap((line, i) => {
      const isHeader = line.startsWith('|') && /\bchanging it\b/i.test(line) && !lines[i - 1]?.startsWith('|');
      return isHeader && !/^<!--\s*changing-it:/.test(lines[i - 1] ?? '') ? [`README line ${i + 1}`] : [];
    });
    expect(unmarked).toEqual([]);
  });

  test('every image kind is replaced by a new Region, name or IMDSv2 setting; the waiters have no marks', () => {
    for (const type of OPERATION_TYPES) expect(createOnlyProperties(type)).toEqual(expect.arrayContaining(['Region', 'ImageName', 'NamePrefix', 'ImdsSupport']));
    expect(createOnlyProperties(ResourceTypes.WAITER)).toEqual([]);
    expect(createOnlyProperties(ResourceTypes.BUILDER_SETUP)).toEqual([]);
  });

  test('the checks fail on a row or a docstring that disagrees (else the tests above could not fail)', () => {
    const table = (row: string) => readmeRows(['<!-- changing-it: CopiedAmi -->', '', '| prop | default | changing it |', '|---|---|---|', row].join('\n'));
    expect(rowProblems(table('| `encryptionKey` | default key | needs `encrypted` |'))).toEqual([expect.stringMatching(/encryptionKey of CopiedAmi replace the resource, but the row does not say/)]);
    expect(rowProblems(table('| `copyRole` | none | replaces the copy |'))).toEqual([expect.stringMatching(/copyRole of CopiedAmi do not replace the resource, but the row says/)]);
    expect(rowProblems(table('| `imageName`, `description` | | |'))).toEqual([expect.stringMatching(/split the row/)]);
    expect(rowProblems(table('| `keyOfOldName` | | |'))).toEqual([expect.stringMatching(/`keyOfOldName` is not a prop of CopiedAmi/)]);
    expect(rowProblems(table('| `encryptionKey` | default key | replaces the copy when changed |'))).toEqual([]);
    expect(SAYS_REPLACES.test('The key. Changing it replaces the copy.')).toBe(true);
    expect(SAYS_REPLACES.test('What happens when it is removed or replaced. Changing it takes effect on the next delete.')).toBe(false);
  });
});
