/**
 * cdk-ami benchmarks: `npx projen bench` (bundles the handlers first).
 *
 * Prints every figure next to its target with "met" / "NOT MET", and writes
 * them to bench/latest.bench.json (git-ignored). Targets are reported, never
 * enforced: the bench exits 0 whatever the figures, and 1 only if it crashes.
 * See bench/README.md for what each figure means and how it is measured.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import { BUNDLE, benchReproducible, benchRequire, bundleBytes } from './bundle';
import { benchImageTest, resourcesAdded } from './image-test';
import { Figure, kb, ms, ratio, renderTable, seconds } from './stats';
import { benchSynth, floorMatchesTemplate } from './synth';
import { benchWaiters, chainLinks } from './waiters';
import { Timing } from '../src/private/contract';

const SYNTH_RUNS = 15;
const REQUIRE_RUNS = 11;
/** Timeout of the construct used for the image-hour figure: an hour's wait must not time out. */
const CHAIN_TIMEOUT = Duration.hours(2);

const OUTPUT = path.join(__dirname, 'latest.bench.json');

function polls(n: number): string {
  return `${n} poll${n === 1 ? '' : 's'}`;
}

function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** Load average over the last minute: the bench shares the machine with whatever else runs. */
function load(): string {
  return os.loadavg()[0].toFixed(2);
}

async function main(): Promise<void> {
  const started = process.hrtime.bigint();
  const loadAtStart = load();
  const figures: Figure[] = [];
  const add = (figure: Figure): void => {
    figures.push(figure);
  };

  // 1. Synth -------------------------------------------------------------------
  progress(`synth: 1, 10 and 100 images, 1 warm-up + ${SYNTH_RUNS} runs each`);
  const synth = benchSynth(SYNTH_RUNS);
  const [one, ten, hundred] = synth;
  let section = '1. Synth: stack with N AmiFromInstance images';
  const lambdas = synth.map((s) => s.lambdaFunctions);
  add({
    section,
    name: 'AWS::Lambda::Function resources (1 / 10 / 100 images)',
    value: lambdas.join(' / '),
    target: 'equal for all three',
    met: lambdas.every((n) => n === lambdas[0]),
  });
  add({
    section,
    name: 'Template size, as written (1 / 10 / 100)',
    value: synth.map((s) => kb(s.templateBytes)).join(' / '),
    target: '',
  });
  add({
    section,
    name: 'Template size, minified JSON (1 / 10 / 100)',
    value: synth.map((s) => kb(s.minifiedBytes)).join(' / '),
    target: '',
  });
  const perImage10 = (ten.templateBytes - one.templateBytes) / 9;
  const perImage100 = (hundred.templateBytes - one.templateBytes) / 99;
  add({ section, name: 'Template bytes per extra image, 1 -> 10', value: kb(perImage10), target: '<= 3.0 KB', met: perImage10 <= 3 * 1024 });
  add({ section, name: 'Template bytes per extra image, 1 -> 100', value: kb(perImage100), target: '<= 3.0 KB', met: perImage100 <= 3 * 1024 });
  add({ section, name: `Synth time, 1 image (baseline, median of ${one.runs})`, value: ms(one.medianMs), target: '' });
  add({
    section,
    name: `Synth time, 10 images (median of ${ten.runs})`,
    value: `${ms(ten.medianMs)} = ${ratio(ten.medianMs / one.medianMs)}`,
    target: '',
  });
  const synthRatio = hundred.medianMs / one.medianMs;
  add({
    section,
    name: `Synth time, 100 images (median of ${hundred.runs})`,
    value: `${ms(hundred.medianMs)} = ${ratio(synthRatio)}`,
    target: '<= 3x of 1 image',
    met: synthRatio <= 3,
  });

  progress(`synth: the aws-cdk-lib floor (images after the first as bare L1 elements), 1 warm-up + ${SYNTH_RUNS} runs each`);
  const floor = benchSynth(SYNTH_RUNS, 'l1-floor');
  const perImage = (result: typeof synth): number => (result[2].medianMs - result[0].medianMs) / 99;
  add({
    section,
    name: `  floor: same elements as bare CfnResource/CfnOutput, 100 images (median of ${floor[2].runs})`,
    value: `${ms(floor[2].medianMs)} = ${ratio(floor[2].medianMs / floor[0].medianMs)} of its 1 image (${ms(floor[0].medianMs)})`,
    target: '',
  });
  const floorMatches = floorMatchesTemplate();
  add({
    section,
    name: '  floor template = cdk-ami template, but for IAM policies (3 images)',
    value: floorMatches ? 'yes' : 'no',
    target: 'yes',
    met: floorMatches,
  });
  add({
    section,
    name: '  synth time per extra image: cdk-ami / floor',
    value: `${perImage(synth).toFixed(2)} ms / ${perImage(floor).toFixed(2)} ms = ${ratio(perImage(synth) / perImage(floor))}`,
    target: '',
  });

  // 2. Bundle -----------------------------------------------------------------
  progress(`bundle: cold require in a child process, 1 warm-up + ${REQUIRE_RUNS} runs each`);
  const bytes = bundleBytes();
  const req = benchRequire(REQUIRE_RUNS);
  section = '2. Handler bundle (assets/provider/index.js)';
  add({ section, name: 'Bundle size', value: `${kb(bytes)} (${bytes} bytes)`, target: '' });
  const s3Bytes = bundleBytes('s3-objects.js');
  add({ section, name: 'S3 client file (s3-objects.js, loaded only to delete a stored object)', value: `${kb(s3Bytes)} (${s3Bytes} bytes)`, target: '' });
  const ssmBytes = bundleBytes('ssm-parameters.js');
  add({ section, name: 'SSM client file (ssm-parameters.js, loaded only for a parameter in another Region)', value: `${kb(ssmBytes)} (${ssmBytes} bytes)`, target: '' });
  add({
    section,
    name: `Cold require @aws-sdk/client-ec2, unbundled (baseline, median of ${req.runs})`,
    value: ms(req.unbundledMs),
    target: '',
  });
  add({
    section,
    name: `Cold require of the bundle (median of ${req.runs})`,
    value: `${ms(req.bundleMs)} = ${ratio(req.ratio)}`,
    target: '<= 0.5x of unbundled',
    met: req.ratio <= 0.5,
  });

  // 3. Waiters against the local endpoint ----------------------------------------
  progress('waiters: local EC2 endpoint, virtual clock');
  const chain = chainLinks(CHAIN_TIMEOUT);
  const waiters = await benchWaiters(chain);
  const { lag, callsPerHour: perHour, concurrent: conc } = waiters;
  section = '3. Waiters: real handlers vs the local EC2 endpoint (virtual clock)';
  const interval = Timing.POLL_INTERVAL_SECONDS;
  add({ section, name: 'Poll interval (Timing.POLL_INTERVAL_SECONDS, src/private/contract.ts)', value: seconds(interval), target: '<= 15 s', met: interval <= 15 });
  add({
    section,
    name: `Lag available -> IsComplete true, observed (pending ${lag.pendingPolls} polls)`,
    value: `${seconds(lag.lagSeconds)} = ${polls(lag.lagPolls)} (available at ${seconds(lag.availableAtSeconds)}, complete at ${seconds(lag.completeAtSeconds)})`,
    target: `<= 1 poll (${seconds(interval)})`,
    met: lag.lagSeconds <= interval,
  });
  add({
    section,
    name: 'Lag, worst case (observed + 1 interval)',
    value: `${seconds(lag.worstCaseLagSeconds)} = ${polls(lag.worstCaseLagSeconds / lag.pollIntervalSeconds)}`,
    target: `<= 1 poll (${seconds(interval)})`,
    met: lag.worstCaseLagSeconds <= interval,
  });
  const actions = Object.entries(perHour.byAction).map(([action, n]) => `${n} ${action}`).join(', ');
  add({
    section,
    name: `EC2 calls per image-hour (pending ${perHour.pendingPolls} polls)`,
    value: `${perHour.callsPerImageHour.toFixed(0)} (${actions}; ${(perHour.waitedSeconds / 60).toFixed(1)} min, ${perHour.links} links of ${perHour.budgetSeconds} s)`,
    target: '<= 300',
    met: perHour.completed && perHour.callsPerImageHour <= 300,
  });
  add({
    section,
    name: `${conc.images} images at once, ${conc.throttleRate * 100}% throttled: completed / failed`,
    value: `${conc.completed} / ${conc.failed}`,
    target: `${conc.images} / 0`,
    met: conc.completed === conc.images && conc.failed === 0,
  });
  add({
    section,
    name: '  calls (all / throttled), whole scenario',
    value: `${conc.totalCalls} / ${conc.throttledCalls} (${((100 * conc.throttledCalls) / conc.totalCalls).toFixed(1)}%)`,
    target: '',
  });
  add({
    section,
    name: '  calls (all / throttled), waiting only',
    value: `${conc.waitCalls} / ${conc.waitThrottledCalls}`,
    target: '',
  });
  add({
    section,
    name: '  rounds (virtual time), polls still throttled after retries',
    value: `${conc.rounds} (${seconds(conc.virtualSeconds)}), ${conc.throttledPolls}`,
    target: '',
  });

  // 4. Reproducible bundle ---------------------------------------------------------
  progress('bundle: two builds with the bundle task\'s build (build-tools/bundle.ts)');
  const repro = await benchReproducible();
  section = '4. Reproducible bundle';
  add({
    section,
    name: 'Two builds byte-identical (sha256)',
    value: `${repro.identical ? 'yes' : 'no'} (${repro.sha256[0].slice(0, 16)}...)`,
    target: 'yes',
    met: repro.identical,
  });
  add({ section, name: 'Same as the bundle `npx projen bundle` wrote', value: repro.matchesAsset ? 'yes' : 'no', target: '' });

  // 5. What a test adds per image --------------------------------------------------
  progress('image test: 1 and 10 images with and without a test; one deployment of each through the CloudFormation simulator');
  const resources = resourcesAdded();
  const testCost = await benchImageTest();
  section = '5. What a test adds per image (AmiFromInstance with / without `test`)';
  const byType = (counts: Record<string, number>): string => Object.entries(counts).map(([type, n]) => `${n} ${type}`).join(', ');
  add({ section, name: 'Resources added by the first image\'s test', value: byType(resources.first), target: '' });
  add({ section, name: 'Resources added per image\'s test (10 images)', value: byType(resources.perImage), target: '' });
  const { without, withTest } = testCost;
  add({
    section,
    name: 'Deployment completes (without / with test)',
    value: `${without.ok ? 'yes' : 'no'} / ${withTest.ok ? 'yes' : 'no'}`,
    target: 'yes / yes',
    met: without.ok && withTest.ok,
  });
  add({
    section,
    name: 'Provider invocations, onEvent + isComplete (without -> with test)',
    value: `${without.onEvent} + ${without.isComplete} -> ${withTest.onEvent} + ${withTest.isComplete}`,
    target: '',
  });
  const ec2Added = Object.entries(testCost.ec2CallsAdded).map(([action, n]) => `${n > 0 ? '+' : ''}${n} ${action}`).join(', ');
  add({ section, name: 'EC2 calls added beyond the test itself', value: ec2Added || 'none', target: '' });
  add({
    section,
    name: 'Time added beyond the test itself, observed (virtual)',
    value: `${seconds(testCost.pollsBeyondTest * interval)} = ${polls(testCost.pollsBeyondTest)}`,
    target: `<= 1 poll (${seconds(interval)})`,
    met: withTest.ok && testCost.pollsBeyondTest <= 1,
  });
  add({
    section,
    name: 'Time added beyond the test itself, worst case (observed + 1 interval)',
    value: `${seconds((testCost.pollsBeyondTest + 1) * interval)} = ${polls(testCost.pollsBeyondTest + 1)}`,
    target: `<= 1 poll (${seconds(interval)})`,
    met: withTest.ok && testCost.pollsBeyondTest + 1 <= 1,
  });

  // Report ------------------------------------------------------------------------
  const totalSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const withTarget = figures.filter((f) => f.met !== undefined);
  const met = withTarget.filter((f) => f.met).length;
  const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}, ${os.platform()} ${os.arch()}`;
  const loadAverage = `load average ${loadAtStart} at start, ${load()} at end`;

  const notes = [
    'Timings are medians; each is printed as a ratio against a baseline measured in the same run (synth: the 1-image stack; '
      + 'require: @aws-sdk/client-ec2 unbundled). Absolute milliseconds depend on the machine; the ratios are the figures.',
    'Cold require runs `node -e` in a new process per sample: the module cache is empty, the OS file cache is warm.',
    `Lag: the local endpoint settles an image during the DescribeImages call that follows its ${lag.pendingPolls} pending polls, so the `
      + 'observed lag only shows that isComplete reports the image on the first poll that sees it available. A real image can '
      + 'turn available just after a poll, so the worst case adds one poll interval.',
    `Image-hour: the construct's waiter chain for a ${CHAIN_TIMEOUT.toHumanString()} timeout (read from a synthesized template); `
      + 'the next link starts the moment the previous one completes, and each link polls at once, like the Provider framework.',
    'Throttling: the SDK clients use the test retry strategy fastRetryStrategy(10): the SDK\'s own retry middleware classifies each '
      + `failed attempt (here ${Object.entries(conc.errorTypes).map(([t, n]) => `${n} x ${t}`).join(', ') || 'none'}) and THROTTLING / `
      + 'TRANSIENT errors are retried up to 10 attempts like the production clients (maxAttempts 10), but with a 1 ms delay instead of '
      + "adaptive mode's exponential backoff and client-side rate limiting. So the figure shows that throttled calls are retried "
      + 'and that waits survive 30% throttling; it does not show how much real time backing off would cost, nor the adaptive '
      + 'rate limiter. Retries do not cost virtual time.',
    'Image test: the test instance reports success the first time the provider describes it, so the test itself takes no virtual '
      + 'time; the time added counts the provider\'s polls only, not what CloudFormation takes to launch the test instance and '
      + 'create the extra resources.',
  ];

  const table = renderTable(figures);
  const out = [
    '',
    `cdk-ami bench: ${met} of ${withTarget.length} targets met (${machine}; ${loadAverage}; ${totalSeconds.toFixed(0)} s)`,
    '',
    table,
    '',
    'Notes:',
    ...notes.map((n) => `- ${n}`),
    '',
    `Figures written to ${path.relative(process.cwd(), OUTPUT)}`,
    '',
  ].join('\n');
  process.stdout.write(out);

  const result = {
    date: new Date().toISOString(),
    machine,
    loadAverage,
    totalSeconds: Math.round(totalSeconds),
    targetsMet: met,
    targets: withTarget.length,
    figures,
    notes,
    raw: {
      synth,
      bundle: { path: path.relative(path.join(__dirname, '..'), BUNDLE), bytes, require: req },
      waiters: { ...waiters, chain },
      reproducible: repro,
      imageTest: { resources, ...testCost },
    },
  };
  fs.writeFileSync(OUTPUT, JSON.stringify(result, undefined, 2) + '\n');
}

main().then(
  () => {
    process.exitCode = 0;
  },
  (err: unknown) => {
    process.stderr.write(`bench: crashed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
