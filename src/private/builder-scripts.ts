import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { SETUP_SUCCEEDED, Tags } from './contract';
import { AmiValidationError } from './errors';

/** Ends the here-document that carries the user's setup script onto the builder. */
export const LINUX_DELIMITER = 'CDK_AMI_SETUP_EOF';
/** EC2Launch v2's command line, on every Windows AMI that Amazon publishes. */
const EC2LAUNCH = '& "$env:ProgramFiles\\Amazon\\EC2Launch\\EC2Launch.exe"';

/** How validation messages name the script and the image it runs on. */
export interface ScriptField {
  /** The prop that holds the script, e.g. `setup`. */
  readonly field: string;
  /** The image it runs on, e.g. `the base image`. */
  readonly image: string;
  /** The instance it is carried to, e.g. `the builder`. */
  readonly instance: string;
  /** How to fix a Windows script on a Linux image. @default 'use ec2.UserData.forLinux()' */
  readonly linuxFix?: string;
}

const SETUP_FIELD: ScriptField = { field: 'setup', image: 'the base image', instance: 'the builder' };

/** The user's script as it is written to a file on the instance, checked against the script that carries it. */
export function setupBody(scope: Construct, setup: ec2.UserData, windows: boolean, what: ScriptField = SETUP_FIELD): string {
  const rendered = setup.render();
  if (windows) {
    const match = /^<powershell>([\s\S]*)<\/powershell>/.exec(rendered);
    if (!match) {
      throw new AmiValidationError(`${what.field} must be an ec2.UserData.forWindows() for a Windows ${what.image.replace(/^the /, '')}: its commands run in PowerShell.`, scope);
    }
    if (/^'@/m.test(match[1])) {
      throw new AmiValidationError(`${what.field} has a line starting with '@, which ends the PowerShell here-string that carries it to ${what.instance}: indent that line.`, scope);
    }
    return match[1];
  }
  if (rendered.startsWith('<powershell>')) {
    throw new AmiValidationError(`${what.field} is an ec2.UserData.forWindows(), but ${what.image} is Linux: ${what.linuxFix ?? 'use ec2.UserData.forLinux()'}.`, scope);
  }
  if (new RegExp(`^${LINUX_DELIMITER}$`, 'm').test(rendered)) {
    throw new AmiValidationError(`${what.field} has a line "${LINUX_DELIMITER}", which ends the here-document that carries it to ${what.instance}: rename it.`, scope);
  }
  return rendered.startsWith('#!') ? rendered : `#!/bin/bash\n${rendered}`;
}

/** What the builder's user data is made of. */
export interface ScriptParts {
  /** The recipe hash, on the second line: a new one replaces the builder. */
  readonly recipeHash: string;
  /** The Region the result tag is written in. */
  readonly region: string;
  /** The user's setup, as `setupBody` returns it. */
  readonly setup?: string;
  /** cfn-init's arguments that locate the builder's metadata (Region, stack, resource, config sets). */
  readonly init?: { readonly locator: string };
  /** Clean what must not be baked (Linux: cloud-init state, SSH host keys; both: the setup files). */
  readonly clean: boolean;
  /** Windows: generalize with sysprep after reporting, which shuts the builder down. */
  readonly sysprep?: boolean;
  /** An image's test instance, not a builder: it reports `Tags.TEST`, and its second line names the test. */
  readonly test?: boolean;
}

/** The commands of the builder's user data, for bash under cloud-init or PowerShell under EC2Launch v2. */
export function builderScript(windows: boolean, parts: ScriptParts): string[] {
  return windows ? windowsScript(parts) : linuxScript(parts);
}

/** The user data's second line: a comment in both bash and PowerShell, which changes with the recipe. */
function recipeLine(p: ScriptParts): string {
  return p.test
    ? `# cdk-ami test ${p.recipeHash}: a change to the test or its settings replaces this test instance and tests the image again.`
    : `# cdk-ami recipe ${p.recipeHash}: a change to the recipe replaces this builder and bakes a new image.`;
}

/** The tag (and console line) the instance reports its result with. */
function resultKey(p: ScriptParts): string {
  return p.test ? Tags.TEST : Tags.SETUP;
}

/**
 * The builder's user data on Linux (cloud-init runs it once, as root). Every
 * line of the setup's output also goes to the console, where the handler reads
 * the last lines of a failure; the result is reported last.
 */
function linuxScript(p: ScriptParts): string[] {
  const lines = [
    recipeLine(p),
    'CDK_AMI_DIR=/var/lib/cdk-ami',
    'mkdir -p "$CDK_AMI_DIR" && chmod 700 "$CDK_AMI_DIR"',
    'cdk_ami_report() {',
    p.test ? '  # The last step: the stack hands the image over once it reads "succeeded".'
      : '  # The last step: the stack images the builder once it reads "succeeded".',
    '  local token id',
    '  token=$(curl -sf -X PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 300")',
    '  id=$(curl -sf -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id)',
    '  if command -v aws >/dev/null 2>&1; then',
    `    aws ec2 create-tags --region ${p.region} --resources "$id" --tags "Key=${resultKey(p)},Value=$1" || echo "cdk-ami: could not tag $id; the console line reports the result"`,
    '  fi',
    `  echo "${resultKey(p)}=$1" | tee /dev/console`,
    '}',
  ];
  if (p.init) {
    lines.push(
      `/opt/aws/bin/cfn-init -v ${p.init.locator} 2>&1 | tee /dev/console`,
      'rc=${PIPESTATUS[0]}',
      'if [ "$rc" -ne 0 ]; then tail -n 40 /var/log/cfn-init.log > /dev/console; cdk_ami_report "failed:$rc"; exit "$rc"; fi',
    );
  }
  if (p.setup) {
    lines.push(
      `cat > "$CDK_AMI_DIR/setup" <<'${LINUX_DELIMITER}'`,
      p.setup,
      LINUX_DELIMITER,
      'chmod 700 "$CDK_AMI_DIR/setup"',
      '"$CDK_AMI_DIR/setup" 2>&1 | tee -a "$CDK_AMI_DIR/setup.log" > /dev/console',
      'rc=${PIPESTATUS[0]}',
      'if [ "$rc" -ne 0 ]; then cdk_ami_report "failed:$rc"; exit "$rc"; fi',
    );
  }
  if (p.clean) {
    lines.push(
      '# Not baked: per-instance cloud-init state and logs, SSH host keys (regenerated at first boot), the setup files.',
      'if command -v cloud-init >/dev/null 2>&1; then cloud-init clean --logs; fi',
      'rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub',
      'rm -rf "$CDK_AMI_DIR"',
    );
  }
  lines.push(`cdk_ami_report ${SETUP_SUCCEEDED}`);
  return lines;
}

/**
 * The builder's user data on Windows (EC2Launch v2 runs it once, as
 * Administrator). The result is a tag set with AWS Tools for PowerShell
 * (installed on Amazon's Windows AMIs) and a line on COM1, the console.
 */
function windowsScript(p: ScriptParts): string[] {
  const lines = [
    recipeLine(p),
    '$CdkAmiDir = Join-Path $env:ProgramData "cdk-ami"',
    'New-Item -ItemType Directory -Force -Path $CdkAmiDir | Out-Null',
    'function Write-CdkAmiConsole([string]$Line) {',
    '  try { $port = New-Object System.IO.Ports.SerialPort "COM1", 115200; $port.Open(); $port.WriteLine($Line); $port.Close() } catch { }',
    '}',
    'function Send-CdkAmiResult([string]$Result) {',
    '  try {',
    '    $token = Invoke-RestMethod -Method Put -Uri "http://169.254.169.254/latest/api/token" -Headers @{ "X-aws-ec2-metadata-token-ttl-seconds" = "300" }',
    '    $id = Invoke-RestMethod -Uri "http://169.254.169.254/latest/meta-data/instance-id" -Headers @{ "X-aws-ec2-metadata-token" = $token }',
    `    New-EC2Tag -Region "${p.region}" -Resource $id -Tag @{ Key = "${resultKey(p)}"; Value = $Result }`,
    '  } catch { Write-CdkAmiConsole "cdk-ami: could not tag the instance: $_" }',
    `  Write-CdkAmiConsole "${resultKey(p)}=$Result"`,
    '}',
  ];
  if (p.init) {
    lines.push(
      `cfn-init.exe -v ${p.init.locator}`,
      '$rc = $LASTEXITCODE',
      'if ($rc -ne 0) { Get-Content "C:\\cfn\\log\\cfn-init.log" -Tail 40 | ForEach-Object { Write-CdkAmiConsole $_ }; Send-CdkAmiResult "failed:$rc"; exit $rc }',
    );
  }
  if (p.setup) {
    lines.push(
      "$CdkAmiSetup = @'",
      p.setup,
      "'@",
      'Set-Content -Path (Join-Path $CdkAmiDir "setup.ps1") -Value $CdkAmiSetup',
      '& powershell.exe -NoProfile -ExecutionPolicy Bypass -File (Join-Path $CdkAmiDir "setup.ps1") *>&1 | Tee-Object -FilePath (Join-Path $CdkAmiDir "setup.log") | ForEach-Object { Write-CdkAmiConsole "$_" }',
      '$rc = $LASTEXITCODE',
      'if ($rc -ne 0) { Send-CdkAmiResult "failed:$rc"; exit $rc }',
    );
  }
  if (p.clean) lines.push('Remove-Item -Recurse -Force $CdkAmiDir');
  lines.push(`Send-CdkAmiResult ${SETUP_SUCCEEDED}`);
  if (p.sysprep) {
    lines.push(
      '# Generalizes Windows and shuts the builder down: the stack images it once it is stopped.',
      `${EC2LAUNCH} sysprep --clean --shutdown`,
    );
  }
  return lines;
}
