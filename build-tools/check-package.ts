/**
 * `npx projen package:check`: packs the package as `npm publish` would (dry
 * run, nothing written) from the work tree as it is, and fails unless the
 * tarball holds exactly the allowlisted files within the size bounds.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { packageProblems, PackReport } from './package-contents';

const ROOT = path.join(__dirname, '..');
const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
const [report] = JSON.parse(out) as PackReport[];
const problems = packageProblems(report);
if (problems.length > 0) {
  console.error(`npm package check failed:\n- ${problems.join('\n- ')}`);
  process.exit(1);
}
console.log(`npm package: ${report.files.length} files, ${(report.size / 1024 / 1024).toFixed(2)} MB packed, ${(report.unpackedSize / 1024 / 1024).toFixed(2)} MB unpacked.`);
