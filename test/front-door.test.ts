/**
 * README.md is what Construct Hub and npm show: it opens with the user's
 * first screen (what cdk-ami is, how to install it), keeps the newcomer's two
 * commands within its first 60 lines, lists its sections, and leaves
 * development to CONTRIBUTING.md and the IAM inventory to docs/permissions.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');
const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const lines = readme.split('\n');

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchorOf(heading: string): string {
  return heading.trim().toLowerCase().replace(/`/g, '').replace(/[^\p{L}\p{N}_\- ]/gu, '').replace(/ /g, '-');
}

const sections = lines.filter((l) => l.startsWith('## ')).map((l) => l.slice(3).trim());

describe('README.md, the front door', () => {
  test('opens with what cdk-ami is and how to install it, before anything a contributor needs', () => {
    const firstSection = sections[0];
    expect(firstSection).toBe('Install');
    const intro = readme.slice(0, readme.indexOf('## Install'));
    expect(intro).not.toMatch(/projen|npm ci/);
  });

  test('gives the two newcomer commands (install and test; synthesize the example) within its first 60 lines', () => {
    const first60 = lines.slice(0, 60).join('\n');
    expect(first60).toContain('npm ci && npx projen build');
    expect(first60).toContain('npm ci && npx projen synth:example');
  });

  test('its contents list every section, in order, with working anchors', () => {
    const contents = readme.slice(readme.indexOf('## Contents'), readme.indexOf('\n## ', readme.indexOf('## Contents') + 1));
    const listed = [...contents.matchAll(/^- \[(.+)\]\(#([^)]+)\)$/gm)].map((m) => [m[1], m[2]]);
    const after = sections.slice(sections.indexOf('Contents') + 1);
    expect(listed.map(([title]) => title)).toEqual(after);
    expect(listed.map(([, anchor]) => anchor)).toEqual(after.map(anchorOf));
  });

  test('every in-page link names a heading of the README', () => {
    const anchors = new Set(lines.filter((l) => /^#{1,6} /.test(l)).map((l) => anchorOf(l.replace(/^#+ /, ''))));
    const links = [...readme.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]);
    expect(links.filter((a) => !anchors.has(a))).toEqual([]);
  });

  test('development lives in CONTRIBUTING.md and the IAM inventory in docs/permissions.md', () => {
    expect(sections).not.toContain('Development');
    expect(readme).not.toMatch(/NPM_TOKEN|TWINE_PASSWORD/);
    const contributing = readFileSync(path.join(ROOT, 'CONTRIBUTING.md'), 'utf8');
    expect(contributing).toContain('npm ci && npx projen build');
    expect(contributing).toMatch(/## Releases/);
    expect(existsSync(path.join(ROOT, 'docs', 'permissions.md'))).toBe(true);
    expect(readme).toContain('docs/permissions.md');
  });

  test('compares cdk-ami with Packer and EC2 Image Builder once', () => {
    expect(lines.filter((l) => /^#+ .*Packer.*Image Builder/.test(l))).toHaveLength(1);
  });
});
