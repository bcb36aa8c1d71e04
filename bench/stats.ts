/** Small helpers shared by the benchmarks: medians, formatting, figures. */

/** One printed line of the report: a figure, its target and whether the target is met. */
export interface Figure {
  readonly section: string;
  readonly name: string;
  /** The value as printed. */
  readonly value: string;
  /** The target as printed; empty for figures that have none (context). */
  readonly target: string;
  /** undefined: the figure has no target. */
  readonly met?: boolean;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Milliseconds elapsed since `start` (a `process.hrtime.bigint()` reading). */
export function msSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export function ms(value: number): string {
  return value >= 100 ? `${value.toFixed(0)} ms` : `${value.toFixed(1)} ms`;
}

export function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

export function ratio(value: number): string {
  return `${value.toFixed(3)}x`;
}

export function seconds(value: number): string {
  return `${Number.isInteger(value) ? value : value.toFixed(1)} s`;
}

/** The figures as a fixed-width table, grouped by section. */
export function renderTable(figures: readonly Figure[]): string {
  const header = { name: 'Figure', value: 'Value', target: 'Target', status: 'Status' };
  const rows = figures.map((f) => ({
    section: f.section,
    name: f.name,
    value: f.value,
    target: f.target,
    status: f.met === undefined ? '' : f.met ? 'met' : 'NOT MET',
  }));
  const sectionWidth = Math.max(...rows.map((r) => `**${r.section}**`.length));
  const width = (key: 'name' | 'value' | 'target' | 'status'): number =>
    Math.max(header[key].length, key === 'name' ? sectionWidth : 0, ...rows.map((r) => r[key].length));
  const w = { name: width('name'), value: width('value'), target: width('target'), status: width('status') };
  const line = (r: { name: string; value: string; target: string; status: string }): string =>
    `| ${r.name.padEnd(w.name)} | ${r.value.padEnd(w.value)} | ${r.target.padEnd(w.target)} | ${r.status.padEnd(w.status)} |`;
  const rule = `|${'-'.repeat(w.name + 2)}|${'-'.repeat(w.value + 2)}|${'-'.repeat(w.target + 2)}|${'-'.repeat(w.status + 2)}|`;

  const out: string[] = [line(header), rule];
  let section = '';
  for (const r of rows) {
    if (r.section !== section) {
      section = r.section;
      out.push(line({ name: `**${section}**`, value: '', target: '', status: '' }));
    }
    out.push(line(r));
  }
  return out.join('\n');
}

