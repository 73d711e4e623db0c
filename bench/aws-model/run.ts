/**
 * `npm run bench:model`: a model of one sync task (`POST /tasks`, answered 200) on AWS, for a place
 * we cannot measure from here: published latency distributions per hop, fitted as lognormals from
 * their p50 and p99 (and p10, where the source gives it: a shifted lognormal), driven through the
 * API's real wait-loop schedule, Monte-Carlo sampled with a seeded PRNG so every run prints the same
 * figures. It prints the time to answer, the DynamoDB reads per task and the cost per million sync
 * tasks at public on-demand prices, and compares wait-loop schedules. `--samples N`, `--seed S`,
 * `--all` (every schedule tried). Everything but this file is pure; this one only prints.
 * BENCHMARKS.md, "On AWS, by model", says what the inputs are and where they come from.
 */
import { DEFAULT_BACKOFF, MAX_WAIT_SECONDS } from '../../lib/tasks/wait-policy.ts';
import { PUBLISHED_MODEL, fitModel } from './latency-model.ts';
import { IDLE_RECEIVES_PER_POLLER_MONTH, PRICES, taskUsage } from './prices.ts';
import {
  type Candidate,
  type Evaluated,
  READ_BOUNDS,
  RECOMMENDED_BACKOFF,
  USAGE,
  backoffCandidate,
  bestWithinReads,
  candidateSchedules,
  evaluate,
  paretoFront,
  tiesOf,
} from './schedules.ts';
import type { SimulationOptions } from './simulation.ts';
import { Z90, logNormalQuantile } from './statistics.ts';

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} needs a positive integer`);
  return value;
}

const ms = (value: number) => value.toFixed(1);
const usd = (value: number) => `$${value.toFixed(3)}`;

function row(evaluated: Evaluated, note = ''): string {
  const r = evaluated.result;
  const label = evaluated.candidate.schedule ? evaluated.candidate.label : `${evaluated.candidate.label} *`;
  const timeout = evaluated.candidate.offsets.length;
  return `| ${label}${note} | ${ms(r.answerP50)} | ${ms(r.answerP99)} | ${ms(r.answerP999)} | ${r.readsMean.toFixed(2)} | ${r.readsP99} | ${timeout} | ${usd(evaluated.cost.total)} |`;
}

const TABLE_HEAD = [
  '| Schedule | p50 ms | p99 ms | p99.9 ms | reads mean | reads p99 | reads if not done in 5 s | $ per M tasks |',
  '|---|---|---|---|---|---|---|---|',
];

function main(): void {
  const samples = argument('--samples', 100_000);
  const seed = argument('--seed', 20_260_101);
  const budgetMs = MAX_WAIT_SECONDS * 1000;
  const fitted = fitModel(PUBLISHED_MODEL);
  const plainFit = fitModel(PUBLISHED_MODEL, { p50p99Only: true });
  const options: SimulationOptions = { samples, seed, budgetMs };
  const lines: string[] = [];
  const out = (line = '') => lines.push(line);

  out(`AWS model of one sync task: ${samples} samples, seed ${seed}, wait budget ${budgetMs} ms, Lambda 512 MB arm64, warm`);
  out();
  out('| Component | published / assumed (ms) | fitted: shift, mu, sigma | fitted p10 / p90 | Source |');
  out('|---|---|---|---|---|');
  const names = ['apiGateway', 'lambdaInvoke', 'dynamoRead', 'dynamoWrite', 'sqsSend', 'queueHop'] as const;
  for (const name of names) {
    const c = PUBLISHED_MODEL[name];
    const d = fitted[name];
    const given = [c.p10 && `p10 ${c.p10}`, `p50 ${c.p50}`, c.p90 && `p90 ${c.p90}`, `p99 ${c.p99}`].filter(Boolean).join(', ');
    const check = `${ms(logNormalQuantile(d, -Z90))} / ${ms(logNormalQuantile(d, Z90))}`;
    out(`| ${c.what} | ${given} | ${d.shift.toFixed(2)}, ${d.mu.toFixed(3)}, ${d.sigma.toFixed(3)} | ${check} | ${c.source} |`);
  }
  const hop = plainFit.queueHop;
  out();
  out(`(The hop fitted through p50 and p99 alone would put its p10 / p90 at ${ms(logNormalQuantile(hop, -Z90))} / ${ms(logNormalQuantile(hop, Z90))} ms against the published 13.7 / 33.8: hence the shifted fit.)`);
  out();

  const current = evaluate(fitted, backoffCandidate(DEFAULT_BACKOFF, budgetMs), options);
  const r = current.result;
  out(`Current schedule (DEFAULT_BACKOFF: ${current.candidate.label}); reads at ${current.candidate.offsets.slice(0, 8).join(', ')} ... ms after the record and the send start`);
  out(`- time to answer: p50 ${ms(r.answerP50)} ms, p90 ${ms(r.answerP90)} ms, p99 ${ms(r.answerP99)} ms, p99.9 ${ms(r.answerP999)} ms`);
  out(`- floor (one read landing exactly when the result turns visible): p50 ${ms(r.floorP50)} ms, p99 ${ms(r.floorP99)} ms`);
  out(`- result visible after the wait loop starts: p50 ${ms(r.readyP50)} ms, p99 ${ms(r.readyP99)} ms`);
  out(`- DynamoDB reads per task: mean ${r.readsMean.toFixed(2)}, p50 ${r.readsP50}, p99 ${r.readsP99}, max ${r.readsMax}; answered 202: ${(r.deferredShare * 100).toFixed(3)} %`);
  out(`- billed Lambda duration (mean): API ${ms(r.apiBilledMeanMs)} ms, worker ${ms(r.workerBilledMeanMs)} ms`);
  const usage = taskUsage(r, USAGE);
  const c = current.cost;
  out();
  out('| Cost per million sync tasks | Per task | USD |');
  out('|---|---|---|');
  out(`| API Gateway HTTP API | ${usage.apiGatewayRequests} request | ${usd(c.apiGateway)} |`);
  out(`| Lambda requests | ${usage.lambdaRequests} invocations (API, worker) | ${usd(c.lambdaRequests)} |`);
  out(`| Lambda duration | ${usage.lambdaGbSeconds.toFixed(5)} GB-s | ${usd(c.lambdaDuration)} |`);
  out(`| SQS | ${usage.sqsRequests} requests (SendMessage; the event source's ReceiveMessage and DeleteMessage) | ${usd(c.sqs)} |`);
  out(`| DynamoDB writes | ${usage.dynamoWriteUnits} WRU (2 table writes, 2 open-tasks index writes) | ${usd(c.dynamoWrites)} |`);
  out(`| DynamoDB reads | ${usage.dynamoReadUnits.toFixed(2)} RRU (consistent GetItem) | ${usd(c.dynamoReads)} |`);
  out(`| **Total** | | **${usd(c.total)}** |`);
  out();
  out(`Not per task: each idle event-source poller long-polls (20 s): ${IDLE_RECEIVES_PER_POLLER_MONTH.toLocaleString('en-US')} receives a month = ${usd((IDLE_RECEIVES_PER_POLLER_MONTH / 1e6) * PRICES.sqsStandardPerMillion)} a month per poller.`);
  out();

  const candidates = candidateSchedules(budgetMs).filter((candidate) => candidate.label !== current.candidate.label);
  const all = [current, ...candidates.map((candidate) => evaluate(fitted, candidate, options))];
  const full = process.argv.includes('--all');
  out(full ? 'Every schedule (* = a first read at a fixed time, which BackoffSchedule cannot express today):' : 'Trade-off: the schedules no other beats on both p50 and mean reads, and the current one (--all for every schedule; * = not expressible by BackoffSchedule today):');
  out();
  for (const line of TABLE_HEAD) out(line);
  const recommended = all.find((row) => row.candidate.label === backoffCandidate(RECOMMENDED_BACKOFF, budgetMs).label)!;
  const shown = full ? [...all] : paretoFront(all);
  for (const pinned of [current, recommended]) if (!shown.includes(pinned)) shown.push(pinned);
  shown.sort((a, b) => a.result.readsMean - b.result.readsMean || a.result.answerP50 - b.result.answerP50);
  const note = (evaluated: Evaluated) => (evaluated === current ? ' (current)' : evaluated === recommended ? ' (recommended)' : '');
  for (const evaluated of shown) out(row(evaluated, note(evaluated)));
  out();

  const expressible = all.filter((row) => row.candidate.schedule);
  const picks: [string, Evaluated | undefined][] = [
    [`best p50 with reads mean <= ${READ_BOUNDS.mean} and p99 <= ${READ_BOUNDS.p99}, expressible today`, bestWithinReads(expressible, READ_BOUNDS.mean, READ_BOUNDS.p99)],
    [`best p50 with reads mean <= ${READ_BOUNDS.mean} and p99 <= ${READ_BOUNDS.p99}, any shape`, bestWithinReads(all, READ_BOUNDS.mean, READ_BOUNDS.p99)],
    [`best p50 with no more reads than today (mean <= ${r.readsMean.toFixed(2)}, p99 <= ${r.readsP99})`, bestWithinReads(all, r.readsMean, r.readsP99)],
  ];
  for (const [what, pick] of picks) {
    if (!pick) continue;
    const ties = tiesOf(pick, all);
    out(`${what}: ${pick.candidate.label}` + (ties.length ? ` (the same up to p99: ${ties.map((tie) => tie.candidate.label).join('; ')})` : ''));
  }
  out();
  out('The same schedules with every component fitted through p50 and p99 only (a check of the shape assumption):');
  out();
  for (const line of TABLE_HEAD) out(line);
  const checked = new Set<Candidate>([current.candidate, recommended.candidate, ...picks.flatMap(([, pick]) => (pick ? [pick.candidate] : []))]);
  for (const candidate of checked) {
    const plain = evaluate(plainFit, candidate, options);
    out(row(plain, candidate === current.candidate ? ' (current)' : candidate === recommended.candidate ? ' (recommended)' : ''));
  }
  out();
  const rr = recommended.result;
  out(`Recommended: ${recommended.candidate.label} (reads at ${recommended.candidate.offsets.slice(0, 6).join(', ')} ... ms): p50 ${ms(rr.answerP50)} ms (today ${ms(r.answerP50)}), p99 ${ms(rr.answerP99)} ms (today ${ms(r.answerP99)}), reads mean ${rr.readsMean.toFixed(2)} (today ${r.readsMean.toFixed(2)}), p99 ${rr.readsP99} (today ${r.readsP99}), ${usd(recommended.cost.total)} per million tasks (today ${usd(current.cost.total)}).`);
  console.log(lines.join('\n'));
}

main();
