import { execFileSync, spawnSync } from 'node:child_process';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { newStack } from './util';
import { builderScript, LINUX_DELIMITER, ScriptParts, setupBody } from '../src/private/builder-scripts';
import { SETUP_SUCCEEDED, Tags } from '../src/private/contract';

const HASH = '0123456789abcdef0123456789abcdef';
const LOCATOR = '--region us-east-1 --stack Stack --resource WebBuilder0123 -c default';

/** Every combination of the script's parts: cfn-init, a setup (with or without its own #!), cleaning. */
function variants(): [string, ScriptParts][] {
  const setups: [string, string | undefined][] = [
    ['no setup', undefined],
    ['a setup', '#!/bin/bash\ndnf install -y nginx\n'],
    ['a python setup', '#!/usr/bin/env python3\nprint("hi")\n'],
  ];
  const out: [string, ScriptParts][] = [];
  for (const init of [false, true]) {
    for (const [setupName, setup] of setups) {
      if (!init && !setup) continue;
      for (const clean of [true, false]) {
        out.push([`${init ? 'cfn-init' : 'no cfn-init'}, ${setupName}, ${clean ? 'clean' : 'no clean'}`, {
          recipeHash: HASH, region: 'us-east-1', setup, init: init ? { locator: LOCATOR } : undefined, clean,
        }]);
      }
    }
  }
  // An image's test: the commands only, reported as cdk-ami:test.
  out.push(['an image\'s test', { recipeHash: HASH, region: 'us-east-1', setup: '#!/bin/bash\ncurl -fsS http://localhost/\n', clean: false, test: true }]);
  return out;
}

function linuxUserData(parts: ScriptParts): string {
  const userData = ec2.UserData.forLinux();
  userData.addCommands(...builderScript(false, parts));
  return userData.render();
}

describe('an image\'s test instance: the same wrapping, its own result tag', () => {
  const testParts: ScriptParts = { recipeHash: HASH, region: 'us-east-1', setup: 'curl -fsS http://localhost/', clean: false, test: true };
  test.each([false, true])('windows %s: reports cdk-ami:test (tag and console), never cdk-ami:setup, and names the test on the second line', (windows) => {
    const script = builderScript(windows, testParts).join('\n');
    expect(script.split('\n')[0]).toBe(`# cdk-ami test ${HASH}: a change to the test or its settings replaces this test instance and tests the image again.`);
    expect(script).toContain(Tags.TEST);
    expect(script).not.toContain(Tags.SETUP);
    expect(script).not.toMatch(/sysprep|cloud-init clean/);
  });
});

describe('the builder\'s bash user data', () => {
  // CI installs shellcheck (.ci/run): a missing one fails here rather than skipping the check.
  test('shellcheck is installed', () => {
    expect(spawnSync('shellcheck', ['--version']).status).toBe(0);
  });

  test.each(variants())('shellcheck finds nothing: %s', (_what, parts) => {
    const script = linuxUserData(parts);
    const result = spawnSync('shellcheck', ['--shell=bash', '--format=gcc', '-'], { input: script, encoding: 'utf8' });
    expect(result.error).toBeUndefined();
    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
  });

  test('bash parses it; the recipe hash is on the second line and the report comes last', () => {
    const script = linuxUserData({ recipeHash: HASH, region: 'us-east-1', setup: '#!/bin/bash\necho hi\n', clean: true });
    execFileSync('bash', ['-n'], { input: script });
    const lines = script.trimEnd().split('\n');
    expect(lines[1]).toBe(`# cdk-ami recipe ${HASH}: a change to the recipe replaces this builder and bakes a new image.`);
    expect(lines.at(-1)).toBe(`cdk_ami_report ${SETUP_SUCCEEDED}`);
    expect(script).toContain(`echo "${Tags.SETUP}=$1" | tee /dev/console`);
    // The setup travels in a quoted here-document: nothing in it is expanded by the outer script.
    expect(script).toContain(`<<'${LINUX_DELIMITER}'\n#!/bin/bash\necho hi\n\n${LINUX_DELIMITER}\n`);
  });

  test('the cleaning runs after the setup and before the report, and only with clean', () => {
    const clean = linuxUserData({ recipeHash: HASH, region: 'us-east-1', setup: 'echo hi\n', clean: true });
    const cleanAt = clean.indexOf('cloud-init clean --logs');
    expect(cleanAt).toBeGreaterThan(clean.indexOf(LINUX_DELIMITER));
    expect(clean.indexOf('rm -f /etc/ssh/ssh_host_*_key')).toBeGreaterThan(cleanAt);
    expect(clean.lastIndexOf('cdk_ami_report')).toBeGreaterThan(clean.indexOf('rm -rf "$CDK_AMI_DIR"'));
    const kept = linuxUserData({ recipeHash: HASH, region: 'us-east-1', setup: 'echo hi\n', clean: false });
    expect(kept).not.toContain('cloud-init clean');
    expect(kept).not.toContain('ssh_host_');
  });
});

describe('the builder\'s PowerShell user data', () => {
  const parts = (sysprep: boolean): ScriptParts => ({
    recipeHash: HASH, region: 'eu-west-1', setup: 'Install-WindowsFeature Web-Server\n', init: { locator: LOCATOR }, clean: true, sysprep,
  });

  test('cfn-init, then the setup from a here-string, then the result as a tag and on COM1, then sysprep', () => {
    const script = builderScript(true, parts(true)).join('\n');
    expect(script.indexOf(`cfn-init.exe -v ${LOCATOR}`)).toBeLessThan(script.indexOf("$CdkAmiSetup = @'\nInstall-WindowsFeature Web-Server\n\n'@"));
    expect(script).toContain(`New-EC2Tag -Region "eu-west-1" -Resource $id -Tag @{ Key = "${Tags.SETUP}"; Value = $Result }`);
    expect(script.indexOf(`Send-CdkAmiResult ${SETUP_SUCCEEDED}`)).toBeLessThan(script.indexOf('EC2Launch.exe" sysprep --clean --shutdown'));
  });

  test('without sysprep, the report is last', () => {
    const lines = builderScript(true, parts(false));
    expect(lines.join('\n')).not.toContain('sysprep');
    expect(lines.at(-1)).toBe(`Send-CdkAmiResult ${SETUP_SUCCEEDED}`);
  });
});

describe('setupBody', () => {
  const scope = () => newStack();
  const linux = (...commands: string[]) => {
    const u = ec2.UserData.forLinux();
    u.addCommands(...commands);
    return u;
  };
  const windows = (...commands: string[]) => {
    const u = ec2.UserData.forWindows();
    u.addCommands(...commands);
    return u;
  };

  test('keeps a Linux setup\'s #! and unwraps a Windows setup\'s <powershell>', () => {
    expect(setupBody(scope(), linux('echo hi'), false)).toBe('#!/bin/bash\necho hi');
    expect(setupBody(scope(), ec2.UserData.custom('#!/usr/bin/env python3\nprint(1)'), false)).toBe('#!/usr/bin/env python3\nprint(1)');
    expect(setupBody(scope(), windows('Write-Host hi'), true)).toBe('Write-Host hi');
  });

  test.each<[string, () => string]>([
    ['the here-document end', () => setupBody(scope(), linux(LINUX_DELIMITER), false)],
    ['the here-string end', () => setupBody(scope(), windows("'@"), true)],
    ['a Windows setup on Linux', () => setupBody(scope(), windows('x'), false)],
    ['a Linux setup on Windows', () => setupBody(scope(), linux('x'), true)],
  ])('refuses %s', (_what, call) => {
    expect(call).toThrow(/^setup /);
  });
});
